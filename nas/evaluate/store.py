"""Where a run table's lines and claims are kept: a file (`runs.jsonl`, the default) or a
database (`--storage URL`, `nas.evaluate.sql_store`), so that `RunTable` and `Claims` have one
implementation whatever holds them.

A store keeps, under one name, an append-only sequence of lines (one JSON run record each) in
the order written, and one JSON document of claims; `locked()` is the lock every writer takes
turns under: a file lock beside the file, or a row lock (SQLite: a write transaction) in the
database, which several machines share.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nas._core import ConfigError, NasError, locked, write_text_atomic
from nas._core.urls import EXAMPLES, is_url

log = logging.getLogger(__name__)


class StorageError(NasError):
    """The database of a run table failed mid-batch (the server went away): the records it
    holds are kept, the runs in flight are lost, re-running resumes."""

    exit_status = 1


@dataclass(frozen=True)
class Chunk:
    """The whole lines written after a cursor, and the cursor after them. `afresh`: the store
    was replaced since (a shorter file), so `lines` start from its beginning."""

    lines: list[str]
    end: int
    afresh: bool = False


class RunStore(Protocol):
    """What a run table needs of the place that holds it."""

    where: str  # for messages and reports: a path, or a table in a database (password hidden)

    def locked(self) -> AbstractContextManager[None]:
        """Hold the table's exclusive lock for the block (not re-entrant)."""
        ...

    def append(self, line: str) -> None:
        """Add one line (no newline) at the end; call it under `locked()`."""
        ...

    def read(self, since: int = 0) -> Chunk:
        """The whole lines written after cursor `since` (0: every line), in the order written."""
        ...

    def read_claims(self) -> dict[str, Any]:
        """The claims document; {} when there is none."""
        ...

    def write_claims(self, claims: dict[str, Any]) -> None:
        """Replace the claims document (an empty one removes it); call it under `locked()`."""
        ...


class FileStore:
    """A JSON-lines file, its lock (`PATH.lock`) and its claims (`PATH.claims`, rewritten
    atomically) beside it. A writer killed mid-line leaves a torn last line: it is not a whole
    line (readers skip it) and the next append starts on a fresh line."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.claims_path = self.path.with_name(self.path.name + ".claims")
        self.where = str(self.path)

    def locked(self) -> AbstractContextManager[None]:
        return locked(self.lock_path)

    def append(self, line: str) -> None:
        self._end_torn_line()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _end_torn_line(self) -> None:
        """A writer killed mid-line left no newline: start ours on a fresh line."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return
        with open(self.path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")

    def read(self, since: int = 0) -> Chunk:
        try:
            with open(self.path, "rb") as f:
                afresh = os.fstat(f.fileno()).st_size < since  # replaced by a shorter file
                start = 0 if afresh else since
                f.seek(start)
                data = f.read()
        except FileNotFoundError:
            return Chunk([], since)
        whole = data[: data.rfind(b"\n") + 1]
        lines = [b.decode("utf-8", errors="replace") for b in whole.split(b"\n")[:-1]]
        return Chunk(lines, start + len(whole), afresh)

    def read_claims(self) -> dict[str, Any]:
        try:
            data = json.loads(self.claims_path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError:  # cannot happen with atomic writes; start over rather than stop
            log.warning("ignoring unreadable claims file %s", self.claims_path)
            return {}
        return data if isinstance(data, dict) else {}

    def write_claims(self, claims: dict[str, Any]) -> None:
        if claims:
            text = json.dumps(claims, indent=1, sort_keys=True) + "\n"
            write_text_atomic(self.claims_path, text)
        else:
            self.claims_path.unlink(missing_ok=True)


def open_store(path: str | os.PathLike, *, storage: str | None = None, name: str = "") -> RunStore:
    """The file `path`, or with `storage` (a database URL) the table `name` in that database
    (created if missing). A URL that cannot be opened is a one-line `ConfigError` naming
    `--storage`."""
    if not storage:
        return FileStore(path)
    if not is_url(storage):
        raise ConfigError(f"expected a URL such as {EXAMPLES}, got {storage!r}", field="--storage")
    from .sql_store import SqlStore

    return SqlStore(storage, name=name)
