"""Which sampler, how many trials: simulated searches of the hybrid space at 4 GFLOPs on the
tabulated benchmark (results/benchmarks/hybrid_bench.csv), every sampler of `--sampler`
repeated at 20, 50 and 200 trials (start-up trials and NSGA populations scale with --trials,
so each length is its own run, not a prefix of a longer one).

Each run's quality is the hypervolume of (accuracy, FLOPs) of the front it reports (chosen on
the noisy simulated accuracies, as a real search chooses), computed on the surrogate's
noise-free accuracies, with the reference point (chance accuracy, the budget). Writes
results/benchmarks/samplers.{csv,md,png}; runs are appended to --runs as they finish, so an
interrupted benchmark continues where it stopped.

    python scripts/bench_samplers.py                              # the table in the README
    python scripts/bench_samplers.py --reps 2 --trials 20 --samplers tpe,random   # smoke
    python scripts/bench_samplers.py --table results/benchmarks/hybrid_bench_cifar10.csv \
        --stem samplers_cifar10                                    # on the CIFAR-10 table
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas._core import write_atomic, write_text_atomic
from nas.report.provenance import provenance
from nas.search.feasible import FeasibleRegion
from nas.search.samplers import DEFAULT_SAMPLER, SAMPLERS
from nas.search.simulate import hypervolume_curve, read_bench, simulate
from nas.search.surrogate import Surrogate
from nas.space import load_space

ROOT = Path(__file__).resolve().parents[1]
CHANCE = 0.1  # ten classes (Fashion-MNIST, CIFAR-10); a CIFAR-100 table would need 0.01


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", default=str(ROOT / "results/benchmarks/hybrid_bench.csv"))
    p.add_argument("--samplers", default="tpe,nsga2,nsga3,gp,random,qmc")
    p.add_argument("--trials", default="20,50,200")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument(
        "--first-rep",
        type=int,
        default=0,
        help="start at this repetition (a second process can take the later ones: runs "
        "another process finished are skipped)",
    )
    p.add_argument("--runs", help="default: results/bench/<stem>_runs.jsonl")
    p.add_argument("--out", default=str(ROOT / "results/benchmarks"))
    p.add_argument("--stem", default="samplers", help="<out>/<stem>.{csv,md,png}")
    args = p.parse_args()
    samplers = [s for s in args.samplers.split(",") if s]
    unknown = [s for s in samplers if s not in SAMPLERS]
    if unknown:
        p.error(f"unknown samplers {unknown}; expected some of {', '.join(SAMPLERS)}")
    lengths = [int(t) for t in args.trials.split(",")]
    bench = read_bench(args.table)
    surrogate = Surrogate.fit(bench.specs, bench.frame["mean"].to_numpy(), seed=0)
    runs_path = Path(args.runs or ROOT / f"results/bench/{args.stem}_runs.jsonl")
    for trials in lengths:
        for rep in range(args.first_rep, args.reps):
            for sampler in samplers:
                if (sampler, trials, rep) in _done(runs_path):  # re-read: others may append
                    continue
                row = one_run(bench, surrogate, sampler=sampler, trials=trials, seed=rep)
                _append(runs_path, row)
                print(
                    f"{sampler:>7} {trials:>4} trials rep {rep}: HV {row['hv']:.4f} "
                    f"({row['seconds']:.1f}s)",
                    flush=True,
                )
    rows = [json.loads(line) for line in runs_path.read_text().splitlines() if line.strip()]
    frame = pd.DataFrame(rows).drop_duplicates(["sampler", "trials", "rep"])
    frame = frame[frame["sampler"].isin(samplers) & frame["trials"].isin(lengths)]
    command = "python scripts/bench_samplers.py " + shlex.join(sys.argv[1:])
    report(frame, bench, Path(args.out) / args.stem, command=command, reps=args.reps)


_REGIONS: dict[tuple, FeasibleRegion] = {}


def one_run(bench, surrogate, *, sampler: str, trials: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = bench.search_config(tmp, trials=trials, sampler=sampler, seed=seed)
        key = (cfg.space, cfg.max_flops, cfg.max_params, cfg.resolution)
        if key not in _REGIONS:  # built once per process: it takes seconds, holds only caches
            _REGIONS[key] = FeasibleRegion(
                load_space(cfg.space),
                max_flops=cfg.max_flops,
                max_params=cfg.max_params,
                resolution=cfg.resolution,
            )
        sim = simulate(cfg, bench, surrogate=surrogate, region=_REGIONS[key])
    t = sim.trials
    trained = t[
        t["trained"].astype(bool) & t["duplicate_of"].isna() & t["proxy_accuracy"].notna()
    ].sort_values("number")
    curve = hypervolume_curve(trained, max_flops=bench.max_flops, chance=CHANCE)
    return {
        "sampler": sampler,
        "trials": trials,
        "rep": seed,
        "hv": curve[-1] if curve else 0.0,
        "curve": curve,
        "seconds": sim.seconds,
        "proposals": len(t),
        "front": len(sim.pareto),
    }


def bootstrap_band(values: np.ndarray, *, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """90% percentile interval of the mean over repetitions."""
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(n, len(values)), replace=True).mean(axis=1)
    return float(np.quantile(means, 0.05)), float(np.quantile(means, 0.95))


def report(frame: pd.DataFrame, bench, out: Path, *, command: str, reps: int) -> None:
    """Writes `out` with the suffixes .csv, .md and .png."""
    rows = []
    for (sampler, trials), g in frame.groupby(["sampler", "trials"]):
        low, high = bootstrap_band(g["hv"].to_numpy())
        rows.append(
            {
                "sampler": sampler,
                "trials": trials,
                "runs": len(g),
                "hv_mean": g["hv"].mean(),
                "hv_low": low,
                "hv_high": high,
                "hv_std": g["hv"].std(),
                "sampler_seconds": g["seconds"].mean(),
            }
        )
    table = pd.DataFrame(rows)
    longest = frame["trials"].max()
    curves = {
        s: np.mean(
            np.stack([np.pad(c, (0, longest - len(c)), mode="edge") for c in g["curve"]]), axis=0
        )
        for s, g in frame[frame["trials"] == longest].groupby("sampler")
    }
    best = max(c[-1] for c in curves.values())
    per_trial = bench.seconds_per_candidate()
    reach = {}
    for s, c in curves.items():
        hit = np.nonzero(c >= 0.95 * best)[0]
        overhead = table[(table.sampler == s) & (table.trials == longest)]["sampler_seconds"]
        if len(hit):
            k = int(hit[0]) + 1
            reach[s] = (k, k * per_trial + float(overhead.iloc[0]) * k / longest)
        else:
            reach[s] = (None, None)
    table["trials_to_95"] = table["sampler"].map(lambda s: reach[s][0])
    table["wall_h_to_95"] = table["sampler"].map(
        lambda s: None if reach[s][1] is None else reach[s][1] / 3600
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out.with_suffix(".csv"), table.to_csv(index=False))
    _plot(curves, table, out.with_suffix(".png"), best=best)
    _markdown(
        table, bench, out, command=command, reps=reps, best=best, per_trial=per_trial, frame=frame
    )


def _plot(curves: dict, table: pd.DataFrame, path: Path, *, best: float) -> None:
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    for s, c in sorted(curves.items()):
        (line,) = ax.plot(np.arange(1, len(c) + 1), c, label=s)
        mine = table[table.sampler == s]
        ax.errorbar(
            mine["trials"],
            mine["hv_mean"],
            yerr=[mine["hv_mean"] - mine["hv_low"], mine["hv_high"] - mine["hv_mean"]],
            fmt="o",
            c=line.get_color(),
            capsize=3,
        )
    ax.axhline(0.95 * best, c="0.5", ls="--", lw=1, label="95% of the best")
    ax.set_xscale("log")
    ax.set_xlabel(
        "trained candidates (curves: mean of the 200-trial runs; dots: runs of that "
        "length, 90% bootstrap band)"
    )
    ax.set_ylabel("hypervolume (surrogate accuracy x FLOPs)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))


def _markdown(
    table: pd.DataFrame,
    bench,
    out: Path,
    *,
    command: str,
    reps: int,
    best: float,
    per_trial: float,
    frame: pd.DataFrame,
) -> None:
    prov = provenance("cpu")
    longest = int(table["trials"].max())
    lines = [
        "# Which sampler, how many trials",
        "",
        f"Command: `{command}`",
        "",
        f"Simulated searches of `{bench.space}` within {bench.max_flops:,} FLOPs on "
        f"`{bench.path.name}` ({len(bench.frame)} architectures, {bench.fidelity}): the real "
        f"search loop with a surrogate plus the table's seed noise as each trial's accuracy. "
        f"{reps} repetitions (seeds) per sampler and length. Hypervolume of the reported "
        f"front's noise-free accuracy x FLOPs, reference (accuracy {CHANCE}, the budget), in "
        f"units of accuracy x GFLOPs. {prov['device']}, {prov['time']}.",
        "",
        "| sampler | trials | hypervolume: mean [90% bootstrap band] | std over runs | "
        "sampler seconds per run |",
        "|---|---:|---|---:|---:|",
    ]
    for _, r in table.sort_values(["trials", "hv_mean"], ascending=[True, False]).iterrows():
        lines.append(
            f"| {r['sampler']} | {r['trials']} | {r['hv_mean'] / 1e9:.4f} "
            f"[{r['hv_low'] / 1e9:.4f}, {r['hv_high'] / 1e9:.4f}] | "
            f"{r['hv_std'] / 1e9:.4f} | {r['sampler_seconds']:.1f} |"
        )
    lines += [
        "",
        f"## Trials to 95% of the best ({0.95 * best / 1e9:.4f})",
        "",
        f"The best mean hypervolume any sampler reached at {longest} trials is "
        f"{best / 1e9:.4f}. From the mean curve of each sampler's {longest}-trial runs: the "
        f"first trial count at which it holds 95% of that, and the hours it takes with "
        f"{per_trial:.0f} s of proxy training per candidate (the table's mean) plus the "
        f"sampler's own time.",
        "",
        "| sampler | trials to 95% | hours to 95% |",
        "|---|---:|---:|",
    ]
    firsts = table[table["trials"] == longest].sort_values("trials_to_95", na_position="last")
    for _, r in firsts.iterrows():
        t95 = "not reached" if pd.isna(r["trials_to_95"]) else int(r["trials_to_95"])
        h95 = "—" if pd.isna(r["wall_h_to_95"]) else f"{r['wall_h_to_95']:.2f}"
        lines.append(f"| {r['sampler']} | {t95} | {h95} |")
    lines += ["", *_default_section(frame)]
    write_text_atomic(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


INCUMBENT = DEFAULT_SAMPLER  # the question each table answers: does today's default stay?


def difference_band(a: np.ndarray, b: np.ndarray, *, n: int = 2000, seed: int = 0):
    """Mean of a minus mean of b with a 90% bootstrap interval (independent resamples: the
    runs of two samplers share seeds, not trajectories)."""
    rng = np.random.default_rng(seed)
    diffs = rng.choice(a, size=(n, len(a))).mean(axis=1) - rng.choice(b, size=(n, len(b))).mean(
        axis=1
    )
    return (
        float(a.mean() - b.mean()),
        float(np.quantile(diffs, 0.05)),
        float(np.quantile(diffs, 0.95)),
    )


def _default_section(frame: pd.DataFrame) -> list[str]:
    """Each sampler against the incumbent default at each length; the default changes only for
    a sampler ahead of it on the interval at every length and behind it at none."""
    lines = [
        f"## Against `{INCUMBENT}` (the default up to 200 trials)",
        "",
        "Difference of mean hypervolume (accuracy x GFLOPs) with a 90% bootstrap interval; "
        "'ahead'/'behind' only where the interval excludes 0.",
        "",
        "| sampler | " + " | ".join(f"{t} trials" for t in sorted(frame.trials.unique())) + " |",
        "|---|" + "---|" * frame.trials.nunique(),
    ]
    better = []
    for sampler in sorted(set(frame.sampler) - {INCUMBENT}):
        cells, ahead, behind = [], 0, 0
        for t in sorted(frame.trials.unique()):
            a = frame[(frame.sampler == sampler) & (frame.trials == t)]["hv"].to_numpy()
            b = frame[(frame.sampler == INCUMBENT) & (frame.trials == t)]["hv"].to_numpy()
            if len(a) < 2 or len(b) < 2:
                cells.append("—")
                continue
            d, lo, hi = (x / 1e9 for x in difference_band(a, b))
            word = "ahead" if lo > 0 else "behind" if hi < 0 else "tie"
            ahead, behind = ahead + (lo > 0), behind + (hi < 0)
            cells.append(f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}] {word}")
        lines.append(f"| {sampler} | " + " | ".join(cells) + " |")
        if ahead == frame.trials.nunique() and not behind:
            better.append(sampler)
    lines.append("")
    lines.append(
        f"Verdict: {', '.join(better)} ahead of `{INCUMBENT}` at every length: the default "
        f"changes (to the best of them at the longest length)."
        if better
        else f"Verdict: no sampler is ahead of `{INCUMBENT}` at every length on its interval: "
        f"`{INCUMBENT}` stays the default."
    )
    return lines


def _done(path: Path) -> set[tuple[str, int, int]]:
    if not path.exists():
        return set()
    out = set()
    for line in path.read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.add((r["sampler"], r["trials"], r["rep"]))
    return out


def _append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"done in {time.time() - t0:.0f}s")
