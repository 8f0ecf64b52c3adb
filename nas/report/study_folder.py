"""StudyFolder: the one owner of a results folder's file names and of their readers.

A search writes trials.csv, pareto.csv, pareto.png, archs/<arch_id>.yaml (one per Pareto
member), run.yaml, summary.md and, by default, its Optuna journal; `nas-train --from` adds
full/<arch_id>/ (one folder per trained pick), full_training.csv, fidelity.csv and fidelity.md;
calibrations and comparisons keep their run table, runs.jsonl. Every module that writes or
reads one of these asks this class for its path or its contents, so a file's name lives here
only. (`nas.models.register_study`, a layer below, reads archs/ and run.yaml itself; a test
holds it to these names.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nas.space import ArchSpec, load_spec
from nas.space.io import read_yaml

from .tables import FULL_TRAINING, read_trials


@dataclass(frozen=True, init=False)
class StudyFolder:
    root: Path

    TRIALS = "trials.csv"
    PARETO = "pareto.csv"
    PARETO_PNG = "pareto.png"
    ARCHS = "archs"
    RUN = "run.yaml"
    SUMMARY = "summary.md"
    JOURNAL = "study.journal"
    FULL = "full"
    FULL_TRAINING = "full_training.csv"
    FIDELITY_CSV = "fidelity.csv"
    FIDELITY_MD = "fidelity.md"
    RUNS = "runs.jsonl"
    LOCK = ".reports.lock"  # its writers take turns under it (`nas.report.reports_lock`)

    def __init__(self, root: str | os.PathLike) -> None:
        object.__setattr__(self, "root", Path(root))

    # --- paths ------------------------------------------------------------------------------

    @property
    def trials_csv(self) -> Path:
        return self.root / self.TRIALS

    @property
    def pareto_csv(self) -> Path:
        return self.root / self.PARETO

    @property
    def pareto_png(self) -> Path:
        return self.root / self.PARETO_PNG

    @property
    def archs_dir(self) -> Path:
        return self.root / self.ARCHS

    def arch_path(self, arch_id: str) -> Path:
        return self.archs_dir / f"{arch_id}.yaml"

    @property
    def run_yaml(self) -> Path:
        return self.root / self.RUN

    @property
    def summary_md(self) -> Path:
        return self.root / self.SUMMARY

    @property
    def journal(self) -> Path:
        """The Optuna journal a search keeps here unless given another storage."""
        return self.root / self.JOURNAL

    @property
    def full_dir(self) -> Path:
        """Where `nas-train --from` trains the picks, one folder per arch_id."""
        return self.root / self.FULL

    @property
    def full_training_csv(self) -> Path:
        return self.root / self.FULL_TRAINING

    @property
    def fidelity_csv(self) -> Path:
        return self.root / self.FIDELITY_CSV

    @property
    def fidelity_md(self) -> Path:
        return self.root / self.FIDELITY_MD

    @property
    def runs_jsonl(self) -> Path:
        """The run table (`nas.evaluate.RunTable`) of a calibration or a comparison."""
        return self.root / self.RUNS

    @property
    def lock(self) -> Path:
        return self.root / self.LOCK

    # --- readers ----------------------------------------------------------------------------

    def trials(self) -> pd.DataFrame | None:
        """trials.csv with its columns' types (`nas.report.tables.TRIALS`); None if absent."""
        return read_trials(self.trials_csv) if self.trials_csv.is_file() else None

    def pareto(self) -> pd.DataFrame | None:
        """pareto.csv, typed as trials.csv; None if absent."""
        return read_trials(self.pareto_csv) if self.pareto_csv.is_file() else None

    def full_training(self) -> pd.DataFrame | None:
        """full_training.csv with its columns' types; None if absent."""
        if not self.full_training_csv.is_file():
            return None
        return FULL_TRAINING.read(self.full_training_csv)

    def run(self) -> dict[str, Any]:
        """run.yaml (the search's configuration and provenance); {} when absent."""
        doc = read_yaml(self.run_yaml) if self.run_yaml.is_file() else {}
        return doc if isinstance(doc, dict) else {}

    def arch_files(self) -> list[Path]:
        """archs/<arch_id>.yaml, one per Pareto member, in arch_id order."""
        return sorted(self.archs_dir.glob("*.yaml"))

    def archs(self) -> dict[str, ArchSpec]:
        """The Pareto members' specs by arch_id (their file names)."""
        return {p.stem: load_spec(p) for p in self.arch_files()}

    def arch(self, arch_id: str) -> ArchSpec:
        return load_spec(self.arch_path(arch_id))
