"""summary.md: a human summary of a results folder, rebuilt from its files alone.

`write_summary(out_dir)` reads `run.yaml`, `trials.csv`, `pareto.csv` and, when present,
`fidelity.md` (written by `nas-train`'s proxy-fidelity report), so any tool that adds a file
can refresh the summary by calling it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from nas._core import write_text_atomic as write_text
from nas.cost import format_amount

from .study_folder import StudyFolder
from .tables import OBJECTIVE_COLUMNS, front_title

SUPERNET_NOISE = (
    "a supernet's score does not depend on the seed; its noise lies between trainings of "
    "the supernet and is not measured by a search"
)


def write_summary(out_dir: str | os.PathLike) -> Path:
    folder = StudyFolder(out_dir)
    out = folder.root
    run = folder.run()
    trials = folder.trials()
    pareto = folder.pareto()
    parts = [_header(run, out)]
    if trials is not None:
        parts.append(_status(trials))
    if pareto is not None:
        objectives = run.get("config", {}).get("objectives") or ("accuracy", "flops")
        supernet = bool(run.get("config", {}).get("proxy", {}).get("supernet"))
        parts.append(_front(pareto, folder, objectives, trials, supernet=supernet))
    if trials is not None:
        parts.append(_trend(trials, run, out))
        parts.append(_failures(trials))
    if folder.fidelity_md.exists():
        parts.append(folder.fidelity_md.read_text().strip())
    return write_text(folder.summary_md, "\n\n".join(p for p in parts if p) + "\n")


def _header(run: dict[str, Any], out: Path) -> str:
    cfg = run.get("config", {})
    prov = run.get("provenance", {})
    title = f"# Search {cfg.get('study_name', out.name)}"
    if cfg:
        title += (
            f": space `{cfg.get('space')}` within {cfg.get('budget')} at {cfg.get('resolution')}px"
        )
    lines = [title, ""]
    if cfg:
        proxy = cfg.get("proxy", {})
        what = (
            f"a trained supernet: each candidate's subnet scored with its inherited weights on "
            f"{proxy.get('val_images')} held-out images of {cfg.get('data')} at "
            f"{proxy.get('resolution')}px"
            if proxy.get("supernet")
            else f"{proxy.get('epochs')} epochs, {proxy.get('resolution')}px, "
            f"{proxy.get('train_images')} train / {proxy.get('val_images')} val images of "
            f"{cfg.get('data')}"
        )
        lines.append(
            f"Objectives {', '.join(cfg.get('objectives', []))}; sampler {cfg.get('sampler')}, "
            f"pruner {cfg.get('pruner')}; proxy `{proxy.get('name')}` ({what}); seed "
            f"{cfg.get('seed')}."
        )
    budget = run.get("budget")
    fitting = budget.get("fitting") if isinstance(budget, dict) else None
    if fitting:
        lines.append(f"Architectures of the space within the budget: {fitting}.")
    if prov:
        git = prov.get("git", {})
        sha = (git.get("sha") or "unknown")[:12] + (" (dirty)" if git.get("dirty") else "")
        lines.append(f"Run on {prov.get('device')} at {prov.get('time')}, git {sha}.")
    return "\n".join(lines)


def _status(df: pd.DataFrame) -> str:
    state = df["state"]

    def flag(col: str) -> pd.Series:
        return df[col].astype(str).eq("True") if col in df else pd.Series(False, df.index)

    dup = df["duplicate_of"].notna() if "duplicate_of" in df else pd.Series(False, df.index)
    over = df["feasible"].astype(str).eq("False") if "feasible" in df else dup & False
    n = {
        "trained to the end of the proxy": flag("trained") & (state == "COMPLETE") & ~dup,
        "stopped early": (state == "PRUNED") & ~dup,
        "failed": state == "FAIL",
        "over budget (never trained)": over,
        "repeated architectures (result reused)": dup,
        "running": state == "RUNNING",
    }
    counts = ", ".join(f"{int(mask.sum())} {what}" for what, mask in n.items())
    lines = ["## Status", "", f"{len(df)} trials: {counts}."]
    acc = pd.to_numeric(df["proxy_accuracy"], errors="coerce")
    done = acc.where(state == "COMPLETE")
    if done.notna().any():
        best = df.loc[done.idxmax()]
        lines.append(
            f"Best proxy accuracy {best['proxy_accuracy']:.4f}: trial "
            f"#{best['number']}, {format_amount(best['flops'])}, `{best['arch_id']}`."
        )
    return "\n".join(lines)


def _front(
    pareto: pd.DataFrame,
    folder: StudyFolder,
    objectives: list[str] | tuple[str, ...],
    trials: pd.DataFrame | None = None,
    *,
    supernet: bool = False,
) -> str:
    lines = [f"## Pareto front ({front_title(objectives)})", ""]
    if pareto.empty:
        return "\n".join([*lines, "No feasible trained candidate yet."])
    sigma, repeated, measured = seed_noise(trials if trials is not None else pareto)
    verdicts = front_ties(pareto, objectives=objectives, sigma=sigma)
    latency = "latency" in objectives and "latency_ms" in pareto
    lines += [
        "| trial | arch_id | FLOPs | params | "
        + ("latency (ms) | " if latency else "")
        + "proxy accuracy (mean ± std, seeds) | against cheaper members | "
        "architecture |",
        "|---:|---|---:|---:|" + ("---:|" if latency else "") + "---:|---|---|",
    ]
    for _, r in pareto.iterrows():
        ms = f"{r['latency_ms']:.3g} | " if latency else ""
        lines.append(
            f"| {r['number']} | [`{r['arch_id']}`]({_link(folder, r['arch_id'])}) | "
            f"{format_amount(r['flops'])} | {format_amount(r['params'], '')} | {ms}"
            f"{_accuracy(r)} | {verdicts.get(r['number'], '')} | "
            f"{_cell(r.get('summary', ''))} |"
        )
    if supernet:  # one scoring per candidate: a second seed would give the same score
        source = f"assumed ({SUPERNET_NOISE})"
    elif measured:
        source = f"measured in this study over {repeated} candidates with 2+ seeds"
    else:
        source = f"assumed ({repeated} candidates with 2+ seeds are too few to measure it)"
    lines += [
        "",
        f"Seed noise: std {sigma:.4f}, {source}. A member is better than a cheaper "
        f"one when its mean accuracy is higher by more than {TIE_Z:g} standard errors "
        f"of the difference (std x sqrt(1/n1 + 1/n2), n = seeds); otherwise the two "
        f"are a tie at this noise, and the cheaper one is the safer pick.",
        "",
        f"Specs of the front: `{folder.archs_dir}/<arch_id>.yaml` (`nas-flops` and "
        f"`build_model` load them).",
    ]
    return "\n".join(lines)


TIE_Z = 2.0  # standard errors of a difference that make it more than noise


MIN_TREND = 8  # candidates trained to the end before their trend with FLOPs is reported


def _trend(trials: pd.DataFrame, run: dict[str, Any], out: Path) -> str:
    """How the proxy's accuracy moves with FLOPs over the trained candidates. A short proxy
    can favour small networks that a full training ranks lower (on CIFAR-10 the search's
    candidates fell with FLOPs, tau -0.56, where the reference rose, +0.57: the README's
    "Does the search beat the seeds?"); the front then sits at the cheap end, and only a
    reference training of its picks says whether that is true."""
    from nas.report.stats import bootstrap, kendall

    done = _completed(trials)
    acc = pd.to_numeric(done.get("proxy_accuracy"), errors="coerce")
    flops = pd.to_numeric(done.get("flops"), errors="coerce")
    keep = acc.notna() & flops.notna()
    if int(keep.sum()) < MIN_TREND:
        return ""
    tau = bootstrap(kendall, flops[keep].to_numpy(), acc[keep].to_numpy())
    if tau.high < 0:
        reading = (
            "the proxy favours the smaller networks, so the front leans to the budget's cheap "
            "end. Short training often does; whether a full training agrees"
        )
    elif tau.low > 0:
        reading = "accuracy rises with FLOPs under this proxy. Whether the ranking holds"
    else:
        reading = "no trend with FLOPs is shown at this count. Whether the ranking holds"
    cfg = run.get("config", {})
    return "\n".join(
        [
            "## Accuracy against FLOPs",
            "",
            f"Over the {int(keep.sum())} candidates trained to the end, proxy accuracy against "
            f"FLOPs: Kendall tau {tau} (90% bootstrap interval over candidates): {reading} is "
            f"what `nas-compare --from {out} --top 3 --proxy reference --data "
            f"{cfg.get('data', 'fashion-mnist')}` measures (`reference`: the data's reference "
            f"preset).",
        ]
    )


def _link(folder: StudyFolder, arch_id: str) -> str:
    """The member's spec file, relative to summary.md."""
    return folder.arch_path(arch_id).relative_to(folder.root).as_posix()


