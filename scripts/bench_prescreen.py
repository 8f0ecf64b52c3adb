"""Does a pre-screen pay? Simulated searches on a tabulated benchmark with and without
`--prescreen SCORE:K`, repeated over seeds, judged by the hypervolume of the front each reports
against the compute it spent.

The scores are taken for real, on the table's data (its `# data:` line), and cost the seconds
they took; training is the table's surrogate plus its seed noise, at the table's mean seconds
per candidate (`nas.search.simulate`). Each run's quality after each trained candidate is the
hypervolume of (true accuracy, FLOPs) of the front the search would report then (chosen on its
noisy accuracies), with the reference point (chance, the budget), as in bench_samplers.py.
Resumable: runs are appended to --runs as they finish. Writes results/benchmarks/<stem>.{csv,md}.

    python scripts/bench_prescreen.py                                   # the published table
    python scripts/bench_prescreen.py --reps 2 --trials 6 --stem smoke  # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no spinning threads beside other work

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas._core import write_text_atomic
from nas.report.provenance import provenance
from nas.report.stats import kendall, mean_interval, paired_difference
from nas.search import attrs
from nas.search.feasible import FeasibleRegion
from nas.search.samplers import DEFAULT_SAMPLER
from nas.search.simulate import BenchTable, hypervolume_curve, read_bench, simulate
from nas.search.surrogate import Surrogate
from nas.space import load_space
from nas.space.spec import spec_from_dict

ROOT = Path(__file__).resolve().parents[1]
NONE = "none"  # the arm without a pre-screen
BUDGETS = (5, 10, 20)  # compute budgets, in trained candidates' worth of the table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", default=str(ROOT / "results/benchmarks/hybrid_bench.csv"))
    p.add_argument(
        "--scores",
        default="zc:nwot,zc:flops",
        help="scoring fidelities, comma-separated (zc:flops, the dearest of K, is the control)",
    )
    p.add_argument("--k", type=int, default=4, help="candidates drawn per candidate trained")
    p.add_argument(
        "--trials",
        type=int,
        default=22,
        help="trained candidates per search (the budgets go to 20 candidates' worth; the main "
        "command trains about 8)",
    )
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--sampler", default=DEFAULT_SAMPLER)
    p.add_argument("--chance", type=float, default=0.1, help="chance accuracy of the data")
    p.add_argument("--stem", default="prescreen_fmnist", help="results/benchmarks/<stem>.*")
    p.add_argument("--runs", help="default: results/bench/<stem>_runs.jsonl")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.k < 2 or args.trials < 1 or args.reps < 2:
        p.error("--k must be >= 2, --trials >= 1 and --reps >= 2")
    bench = read_bench(args.table)
    surrogate = Surrogate.fit(bench.specs, bench.frame["mean"].to_numpy(), seed=0)
    region = FeasibleRegion(load_space(bench.space), max_flops=bench.max_flops)
    arms = [NONE, *(f"{s.strip()}:{args.k}" for s in args.scores.split(",") if s.strip())]
    runs_path = Path(args.runs or ROOT / "results" / "bench" / f"{args.stem}_runs.jsonl")
    for rep in range(args.reps):
        for arm in arms:
            key = (arm, args.trials, rep, args.sampler)
            if key in _done(runs_path):
                continue
            row = one_run(bench, surrogate, region, arm=arm, rep=rep, args=args)
            _append(runs_path, row)
            print(
                f"{arm:>12} rep {rep}: HV {row['curve'][-1] / 1e9:.4f} after {row['trained']} "
                f"trained, {row['score_seconds']:.0f} s scoring",
                flush=True,
            )
    rows = [json.loads(line) for line in runs_path.read_text().splitlines() if line.strip()]
    frame = pd.DataFrame(rows)
    frame = frame[
        frame["arm"].isin(arms)
        & (frame["trials"] == args.trials)
        & (frame["sampler"] == args.sampler)
    ]
    command = "python scripts/bench_prescreen.py " + shlex.join(sys.argv[1:])
    report(frame, bench, ROOT / "results" / "benchmarks", args=args, arms=arms, command=command)


def one_run(bench: BenchTable, surrogate: Surrogate, region, *, arm: str, rep: int, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = bench.search_config(
            tmp,
            trials=args.trials,
            sampler=args.sampler,
            seed=rep,
            data=bench.header.get("data", "fashion-mnist"),
            prescreen=None if arm == NONE else arm,
        )
        sim = simulate(cfg, bench, surrogate=surrogate, region=region)
    t = sim.trials.sort_values("number")
    trained_mask = (
        t["trained"].astype(bool) & t["duplicate_of"].isna() & t["proxy_accuracy"].notna()
    )
    per_candidate = bench.seconds_per_candidate()
    spent = np.where(trained_mask, per_candidate, 0.0) + t["prescreen_seconds"].fillna(0.0)
    cost = np.cumsum(spent.to_numpy(float))[trained_mask.to_numpy()]
    trained = t[trained_mask]
    curve = hypervolume_curve(trained, max_flops=bench.max_flops, chance=args.chance)
    return {
        "arm": arm,
        "trials": args.trials,
        "rep": rep,
        "sampler": args.sampler,
        "trained": int(trained_mask.sum()),
        "scored": int(t["prescreen_seconds"].notna().sum()),
        "score_seconds": float(t["prescreen_seconds"].fillna(0.0).sum()),
        "cost": [float(c) for c in cost],
        "curve": curve,
        "score_tau": _score_tau(sim, surrogate),
    }


def _score_tau(sim, surrogate: Surrogate) -> float | None:
    """Kendall tau of the scores taken with the surrogate's accuracy of the same candidates:
    whether the score ranks like the table, over every candidate it scored."""
    scored = [
        t
        for t in sim.study.get_trials(deepcopy=False)
        if t.user_attrs.get(attrs.PRESCREEN_SCORE) is not None
        and t.user_attrs.get(attrs.PRESCREEN_SECONDS) is not None
    ]
    if len(scored) < 3:
        return None
    specs = [spec_from_dict(t.user_attrs[attrs.SPEC]) for t in scored]
    scores = [t.user_attrs[attrs.PRESCREEN_SCORE] for t in scored]
    return float(kendall(np.asarray(scores), surrogate.predict(specs)))


def hv_within(row: pd.Series, seconds: float) -> float:
    """The run's hypervolume once `seconds` of compute are spent (0 before its first
    candidate is trained)."""
    done = [hv for c, hv in zip(row["cost"], row["curve"]) if c <= seconds]
    return done[-1] if done else 0.0


def report(
    frame: pd.DataFrame, bench: BenchTable, out: Path, *, args, arms: list[str], command: str
) -> None:
    per_candidate = bench.seconds_per_candidate()
    rows = []
    reached = min(row["cost"][-1] for _, row in frame.iterrows() if row["cost"])
    for budget in BUDGETS:
        seconds = budget * per_candidate
        if seconds > reached:  # some run stopped before: its hypervolume there is unknown
            continue
        hv = {
            arm: g.set_index("rep").apply(hv_within, axis=1, seconds=seconds)
            for arm, g in frame.groupby("arm")
        }
        for arm in arms:
            m = mean_interval(hv[arm])
            row = {
                "budget_candidates": budget,
                "budget_seconds": seconds,
                "arm": arm,
                "reps": len(hv[arm]),
                "hv_mean": m.estimate,
                "hv_low": m.low,
                "hv_high": m.high,
            }
            if arm != NONE:
                d = paired_difference(hv[arm], hv[NONE])
                diff = {"diff": d.diff.estimate, "diff_low": d.diff.low, "diff_high": d.diff.high}
                row.update(diff, verdict=d.verdict)
            rows.append(row)
    table = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / f"{args.stem}.csv", table.to_csv(index=False))
    write_text_atomic(
        out / f"{args.stem}.md", _markdown(table, frame, bench, args=args, command=command)
    )


def _markdown(table: pd.DataFrame, frame: pd.DataFrame, bench: BenchTable, *, args, command):
    prov = provenance("cpu")
    git = prov["git"]
    sha = (git.get("sha") or "unknown")[:12] + (" (dirty)" if git.get("dirty") else "")
    per_candidate = bench.seconds_per_candidate()
    lines = [
        "# Does a pre-screen pay? Simulated searches with and without `--prescreen`",
        "",
        f"Command: `{command}`",
        "",
        f"Table: `{Path(bench.path).name}` ({len(bench.frame)} architectures of `{bench.space}` "
        f"within {bench.max_flops:,} FLOPs; {bench.fidelity}; data `{bench.header.get('data')}`)."
        f" Sampler `{args.sampler}`, {args.trials} trained candidates per search, K = {args.k} "
        f"drawn per candidate trained, seeds 0-{args.reps - 1}. A trained candidate costs the "
        f"table's mean {per_candidate:.1f} s; a score costs the seconds it took here (on "
        f"{prov['device']}, git {sha}).",
        "",
        "## Hypervolume at equal compute",
        "",
        "Mean over seeds with its 90% t-interval; the difference with no pre-screen is paired "
        "by seed (90% paired-t interval).",
        "",
        "| compute (candidates' worth) | arm | hypervolume [90%] | minus no pre-screen [90%] "
        "| verdict |",
        "|---:|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        hv = f"{r.hv_mean / 1e9:.4f} [{r.hv_low / 1e9:.4f}, {r.hv_high / 1e9:.4f}]"
        if r.arm == NONE:
            diff, verdict = "—", "—"
        else:
            diff = f"{r['diff'] / 1e9:+.4f} [{r.diff_low / 1e9:+.4f}, {r.diff_high / 1e9:+.4f}]"
            verdict = r.verdict
        lines.append(
            f"| {r.budget_candidates} ({r.budget_seconds / 60:.0f} min) | `{r.arm}` | {hv} | "
            f"{diff} | {verdict} |"
        )
    lines += [
        "",
        "Hypervolume in accuracy x GFLOPs (the area the front dominates above chance and below "
        "the budget).",
        "",
        "## What the scores cost and how they rank",
        "",
        "| arm | scored per search | score seconds per search | τ of the score with the "
        "table's surrogate (mean over seeds) |",
        "|---|---:|---:|---:|",
    ]
    for arm, g in frame.groupby("arm", sort=False):
        if arm == NONE:
            continue
        tau = pd.to_numeric(g["score_tau"], errors="coerce")
        lines.append(
            f"| `{arm}` | {g['scored'].mean():.0f} | {g['score_seconds'].mean():.0f} | "
            f"{tau.mean():.2f} ± {tau.std():.2f} |"
        )
    wins = table[(table.arm != NONE) & (table.verdict == "better")]
    losses = table[(table.arm != NONE) & (table.verdict == "worse")]
    lines += [
        "",
        "## Verdict",
        "",
        (
            f"A pre-screen is ahead at {len(wins)} of {len(table[table.arm != NONE])} "
            f"(arm, compute) cells on its interval and behind at {len(losses)}. "
            + (
                "It does not win at every compute level, so it stays an option, off by default."
                if len(wins) < len(table[table.arm != NONE])
                else "It wins at every compute level on this table."
            )
        ),
        "",
    ]
    return "\n".join(lines)


def _done(path: Path) -> set[tuple]:
    if not path.exists():
        return set()
    out = set()
    for line in path.read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.add((r["arm"], r["trials"], r["rep"], r["sampler"]))
    return out


def _append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
