"""Which architectures a study trains: draws spread over a space's feasible region, and the
space's presets near the budget.

A calibration's Kendall tau is only as good as the spread of what it ranks: K uniform draws
bunch where the region is dense (mid cost, attention-heavy in the hybrid space). So the draw
is stratified: a pool of uniform draws within budget is cut into cost quartiles x dominant
mixer, and the K architectures are taken round-robin from those cells. Uniform draws are
found by rejection; under a budget that keeps a tiny share of the space (the hybrid space
within 200 MFLOPs: 0.0004%) rejection finds next to none, and the pool is filled with draws
made choice by choice inside the region (`FeasibleRegion.draw`: always within budget, slower,
and leaning to the budget's edge).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass

import numpy as np

from nas.cost import closed_form
from nas.search.feasible import FeasibleRegion
from nas.space import ArchSpec, ConfigError, SearchSpace

POOL_PER_ARCH = 50  # uniform draws in the pool per architecture asked for
GUIDED_PER_ARCH = 3  # region-guided draws per architecture when rejection falls short
COST_BINS = 4
REJECTION_CHECK = 2000  # tries after which (and at each doubling) rejection may give up

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Drawn:
    spec: ArchSpec
    label: str  # `draw 3 (q2 attn)`, or the preset's name
    flops: int
    params: int


def family(spec: ArchSpec) -> str:
    """The mixer with the most blocks (ties: the first in the network)."""
    counts = Counter(m for s in spec.stages for m in s.mixers)
    return max(counts, key=lambda m: counts[m])


def draw_architectures(region: FeasibleRegion, *, k: int, seed: int = 0) -> list[Drawn]:
    """K distinct architectures within the region's budget, spread over cost x family."""
    if k < 1:
        raise ConfigError(f"expected at least 1 architecture, got {k}", field="--archs")
    rng = random.Random(seed)
    pool = _pool(region, POOL_PER_ARCH * k, rng)
    if len(pool) < GUIDED_PER_ARCH * k:
        pool += _guided(region, GUIDED_PER_ARCH * k - len(pool), rng, {s.arch_id for s in pool})
    if not pool:
        raise ConfigError("the draw found no architecture within the budget", field="--budget")
    costs = {s.arch_id: closed_form(s) for s in pool}
    flops = np.array([costs[s.arch_id].flops for s in pool], dtype=float)
    edges = np.quantile(flops, np.linspace(0, 1, COST_BINS + 1)[1:-1])
    cells: dict[tuple[int, str], list[ArchSpec]] = {}
    for spec, f in zip(pool, flops):
        cells.setdefault((int(np.searchsorted(edges, f, side="right")), family(spec)), []).append(
            spec
        )
    order = sorted(cells)
    rng.shuffle(order)
    picked: list[Drawn] = []
    while len(picked) < k and any(cells.values()):
        for cell in order:
            if cells[cell] and len(picked) < k:
                spec = cells[cell].pop(rng.randrange(len(cells[cell])))
                cost = costs[spec.arch_id]
                picked.append(
                    Drawn(
                        spec,
                        f"draw {len(picked)} (q{cell[0] + 1} {cell[1]})",
                        cost.flops,
                        cost.params,
                    )
                )
    if len(picked) < k:
        log.warning(
            "--archs %d: the draw found only %d distinct architectures within the budget; "
            "the study takes those %d",
            k,
            len(picked),
            len(picked),
        )
    return picked


def _pool(region: FeasibleRegion, n: int, rng: random.Random) -> list[ArchSpec]:
    """Up to n distinct architectures drawn uniformly from the region, by rejection. Gives up
    early when the hits so far project to less than half of n over all its tries (after
    REJECTION_CHECK tries, where a rate that would fill the pool has shown 10 hits on average,
    and at each doubling): a tiny region, which `_guided` fills instead."""
    seen, pool = set(), []
    tries, check = 200 * n, REJECTION_CHECK
    for i in range(tries):
        if len(pool) >= n:
            break
        if i == check:
            if len(pool) * tries < i * n / 2:
                break
            check *= 2
        drawn = region.draw_uniform(rng, tries=1)
        if drawn is not None and drawn[1].arch_id not in seen:
            seen.add(drawn[1].arch_id)
            pool.append(drawn[1])
    return pool


def _guided(region: FeasibleRegion, n: int, rng: random.Random, seen: set[str]) -> list[ArchSpec]:
    """Up to n more distinct architectures drawn choice by choice within the region (each
    draw fits; repeats are dropped, and a region with fewer architectures gives fewer)."""
    pool: list[ArchSpec] = []
    for _ in range(3 * n):
        if len(pool) >= n:
            break
        try:
            _, spec = region.draw(rng, tries=0)
        except ConfigError:  # a path invalid at this resolution
            continue
        if spec.arch_id not in seen and region.fits(spec):
            seen.add(spec.arch_id)
            pool.append(spec)
    return pool


def presets_near(
    space: SearchSpace, *, max_flops: int, within: float = 0.25, resolution: int | None = None
) -> list[Drawn]:
    """The presets of `space` whose FLOPs are within `within` of the budget (either side)."""
    from nas.models import PRESETS  # the presets are the models layer's data

    out = []
    for name, preset in PRESETS.items():
        try:
            spec = preset if resolution is None else preset.replace(resolution=resolution)
        except ConfigError:  # not a valid network at this resolution
            continue
        if not space.contains(spec):
            continue
        cost = closed_form(spec)
        if abs(cost.flops / max_flops - 1) <= within:
            out.append(Drawn(spec, name, cost.flops, cost.params))
    return out