def _accuracy(r: pd.Series) -> str:
    seeds = r.get("seeds")
    std = r.get("proxy_accuracy_std")
    n = int(seeds) if seeds is not None and not pd.isna(seeds) else 1
    spread = f" ± {std:.4f}" if std is not None and not pd.isna(std) else ""
    return f"{r['proxy_accuracy']:.4f}{spread} ({n})"


def _completed(trials: pd.DataFrame) -> pd.DataFrame:
    """The candidates trained to the end, each once (a repeated architecture reuses a result)."""
    done = trials[trials["state"] == "COMPLETE"]
    return done[done["duplicate_of"].isna()] if "duplicate_of" in done else done


def seed_noise(trials: pd.DataFrame) -> tuple[float, int, bool]:
    """`stats.study_noise` of the `seed_accuracies` column (the search's rule, from files)."""
    from nas.report.stats import study_noise

    rows = []
    if "seed_accuracies" in trials:
        for _, r in _completed(trials).dropna(subset=["seed_accuracies"]).iterrows():
            rows += [
                {"arch_id": r["arch_id"], "seed": k, "accuracy": float(v)}
                for k, v in enumerate(str(r["seed_accuracies"]).split(";"))
            ]
    return study_noise(pd.DataFrame(rows, columns=["arch_id", "seed", "accuracy"]))


