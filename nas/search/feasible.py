"""The feasible region of a search space under a FLOP (and optional params) budget, known
before anything is sampled.

Costs come from the closed form (`nas.cost.closed_form`), which equals fvcore to the unit, so
"fits" here means "fvcore will agree it fits". The region is computed by dynamic programming
over the components of each variant (stem + first stage, each further stage, head), never by
enumerating architectures:

- per component and per choice, the cheapest and dearest whole network;
- the exact number of distinct architectures within the budget, by meeting in the middle of
  the components (bounds from cost histograms when both halves are too large to hold;
  infinite when a float choice has no step);
- for any partial set of trial params, whether some completion still fits: what
  `nas.search.feasible_sampler.FeasibleSampler` uses so that a search never proposes an
  architecture over budget;
- random architectures of the region (`draw`), without Optuna.

Pure Python on closed-form costs: importing this module loads neither torch nor Optuna.

    region = FeasibleRegion(load_space("hybrid"), max_flops=parse_budget("4GFLOPs"))
    print(region.summary())                        # what `nas-search --dry-run` prints
    params, spec = region.draw(random.Random(0))   # an architecture within budget
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from typing import Any

from nas.cost import closed_form, format_amount, parse_amount, parse_budget
from nas.space import ArchSpec, ConfigError, RandomChooser, SearchSpace, check_resolution
from nas.space.choices import FloatRange

from ._private.components import NetComponents
from ._private.counting import INF
from ._private.net_region import NetRegion

__all__ = ["FeasibleRegion", "RegionCount", "dry_run_summary"]


@dataclass(frozen=True)
class RegionCount:
    """How many distinct architectures fit (`low == high` when exact)."""

    low: int | float
    high: int | float
    total: int | float  # architectures in the space
    how: str  # "exact", "bounds (...)", "infinite (continuous choices)", ...

    @property
    def exact(self) -> bool:
        return self.how == "exact"

    def __str__(self) -> str:
        if math.isinf(self.total):
            return "infinitely many (a float choice has no step)"
        share = f" ({100 * self.high / self.total:.3g}% of {self.total:,})" if self.total else ""
        if self.exact:
            return f"{self.low:,} fit{share}, exact"
        return f"between {self.low:,} and {self.high:,} fit{share}, {self.how}"


class FeasibleRegion:
    """The architectures of `space` within `max_flops` (and `max_params`) at `resolution`
    (default: the space's own)."""

    def __init__(
        self,
        space: SearchSpace,
        *,
        max_flops: int | str,
        max_params: int | str | None = None,
        resolution: int | None = None,
    ):
        self.space = space
        self.max_flops = parse_budget(max_flops)
        self.max_params = (
            None
            if max_params is None
            else parse_amount(max_params, what="params", field="max_params")
        )
        self.budget = (self.max_flops, INF if self.max_params is None else self.max_params)
        if resolution is not None:
            resolution = check_resolution(resolution, field="resolution")
        self.variants: dict[str, NetRegion] = {}
        for name, net in space.variants.items():
            comps = NetComponents(
                net,
                f"{name}." if name else "",
                resolution=net.resolution if resolution is None else resolution,
            )
            region = NetRegion(comps, budget=self.budget)
            if not region.empty:
                self.variants[name] = region
        self.resolution = (
            next(iter(space.variants.values())).resolution if resolution is None else resolution
        )
        if not self.variants:
            raise ConfigError(
                f"no architecture of this space is valid at resolution {self.resolution}",
                field="resolution",
                source=space.source,
            )
        self._names = set(space.choices())

    # --- extremes ---------------------------------------------------------------------------

    @property
    def cheapest(self) -> tuple[int, int]:
        """Fewest FLOPs and fewest params of any architecture (each on its own)."""
        return (
            min(r.lo[0][r.start][0] for r in self.variants.values()),
            min(r.lo[0][r.start][1] for r in self.variants.values()),
        )

    @property
    def dearest(self) -> tuple[int, int]:
        return (
            max(r.hi[0][r.start][0] for r in self.variants.values()),
            max(r.hi[0][r.start][1] for r in self.variants.values()),
        )

    def extreme_spec(self, which: str) -> ArchSpec:
        """The architecture with the fewest ("cheapest") or most ("dearest") FLOPs."""
        pick = min if which == "cheapest" else max
        specs = [r.extreme(pick) for r in self.variants.values()]
        return pick(specs, key=lambda s: closed_form(s).flops)

    def problem(self) -> str | None:
        """Why nothing fits, or None."""
        (f, p), budget = self.cheapest, self._budget_text()
        if f > self.max_flops:
            return (
                f"budget {budget} is below the cheapest architecture of space "
                f"{self.space.name!r} ({format_amount(f)}): nothing fits"
            )
        if self.max_params is not None and p > self.max_params:
            return (
                f"params budget {format_amount(self.max_params, ' params')} is below the "
                f"smallest architecture of space {self.space.name!r} "
                f"({format_amount(p, ' params')}): nothing fits"
            )
        if not any(r.fits_from(0, r.start, (0, 0)) for r in self.variants.values()):
            return f"no architecture of space {self.space.name!r} fits both budgets at once"
        return None

    def check(self) -> None:
        """Raise ConfigError (field `budget`) when no architecture fits."""
        reason = self.problem()
        if reason:
            raise ConfigError(reason, field="budget")

    # --- counting ---------------------------------------------------------------------------

    @functools.cached_property
    def count(self) -> RegionCount:
        if any(r.c.continuous for r in self.variants.values()):
            return RegionCount(math.inf, math.inf, math.inf, "infinite (continuous choices)")
        low = high = total = 0
        hows = set()
        for region in self.variants.values():
            lo, hi, how = region.count(self.budget)
            low, high, total = low + lo, high + hi, total + region.total()
            hows.add(how)
        how = "exact" if hows == {"exact"} else "; ".join(sorted(hows - {"exact"}))
        if how == "exact" and self._may_double_count():
            how = "upper bound (one architecture may be reached through different params)"
            low = 0
        return RegionCount(low, high, total, how)

    def _may_double_count(self) -> bool:
        """Distinct decision paths that build one architecture are merged within a component;
        across variants, or through a param that leaves no trace, they might not be."""
        regions = list(self.variants.values())
        if any(r.c.ambiguous for r in regions):
            return True
        for i, a in enumerate(regions):
            for b in regions[i + 1 :]:
                if len(a.c) == len(b.c) and all(
                    {o.value for o in a.all_options(j)} & {o.value for o in b.all_options(j)}
                    for j in range(len(a.c))
                ):
                    return True
        return False

    # --- per component and per choice -----------------------------------------------------

    def component_ranges(self) -> list[tuple[str, int, tuple[int, int], tuple[int, int]]]:
        """(component, distinct values, (min, max) FLOPs, (min, max) params) of its own
        cost, over every way of reaching it."""
        rows = []
        for prefix, region in self.variants.items():
            for j, title in enumerate(region.c.titles):
                opts = region.all_options(j)
                flops = [o.cost[0] for o in opts]
                params = [o.cost[1] for o in opts]
                name = f"{prefix}.{title}" if prefix else title
                distinct = {id(o.value) for s in region.levels[j] for o in region.unique(j, s)}
                rows.append(
                    (name, len(distinct), (min(flops), max(flops)), (min(params), max(params)))
                )
        return rows

    def choice_ranges(self, axis: str = "flops") -> dict[str, dict[Any, tuple[int, int]]]:
        """For every trial param and value: FLOPs (or params, `axis="params"`) of the cheapest
        and dearest whole network that takes it. A value whose cheapest network is over budget
        is never sampled."""
        k = ("flops", "params").index(axis)
        out: dict[str, dict[Any, tuple[int, int]]] = {}
        for prefix, region in self.variants.items():
            if len(self.variants) > 1:
                out.setdefault("variant", {})[prefix] = (
                    region.lo[0][region.start][k],
                    region.hi[0][region.start][k],
                )
            for j in range(len(region.c)):
                for s in region.levels[j]:
                    for o in region.options(j, s):
                        low, high = region.through(j, s, o)
                        for name, value in o.decisions.items():
                            old = out.setdefault(name, {}).get(value, (low[k], high[k]))
                            out[name][value] = (min(old[0], low[k]), max(old[1], high[k]))
        return out

    # --- feasibility of a partial trial ---------------------------------------------------

    def allows(self, params: dict[str, Any]) -> bool | None:
        """Can trial params `params` (a prefix of one trial's decisions, in sampling order)
        still be completed within budget? None when they are not a path of the space (a
        hyperparameter outside it, say): no opinion."""
        if len(self.variants) == 1 and len(self.space.variants) == 1:
            region = next(iter(self.variants.values()))
        elif "variant" not in params:
            return None
        elif params["variant"] not in self.variants:
            return False if params["variant"] in self.space.variants else None
        else:
            region = self.variants[params["variant"]]
        return region.assignment_fits(params)

    def knows(self, name: str) -> bool:
        """Is `name` a choice of the space (as opposed to, say, a training hyperparameter)?"""
        return name in self._names

    def fits(self, spec: ArchSpec) -> bool:
        """Is this architecture within budget (by the closed form, equal to fvcore)?"""
        cost = closed_form(spec)
        return cost.flops <= self.budget[0] and cost.params <= self.budget[1]

    # --- random architectures of the region ------------------------------------------------

    def draw_uniform(
        self, rng: random.Random, *, tries: int = 1000
    ) -> tuple[dict[str, Any], ArchSpec] | None:
        """(params, spec) of an architecture drawn uniformly over the space's decision paths
        that fit, by rejection (random decisions, closed-form check); None when `tries` draws
        found none (a budget that keeps a tiny share of the space)."""
        for _ in range(tries):
            chooser = RandomChooser(rng)
            try:
                spec = self.space.sample(chooser, resolution=self.resolution)
            except ConfigError:  # a path invalid at this resolution
                continue
            if self.fits(spec):
                return chooser.params, spec
        return None

    def draw(self, rng: random.Random, *, tries: int = 1000) -> tuple[dict[str, Any], ArchSpec]:
        """(params, spec) of a random architecture within budget: uniform (`draw_uniform`)
        when rejection finds one in `tries`, else drawn choice by choice among the values that
        can still be completed within budget (never fails, but leans to the budget's edge)."""
        drawn = self.draw_uniform(rng, tries=tries)
        if drawn is not None:
            return drawn
        chooser = _RegionChooser(self, rng)
        return chooser.params, self.space.sample(chooser, resolution=self.resolution)

    # --- the dry-run text -------------------------------------------------------------------

    def _budget_text(self) -> str:
        text = f"{format_amount(self.max_flops)} ({self.max_flops:,})"
        if self.max_params is not None:
            text += f" and {format_amount(self.max_params, ' params')}"
        return text

    def summary(self, *, choices: bool = True) -> str:
        """What `nas-search --dry-run` prints."""
        (f0, p0), (f1, p1) = self.cheapest, self.dearest
        lines = [
            f"space {self.space.name!r} at {self.resolution}x{self.resolution}, budget "
            f"{self._budget_text()}",
            f"  architectures  {self.count}",
            f"  range          {_range(f0, f1, 'FLOPs')}, {_range(p0, p1, ' params')}",
        ]
        for which in ("cheapest", "dearest"):
            spec = self.extreme_spec(which)
            cost = closed_form(spec)
            lines.append(
                f"  {which:<14} {spec.summary()}  ({format_amount(cost.flops)}, "
                f"{format_amount(cost.params, ' params')})"
            )
        lines.append("  " + (self.problem() or self._headroom()))
        lines.append(f"  {'component':<22}{'distinct':>8}  {'own FLOPs':>21}  {'own params':>19}")
        for name, n, (a, b), (c, d) in self.component_ranges():
            lines.append(
                f"  {name:<22}{n:>8,}  {_range(a, b, 'FLOPs'):>21}  {_range(c, d, ''):>19}"
            )
        if choices:
            lines.append(
                "  per choice, FLOPs of the cheapest..dearest network taking it "
                "(/never: no network taking it fits the budget)"
            )
            lines += self._choice_lines()
        return "\n".join(lines)

    def _headroom(self) -> str:
        if self.dearest[0] <= self.max_flops and (
            self.max_params is None or self.dearest[1] <= self.max_params
        ):
            return (
                "the budget is at or above the dearest architecture: every architecture "
                "fits, the budget constrains nothing"
            )
        return "the budget cuts the space: choices below are restricted while sampling"

    def _choice_lines(self) -> list[str]:
        lines = []
        params = self.choice_ranges("params") if self.max_params is not None else {}
        for name, values in self.choice_ranges().items():
            cells = []
            for value, (lo, hi) in values.items():
                never = lo > self.max_flops or (
                    self.max_params is not None and params[name][value][0] > self.max_params
                )
                cells.append(
                    f"{value}: {format_amount(lo, '')}..{format_amount(hi, '')}"
                    + (" /never" if never else "")
                )
            lines.append(f"    {name:<20} " + "  ".join(cells))
        return lines


class _RegionChooser(RandomChooser):
    """Uniform among the values of each choice that the region allows after the decisions
    taken so far (the first question always has one, and each kept answer leaves one)."""

    def __init__(self, region: FeasibleRegion, rng: random.Random):
        super().__init__(rng)
        self.region = region

    def _ok(self, name: str, value: Any) -> bool:
        return (
            not self.region.knows(name)
            or self.region.allows({**self.params, name: value}) is not False
        )

    def _pick(self, name: str, values: list[Any]) -> Any:
        allowed = [v for v in values if self._ok(name, v)] or values
        return self._keep(name, self.rng.choice(allowed))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._pick(name, list(choices))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        return self._pick(name, list(range(low, high + 1, step)))

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        if step is not None:
            return self._pick(name, FloatRange(low, high, step).values() or [low])
        for _ in range(100):
            value = super().suggest_float(name, low, high, log=log)
            if self._ok(name, value):
                return value
        return self._keep(name, low)  # cost never falls as a ratio shrinks


def _range(a: int, b: int, unit: str) -> str:
    return f"{format_amount(a, '')}..{format_amount(b, '')}{unit}"


def dry_run_summary(
    space: SearchSpace,
    *,
    max_flops: int | str,
    max_params: int | str | None = None,
    resolution: int | None = None,
) -> str:
    """The text `nas-search --dry-run` prints: counts, extremes and per-choice ranges."""
    return FeasibleRegion(
        space, max_flops=max_flops, max_params=max_params, resolution=resolution
    ).summary()
