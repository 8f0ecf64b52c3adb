"""The figures of a calibration and its report, computed from the run table alone.

Per proxy: cost per run; within-architecture seed std (pooled); the spread of architecture
means; signal/noise (their ratio); seed-vs-seed Kendall tau; Kendall tau and Spearman rho of
the proxy's mean accuracies against the reference's, with 90% bootstrap intervals over
architectures; the share of the reference's top quarter the proxy also puts there; and
tau minus the tau of the trivial ranking by FLOPs (a paired bootstrap: same resampled
architectures); and the same gain for the proxy's ranking summed with the FLOPs ranking, which
says whether the proxy adds anything to the budget's own cost (what a pre-screen among
candidates of the same budget would use). The recommendation is the cheapest proxy whose
tau interval clears the target and whose gain over FLOPs is above zero on its interval, among
those that rank at least MIN_RANKED architectures against the reference: over fewer, tau's
bootstrap interval is no guide (four architectures in the right order give [1, 1]) and no
proxy is recommended.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from nas._core import write_text_atomic
from nas.cost import format_amount
from nas.report import stats
from nas.report.stats import Interval

TARGET_TAU = 0.7
MIN_RANKED = 8  # architectures ranked by a proxy and the reference before one is recommended


@dataclass(frozen=True)
class ProxyFigures:
    name: str
    fidelity_id: str
    runs: int
    failed: int
    archs: int
    ranked: int  # architectures with a mean under this fidelity and the reference: tau's n
    seconds: float
    within_std: float
    repeated: int  # architectures with several seeds: what within_std is pooled over
    between_std: float
    snr: float
    seed_tau: float
    tau: Interval
    rho: Interval
    top_overlap: float
    gain_over_flops: Interval
    gain_with_flops: Interval  # tau of the rank sum with FLOPs minus tau of FLOPs alone
    sum_over_proxy: Interval  # tau of that rank sum minus tau of the proxy alone

    def clears(self, target: float) -> bool:
        return self.tau.low >= target and self.gain_over_flops.low > 0


@dataclass
class Calibration:
    proxies: list[ProxyFigures]
    reference: ProxyFigures | None
    baselines: dict[str, Interval]
    target: float
    pick: ProxyFigures | None = None
    notes: list[str] = field(default_factory=list)
    withheld: str = ""  # why no proxy is recommended although one may clear the target


def compute(
    runs: pd.DataFrame,
    *,
    reference_id: str,
    proxy_ids: list[str],
    target: float = TARGET_TAU,
    min_ranked: int = MIN_RANKED,
) -> Calibration:
    """`runs`: a run table's frame (arch_id, fidelity, fidelity_id, seed, status, accuracy,
    seconds, flops, params). A proxy is recommended only over `min_ranked` architectures."""
    runs = runs.copy()
    runs["accuracy"] = pd.to_numeric(runs["accuracy"], errors="coerce")
    ref_runs = runs[runs["fidelity_id"] == reference_id]
    ref = stats.per_arch(ref_runs)["mean"] if len(ref_runs) else pd.Series(dtype=float)
    costs = runs.drop_duplicates("arch_id").set_index("arch_id")[["flops", "params"]]
    cal = Calibration([], None, {}, target)
    for axis in ("flops", "params"):
        both = pd.concat([costs[axis].astype(float), ref], axis=1, join="inner").dropna()
        cal.baselines[axis] = stats.bootstrap(stats.kendall, both.iloc[:, 0], both.iloc[:, 1])
    for fid in proxy_ids:
        part = runs[runs["fidelity_id"] == fid]
        if len(part):
            cal.proxies.append(_figures(part, ref, costs))
    if len(ref_runs):
        cal.reference = _figures(ref_runs, ref, costs)
    fits = [p for p in cal.proxies if p.clears(target) and p.ranked >= min_ranked]
    cal.pick = min(fits, key=lambda p: p.seconds) if fits else None
    ranked = max((p.ranked for p in cal.proxies), default=0)
    if cal.proxies and ranked < min_ranked:
        cal.withheld = (
            f"only {ranked} architecture(s) ranked by both a proxy and the reference, fewer "
            f"than {min_ranked}"
        )
    return cal


def _figures(part: pd.DataFrame, ref: pd.Series, costs: pd.DataFrame) -> ProxyFigures:
    arch = stats.per_arch(part)
    both = pd.concat(
        [arch["mean"].rename("p"), ref.rename("r"), costs["flops"].astype(float).rename("f")],
        axis=1,
        join="inner",
    ).dropna()
    p, r, f = (both[c].to_numpy() for c in ("p", "r", "f"))
    seconds = pd.to_numeric(part["seconds"], errors="coerce")
    repeated = int((part[part["status"] == "ok"].groupby("arch_id")["seed"].nunique() > 1).sum())
    return ProxyFigures(
        name=str(part["fidelity"].iloc[0]),
        fidelity_id=str(part["fidelity_id"].iloc[0]),
        runs=len(part),
        failed=int((part["status"] != "ok").sum()),
        archs=len(arch),
        ranked=len(p),
        seconds=float(seconds.mean()),
        within_std=stats.pooled_std(part),
        repeated=repeated,
        between_std=stats.between_std(part),
        # one architecture's seeds are too few to call a ratio (it can come out as 100)
        snr=stats.signal_to_noise(part) if repeated > 1 else math.nan,
        seed_tau=stats.seed_vs_seed_tau(part),
        tau=stats.bootstrap(stats.kendall, p, r),
        rho=stats.bootstrap(stats.spearman, p, r),
        top_overlap=stats.top_overlap(p, r) if len(p) else math.nan,
        gain_over_flops=stats.bootstrap(
            lambda a, b, c: stats.kendall(a, b) - stats.kendall(c, b), p, r, f
        ),
        gain_with_flops=stats.bootstrap(
            lambda a, b, c: stats.kendall(stats.rank_sum(a, c), b) - stats.kendall(c, b),
            p,
            r,
            f,
        ),
        sum_over_proxy=stats.bootstrap(
            lambda a, b, c: stats.kendall(stats.rank_sum(a, c), b) - stats.kendall(a, b),
            p,
            r,
            f,
        ),
    )


# --- the report --------------------------------------------------------------------------------


def write_report(
    out: Path,
    *,
    cal: Calibration,
    runs: pd.DataFrame,
    header: list[str],
    descriptions: dict[str, str],
    proxies: dict[str, dict],
) -> None:
    """calibration.md (and recommended.yaml when a proxy clears the target)."""
    parts = [
        "\n".join(header),
        _figures_table(cal, descriptions),
        _recommendation(cal),
        _arch_table(runs, cal),
        _definitions(cal),
    ]
    write_text_atomic(out / "calibration.md", "\n\n".join(p for p in parts if p) + "\n")
    recommended = out / "recommended.yaml"
    if cal.pick is not None:
        fields = dict(proxies[cal.pick.fidelity_id])
        text = (
            f"# Recommended by nas-calibrate ({out / 'calibration.md'}): Kendall tau "
            f"{cal.pick.tau} against the reference, {cal.pick.seconds:.0f}s per run.\n"
            f"# Use it with: nas-search --proxy {recommended}\n"
        )
        write_text_atomic(recommended, text + yaml.safe_dump(fields, sort_keys=False))
    elif recommended.exists():
        recommended.unlink()


def _num(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    text = f"{x:.{digits}f}"
    return f"{x:.6f}".rstrip("0") if x != 0 and float(text) == 0 else text  # not 0.000


def _figures_table(cal: Calibration, descriptions: dict[str, str]) -> str:
    lines = [
        "## Figures",
        "",
        "| proxy | s / run | runs (failed) | seed std | spread of means | signal/noise | "
        "seed-vs-seed τ | τ vs reference [90%] | ρ vs reference [90%] | top-¼ overlap | "
        "τ − τ(FLOPs) [90%] | with FLOPs: τ − τ(FLOPs) [90%] |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---:|---|---|",
    ]
    rows = [*cal.proxies, *([cal.reference] if cal.reference else [])]
    for p in rows:
        is_ref = cal.reference is not None and p is cal.reference
        lines.append(
            f"| `{p.name}`{' (reference)' if is_ref else ''} | {p.seconds:.0f} | {p.runs} "
            f"({p.failed}) | {_num(p.within_std)} | {_num(p.between_std)} | {_num(p.snr, 1)} | "
            f"{_num(p.seed_tau, 2)} | {'—' if is_ref else p.tau} | {'—' if is_ref else p.rho} "
            f"| {'—' if is_ref else _num(p.top_overlap, 2)} | "
            f"{'—' if is_ref else p.gain_over_flops} | "
            f"{'—' if is_ref else p.gain_with_flops} |"
        )
    for axis, tau in cal.baselines.items():
        lines.append(
            f"| ranking by {axis} (baseline) | 0 | — | — | — | — | — | {tau} | — | — | — | — |"
        )
    lines += ["", *[f"- `{name}`: {text}" for name, text in descriptions.items()]]
    return "\n".join(lines)


def _recommendation(cal: Calibration) -> str:
    lines = ["## Recommendation", ""]
    if cal.pick is not None:
        p = cal.pick
        lines.append(
            f"**`{p.name}`**: the cheapest proxy ({p.seconds:.0f}s per run) whose "
            f"Kendall τ against the reference clears {cal.target} on its 90% interval "
            f"({p.tau}) and beats the ranking by FLOPs (gain {p.gain_over_flops}). "
            f"Use it with `--proxy recommended.yaml`."
        )
    elif cal.withheld:
        lines.append(
            f"None: {cal.withheld}. A Kendall τ over so few cannot tell a proxy that ranks "
            f"well from luck (in the right order by chance, four architectures give τ 1 and "
            f"an interval of [1, 1]), so no `recommended.yaml` is written. Calibrate with "
            f"`--archs` {MIN_RANKED} or more, or let the runs finish."
        )
    elif cal.proxies:
        best = max(
            cal.proxies, key=lambda p: -math.inf if math.isnan(p.tau.estimate) else p.tau.estimate
        )
        lines.append(
            f"No proxy of this ladder clears τ ≥ {cal.target} against the reference on "
            f"its 90% interval while beating the ranking by FLOPs. The best is "
            f"`{best.name}` (τ {best.tau} over {best.ranked} architectures, gain over FLOPs "
            f"{best.gain_over_flops}): treat its ranking as indicative; {_ties(best)}."
        )
        flops = cal.baselines.get("flops")
        if flops is not None and flops.estimate > best.tau.estimate:
            lines.append(
                f"The ranking by FLOPs (τ {flops}) is ahead of it: on this space and data "
                f"the budget's own cost orders the architectures better than any proxy here."
            )
        if combined := _combined(cal.proxies):
            lines.append(combined)
    else:
        lines.append("No proxy has finished runs yet.")
    if cal.reference is not None and not math.isnan(cal.reference.within_std):
        lines.append("")
        lines.append(
            f"The reference's own seed std is {_num(cal.reference.within_std)} "
            f"(pooled over the {cal.reference.repeated} architecture(s) trained with several "
            f"seeds so far): "
            f"reference accuracies closer than that are not ordered by it either, "
            f"which caps the τ any proxy can reach."
        )
    lines += ["", *cal.notes]
    return "\n".join(lines).rstrip()


def _combined(proxies: list[ProxyFigures]) -> str:
    """Whether any proxy adds to the FLOPs ranking when the two are summed, and whether the
    sum is then the ranking to use (it must beat the proxy alone too: with a FLOPs ranking
    that is backwards, any good proxy 'adds' to it)."""
    measured = [p for p in proxies if not math.isnan(p.gain_with_flops.low)]
    if not measured:
        return ""
    best = max(measured, key=lambda p: p.gain_with_flops.estimate)
    if best.gain_with_flops.low <= 0:
        return (
            f"Summed with the FLOPs ranking (rank sum), no proxy is shown to add to it on its "
            f"interval; the closest is `{best.name}` (gain {best.gain_with_flops})."
        )
    text = f"Summed with the FLOPs ranking, `{best.name}` adds to it (gain {best.gain_with_flops})"
    if best.sum_over_proxy.low > 0:
        return (
            f"{text}, and the sum also ranks better than `{best.name}` alone (gain "
            f"{best.sum_over_proxy}): as a pre-screen among candidates of one budget, rank "
            f"them by the sum of the two ranks."
        )
    return (
        f"{text}, but the sum is not shown to rank better than `{best.name}` alone (gain "
        f"{best.sum_over_proxy})."
    )


def _ties(p: ProxyFigures) -> str:
    """What a difference between two candidates under `p` means, from its seed noise."""
    if math.isnan(p.within_std):  # no architecture with two seeds
        return "its seed noise is not measured yet (one seed per architecture)"
    if p.within_std == 0:
        return "its score does not change with the seed"
    return (
        f"differences between candidates smaller than about {_num(2 * p.within_std, 3)} "
        f"(twice its seed std) are ties"
    )


def _arch_table(runs: pd.DataFrame, cal: Calibration) -> str:
    rows = [*cal.proxies, *([cal.reference] if cal.reference else [])]
    if not rows:
        return ""
    runs = runs.copy()
    runs["accuracy"] = pd.to_numeric(runs["accuracy"], errors="coerce")
    first = runs.drop_duplicates("arch_id").set_index("arch_id")
    head = (
        "| architecture | arch_id | FLOPs | params | "
        + " | ".join(f"`{p.name}`" for p in rows)
        + " |"
    )
    lines = [
        "## Architectures (mean ± std over seeds)",
        "",
        head,
        "|---|---|---:|---:|" + "---:|" * len(rows),
    ]
    order = first.sort_values("flops").index
    for arch in order:
        cells = []
        for p in rows:
            acc = runs[(runs["arch_id"] == arch) & (runs["fidelity_id"] == p.fidelity_id)][
                "accuracy"
            ].dropna()
            cells.append(
                "—"
                if acc.empty
                else f"{acc.mean():.3f}" + (f" ± {acc.std():.3f}" if len(acc) > 1 else "")
            )
        r = first.loc[arch]
        lines.append(
            f"| {r['label']} | `{arch}` | {format_amount(r['flops'])} | "
            f"{format_amount(r['params'], '')} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def _definitions(cal: Calibration) -> str:
    return "\n".join(
        [
            "## How to read this",
            "",
            "- seed std: within-architecture standard deviation over seeds (model init and "
            "batch order; the data subset is fixed), pooled over architectures.",
            "- spread of means: standard deviation of the architectures' mean accuracies; "
            "signal/noise is spread / seed std.",
            "- seed-vs-seed τ: Kendall τ-b between the rankings of two seeds, averaged over "
            "pairs of seeds.",
            "- τ, ρ vs reference: Kendall τ-b and Spearman ρ between the proxy's mean accuracy "
            "and the reference's, with 90% percentile-bootstrap intervals over architectures "
            f"({stats.BOOTSTRAP} resamples).",
            "- top-¼ overlap: share of the reference's best quarter that the proxy also ranks "
            "in its best quarter.",
            f"- a proxy is recommended when the low end of its τ interval is ≥ {cal.target} "
            "and the low end of its gain over the FLOPs ranking (paired bootstrap) is > 0.",
            "- with FLOPs: the proxy's ranking and the FLOPs ranking summed (rank sum), its τ "
            "minus the FLOPs ranking's on the same resamples: above zero on its interval, the "
            "proxy adds to what the cost alone tells (a pre-screen's question). A proxy that "
            "ranks exactly against FLOPs sums to a constant: n/a.",
        ]
    )
