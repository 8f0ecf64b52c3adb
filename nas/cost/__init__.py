"""Params and FLOPs: fvcore with complete handles and an audit, budgets, the closed form.

The closed form and budgets are pure Python; the fvcore parts import torch on first use, so
`from nas.cost import closed_form` stays fast (a dry run never loads torch).
"""

from importlib import import_module
from typing import Any

from .budget import format_amount, parse_amount, parse_budget
from .closed_form import Cost, NoClosedForm, closed_form

_LAZY = {
    "EXTRA_HANDLES": "fvcore_count", "FlopCount": "fvcore_count",
    "UncountedHeavyOp": "fvcore_count", "count_flops": "fvcore_count",
    "count_params": "fvcore_count", "CostReport": "measure", "build_for_counting": "measure",
    "empty_model": "measure", "measure": "measure", "measure_model": "measure",
    "params_of": "measure", "CostMismatch": "verify", "verify_cost": "verify",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EXTRA_HANDLES", "Cost", "CostMismatch", "CostReport", "FlopCount", "NoClosedForm",
    "UncountedHeavyOp", "build_for_counting", "closed_form", "count_flops", "count_params",
    "empty_model", "format_amount", "measure", "measure_model", "params_of", "parse_amount",
    "parse_budget", "verify_cost",
]
