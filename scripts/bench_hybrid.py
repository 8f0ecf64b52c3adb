"""Tabulated benchmark of the hybrid space: N architectures drawn uniformly from the feasible
region at 4 GFLOPs (and the presets inside it) trained with a proxy (the data's own, as
`nas-search --proxy auto` on a CPU picks it: `cpu` on Fashion-MNIST), one seed each and
a second seed on a spread of them to measure the table's own noise; then a surrogate fitted on
it, with its held-out Kendall tau and error next to that noise.

Writes results/benchmarks/<stem>.csv (a `# key: value` header says what fidelity it is:
proxy accuracy on its data, not ImageNet accuracy; then arch_id, label, flops, params,
acc_seed0, acc_seed1, mean, seconds, spec) and <stem>.md; the default stem, hybrid_bench, is
the README's Fashion-MNIST table under the `cpu` proxy and takes no other. Runs go
through the evaluation engine into --runs (resumable: re-run the same command to continue).

    python scripts/bench_hybrid.py --workers 2          # about 2 hours on 2 CPU cores
    python scripts/bench_hybrid.py -n 20 --second-seed 5 --runs /tmp/b.jsonl --out /tmp/b  # smoke
    python scripts/bench_hybrid.py --data cifar10:../shared/data/cifar10 \
        --stem hybrid_bench_cifar10          # CIFAR-10 (cpu-cifar): ~8 CPU-hours, resumable
    python scripts/bench_hybrid.py ... --report-only    # the table of the runs so far

With `--stem` other than hybrid_bench the runs are also published as
results/benchmarks/<stem>.runs.jsonl (also when the training is stopped) and carried back
into --runs on a new machine, so a table too long for one session grows over several;
`--report-only` writes the table of the runs so far (and publishes them) without training.
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
from nas.data.source import absolute_data
from nas.evaluate import Fidelity, RunRequest, RunTable, cost_of, run_all
from nas.report.provenance import provenance
from nas.search.feasible import FeasibleRegion
from nas.search.simulate import read_bench, write_bench
from nas.search.surrogate import cross_validate
from nas.space import load_space
from nas.studies.draws import presets_near
from nas.train.proxy_config import get_proxy

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STEM = "hybrid_bench"  # Fashion-MNIST's table under the cpu proxy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=200, help="architectures drawn (default 200)")
    p.add_argument("--second-seed", type=int, default=40, help="of them with a second seed")
    p.add_argument("--space", default="hybrid")
    p.add_argument("--budget", default="4GFLOPs")
    p.add_argument("--proxy", default="auto", help="as nas-search --proxy (default: the data's)")
    p.add_argument("--data", default="fashion-mnist", help="as nas-search --data")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--stem", default=DEFAULT_STEM, help="results/benchmarks/<stem>.{csv,md}")
    p.add_argument("--runs", help="the run table (default results/bench/<stem>/runs.jsonl)")
    p.add_argument("--out", default=str(ROOT / "results/benchmarks"))
    p.add_argument("--report-only", action="store_true", help="the table so far, no training")
    args = p.parse_args()

    space = load_space(args.space)
    region = FeasibleRegion(space, max_flops=args.budget)
    proxy = get_proxy(args.proxy, device=torch.device("cpu"), data=args.data)
    fidelity = Fidelity(proxy, data=absolute_data(args.data))
    if args.stem == DEFAULT_STEM and (proxy.name != "cpu" or args.data != "fashion-mnist"):
        p.error(f"{DEFAULT_STEM} is the Fashion-MNIST table of the cpu proxy; give --stem")
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
    table = RunTable(args.runs or _default_runs(args.stem))
    published = Path(args.out) / f"{args.stem}.runs.jsonl"
    if args.stem != DEFAULT_STEM and published.exists():
        print(f"{table.adopt(RunTable(published).records())} runs carried in from {published}")
    try:
        if not args.report_only:
            run_all(requests, table=table, workers=args.workers, label="hybrid bench")
    finally:  # a stopped session publishes what it finished
        if args.stem != DEFAULT_STEM and table.records():
            lines = table.store.read().lines
            write_text_atomic(published, "".join(f"{line}\n" for line in lines))
    if not table.records():
        sys.exit(f"no runs yet in {table.where}: run without --report-only first")
    write(table, archs, fidelity, region, args)


def _default_runs(stem: str) -> Path:
    """Fashion-MNIST's table keeps the folder it has always had."""
    folder = "hybrid-4GFLOPs" if stem == DEFAULT_STEM else stem
    return ROOT / "results/bench" / folder / "runs.jsonl"


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
    path = write_bench(out / f"{args.stem}.csv", frame, header=header)
    report(read_bench(path), out / f"{args.stem}.md", command=command)


def report(bench, path: Path, *, command: str) -> None:
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
    write_text_atomic(path, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
