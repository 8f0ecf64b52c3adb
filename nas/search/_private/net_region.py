"""Dynamic programming over the components of one variant: reachable states, cheapest and
dearest completions, Pareto frontiers of what is left to spend, and the number of distinct
architectures within a budget (meet in the middle; histogram bounds when too large)."""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from typing import Any

import numpy as np

from nas.space import ArchSpec

from .components import NetComponents, Option, State, Vec
from .counting import INF, Rows, count_within, fits, pareto, shift_add
from .counting import TooManyRows as _TooMany

MEET_CAP = 6_000_000  # cost rows held on each side of the meet; beyond it, bounds
HIST_BINS = 4096  # resolution of the bounds: the error is < components / HIST_BINS of the budget


class NetRegion:
    def __init__(self, comps: NetComponents, *, budget: Vec):
        self.c = comps
        self.budget = budget
        self.use_params = budget[1] < INF
        self.levels = self._reach()
        self.lo = self._backward(min)
        self.hi = self._backward(max)
        self.fwd_lo = self._forward(min)
        self.fwd_hi = self._forward(max)
        self._frontiers: dict[tuple[int, State], np.ndarray] = {}
        self.names = [
            {k for o in self.all_options(j) for k in o.decisions} for j in range(len(comps))
        ]

    start = State(())  # before the first component

    @property
    def empty(self) -> bool:
        """No valid network at all (at this resolution)."""
        return not self.levels[0]

    def all_options(self, j: int) -> list[Option]:
        """Every option of component j from every state that reaches it."""
        return [o for s in self.levels[j] for o in self.options(j, s)]

    def options(self, j: int, s: State) -> list[Option]:
        """Options of component j from s that lead to a complete network."""
        return self._alive_options[j].get(s, [])

    def unique(self, j: int, s: State) -> list[Option]:
        alive = self.levels_set[j + 1]
        return [o for o in self.c.unique(j, s) if o.next in alive]

    def _reach(self) -> list[list[State]]:
        """States reachable from the start, then only those from which a network completes
        (a map side that a later stage cannot halve, say, is a dead end)."""
        levels = [[self.start]]
        for j in range(len(self.c)):
            nxt = {o.next: None for s in levels[-1] for o in self.c.options(j, s)}
            levels.append(list(nxt))
        self._alive_options: list[dict[State, list[Option]]] = [{} for _ in levels]
        alive = set(levels[-1])
        for j in reversed(range(len(self.c))):
            for s in levels[j]:
                opts = [o for o in self.c.options(j, s) if o.next in alive]
                if opts:
                    self._alive_options[j][s] = opts
            levels[j] = list(self._alive_options[j])
            alive = set(levels[j])
        self.levels_set = [set(level) for level in levels]
        return levels

    # --- cheapest / dearest, per coordinate -----------------------------------------------

    def _backward(self, pick: Any) -> list[dict[State, Vec]]:
        """Per state, the min (or max) FLOPs and params still to spend, each on its own."""
        out: list[dict[State, Vec]] = [{} for _ in self.levels]
        out[-1] = {s: (0, 0) for s in self.levels[-1]}
        for j in reversed(range(len(self.c))):
            for s in self.levels[j]:
                opts = self.options(j, s)
                if opts:
                    after = [out[j + 1][o.next] for o in opts]
                    out[j][s] = (
                        pick(o.cost[0] + a[0] for o, a in zip(opts, after)),
                        pick(o.cost[1] + a[1] for o, a in zip(opts, after)),
                    )
        return out

    def _forward(self, pick: Any) -> list[dict[State, Vec]]:
        out: list[dict[State, Vec]] = [{} for _ in self.levels]
        out[0] = {self.start: (0, 0)}
        for j in range(len(self.c)):
            for s, before in out[j].items():
                for o in self.options(j, s):
                    v = (before[0] + o.cost[0], before[1] + o.cost[1])
                    old = out[j + 1].get(o.next)
                    out[j + 1][o.next] = (
                        v if old is None else (pick(old[0], v[0]), pick(old[1], v[1]))
                    )
        return out

    def through(self, j: int, s: State, o: Option) -> tuple[Vec, Vec]:
        """Cheapest and dearest whole network (FLOPs, params) that takes option o."""
        lo, hi = self.lo[j + 1][o.next], self.hi[j + 1][o.next]
        a, b = self.fwd_lo[j][s], self.fwd_hi[j][s]
        return (
            (a[0] + o.cost[0] + lo[0], a[1] + o.cost[1] + lo[1]),
            (b[0] + o.cost[0] + hi[0], b[1] + o.cost[1] + hi[1]),
        )

    def extreme(self, pick: Any) -> ArchSpec:
        """The architecture with the fewest (pick=min) or most (max) FLOPs."""
        dp = self.lo if pick is min else self.hi
        s, values = self.start, []
        for j in range(len(self.c)):
            o = pick(self.options(j, s), key=lambda o: o.cost[0] + dp[j + 1][o.next][0])
            values.append(o.value)
            s = o.next
        return self.assemble(values)

    def assemble(self, values: list[Any]) -> ArchSpec:
        (stem, first), *stages, (head, act) = values
        net = self.c.net
        return ArchSpec(
            stages=(first, *stages),
            stem=stem,
            head=head,
            act=act,
            resolution=self.c.resolution,
            in_chans=net.in_chans,
            num_classes=net.num_classes,
            layout="single" if not stages else "multi",
        )

    # --- what is left to spend, both coordinates at once ----------------------------------

    def frontier(self, j: int, s: State) -> np.ndarray:
        """Pareto frontier of (FLOPs, params) completions of components j.. from s (params
        are 0 when there is no params budget, leaving the cheapest FLOPs only)."""
        key = (j, s)
        if key not in self._frontiers:
            if j == len(self.c):
                self._frontiers[key] = np.zeros((1, 2), dtype=np.int64)
            else:
                parts = [
                    self.frontier(j + 1, o.next) + self._vec(o) for o in self.c.options(j, s)
                ]  # dead ends add empty frontiers
                self._frontiers[key] = (
                    pareto(np.concatenate(parts)) if parts else np.zeros((0, 2), dtype=np.int64)
                )
        return self._frontiers[key]

    def _vec(self, o: Option) -> np.ndarray:
        return np.array([o.cost[0], o.cost[1] if self.use_params else 0], dtype=np.int64)

    def fits_from(self, j: int, s: State, spent: Vec) -> bool:
        front = self.frontier(j, s)
        return len(front) > 0 and fits(front, spent, self.budget)

    def assignment_fits(self, assign: dict[str, Any]) -> bool | None:
        """Can the trial params `assign` (a prefix of one trial's decisions) still be
        completed within the budget? None when they are not a path of this variant."""
        s, spent = self.start, (0, 0)
        for j in range(len(self.c)):
            pinned = self._pinned(j, assign)
            consistent = [o for o in self.c.options(j, s, pinned) if _agrees(o.decisions, assign)]
            done = [o for o in consistent if all(k in assign for k in o.decisions)]
            if len(done) != 1:
                if not consistent:  # a path to no valid network, or not a path of ours
                    raw = self.c.raw(j, s.consumed, pinned)
                    return False if any(_agrees(d, assign) for d, _, _ in raw) else None
                return any(
                    self.fits_from(j + 1, o.next, _add(spent, o.cost, self.use_params))
                    for o in consistent
                )
            o = done[0]
            spent, s = _add(spent, o.cost, self.use_params), o.next
        return spent[0] <= self.budget[0] and spent[1] <= self.budget[1]

    def _pinned(self, j: int, assign: dict[str, Any]) -> tuple:
        if not self.c.continuous:
            return ()
        return tuple(
            sorted(
                (k, v) for k, v in assign.items() if k in self.names[j] and isinstance(v, float)
            )
        )

    # --- counting ---------------------------------------------------------------------------

    @functools.cached_property
    def path_counts(self) -> tuple[list[dict[State, int]], list[dict[State, int]]]:
        """Distinct partial architectures reaching each state, and completions leaving it."""
        k = len(self.c)
        into: list[dict[State, int]] = [defaultdict(int) for _ in self.levels]
        into[0][self.start] = 1
        for j in range(k):
            for s, n in into[j].items():
                for o in self.unique(j, s):
                    into[j + 1][o.next] += n
        out: list[dict[State, int]] = [{} for _ in self.levels]
        out[k] = {s: 1 for s in self.levels[k]}
        for j in reversed(range(k)):
            for s in self.levels[j]:
                out[j][s] = sum(out[j + 1][o.next] for o in self.unique(j, s))
        return into, out

    def total(self) -> int:
        return self.path_counts[1][0][self.start]

    def count(self, budget: Vec) -> tuple[int, int, str]:
        """(low, high, how): equal when exact.

        Meet in the middle: the cost rows of every prefix up to component m and of every
        suffix from m, per state at m. Rows of equal cost are merged with a multiplicity (head
        counts, sharing without a params budget, ... cost the same), which keeps large spaces
        exact; past MEET_CAP rows on a side it falls back to bounds."""
        into, out = self.path_counts
        sizes = [sum(into[m].values()) + sum(out[m].values()) for m in range(len(self.levels))]
        m = int(np.argmin(sizes))
        try:
            fwd, bwd = self._prefixes(m, budget), self._suffixes(m, budget)
        except _TooMany:
            return self._bounds(budget)
        n = sum(count_within(fwd[s], bwd[s], budget) for s in fwd if s in bwd)
        return n, n, "exact"

    def _steps(self, j: int, s: State) -> list[tuple[np.ndarray, State, int]]:
        """Component j's options from s as (cost, next state, how many distinct options)."""
        merged: dict[tuple[Vec, State], int] = defaultdict(int)
        for o in self.unique(j, s):
            merged[(o.cost[0], o.cost[1] if self.use_params else 0), o.next] += 1
        return [(np.array(cost, dtype=np.int64), nxt, n) for (cost, nxt), n in merged.items()]

    def _prefixes(self, m: int, budget: Vec) -> dict[State, Rows]:
        cur = {self.start: Rows.one()}
        for j in range(m):
            nxt: dict[State, list[Rows]] = defaultdict(list)
            for s, rows in cur.items():
                for cost, state, n in self._steps(j, s):
                    lo = self.lo[j + 1][state]
                    moved = rows.shifted(cost, n).within((budget[0] - lo[0], budget[1] - lo[1]))
                    if len(moved):
                        nxt[state].append(moved)
            cur = {s: Rows.merged(parts, MEET_CAP) for s, parts in nxt.items()}
        return cur

    def _suffixes(self, m: int, budget: Vec) -> dict[State, Rows]:
        cur = {s: Rows.one() for s in self.levels[-1]}
        for j in reversed(range(m, len(self.c))):
            nxt: dict[State, Rows] = {}
            for s in self.levels[j]:
                parts = [
                    cur[state].shifted(cost, n).within(budget)
                    for cost, state, n in self._steps(j, s)
                    if state in cur
                ]
                parts = [p for p in parts if len(p)]
                if parts:
                    nxt[s] = Rows.merged(parts, MEET_CAP)
            cur = nxt
        return cur

    def _bounds(self, budget: Vec) -> tuple[int, int, str]:
        lo_f, hi_f = self._hist_bounds(0, budget[0])
        if budget[1] >= INF:
            return lo_f, hi_f, f"bounds ({HIST_BINS}-bin histograms)"
        lo_p, hi_p = self._hist_bounds(1, budget[1])
        total = self.total()
        return (
            max(0, lo_f + lo_p - total),
            min(hi_f, hi_p),
            "loose bounds (FLOPs and params bounded separately)",
        )

    def _hist_bounds(self, axis: int, limit: int) -> tuple[int, int]:
        """Histograms of partial cost in bins of width w: rounding every component's cost up
        counts only networks that surely fit, rounding down all that may."""
        w = max(1, math.ceil(limit / HIST_BINS))
        top = limit // w + 1
        start = np.zeros(top)
        start[0] = 1.0
        low, high = {self.start: start}, {self.start: start.copy()}
        for j in range(len(self.c)):
            nlow: dict[State, np.ndarray] = defaultdict(lambda: np.zeros(top))
            nhigh: dict[State, np.ndarray] = defaultdict(lambda: np.zeros(top))
            for s in low:
                for o in self.unique(j, s):
                    shift_add(nlow[o.next], low[s], -(-o.cost[axis] // w))
                    shift_add(nhigh[o.next], high[s], o.cost[axis] // w)
            low, high = nlow, nhigh
        return (
            round(float(sum(h.sum() for h in low.values()))),
            round(float(sum(h.sum() for h in high.values()))),
        )


def _agrees(decisions: dict[str, Any], assign: dict[str, Any]) -> bool:
    for k, v in decisions.items():
        if k in assign and not _same(assign[k], v):
            return False
    return True


def _same(a: Any, b: Any) -> bool:
    """Equal as trial params: floats up to rounding (Optuna's stepped floats), bools only to
    bools (True is not the int 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        )
    return a == b


def _add(spent: Vec, cost: Vec, use_params: bool) -> Vec:
    return spent[0] + cost[0], spent[1] + (cost[1] if use_params else 0)
