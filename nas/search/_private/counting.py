"""Arrays of (FLOPs, params) costs: Pareto frontiers, and counting the pairs of a prefix cost
and a suffix cost whose sum fits a budget (meet in the middle), exactly or within bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INF = np.iinfo(np.int64).max // 4  # "no limit", still safe to add a few costs to


def as_array(costs: list[tuple[int, int]]) -> np.ndarray:
    return np.asarray(costs, dtype=np.int64).reshape(-1, 2)


def pareto(points: np.ndarray) -> np.ndarray:
    """The rows no other row beats on both FLOPs and params, by FLOPs ascending (params then
    strictly descending)."""
    if len(points) <= 1:
        return points
    p = points[np.lexsort((points[:, 1], points[:, 0]))]
    best = np.minimum.accumulate(p[:, 1])
    keep = np.ones(len(p), dtype=bool)
    keep[1:] = p[1:, 1] < best[:-1]
    return p[keep]


def fits(frontier: np.ndarray, spent: tuple[int, int], budget: tuple[int, int]) -> bool:
    """Does some completion on `frontier`, on top of `spent`, stay within `budget`?"""
    i = int(np.searchsorted(frontier[:, 0], budget[0] - spent[0], side="right")) - 1
    return i >= 0 and int(frontier[i, 1]) + spent[1] <= budget[1]


class TooManyRows(Exception):
    """More distinct cost rows than the caller can hold."""


@dataclass(frozen=True)
class Rows:
    """Distinct (FLOPs, params) cost rows, each with the number of partial networks it stands
    for."""

    cost: np.ndarray  # (n, 2) int64
    weight: np.ndarray  # (n,) int64

    @classmethod
    def one(cls) -> Rows:
        return cls(np.zeros((1, 2), dtype=np.int64), np.ones(1, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.cost)

    def shifted(self, cost: np.ndarray, times: int) -> Rows:
        return Rows(self.cost + cost, self.weight * times)

    def within(self, budget: tuple[int, int]) -> Rows:
        keep = (self.cost[:, 0] <= budget[0]) & (self.cost[:, 1] <= budget[1])
        return self if keep.all() else Rows(self.cost[keep], self.weight[keep])

    @classmethod
    def merged(cls, parts: list[Rows], cap: int) -> Rows:
        """One row per distinct cost; TooManyRows past `cap` rows."""
        cost = np.concatenate([p.cost for p in parts])
        weight = np.concatenate([p.weight for p in parts])
        if len(cost) > 1:
            cost, inverse = np.unique(cost, axis=0, return_inverse=True)
            weight = (
                np.bincount(inverse.ravel(), weights=weight).astype(np.int64)
                if weight.sum() < 2**52
                else _sum_by(inverse.ravel(), weight, len(cost))
            )
        if len(cost) > cap:
            raise TooManyRows(len(cost))
        return cls(cost, weight)


def _sum_by(index: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, index, weight)
    return out


def count_within(prefix: Rows, suffix: Rows, budget: tuple[int, int]) -> int:
    """Sum of w(a) w(b) over rows a of prefix, b of suffix with a + b <= budget in both
    coordinates."""
    if not len(prefix) or not len(suffix):
        return 0
    order = np.argsort(suffix.cost[:, 0], kind="stable")
    cost, weight = suffix.cost[order], suffix.weight[order]
    k = np.searchsorted(cost[:, 0], budget[0] - prefix.cost[:, 0], side="right")
    if budget[1] >= INF:
        cum = np.concatenate([[0], np.cumsum(weight)])
        return int((prefix.weight * cum[k]).sum())
    return _count_2d(prefix, Rows(cost, weight), k, budget[1])


def _count_2d(prefix: Rows, suffix: Rows, k: np.ndarray, limit: int) -> int:
    """Among the first k[i] suffix rows (by FLOPs), the weight of those that leave params
    within `limit`: square-root decomposition, each block's params sorted once."""
    n = len(suffix)
    size = max(64, math.isqrt(n))
    blocks = -(-n // size)
    padded = np.full(blocks * size, INF, dtype=np.int64)
    padded[:n] = suffix.cost[:, 1]
    weights = np.zeros(blocks * size, dtype=np.int64)
    weights[:n] = suffix.weight
    by_params = np.argsort(padded.reshape(blocks, size), axis=1)
    sorted_blocks = np.take_along_axis(padded.reshape(blocks, size), by_params, axis=1)
    cum = np.concatenate(
        [
            np.zeros((blocks, 1), dtype=np.int64),
            np.cumsum(
                np.take_along_axis(weights.reshape(blocks, size), by_params, axis=1), axis=1
            ),
        ],
        axis=1,
    )
    room = limit - prefix.cost[:, 1]
    full, rest = k // size, k % size
    order = np.argsort(-full, kind="stable")  # rows needing block b come first
    full_desc = -full[order]
    total = 0
    for b in range(int(full.max(initial=0))):  # whole blocks: binary search in each
        rows = order[: np.searchsorted(full_desc, -b, side="left")]
        at = np.searchsorted(sorted_blocks[b], room[rows], side="right")
        total += int((prefix.weight[rows] * cum[b][at]).sum())
    lanes = np.arange(size)
    for lo in range(0, len(prefix), 4096):  # the partial block of each row, vectorised
        f, r, room_c = full[lo : lo + 4096], rest[lo : lo + 4096], room[lo : lo + 4096]
        at = f[:, None] * size + lanes[None, :]
        hit = (padded[at] <= room_c[:, None]) & (lanes[None, :] < r[:, None])
        total += int((prefix.weight[lo : lo + 4096] * (weights[at] * hit).sum(axis=1)).sum())
    return total


def shift_add(hist: np.ndarray, source: np.ndarray, shift: int, weight: float = 1.0) -> None:
    """hist[shift:] += weight * source[:len - shift] (counts past the end fall off)."""
    if shift < len(hist):
        hist[shift:] += weight * source[: len(hist) - shift]
