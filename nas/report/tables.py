"""The CSV contract of a search's results, and atomic writing of tables.

`trials.csv` and `pareto.csv` start with `LEAD_COLUMNS` in this order (other tools, e.g.
`nas-train`'s fidelity report, read them by name), then extra columns, then one column per
sampled parameter named `param.<name>`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from nas._core import write_text_atomic as write_text

LEAD_COLUMNS = (
    "number",
    "state",
    "arch_id",
    "flops",
    "params",
    "proxy_accuracy",
    "proxy_accuracy_std",
    "seeds",
    "proxy_seconds",
    "failure",
)
PARAM_PREFIX = "param."
# search objective -> (its column, its name in titles)
OBJECTIVE_COLUMNS = {
    "accuracy": ("proxy_accuracy", "proxy accuracy"),
    "flops": ("flops", "FLOPs"),
    "params": ("params", "params"),
    "latency": ("latency_ms", "latency"),
}
INT_COLUMNS = (
    "number",
    "flops",
    "params",
    "seeds",
    "closed_form_flops",
    "closed_form_params",
    "epochs",
    "duplicate_of",
    "proxy_resolution",
    "retry_of",
)


def front_title(objectives: tuple[str, ...] | list[str]) -> str:
    """What the Pareto front trades: 'proxy accuracy vs FLOPs', 'proxy accuracy vs params and
    latency'; with accuracy alone the front is the best trial."""
    names = [OBJECTIVE_COLUMNS[o][1] for o in objectives if o != "accuracy"]
    if not names:
        return "proxy accuracy"
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"proxy accuracy vs {listed}"


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
