"""Params and FLOPs: fvcore with complete handles and an audit, budgets, the closed form."""

from .budget import format_amount, parse_amount, parse_budget
from .closed_form import Cost, NoClosedForm, closed_form
from .fvcore_count import EXTRA_HANDLES, FlopCount, UncountedHeavyOp, count_flops, count_params
from .measure import (
    CostReport,
    build_for_counting,
    empty_model,
    measure,
    measure_model,
    params_of,
)
from .verify import CostMismatch, verify_cost

__all__ = [
    "EXTRA_HANDLES", "Cost", "CostMismatch", "CostReport", "FlopCount", "NoClosedForm",
    "UncountedHeavyOp", "build_for_counting", "closed_form", "count_flops", "count_params",
    "empty_model", "format_amount", "measure", "measure_model", "params_of", "parse_amount",
    "parse_budget", "verify_cost",
]
