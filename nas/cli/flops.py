"""nas-flops NAME|SPEC.yaml [...] [--resolution R] [--method fvcore|closed-form|both]
[--format table|csv|json] | --list"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from .common import ArgumentParser, run

FIELDS = ("name", "arch_id", "resolution", "params", "flops")
AUDIT_FIELDS = ("by_operator", "uncounted")  # fvcore's audit in CSV: "op=n;op=n"
BOTH_FIELDS = (
    *FIELDS,
    "closed_form_params",
    "closed_form_flops",
    "params_difference",
    "flops_difference",
)
METHODS = ("fvcore", "closed-form", "both")


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="nas-flops",
        description="Params and FLOPs (fvcore, one multiply-add = 1 FLOP, fused attention and "
        "'same'-padded convs counted) of presets or spec files.",
    )
    p.add_argument(
        "models",
        nargs="*",
        metavar="NAME|SPEC.yaml",
        help="preset names (see --list) or ArchSpec YAML files",
    )
    p.add_argument("--resolution", type=int, help="input side in pixels (default: the spec's)")
    p.add_argument(
        "--method",
        choices=METHODS,
        default="fvcore",
        help="fvcore: trace the built model (default); closed-form: arithmetic on "
        "the spec, no model built, equal to fvcore to the unit; both: the two "
        "and their difference (exit code 1 if they differ)",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    return run("nas-flops", _main, argv)


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    from nas.models import PRESETS

    if args.list:
        for name, spec in PRESETS.items():
            print(f"{name:40s} {spec.summary()}")
        return 0
    if not args.models:
        parser().error("give at least one NAME or SPEC.yaml, or --list")
    rows = [_count(m, args.resolution, args.method) for m in args.models]
    {"json": _print_json, "csv": _print_csv, "table": _print_table}[args.format](rows, args.method)
    differs = any(r.get("flops_difference") or r.get("params_difference") for r in rows)
    return 1 if differs else 0


def _count(model: str, resolution: int | None, method: str) -> dict[str, Any]:
    """One row: fvcore's report fields and/or the closed form's, and their difference."""
    from nas.cost import NoClosedForm, closed_form, measure
    from nas.models import resolve_spec
    from nas.space import ConfigError

    spec = resolve_spec(model)
    if resolution is not None:
        spec = spec.replace(resolution=resolution)
    row: dict[str, Any] = {"name": model, "arch_id": spec.arch_id, "resolution": spec.resolution}
    if method != "closed-form":
        report = measure(spec)
        row.update(report.as_dict(), name=model, report=report)
    if method != "fvcore":
        try:
            cost = closed_form(spec)
        except NoClosedForm as e:
            raise ConfigError(f"{model}: {e}; count it with --method fvcore") from None
        closed = {
            "params": cost.params,
            "flops": cost.flops,
            "by_module": cost.by_module,
            "params_by_module": cost.params_by_module,
        }
        if method == "closed-form":
            row.update(closed, method="closed-form")
        else:
            row.update(
                closed_form=closed,
                params_difference=cost.params - row["params"],
                flops_difference=cost.flops - row["flops"],
            )
    return row


def _print_json(rows: list[dict[str, Any]], method: str) -> None:
    rows = [{k: v for k, v in r.items() if k != "report"} for r in rows]
    print(json.dumps(rows[0] if len(rows) == 1 else rows, indent=2))


def _print_csv(rows: list[dict[str, Any]], method: str) -> None:
    fields = BOTH_FIELDS if method == "both" else FIELDS
    if method != "closed-form":
        fields = (*fields, *AUDIT_FIELDS)
    w = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        if method == "both":
            r = {
                **r,
                "closed_form_params": r["closed_form"]["params"],
                "closed_form_flops": r["closed_form"]["flops"],
            }
        if method != "closed-form":
            r = {
                **r,
                **{
                    k: ";".join(f"{op}={n}" for op, n in sorted(r[k].items()))
                    for k in AUDIT_FIELDS
                },
            }
        w.writerow(r)


def _print_table(rows: list[dict[str, Any]], method: str) -> None:
    from nas.cost import format_amount

    for r in rows:
        print(f"{r['name']}  (arch_id {r['arch_id']}, {r['resolution']}x{r['resolution']})")
        if method == "both":
            c = r["closed_form"]
            for what, unit in (("params", ""), ("flops", "FLOPs")):
                label = "FLOPs" if what == "flops" else what
                print(
                    f"  {label:<6}  fvcore {r[what]:>18,}   closed form {c[what]:>18,}   "
                    f"difference {r[f'{what}_difference']:,}  ({format_amount(r[what], unit)})"
                )
            bad = {
                k: (v, c["by_module"].get(k, 0))
                for k, v in r["by_module"].items()
                if v != c["by_module"].get(k, 0)
            }
            for k, (v, w) in bad.items():
                print(f"    {k}: fvcore {v:,}, closed form {w:,}")
        else:
            how = (
                "closed form: arithmetic on the spec"
                if method == "closed-form"
                else "fvcore: 1 multiply-add = 1 FLOP"
            )
            print(f"  params  {r['params']:>18,}  ({format_amount(r['params'], '')})")
            print(f"  FLOPs   {r['flops']:>18,}  ({format_amount(r['flops'])}, {how})")
        print(
            "  by module: "
            + ", ".join(f"{k} {format_amount(v, '')}" for k, v in r["by_module"].items() if v)
        )
        if "report" in r:
            print("  audit:")
            for line in r["report"].count.audit():
                print(f"    {line}")


if __name__ == "__main__":
    sys.exit(main())
