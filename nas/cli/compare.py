"""nas-compare ARCH [ARCH ...] | --from STUDY | --suite NAME: accuracies with error bars."""

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
    non_negative_float,
    non_negative_int,
    positive_int,
    run,
)

DESCRIPTION = """\
Train architectures under one fidelity with several seeds and compare them with error bars:
per model FLOPs, params, the token grid it was trained at, mean +- std and a 90% interval of
proxy accuracy, train accuracy and the train-validation gap; pairwise paired differences over
seeds marked better, worse or tie at this noise. --suite runs a study from a file (the SPACH,
ConvMixer and CoAtNet papers' claims are shipped) and gives each of its findings a verdict its
intervals support. Every run is recorded in OUT/runs.jsonl (or in a database, --storage, that
several machines share) as it finishes: re-running resumes."""


def parser() -> argparse.ArgumentParser:
    from nas.data import data_help
    from nas.studies.suites import list_suites
    from nas.train.proxy_config import PROXY_PRESETS, ZERO_COST_SCORES

    p = ArgumentParser(prog="nas-compare", description=DESCRIPTION)
    p.add_argument(
        "archs", nargs="*", metavar="ARCH", help="presets (nas-flops --list) or spec YAML files"
    )
    p.add_argument(
        "--from",
        dest="from_studies",
        metavar="STUDY",
        action="append",
        default=[],
        help="a search's results folder: compare its Pareto front. Beside ARCHs or another "
        "--from, each member of the first front is also judged against the best of the rest "
        "at no more FLOPs (repeat --from to set two searches against each other)",
    )
    p.add_argument(
        "--top",
        type=positive_int,
        metavar="K",
        help="with --from: only K members of each front, picked as nas-train --top K picks "
        "(the most accurate in each of K bands of FLOPs)",
    )
    p.add_argument(
        "--suite", help=f"a shipped suite ({', '.join(list_suites())}) or a suite YAML file"
    )
    p.add_argument("--size", help="the suite's model size (spach: xs or s; default: the suite's)")
    p.add_argument(
        "--findings",
        metavar="ID,ID",
        help="only these findings of the suite and the models they compare (e.g. F1,F4); "
        "the run table is the whole suite's, so running it all later reuses the runs",
    )
    p.add_argument(
        "--proxy",
        default="auto",
        metavar="PRESET|FILE.yaml",
        help=f"fidelity ({', '.join(PROXY_PRESETS)}; `reference`, the data's reference "
        f"preset, to check a search's picks; a zero-cost score zc:NAME with NAME "
        f"one of {', '.join(ZERO_COST_SCORES)}, or a YAML file); with --suite "
        f"it replaces the suite's own (default: the suite's, else cpu-cifar for "
        f"cifar10/cifar100 data, gpu on a GPU, cpu)",
    )
    p.add_argument(
        "--data", default="fashion-mnist", help=data_help() + " (default: fashion-mnist)"
    )
    p.add_argument("--data-seed", type=non_negative_int, default=0, help="seed of the data subset")
    p.add_argument("--seeds", type=int, default=3, help="seeds per model (default 3)")
    p.add_argument(
        "--margin",
        type=non_negative_float,
        help="equivalence margin of 'rivals' claims, in accuracy (default: the suite's, 0.01)",
    )
    p.add_argument("--out", help="results folder (default: results/compare/<name>)")
    p.add_argument(
        "--workers", type=positive_int, default=1, help="processes training side by side"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list the models, their fidelity and token grids, and the forecast cost",
    )
    add_skip_bad_images(p)
    add_retry_failed(p)
    add_storage(p, kind="compare")
    p.add_argument("--no-progress", action="store_true", help="no live progress")
    return p


def main(argv: list[str] | None = None) -> int:
    return run("nas-compare", _main, argv)


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    from nas.studies.compare import CompareConfig, forecast, resolve, run_compare

    cfg = CompareConfig(
        archs=tuple(args.archs),
        from_studies=tuple(args.from_studies),
        top=args.top,
        suite=args.suite,
        findings=tuple(x.strip() for x in (args.findings or "").split(",") if x.strip()),
        size=args.size,
        proxy=args.proxy,
        data=args.data,
        data_seed=args.data_seed,
        seeds=args.seeds,
        workers=args.workers,
        device=args.device,
        out=args.out,
        margin=args.margin,
        skip_bad_images=args.skip_bad_images,
        retry_failed=args.retry_failed,
        storage=args.storage,
    )
    if args.dry_run:
        models, suite = resolve(cfg)
        for line in forecast(models, suite, cfg):
            print(line)
        return 0
    command = "nas-compare " + shlex.join(sys.argv[1:] if argv is None else argv)
    out = run_compare(cfg, progress=not args.no_progress, command=command)
    print(f"comparison written to {out}/compare.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
