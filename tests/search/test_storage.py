"""Storages: the journal file's heartbeat fails and re-queues trials of dead processes."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import optuna
import pytest
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState

from nas.search.results import trial_row
from nas.search.storage import (
    HEARTBEAT_KEY,
    HeartbeatJournalStorage,
    mask_url,
    open_storage,
)
from nas.space import ConfigError

pytestmark = [
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
    pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning"),
]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def study_with_running_trial(path, beat):
    storage = open_storage(str(path))
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    trial.suggest_int("x", 0, 9)
    if beat is not None:
        storage.set_trial_system_attr(trial._trial_id, HEARTBEAT_KEY, [trial._trial_id, *beat])
    return study, trial


def test_a_trial_of_a_dead_process_on_this_host_is_failed_and_requeued(tmp_path):
    import socket

    study, trial = study_with_running_trial(
        tmp_path / "j.journal", [socket.gethostname(), dead_pid(), time.time()]
    )
    fail_stale_trials(study)
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL
    retry = trials[1]
    assert retry.state == TrialState.WAITING and retry.params == trials[0].params
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(retry) == trial.number
    assert trial_row(retry)["retry_of"] == trial.number


def test_a_live_trial_is_left_alone_until_its_heartbeat_is_older_than_the_grace_period(tmp_path):
    now = time.time()
    study, _ = study_with_running_trial(tmp_path / "a.journal", ["other-host", 1, now])
    fail_stale_trials(study)
    assert study.get_trials()[0].state == TrialState.RUNNING
    study, _ = study_with_running_trial(tmp_path / "b.journal", ["other-host", 1, now - 1000])
    fail_stale_trials(study)
    assert study.get_trials()[0].state == TrialState.FAIL


def test_the_heartbeat_is_recorded_for_the_running_trial(tmp_path):
    storage = HeartbeatJournalStorage(tmp_path / "h.journal")
    study = optuna.create_study(storage=storage)
    trial = study.ask()
    storage.record_heartbeat(trial._trial_id)
    beat = study.get_trials()[0].system_attrs[HEARTBEAT_KEY]
    assert beat[0] == trial._trial_id and abs(beat[3] - time.time()) < 60
    assert not storage._is_stale(study.get_trials()[0], trial._trial_id)


def test_database_urls_open_rdb_storages_with_heartbeat(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 'x.db'}")
    assert isinstance(storage, RDBStorage) and storage.get_heartbeat_interval() > 0
    with pytest.raises(ConfigError, match="--storage: Redis storages are not supported"):
        open_storage("redis://localhost:6379")
    with pytest.raises(ConfigError, match=r"--storage: cannot open postgresql://nas:\*\*\*@"):
        open_storage("postgresql://nas:secret@127.0.0.1:1/none")


def test_passwords_are_masked():
    assert (
        mask_url("postgresql+psycopg2://nas:pw@h:5432/db")
        == "postgresql+psycopg2://nas:***@h:5432/db"
    )
    assert mask_url("results/x/study.journal") == "results/x/study.journal"


def test_a_journal_path_that_cannot_be_created_is_one_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = blocker / "study.journal"  # its folder would have to be inside a file
    with pytest.raises(
        ConfigError, match=re.escape(f"--storage: cannot create the journal file {path}: ")
    ):
        open_storage(str(path))
    with pytest.raises(ConfigError, match="is a folder; give a journal file path"):
        open_storage(str(tmp_path))
