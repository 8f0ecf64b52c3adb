"""pareto.png: proxy accuracy against a cost, the front highlighted (with seed error bars where
a member was trained with several seeds), the budget as a line.

The x axis is the search's cost objective. With one cost (the usual accuracy vs FLOPs) the front
is a staircase on that axis and is drawn as one; with several costs (or accuracy alone) a
member may look dominated in any one projection, so members are marked on the FLOPs axis
without a line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from nas._core import write_atomic
from nas.cost import format_amount

from .tables import OBJECTIVE_COLUMNS, front_title


def plot_pareto(
    trials: pd.DataFrame,
    pareto: pd.DataFrame,
    *,
    max_flops: int,
    path: str | os.PathLike,
    title: str = "",
    objectives: tuple[str, ...] = ("accuracy", "flops"),
    max_params: int | None = None,
) -> Figure:
    """Write the plot atomically (temp file + rename) and return it. On the FLOPs (params)
    axis the budget (params limit) is a line; candidates over it are counted in the legend."""
    costs = [o for o in objectives if o != "accuracy"]
    axis = costs[0] if len(costs) == 1 else "flops"
    column = OBJECTIVE_COLUMNS[axis][0]
    limit = {"flops": max_flops, "params": max_params}.get(axis)
    x_all = _floats(trials, column)
    scale, unit = _scale(limit if limit else x_all.max(), axis)
    fig = Figure(figsize=(7.5, 5.5), layout="constrained")
    ax = fig.add_subplot()
    acc = _floats(trials, "proxy_accuracy")
    state = trials.get("state", pd.Series(dtype=str))
    done = acc.notna() & (state == "COMPLETE")
    pruned = acc.notna() & (state == "PRUNED")
    ax.scatter(
        x_all[done] / scale, acc[done], s=22, c="0.55", label="trained candidates", zorder=2
    )
    if pruned.any():
        ax.scatter(
            x_all[pruned] / scale,
            acc[pruned],
            s=22,
            marker="x",
            c="0.7",
            label="stopped early (last accuracy)",
            zorder=2,
        )
    if len(pareto):
        _draw_front(ax, pareto, column=column, scale=scale, staircase=len(costs) == 1)
    if limit:
        n_over = int((x_all.notna() & (x_all > limit)).sum())
        what = (
            f"budget {format_amount(limit)}"
            if axis == "flops"
            else f"limit {format_amount(limit, ' params')}"
        )
        ax.axvline(
            limit / scale,
            c="tab:red",
            ls="--",
            lw=1,
            label=what + (f" ({n_over} candidates over it, not trained)" if n_over else ""),
        )
        ax.set_xlim(0, limit / scale * 1.08)
    else:
        ax.set_xlim(left=0)
    ax.set_xlabel(_label(axis, unit))
    ax.set_ylabel("proxy accuracy")
    ax.set_title(title or front_title(objectives))
    ax.grid(alpha=0.3)
    # below the axes: inside, any corner may hide points (the cheap end, the budget line)
    fig.legend(fontsize=8, loc="outside lower center", ncols=2)
    _save_atomic(fig, Path(path))
    return fig


def _draw_front(ax, pareto: pd.DataFrame, *, column: str, scale: float, staircase: bool) -> None:
    front = pareto.assign(_x=_floats(pareto, column)).sort_values("_x")
    label = "Pareto front" if staircase else "Pareto front members (on all objectives)"
    if staircase:
        ax.step(
            front["_x"] / scale,
            front["proxy_accuracy"],
            where="post",
            c="tab:blue",
            lw=1.5,
            zorder=3,
        )
    ax.scatter(
        front["_x"] / scale,
        front["proxy_accuracy"],
        s=55,
        c="tab:blue",
        edgecolors="k",
        label=label,
        zorder=4,
    )
    std = _floats(front, "proxy_accuracy_std")
    if std.notna().any():  # members trained with several seeds: mean +- std
        ax.errorbar(
            front["_x"] / scale,
            front["proxy_accuracy"],
            yerr=std.fillna(0),
            fmt="none",
            ecolor="tab:blue",
            elinewidth=1,
            capsize=3,
            zorder=3,
            label="± seed std (members with 2+ seeds)",
        )
    for _, row in front.iterrows():
        ax.annotate(
            f"#{row['number']}",
            (row["_x"] / scale, row["proxy_accuracy"]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
        )


def _scale(top: float, axis: str) -> tuple[float, str]:
    """Divisor and prefix for the axis (G, M, K); latency stays in ms."""
    if axis == "latency" or pd.isna(top):
        return 1.0, ""
    return next(
        (v, u) for v, u in ((1e9, "G"), (1e6, "M"), (1e3, "K"), (1, "")) if top >= v or v == 1
    )


def _label(axis: str, unit: str) -> str:
    if axis == "flops":
        return f"{unit}FLOPs (fvcore, at the target resolution)"
    if axis == "params":
        return f"parameters ({unit})" if unit else "parameters"
    return "latency (ms per image on the search device)"


def _floats(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series(float("nan"), index=df.index)
    return pd.to_numeric(df[col], errors="coerce").astype("float64")


def _save_atomic(fig: Figure, path: Path) -> None:
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))
