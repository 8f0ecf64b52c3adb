"""The CSV contract of a search's results, and atomic writing of tables.

`trials.csv` and `pareto.csv` start with `LEAD_COLUMNS` in this order (other tools, e.g.
`nas-train`'s fidelity report, read them by name), then extra columns, then one column per
sampled parameter named `param.<name>`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from nas.space.io import write_text_atomic as write_text

LEAD_COLUMNS = ("number", "state", "arch_id", "flops", "params", "proxy_accuracy",
                "proxy_seconds", "failure")
PARAM_PREFIX = "param."
INT_COLUMNS = ("number", "flops", "params", "closed_form_flops", "closed_form_params", "epochs",
               "duplicate_of", "proxy_resolution", "retry_of")


def order_columns(df: pd.DataFrame) -> pd.DataFrame:
    """LEAD_COLUMNS first, extras in their order, `param.*` last (sorted)."""
    for col in LEAD_COLUMNS:
        if col not in df.columns:
            df[col] = pd.NA
    params = sorted(c for c in df.columns if c.startswith(PARAM_PREFIX))
    extras = [c for c in df.columns if c not in LEAD_COLUMNS and c not in params]
    df = df[[*LEAD_COLUMNS, *extras, *params]]
    for col in INT_COLUMNS:
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    return df


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike) -> None:
    write_text(path, df.to_csv(index=False))


def read_trials(path: str | os.PathLike) -> pd.DataFrame:
    """A trials.csv / pareto.csv with integer columns as integers (missing -> <NA>)."""
    df = pd.read_csv(Path(path), keep_default_na=True)
    for col in INT_COLUMNS:
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    return df
