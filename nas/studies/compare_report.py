"""The report of a comparison, rebuilt from its run table alone: `compare.csv` (every run of
the models), `compare.md` (models with their intervals, the suite's findings with verdicts,
pairwise differences) and `compare.png`.

Seeds are shared across models, so two models are compared by paired differences over seeds
(`nas.report.stats.paired_difference`); a finding's verdict is what its comparisons' 90%
intervals support: reproduced, contradicted, or inconclusive at this noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import combinations, pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from nas._core import write_text_atomic
from nas.evaluate import Fidelity, RunTable, cost_of
from nas.report import stats
from nas.report.stats import PairedDifference
from nas.train.proxy import proxy_spec

from .suites import Comparison, Finding, Model, Suite

if TYPE_CHECKING:
    from .compare import CompareConfig

ALL_PAIRS_UP_TO = 10  # models; beyond, only neighbours in the ranking are compared


def model_runs(models: list[Model], table: RunTable, cfg: CompareConfig) -> pd.DataFrame:
    """The table's runs of these models at their fidelities, labelled by model name."""
    wanted = {
        (m.spec.arch_id, Fidelity(m.proxy, cfg.data, cfg.data_seed).fidelity_id): m.name
        for m in models
    }
    runs = table.frame()
    keys = zip(runs["arch_id"], runs["fidelity_id"])
    # a boolean Series, not a list: an empty list would select no columns of an empty table
    runs = runs[pd.Series([k in wanted for k in keys], index=runs.index, dtype=bool)].copy()
    runs["model"] = [wanted[k] for k in zip(runs["arch_id"], runs["fidelity_id"])]
    runs = runs[runs["seed"] < cfg.seeds]
    for col in ("accuracy", "train_accuracy", "seconds"):
        runs[col] = pd.to_numeric(runs[col], errors="coerce")
    runs["gap"] = runs["train_accuracy"] - runs["accuracy"]
    return runs


