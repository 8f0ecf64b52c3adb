"""Where a study lives, and how trials of killed processes are failed and retried.

- A file path: Optuna's journal file storage (`JournalStorage(JournalFileBackend(path))`), safe
  for several processes on one machine (SQLite locks up under concurrent writers). The default,
  `<out>/study.journal`.
- An RDB URL (`postgresql+psycopg2://user:pw@host/db`, `sqlite:///file.db`): `RDBStorage`, for
  workers on many machines.

Both run Optuna's heartbeat: a RUNNING trial whose process stopped beating is failed by the next
trial start of any worker (`fail_stale_trials`, called by `Study.optimize`) and re-queued with
the same parameters (`RetryHeartbeatStaleTrialCallback`). Optuna's journal storage has no
heartbeat of its own, so `HeartbeatJournalStorage` adds one: a system attribute per trial, plus
a check that recognises a dead process on this host at once instead of after the grace period.
The file stays a plain Optuna journal: `optuna-dashboard` and the `optuna` CLI read it as is.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback

# The interface Study.optimize drives; Optuna exports no public name for it (its docs point
# storage authors to this class), and it is what RDBStorage itself implements.
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from nas._core.schema import create_racing
from nas._core.urls import cannot_open, is_url
from nas._core.urls import mask_url as mask_url  # the search's callers import it from here
from nas.report import StudyFolder
from nas.space import ConfigError

HEARTBEAT_KEY = "nas:heartbeat"  # [trial_id, host, pid, unix time]
HEARTBEAT_INTERVAL = 30  # s between beats of a running trial
GRACE_PERIOD = 90  # s without a beat after which a trial on another host counts as dead
MAX_RETRY = 2  # re-queues of one candidate whose process died

StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """Optuna's journal storage with Optuna's heartbeat protocol."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        heartbeat_interval: int = HEARTBEAT_INTERVAL,
        grace_period: int = GRACE_PERIOD,
        stale_callback: StaleCallback | None = None,
    ):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(JournalFileBackend(str(path)))
        self.path = str(path)
        self._interval = heartbeat_interval
        self._grace = grace_period
        self._stale_callback = stale_callback

    def record_heartbeat(self, trial_id: int) -> None:
        beat = [trial_id, socket.gethostname(), os.getpid(), time.time()]
        self.set_trial_system_attr(trial_id, HEARTBEAT_KEY, beat)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        ids = [self.get_trial_id_from_study_id_trial_number(study_id, t.number) for t in running]
        return [i for t, i in zip(running, ids) if self._is_stale(t, i)]

    def _is_stale(self, trial: FrozenTrial, trial_id: int) -> bool:
        beat = trial.system_attrs.get(HEARTBEAT_KEY)
        if not beat or beat[0] != trial_id:  # not started beating (or a retry's copy)
            started = trial.datetime_start or datetime.datetime.now()
            return (datetime.datetime.now() - started).total_seconds() > self._grace
        _, host, pid, when = beat
        if host == socket.gethostname() and not _alive(pid):
            return True
        return time.time() - when > self._grace

    def get_heartbeat_interval(self) -> int | None:
        return self._interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return self._stale_callback


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_storage(
    storage: str,
    *,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    grace_period: int = GRACE_PERIOD,
    max_retry: int | None = MAX_RETRY,
) -> optuna.storages.BaseStorage:
    """A journal file path or an RDB URL -> an Optuna storage with heartbeat and retry."""
    with warnings.catch_warnings():  # Optuna marks heartbeat and retries "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _open(
            storage,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            max_retry=max_retry,
        )


def _open(
    storage: str, *, heartbeat_interval: int, grace_period: int, max_retry: int | None
) -> optuna.storages.BaseStorage:
    retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
    if not is_url(storage):
        if Path(storage).is_dir():
            raise ConfigError(
                f"{storage} is a folder; give a journal file path (e.g. "
                f"{StudyFolder(storage).journal})",
                field="--storage",
            )
        try:
            return HeartbeatJournalStorage(
                storage,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                stale_callback=retry,
            )
        except OSError as e:  # a folder that cannot be made, a read-only file system...
            raise ConfigError(
                f"cannot create the journal file {storage}: {e.strerror or e}", field="--storage"
            ) from None
    if storage.startswith("redis"):
        raise ConfigError(
            "Redis storages are not supported; use a PostgreSQL URL or a journal file path",
            field="--storage",
        )
    try:  # workers started together on a fresh database all create Optuna's tables
        return create_racing(
            lambda: RDBStorage(
                storage,
                engine_kwargs={"pool_pre_ping": True},
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=retry,
            )
        )
    except Exception as e:  # a missing driver, sqlalchemy's OperationalError and kin
        raise cannot_open(storage, e) from None
