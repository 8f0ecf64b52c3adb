"""Benchmark the closed-form cost model and the feasible region; writes
results/benchmarks/cost_model.csv (and cost_model.md: command, machine, figures).

1. Cost checks per second, closed form vs fvcore, on the same specs sampled from every shipped
   space at their own resolution (and whether the two agree on each).
2. In the hybrid space at 1, 2, 4 and 8 GFLOPs: the share of samples a plain sampler (Optuna's
   RandomSampler, as `nas-search` would run it without the region) would have wasted over
   budget; the exact share of distinct architectures that fit; and what the restricted sampler
   does instead (trials over budget, values kept / resampled / repaired, ms per trial).
3. The dry run: seconds to build the hybrid region and count it at 4 GFLOPs.

    python scripts/bench_cost.py                   # about 10 minutes on 2 CPU cores
    python scripts/bench_cost.py --specs-per-space 5 --samples 2000 --trials 50   # smoke
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import random
import subprocess
import sys
import time
import warnings
from pathlib import Path

import optuna
import pandas as pd
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.cost import closed_form, measure
from nas.search.feasible import FeasibleRegion
from nas.search.feasible_sampler import FeasibleSampler
from nas.space import list_spaces, load_space

BUDGETS_G = (1, 2, 4, 8)
OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks"


def row(
    benchmark: str,
    value: float,
    unit: str,
    *,
    space: str = "",
    budget: float = math.nan,
    n: int = 0,
    detail: str = "",
) -> dict:
    return dict(
        benchmark=benchmark,
        space=space,
        budget_gflops=budget,
        n=n,
        value=value,
        unit=unit,
        detail=detail,
    )


def bench_checks(specs_per_space: int, seed: int) -> list[dict]:
    """Closed form and fvcore on the same specs; the closed form is timed over many passes."""
    rng = random.Random(seed)
    specs = [
        load_space(name).sample_random(rng)
        for name in list_spaces()
        for _ in range(specs_per_space)
    ]
    fvcore_s, mismatches = 0.0, 0
    for spec in tqdm(specs, desc="fvcore", file=sys.stderr):
        t = time.perf_counter()
        report = measure(spec)
        fvcore_s += time.perf_counter() - t
        cost = closed_form(spec)
        mismatches += (cost.params, cost.flops) != (report.params, report.flops)
    passes = max(1, int(2.0 / max(1e-9, _time_closed(specs))))
    closed_s = _time_closed(specs, passes) / passes
    n = len(specs)
    return [
        row(
            "cost_checks_per_s",
            n / closed_s,
            "checks/s",
            space="all",
            n=n,
            detail="closed form (nas.cost.closed_form), spec -> params and FLOPs",
        ),
        row(
            "cost_checks_per_s",
            n / fvcore_s,
            "checks/s",
            space="all",
            n=n,
            detail="fvcore (nas.cost.measure): build on meta + trace, same specs",
        ),
        row(
            "speedup",
            fvcore_s / closed_s,
            "x",
            space="all",
            n=n,
            detail="closed form over fvcore, same specs, each at its space's resolution",
        ),
        row(
            "mismatches",
            mismatches,
            "specs",
            space="all",
            n=n,
            detail="closed form != fvcore (params or FLOPs)",
        ),
    ]


def _time_closed(specs: list, passes: int = 1) -> float:
    t = time.perf_counter()
    for _ in range(passes):
        for spec in specs:
            closed_form(spec)
    return time.perf_counter() - t


def bench_waste(samples: int, trials: int, seed: int) -> list[dict]:
    space = load_space("hybrid")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    flops = []
    for _ in tqdm(range(samples), desc="plain sampler", file=sys.stderr):
        trial = study.ask()
        flops.append(closed_form(space.sample(trial)).flops)
        study.tell(trial, 0.0)
    rows = []
    for g in BUDGETS_G:
        budget = g * 10**9
        wasted = sum(f > budget for f in flops) / len(flops)
        rows.append(
            row(
                "wasted_share",
                wasted,
                "share",
                space="hybrid",
                budget=g,
                n=samples,
                detail="plain RandomSampler: samples over budget",
            )
        )
        fitting = [f / budget for f in flops if f <= budget]
        rows.append(
            row(
                "plain_budget_use",
                sum(fitting) / max(len(fitting), 1),
                "share",
                space="hybrid",
                budget=g,
                n=len(fitting),
                detail="plain RandomSampler: mean FLOPs / budget of the samples that "
                "fit (what an unskewed restricted random search should match)",
            )
        )
        t = time.perf_counter()
        region = FeasibleRegion(space, max_flops=budget)
        count = region.count
        rows.append(
            row(
                "region_seconds",
                time.perf_counter() - t,
                "s",
                space="hybrid",
                budget=g,
                detail="region + exact count (what --dry-run computes)",
            )
        )
        rows.append(
            row(
                "feasible_share",
                count.low / count.total,
                "share",
                space="hybrid",
                budget=g,
                n=count.total,
                detail=f"distinct architectures within budget ({count.how})",
            )
        )
        rows += _restricted(space, region, trials, seed, g, "random")
        if g == 4:
            for name in ("tpe", "nsga2", "qmc"):
                rows += _restricted(space, region, trials // 3, seed, g, name)
    return rows


SAMPLERS = {
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True),
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed, population_size=20),
    "qmc": lambda seed: optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False),
}


def _restricted(
    space, region: FeasibleRegion, trials: int, seed: int, g: int, name: str
) -> list[dict]:
    """Trials of FeasibleSampler(`name`) with a dummy objective (the sampler's work only)."""
    sampler = FeasibleSampler(SAMPLERS[name](seed), region, seed=seed)
    study = optuna.create_study(sampler=sampler)
    over, used = 0, []
    t = time.perf_counter()
    for _ in range(trials):
        trial = study.ask()
        cost = closed_form(space.sample(trial))
        over += cost.flops > region.max_flops
        used.append(cost.flops / region.max_flops)
        study.tell(trial, math.log(cost.params))
    ms = 1000 * (time.perf_counter() - t) / trials
    decided = sum(sampler.stats[k] for k in ("kept", "no opinion", "resampled", "repaired"))
    who = f"FeasibleSampler({sampler.base})"
    rows = [
        row(
            "restricted_over_budget",
            over,
            "trials",
            space="hybrid",
            budget=g,
            n=trials,
            detail=f"{who}: trials over budget",
        ),
        row(
            "restricted_ms_per_trial",
            ms,
            "ms",
            space="hybrid",
            budget=g,
            n=trials,
            detail=f"{who}: ask + sample + tell, region built",
        ),
        row(
            "restricted_budget_use",
            sum(used) / len(used),
            "share",
            space="hybrid",
            budget=g,
            n=trials,
            detail=f"{who}: mean FLOPs / budget",
        ),
    ]
    rows.append(
        row(
            "restricted_uniform_trials",
            sampler.stats["uniform draws"] / trials,
            "share",
            space="hybrid",
            budget=g,
            n=trials,
            detail=f"{who}: trials drawn whole from the region (no joint proposal)",
        )
    )
    for what in ("kept", "resampled", "repaired"):
        rows.append(
            row(
                f"restricted_{what}",
                sampler.stats[what] / decided,
                "share",
                space="hybrid",
                budget=g,
                n=decided,
                detail=f"{who}: share of architecture decisions",
            )
        )
    return rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), optuna {optuna.__version__}, "
        f"Python {platform.python_version()}"
    )


