"""Tabulated benchmark of the hybrid space: N architectures drawn uniformly from the feasible
region at 4 GFLOPs (and the presets inside it) trained with the `cpu` proxy, one seed each and
a second seed on a spread of them to measure the table's own noise; then a surrogate fitted on
it, with its held-out Kendall tau and error next to that noise.

Writes results/benchmarks/hybrid_bench.csv (a `# key: value` header says what fidelity it is:
proxy accuracy on Fashion-MNIST, not ImageNet accuracy; then arch_id, label, flops, params,
acc_seed0, acc_seed1, mean, seconds, spec) and results/benchmarks/hybrid_bench.md. Runs go
through the evaluation engine into --runs (resumable: re-run the same command to continue).

    python scripts/bench_hybrid.py --workers 2          # about 2 hours on 2 CPU cores
    python scripts/bench_hybrid.py -n 20 --second-seed 5 --runs /tmp/b.jsonl --out /tmp/b  # smoke
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shlex
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas._core import write_text_atomic
from nas.evaluate import Fidelity, RunRequest, RunTable, cost_of, run_all
from nas.report.provenance import provenance
from nas.search.feasible import FeasibleRegion
from nas.search.simulate import read_bench, write_bench
from nas.search.surrogate import cross_validate
from nas.space import load_space
from nas.studies.draws import presets_near
from nas.train.proxy_config import get_proxy

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=200, help="architectures drawn (default 200)")
    p.add_argument("--second-seed", type=int, default=40, help="of them with a second seed")
    p.add_argument("--space", default="hybrid")
    p.add_argument("--budget", default="4GFLOPs")
    p.add_argument("--proxy", default="cpu")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--runs", default=str(ROOT / "results/bench/hybrid-4GFLOPs/runs.jsonl"))
    p.add_argument("--out", default=str(ROOT / "results/benchmarks"))
    args = p.parse_args()

    space = load_space(args.space)
    region = FeasibleRegion(space, max_flops=args.budget)
    fidelity = Fidelity(get_proxy(args.proxy, device=torch.device("cpu")))
    archs = draw(region, args.n, seed=args.seed)
    presets = [
        d
        for d in presets_near(space, max_flops=region.max_flops, within=1.0)
        if d.flops <= region.max_flops and d.spec.arch_id not in {s.arch_id for s, _ in archs}
    ]
    archs += [(d.spec, d.label) for d in presets]
    twice = {archs[int(i)][0].arch_id for i in np.linspace(0, len(archs) - 1, args.second_seed)}
    requests = [RunRequest(s, fidelity, 0, label=label) for s, label in archs]
    requests += [
        RunRequest(s, fidelity, 1, label=label) for s, label in archs if s.arch_id in twice
    ]
    table = RunTable(args.runs)
    run_all(requests, table=table, workers=args.workers, label="hybrid bench")
    write(table, archs, fidelity, region, args)


def draw(region: FeasibleRegion, n: int, *, seed: int) -> list[tuple]:
    """n distinct architectures, each drawn uniformly from what fits."""
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < n:
        _, spec = region.draw(rng)
        if spec.arch_id not in seen:
            seen.add(spec.arch_id)
            out.append((spec, f"draw {len(out)}"))
    return out


def write(table: RunTable, archs: list[tuple], fidelity: Fidelity, region, args) -> None:
    runs = table.frame()
    runs = runs[runs["fidelity_id"] == fidelity.fidelity_id]
    rows = []
    for spec, label in archs:
        mine = runs[runs["arch_id"] == spec.arch_id].set_index("seed")
        if mine.empty or mine["accuracy"].isna().all():
            continue
        flops, params = cost_of(spec)
        acc = {f"acc_seed{k}": mine["accuracy"].get(k) for k in (0, 1)}
        rows.append(
            {
                "arch_id": spec.arch_id,
                "label": label,
                "flops": flops,
                "params": params,
                **acc,
                "mean": np.nanmean([v for v in acc.values() if v is not None]),
                "seconds": mine["seconds"].mean(),
                "spec": json.dumps(spec.to_dict()),
            }
        )
    frame = pd.DataFrame(rows)
    out = Path(args.out)
    command = "python scripts/bench_hybrid.py " + shlex.join(sys.argv[1:])
    header = {
        "space": region.space.name,
        "max_flops": region.max_flops,
        "resolution": region.resolution,
        "fidelity": fidelity.describe(),
        "data": fidelity.data,  # what a simulated pre-screen scores on
        "proxy": json.dumps(fidelity.proxy.to_dict()),
        "what": "proxy accuracy (validation top-1 on images held out of the training split), "
        "not ImageNet accuracy",
        "command": command,
        "written": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    path = write_bench(out / "hybrid_bench.csv", frame, header=header)
    report(read_bench(path), out, command=command)


def report(bench, out: Path, *, command: str) -> None:
    sigma, repeated = bench.noise()
    specs, y = bench.specs, bench.frame["mean"].to_numpy()
    held, _ = cross_validate(specs, y, folds=5)
    spread = float(np.std(y, ddof=1))
    prov = provenance("cpu")
    lines = [
        "# Tabulated benchmark of the hybrid space",
        "",
        f"Command: `{command}`",
        "",
        f"{len(bench.frame)} architectures of `{bench.space}` within {bench.max_flops:,} FLOPs "
        f"at {bench.resolution}px, {bench.fidelity}. Accuracies are proxy accuracies, not "
        f"ImageNet's. {prov['device']}, git {(prov['git'].get('sha') or '')[:12]}, "
        f"{prov['time']}.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| architectures | {len(bench.frame)} |",
        f"| with a second seed | {repeated} |",
        f"| seed std of the table (pooled over those) | {sigma:.4f} |",
        f"| spread of accuracies (std) | {spread:.4f} |",
        f"| accuracy range | {y.min():.3f} – {y.max():.3f} |",
        f"| mean seconds per candidate | {bench.seconds_per_candidate():.1f} |",
        f"| surrogate held-out Kendall τ ({held.folds}-fold) | {held.kendall:.3f} |",
        f"| surrogate held-out MAE | {held.mae:.4f} |",
        f"| surrogate held-out RMSE | {held.rmse:.4f} |",
        "",
        "The surrogate (scikit-learn gradient boosting on `nas.search.surrogate.encode`) cannot "
        "be more exact than the table: a held-out RMSE near the seed std means it predicts as "
        "well as a second training run would. The simulated search adds noise of the table's "
        "seed std to each prediction (`nas-search --simulate`).",
    ]
    write_text_atomic(out / "hybrid_bench.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
