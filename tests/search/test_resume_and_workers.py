"""Real processes: a search killed mid-trial resumes; workers share one study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from nas.report import read_trials

from .conftest import TINY_BUDGET, cli, cli_env, needs_fmnist, write_proxy

pytestmark = [needs_fmnist, pytest.mark.slow]


# nas-search whose second candidate to train leaves a marker once its training started (the
# trial is RUNNING, in phase training), then waits to be killed; the first trains normally.
_HELD_SEARCH = """
import os, pathlib, sys, time
from nas.search.objective import Objective

real = Objective._run_seed
trained = []

def held(self, trial, cand, **kw):
    if trial.number not in trained:
        trained.append(trial.number)
    if len(trained) == 2:
        pathlib.Path(os.environ["HOLD_MARKER"]).write_text(str(trial.number))
        time.sleep(600)
    return real(self, trial, cand, **kw)

Objective._run_seed = held
from nas.cli.search import main
sys.exit(main(sys.argv[1:]))
"""


def wait_for_marker(marker, proc, *, limit=300.0):
    deadline = time.monotonic() + limit
    while not marker.exists():
        assert proc.poll() is None, "the search ended before its second candidate trained"
        assert time.monotonic() < deadline, "no candidate reached its training in time"
        time.sleep(0.05)
    return int(marker.read_text())


def test_a_search_killed_mid_trial_resumes_without_losing_or_repeating_trials(
    tiny_space, tmp_path
):
    proxy = write_proxy(tmp_path / "slow.yaml", epochs=12)
    out = tmp_path / "out"
    args = cli(
        "--space",
        str(tiny_space),
        "--budget",
        TINY_BUDGET,
        "--proxy",
        str(proxy),
        "--trials",
        "4",
        "--out",
        str(out),
        "--study-name",
        "killme",
        "--no-progress",
        "--device",
        "cpu",
    )
    script = tmp_path / "held_search.py"
    script.write_text(_HELD_SEARCH)
    marker = tmp_path / "training"
    proc = subprocess.Popen(
        [sys.executable, str(script), *args[3:]],
        env={**cli_env(), "HOLD_MARKER": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        busy = wait_for_marker(marker, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    storage = JournalStorage(JournalFileBackend(str(out / "study.journal")))
    trials = optuna.load_study(study_name="killme", storage=storage).trials
    assert trials[busy].state == TrialState.RUNNING
    assert trials[busy].user_attrs.get("phase") == "training"
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.user_attrs.get("trained")]
    assert done, "the first candidate trained to the end"
    finished = {
        t.number: (t.user_attrs["arch_id"], t.user_attrs["proxy_accuracy"], t.values) for t in done
    }

    subprocess.run(args, env=cli_env(), check=True, capture_output=True, timeout=300)
    df = read_trials(out / "trials.csv").set_index("number")
    for number, (arch_id, accuracy, _) in finished.items():  # completed trials intact
        assert df.loc[number, "state"] == "COMPLETE"
        assert df.loc[number, "arch_id"] == arch_id
        assert df.loc[number, "proxy_accuracy"] == accuracy
    killed = df.loc[busy]
    assert killed["state"] == "FAIL" and killed["failure"] == "process died (retried)"
    retry = df[df["retry_of"] == busy]
    assert len(retry) == 1 and retry.iloc[0]["arch_id"] == killed["arch_id"]
    assert retry.iloc[0]["state"] in ("COMPLETE", "PRUNED")  # trained again
    trained = df[
        df["trained"].astype(str).eq("True")
        & df["duplicate_of"].isna()
        & df["state"].isin(["COMPLETE", "PRUNED"])
    ]
    assert len(trained) == 4  # the requested total, the killed trial not counted
    assert not (df["state"] == "RUNNING").any()


def test_two_worker_processes_share_one_study(tiny_space, tmp_path):
    # Trials long enough that the second process (started after the first's set-up) joins in.
    proxy = write_proxy(tmp_path / "slow.yaml", epochs=12)
    out = tmp_path / "out"
    done = subprocess.run(
        cli(
            "--space",
            str(tiny_space),
            "--budget",
            TINY_BUDGET,
            "--proxy",
            str(proxy),
            "--trials",
            "8",
            "--out",
            str(out),
            "--workers",
            "2",
            "--no-progress",
            "--device",
            "cpu",
        ),
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    df = read_trials(out / "trials.csv")
    assert df["number"].is_unique
    assert df["worker"].nunique() == 2  # both processes ran trials
    trained = df[df["trained"].astype(str).eq("True") & df["duplicate_of"].isna()]
    assert 8 <= len(trained) <= 9  # the other worker may finish one trial past the total
    assert (out / "logs" / "worker-1.log").exists()
    assert not (df["state"] == "RUNNING").any()


# nas-search --workers 2 whose main process, once its worker started, writes the worker's pid
# to a marker and waits to be killed instead of searching.
_HELD_LEAD = """
import os, sys, time
import nas.search.runner as runner

