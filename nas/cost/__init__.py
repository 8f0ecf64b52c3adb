"""Params and FLOPs: fvcore with complete handles and an audit, budgets, the closed form.

Budgets and the closed form are pure arithmetic and load at once; the fvcore side (torch,
timm, fvcore) loads on first use, so `nas-search --dry-run` counts without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .budget import format_amount, parse_amount, parse_budget
from .closed_form import Cost, NoClosedForm, closed_form

_LAZY = {
    "EXTRA_HANDLES": "fvcore_count", "FlopCount": "fvcore_count",
    "UncountedHeavyOp": "fvcore_count", "count_flops": "fvcore_count",
    "count_params": "fvcore_count",
    "CostReport": "measuring", "build_for_counting": "measuring", "empty_model": "measuring",
    "measure": "measuring", "measure_model": "measuring", "params_of": "measuring",
    "CostMismatch": "verify", "verify_cost": "verify",
}

__all__ = ["Cost", "NoClosedForm", "closed_form", "format_amount", "parse_amount",
           "parse_budget", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
