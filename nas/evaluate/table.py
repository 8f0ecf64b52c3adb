"""The run table: every finished run of a study, one JSON line each, appended as runs finish.

Append-only under a lock, so several processes (or a resumed run) can write one table, and a
process killed mid-write leaves at most a torn last line, which is ignored on reading: a killed
batch loses only the runs in flight. Re-running a batch skips every key already here, except
failed runs it tries again (`to_retry`): a transient failure (out of memory, a killed worker)
up to MAX_AUTO_RETRIES times, any failure when asked (`--retry-failed`). A run tried again is
appended again; its key's record is then the later one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from nas._core import locked

from .runs import TRANSIENT, RunKey, RunRecord, failure_kind

MAX_AUTO_RETRIES = 2  # times resuming tries a run that failed transiently again

# Column order of the CSV views (calibration.csv, compare.csv); the spec goes last.
COLUMNS = (
    "arch_id",
    "label",
    "fidelity",
    "fidelity_id",
    "seed",
    "status",
    "accuracy",
    "train_accuracy",
    "flops",
    "params",
    "seconds",
    "images_per_s",
    "proxy_resolution",
    "curve",
    "failure",
    "failure_kind",
    "data",
    "data_seed",
    "device",
    "host",
    "finished",
    "summary",
    "spec",
)


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


def records_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    rows = []
    for r in records:
        row = r.to_dict()
        row["curve"] = ";".join(f"{a:.4f}" for a in r.curve) or None
        row["spec"] = json.dumps(r.spec, separators=(",", ":"))
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("seed", "flops", "params", "proxy_resolution", "data_seed"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    return df
