"""`FeasibleSampler`: any Optuna sampler, restricted to the architectures within budget.

The budget arithmetic lives in `nas.search.feasible` (pure Python, no Optuna); this module is
the one place where it meets Optuna's sampler interface. `restrict_sampler` builds both:

    sampler = restrict_sampler(TPESampler(), load_space("hybrid"), max_flops="4GFLOPs")
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from nas.space import SearchSpace

from .feasible import FeasibleRegion

if TYPE_CHECKING:
    from optuna.study import Study

_BISECT_STEPS = 40


class FeasibleSampler(BaseSampler):
    """`base` (TPE, NSGA-II/III, random, QMC, GP, CMA-ES...) restricted to a feasible region.

    The rule. Every architecture choice goes through `sample_independent`, in the order the
    space asks its questions; the base's joint proposal (`sample_relative`) is kept aside and
    handed out there, so nothing reaches the trial unchecked. When the base has no joint
    proposal (a random sampler, or any sampler's start-up trials), the proposal is a whole
    architecture drawn uniformly from the feasible region by rejection (random decisions,
    closed-form check, at most `draws` tries): choice by choice restriction alone would skew
    such trials towards the budget's edge, since early choices are made before anything
    constrains them. A proposed value is kept when
    the trial can still be completed within budget (the region's dynamic programme answers
    exactly, from the cheapest completion left). Otherwise the base is asked again, up to
    `retries` times: that samples the base's own distribution restricted to the feasible
    values. When that fails too, the value is repaired: the nearest feasible number, or for
    names (mixers, flags) a feasible choice drawn uniformly. The first question always has a
    feasible answer and every kept answer leaves one, so each trial ends within budget, and
    the trial params Optuna records are exactly the architecture that is built.

    Params that are not choices of the space (training hyperparameters) pass through. Values
    fixed with `study.enqueue_trial` bypass samplers in Optuna and so are not checked here.
    `stats` counts kept, resampled and repaired values.
    """

    def __init__(
        self,
        base: BaseSampler,
        region: FeasibleRegion,
        *,
        retries: int = 4,
        draws: int = 1000,
        seed: int | None = None,
    ):
        if retries < 0:
            raise ValueError(f"`retries >= 0` must hold, but got retries={retries}")
        self.base = base
        self.region = region
        self.retries = retries
        self.draws = draws
        self.stats: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._proposals: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return f"Feasible{self.base}"

    # --- delegation -------------------------------------------------------------------------

    def reseed_rng(self) -> None:
        self.base.reseed_rng()
        self._rng = random.Random()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        with self._lock:
            self._proposals.pop(trial.number, None)
        self.base.after_trial(study, trial, state, values)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        proposal = self.base.sample_relative(study, trial, search_space) if search_space else {}
        if not proposal:
            proposal = self._uniform_draw()
        with self._lock:
            self._proposals[trial.number] = dict(proposal)
        return {}  # handed out one by one in sample_independent, after the check

    def _uniform_draw(self) -> dict[str, Any]:
        """The decisions of a random architecture within budget (rejection sampling), or {}
        when `draws` tries found none (the choice-by-choice restriction then does the work)."""
        drawn = self.region.draw_uniform(self._rng, tries=self.draws)
        if drawn is None:
            return {}
        self.stats["uniform draws"] += 1
        return drawn[0]

    # --- the restriction --------------------------------------------------------------------

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        value = self._proposed(study, trial, param_name, param_distribution)
        if not self.region.knows(param_name):
            self.stats["passed through"] += 1
            return value
        prefix = dict(trial.params)
        verdict = self.region.allows({**prefix, param_name: value})
        if verdict is None or verdict:
            self.stats["kept" if verdict else "no opinion"] += 1
            return value
        for _ in range(self.retries):
            value = self.base.sample_independent(study, trial, param_name, param_distribution)
            if self.region.allows({**prefix, param_name: value}):
                self.stats["resampled"] += 1
                return value
        return self._repair(prefix, param_name, param_distribution, value)

    def _proposed(
        self, study: Study, trial: FrozenTrial, name: str, dist: BaseDistribution
    ) -> Any:
        with self._lock:
            value = self._proposals.get(trial.number, {}).pop(name, _MISSING)
        if value is not _MISSING and _contains(dist, value):
            return value
        return self.base.sample_independent(study, trial, name, dist)

    def _repair(
        self, prefix: dict[str, Any], name: str, dist: BaseDistribution, value: Any
    ) -> Any:
        allows = self.region.allows
        if isinstance(dist, FloatDistribution) and dist.step is None:
            if not allows({**prefix, name: dist.low}):
                return self._stuck(value)
            lo, hi = dist.low, value  # cost never falls as a ratio grows: bisect the edge
            for _ in range(_BISECT_STEPS):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if allows({**prefix, name: mid}) else (lo, mid)
            self.stats["repaired"] += 1
            return lo
        feasible = [c for c in _grid(dist) if allows({**prefix, name: c})]
        if not feasible:
            return self._stuck(value)
        self.stats["repaired"] += 1
        if _numeric(value) and all(_numeric(c) for c in feasible):
            return min(feasible, key=lambda c: (abs(c - value), c))
        return self._rng.choice(feasible)

    def _stuck(self, value: Any) -> Any:
        """Only reachable when earlier values bypassed the sampler (enqueued trials)."""
        self.stats["stuck (earlier params fixed by hand)"] += 1
        return value


_MISSING = object()


def _contains(dist: BaseDistribution, value: Any) -> bool:
    """Is `value` one the distribution can take? (A joint proposal made for another trial's
    distributions may not be.)"""
    if isinstance(dist, CategoricalDistribution):
        return any(value == c for c in dist.choices)  # Optuna's equality (True == 1)
    if not _numeric(value) or not dist.low <= value <= dist.high:
        return False
    if isinstance(dist, IntDistribution):
        return (value - dist.low) % dist.step == 0
    if dist.step is None:
        return True
    k = (value - dist.low) / dist.step
    return abs(k - round(k)) < 1e-8


def _numeric(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _grid(dist: BaseDistribution) -> list[Any]:
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution):
        return list(range(dist.low, dist.high + 1, dist.step))
    if isinstance(dist, FloatDistribution):
        n = math.floor((dist.high - dist.low) / dist.step + 1e-9)
        return [dist.low + k * dist.step for k in range(n + 1)]
    raise TypeError(f"unknown distribution {dist!r}")


def restrict_sampler(
    sampler: BaseSampler,
    space: SearchSpace,
    *,
    max_flops: int | str,
    max_params: int | str | None = None,
    resolution: int | None = None,
    seed: int | None = None,
) -> FeasibleSampler:
    """`sampler` wrapped so that every trial it drives samples an architecture of `space`
    within budget (see FeasibleSampler for the rule). `resolution` must be the one the search
    samples and measures at. Raises ConfigError when nothing fits, and NoClosedForm when a
    mixer of the space has no cost formula (then only sampling and checking is possible).
    `seed` seeds the whole-architecture draws, so a seeded search is reproducible."""
    region = FeasibleRegion(
        space, max_flops=max_flops, max_params=max_params, resolution=resolution
    )
    region.check()
    return FeasibleSampler(sampler, region, seed=seed)
