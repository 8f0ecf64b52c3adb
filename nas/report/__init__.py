"""Reports of results folders: their file names and readers (`StudyFolder`), the CSV
contracts (one table of columns each, `nas.report.tables`), the Pareto plot, summary.md,
provenance, and the one writer (`nas.report.writer`) with its folder's lock
(`nas._core.locked`), the proxy's rank agreement with full training
(`nas.report.fidelity.RankAgreement`).

Used by `nas.search` and `nas.train`; depends on neither, and on no Optuna or torch.
"""

from .plots import plot_pareto
from .provenance import provenance
from .study_folder import StudyFolder
from .summary import write_summary
from .tables import LEAD_COLUMNS, read_trials, write_csv_atomic
from .writer import (
    append_result,
    reports_lock,
    write_epoch_log,
    write_result,
    write_run_files,
    write_run_yaml,
    write_search_reports,
)

__all__ = [
    "LEAD_COLUMNS",
    "StudyFolder",
    "append_result",
    "plot_pareto",
    "provenance",
    "read_trials",
    "reports_lock",
    "write_csv_atomic",
    "write_epoch_log",
    "write_result",
    "write_run_files",
    "write_run_yaml",
    "write_search_reports",
    "write_summary",
]
