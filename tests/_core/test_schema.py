"""Workers started together on a fresh database all open it (the CI failure of stop 35: two
`nas-search` processes on a new PostgreSQL database, one refused with a unique violation)."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import IntegrityError, OperationalError

from nas._core import schema
from nas._core.schema import create_racing
from nas.evaluate.sql_store import SqlStore
from nas.search.storage import open_storage

POSTGRES_URL = os.environ.get("NAS_TEST_POSTGRES_URL")
WORKERS, ROUNDS = 4, 3


def test_a_lost_race_is_tried_again_and_other_errors_are_not(monkeypatch):
    monkeypatch.setattr(schema, "PAUSE_S", 0.0)
    calls = []

    def loses_twice() -> str:
        calls.append(1)
        if len(calls) <= 2:
            raise IntegrityError("CREATE TABLE", {}, Exception("duplicate key value"))
        return "opened"

    assert create_racing(loses_twice) == "opened" and len(calls) == 3

    def always_loses() -> None:
        raise IntegrityError("CREATE TABLE", {}, Exception("duplicate key value"))

    with pytest.raises(IntegrityError):
        create_racing(always_loses, attempts=3)
    calls.clear()

    def no_server() -> None:
        calls.append(1)
        raise OperationalError("connect", {}, Exception("connection refused"))

    with pytest.raises(OperationalError):
        create_racing(no_server)
    assert len(calls) == 1  # a server that does not answer is not waited on


def _warm_up(_: int) -> None:
    """Long enough that each pool worker takes one: its first task imports this module (and
    the stores) before the race's clock runs."""
    time.sleep(0.5)


def _open_both_at(url: str, start: float) -> str:
    time.sleep(max(0.0, start - time.time()))
    try:
        open_storage(url)
        SqlStore(url, name="runs")
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return "ok"


@pytest.mark.skipif(
    not POSTGRES_URL and not os.environ.get("NAS_CI"),
    reason="no PostgreSQL: export NAS_TEST_POSTGRES_URL=$(bash scripts/start_postgres.sh) to "
    "run this test",
)
def test_workers_opening_a_fresh_postgresql_database_at_once_all_open_it():
    assert POSTGRES_URL, "NAS_CI is set but NAS_TEST_POSTGRES_URL is not: .ci/run starts it"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with mp.get_context("spawn").Pool(WORKERS) as pool:
        pool.map(_warm_up, range(WORKERS), chunksize=1)
        for _ in range(ROUNDS):
            name = f"nas_fresh_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {name}"))
            url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
            try:
                start = time.time() + 1.0
                assert pool.starmap(_open_both_at, [(url, start)] * WORKERS) == ["ok"] * WORKERS
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()
