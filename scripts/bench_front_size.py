"""How many networks the main command's front holds, and what moves it (issue 21, point 7: "a
front of at least 3" from the 12-minute CPU default's 8 candidates).

A front's size is set by how accuracy varies with FLOPs among the candidates, which is the
data's and the proxy's doing, not the search's. This measures its distribution over search
seeds on the tabulated benchmark of the main command's own fidelity (`hybrid_bench.csv`: 206
architectures of `hybrid` within 4 GFLOPs under the `cpu` proxy on Fashion-MNIST), two ways:

- measured: N architectures of the table drawn at random (the search's start-up trials are
  such draws: uniform over the feasible region, as the table's own draws are), each with one
  of its measured seeds; or one from each of N FLOPs bins of equal count (a FLOPs-stratified
  start, the lever left untried until now);
- simulated: the real search loop (`nas.search.simulate`: the default sampler with the main
  command's 20-trial settings, stopped after N candidates) on the table's surrogate plus its
  seed noise, so the sampler's guided trials after the start-up count too.

Writes results/benchmarks/front_size.{csv,md}.

    python scripts/bench_front_size.py                          # the published table
    python scripts/bench_front_size.py --draws 200 --seeds 4    # smoke
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas._core import write_atomic, write_text_atomic
from nas.report.provenance import provenance
from nas.report.stats import pareto_mask
from nas.search.feasible import FeasibleRegion
from nas.search.simulate import BenchTable, read_bench, simulate
from nas.search.surrogate import Surrogate
from nas.space import load_space

ROOT = Path(__file__).resolve().parents[1]
MAIN_TRIALS = 20  # the `cpu` proxy's default --trials: it sets the sampler's start-up count


def front_size(accuracy: np.ndarray, flops: np.ndarray) -> int:
    return int(pareto_mask(accuracy, flops).sum())


def one_seed(rows: pd.DataFrame, columns: list[str], rng: np.random.Generator) -> np.ndarray:
    """One measured seed per architecture, as a candidate's first run gives (its mean where
    the seed drawn was not run)."""
    seeds = rows[columns].to_numpy(float)
    pick = rng.integers(0, len(columns), len(rows))
    acc = seeds[np.arange(len(rows)), pick]
    return np.where(np.isnan(acc), rows["mean"].to_numpy(float), acc)


def measured(bench: BenchTable, n: int, design: str, draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = bench.frame.reset_index(drop=True)
    bins = pd.qcut(frame["flops"], n, labels=False).to_numpy()
    flops = frame["flops"].to_numpy(float)
    sizes = np.empty(draws, dtype=int)
    for k in range(draws):
        if design == "uniform":
            idx = rng.choice(len(frame), n, replace=False)
        else:
            idx = np.array([rng.choice(np.flatnonzero(bins == b)) for b in range(n)])
        sizes[k] = front_size(one_seed(frame.iloc[idx], bench.seed_columns, rng), flops[idx])
    return sizes


def simulated(bench: BenchTable, counts: list[int], seeds: int) -> dict[int, np.ndarray]:
    """Front sizes after the first n candidates of each simulated search, for each n: one
    search per seed, run to the largest n (a shorter search is its prefix)."""
    surrogate = Surrogate.fit(bench.specs, bench.frame["mean"].to_numpy(), seed=0)
    sizes: dict[int, list[int]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = bench.search_config(tmp, trials=MAIN_TRIALS)
        region = FeasibleRegion(
            load_space(cfg.space), max_flops=cfg.max_flops, resolution=cfg.resolution
        )
        stop = _stop_at(max(counts))
        for seed in tqdm(range(seeds), desc="simulated searches", leave=False):
            run = simulate(
                cfg.replace(seed=seed), bench, surrogate=surrogate, region=region, callbacks=[stop]
            )
            t = run.trials
            trained = t[
                t["trained"].astype(bool) & t["duplicate_of"].isna() & t["proxy_accuracy"].notna()
            ].sort_values("number")
            for n in counts:
                first = trained.head(n)
                sizes[n].append(
                    front_size(first["proxy_accuracy"].to_numpy(), first["flops"].to_numpy())
                )
    return {n: np.array(v) for n, v in sizes.items()}


def _stop_at(n: int) -> Callable[[optuna.Study, FrozenTrial], None]:
    """Stops a simulated search after n completed candidates, keeping the sampler's settings
    (its start-up count) of the main command's longer search."""

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) >= n:
            study.stop()

    return callback


