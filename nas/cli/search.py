"""nas-search --space NAME|PATH --budget 4GFLOPs [options]: budgeted architecture search."""

from __future__ import annotations

import argparse
import os
import sys

# Before torch loads OpenMP: threads that sleep instead of spinning when they wait. On a small
# machine running anything else (or several workers) spinning threads slow training 10-30x.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


from .common import ArgumentParser, add_skip_bad_images, non_negative_int, positive_int, run

DESCRIPTION = """\
Search a space for architectures within a FLOP budget. The feasible region is worked out
before sampling (exact closed-form costs, equal to fvcore's) and the sampler only proposes
architectures inside it, so N trials train N candidates; each is still measured with fvcore
(at --resolution) before it is built for training. Candidates are proxy-trained and the Pareto
front of proxy accuracy vs cost is written to --out after every trial. Running the same
command again resumes the study up to --trials."""


def parser() -> argparse.ArgumentParser:
    from nas.data import data_help
    from nas.search.config import OBJECTIVES, SEARCH_DEFAULTS
    from nas.search.samplers import (
        DEFAULT_SAMPLER,
        GP_MAX_TRIALS,
        LONG_SEARCH_SAMPLER,
        MULTI_OBJECTIVE_PRUNERS,
        PRUNERS,
        SAMPLERS,
    )
    from nas.train.proxy_config import PROXY_PRESETS

    p = ArgumentParser(prog="nas-search", description=DESCRIPTION)
    p.add_argument(
        "--space", required=True, help="a space of search_spaces/ by name, or a space YAML file"
    )
    p.add_argument("--budget", required=True, help="max FLOPs per image, e.g. 4GFLOPs, 600M")
    p.add_argument("--max-params", help="max parameters, e.g. 25M (default: no limit)")
    p.add_argument(
        "--resolution",
        type=int,
        help="side in px at which the budget is counted (default: the space's, 224)",
    )
    p.add_argument(
        "--trials",
        type=positive_int,
        help="candidates to train in the study in all; "
        "over-budget and repeated proposals do not count, candidates that fail in "
        "training do (they were trained) (default: "
        + ", ".join(f"{k} {v[0]}" for k, v in SEARCH_DEFAULTS.items())
        + " by proxy)",
    )
    p.add_argument(
        "--timeout",
        help="wall-clock budget of this run, e.g. 900, 15m, 2h, none: "
        "no trial starts that would overrun it (default: 12m with the cpu and cpu-cifar "
        "proxies)",
    )
    p.add_argument(
        "--sampler",
        choices=SAMPLERS,
        help=f"Optuna sampler (default: {DEFAULT_SAMPLER} up to {GP_MAX_TRIALS} --trials, "
        f"chosen by the simulated benchmark results/benchmarks/samplers.md, "
        f"{LONG_SEARCH_SAMPLER} beyond, where {DEFAULT_SAMPLER}'s own time per trial would "
        f"outgrow a supernet's scoring: sampler_overhead.md; tpe is multivariate; all are "
        f"constraint-aware)",
    )
    p.add_argument(
        "--objectives",
        default="accuracy,flops",
        help=f"comma list of {', '.join(OBJECTIVES)}; accuracy is maximised, the "
        f"others minimised (default: accuracy,flops)",
    )
    pruners = ", ".join(f"{n}:P" if n == "percentile" else n for n in PRUNERS)
    p.add_argument(
        "--pruner",
        default="median",
        help=f"early stopping: {pruners}; with "
        f"several objectives only {', '.join(MULTI_OBJECTIVE_PRUNERS)}, against "
        f"cheaper candidates only (default: median)",
    )
    p.add_argument(
        "--proxy",
        default="auto",
        metavar="PRESET|FILE.yaml",
        help=f"proxy-training preset ({', '.join(PROXY_PRESETS)}) or a YAML file of "
        f"its fields (default: cpu-cifar for cifar10/cifar100 data, else gpu on a GPU and "
        f"cpu)",
    )
    p.add_argument(
        "--data",
        default="fashion-mnist",
        help=data_help() + " (default: fashion-mnist)",
    )
    p.add_argument(
        "--classes",
        metavar="N|FILE",
        help="a class subset: N classes drawn with a "
        "fixed seed (the same N names the same classes), or a file of class names "
        "or ids, one a line; part of the study (default: all classes)",
    )
    p.add_argument(
        "--data-workers",
        type=positive_int,
        metavar="N",
        help="processes decoding the "
        "proxy images into the cache, once (default: the cores available)",
    )
    add_skip_bad_images(p)
    p.add_argument(
        "--storage",
        help="journal file path or database URL, e.g. "
        "postgresql+psycopg2://user:pw@host/db (default: OUT/study.journal)",
    )
    p.add_argument("--study-name", help="default: <space>-<budget>, e.g. hybrid-4GFLOPs")
    p.add_argument("--out", help="results folder (default: results/<study-name>/)")
    p.add_argument(
        "--repeats",
        default="auto",
        metavar="auto|K",
        help="seeds per candidate: auto trains candidates on the current front or "
        "within the noise band below it with up to 3 seeds (their mean is the "
        "trial's value); K trains every completed candidate K times (default: auto)",
    )
    p.add_argument(
        "--prescreen",
        metavar="SCORE:K",
        help="for each candidate to train, draw K candidates through the same sampler, score "
        "them with SCORE (zc:NAME, a zero-cost score, or supernet:PATH, a trained supernet) "
        "and train only the best-scored one; the others stay in the study, scored, not "
        "trained, and --trials does not count them. Not measured to pay yet (default: off)",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="train every failed trial of the study again; without it only transient "
        "failures (out of memory, a killed process) are tried again on resume, up to twice, "
        "and deterministic ones (NaN loss, a bad spec) stay failed",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of the sampler and of the first training run of each candidate "
        "(repeats use the next seeds)",
    )
    p.add_argument(
        "--data-seed",
        type=non_negative_int,
        default=0,
        help="seed of the proxy's data subset, fixed for the whole study (default 0)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--workers",
        type=positive_int,
        help="processes on this machine sharing the study, each with an equal share of the "
        "cores (one per GPU on GPUs); their trials interleave, so a seeded search is "
        "reproducible with 1 (default: "
        + ", ".join(f"{k} {v[2]}" for k, v in SEARCH_DEFAULTS.items())
        + " by proxy, at most the cores)",
    )
    p.add_argument(
        "--simulate",
        metavar="TABLE.csv",
        help="run the search on a tabulated benchmark instead of training: a surrogate fitted "
        "on the table plus its measured seed noise gives each trial's accuracy "
        "(scripts/bench_hybrid.py writes one; needs scikit-learn)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print how much of the space fits the budget and what the run would cost, then stop",
    )
    p.add_argument("--no-progress", action="store_true", help="no live progress")
    return p


