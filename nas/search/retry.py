"""Which failed trials a resumed search tries again.

A trial fails transiently (out of memory, its process killed) or deterministically (NaN loss,
a bad spec, a shape error); `nas.evaluate.runs.failure_of` tells them apart and the trial
records the kind (`attrs.FAILURE_KIND`). When a search starts on an existing study, each
candidate whose transient failure was not tried again is queued again with the same
parameters, while it failed at most MAX_AUTO_RETRIES times; `--retry-failed` queues every
failed candidate, deterministic ones included.

A retry is Optuna's own: `RetryHeartbeatStaleTrialCallback` adds a WAITING copy of the failed
trial that records the trials it re-runs (`retry_history`, shown as `retry_of` in trials.csv),
as the heartbeat does for a trial whose process died. The failed trial stays in the study (and
in trials.csv) as it was; once tried again (a later trial re-runs it, or another trial of the
same architecture finished) it is `superseded`: its candidate counts once, by the later trial.
"""

from __future__ import annotations

import copy
import warnings
from collections import Counter
from collections.abc import Sequence

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from nas.evaluate.runs import TRANSIENT, failure_kind

from . import attrs

MAX_AUTO_RETRIES = 2  # times resuming tries a candidate that failed transiently again


def kind_of(t: FrozenTrial) -> str | None:
    """transient or deterministic for a failed trial (None for any other). A trial Optuna
    failed itself (no reason recorded: its process died, or it was interrupted) is transient;
    one from before kinds were recorded is judged by its reason."""
    if t.state != TrialState.FAIL:
        return None
    ua = t.user_attrs
    if not ua.get(attrs.FAILURE):
        return TRANSIENT
    return failure_kind(ua.get(attrs.FAILURE), ua.get(attrs.FAILURE_KIND))


def history(t: FrozenTrial) -> list[int]:
    """The earlier trials `t` re-runs, first one first ([] for a trial that is no retry)."""
    with warnings.catch_warnings():  # Optuna marks the accessor "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return list(RetryHeartbeatStaleTrialCallback.retry_history(t))


def retried(trials: Sequence[FrozenTrial]) -> set[int]:
    """Numbers of the trials that a later trial re-runs."""
    return {n for t in trials for n in history(t)}


def superseded(trials: Sequence[FrozenTrial]) -> set[int]:
    """Numbers of the failed trials whose candidate was tried again: a later trial re-runs
    them, or a trial of the same architecture finished (completed or stopped early)."""
    again = retried(trials)
    finished = {
        t.user_attrs.get(attrs.ARCH_ID)
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.user_attrs.get(attrs.CURVE)
    }
    return {
        t.number
        for t in trials
        if t.state == TrialState.FAIL
        and (t.number in again or t.user_attrs.get(attrs.ARCH_ID) in finished)
    }


def to_retry(trials: Sequence[FrozenTrial], *, retry_failed: bool = False) -> list[FrozenTrial]:
    """The failed trials to queue again, one per architecture (its latest failure): those not
    superseded nor interrupted (an interrupted trial queued its candidate again itself), and,
    unless `retry_failed`, transient ones whose architecture failed at most MAX_AUTO_RETRIES
    times."""
    skip = superseded(trials)
    failed = [t for t in trials if t.state == TrialState.FAIL]
    failures = Counter(_candidate(t) for t in failed)
    out: dict[object, FrozenTrial] = {}
    for t in sorted(failed, key=lambda t: t.number, reverse=True):
        key = _candidate(t)
        if key in out or t.number in skip or t.user_attrs.get(attrs.PHASE) == "interrupted":
            continue
        if retry_failed or (kind_of(t) == TRANSIENT and failures[key] <= MAX_AUTO_RETRIES):
            out[key] = t
    return sorted(out.values(), key=lambda t: t.number)


def _candidate(t: FrozenTrial) -> object:
    """What a retry would train again: the architecture (the trial itself when it failed
    before its architecture was known)."""
    return t.user_attrs.get(attrs.ARCH_ID) or ("trial", t.number)


def requeue_failed(study: optuna.Study, *, retry_failed: bool = False) -> list[int]:
    """Queue the failed trials `to_retry` chooses again (WAITING copies with the same
    parameters, run before any new proposal); their numbers."""
    failed = to_retry(study.get_trials(deepcopy=False), retry_failed=retry_failed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=None)
        for t in failed:
            retry(study, copy.deepcopy(t))  # the callback extends the trial's history in place
    return [t.number for t in failed]