def write_report(df: pd.DataFrame, args: argparse.Namespace) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    df.to_csv(OUT / "cost_model.csv", index=False)
    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=OUT
    ).stdout.strip()
    lines = [
        "# cost_model.csv",
        "",
        f"- command: `python scripts/bench_cost.py {' '.join(sys.argv[1:])}`".rstrip(),
        f"- date: {datetime.date.today()}, git {sha or 'unknown'}",
        f"- machine: {machine()}",
        *([f"- note: {args.note}"] if args.note else []),
        "",
        "| benchmark | space | budget (GFLOPs) | value | unit | detail |",
        "|---|---|---|---|---|---|",
    ]
    for r in df.itertuples():
        budget = "" if math.isnan(r.budget_gflops) else f"{r.budget_gflops:g}"
        lines.append(
            f"| {r.benchmark} | {r.space} | {budget} | {r.value:.4g} | {r.unit} | {r.detail} |"
        )
    (OUT / "cost_model.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--specs-per-space", type=int, default=40, help="fvcore vs closed form")
    p.add_argument("--samples", type=int, default=20_000, help="plain sampler draws (hybrid)")
    p.add_argument("--trials", type=int, default=300, help="restricted sampler trials/budget")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--note", default="", help="a line for cost_model.md (load, caveats)")
    args = p.parse_args()
    torch.set_num_threads(min(4, os.cpu_count() or 1))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    rows = bench_checks(args.specs_per_space, args.seed)
    rows += bench_waste(args.samples, args.trials, args.seed)
    df = pd.DataFrame(rows)
    write_report(df, args)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(df.to_string(index=False))


if __name__ == "__main__":
    main()
