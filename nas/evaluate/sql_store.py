"""A run table in a database (`--storage URL`: PostgreSQL for several machines, SQLite on one),
so that the machines of a cluster share one calibration or comparison.

Two tables hold every run table of a database, told apart by name: `nas_run_tables`, one row
per run table (its name and its claims document), and `nas_runs`, one row per record line with
an autoincrement id that is the order written. The name's row is the lock: a transaction that
selects it `FOR UPDATE` holds it until it ends. SQLite has no row locks: there every
transaction begins with `BEGIN IMMEDIATE`, which takes the database's write lock (waiting up to
SQLITE_BUSY_S for it), so writers take turns; a deferred one would fail at once when two that
had read both wanted to write. Lines are
appended under the lock, so ids are committed in order and a reader's cursor (the last id it
read) never passes over a line committed later. A machine that dies inside a block loses the
lock with its connection; on PostgreSQL a connection silent inside a transaction for
IDLE_IN_TRANSACTION_S is ended by the server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from nas._core import ConfigError
from nas._core.schema import create_racing
from nas._core.urls import cannot_open, mask_url

from .store import Chunk, StorageError

NAME_LENGTH = 255  # characters of a run table's name
SQLITE_BUSY_S = 120.0  # s a SQLite writer waits for another's transaction before failing
CONNECT_TIMEOUT_S = 10  # s to reach a PostgreSQL server before `--storage` is reported
IDLE_IN_TRANSACTION_S = 60  # s after which PostgreSQL ends a lock holder that went silent

METADATA = MetaData()
TABLES = Table(
    "nas_run_tables",
    METADATA,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("claims", Text, nullable=False),
)
RUNS = Table(
    "nas_runs",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_table", String(NAME_LENGTH), ForeignKey(TABLES.c.name), nullable=False),
    Column("line", Text, nullable=False),
    Index("ix_nas_runs_run_table_id", "run_table", "id"),
    sqlite_autoincrement=True,  # ids never reused, as PostgreSQL's sequences
)


class SqlStore:
    """The run table `name` in the database at `url` (tables created if missing)."""

    def __init__(self, url: str, *, name: str):
        if not name or len(name) > NAME_LENGTH:
            raise ConfigError(
                f"a run table's name must have 1 to {NAME_LENGTH} characters, got {name!r}",
                field="--storage",
            )
        self.url, self.name = url, name
        self.where = f"table {name!r} in {mask_url(url)}"
        self._held = threading.local()  # the connection of this thread's `locked` block
        try:
            self.engine = _engine(url)
            _create_tables(self.engine)
            self._add_name()
        except Exception as e:  # a bad URL, no server, no driver: one line naming --storage
            raise cannot_open(url, e) from None

    def _add_name(self) -> None:
        try:
            with self.engine.begin() as conn:
                if conn.execute(self._row()).first() is None:
                    conn.execute(insert(TABLES).values(name=self.name, claims="{}"))
        except IntegrityError:
            pass  # another machine added it meanwhile

    def _row(self, *columns: Any) -> Any:
        return select(*(columns or (TABLES.c.name,))).where(TABLES.c.name == self.name)

    # --- the lock ----------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._errors(), self.engine.connect() as conn:
            with conn.begin():  # SQLite: BEGIN IMMEDIATE (see _engine)
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(
                        f"SET LOCAL idle_in_transaction_session_timeout = "
                        f"'{IDLE_IN_TRANSACTION_S}s'"
                    )
                conn.execute(self._row().with_for_update()).one()
                self._held.conn = conn
                try:
                    yield
                finally:
                    self._held.conn = None

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """This thread's locked connection inside `locked`, else a short transaction."""
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self._errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as e:
            raise StorageError(f"{self.where}: {_first_line(e)}") from e

    # --- lines and claims --------------------------------------------------------------------

    def append(self, line: str) -> None:
        with self._connection() as conn:
            conn.execute(insert(RUNS).values(run_table=self.name, line=line))

    def read(self, since: int = 0) -> Chunk:
        query = (
            select(RUNS.c.id, RUNS.c.line)
            .where(RUNS.c.run_table == self.name, RUNS.c.id > since)
            .order_by(RUNS.c.id)
        )
        with self._connection() as conn:
            rows = conn.execute(query).all()
        return Chunk([r.line for r in rows], rows[-1].id if rows else since)

    def read_claims(self) -> dict[str, Any]:
        with self._connection() as conn:
            text = conn.execute(self._row(TABLES.c.claims)).scalar()
        data = json.loads(text) if text else {}
        return data if isinstance(data, dict) else {}

    def write_claims(self, claims: dict[str, Any]) -> None:
        text = json.dumps(claims, sort_keys=True)
        with self._connection() as conn:
            conn.execute(update(TABLES).where(TABLES.c.name == self.name).values(claims=text))


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        connect_args["timeout"] = SQLITE_BUSY_S
    elif backend == "postgresql" and driver in ("psycopg2", "psycopg"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    if backend == "sqlite":  # pysqlite's own BEGIN off, ours on (SQLAlchemy's documented recipe)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _create_tables(engine: Engine) -> None:
    create_racing(lambda: METADATA.create_all(engine))  # machines opening a fresh database


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
