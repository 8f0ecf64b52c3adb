"""The run table: every finished run of a study, one JSON line each, appended as runs finish.

The lines live in a store (`nas.evaluate.store`): the file `runs.jsonl` of the study's folder,
or a table in a database (`--storage URL`) that the machines of a cluster share. Append-only
under the store's lock, so several processes (or a resumed run, or other machines) can write
one table, and a process killed mid-write leaves at most a torn last line, which is ignored on
reading: a killed batch loses only the runs in flight. Re-running a batch skips every key
already here, except failed runs it tries again (`to_retry`): a transient failure (out of
memory, a killed worker) up to MAX_AUTO_RETRIES times, any failure when asked
(`--retry-failed`). A run tried again is appended again; its key's record is then the later
one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from nas.report.columns import Column, Table

from .runs import TRANSIENT, RunKey, RunRecord, failure_kind
from .store import FileStore, RunStore

MAX_AUTO_RETRIES = 2  # times resuming tries a run that failed transiently again


class RunTable:
    """The run records kept in `store` (a `RunStore`), or in the JSON-lines file at a path."""

    def __init__(self, store: str | os.PathLike | RunStore):
        self.store: RunStore = FileStore(store) if isinstance(store, (str, os.PathLike)) else store
        # the file, when the table is one (tests and scripts read it); None in a database
        self.path: Path | None = self.store.path if isinstance(self.store, FileStore) else None

    @property
    def where(self) -> str:
        """Where the runs live, for messages and reports (a database's password hidden)."""
        return self.store.where

    def records(self) -> list[RunRecord]:
        """Every complete line, one record per key: its first `ok` one, else its last one (a
        failed run tried again is written again)."""
        return [tries[-1] for tries in self._tries().values()]

    def _tries(self) -> dict[RunKey, list[RunRecord]]:
        """Each key's records in the order written, up to its first `ok` one."""
        tries: dict[RunKey, list[RunRecord]] = {}
        for line in self.store.read().lines:
            try:
                record = RunRecord.from_dict(json.loads(line))
            except (json.JSONDecodeError, TypeError):
                continue  # a line no reader understands (a torn line that was ended)
            seen = tries.setdefault(record.key, [])
            if not seen or seen[-1].status != "ok":
                seen.append(record)
        return tries

    def keys(self) -> set[RunKey]:
        return set(self._tries())

    def to_retry(self, *, retry_failed: bool = False) -> set[RunKey]:
        """Keys whose run failed and is to be tried again: with `retry_failed` every one,
        else those whose failure was transient, tried fewer than MAX_AUTO_RETRIES + 1 times."""
        out = set()
        for key, tries in self._tries().items():
            last = tries[-1]
            if last.status == "ok":
                continue
            transient = failure_kind(last.failure, last.failure_kind) == TRANSIENT
            if retry_failed or (transient and len(tries) <= MAX_AUTO_RETRIES):
                out.add(key)
        return out

    def append(self, record: RunRecord) -> None:
        line = json.dumps(record.to_dict(), separators=(",", ":"))
        with self.store.locked():
            self.store.append(line)

    def adopt(self, records: Iterable[RunRecord]) -> int:
        """Append those of `records` this table lacks (by key, or an `ok` one where this table
        has only failed tries), and say how many: the runs published with a benchmark,
        carried into a new machine's table so that it resumes there instead of training them
        again. A failed record comes as one try: its automatic retries start afresh."""
        status = {r.key: r.status for r in self.records()}
        adopted = 0
        for record in records:
            had = status.get(record.key)
            if had is None or (record.status == "ok" and had != "ok"):
                self.append(record)
                status[record.key] = record.status
                adopted += 1
        return adopted

    def frame(self) -> pd.DataFrame:
        return records_frame(self.records())


def run_columns(record: type[RunRecord]) -> Table:
    """The CSV view of `record`'s fields, in their order: each column typed as its field,
    lists (the curve) joined with ';' and mappings (the spec) as JSON."""
    hints = typing.get_type_hints(record)
    return Table(
        "a run table's CSV view",
        tuple(_column(f.name, hints[f.name]) for f in dataclasses.fields(record)),
    )


def _column(name: str, hint: Any) -> Column:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):  # `int | None`
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    doc = f"RunRecord.{name}"
    if typing.get_origin(hint) is list:
        return Column(
            name, str, doc, lambda r: ";".join(f"{a:.4f}" for a in getattr(r, name)) or None
        )
    if typing.get_origin(hint) is dict:
        return Column(
            name, str, doc, lambda r: json.dumps(getattr(r, name), separators=(",", ":"))
        )
    return Column(name, hint, doc, lambda r: getattr(r, name))


RUN_COLUMNS = run_columns(RunRecord)


def records_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    return RUN_COLUMNS.frame(RUN_COLUMNS.row(r) for r in records)
