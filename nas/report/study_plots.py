"""Plots of studies made of repeated runs: calibration.png (each proxy's mean accuracy against
the reference's, with seed error bars) and the comparison's dot plot with intervals."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from nas._core import write_atomic


def plot_calibration(
    runs: pd.DataFrame,
    *,
    proxies: Sequence[tuple[str, str, str]],
    reference_id: str,
    path: str | os.PathLike,
    title: str = "",
) -> Figure:
    """`proxies`: (fidelity_id, name, caption) per panel; x is the reference's accuracy."""
    acc = runs.assign(accuracy=pd.to_numeric(runs["accuracy"], errors="coerce"))
    ref = acc[acc["fidelity_id"] == reference_id].groupby("arch_id")["accuracy"].mean()
    n = max(1, len(proxies))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(4.2 * cols, 3.8 * rows + 0.4), layout="constrained")
    for i, (fid, name, caption) in enumerate(proxies):
        ax = fig.add_subplot(rows, cols, i + 1)
        g = acc[acc["fidelity_id"] == fid].groupby("arch_id")["accuracy"].agg(["mean", "std"])
        both = g.join(ref.rename("ref"), how="inner")
        ax.errorbar(
            both["ref"],
            both["mean"],
            yerr=both["std"].fillna(0),
            fmt="o",
            ms=4,
            capsize=2,
            c="tab:blue",
            ecolor="0.6",
        )
        ax.set_title(f"{name}\n{caption}", fontsize=8)
        ax.set_xlabel("reference accuracy")
        ax.set_ylabel("proxy accuracy (mean ± std over seeds)")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    write_atomic(Path(path), lambda tmp: fig.savefig(tmp, dpi=110))
    return fig


def plot_intervals(
    table: pd.DataFrame,
    *,
    path: str | os.PathLike,
    title: str = "",
    xlabel: str = "proxy accuracy",
) -> Figure:
    """One row per architecture: every seed as a dot, the mean and its interval as a bar.
    `table`: label, mean, low, high, values (list of per-seed accuracies)."""
    fig = Figure(figsize=(7.5, 0.35 * len(table) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    for y, (_, r) in enumerate(table.iterrows()):
        ax.scatter(r["values"], [y] * len(r["values"]), s=12, c="0.6", zorder=2)
        if not math.isnan(r["low"]):
            ax.plot([r["low"], r["high"]], [y, y], c="tab:blue", lw=2, zorder=3)
        ax.scatter([r["mean"]], [y], s=30, c="tab:blue", edgecolors="k", zorder=4)
    ax.set_yticks(range(len(table)), table["label"], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"{xlabel}: seeds (grey), mean and 90% interval (blue)")
    ax.grid(alpha=0.3, axis="x")
    if title:
        ax.set_title(title, fontsize=10)
    write_atomic(Path(path), lambda tmp: fig.savefig(tmp, dpi=110))
    return fig
