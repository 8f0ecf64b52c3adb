"""Params and FLOPs: fvcore with complete handles and an audit, budgets, the closed form.

Budgets and the closed form are pure arithmetic and load at once; the fvcore side (torch,
timm, fvcore) loads on first use, so `nas-search --dry-run` counts without importing torch.
"""

from __future__ import annotations

from .._lazy import lazy_getattr
from .budget import format_amount, parse_amount, parse_budget
from .closed_form import Cost, NoClosedForm, closed_form

_LAZY = {
    "EXTRA_HANDLES": "fvcore_count",
    "FlopCount": "fvcore_count",
    "UncountedHeavyOp": "fvcore_count",
    "count_flops": "fvcore_count",
    "count_params": "fvcore_count",
    "CostReport": "measuring",
    "build_for_counting": "measuring",
    "empty_model": "measuring",
    "measure": "measuring",
    "measure_model": "measuring",
    "params_of": "measuring",
    "CostMismatch": "verify",
    "verify_cost": "verify",
    "table_gaps": "conformance",
}

__all__ = [
    "Cost",
    "NoClosedForm",
    "closed_form",
    "format_amount",
    "parse_amount",
    "parse_budget",
    *_LAZY,
]

__getattr__ = lazy_getattr(__name__, _LAZY)
