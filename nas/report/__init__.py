"""Reports of results folders: the CSV contract, the Pareto plot, summary.md, provenance.

Used by `nas.search` and `nas.train`; depends on neither.
"""

from .plots import plot_pareto
from .provenance import provenance
from .summary import write_summary
from .tables import LEAD_COLUMNS, read_trials, write_csv_atomic

__all__ = [
    "LEAD_COLUMNS",
    "plot_pareto",
    "provenance",
    "read_trials",
    "write_csv_atomic",
    "write_summary",
]