def main(argv: list[str] | None = None) -> int:
    return run("nas-search", _main, argv)


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)

    def config():  # loads torch: the dry run's count is printed before
        from nas.search import make_config

        return make_config(
            space=args.space,
            budget=args.budget,
            max_params=args.max_params,
            resolution=args.resolution,
            trials=args.trials,
            timeout=args.timeout,
            sampler=args.sampler,
            objectives=args.objectives,
            pruner=args.pruner,
            proxy=args.proxy,
            data=args.data,
            storage=args.storage,
            study_name=args.study_name,
            out=args.out,
            seed=args.seed,
            device=args.device,
            workers=args.workers,
            repeats=args.repeats,
            data_seed=args.data_seed,
            classes=args.classes,
            data_workers=args.data_workers,
            skip_bad_images=args.skip_bad_images,
            retry_failed=args.retry_failed,
            prescreen=args.prescreen,
        )

    if args.dry_run:
        from nas.search.dry_run import dry_run

        for part in dry_run(
            space=args.space,
            budget=args.budget,
            max_params=args.max_params,
            resolution=args.resolution,
            config=config,
        ):
            print(part, flush=True)
        return 0
    if args.simulate:
        return _simulate(config(), args.simulate)
    from nas.search import run as run_config

    cfg = config()
    outcome = run_config(cfg, progress=not args.no_progress)  # SearchError: one line, exit 1
    c = outcome.counts
    failed_in_training = c.evaluated - c.complete - c.pruned
    scored = f"{c.scored} scored by the pre-screen only, " if cfg.prescreen else ""
    print(
        f"{cfg.study_name}: {c.evaluated} candidates trained ({c.complete} complete, "
        f"{c.pruned} stopped early, {failed_in_training} failed), {scored}{c.infeasible} over "
        f"budget, {c.duplicates} repeated; Pareto front of {len(outcome.pareto)} in {cfg.out}/"
    )
    print(noise_line(outcome.study, supernet=bool(cfg.proxy.supernet)))
    return 0


def _simulate(cfg, table: str) -> int:
    from nas.search.simulate import read_bench, simulate

    sim = simulate(cfg, read_bench(table), write=True)
    best = sim.pareto["true_accuracy"].max()
    print(
        f"{cfg.study_name}: simulated {len(sim.trials)} trials in {sim.seconds:.1f}s; Pareto "
        f"front of {len(sim.pareto)} in {cfg.out}/, best surrogate accuracy {best:.4f}"
    )
    return 0


def noise_line(study, *, supernet: bool = False) -> str:
    """The seed noise this run measured: what separates a real difference from luck."""
    from nas.report.summary import SUPERNET_NOISE
    from nas.search.repeats import study_noise

    sigma, n, measured = study_noise(study.get_trials(deepcopy=False))
    if supernet:
        return f"seed noise: not measured ({SUPERNET_NOISE}); assumed std {sigma}"
    if not measured:
        return (
            f"seed noise: not measured ({n} candidate(s) trained with 2+ seeds); assumed "
            f"std {sigma}"
        )
    return (
        f"seed noise measured in this study: std {sigma:.4f} over {n} candidates trained "
        f"with 2+ seeds; front members closer than about {2 * sigma:.3f} are ties (see "
        f"summary.md)"
    )


if __name__ == "__main__":
    sys.exit(main())
