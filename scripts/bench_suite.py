"""A paper's own study rerun here: `nas-compare --suite NAME` on this machine, its table and
verdicts copied to results/benchmarks/<stem>.{csv,md}.

    python scripts/bench_suite.py --workers 2     # spach at size xs: about an hour on 2 cores
    python scripts/bench_suite.py --report-only   # rewrite the published copy from the runs
    python scripts/bench_suite.py --data imagenet:../shared/data/imagewoof --findings F1,F4 \
        --stem spach_suite_imagewoof               # SPACH's F1 and F4 on real ImageNet photos
    python scripts/bench_suite.py --suite coatnet --data cifar10:../shared/data/cifar10 \
        --proxy cpu-cifar --stem coatnet_suite_cifar10
    python scripts/bench_suite.py --from results/benchmarks/search_cifar10 --top 3 \
        --arch spach_ms_xs_patch4_224_conv --arch spach_ms_xs_patch4_224_attn \
        --data cifar10:../shared/data/cifar10 --proxy reference-cifar \
        --carry results/benchmarks/proxy_fidelity_cifar10.runs.jsonl \
        --stem search_vs_seeds_cifar10      # a search's picks against presets (issue 18.5)
    python scripts/bench_suite.py --from results/benchmarks/search_cifar10_supernet \
        --from results/benchmarks/search_cifar10_equal --top 3 \
        --data cifar10:../shared/data/cifar10 --proxy reference-cifar \
        --stem supernet_vs_proxy_search_cifar10   # two searches of equal compute (issue 20.4)

Without --from or --arch it runs a suite. --carry takes the runs of this comparison's models
(same fidelity, data and seed) from another published table, e.g. the calibration's reference
runs of the presets, so they are not trained twice.

Resumable: the runs are in results/compare/<stem>/runs.jsonl; re-run to continue. They are
published as results/benchmarks/<stem>.runs.jsonl (also when the training is stopped: Ctrl-C,
or `--report-only` before a machine goes) and carried back into that table on a new machine,
so a suite spread over several sessions loses only the runs in flight.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas._core import write_text_atomic
from nas.evaluate import RunTable
from nas.report import StudyFolder
from nas.studies.compare import CompareConfig, requests, resolve, run_compare, write_compare

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", help="a shipped suite or suite YAML (default: spach)")
    p.add_argument(
        "--from", dest="from_studies", action="append", default=[], help="a search's folder"
    )
    p.add_argument("--top", type=int, help="with --from: K picks of its front")
    p.add_argument("--arch", action="append", default=[], help="a preset or spec YAML")
    p.add_argument(
        "--carry", action="append", default=[], help="a published runs.jsonl to take runs from"
    )
    p.add_argument("--findings", default="", help="only these findings (e.g. F1,F4)")
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--proxy", default="auto", help="replaces the suite's fidelity")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--stem", default="spach_suite", help="results/benchmarks/<stem>.{csv,md}")
    p.add_argument("--out", help="the comparison's folder (default: results/compare/<stem>)")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--note", default="", help="a line for <stem>.md (conditions, timing)")
    args = p.parse_args()
    # spach_suite's runs have lived in spach-xs since the first publication
    src = Path(args.out or ROOT / "results/compare" / _folder(args.stem))
    findings = tuple(f.strip() for f in args.findings.split(",") if f.strip())
    suite = args.suite or (None if args.from_studies or args.arch else "spach")
    cfg = CompareConfig(
        archs=tuple(args.arch),
        from_studies=tuple(args.from_studies),
        top=args.top,
        suite=suite,
        findings=findings,
        data=args.data,
        proxy=args.proxy,
        seeds=args.seeds,
        workers=args.workers,
        out=str(src),
    )
    command = shlex.join(
        [
            "nas-compare",
            *(["--suite", suite] if suite else []),
            *(a for study in args.from_studies for a in ("--from", study)),
            *(["--top", str(args.top)] if args.top is not None else []),
            *(["--findings", ",".join(findings)] if findings else []),
            *(["--data", args.data] if args.data != "fashion-mnist" else []),
            *(["--proxy", args.proxy] if args.proxy != "auto" else []),
            "--seeds",
            str(args.seeds),
            "--workers",
            str(args.workers),
            "--out",
            _shown(src),
            *args.arch,
        ]
    )
    start = time.monotonic()
    out = ROOT / "results" / "benchmarks"
    published = out / f"{args.stem}.runs.jsonl"
    models, resolved = resolve(cfg)  # a bad argument stops here, before any table is touched
    table = RunTable(StudyFolder(src).runs_jsonl)
    if published.exists():
        carried = table.adopt(RunTable(published).records())
        print(f"{carried} runs carried in from {published.name}", flush=True)
    if args.carry:
        wanted = {r.key for r in requests(models, cfg)}
        for other in map(Path, args.carry):
            runs = [r for r in RunTable(other).records() if r.key in wanted]
            print(f"{table.adopt(runs)} runs carried in from {other.name}", flush=True)
    try:
        if args.report_only:
            write_compare(models, resolved, table, src, cfg=cfg, command=command)
        else:
            run_compare(cfg, command=command)
    finally:  # a stopped session publishes what it finished
        if table.records():
            lines = table.store.read().lines
            write_text_atomic(published, "".join(f"{line}\n" for line in lines))
    write_text_atomic(out / f"{args.stem}.csv", (src / "compare.csv").read_text())
    body = (src / "compare.md").read_text()
    wall = "" if args.report_only else f" ({(time.monotonic() - start) / 60:.0f} min wall)"
    footer = (
        f"\nProduced by `python scripts/bench_suite.py {shlex.join(_without_note(sys.argv[1:]))}`"
        f"{wall}; every run is in `{args.stem}.csv` (and `{args.stem}.runs.jsonl`, which a new "
        "machine resumes from), the dot plot is "
        f"`{_shown(src)}/compare.png`.\n"
    )
    if args.note:
        footer += f"\nNote: {args.note}\n"
    write_text_atomic(out / f"{args.stem}.md", body + footer)
    print(body + footer)


def _shown(path: Path) -> str:
    """A folder as the report names it: from the repository's root when it is inside."""
    full = path.resolve()
    return str(full.relative_to(ROOT)) if full.is_relative_to(ROOT) else str(full)


def _folder(stem: str) -> str:
    return "spach-xs" if stem == "spach_suite" else stem


def _without_note(argv: list[str]) -> list[str]:
    """The command that produces the runs, as the footer shows it: the note follows in full,
    and `--report-only` is how the report was redrawn, not how the runs were made."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--note":
            skip = True
        elif not a.startswith("--note=") and a != "--report-only":
            out.append(a)
    return out


if __name__ == "__main__":
    main()
