"""Did the proxy rank the architectures right? Proxy accuracy against full-training accuracy.

A search trusts a cheap proxy (a few epochs, small images) to order architectures. Once two or
more of a study's picks are fully trained, this measures that trust: Kendall's tau and
Spearman's rho between the two accuracies, the share of pairs the proxy ordered right, the
overlap of the top-k sets and the regret (full top-1 points lost by taking the proxy's best).

Inputs (the study folder's contract): trials.csv (`arch_id`, `state`, `proxy_accuracy`) and
full_training.csv (`arch_id`, `top1`). Outputs: fidelity.csv (one row per measure) and
fidelity.md (the measures, a verdict and the side-by-side table; summary.md includes it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import pandas as pd

from nas._core import write_text_atomic

from .stats import kendall_test, spearman_test
from .study_folder import StudyFolder
from .summary import write_summary
from .writer import reports_lock

TOP_K = (1, 3, 5, 10)


@dataclass(frozen=True)
class RankAgreement:
    """How well the proxy's order agreed with full training's (not to be confused with
    `nas.evaluate.Fidelity`, a run's identity)."""

    table: pd.DataFrame  # arch_id, flops, proxy_accuracy, top1, proxy_rank, full_rank
    kendall_tau: float
    kendall_p: float
    spearman_rho: float
    spearman_p: float
    pairs_right: int  # pairs the proxy ordered as full training did
    pairs: int  # pairs with a strict order in both
    top_k_overlap: dict[int, int | None]  # k -> architectures in both top-k sets; None: a
    #                                       tie across rank k leaves a top-k set undefined
    regret: float  # best full top-1 minus that of the proxy's best (points;
    #                            the mean of those tied for the proxy's best)

    @property
    def n(self) -> int:
        return len(self.table)

    def measures(self) -> pd.DataFrame:
        rows = [
            ("kendall_tau", self.kendall_tau, self.kendall_p),
            ("spearman_rho", self.spearman_rho, self.spearman_p),
            (
                "pairwise_agreement",
                self.pairs_right / self.pairs if self.pairs else math.nan,
                math.nan,
            ),
        ]
        rows += [
            (f"top{k}_overlap", math.nan if v is None else v / k, math.nan)
            for k, v in self.top_k_overlap.items()
        ]
        rows.append(("regret_top1_points", self.regret, math.nan))
        out = pd.DataFrame(rows, columns=["measure", "value", "p_value"])
        out["n"] = self.n
        return out


def proxy_fidelity(proxy: pd.DataFrame, full: pd.DataFrame) -> RankAgreement | None:
    """proxy: `arch_id`, `proxy_accuracy` (repeats averaged); full: `arch_id`, `top1` (the last
    row of an architecture counts). None when fewer than two architectures have both."""
    p = (
        proxy.dropna(subset=["proxy_accuracy"])
        .groupby("arch_id", as_index=False)
        .agg(
            proxy_accuracy=("proxy_accuracy", "mean"),
            **({"flops": ("flops", "first")} if "flops" in proxy else {}),
        )
    )
    f = full.dropna(subset=["top1"]).drop_duplicates("arch_id", keep="last")
    table = p.merge(f[["arch_id", "top1"]], on="arch_id")
    if len(table) < 2:
        return None
    table["proxy_rank"] = _ranks(table, "proxy_accuracy")
    table["full_rank"] = _ranks(table, "top1")
    table = table.sort_values("full_rank").reset_index(drop=True)
    # constant inputs: nan, reported as undefined; tau-b, as everywhere in nas
    tau, tau_p = kendall_test(table.proxy_accuracy, table.top1)
    rho, rho_p = spearman_test(table.proxy_accuracy, table.top1)
    right, pairs = _pair_agreement(table.proxy_accuracy.tolist(), table.top1.tolist())
    ks = [k for k in TOP_K if k < len(table)] or [1]
    overlap = {k: _overlap(table, k) for k in ks}
    # several tied for the proxy's best: any could have been picked, so their mean counts
    proxy_best = table.loc[table.proxy_accuracy == table.proxy_accuracy.max(), "top1"].mean()
    return RankAgreement(
        table,
        float(tau),
        float(tau_p),
        float(rho),
        float(rho_p),
        right,
        pairs,
        overlap,
        float(table.top1.max() - proxy_best),
    )


def _ranks(table: pd.DataFrame, column: str) -> pd.Series:
    """1 = best; ties broken by arch_id so the top-k sets are well defined."""
    order = table.sort_values([column, "arch_id"], ascending=[False, True]).index
    return pd.Series(range(1, len(table) + 1), index=order).reindex(table.index)


def _overlap(table: pd.DataFrame, k: int) -> int | None:
    """Architectures in both top-k sets; None when either accuracy ties across rank k, where
    which architectures make the top k is only the tie-break's (arch_id) choice."""
    if _tied_across(table.proxy_accuracy, k) or _tied_across(table.top1, k):
        return None
    return len(_top(table, "proxy_rank", k) & _top(table, "full_rank", k))


def _tied_across(values: pd.Series, k: int) -> bool:
    ranked = values.sort_values(ascending=False).to_numpy()
    return k < len(ranked) and ranked[k - 1] == ranked[k]


def _top(table: pd.DataFrame, rank_column: str, k: int) -> set[str]:
    return set(table.loc[table[rank_column] <= k, "arch_id"])


def _pair_agreement(a: list[float], b: list[float]) -> tuple[int, int]:
    right = pairs = 0
    for i, j in combinations(range(len(a)), 2):
        da, db = a[i] - a[j], b[i] - b[j]
        if da and db:
            pairs += 1
            right += (da > 0) == (db > 0)
    return right, pairs


def study_fidelity(study_dir: str | Path) -> RankAgreement | None:
    """The fidelity of a study folder's proxy, from its trials.csv and full_training.csv."""
    folder = StudyFolder(study_dir)
    trials, full = folder.trials(), folder.full_training()
    if trials is None or full is None:
        return None
    if "state" in trials:
        trials = trials[trials.state.astype(str).str.upper() == "COMPLETE"]
    return proxy_fidelity(trials, full)


def write_fidelity(study_dir: str | Path) -> RankAgreement | None:
    """Write fidelity.csv and fidelity.md (when two or more picks have full results) and
    refresh the study's summary.md, under the study folder's report lock (a search may still
    be rewriting its summary)."""
    folder = StudyFolder(study_dir)
    with reports_lock(folder.root):
        fid = study_fidelity(folder.root)
        if fid is None:
            return None
        write_text_atomic(folder.fidelity_csv, fid.measures().to_csv(index=False))
        write_text_atomic(folder.fidelity_md, fidelity_markdown(fid))
        write_summary(folder.root)
    return fid


def verdict(fid: RankAgreement) -> str:
    tau = fid.kendall_tau
    if math.isnan(tau):
        text = "undefined: every architecture has the same proxy or full accuracy."
    elif tau >= 0.6:
        text = "strong: the proxy orders these architectures much as full training does."
    elif tau >= 0.3:
        text = (
            "moderate: trust the proxy to separate good from poor architectures, not to "
            "pick the single best; fully train the top few."
        )
    else:
        text = (
            "weak: the proxy's order says little about full accuracy here; lengthen the "
            "proxy (more epochs, higher resolution) before trusting a search."
        )
    if fid.n < 5:
        text += (
            f" With only {fid.n} architectures this is indicative, not significant; "
            f"train more picks (`nas-train --from STUDY --top K`)."
        )
    return text


def fidelity_markdown(fid: RankAgreement) -> str:
    pairs = (
        f"{fid.pairs_right / fid.pairs:.0%} ({fid.pairs_right} of {fid.pairs} pairs)"
        if fid.pairs
        else "n/a"
    )
    lines = [
        "## Proxy fidelity",
        "",
        f"How well the proxy ranked the {fid.n} fully trained architectures "
        f"(proxy accuracy against full top-1).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| Kendall τ | {_num(fid.kendall_tau)} (p = {_num(fid.kendall_p, 2)}) |",
        f"| Spearman ρ | {_num(fid.spearman_rho)} (p = {_num(fid.spearman_p, 2)}) |",
        f"| pairs in the right order | {pairs} |",
    ]
    lines += [
        f"| top-{k} overlap | "
        + (f"{v} of {k} |" if v is not None else f"n/a (accuracies tie across rank {k}) |")
        for k, v in fid.top_k_overlap.items()
    ]
    lines += [
        f"| regret of the proxy's best | {fid.regret:.2f} points of top-1 |",
        "",
        f"Verdict: {verdict(fid)}",
        "",
        "| arch_id | MFLOPs | proxy accuracy | proxy rank | full top-1 (%) | full rank |",
        "|---|---|---|---|---|---|",
    ]
    for r in fid.table.itertuples():
        mflops = f"{r.flops / 1e6:,.4g}" if "flops" in fid.table and pd.notna(r.flops) else ""
        lines.append(
            f"| {r.arch_id} | {mflops} | {r.proxy_accuracy:.4f} | {r.proxy_rank} | "
            f"{r.top1:.2f} | {r.full_rank} |"
        )
    return "\n".join(lines) + "\n"


def _num(v: float, digits: int = 3) -> str:
    return "n/a" if math.isnan(v) else f"{v:.{digits}f}"
