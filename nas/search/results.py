"""Optuna trials -> rows of `trials.csv` / `pareto.csv`, and the counts a search stops on."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import optuna
import pandas as pd
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from nas.report.tables import PARAM_PREFIX, TRIALS, TrialFacts, order_columns

from . import attrs
from .prescreen import is_scored
from .retry import kind_of, superseded


def trial_row(t: FrozenTrial) -> dict:
    """The trial's row of trials.csv: the columns of `nas.report.tables.TRIALS`, then one
    `param.<name>` per sampled parameter."""
    facts = TrialFacts(
        number=t.number,
        state=t.state.name,
        attrs=t.user_attrs,
        duration_s=t.duration.total_seconds() if t.duration is not None else None,
        retry_of=_retried(t),
        failure_kind=kind_of(t),
    )
    row = TRIALS.row(facts)
    row.update({PARAM_PREFIX + k: v for k, v in t.params.items()})
    return row


def _retried(t: FrozenTrial) -> int | None:
    """The trial a heartbeat retry re-runs (Optuna's public accessor; "experimental")."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback.retried_trial_number(t)


def trials_frame(trials: Sequence[FrozenTrial]) -> pd.DataFrame:
    return order_columns(pd.DataFrame([trial_row(t) for t in trials]))


def pareto_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Optuna's `best_trials` (feasible, non-dominated), one per architecture, cheapest first."""
    try:
        best = study.best_trials
    except ValueError:  # single objective, nothing completed yet
        return []
    seen, out = set(), []
    for t in sorted(best, key=lambda t: (t.user_attrs.get(attrs.FLOPS) or 0, t.number)):
        arch = t.user_attrs.get(attrs.ARCH_ID)
        if arch in seen or not t.user_attrs.get(attrs.CURVE):
            continue
        seen.add(arch)
        out.append(t)
    return out


@dataclass(frozen=True)
class Counts:
    evaluated: int  # trained candidates: complete, pruned or failed with a reason
    complete: int  # trained to the end of the proxy
    pruned: int
    failed: int  # failed with a recorded reason, not superseded (`nas.search.retry`)
    infeasible: int
    duplicates: int
    scored: int  # drawn by a pre-screen and scored (or not scorable), not trained
    running: int
    total: int
    consecutive_failures: int  # failures since the last candidate that trained fine


def count(trials: Sequence[FrozenTrial]) -> Counts:
    c = dict(
        evaluated=0,
        complete=0,
        pruned=0,
        failed=0,
        infeasible=0,
        duplicates=0,
        scored=0,
        running=0,
    )
    streak = 0
    tried_again = superseded(trials)  # their candidate counts once, by the later trial
    for t in sorted(trials, key=lambda t: t.number):
        ua = t.user_attrs
        if t.state == TrialState.RUNNING:
            c["running"] += 1
            continue
        if t.state == TrialState.FAIL and ua.get(attrs.FAILURE):
            streak += 1
            if t.number not in tried_again:
                c["failed"] += 1
                c["evaluated"] += bool(ua.get(attrs.TRAINED))
            continue
        if t.state in (TrialState.FAIL, TrialState.WAITING):
            continue
        if ua.get(attrs.DUPLICATE_OF) is not None:
            c["duplicates"] += 1
        elif ua.get(attrs.FEASIBLE) is False:
            c["infeasible"] += 1
        elif is_scored(t):
            c["scored"] += 1
        elif ua.get(attrs.TRAINED):
            streak = 0
            c["evaluated"] += 1
            c["complete" if t.state == TrialState.COMPLETE else "pruned"] += 1
    return Counts(**c, total=len(trials), consecutive_failures=streak)