def row(method: str, design: str, n: int, sizes: np.ndarray) -> dict:
    return {
        "method": method,
        "design": design,
        "candidates": n,
        "searches": len(sizes),
        "mean_front": sizes.mean(),
        "p_front_1": (sizes == 1).mean(),
        "p_front_ge_3": (sizes >= 3).mean(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", default=str(ROOT / "results/benchmarks/hybrid_bench.csv"))
    p.add_argument("--candidates", default="8,12,16")
    p.add_argument("--draws", type=int, default=20_000, help="resamplings per measured row")
    p.add_argument("--seeds", type=int, default=200, help="simulated searches per row")
    p.add_argument("--out", default=str(ROOT / "results/benchmarks"))
    p.add_argument("--stem", default="front_size")
    p.add_argument("--report-only", action="store_true", help="rewrite the .md from the .csv")
    args = p.parse_args()
    bench = read_bench(args.table)
    out = Path(args.out)
    start = time.time()
    if args.report_only:
        table = pd.read_csv(out / f"{args.stem}.csv")
    else:
        counts = [int(c) for c in args.candidates.split(",")]
        rows = []
        searched = simulated(bench, counts, args.seeds)
        for n in counts:
            for design in ("uniform", "flops-stratified"):
                rows.append(row("measured", design, n, measured(bench, n, design, args.draws, n)))
            rows.append(row("simulated", "the search (gp)", n, searched[n]))
        table = pd.DataFrame(rows)
        write_atomic(out / f"{args.stem}.csv", lambda f: table.to_csv(f, index=False))
    write_text_atomic(out / f"{args.stem}.md", report(args, table, bench, start))
    print(table.to_string(index=False))


def report(args, table: pd.DataFrame, bench: BenchTable, start: float) -> str:
    frame = bench.frame
    rho = frame[["mean", "flops"]].corr("spearman").iloc[0, 1]
    prov = provenance("cpu")
    device, when = prov["device"], prov["time"]
    command = [a for a in sys.argv[1:] if a != "--report-only"]
    took = (
        f"this report rewritten from `{args.stem}.csv`"
        if args.report_only
        else f"{time.time() - start:.0f} s"
    )
    lines = [
        "# How large is the main command's front?",
        "",
        f"Command: `python scripts/bench_front_size.py {shlex.join(command)}`".strip(),
        "",
        f"Table `{bench.path.name}`: {len(frame)} architectures of `{bench.space}` within "
        f"{bench.max_flops:,} FLOPs ({bench.fidelity}). Over them proxy accuracy against "
        f"FLOPs: Spearman {rho:+.2f}. Measured rows: "
        f"{args.draws:,} random draws of N architectures, one measured seed each; simulated "
        f"rows: {args.seeds} search seeds of the real loop (the default sampler with "
        f"{MAIN_TRIALS}-trial settings, stopped after N candidates) on the table's surrogate "
        f"plus its seed noise. {device}, {when}; {took}.",
        "",
        "| candidates | method | design | searches | mean front | P(front = 1) | "
        "P(front >= 3) | its 90% interval |",
        "|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for r in table.itertuples():
        half = 1.645 * math.sqrt(r.p_front_ge_3 * (1 - r.p_front_ge_3) / r.searches)
        lines.append(
            f"| {r.candidates} | {r.method} | {r.design} | {r.searches:,} | "
            f"{r.mean_front:.2f} | {r.p_front_1:.2f} | {r.p_front_ge_3:.2f} | "
            f"[{r.p_front_ge_3 - half:.2f}, {r.p_front_ge_3 + half:.2f}] |"
        )
    lines += [
        "",
        "The interval is the binomial one of the searches counted (normal approximation); "
        f"the measured rows share one table of {len(frame)} architectures, whose own sampling "
        "it does not cover. The reading is in `main_command.md`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
