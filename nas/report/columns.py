"""A CSV contract as one table of columns: each column's name, type and where its value comes
from, in the order the file holds them.

A table writes its rows (`row`, `frame`) and reads its file back typed (`read`), so adding a
column is one `Column` in its table: the writer, the reader and the types follow. The tables:
`TRIALS` and `FULL_TRAINING` in `nas.report.tables`; a run table's CSV views are the fields of
`nas.evaluate.runs.RunRecord` (`nas.evaluate.table.RUN_COLUMNS`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

# how a column's type is applied to a frame: integers stay exact with missing values (<NA>),
# strings stay strings (an arch_id of digits is not a number); floats and booleans as pandas
# reads them
DTYPES = (int, float, str, bool)


@dataclass(frozen=True)
class Column:
    name: str
    dtype: type  # one of DTYPES
    doc: str  # what it holds
    # where its value comes from: a function of the producer's source (`Table.row`); None:
    # the source's value of the same name (a mapping's key)
    value: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        assert self.dtype in DTYPES, f"{self.name}: dtype must be one of {DTYPES}"


@dataclass(frozen=True)
class Table:
    name: str  # what it is the table of, for messages
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def of_type(self, dtype: type) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.dtype is dtype)

    def row(self, source: Any) -> dict[str, Any]:
        """One row, in column order, each value taken from `source` as its column says."""
        return {
            c.name: c.value(source) if c.value is not None else source.get(c.name)
            for c in self.columns
        }

    def check_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """`row` in column order; a value for a column the table lacks, or a column without a
        value, is a bug of its producer."""
        extra = [k for k in row if k not in self.names]
        missing = [n for n in self.names if n not in row]
        assert not extra and not missing, f"{self.name}: extra {extra}, missing {missing}"
        return {n: row[n] for n in self.names}

    def typed(self, df: pd.DataFrame) -> pd.DataFrame:
        """`df` with the table's integer columns as nullable integers (missing -> <NA>)."""
        for col in self.of_type(int):
            if col in df.columns:
                df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
        return df

    def frame(self, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
        return self.typed(pd.DataFrame(list(rows), columns=list(self.names)))

    def read(self, path: str | os.PathLike) -> pd.DataFrame:
        """The file with the table's types (columns it does not know as pandas reads them)."""
        df = pd.read_csv(Path(path), dtype=dict.fromkeys(self.of_type(str), str))
        return self.typed(df)
