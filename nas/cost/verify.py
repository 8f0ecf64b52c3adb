"""The closed form checked against fvcore on a trained candidate: they must agree."""

from __future__ import annotations

from nas._core import NasError
from nas.space import ArchSpec

from .closed_form import Cost, NoClosedForm, closed_form
from .measuring import CostReport, measure


class CostMismatch(NasError, RuntimeError):
    """The closed form and fvcore disagree: a formula is wrong (or the model changed); the
    budget guarantee is broken, so a search stops with this one line."""

    exit_status = 1  # a run that failed, not a usage error


def verify_cost(spec: ArchSpec, *, report: CostReport | None = None) -> tuple[Cost, CostReport]:
    """Both counts of `spec` (`report`: an fvcore measurement already taken, to reuse).

    Raises CostMismatch naming the parts that differ. A spec with a block that has no closed
    form returns the measurement for both (Cost.method == "fvcore").
    """
    report = report if report is not None else measure(spec)
    try:
        closed = closed_form(spec)
    except NoClosedForm:
        return Cost(
            report.params, report.flops, dict(report.count.by_module), method="fvcore"
        ), report
    if (closed.params, closed.flops) != (report.params, report.flops):
        parts = [
            f"{k}: closed form {closed.by_module.get(k, 0):,} vs fvcore {v:,}"
            for k, v in report.count.by_module.items()
            if closed.by_module.get(k, 0) != v
        ]
        raise CostMismatch(
            f"{spec.arch_id} ({spec.summary()}): closed form {closed.params:,} params / "
            f"{closed.flops:,} FLOPs, fvcore {report.params:,} / {report.flops:,}; "
            + ("; ".join(parts) or "FLOPs agree per module, params differ")
        )
    return closed, report
