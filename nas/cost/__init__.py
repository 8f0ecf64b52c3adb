"""Params and FLOPs: fvcore with complete handles and an audit, budgets, (closed form)."""

from .budget import format_amount, parse_amount, parse_budget
from .fvcore_count import EXTRA_HANDLES, FlopCount, UncountedHeavyOp, count_flops, count_params
from .measure import (
    CostReport,
    build_for_counting,
    empty_model,
    measure,
    measure_model,
    params_of,
)

__all__ = [
    "EXTRA_HANDLES", "CostReport", "FlopCount", "UncountedHeavyOp", "build_for_counting",
    "count_flops", "count_params", "empty_model", "format_amount", "measure", "measure_model",
    "params_of", "parse_amount", "parse_budget",
]
