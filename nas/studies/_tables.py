"""Where a calibration's or a comparison's runs live: the file `OUT/runs.jsonl`, or with
`--storage URL` the table `<kind>/<OUT's folder name>` in that database (`calibration/...`,
`compare/...`). Machines giving the same URL and a results folder of the same name share the
runs; the default folders are named after what is studied (the space and budget, the suite),
so the same command on every machine shares them. Each machine writes the report into its own
folder from every record of the table."""

from __future__ import annotations

import logging
from pathlib import Path

from nas.evaluate import RunTable, open_store
from nas.report import StudyFolder

log = logging.getLogger("nas.studies")


def table_name(out: str | Path, *, kind: str) -> str:
    """The name of the run table of the study whose report goes to `out`, in a database."""
    return f"{kind}/{Path(out).resolve().name}"


def run_table(out: str | Path, *, storage: str | None, kind: str) -> RunTable:
    """The run table of the study whose report goes to `out` (see the module docstring)."""
    path = StudyFolder(out).runs_jsonl
    if not storage:
        return RunTable(path)
    table = RunTable(open_store(path, storage=storage, name=table_name(out, kind=kind)))
    if path.is_file():
        log.warning("%s is not read: the runs of this %s live in %s", path, kind, table.where)
    return table
