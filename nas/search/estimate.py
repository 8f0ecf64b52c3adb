"""How much of a space fits a budget, before anything is trained.

Two questions, one function each, so an exact method can replace either:
- `cheapest_architecture`: the cheapest architecture we can find quickly (the smallest-choice
  corner of the space, improved by one pass of coordinate descent when it is over budget).
  `check_budget_reachable` turns "nothing fits" into a clear error before any training.
- `estimate_fit`: a Monte-Carlo estimate of the share of the space within the budget, for
  `--dry-run`.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nas.cost import format_amount, measure
from nas.space import ArchSpec, ConfigError, SearchSpace

Cost = tuple[int, int]  # (flops, params)


@dataclass(frozen=True)
class Cheapest:
    spec: ArchSpec
    flops: int
    params: int
    params_choice: dict[str, Any]


class _Corner:
    """A chooser taking the smallest numeric option (the first of other options) unless a value
    is forced."""

    def __init__(self, forced: dict[str, Any] | None = None):
        self.forced = dict(forced or {})
        self.params: dict[str, Any] = {}
        self.options: dict[str, list[Any]] = {}

    def _take(self, name: str, options: list[Any]) -> Any:
        self.options[name] = options
        if name in self.forced and self.forced[name] in options:
            value = self.forced[name]
        elif all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in options):
            value = min(options)
        else:
            value = options[0]
        self.params[name] = value
        return value

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._take(name, list(choices))

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        return self._take(name, list(range(low, high + 1, step)))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        if step is None:
            return self._take(name, [low, high])
        n = math.floor((high - low) / step + 1e-9)
        return self._take(name, [low + k * step for k in range(n + 1)])


def _cost(space: SearchSpace, forced: dict[str, Any], resolution: int,
          cache: dict[str, Cost]) -> tuple[ArchSpec, _Corner, Cost]:
    chooser = _Corner(forced)
    spec = space.sample(chooser, resolution=resolution)
    if spec.arch_id not in cache:
        report = measure(spec)
        cache[spec.arch_id] = (report.flops, report.params)
    return spec, chooser, cache[spec.arch_id]


def cheapest_architecture(space: SearchSpace, *, resolution: int, max_flops: int | None = None,
                          max_params: int | None = None, max_evals: int = 400) -> Cheapest:
    """The cheapest architecture found: the smallest-choice corner when it fits the budget,
    else the result of coordinate descent on FLOPs from there (every option of one choice at a
    time, others fixed) until nothing improves or `max_evals` models were measured."""
    cache: dict[str, Cost] = {}
    spec, chooser, cost = _cost(space, {}, resolution, cache)
    forced = dict(chooser.params)

    def fits(c: Cost) -> bool:
        return ((max_flops is None or c[0] <= max_flops)
                and (max_params is None or c[1] <= max_params))

    improved = not fits(cost)
    while improved and len(cache) < max_evals:
        improved = False
        for name, options in list(chooser.options.items()):
            for option in options:
                trial = {**forced, name: option}
                s, ch, c = _cost(space, trial, resolution, cache)
                if c < cost:
                    spec, chooser, cost, forced, improved = s, ch, c, dict(ch.params), True
            if fits(cost) or len(cache) >= max_evals:
                break
    return Cheapest(spec, cost[0], cost[1], forced)


def check_budget_reachable(space: SearchSpace, *, resolution: int, max_flops: int,
                           max_params: int | None = None) -> Cheapest:
    """Raise ConfigError, before any training, when no architecture found fits the budget."""
    best = cheapest_architecture(space, resolution=resolution, max_flops=max_flops,
                                 max_params=max_params)
    if best.flops > max_flops:
        raise ConfigError(
            f"no architecture of space {space.name!r} fits {format_amount(max_flops)} at "
            f"{resolution}px: the cheapest found ({best.spec.summary()}) needs "
            f"{format_amount(best.flops)}; raise the budget or lower --resolution",
            field="--budget")
    if max_params is not None and best.params > max_params:
        raise ConfigError(
            f"no architecture of space {space.name!r} fits {format_amount(max_params, '')} "
            f"params: the cheapest found needs {format_amount(best.params, '')}",
            field="--max-params")
    return best


@dataclass(frozen=True)
class FitEstimate:
    samples: int
    fitting: int
    flops: list[int]  # of every sample
    seconds_per_measure: float

    @property
    def share(self) -> float:
        return self.fitting / self.samples if self.samples else 0.0

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """Wilson score interval of the share (95% by default)."""
        n, p = self.samples, self.share
        if not n:
            return 0.0, 1.0
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)


def estimate_fit(space: SearchSpace, *, resolution: int, max_flops: int,
                 max_params: int | None = None, samples: int = 64, seed: int = 0,
                 progress: Callable[[int], None] | None = None,
                 keep: list[ArchSpec] | None = None) -> FitEstimate:
    """Measure `samples` uniformly sampled architectures (fvcore) and count those that fit
    (appending them to `keep` when given)."""
    rng = random.Random(seed)
    flops, fitting = [], 0
    start = time.perf_counter()
    for i in range(samples):
        spec = space.sample_random(rng, resolution=resolution)
        report = measure(spec)
        flops.append(report.flops)
        fits = report.flops <= max_flops and (max_params is None or report.params <= max_params)
        fitting += fits
        if fits and keep is not None:
            keep.append(spec)
        if progress:
            progress(i + 1)
    per = (time.perf_counter() - start) / max(samples, 1)
    return FitEstimate(samples, fitting, flops, per)
