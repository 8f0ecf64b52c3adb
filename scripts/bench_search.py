"""Benchmark a search: proxy throughput, time per trial, and the framework's own overhead.

Runs `nas-search` with the given arguments as a subprocess (the exact command is recorded),
then reads its trials.csv and appends one row to results/benchmarks/search.csv:

    python scripts/bench_search.py -- --space hybrid --budget 4GFLOPs --out results/bench-cpu
    python scripts/bench_search.py -- --space hybrid --budget 4GFLOPs --proxy gpu --trials 30 \
        --out results/bench-gpu

Overhead per trained candidate = (wall time - proxy training time of all candidates) / trained
candidates: start-up, fvcore counts of every proposal (over-budget ones included), model
builds, storage and the reports rewritten after every trial. The in-trial part alone (trial
wall time minus its proxy training) is reported too.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csv", default=str(ROOT / "results" / "benchmarks" / "search.csv"))
    p.add_argument(
        "search_args", nargs=argparse.REMAINDER, help="arguments of nas-search after --"
    )
    args = p.parse_args()
    search_args = [a for a in args.search_args if a != "--"]
    if "--out" not in search_args:
        p.error("give nas-search an --out folder (a fresh one: resumed runs skew the figures)")
    out = Path(search_args[search_args.index("--out") + 1])
    cmd = [sys.executable, "-m", "nas.cli.search", *search_args]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    row = summarise(out, wall=wall, command="nas-search " + shlex.join(search_args))
    write_row(Path(args.csv), row)
    for key, value in row.items():
        print(f"{key:>28s}  {value}")
    return 0


def summarise(out: Path, *, wall: float, command: str) -> dict[str, object]:
    import pandas as pd

    from nas.report import StudyFolder

    folder = StudyFolder(out)
    df, run = folder.trials(), folder.run()
    assert df is not None, f"the search wrote no {folder.trials_csv}"
    trained = df[
        df["trained"].astype(str).eq("True")
        & df["duplicate_of"].isna()
        & df["proxy_seconds"].notna()
    ]
    over = df[df["feasible"].astype(str).eq("False")]
    overhead = (wall - float(trained["proxy_seconds"].sum())) / max(len(trained), 1)
    in_trial = (trained["duration_s"] - trained["proxy_seconds"]).median()
    return {
        "date": datetime.date.today().isoformat(),
        "device": run["provenance"]["device"],
        "git": (run["provenance"]["git"]["sha"] or "")[:12],
        "command": command,
        "proxy": run["config"]["proxy"]["name"],
        "wall_s": round(wall, 1),
        "trials": len(df),
        "trained": len(trained),
        "pruned": int((trained["state"] == "PRUNED").sum()),
        "over_budget": len(over),
        "images_per_s_median": round(float(trained["images_per_s"].median()), 1),
        "trial_s_median": round(float(trained["duration_s"].median()), 2),
        "proxy_s_median": round(float(trained["proxy_seconds"].median()), 2),
        "overhead_s_per_trained": round(overhead, 2),
        "in_trial_overhead_s_median": round(float(in_trial), 2),
        "over_budget_trial_s_median": round(float(over["duration_s"].median()), 2)
        if len(over)
        else "",
        "best_proxy_accuracy": round(float(pd.to_numeric(trained["proxy_accuracy"]).max()), 4),
    }


def write_row(path: Path, row: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


if __name__ == "__main__":
    sys.exit(main())
