"""nas-calibrate --space NAME|PATH --budget 4GFLOPs [options]: can the proxy be trusted?"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as nas-search: before torch loads

from .common import (
    ArgumentParser,
    add_retry_failed,
    add_skip_bad_images,
    add_storage,
    kendall_tau,
    non_negative_int,
    positive_int,
    run,
)

DESCRIPTION = """\
Measure how far a proxy's ranking of architectures can be trusted, on your data and hardware.
Draws --archs architectures spread over the feasible region (cost quartiles x dominant mixer)
plus the space's presets near the budget, trains them under each proxy of --proxies with
--seeds seeds and under a fixed --reference fidelity, and reports per proxy: cost per run, seed
noise, signal/noise, seed-vs-seed Kendall tau, tau and Spearman rho against the reference with
90% bootstrap intervals, top-quarter overlap and the trivial rankings by FLOPs and params; then
the cheapest proxy whose tau clears --target (recommended.yaml, for nas-search --proxy).
Every run is recorded in OUT/runs.jsonl (or in a database, --storage, that several machines
share) as it finishes: re-running the same command resumes."""


def parser() -> argparse.ArgumentParser:
    from nas.data import data_help
    from nas.studies.calibration_report import TARGET_TAU
    from nas.train.proxy_config import PROXY_PRESETS, ZC_BATCH, ZERO_COST_SCORES

    p = ArgumentParser(prog="nas-calibrate", description=DESCRIPTION)
    p.add_argument("--space", required=True, help="a shipped space by name, or a YAML file")
    p.add_argument("--budget", required=True, help="max FLOPs per image, e.g. 4GFLOPs")
    p.add_argument(
        "--proxies",
        default="auto",
        metavar="P1,P2,...",
        help=f"comma list of proxy presets ({', '.join(PROXY_PRESETS)}), zero-cost scores "
        f"zc:NAME ({', '.join(ZERO_COST_SCORES)}: the score of the untrained network on "
        f"{ZC_BATCH} images, recorded as its accuracy) or YAML files (default: the search's "
        f"default proxy on this device and data)",
    )
    p.add_argument(
        "--reference",
        default="auto",
        metavar="PRESET|FILE.yaml",
        help="the fixed reference fidelity (default: reference-cifar for cifar10/cifar100 data, "
        "else reference-gpu on a GPU and reference-cpu)",
    )
    p.add_argument(
        "--archs",
        type=int,
        default=16,
        help="architectures drawn from the region (default 16; Kendall tau over "
        "12 has a standard error near 0.15)",
    )
    p.add_argument("--seeds", type=int, default=3, help="seeds per proxy (default 3)")
    p.add_argument(
        "--data", default="fashion-mnist", help=data_help() + " (default: fashion-mnist)"
    )
    p.add_argument(
        "--data-seed",
        type=non_negative_int,
        default=0,
        help="seed of the data subset, fixed across runs (default 0)",
    )
    p.add_argument(
        "--draw-seed", type=non_negative_int, default=0, help="seed of the architecture draw"
    )
    p.add_argument(
        "--resolution", type=int, help="px at which the budget is counted (default: the space's)"
    )
    p.add_argument(
        "--target",
        type=kendall_tau,
        default=TARGET_TAU,
        help=f"Kendall tau a proxy must clear on its 90%% interval (default {TARGET_TAU})",
    )
    p.add_argument("--out", help="results folder (default: results/calibration/<space>-<budget>)")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="processes training side by side (CPU: they share the cores; GPUs: one per GPU)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--only",
        default="",
        metavar="F1,F2,...",
        help="train only the runs of these fidelities now (proxy names or spelled as in "
        "--proxies, e.g. supernet:FOLDER; or 'reference'); "
        "the report still covers the whole plan (default: all)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the plan and its forecast cost, then stop"
    )
    add_skip_bad_images(p)
    add_retry_failed(p)
    add_storage(p, kind="calibration")
    p.add_argument("--no-progress", action="store_true", help="no live progress")
    return p


def main(argv: list[str] | None = None) -> int:
    return run("nas-calibrate", _main, argv)


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    from nas.studies.calibration import (
        CalibrationConfig,
        forecast,
        make_plan,
        run_calibration,
    )

    cfg = CalibrationConfig(
        space=args.space,
        budget=args.budget,
        proxies=tuple(p.strip() for p in args.proxies.split(",")),
        reference=args.reference,
        archs=args.archs,
        seeds=args.seeds,
        data=args.data,
        data_seed=args.data_seed,
        draw_seed=args.draw_seed,
        resolution=args.resolution,
        out=args.out,
        workers=args.workers,
        device=args.device,
        target=args.target,
        only=tuple(x.strip() for x in args.only.split(",") if x.strip()),
        skip_bad_images=args.skip_bad_images,
        retry_failed=args.retry_failed,
        storage=args.storage,
    )
    if args.dry_run:
        from nas.studies.calibration_report import MIN_RANKED

        plan = make_plan(cfg)
        print(
            f"{len(plan.archs)} architectures x {len(plan.proxies)} proxies x {plan.seeds} "
            f"seeds + the reference ({plan.reference.name}):"
        )
        for a in plan.archs:
            print(
                f"  {a.label:<24} {a.spec.arch_id}  {a.flops / 1e9:5.2f} GFLOPs  "
                f"{a.spec.summary()}"
            )
        if len(plan.archs) < MIN_RANKED:
            print(
                f"note: fewer than {MIN_RANKED} architectures: the report will recommend no "
                f"proxy (a Kendall tau over so few says too little)"
            )
        print("forecast:")
        for line in forecast(
            plan,
            table=cfg.table(),
            workers=cfg.workers,
            device=cfg.device,
            only=cfg.only,
            retry_failed=cfg.retry_failed,
        ):
            print(line)
        return 0
    command = "nas-calibrate " + shlex.join(sys.argv[1:] if argv is None else argv)
    cal = run_calibration(cfg, progress=not args.no_progress, command=command)
    out = cfg.out_dir()
    if cal.pick:
        pick = f"recommended: {cal.pick.name} ({out / 'recommended.yaml'})"
    elif cal.withheld:
        pick = f"no recommendation: {cal.withheld}"
    else:
        pick = f"no proxy clears tau >= {cfg.target} on its interval"
    print(f"calibration written to {out}/calibration.md; {pick}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