real = runner.start_workers

def held(cfg, **kw):
    procs = real(cfg, **kw)
    with open(os.environ["HOLD_MARKER"] + ".tmp", "w") as f:
        f.write(" ".join(str(p.pid) for p in procs))
    os.replace(os.environ["HOLD_MARKER"] + ".tmp", os.environ["HOLD_MARKER"])
    time.sleep(600)

runner.start_workers = held
from nas.cli.search import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_search_takes_its_worker_processes_with_it(tiny_space, tmp_path):
    from .._core.test_orphans import alive, kill_all, wait_gone, wait_marker

    proxy = write_proxy(tmp_path / "slow.yaml", epochs=12)
    args = cli(
        "--space",
        str(tiny_space),
        "--budget",
        TINY_BUDGET,
        "--proxy",
        str(proxy),
        "--trials",
        "500",
        "--out",
        str(tmp_path / "out"),
        "--workers",
        "2",
        "--no-progress",
        "--device",
        "cpu",
    )  # fmt: skip: 500 trials keep an orphaned worker busy for minutes
    script, marker = tmp_path / "held_lead.py", tmp_path / "workers.pid"
    script.write_text(_HELD_LEAD)
    lead = subprocess.Popen(
        [sys.executable, str(script), *args[3:]],
        env={**cli_env(), "HOLD_MARKER": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        workers = [int(p) for p in wait_marker(marker, lead).split()]
    except BaseException:
        lead.kill()
        raise
    try:
        assert len(workers) == 1 and alive(workers[0])
        time.sleep(2.0)  # past the worker's start: it is searching, not still importing
        assert alive(workers[0])
        lead.kill()  # SIGKILL: no cleanup runs in the lead
        lead.wait()
        assert wait_gone(workers, seconds=20.0) == []
    finally:
        kill_all(workers)


POSTGRES_URL = os.environ.get("NAS_TEST_POSTGRES_URL")


@pytest.mark.skipif(
    not POSTGRES_URL and not os.environ.get("NAS_CI"),
    reason="no PostgreSQL: export NAS_TEST_POSTGRES_URL=$(bash "
    "scripts/start_postgres.sh) to run this test",
)
def test_processes_on_a_postgresql_storage_share_one_study(tiny_space, tmp_path):
    assert POSTGRES_URL, "NAS_CI is set but NAS_TEST_POSTGRES_URL is not: .ci/run starts it"
    proxy = write_proxy(tmp_path / "slow.yaml", epochs=8)
    name = f"pg-{uuid.uuid4().hex[:8]}"
    args = cli(
        "--space",
        str(tiny_space),
        "--budget",
        TINY_BUDGET,
        "--proxy",
        str(proxy),
        "--trials",
        "6",
        "--storage",
        POSTGRES_URL,
        "--study-name",
        name,
        "--no-progress",
        "--device",
        "cpu",
    )
    procs = [
        subprocess.Popen(
            [*args, "--out", str(tmp_path / f"out{k}")],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    try:
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        study = optuna.load_study(study_name=name, storage=POSTGRES_URL)  # a plain study
        workers = {t.user_attrs.get("worker") for t in study.trials}
        assert len(workers) == 2
        trained = [
            t
            for t in study.trials
            if t.user_attrs.get("trained")
            and t.user_attrs.get("duplicate_of") is None
            and t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        ]
        assert 6 <= len(trained) <= 7
        assert len({t.number for t in study.trials}) == len(study.trials)
        run_yaml = (tmp_path / "out0" / "run.yaml").read_text()
        assert "nas:***@" in run_yaml and "nas:nas@" not in run_yaml  # password masked
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        optuna.delete_study(study_name=name, storage=POSTGRES_URL)
