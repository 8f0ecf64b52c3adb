"""Arrays of (FLOPs, params) costs: Pareto frontiers, and counting the pairs of a prefix cost
and a suffix cost whose sum fits a budget (meet in the middle), exactly or within bounds."""

from __future__ import annotations

import math

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


def count_within(prefix: np.ndarray, suffix: np.ndarray, budget: tuple[int, int]) -> int:
    """#{(a, b) : a + b <= budget in both coordinates} over rows a of prefix, b of suffix."""
    if not len(prefix) or not len(suffix):
        return 0
    suffix = suffix[np.argsort(suffix[:, 0], kind="stable")]
    k = np.searchsorted(suffix[:, 0], budget[0] - prefix[:, 0], side="right")
    if budget[1] >= INF:
        return int(k.sum())
    return _count_2d(prefix, suffix, k, budget[1])


def _count_2d(prefix: np.ndarray, suffix: np.ndarray, k: np.ndarray, limit: int) -> int:
    """Among the first k[i] suffix rows (by FLOPs), how many leave params within `limit`:
    square-root decomposition, each block's params sorted once."""
    n = len(suffix)
    size = max(64, math.isqrt(n))
    blocks = -(-n // size)
    padded = np.full(blocks * size, INF, dtype=np.int64)
    padded[:n] = suffix[:, 1]
    sorted_blocks = np.sort(padded.reshape(blocks, size), axis=1)
    room = limit - prefix[:, 1]
    full, rest = k // size, k % size
    order = np.argsort(-full, kind="stable")  # rows needing block b come first
    full_desc = -full[order]
    total = 0
    for b in range(int(full.max(initial=0))):  # whole blocks: binary search in each
        rows = order[:np.searchsorted(full_desc, -b, side="left")]
        total += int(np.searchsorted(sorted_blocks[b], room[rows], side="right").sum())
    lanes = np.arange(size)
    for lo in range(0, len(prefix), 4096):  # the partial block of each row, vectorised
        f, r, room_c = full[lo:lo + 4096], rest[lo:lo + 4096], room[lo:lo + 4096]
        vals = padded[f[:, None] * size + lanes[None, :]]
        total += int(((vals <= room_c[:, None]) & (lanes[None, :] < r[:, None])).sum())
    return total


def shift_add(hist: np.ndarray, source: np.ndarray, shift: int, weight: float = 1.0) -> None:
    """hist[shift:] += weight * source[:len - shift] (counts past the end fall off)."""
    if shift < len(hist):
        hist[shift:] += weight * source[:len(hist) - shift]
