"""How far can the CPU proxy's ranking be trusted? The calibration of the hybrid space at
4 GFLOPs over the proxy ladder of scripts/proxy_ladder/ (and the previous default, cpu-v1),
against the fixed reference-cpu fidelity: `nas-calibrate`, then its report copied to
results/benchmarks/proxy_fidelity.{csv,md} with the ladder's definitions.

    python scripts/bench_proxy.py --workers 2        # about 4 hours on 2 quiet CPU cores
    python scripts/bench_proxy.py --report-only      # rewrite the report from the runs
    python scripts/bench_proxy.py --only reference   # only the reference's runs left

Resumable: the runs are in results/calibration/hybrid-4GFLOPs/runs.jsonl; re-run to continue.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.evaluate import RunTable
from nas.space.io import write_text_atomic
from nas.studies.calibration import (
    RUNS_FILE,
    CalibrationConfig,
    make_plan,
    run_calibration,
    write_calibration,
)

ROOT = Path(__file__).resolve().parents[1]
LADDER = ROOT / "scripts" / "proxy_ladder"
RUNGS = ("32px-6k", "64px-half-6k", "128px-quarter-6k")
DECISION = """## The decision (2026-11-30)

`64px-half-6k` became the `cpu` preset (`nas/train/proxy_config.py`; fidelity id `68306a7a`
either way); `cpu-v1` stays for reproducing earlier numbers. None of the targets of the issue
(seed-vs-seed tau >= 0.85, signal/noise >= 3, tau >= 0.6 against the reference) is reached by
any rung. What the figures support: no rung ranks like the reference, and the reference itself
does not separate these architectures. The spread of its means (0.005) is no larger than its
own seed noise (pooled std 0.006 over the 4 architectures with 2-3 seeds: three of them moved
by 0.0004-0.0031 between seeds, draw 7 by 0.020), so its signal/noise is 0.8 and any proxy's
tau against it is capped well below 1. Fashion-MNIST at 32 px is nearly saturated by every
network of the region. Among the rungs, `64px-half-6k` has the highest tau against the
reference (0.39 [0.08, 0.66], the only interval above 0; against cpu-v1's 0.23, a paired
difference of 0.16 [-0.18, 0.49] that the intervals do not support), the lowest seed std (0.027
against 0.043), the lowest cost (about 0.6x cpu-v1's per run when timed side by side on a quiet
machine: 36 s against 60 s; the seed-0 runs were timed on a loaded one, which inflates the s /
run column), and it does not punish the budget's largest networks for unstable short training
as cpu-v1 does (its tau with FLOPs is -0.05, cpu-v1's -0.25; the 4.46-GFLOPs SPACH hybrid:
0.706 +- 0.031 against 0.526 +- 0.132). Its seed-vs-seed tau is the lower (0.28 against 0.62)
because its architectures sit closer together, as the reference's do. Run: seeds 0-2 of
`64px-half-6k`, seeds 0-1 of `cpu-v1` and `32px-6k`, seed 0 of `128px-quarter-6k`; the
reference on all 19 architectures, with 3 seeds on 3 of the 4 noise architectures and 2 on the
SPACH hybrid (its third is left). Re-running the script resumes the rest of the plan (`--only
reference` for the reference's). Levers not measured: learning rate and warm-up at the new size
(`scripts/proxy_ladder/32px-6k-lr1e-3.yaml` is ready), normalisation settings. The next
calibration belongs on harder data (ImageNet-100 at 64 px), where the reference can separate
the networks.
"""
KEPT_COLUMNS = (
    "arch_id",
    "label",
    "fidelity",
    "seed",
    "status",
    "accuracy",
    "flops",
    "params",
    "seconds",
    "images_per_s",
    "proxy_resolution",
    "curve",
    "failure",
    "device",
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", default=str(ROOT / "results/calibration/hybrid-4GFLOPs"))
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--only", default="", help="fidelities to train now, as nas-calibrate --only")
    args = p.parse_args()
    only = tuple(x.strip() for x in args.only.split(",") if x.strip())
    proxies = ("cpu-v1", *(str(LADDER / f"{r}.yaml") for r in RUNGS))
    cfg = CalibrationConfig(
        space="hybrid",
        budget="4GFLOPs",
        proxies=proxies,
        archs=16,
        seeds=3,
        out=args.out,
        workers=args.workers,
        only=only,
    )
    command = (
        "nas-calibrate --space hybrid --budget 4GFLOPs --proxies "
        + ",".join(str(Path(x).relative_to(ROOT)) if "/" in x else x for x in proxies)
        + f" --archs 16 --seeds 3 --workers {args.workers} --out "
        + str(Path(args.out).relative_to(ROOT))
        + (f" --only {','.join(only)}" if only else "")
    )
    if args.report_only:
        plan = make_plan(cfg)
        write_calibration(
            plan, RunTable(Path(args.out) / RUNS_FILE), Path(args.out), cfg=cfg, command=command
        )
    else:
        run_calibration(cfg, command=command)
    publish(
        Path(args.out),
        ROOT / "results" / "benchmarks",
        script="python scripts/bench_proxy.py " + shlex.join(sys.argv[1:]),
    )


def publish(calibration: Path, out: Path, *, script: str) -> None:
    runs = pd.read_csv(calibration / "calibration.csv")
    keep = [c for c in KEPT_COLUMNS if c in runs]
    write_text_atomic(out / "proxy_fidelity.csv", runs[keep].to_csv(index=False))
    ladder = ["## The ladder", ""]
    for rung in RUNGS:
        text = (LADDER / f"{rung}.yaml").read_text()
        comment = " ".join(x.lstrip("# ") for x in text.splitlines() if x.startswith("#"))
        fields = {k: v for k, v in yaml.safe_load(text).items()}
        ladder.append(f"- `{rung}`: {comment} `{fields}`")
    ladder.append(
        "- `cpu-v1`: the CPU default until this calibration (3 epochs of 2,000 images "
        "at 32 px, 1,000 validation images)."
    )
    ladder += ["", DECISION]
    body = (calibration / "calibration.md").read_text()
    text = (
        f"{body}\n{chr(10).join(ladder)}\n\nProduced by `{script}`; every run is in "
        "`proxy_fidelity.csv`, the plot (accuracy under each proxy against the reference's) "
        "is `proxy_fidelity.png`.\n"
    )
    write_text_atomic(out / "proxy_fidelity.md", text)
    shutil.copyfile(calibration / "calibration.png", out / "proxy_fidelity.png")
    print(text)


if __name__ == "__main__":
    main()
