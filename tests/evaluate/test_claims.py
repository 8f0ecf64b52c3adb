"""Two batches on one run table share its runs (issue 21, point 6.4): each run is claimed
before it is trained, a run a live batch holds is left to it (and waited for), and the claim
of a dead batch is taken over."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import torch

from nas.evaluate import RunRecord, RunRequest, RunTable, run_all
from nas.evaluate import claims as C
from nas.evaluate.runs import blank_record

from .test_engine import requests


class FakeTraining:
    """Stands in for train_run: records which thread trained what, and can hold one run
    until another thread has trained one."""

    def __init__(self, hold: tuple | None = None):
        self.trained: list[tuple[str, tuple]] = []  # (thread name, key)
        self.hold = hold
        self.holding = threading.Event()  # the held run's training started
        self.go = threading.Event()  # ... and may finish
        self.lock = threading.Lock()

    def __call__(self, request: RunRequest, data: object, **kw: object) -> RunRecord:
        me = threading.current_thread().name
        if request.key == self.hold:
            self.holder = me
            self.holding.set()
            assert self.go.wait(60), "the held run was never let go"
        with self.lock:
            self.trained.append((me, request.key))
        if self.holding.is_set() and me != self.holder:
            self.go.set()
        record = blank_record(request, device=torch.device("cpu"))
        record.status, record.accuracy = "ok", 0.5
        return record

    def by(self, name: str) -> list[tuple]:
        return [k for n, k in self.trained if n == name]


@pytest.fixture
def fake(monkeypatch):
    def install(**kw) -> FakeTraining:
        training = FakeTraining(**kw)
        monkeypatch.setattr("nas.evaluate.engine.train_run", training)
        monkeypatch.setattr("nas.evaluate.engine.DataCache.get", lambda self, r: None)
        monkeypatch.setattr(C, "POLL_S", 0.02)
        return training

    return install


def test_a_second_batch_skips_the_run_a_live_batch_holds_and_trains_the_rest(tmp_path, fake):
    reqs = requests(3)  # 6 runs
    table = RunTable(tmp_path / "runs.jsonl")
    training = fake(hold=reqs[0].key)
    results: dict[str, list] = {}

    def batch(name: str) -> None:
        results[name] = run_all(reqs, table=table, progress=False)

    first = threading.Thread(target=batch, args=("first",), name="first")
    first.start()
    assert training.holding.wait(60)  # the first batch has claimed run 0 and trains it
    second = threading.Thread(target=batch, args=("second",), name="second")
    second.start()  # trains the others; its first lets the first batch's run 0 finish
    for thread in (first, second):
        thread.join(60)
        assert not thread.is_alive()

    counts = Counter(k for _, k in training.trained)
    assert counts == Counter(r.key for r in reqs)  # every run trained once, by one batch
    assert training.by("first")[0] == reqs[0].key and reqs[0].key not in training.by("second")
    assert training.by("second")  # the second did not just wait
    lines = table.path.read_text().splitlines()
    assert len(lines) == len(reqs)
    for name in ("first", "second"):  # both return every record
        assert [r.key for r in results[name]] == [r.key for r in reqs]
    assert not (tmp_path / "runs.jsonl.claims").exists()  # every claim released


def _holder() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def test_the_claim_of_a_dead_batch_is_taken_over_at_once(tmp_path, fake):
    reqs = requests(1)
    table = RunTable(tmp_path / "runs.jsonl")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    C.Claims(table, pid=gone.pid).take(reqs[1].key)  # a batch killed while training run 1
    training = fake()
    records = run_all(reqs, table=table, progress=False)
    assert [r.status for r in records] == ["ok"] * len(reqs)
    assert Counter(k for _, k in training.trained) == Counter(r.key for r in reqs)
    assert not (tmp_path / "runs.jsonl.claims").exists()


def test_a_batch_waits_for_a_live_holder_and_takes_over_when_it_dies(tmp_path, fake):
    reqs = requests(2)
    table = RunTable(tmp_path / "runs.jsonl")
    holder = _holder()
    try:
        C.Claims(table, pid=holder.pid).take(reqs[0].key)  # another live batch trains run 0
        training = fake()
        others = {r.key for r in reqs[1:]}
        done = threading.Event()
        records: list = []
        batch = threading.Thread(
            target=lambda: (records.extend(run_all(reqs, table=table, progress=False)), done.set())
        )
        batch.start()
        deadline = time.monotonic() + 60
        while {k for _, k in training.trained} != others:  # the rest, then it waits
            assert time.monotonic() < deadline and batch.is_alive()
            time.sleep(0.01)
        assert not done.is_set() and reqs[0].key not in {k for _, k in training.trained}
        holder.kill()
        holder.wait()
        batch.join(60)
        assert done.is_set()
    finally:
        holder.kill()
        holder.wait()
    assert [k for _, k in training.trained][-1] == reqs[0].key
    assert Counter(k for _, k in training.trained) == Counter(r.key for r in reqs)
    assert [r.key for r in records] == [r.key for r in reqs]


def test_a_run_recorded_by_another_batch_after_this_one_read_the_table_is_not_trained(
    tmp_path, fake
):
    reqs = requests(1)
    table = RunTable(tmp_path / "runs.jsonl")
    training = fake()
    claims = C.Claims(table)  # this batch read the table (empty) ...
    other = blank_record(reqs[0], device=torch.device("cpu"))
    other.status = "ok"
    table.append(other)  # ... then another batch recorded run 0
    assert claims.take(reqs[0].key) == "done"
    assert claims.take(reqs[1].key) == "mine"
    claims.release(reqs[1].key)
    records = run_all(reqs, table=table, progress=False)
    assert reqs[0].key not in {k for _, k in training.trained}
    assert [r.key for r in records] == [r.key for r in reqs]


def test_staleness_is_a_dead_pid_here_or_an_old_heartbeat_anywhere():
    here, now = socket.gethostname(), time.time()
    holder = _holder()
    try:
        live = {"host": here, "pid": holder.pid, "time": now}
        assert not C.is_stale(live, now=now)
        assert C.is_stale(live, now=now + C.GRACE_S + 1)  # alive but silent: a reused pid
        other = {"host": here + "-elsewhere", "pid": 1, "time": now}
        assert not C.is_stale(other, now=now + C.GRACE_S - 1)
        assert C.is_stale(other, now=now + C.GRACE_S + 1)
    finally:
        holder.kill()
        holder.wait()
    assert C.is_stale({"host": here, "pid": holder.pid, "time": now}, now=now)


def test_the_heartbeat_refreshes_only_this_batch_s_claims(tmp_path):
    table = RunTable(tmp_path / "runs.jsonl")
    mine, theirs = C.Claims(table), C.Claims(table, pid=1, host="elsewhere")
    assert mine.take(("a", "f", 0)) == "mine" and theirs.take(("b", "f", 0)) == "mine"
    before = mine._read()
    time.sleep(0.01)  # a later time.time(), not a timing assertion
    mine.beat()
    after = mine._read()
    assert after["a|f|0"]["time"] > before["a|f|0"]["time"]
    assert after["b|f|0"] == before["b|f|0"]
    assert mine.take(("b", "f", 0)) == "held"
