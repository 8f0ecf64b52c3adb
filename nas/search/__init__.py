"""Budgeted architecture search with Optuna: samplers, constraints, early stopping, storage.

`run_search(space=..., budget=...)` is the Python API of `nas-search`.
"""

from .config import OBJECTIVES, PRUNERS, SAMPLERS, SearchConfig
from .feasible import FeasibleRegion, FeasibleSampler, restrict_sampler
from .objective import Objective, TrialFailed
from .pruning import CheaperTrialsRule, make_early_stopping
from .results import count, pareto_trials, trials_frame
from .runner import SearchError, SearchOutcome, make_config, open_study, run, run_search
from .samplers import make_pruner, make_sampler
from .storage import HeartbeatJournalStorage, open_storage

__all__ = [
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "CheaperTrialsRule",
    "FeasibleRegion",
    "FeasibleSampler",
    "HeartbeatJournalStorage",
    "Objective",
    "SearchConfig",
    "SearchError",
    "SearchOutcome",
    "TrialFailed",
    "count",
    "make_config",
    "make_early_stopping",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "open_study",
    "pareto_trials",
    "restrict_sampler",
    "run",
    "run_search",
    "trials_frame",
]
