"""Optuna trials -> rows of `trials.csv` / `pareto.csv`, and the counts a search stops on."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import optuna
import pandas as pd
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from nas.report.tables import PARAM_PREFIX, order_columns

from . import attrs


def trial_row(t: FrozenTrial) -> dict:
    ua = t.user_attrs
    curve = ua.get(attrs.CURVE) or []
    seeds = ua.get(attrs.SEED_ACCURACIES) or []
    duration = t.duration.total_seconds() if t.duration is not None else None
    closed = ua.get(attrs.CLOSED_FORM) or [None, None]
    row = {
        "number": t.number,
        "state": t.state.name,
        "arch_id": ua.get(attrs.ARCH_ID),
        "flops": ua.get(attrs.FLOPS),
        "params": ua.get(attrs.PARAMS),
        # a failed trial has no result: its epochs before the failure stay in `curve`
        "proxy_accuracy": (
            ua.get(attrs.PROXY_ACCURACY) if curve and t.state != TrialState.FAIL else None
        ),
        "proxy_accuracy_std": ua.get(attrs.PROXY_STD) if t.state != TrialState.FAIL else None,
        "seeds": (len(seeds) or (1 if curve else None)) if t.state != TrialState.FAIL else None,
        "proxy_seconds": ua.get(attrs.PROXY_SECONDS),
        "failure": ua.get(attrs.FAILURE),
        "closed_form_flops": closed[0],
        "closed_form_params": closed[1],
        "feasible": ua.get(attrs.FEASIBLE),
        "trained": ua.get(attrs.TRAINED),
        "duplicate_of": ua.get(attrs.DUPLICATE_OF),
        "epochs": len(curve) or None,
        "curve": ";".join(f"{a:.4f}" for a in curve) or None,
        "seed_accuracies": ";".join(f"{a:.4f}" for a in seeds) or None,
        "proxy_resolution": ua.get(attrs.PROXY_RESOLUTION),
        "images_per_s": ua.get(attrs.IMAGES_PER_S),
        "latency_ms": ua.get(attrs.LATENCY_MS),
        "duration_s": round(duration, 3) if duration is not None else None,
        "retry_of": _retried(t),
        "worker": ua.get(attrs.WORKER),
        "summary": ua.get(attrs.SUMMARY),
    }
    if t.state == TrialState.FAIL and not row["failure"]:
        row["failure"] = (
            "interrupted (queued again)"
            if ua.get(attrs.PHASE) == "interrupted"
            else "process died (retried)"
        )
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
    failed: int  # failed with a recorded reason
    infeasible: int
    duplicates: int
    running: int
    total: int
    consecutive_failures: int  # failures since the last candidate that trained fine


def count(trials: Sequence[FrozenTrial]) -> Counts:
    c = dict(evaluated=0, complete=0, pruned=0, failed=0, infeasible=0, duplicates=0, running=0)
    streak = 0
    for t in sorted(trials, key=lambda t: t.number):
        ua = t.user_attrs
        if t.state == TrialState.RUNNING:
            c["running"] += 1
            continue
        if t.state == TrialState.FAIL and ua.get(attrs.FAILURE):
            c["failed"] += 1
            streak += 1
            c["evaluated"] += bool(ua.get(attrs.TRAINED))
            continue
        if t.state in (TrialState.FAIL, TrialState.WAITING):
            continue
        if ua.get(attrs.DUPLICATE_OF) is not None:
            c["duplicates"] += 1
        elif ua.get(attrs.FEASIBLE) is False:
            c["infeasible"] += 1
        elif ua.get(attrs.TRAINED):
            streak = 0
            c["evaluated"] += 1
            c["complete" if t.state == TrialState.COMPLETE else "pruned"] += 1
    return Counts(**c, total=len(trials), consecutive_failures=streak)
