"""The evaluation engine: every request trained once, failures recorded, resumable after a
SIGKILL without losing or repeating a finished run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types

import pytest
import torch

from nas.evaluate import Fidelity, RunRecord, RunRequest, RunTable, run_all, train_run
from nas.evaluate.runs import DETERMINISTIC, TRANSIENT
from nas.evaluate.table import MAX_AUTO_RETRIES
from nas.train.proxy import ProxyResult, TrainingDiverged
from nas.train.proxy_config import ProxyConfig

from ..helpers import tiny_spec
from ..search.conftest import ROOT, cli_env, needs_fmnist

PROXY = ProxyConfig(
    "t",
    epochs=1,
    resolution=32,
    train_images=64,
    val_images=32,
    batch_size=32,
    warmup_epochs=0.0,
    eval_batch_size=32,
)


def requests(n_seeds: int = 2) -> list[RunRequest]:
    fid = Fidelity(PROXY)
    specs = [tiny_spec("conv", width=8), tiny_spec("attn", width=8)]
    return [
        RunRequest(s, fid, seed, label=f"{s.stages[1].mixers[0]}")
        for seed in range(n_seeds)
        for s in specs
    ]


@needs_fmnist
def test_every_request_runs_once_and_a_rerun_trains_nothing(tmp_path):
    table = RunTable(tmp_path / "runs.jsonl")
    first = run_all(requests(), table=table, progress=False)
    assert [r.status for r in first] == ["ok"] * 4
    assert all(0 <= r.accuracy <= 1 and len(r.curve) == 1 and r.seconds > 0 for r in first)
    assert len({(r.arch_id, r.seed) for r in first}) == 4
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()
    again = run_all(requests(), table=table, progress=False)
    assert (tmp_path / "runs.jsonl").read_text().splitlines() == lines  # nothing trained
    assert [r.to_dict() for r in again] == [r.to_dict() for r in first]


@needs_fmnist
def test_seeds_change_the_result_and_the_same_seed_repeats_it(tmp_path):
    reqs = requests()
    fid = reqs[0].fidelity
    from nas.evaluate import load_fidelity_data

    data = load_fidelity_data(fid)
    a, b = (train_run(r, data) for r in (reqs[0], reqs[2]))  # conv, seeds 0 and 1
    again = train_run(reqs[0], data)
    assert a.curve == again.curve
    assert a.curve != b.curve


def test_a_failing_architecture_is_recorded_and_the_batch_goes_on(tmp_path, monkeypatch):
    import nas.evaluate.runs as runs

    def explode(spec, **kw):
        if spec.stages[1].mixers[0] == "attn":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
        return real(spec, **kw)

    real = runs.train_once
    monkeypatch.setattr(runs, "train_once", explode)
    monkeypatch.setattr("nas.evaluate.engine.DataCache.get", lambda self, r: _blobs())
    records = run_all(requests(1), table=RunTable(tmp_path / "r.jsonl"), progress=False)
    assert [r.status for r in records] == ["ok", "failed"]
    assert records[1].failure.startswith("out of memory")
    assert records[1].accuracy is None and records[1].flops > 0


class StubRuns:
    """Stands in for `train_once`: raises the errors queued for a mixer, one per run (the
    last one for every run after; None: no error), else returns a result; records the mixer
    of every run."""

    def __init__(self, monkeypatch, errors):
        self.errors, self.calls = errors, []
        monkeypatch.setattr("nas.evaluate.runs.train_once", self)
        cpu = types.SimpleNamespace(device=torch.device("cpu"))
        monkeypatch.setattr("nas.evaluate.engine.DataCache.get", lambda self, r: cpu)

    def __call__(self, spec, **kw):
        mixer = spec.stages[1].mixers[0]
        self.calls.append(mixer)
        queued = self.errors.get(mixer) or [None]
        error = queued.pop(0) if len(queued) > 1 else queued[0]  # the last one stays
        if error is not None:
            raise error
        return ProxyResult(0.5, curve=[0.5], seconds=0.01, resolution=32)


def test_an_out_of_memory_run_is_tried_again_on_resume_a_nan_loss_only_when_asked(
    tmp_path, monkeypatch
):
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
    runs = StubRuns(monkeypatch, {"conv": [oom, None], "attn": [TrainingDiverged("nan")]})
    table = RunTable(tmp_path / "r.jsonl")
    first = run_all(requests(1), table=table, progress=False)
    assert [(r.status, r.failure_kind) for r in first] == [
        ("failed", TRANSIENT),
        ("failed", DETERMINISTIC),
    ]
    runs.errors["attn"] = [None]  # it would pass now: only --retry-failed tries it
    again = run_all(requests(1), table=table, progress=False)
    assert [r.status for r in again] == ["ok", "failed"] and runs.calls == ["conv", "attn", "conv"]
    assert again[1].failure.startswith("NaN loss")
    last = run_all(requests(1), table=table, progress=False, retry_failed=True)
    assert [r.status for r in last] == ["ok", "ok"] and runs.calls[3:] == ["attn"]
    assert len(table.path.read_text().splitlines()) == 4  # the failed tries stay in the file
    assert table.frame()["failure_kind"].isna().all()  # the table's records are the ok ones


def test_a_run_that_keeps_running_out_of_memory_is_tried_a_bounded_number_of_times(
    tmp_path, monkeypatch
):
    oom = torch.OutOfMemoryError("CUDA out of memory")
    runs = StubRuns(monkeypatch, {"conv": [oom]})  # always
    table = RunTable(tmp_path / "r.jsonl")
    for _ in range(MAX_AUTO_RETRIES + 2):
        records = run_all(requests(1), table=table, progress=False)
    assert runs.calls.count("conv") == 1 + MAX_AUTO_RETRIES and runs.calls.count("attn") == 1
    assert records[0].status == "failed" and records[0].failure.startswith("out of memory")
    run_all(requests(1), table=table, progress=False, retry_failed=True)
    assert runs.calls.count("conv") == 2 + MAX_AUTO_RETRIES


def test_a_record_from_before_failure_kinds_is_judged_by_its_reason(tmp_path):
    table = RunTable(tmp_path / "r.jsonl")
    for arch, failure in (("a", "out of memory: x"), ("b", "RuntimeError: shapes")):
        table.append(
            RunRecord(
                arch_id=arch * 10,
                fidelity="t",
                fidelity_id="f" * 8,
                seed=0,
                status="failed",
                failure=failure,
            )
        )
    assert table.to_retry() == {("a" * 10, "f" * 8, 0)}
    assert len(table.to_retry(retry_failed=True)) == 2


def test_a_torn_last_line_is_ignored_and_the_next_append_starts_fresh(tmp_path):
    table = RunTable(tmp_path / "runs.jsonl")
    rec = RunRecord(
        arch_id="a" * 10, fidelity="t", fidelity_id="f" * 8, seed=0, status="ok", accuracy=0.5
    )
    table.append(rec)
    with open(table.path, "a") as f:
        f.write('{"arch_id": "bbbbbbbbbb", "fidel')  # a writer killed mid-line
    assert [r.key for r in table.records()] == [rec.key]
    table.append(
        RunRecord(
            arch_id="c" * 10, fidelity="t", fidelity_id="f" * 8, seed=0, status="ok", accuracy=0.7
        )
    )
    assert [r.arch_id for r in table.records()] == ["a" * 10, "c" * 10]


_SCRIPT = """
import os, pathlib, sys, time
import nas.evaluate.runs as runs
from tests.evaluate.test_engine import requests
from nas.evaluate import RunTable, run_all

