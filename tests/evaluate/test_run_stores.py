"""A run table and its claims behave alike in a file and in a database (issue 21, point 6):
records in the order written, the first `ok` one per key wins, failed runs are tried again
within bounds, claims are taken, held and taken over from a dead owner, tables of one database
do not mix. Every test runs on each store: the file, SQLite, and PostgreSQL where
NAS_TEST_POSTGRES_URL names one (under NAS_CI a missing one fails)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections import Counter

import pytest
import torch

from nas._core import ConfigError
from nas.evaluate import RunRecord, RunTable, run_all
from nas.evaluate import claims as C
from nas.evaluate.runs import DETERMINISTIC, TRANSIENT, blank_record
from nas.evaluate.store import open_store
from nas.evaluate.table import MAX_AUTO_RETRIES

from .test_engine import requests

POSTGRES_URL = os.environ.get("NAS_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL and not os.environ.get("NAS_CI"),
    reason="no PostgreSQL: export NAS_TEST_POSTGRES_URL=$(bash scripts/start_postgres.sh) to "
    "run this test",
)


@pytest.fixture(params=["file", "sqlite", pytest.param("postgresql", marks=needs_postgres)])
def open_table(request, tmp_path):
    """name -> that run table in this test's store; two calls with one name are two machines
    (or processes) on one table."""
    if request.param == "postgresql":
        assert POSTGRES_URL, "NAS_CI is set but NAS_TEST_POSTGRES_URL is not: .ci/run starts it"
    url = {"sqlite": f"sqlite:///{tmp_path / 'runs.db'}", "postgresql": POSTGRES_URL}.get(
        request.param
    )
    prefix = f"test/{uuid.uuid4().hex[:8]}"  # fresh names in a database other runs share

    def make(name: str = "t") -> RunTable:
        return RunTable(
            open_store(tmp_path / f"{name}.jsonl", storage=url, name=f"{prefix}/{name}")
        )

    return make


def record(arch: str, *, status: str = "ok", failure: str | None = None, acc: float = 0.5):
    return RunRecord(
        arch_id=arch * 10,
        fidelity="t",
        fidelity_id="f" * 8,
        seed=0,
        status=status,
        accuracy=acc if status == "ok" else None,
        failure=failure,
        failure_kind=None if status == "ok" else TRANSIENT,
    )


def key(arch: str) -> tuple[str, str, int]:
    return (arch * 10, "f" * 8, 0)


def test_records_keep_their_order_and_the_first_ok_one_wins(open_table):
    table = open_table()
    assert table.records() == [] and table.keys() == set()
    for r in (
        record("a", status="failed", failure="out of memory: x"),
        record("b", acc=0.6),
        record("a", acc=0.7),
        record("a", acc=0.1),  # written after an ok one (a second batch): not the record
    ):
        table.append(r)
    assert [(r.arch_id[0], r.accuracy) for r in table.records()] == [("a", 0.7), ("b", 0.6)]
    assert table.keys() == {key("a"), key("b")} and table.to_retry() == set()
    assert open_table().records() == table.records()  # another machine reads the same


def test_failed_runs_are_tried_again_within_bounds(open_table):
    table = open_table()
    deterministic = record("d", status="failed", failure="NaN loss")
    deterministic.failure_kind = DETERMINISTIC
    table.append(deterministic)
    for tries in range(1, MAX_AUTO_RETRIES + 2):
        table.append(record("o", status="failed", failure="out of memory: x"))
        expected = {key("o")} if tries <= MAX_AUTO_RETRIES else set()
        assert table.to_retry() == expected
    assert table.to_retry(retry_failed=True) == {key("o"), key("d")}


def test_two_tables_in_one_store_do_not_mix(open_table):
    a, b = open_table("a"), open_table("b")
    a.append(record("x"))
    assert b.records() == [] and [r.key for r in a.records()] == [key("x")]
    assert C.Claims(a).take(key("y")) == "mine"
    assert C.Claims(b)._read() == {} and C.Claims(b).take(key("y")) == "mine"


def test_claims_are_held_released_and_taken_over_from_a_dead_owner(open_table):
    table = open_table()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert C.Claims(table, pid=gone.pid).take(key("a")) == "mine"  # a batch killed mid-run
    assert C.Claims(open_table(), host="elsewhere", pid=1).take(key("b")) == "mine"
    mine = C.Claims(table)
    assert mine.take(key("a")) == "mine"  # taken over at once: its pid is gone on this host
    assert mine.take(key("b")) == "held" and mine.holders([key("b")]) == ["elsewhere:1"]
    mine.release(key("a"))
    assert set(mine._read()) == {"b" * 10 + "|" + "f" * 8 + "|0"}
    open_table().append(record("c"))  # another machine recorded run c after this one read
    assert mine.take(key("c")) == "done"


def test_the_heartbeat_refreshes_only_this_batch_s_claims(open_table):
    mine, theirs = C.Claims(open_table()), C.Claims(open_table(), pid=1, host="elsewhere")
    assert mine.take(key("a")) == "mine" and theirs.take(key("b")) == "mine"
    before = mine._read()
    mine.beat()
    after = mine._read()
    assert after[_name("a")]["time"] >= before[_name("a")]["time"]
    assert after[_name("b")] == before[_name("b")]
    with mine:  # closing releases this batch's claims, not the others'
        pass
    assert set(mine._read()) == {_name("b")}


def _name(arch: str) -> str:
    return "|".join(map(str, key(arch)))


def test_batches_racing_for_the_same_runs_train_each_once(open_table):
    """Threads with a table each (their own connections, as machines) claim the same runs:
    each run is claimed by one, and every line and claim lands."""
    n, runs = 4, 12
    keys = [(f"r{i}" * 5, "f" * 8, 0) for i in range(runs)]
    batches = [(open_table(), C.Claims(open_table())) for _ in range(n)]  # all read it empty
    won: list = []

    def batch(table: RunTable, claims: C.Claims) -> None:
        for k in keys:
            if claims.take(k) == "mine":
                won.append(k)
                r = record("x")
                r.arch_id = k[0]
                table.append(r)
                claims.release(k)

    threads = [threading.Thread(target=batch, args=b) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(won) == sorted(keys)  # each run claimed (trained) by one batch only
    table = open_table()
    assert len(table.store.read().lines) == runs and table.keys() == set(keys)
    assert table.store.read(table.store.read().end).lines == []  # the cursor is the end
    assert C.Claims(table)._read() == {}


def test_a_batch_on_a_store_resumes_and_a_second_machine_trains_nothing(open_table, monkeypatch):
    trained: list = []

    def fake(request, data, **kw):
        trained.append(request.key)
        r = blank_record(request, device=torch.device("cpu"))
        r.status, r.accuracy = "ok", 0.5
        return r

    monkeypatch.setattr("nas.evaluate.engine.train_run", fake)
    monkeypatch.setattr("nas.evaluate.engine.DataCache.get", lambda self, r: None)
    reqs = requests(2)
    first = run_all(reqs, table=open_table(), progress=False)
    again = run_all(reqs, table=open_table(), progress=False)
    assert Counter(trained) == Counter(r.key for r in reqs)  # each once, none again
    assert [r.to_dict() for r in again] == [r.to_dict() for r in first]
    assert C.Claims(open_table())._read() == {}


@pytest.mark.parametrize(
    "url, says",
    [
        ("results/runs.db", "expected a URL such as postgresql+psycopg2://"),
        ("nosuch://host/db", "Can't load plugin: sqlalchemy.dialects:nosuch; expected a URL"),
        ("postgresql://nas:secret@127.0.0.1:notaport/db", "expected a URL such as"),
        ("postgresql+psycopg2://nas:secret@127.0.0.1:1/none", "Connection refused"),
    ],
)
def test_a_storage_that_cannot_be_opened_is_one_line_naming_it(tmp_path, url, says):
    with pytest.raises(ConfigError) as e:
        open_store(tmp_path / "runs.jsonl", storage=url, name="compare/x")
    text = str(e.value)
    assert text.startswith("--storage: ") and says in text and "\n" not in text
    assert "secret" not in text  # the password is hidden


def test_a_missing_driver_names_its_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg2", None)  # `import psycopg2` fails
    with pytest.raises(ConfigError, match=r"pip install psycopg2-binary"):
        open_store(tmp_path, storage="postgresql+psycopg2://nas:pw@127.0.0.1/db", name="x")


def test_a_table_adopts_the_runs_it_lacks_and_their_successes(open_table):
    """Published runs carried into a new machine's table: what it has stays, a key it lacks
    is added, an ok run replaces its failed tries, and carrying twice adds nothing."""
    mine = open_table("mine")
    mine.append(record("a", acc=0.7))
    mine.append(record("b", status="failed", failure="out of memory: x"))
    published = [record("a", acc=0.1), record("b", acc=0.6), record("c", acc=0.5)]
    assert mine.adopt(published) == 2
    assert {r.arch_id[0]: r.accuracy for r in mine.records()} == {"a": 0.7, "b": 0.6, "c": 0.5}
    assert mine.adopt(published) == 0
    assert open_table("mine").to_retry() == set()
