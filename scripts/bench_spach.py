"""SPACH's own study rerun here: `nas-compare --suite spach` at its default size on this
machine, its table and verdicts copied to results/benchmarks/spach_suite.{csv,md}.

    python scripts/bench_spach.py --workers 2     # about an hour on 2 quiet CPU cores
    python scripts/bench_spach.py --report-only   # rewrite the published copy from the runs

Resumable: the runs are in results/compare/spach-xs/runs.jsonl; re-run to continue.
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
from nas.studies.compare import CompareConfig, resolve, run_compare, write_compare

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "results/compare/spach-xs"))
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--note", default="", help="a line for spach_suite.md (conditions, timing)")
    args = p.parse_args()
    cfg = CompareConfig(suite="spach", seeds=args.seeds, workers=args.workers, out=args.out)
    command = (
        f"nas-compare --suite spach --seeds {args.seeds} --workers {args.workers} "
        f"--out {Path(args.out).relative_to(ROOT)}"
    )
    start = time.monotonic()
    if args.report_only:
        models, suite = resolve(cfg)
        write_compare(
            models,
            suite,
            RunTable(StudyFolder(args.out).runs_jsonl),
            Path(args.out),
            cfg=cfg,
            command=command,
        )
    else:
        run_compare(cfg, command=command)
    out = ROOT / "results" / "benchmarks"
    src = Path(args.out)
    write_text_atomic(out / "spach_suite.csv", (src / "compare.csv").read_text())
    body = (src / "compare.md").read_text()
    wall = "" if args.report_only else f" ({(time.monotonic() - start) / 60:.0f} min wall)"
    footer = (
        f"\nProduced by `python scripts/bench_spach.py {shlex.join(_without_note(sys.argv[1:]))}`"
        f"{wall}; every "
        f"run is in `spach_suite.csv`, the dot plot is `{src.relative_to(ROOT)}/compare.png`.\n"
    )
    if args.note:
        footer += f"\nNote: {args.note}\n"
    write_text_atomic(out / "spach_suite.md", body + footer)
    print(body + footer)


def _without_note(argv: list[str]) -> list[str]:
    """The command line as shown in the footer: the note follows it in full."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--note":
            skip = True
        elif not a.startswith("--note="):
            out.append(a)
    return out


if __name__ == "__main__":
    main()
