"""Does every mixer have its three entries? The mixer table, the block registry, the costs.

Adding a mixer is one row in `nas/space/mixers.py` (MIXERS), one class with
`@register_block` in `nas/blocks/`, and one `@block_formula` in `nas/cost/closed_form.py` (or
its name in MEASURED_ONLY there, to be measured with fvcore). `table_gaps()` says which is
missing for which mixer, so a half-added mixer fails the tests with that line, not later in a
search. This module imports torch (through the block registry); `closed_form` does not.
"""

from __future__ import annotations

from nas.blocks import BLOCKS
from nas.space.mixers import MIXERS

from .closed_form import BLOCK_COSTS, MEASURED_ONLY

WHERE = {
    "table": "no row in the mixer table (nas/space/mixers.py: MIXERS)",
    "block": "no block class in the registry (nas/blocks/: a Block with @register_block)",
    "cost": "no closed-form cost (nas/cost/closed_form.py: @block_formula, or MEASURED_ONLY)",
}


def table_gaps(
    *,
    mixers: object = None,
    blocks: object = None,
    costs: object = None,
    measured_only: object = None,
) -> list[str]:
    """One line per missing entry, e.g. "mixer 'gmlp': no block class in the registry
    (...)"; [] when the three tables agree. The keyword arguments replace the live tables
    (for tests)."""
    mixers = MIXERS if mixers is None else mixers
    blocks = BLOCKS if blocks is None else blocks
    costs = BLOCK_COSTS if costs is None else costs
    measured = MEASURED_ONLY if measured_only is None else measured_only
    gaps = []
    for name in sorted({*mixers, *blocks, *costs, *measured}):
        has = {
            "table": name in mixers,
            "block": name in blocks,
            "cost": name in costs or name in measured,
        }
        gaps += [f"mixer {name!r}: {WHERE[k]}" for k, ok in has.items() if not ok]
        if name in costs and name in measured:
            gaps.append(f"mixer {name!r}: both a closed form and listed in MEASURED_ONLY")
    return gaps
