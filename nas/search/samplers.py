"""Optuna samplers and pruners by short name: the one place a study's strategy is built.

`make_sampler` wraps the sampler so that it only proposes architectures within the budget
(`nas.search.feasible.FeasibleSampler`): N trials train N feasible candidates.
"""

from __future__ import annotations

import warnings

import optuna
from optuna.samplers import BaseSampler

from .feasible import FeasibleRegion, FeasibleSampler


def make_sampler(name: str, *, seed: int | None, trials: int,
                 region: FeasibleRegion | None = None) -> BaseSampler:
    """Optuna's sampler `name`, tuned for a search of about `trials` trained candidates, and
    restricted to `region` (the architectures within budget) when given.

    Every sampler here also reads the trials' constraints (`trial.set_constraint`), so a
    candidate over budget all the same (one enqueued by hand) counts as infeasible.
    """
    sampler = _build(name, seed=seed, trials=trials)
    return FeasibleSampler(sampler, region, seed=seed) if region is not None else sampler


def _build(name: str, *, seed: int | None, trials: int) -> BaseSampler:
    startup = max(4, min(10, trials // 3))  # random proposals before the model takes over
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            # multivariate + group: the space is conditional (heads only with attention...).
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup,
                                              multivariate=True, group=True,
                                              constant_liar=True)
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=_population(trials))
        if name == "nsga3":
            return optuna.samplers.NSGAIIISampler(seed=seed,
                                                  population_size=_population(trials))
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "qmc":
            return optuna.samplers.QMCSampler(seed=seed, scramble=True,
                                              warn_independent_sampling=False,
                                              warn_asynchronous_seeding=False)
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup,
                                             warn_independent_sampling=False)
    raise ValueError(f"unknown sampler {name!r}")


def _population(trials: int) -> int:
    """NSGA's generation size: several generations even in a short search."""
    return max(8, min(50, trials // 4))


def make_pruner(name: str, *, percentile: float = 50.0) -> optuna.pruners.BasePruner:
    """Optuna's pruner for single-objective studies (multi-objective ones use
    `nas.search.pruning.CheaperTrialsRule`, since Optuna's pruners refuse them)."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(percentile, n_startup_trials=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    if name == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    return optuna.pruners.NopPruner()
