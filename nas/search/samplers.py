"""Optuna samplers and pruners by short name: the one place a study's strategy is built.

`SAMPLER_FACTORIES` and `PRUNER_FACTORIES` are the registries: a new sampler or pruner is one
entry there, and `--sampler` / `--pruner` accept it (`SAMPLERS`, `PRUNERS` derive from them).
`make_sampler` wraps the sampler so that it only proposes architectures within the budget
(`nas.search.feasible_sampler.FeasibleSampler`): N trials train N feasible candidates. Optuna is
imported only when a strategy is built, so `nas-search --help` and `--dry-run` start fast.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler

    from .feasible import FeasibleRegion


def make_sampler(
    name: str, *, seed: int | None, trials: int, region: FeasibleRegion | None = None
) -> BaseSampler:
    """Optuna's sampler `name`, tuned for a search of about `trials` trained candidates, and
    restricted to `region` (the architectures within budget) when given.

    Every sampler here also reads the trials' constraints (`trial.set_constraint`), so a
    candidate over budget all the same (one enqueued by hand) counts as infeasible.
    """
    import optuna

    if name not in SAMPLER_FACTORIES:
        raise ValueError(f"unknown sampler {name!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = SAMPLER_FACTORIES[name](seed, trials)
    if region is None:
        return sampler
    from .feasible_sampler import FeasibleSampler

    return FeasibleSampler(sampler, region, seed=seed)


def _tpe(seed: int | None, trials: int) -> BaseSampler:
    from optuna.samplers import TPESampler

    # multivariate + group: the space is conditional (heads only with attention...).
    return TPESampler(
        seed=seed,
        n_startup_trials=_startup(trials),
        multivariate=True,
        group=True,
        constant_liar=True,
    )


def _nsga2(seed: int | None, trials: int) -> BaseSampler:
    from optuna.samplers import NSGAIISampler

    return NSGAIISampler(seed=seed, population_size=_population(trials))


def _nsga3(seed: int | None, trials: int) -> BaseSampler:
    from optuna.samplers import NSGAIIISampler

    return NSGAIIISampler(seed=seed, population_size=_population(trials))


def _random(seed: int | None, trials: int) -> BaseSampler:
    from optuna.samplers import RandomSampler

    return RandomSampler(seed=seed)


def _qmc(seed: int | None, trials: int) -> BaseSampler:
    from optuna.samplers import QMCSampler

    return QMCSampler(
        seed=seed, scramble=True, warn_independent_sampling=False, warn_asynchronous_seeding=False
    )


def _gp(seed: int | None, trials: int) -> BaseSampler:
    from optuna.samplers import GPSampler

    return GPSampler(seed=seed, n_startup_trials=_startup(trials), warn_independent_sampling=False)


# name -> builder(seed, trials)
SAMPLER_FACTORIES: dict[str, Callable[[int | None, int], BaseSampler]] = {
    "tpe": _tpe,
    "nsga2": _nsga2,
    "nsga3": _nsga3,
    "random": _random,
    "qmc": _qmc,
    "gp": _gp,
}
SAMPLERS = tuple(SAMPLER_FACTORIES)
# --sampler's default, chosen by measurement: on simulated searches of the hybrid space at
# 4 GFLOPs (results/benchmarks/samplers.md) GP's fronts were ahead of TPE's at 20, 50 and 200
# trials on their 90% intervals, for 1.4 s of sampler time per trial at 200 (CPU proxy runs
# take ~40 s). Its own time per trial grows with the trials (sampler_overhead.md), so beyond
# GP_MAX_TRIALS, the longest search it was measured best at, the default is TPE (within 1% of
# GP's hypervolume at 200 trials, at a tenth of its time): the thousands of trials of a
# supernet or zero-cost search, seconds each, would otherwise wait on the sampler.
DEFAULT_SAMPLER = "gp"
LONG_SEARCH_SAMPLER = "tpe"
GP_MAX_TRIALS = 200


def default_sampler(trials: int) -> str:
    """`--sampler`'s default for a search of `trials` trials."""
    return DEFAULT_SAMPLER if trials <= GP_MAX_TRIALS else LONG_SEARCH_SAMPLER


def _startup(trials: int) -> int:
    """Random proposals before the model takes over."""
    return max(4, min(10, trials // 3))


def _population(trials: int) -> int:
    """NSGA's generation size: several generations even in a short search."""
    return max(8, min(50, trials // 4))


def make_pruner(name: str, *, percentile: float = 50.0) -> BasePruner:
    """Optuna's pruner for single-objective studies (multi-objective ones use
    `nas.search.pruning.CheaperTrialsRule`, since Optuna's pruners refuse them)."""
    if name not in PRUNER_FACTORIES:
        raise ValueError(f"unknown pruner {name!r}")
    return PRUNER_FACTORIES[name](percentile)


def _median(percentile: float) -> BasePruner:
    from optuna.pruners import MedianPruner

    return MedianPruner(n_startup_trials=3, n_warmup_steps=0)


def _percentile(percentile: float) -> BasePruner:
    from optuna.pruners import PercentilePruner

    return PercentilePruner(percentile, n_startup_trials=3)


def _hyperband(percentile: float) -> BasePruner:
    from optuna.pruners import HyperbandPruner

    return HyperbandPruner(min_resource=1)


def _successive_halving(percentile: float) -> BasePruner:
    from optuna.pruners import SuccessiveHalvingPruner

    return SuccessiveHalvingPruner(min_resource=1)


def _none(percentile: float) -> BasePruner:
    from optuna.pruners import NopPruner

    return NopPruner()


# name -> builder(percentile); `percentile` takes its P as `percentile:P`
PRUNER_FACTORIES: dict[str, Callable[[float], BasePruner]] = {
    "median": _median,
    "percentile": _percentile,
    "hyperband": _hyperband,
    "successive-halving": _successive_halving,
    "none": _none,
}
PRUNERS = tuple(PRUNER_FACTORIES)
# the pruners multi-objective studies can use: CheaperTrialsRule applies the median and
# percentile rules against cheaper candidates only
MULTI_OBJECTIVE_PRUNERS = ("median", "percentile", "none")
