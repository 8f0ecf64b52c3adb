"""The one writer of results folders: a search's reports and a full-training run's records.

Every file is replaced atomically (a reader, or a killed run, never sees half of one), and the
processes writing into one folder take turns under one lock, `<folder>/.reports.lock`: several
search workers rewriting one study's reports, several training runs appending to one
full_training.csv, the fidelity report refreshing a study's summary.md. `nas.search` and
`nas.train` hand this module plain tables, specs and dicts; it knows no Optuna or torch.

A search's folder (its file names: `StudyFolder`): trials.csv, pareto.csv, archs/<arch_id>.yaml
(one per Pareto member), pareto.png, summary.md, run.yaml. A training run's folder: spec.yaml,
config.json, log.csv, result.json; beside the runs, full_training.csv with one row per finished
run (its columns: `nas.report.tables.FULL_TRAINING`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nas._core import locked
from nas._core import write_text_atomic as write_text
from nas.space import ArchSpec, save_spec, spec_to_yaml

from .plots import plot_pareto
from .study_folder import StudyFolder
from .summary import write_summary
from .tables import FULL_TRAINING, front_title, write_csv_atomic

LOG_NAME = "log.csv"

EPOCH_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "top1",
    "top5",
    "ema_top1",
    "ema_top5",
    "lr",
    "images_per_s",
    "train_seconds",
    "epoch_seconds",
)

# --- the lock ---------------------------------------------------------------------------------


def reports_lock(folder: str | os.PathLike) -> AbstractContextManager[None]:
    """The lock every writer of `folder`'s reports holds while it reads and writes them."""
    return locked(StudyFolder(folder).lock)


# --- a search's folder ------------------------------------------------------------------------


def write_search_reports(
    out: str | os.PathLike,
    *,
    trials: pd.DataFrame,
    pareto: pd.DataFrame,
    archs: Mapping[str, tuple[ArchSpec, str]],
    max_flops: int,
    max_params: int | None,
    objectives: tuple[str, ...],
    study_name: str,
    resolution: int,
) -> None:
    """trials.csv, pareto.csv, archs/<arch_id>.yaml, pareto.png and summary.md, each atomic.

    `archs`: the Pareto members' specs by arch_id, with the name their file carries. The
    caller holds `reports_lock(out)` and read the tables after taking it, so a later writer
    never replaces newer reports with an older view (nor deletes the spec of a new member)."""
    folder = StudyFolder(out)
    write_csv_atomic(trials, folder.trials_csv)
    write_csv_atomic(pareto, folder.pareto_csv)
    write_archs(folder.archs_dir, archs)
    plot_pareto(
        trials,
        pareto,
        max_flops=max_flops,
        max_params=max_params,
        objectives=objectives,
        path=folder.pareto_png,
        title=f"{study_name}: {front_title(objectives)} at {resolution}px",
    )
    write_summary(folder.root)


def write_archs(folder: Path, archs: Mapping[str, tuple[ArchSpec, str]]) -> None:
    """One spec file per Pareto member; members that left the front are removed. A file that
    exists is kept as it is (its name records the trial that first reached the front)."""
    for arch_id, (spec, name) in archs.items():
        path = folder / f"{arch_id}.yaml"
        if not path.exists():
            write_text(path, spec_to_yaml(spec, name=name))
    keep = {f"{arch_id}.yaml" for arch_id in archs}
    for path in folder.glob("*.yaml") if folder.exists() else []:
        if path.name not in keep:
            path.unlink(missing_ok=True)


def write_run_yaml(out: str | os.PathLike, doc: dict[str, Any]) -> Path:
    """run.yaml: the resolved configuration and provenance of a search, keys in `doc`'s
    order (other tools read `space`, `data` and `resolution` first)."""
    return write_text(StudyFolder(out).run_yaml, yaml.safe_dump(doc, sort_keys=False))


# --- a training run's folder ------------------------------------------------------------------


def write_run_files(
    run_dir: str | os.PathLike, *, spec: ArchSpec, name: str, config: dict[str, Any]
) -> None:
    """spec.yaml (what is trained: the data's classes, the training resolution) and
    config.json (recipe, run settings, derived values, device, provenance)."""
    run_dir = Path(run_dir)
    save_spec(spec, run_dir / "spec.yaml", name=name)
    write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")


def write_epoch_log(history: list[dict[str, Any]], run_dir: str | os.PathLike) -> None:
    """log.csv, rewritten whole from the checkpoint's history after every epoch, so it never
    holds an epoch the checkpoint does not."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EPOCH_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(history)
    write_text(Path(run_dir) / LOG_NAME, buf.getvalue())


def write_result(run_dir: str | os.PathLike, result: dict[str, Any]) -> Path:
    """result.json: the finished run's row of full_training.csv, on its own."""
    return write_text(Path(run_dir) / "result.json", json.dumps(result, indent=2) + "\n")


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_result(row: dict[str, Any], csv_path: str | os.PathLike) -> bool:
    """Append `row` to full_training.csv unless a row names the same checkpoint; True when
    appended. Several runs may finish at once: they take turns under the folder's lock."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with reports_lock(csv_path.parent):
        rows = read_rows(csv_path)
        if any(r.get("checkpoint") == str(row["checkpoint"]) for r in rows):
            return False
        columns = _columns(csv_path)
        if columns and columns != list(FULL_TRAINING.names):  # an older layout: rewrite it whole
            _rewrite(csv_path, [*rows, row])
            return True
        new = not columns
        with open(csv_path, "a", newline="") as f:
            w = csv.DictWriter(
                f, fieldnames=FULL_TRAINING.names, extrasaction="ignore", lineterminator="\n"
            )
            if new:
                w.writeheader()
            w.writerow(row)
            f.flush()
            os.fsync(f.fileno())
    return True


def _columns(path: Path) -> list[str]:
    """The header of a CSV file; [] when there is none."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return next(csv.reader(f), [])


def _rewrite(csv_path: Path, rows: list[dict[str, Any]]) -> None:
    """All rows under the current columns (columns an old file lacks stay empty)."""
    buf = io.StringIO()
    w = csv.DictWriter(
        buf, fieldnames=FULL_TRAINING.names, extrasaction="ignore", lineterminator="\n"
    )
    w.writeheader()
    w.writerows(rows)
    write_text(csv_path, buf.getvalue())
