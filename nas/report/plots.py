"""pareto.png: proxy accuracy against FLOPs, the front highlighted, the budget as a line."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from nas.cost import format_amount

from .files import write_atomic


def plot_pareto(trials: pd.DataFrame, pareto: pd.DataFrame, *, max_flops: int,
                path: str | os.PathLike, title: str = "") -> None:
    """Write the plot atomically (temp file + rename). Over-budget candidates, never trained,
    are ticks along the bottom."""
    fig = Figure(figsize=(7.5, 5), layout="constrained")
    ax = fig.add_subplot()
    top = float(pd.to_numeric(trials.get("flops"), errors="coerce").max() or max_flops)
    g, unit = next((v, u) for v, u in ((1e9, "G"), (1e6, "M"), (1e3, "K"), (1, ""))
                   if max(top, max_flops) >= 10 * v or v == 1)
    acc = pd.to_numeric(trials.get("proxy_accuracy"), errors="coerce")
    flops = pd.to_numeric(trials.get("flops"), errors="coerce")
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
    over = flops.notna() & (flops > max_flops)
    if over.any():
        rug = blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(flops[over] / g, [0.01] * int(over.sum()), "|", c="tab:red", ms=10,
                transform=rug, label="over budget (not trained)")
    ax.axvline(max_flops / g, c="tab:red", ls="--", lw=1,
               label=f"budget {format_amount(max_flops)}")
    ax.set_xlabel(f"{unit}FLOPs (fvcore, at the target resolution)")
    ax.set_ylabel("proxy accuracy")
    ax.set_title(title or "proxy accuracy vs FLOPs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _save_atomic(fig, Path(path))


def _save_atomic(fig: Figure, path: Path) -> None:
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))
