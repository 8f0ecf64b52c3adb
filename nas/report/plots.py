"""pareto.png: proxy accuracy against FLOPs, the front highlighted, the budget as a line."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from nas.cost import format_amount
from nas.space.io import write_atomic


def plot_pareto(trials: pd.DataFrame, pareto: pd.DataFrame, *, max_flops: int,
                path: str | os.PathLike, title: str = "") -> None:
    """Write the plot atomically (temp file + rename). The x axis ends just past the budget;
    over-budget candidates (never trained) are counted in the legend."""
    fig = Figure(figsize=(7.5, 5), layout="constrained")
    ax = fig.add_subplot()
    g, unit = next((v, u) for v, u in ((1e9, "G"), (1e6, "M"), (1e3, "K"), (1, ""))
                   if max_flops >= v)
    acc = _floats(trials, "proxy_accuracy")
    flops = _floats(trials, "flops")
    state = trials.get("state", pd.Series(dtype=str))
    done = acc.notna() & (state == "COMPLETE")
    pruned = acc.notna() & (state == "PRUNED")
    ax.scatter(flops[done] / g, acc[done], s=22, c="0.55", label="trained candidates", zorder=2)
    if pruned.any():
        ax.scatter(flops[pruned] / g, acc[pruned], s=22, marker="x", c="0.7",
                   label="stopped early (last accuracy)", zorder=2)
    if len(pareto):
        front = pareto.sort_values("flops")
        ax.step(front["flops"] / g, front["proxy_accuracy"], where="post", c="tab:blue",
                lw=1.5, zorder=3)
        ax.scatter(front["flops"] / g, front["proxy_accuracy"], s=55, c="tab:blue",
                   edgecolors="k", label="Pareto front", zorder=4)
        for _, row in front.iterrows():
            ax.annotate(f"#{row['number']}", (row["flops"] / g, row["proxy_accuracy"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
    n_over = int((flops.notna() & (flops > max_flops)).sum())
    ax.axvline(max_flops / g, c="tab:red", ls="--", lw=1,
               label=f"budget {format_amount(max_flops)}"
                     + (f" ({n_over} candidates over it, not trained)" if n_over else ""))
    ax.set_xlim(0, max_flops / g * 1.08)
    ax.set_xlabel(f"{unit}FLOPs (fvcore, at the target resolution)")
    ax.set_ylabel("proxy accuracy")
    ax.set_title(title or "proxy accuracy vs FLOPs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _save_atomic(fig, Path(path))


def _floats(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series(float("nan"), index=df.index)
    return pd.to_numeric(df[col], errors="coerce").astype("float64")


def _save_atomic(fig: Figure, path: Path) -> None:
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))