def summary_table(models: list[Model], runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for m in models:
        mine = runs[runs["model"] == m.name]
        acc = mine["accuracy"].dropna()
        interval = stats.mean_interval(acc)
        flops, params = cost_of(m.spec)
        trained = proxy_spec(m.spec, cfg=m.proxy, num_classes=10)
        rows.append(
            {
                "model": m.name,
                "source": m.source,
                "arch_id": m.spec.arch_id,
                "flops": flops,
                "params": params,
                "fidelity": m.proxy.name,
                "resolution": trained.resolution,
                "grid": " → ".join(f"{s}×{s}" for s in trained.feature_sizes()),
                "seeds": len(acc),
                "failed": int((mine["status"] != "ok").sum()),
                "mean": interval.estimate,
                "std": acc.std() if len(acc) > 1 else math.nan,
                "low": interval.low,
                "high": interval.high,
                "train": mine["train_accuracy"].mean(),
                "gap": mine["gap"].mean(),
                "seconds": mine["seconds"].mean(),
                "values": acc.tolist(),
            }
        )
    return pd.DataFrame(rows)


def pair(runs: pd.DataFrame, a: str, b: str, value: str = "accuracy") -> PairedDifference:
    series = {m: _by_seed(runs, m, value) for m in (a, b)}
    return stats.paired_difference(series[a], series[b])


def gain_pair(runs: pd.DataFrame, c: Comparison) -> PairedDifference:
    """(a − a's base) against (b − b's base), seed by seed: a difference of differences."""
    assert c.base is not None
    gain_a = _by_seed(runs, c.a) - _by_seed(runs, c.base[0])
    gain_b = _by_seed(runs, c.b) - _by_seed(runs, c.base[1])
    return stats.paired_difference(gain_a, gain_b)  # pairs the seeds every model has


def _by_seed(runs: pd.DataFrame, model: str, value: str = "accuracy") -> pd.Series:
    return runs[runs["model"] == model].set_index("seed")[value]


def verdict(runs: pd.DataFrame, c: Comparison, margin: float | None = None) -> tuple[str, str]:
    """(reproduced | contradicted | inconclusive at this noise, the measured difference)."""
    if c.kind == "larger-gap":
        d = pair(runs, c.a, c.b, "gap")
        text = f"train−val gap of {c.a} minus {c.b}: {_pp(d)}"
        yes, no = d.diff.low > 0, d.diff.high < 0
    elif c.kind == "larger-gain":
        d = gain_pair(runs, c)
        text = f"({c.a} − {c.base[0]}) − ({c.b} − {c.base[1]}): {_pp(d)}"
        yes, no = d.diff.low > 0, d.diff.high < 0
    elif c.kind == "equivalent":
        m = margin if margin is not None else c.margin
        d = pair(runs, c.a, c.b)
        text = f"{c.a} − {c.b}: {_pp(d)}, equivalence margin ±{100 * m:.1f} points"
        yes = d.within(m)
        no = not math.isnan(d.diff.low) and (d.diff.low > m or d.diff.high < -m)
    else:
        d = pair(runs, c.a, c.b)
        text = f"{c.a} − {c.b}: {_pp(d)}"
        yes, no = d.diff.low > 0, d.diff.high < 0
    if math.isnan(d.diff.low):
        return "inconclusive (too few shared seeds)", text
    return ("reproduced" if yes else "contradicted" if no else "inconclusive at this noise"), text


def finding_verdict(verdicts: list[str]) -> str:
    n = len(verdicts)
    r = sum(v == "reproduced" for v in verdicts)
    c = sum(v == "contradicted" for v in verdicts)
    if r == n:
        return "reproduced"
    if c == n:
        return "contradicted"
    if r and not c:
        return f"partly reproduced ({r} of {n} comparisons; the rest inconclusive at this noise)"
    if c and not r:
        return f"contradicted in {c} of {n} comparisons (the rest inconclusive at this noise)"
    if r and c:
        return f"mixed ({r} reproduced, {c} contradicted of {n})"
    return "inconclusive at this noise"


def _pp(d: PairedDifference) -> str:
    """A difference in accuracy points with its interval."""
    if math.isnan(d.diff.estimate):
        return "n/a"
    if math.isnan(d.diff.low):
        return f"{100 * d.diff.estimate:+.2f} pts (one seed: no interval)"
    return (
        f"{100 * d.diff.estimate:+.2f} pts [90%: {100 * d.diff.low:+.2f}, "
        f"{100 * d.diff.high:+.2f}], {d.n} paired seeds"
    )


def write_compare(
    models: list[Model],
    suite: Suite | None,
    table: RunTable,
    out: Path,
    *,
    cfg: CompareConfig,
    command: str = "",
    wall: float = 0.0,
) -> str:
    from nas.report.study_plots import plot_intervals

    runs = model_runs(models, table, cfg)
    out.mkdir(parents=True, exist_ok=True)
    cols = ["model", *[c for c in runs.columns if c not in ("model", "gap")]]
    write_text_atomic(out / "compare.csv", runs[cols].to_csv(index=False))
    summary = summary_table(models, runs)
    parts = [
        _header(models, suite, runs, cfg, command, wall, where=table.where),
        _models_md(summary),
    ]
    if suite is not None and suite.findings:
        parts.append(_findings_md(suite.findings, runs, cfg.margin))
    parts.append(_picks_md(models, summary, runs))
    parts.append(_pairs_md(summary, runs, suite))
    text = "\n\n".join(p for p in parts if p) + "\n"
    write_text_atomic(out / "compare.md", text)
    ok = summary[summary["seeds"] > 0]
    if len(ok):
        plot_intervals(
            ok.assign(label=ok["model"]),
            path=out / "compare.png",
            title=f"{suite.name if suite else 'comparison'}: validation accuracy "
            f"over {cfg.seeds} seeds",
        )
    return text


def _header(
    models: list[Model],
    suite: Suite | None,
    runs: pd.DataFrame,
    cfg: CompareConfig,
    command: str,
    wall: float,
    *,
    where: str,
) -> str:
    from nas.report.provenance import devices_of, provenance

    prov = provenance("cpu" if cfg.device == "auto" else cfg.device)
    title = (
        f"# Comparison: suite `{suite.name}`" + (f", size {suite.size}" if suite.size else "")
        if suite
        else "# Comparison"
    )
    fidelities = {}
    for m in models:
        fidelities.setdefault(m.proxy.name, Fidelity(m.proxy, cfg.data, cfg.data_seed))
    lines = [title, ""]
    if suite is not None and suite.description:
        lines += [suite.description, ""]
    if suite is not None and cfg.proxy_given:
        lines += [
            f"Here `--proxy {cfg.proxy}` replaces the suite's own fidelity: what the models "
            "were trained at is under Fidelities below.",
            "",
        ]
    lines += [
        f"Command: `{command or 'nas-compare'}`",
        "",
        f"Runs: {where}",
        "",
        f"{len(models)} models x {cfg.seeds} seeds (seed k of every model: the same init "
        f"stream, batch order and data). Fidelities:",
    ]
    lines += [f"- {f.describe()}" for f in fidelities.values()]
    seconds = runs["seconds"].sum()
    lines += [
        "",
        f"{len(runs)} runs, {seconds / 3600:.2f} h of training"
        + (f", {wall / 3600:.2f} h wall in the last invocation" if wall > 60 else "")
        + f"; ran on {devices_of(runs.get('device', []), prov['device'])}, git "
        f"{(prov['git'].get('sha') or 'unknown')[:12]}, "
        f"{prov['time']}. These are proxy accuracies on {cfg.data}, not ImageNet "
        f"accuracies.",
    ]
    return "\n".join(lines)


def _models_md(summary: pd.DataFrame) -> str:
    from nas.cost import format_amount

    lines = [
        "## Models",
        "",
        "| model | FLOPs (224px) | params | trained at | token grid per stage | seeds | "
        "accuracy mean ± std | 90% interval | train accuracy | train − val | s / run |",
        "|---|---:|---:|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for _, r in summary.sort_values("mean", ascending=False, na_position="last").iterrows():
        lines.append(
            f"| `{r['model']}` | {format_amount(r['flops'])} | {format_amount(r['params'], '')} "
            f"| {r['fidelity']}, {r['resolution']}px | {r['grid']} | {r['seeds']}"
            + (f" ({r['failed']} failed)" if r["failed"] else "")
            + f" | {_acc(r['mean'])} ± {_acc(r['std'])} | [{_acc(r['low'])}, {_acc(r['high'])}] "
            f"| {_acc(r['train'])} | {_acc(r['gap'])} | {_num(r['seconds'])} |"
        )
    return "\n".join(lines)


def _findings_md(findings: tuple[Finding, ...], runs: pd.DataFrame, margin: float | None) -> str:
    lines = [
        "## Findings",
        "",
        "Each comparison's paired 90% interval over seeds decides: a claim that a is more "
        "accurate (overfits more, or gains more from a change) is reproduced when the whole "
        "interval is above zero, "
        "contradicted when it is below, and inconclusive at this noise otherwise; a claim "
        'that two models are equivalent ("rivals") is reproduced when the interval lies '
        "inside ±margin and contradicted when it lies outside.",
    ]
    for f in findings:
        results = [verdict(runs, c, margin) for c in f.comparisons]
        lines += [
            "",
            f"### {f.id}: {f.claim}",
            "",
            f"**Verdict: {finding_verdict([v for v, _ in results])}.**",
            "",
        ]
        for c, (v, text) in zip(f.comparisons, results):
            lines.append(f"- {_claim(c)}: {text} → {v}")
    return "\n".join(lines)


def _claim(c: Comparison) -> str:
    if c.kind == "larger-gain" and c.base:
        return f"{c.a} gains more over {c.base[0]} than {c.b} over {c.base[1]}"
    if c.kind == "larger-gap":
        return f"{c.a} overfits more than {c.b}"
    return f"{c.a} ≈ {c.b}" if c.kind == "equivalent" else f"{c.a} > {c.b}"


def picks_vs_baselines(
    models: list[Model], summary: pd.DataFrame, runs: pd.DataFrame
) -> Iterator[tuple[pd.Series, pd.Series | None, bool, PairedDifference | None]]:
    """Each pick (a member of the first front given to `--from`) against the most accurate
    of the rest (the ARCHs given, the other fronts) of no more FLOPs; when all the rest cost
    more, against the cheapest. Yields (pick row, baseline row or None, whether the baseline
    costs more, PairedDifference)."""
    chosen = {m.name for m in models if m.pick}
    rows = summary.set_index("model", drop=False)
    picks = rows[rows["model"].isin(chosen)].sort_values("flops")
    baselines = rows[~rows["model"].isin(chosen)].dropna(subset=["mean"])
    for _, p in picks.iterrows():
        cheaper = baselines[baselines["flops"] <= p["flops"]]
        if len(cheaper):
            b, costs_more = cheaper.sort_values("mean", ascending=False).iloc[0], False
        elif len(baselines):
            b, costs_more = baselines.sort_values("flops").iloc[0], True
        else:
            yield p, None, False, None
            continue
        yield p, b, costs_more, pair(runs, p["model"], b["model"])


def _picks_md(models: list[Model], summary: pd.DataFrame, runs: pd.DataFrame) -> str:
    if all(m.pick for m in models) or not any(m.pick for m in models):
        return ""
    from nas.cost import format_amount

    lines = [
        "## The search's picks against the baselines",
        "",
        "Each member of the (first) front given to `--from` against the most accurate of the "
        "rest (the architectures given, the other fronts) of no more FLOPs; when all of them "
        "cost more, against the cheapest, marked *costs more*: pick − baseline in accuracy "
        "points, paired over seeds, with its 90% interval.",
        "",
        "| pick | FLOPs | baseline | FLOPs | pick − baseline | 90% interval | seeds | verdict |",
        "|---|---:|---|---:|---:|---|---:|---|",
    ]
    for p, b, costs_more, d in picks_vs_baselines(models, summary, runs):
        if b is None:
            lines.append(f"| `{p['model']}` | {format_amount(p['flops'])} | — | | | | | |")
            continue
        lines.append(
            f"| `{p['model']}` | {format_amount(p['flops'])} | `{b['model']}`"
            + (" (*costs more*)" if costs_more else "")
            + f" | {format_amount(b['flops'])} | {_pts(d.diff.estimate)} | "
            f"{_interval(d)} | {d.n} | {d.verdict} |"
        )
    return "\n".join(lines)


def _pairs_md(summary: pd.DataFrame, runs: pd.DataFrame, suite: Suite | None) -> str:
    ranked = summary.dropna(subset=["mean"]).sort_values("mean", ascending=False)["model"]
    ranked = list(ranked)
    if len(ranked) < 2:
        return ""
    if len(ranked) <= ALL_PAIRS_UP_TO:
        pairs, what = list(combinations(ranked, 2)), "every pair"
    else:
        pairs, what = list(pairwise(ranked)), "neighbours in the ranking"
    lines = [
        f"## Pairwise differences ({what})",
        "",
        "a − b in accuracy points, paired over seeds, with its 90% interval; "
        "'detectable' is the smallest difference these seeds at this noise would call "
        "real.",
        "",
        "| a | b | a − b | 90% interval | detectable | verdict |",
        "|---|---|---:|---|---:|---|",
    ]
    for a, b in pairs:
        d = pair(runs, a, b)
        lines.append(
            f"| `{a}` | `{b}` | {_pts(d.diff.estimate)} | {_interval(d)} | "
            f"{'—' if math.isnan(d.detectable) else f'{100 * d.detectable:.2f}'} | {d.verdict} |"
        )
    return "\n".join(lines)


def _pts(x: float) -> str:
    """A difference in accuracy points; a dash where no seed pairs up."""
    return "—" if math.isnan(x) else f"{100 * x:+.2f}"


def _interval(d: PairedDifference) -> str:
    """The 90% interval in points; a dash where the seeds paired are too few for one."""
    if math.isnan(d.diff.low):
        return "—"
    return f"[{100 * d.diff.low:+.2f}, {100 * d.diff.high:+.2f}]"


def _acc(x: float) -> str:
    return "—" if x is None or pd.isna(x) else f"{x:.3f}"


def _num(x: float) -> str:
    return "—" if x is None or pd.isna(x) else f"{x:.0f}"