def front_ties(
    pareto: pd.DataFrame, *, objectives: list[str] | tuple[str, ...], sigma: float
) -> dict[int, str]:
    """trial number -> how it compares with the best front member that costs no more than it
    in every cost objective: better by more than the noise, or a tie."""
    costs = [OBJECTIVE_COLUMNS[o][0] for o in objectives if o != "accuracy"]
    out: dict[int, str] = {}
    rows = list(pareto.iterrows())
    for _, r in rows:
        cheaper = [
            c
            for _, c in rows
            if c["number"] != r["number"]
            and all(c[k] <= r[k] for k in costs)
            and c["proxy_accuracy"] <= r["proxy_accuracy"]
        ]
        if not cheaper:
            out[r["number"]] = "cheapest" if costs else ""
            continue
        best = max(cheaper, key=lambda c: c["proxy_accuracy"])
        diff = r["proxy_accuracy"] - best["proxy_accuracy"]
        se = sigma * math.sqrt(1 / _seeds(r) + 1 / _seeds(best))
        out[r["number"]] = f"+{diff:.4f} over #{int(best['number'])}: " + (
            "better" if diff > TIE_Z * se else "tie at this noise"
        )
    return out


def _seeds(r: pd.Series) -> int:
    n = r.get("seeds")
    return int(n) if n is not None and not pd.isna(n) and int(n) > 0 else 1


def _failures(df: pd.DataFrame) -> str:
    failed = df[df["state"] == "FAIL"]
    if failed.empty:
        return ""
    lines = ["## Failures", "", "| trial | reason |", "|---:|---|"]
    for _, r in failed.iterrows():
        lines.append(f"| {r['number']} | {_cell(r.get('failure'))} |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    """Text for a markdown table cell."""
    return "" if value is None or pd.isna(value) else str(value).replace("|", "\\|")
