"""The evaluation engine: architectures x fidelities x seeds trained into a resumable table.

The search's trials (and their repeats), `nas-calibrate` and `nas-compare` all train through
`train_once` / `run_all`; a table is kept in a file or a database (`open_store`). The reports
on top of a table live with the commands that write them, the statistics they share in
`nas.report.stats`.
"""

from .engine import run_all
from .fidelity import Fidelity
from .runs import RunKey, RunRecord, RunRequest, cost_of, load_fidelity_data, train_once, train_run
from .store import RunStore, StorageError, open_store
from .table import RunTable, records_frame

__all__ = [
    "Fidelity",
    "RunKey",
    "RunRecord",
    "RunRequest",
    "RunStore",
    "RunTable",
    "StorageError",
    "cost_of",
    "load_fidelity_data",
    "open_store",
    "records_frame",
    "run_all",
    "train_once",
    "train_run",
]
