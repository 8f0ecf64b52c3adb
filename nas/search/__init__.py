"""Budgeted architecture search with Optuna: samplers, constraints, early stopping, storage.

`run_search(space=..., budget=...)` is the Python API of `nas-search`. Names load on first
use (PEP 562), so the feasible region (`nas.search.feasible`) is usable without torch.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_LAZY = {
    "OBJECTIVES": "config",
    "SearchConfig": "config",
    "FeasibleRegion": "feasible",
    "FeasibleSampler": "feasible_sampler",
    "restrict_sampler": "feasible_sampler",
    "Objective": "objective",
    "TrialFailed": "objective",
    "CheaperTrialsRule": "pruning",
    "make_early_stopping": "pruning",
    "count": "results",
    "pareto_trials": "results",
    "trials_frame": "results",
    "SearchError": "runner",
    "SearchOutcome": "runner",
    "make_config": "config",
    "open_study": "runner",
    "run": "runner",
    "run_search": "runner",
    "PRUNERS": "samplers",
    "SAMPLERS": "samplers",
    "make_pruner": "samplers",
    "make_sampler": "samplers",
    "HeartbeatJournalStorage": "storage",
    "open_storage": "storage",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