# With HOLD_DIR set, every run of seed 1 leaves a marker there once it started, then waits to
# be killed. At module level: the pool's spawned workers run it too.
HOLD = os.environ.get("HOLD_DIR")
if HOLD:
    real = runs.train_once

    def held(spec, *, seed, **kw):
        if seed == 1:
            pathlib.Path(HOLD, f"{spec.arch_id}-{seed}").touch()
            time.sleep(600)
        return real(spec, seed=seed, **kw)

    runs.train_once = held

if __name__ == "__main__":
    run_all(requests(3), table=RunTable(sys.argv[1]), workers=int(sys.argv[2]),
            progress=False)
"""


def wait_for(condition, *, proc, limit=300.0):
    """Until `condition()` holds, while `proc` runs (a marker the process leaves)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert proc.poll() is None, "the process ended before it left its marker"
        assert time.monotonic() < deadline, "no marker in time"
        time.sleep(0.05)


@needs_fmnist
@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_loses_only_the_runs_in_flight(tmp_path, workers):
    script = tmp_path / "batch.py"
    script.write_text(_SCRIPT)
    path = tmp_path / "runs.jsonl"
    hold = tmp_path / "started"
    hold.mkdir()
    cmd = [sys.executable, str(script), str(path), str(workers)]
    env = {**cli_env(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**env, "HOLD_DIR": str(hold)}, start_new_session=True
    )
    try:
        # the two runs of seed 0 finished, one of seed 1 started (and waits): mid-batch
        wait_for(
            lambda: (
                any(hold.iterdir()) and path.exists() and len(path.read_text().splitlines()) == 2
            ),
            proc=proc,
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch and its workers, mid-run
        proc.wait()
    before = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["seed"] for r in before] == [0, 0]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, timeout=600)
    after = [json.loads(line) for line in path.read_text().splitlines()]
    keys = [(r["arch_id"], r["fidelity_id"], r["seed"]) for r in after]
    assert len(keys) == len(set(keys)) == 6  # every run once: none lost, none repeated
    assert after[: len(before)] == before  # finished runs kept as they were


def _blobs():
    from ..train.test_proxy import blobs

    data = blobs()
    data.num_classes = 10  # the specs have 10 classes; labels 0-3 fit
    return data


def test_progress_lines_are_nas_log_lines_on_stderr(capsys):
    """Without a terminal the engine's progress is `nas.evaluate` log lines: the commands show
    them on stderr (`log_to_stderr`), stdout stays the command's own."""
    from nas._log import log_to_stderr
    from nas.evaluate.engine import RunProgress

    log_to_stderr()
    RunProgress(label="calibration", total=4, already=2, enabled=True).close()
    out, err = capsys.readouterr()
    assert out == "" and "calibration: 2/4 runs already in the table\n" in err
