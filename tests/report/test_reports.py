"""Report files from tables alone: column contract, atomic writes, plot, summary."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from nas._core import write_text_atomic as write_text
from nas.report import LEAD_COLUMNS, plot_pareto, read_trials, write_csv_atomic, write_summary
from nas.report.tables import order_columns


def table() -> pd.DataFrame:
    return order_columns(
        pd.DataFrame(
            [
                {
                    "param.width": 32,
                    "number": 0,
                    "state": "COMPLETE",
                    "arch_id": "a" * 10,
                    "flops": 1_200_000_000,
                    "params": 5_000_000,
                    "proxy_accuracy": 0.81,
                    "proxy_seconds": 20.5,
                    "feasible": True,
                    "trained": True,
                    "param.depth": 2,
                    "summary": "multi 224px conv1/4 | 32:conv*2",
                },
                {
                    "number": 1,
                    "state": "COMPLETE",
                    "arch_id": "b" * 10,
                    "flops": 9_000_000_000,
                    "params": 50_000_000,
                    "feasible": False,
                    "trained": False,
                    "param.width": 160,
                    "param.depth": 4,
                },
                {
                    "number": 2,
                    "state": "FAIL",
                    "arch_id": "c" * 10,
                    "flops": 2_000_000_000,
                    "params": 9_000_000,
                    "failure": "NaN loss: loss became nan in epoch 2",
                    "feasible": True,
                    "trained": True,
                    "param.width": 64,
                    "param.depth": 3,
                },
                {
                    "number": 3,
                    "state": "PRUNED",
                    "arch_id": "d" * 10,
                    "flops": 3_000_000_000,
                    "params": 12_000_000,
                    "proxy_accuracy": 0.5,
                    "feasible": True,
                    "trained": True,
                    "param.width": 96,
                    "param.depth": 3,
                },
            ]
        )
    )


def test_columns_lead_with_the_contract_and_end_with_sorted_params():
    df = table()
    assert tuple(df.columns[: len(LEAD_COLUMNS)]) == LEAD_COLUMNS
    assert LEAD_COLUMNS[5:8] == ("proxy_accuracy", "proxy_accuracy_std", "seeds")
    assert list(df.columns[-2:]) == ["param.depth", "param.width"]
    assert str(df["flops"].dtype) == "Int64"


def test_csv_round_trip_keeps_exact_integers_and_missing_values(tmp_path):
    write_csv_atomic(table(), tmp_path / "trials.csv")
    back = read_trials(tmp_path / "trials.csv")
    assert back["flops"].tolist() == [1_200_000_000, 9_000_000_000, 2_000_000_000, 3_000_000_000]
    assert pd.isna(back.loc[1, "proxy_accuracy"]) and back.loc[2, "failure"].startswith("NaN")


def test_atomic_writes_leave_no_temp_files_and_readable_permissions(tmp_path):
    path = write_text(tmp_path / "a" / "x.md", "hello")
    assert path.read_text() == "hello" and os.listdir(path.parent) == ["x.md"]
    assert stat.S_IMODE(path.stat().st_mode) & 0o044  # group/other can read (umask 022)

    class Boom(Exception):
        pass

    from nas._core import write_atomic

    def fail(tmp):
        raise Boom

    with pytest.raises(Boom):
        write_atomic(path, fail)
    assert path.read_text() == "hello" and os.listdir(path.parent) == ["x.md"]


def test_pareto_plot_is_a_png(tmp_path):
    df = table()
    plot_pareto(df, df.iloc[[0]], max_flops=4_000_000_000, path=tmp_path / "pareto.png")
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    plot_pareto(df.iloc[[]], df.iloc[[]], max_flops=10**9, path=tmp_path / "empty.png")
    assert (tmp_path / "empty.png").exists()  # a search with nothing trained yet


def _costs() -> pd.DataFrame:
    """a is cheapest in FLOPs, b in params; c is the most accurate."""
    return order_columns(
        pd.DataFrame(
            [
                {
                    "number": n,
                    "state": "COMPLETE",
                    "arch_id": a * 10,
                    "flops": f,
                    "params": p,
                    "proxy_accuracy": acc,
                }
                for n, a, f, p, acc in (
                    (0, "a", 1e9, 9e6, 0.7),
                    (1, "b", 2e9, 3e6, 0.8),
                    (2, "c", 3e9, 6e6, 0.9),
                )
            ]
        )
    )


def _staircases(fig) -> list:
    return [line for line in fig.axes[0].lines if line.get_drawstyle().startswith("steps")]


def test_the_front_is_drawn_on_its_own_cost_axis(tmp_path):
    df = _costs()
    fig = plot_pareto(
        df,
        df.iloc[[1, 2]],
        max_flops=4 * 10**9,
        path=tmp_path / "p.png",
        objectives=("accuracy", "params"),
    )
    ax = fig.axes[0]
    assert ax.get_xlabel() == "parameters (M)" and "vs params" in ax.get_title()
    (step,) = _staircases(fig)
    assert list(step.get_xdata()) == [3.0, 6.0]  # params of b and c, not their FLOPs
    assert list(ax.lines) == [step]  # no FLOP budget line on a params axis
    # the legend sits outside the axes, where it hides no point
    assert ax.get_legend() is None and len(fig.legends) == 1


def test_a_front_over_several_costs_is_marked_without_a_staircase(tmp_path):
    df = _costs()
    fig = plot_pareto(
        df,
        df,
        max_flops=4 * 10**9,
        path=tmp_path / "p.png",
        objectives=("accuracy", "flops", "params"),
    )
    assert _staircases(fig) == [] and fig.axes[0].get_xlabel().startswith("GFLOPs")
    two = plot_pareto(df, df, max_flops=4 * 10**9, path=tmp_path / "q.png")
    assert len(_staircases(two)) == 1  # accuracy vs FLOPs: the staircase is the front


def test_the_summary_names_the_front_by_its_objectives(tmp_path):
    df = _costs()
    write_csv_atomic(df, tmp_path / "trials.csv")
    write_csv_atomic(df.iloc[[1, 2]], tmp_path / "pareto.csv")
    (tmp_path / "run.yaml").write_text("config: {objectives: [accuracy, params]}\n")
    assert "## Pareto front (proxy accuracy vs params)" in write_summary(tmp_path).read_text()


def test_summary_from_files_only_with_fidelity(tmp_path):
    df = table()
    write_csv_atomic(df, tmp_path / "trials.csv")
    write_csv_atomic(df.iloc[[0]], tmp_path / "pareto.csv")
    text = write_summary(tmp_path).read_text()
    assert (
        "4 trials: 1 trained to the end of the proxy, 1 stopped early, 1 failed, 1 over "
        "budget" in text
    )
    assert "Best proxy accuracy 0.8100: trial #0, 1.2GFLOPs" in text
    assert "conv1/4 \\| 32:conv*2" in text  # a | inside a table cell is escaped
    assert "| 2 | NaN loss: loss became nan in epoch 2 |" in text
    (tmp_path / "fidelity.md").write_text("## Proxy fidelity\n\nKendall tau 0.7\n")
    assert write_summary(tmp_path).read_text().rstrip().endswith("Kendall tau 0.7")


@pytest.mark.parametrize(
    ("slope", "reading"),
    [(-0.02, "favours the smaller networks"), (0.02, "rises with FLOPs"), (0.0, "no trend")],
)
def test_the_summary_says_how_proxy_accuracy_moves_with_flops(tmp_path, slope, reading):
    rows = [
        {
            "number": n,
            "state": "COMPLETE",
            "arch_id": f"{n:010d}",
            "flops": (n + 1) * 1e8,
            "params": 1e6,
            "proxy_accuracy": 0.5 + slope * n + (0.01 * (-1) ** n if slope == 0 else 0),
        }
        for n in range(10)
    ]
    df = order_columns(pd.DataFrame(rows))
    write_csv_atomic(df, tmp_path / "trials.csv")
    write_csv_atomic(df.iloc[[0]], tmp_path / "pareto.csv")
    (tmp_path / "run.yaml").write_text("config: {data: 'cifar10:/data/cifar'}\n")
    text = write_summary(tmp_path).read_text()
    assert "## Accuracy against FLOPs" in text and reading in text
    assert (
        "Over the 10 candidates" in text and "--proxy reference --data cifar10:/data/cifar" in text
    )
    write_csv_atomic(df.iloc[:7], tmp_path / "trials.csv")  # too few to say
    assert "## Accuracy against FLOPs" not in write_summary(tmp_path).read_text()
