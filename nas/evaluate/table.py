"""The run table: every finished run of a study, one JSON line each, appended as runs finish.

Append-only under a lock, so several processes (or a resumed run) can write one table, and a
process killed mid-write leaves at most a torn last line, which is ignored on reading: a killed
batch loses only the runs in flight. Re-running a batch skips every key already here, except
failed runs it tries again (`to_retry`): a transient failure (out of memory, a killed worker)
up to MAX_AUTO_RETRIES times, any failure when asked (`--retry-failed`). A run tried again is
appended again; its key's record is then the later one.
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

from nas._core import locked
from nas.report.columns import Column, Table

from .runs import TRANSIENT, RunKey, RunRecord, failure_kind

MAX_AUTO_RETRIES = 2  # times resuming tries a run that failed transiently again


class RunTable:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.lock = self.path.with_name(self.path.name + ".lock")

    def records(self) -> list[RunRecord]:
        """Every complete line, one record per key: its first `ok` one, else its last one (a
        failed run tried again is written again)."""
        return [tries[-1] for tries in self._tries().values()]

    def _tries(self) -> dict[RunKey, list[RunRecord]]:
        """Each key's records in the order written, up to its first `ok` one."""
        if not self.path.exists():
            return {}
        tries: dict[RunKey, list[RunRecord]] = {}
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    record = RunRecord.from_dict(json.loads(line))
                except (json.JSONDecodeError, TypeError):
                    continue  # a torn last line of a killed writer
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
        line = json.dumps(record.to_dict(), separators=(",", ":")) + "\n"
        with locked(self.lock):
            self._end_torn_line()
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
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
