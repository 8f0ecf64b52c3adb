"""nas-flops NAME|SPEC.yaml [...] [--resolution R] [--format table|csv|json] | --list"""

from __future__ import annotations

import argparse
import csv
import json
import sys

from .common import run

FIELDS = ("name", "arch_id", "resolution", "params", "flops")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nas-flops",
        description="Params and FLOPs (fvcore, one multiply-add = 1 FLOP, fused attention and "
                    "'same'-padded convs counted) of presets or spec files.")
    p.add_argument("models", nargs="*", metavar="NAME|SPEC.yaml",
                   help="preset names (see --list) or ArchSpec YAML files")
    p.add_argument("--resolution", type=int, help="input side in pixels (default: the spec's)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    return run("nas-flops", _main, argv)


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    from nas.cost import format_amount, measure
    from nas.models import PRESETS

    if args.list:
        for name, spec in PRESETS.items():
            print(f"{name:40s} {spec.summary()}")
        return 0
    if not args.models:
        parser().error("give at least one NAME or SPEC.yaml, or --list")
    reports = [measure(m, resolution=args.resolution) for m in args.models]
    if args.format == "json":
        rows = [r.as_dict() for r in reports]
        print(json.dumps(rows[0] if len(rows) == 1 else rows, indent=2))
    elif args.format == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(r.as_dict() for r in reports)
    else:
        for r in reports:
            print(f"{r.name}  (arch_id {r.arch_id}, {r.resolution}x{r.resolution})")
            print(f"  params  {r.params:>18,}  ({format_amount(r.params, '')})")
            print(f"  FLOPs   {r.flops:>18,}  ({format_amount(r.flops)}, fvcore: 1 multiply-add "
                  f"= 1 FLOP)")
            print("  by module: " + ", ".join(
                f"{k} {format_amount(v, '')}" for k, v in r.count.by_module.items() if v))
            print("  audit:")
            for line in r.count.audit():
                print(f"    {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
