"""What a full-training run leaves behind: its per-epoch log and its row in full_training.csv.

log.csv is rewritten from the checkpoint's history after every epoch, so it never holds an epoch
the checkpoint does not. full_training.csv gets one row per finished run, appended under a file
lock (several runs may finish at once) and only when no row names the same checkpoint yet.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from nas._files import locked
from nas.space.io import write_text_atomic

LOG_NAME = "log.csv"
FULL_TRAINING_CSV = "full_training.csv"

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

# accuracies in percent (timm's convention); hours of wall clock; gpu_hours = wall x GPUs.
# arch_id: the architecture asked for; trained_arch_id: the one trained (spec.yaml of the run:
# the data's classes, the training resolution), whose flops, params and accuracies these are.
RESULT_COLUMNS = (
    "arch_id",
    "trained_arch_id",
    "name",
    "flops",
    "params",
    "top1",
    "top5",
    "best_top1",
    "ema_top1",
    "epochs",
    "resolution",
    "num_classes",
    "data",
    "global_batch",
    "gpu_hours",
    "wall_hours",
    "device",
    "checkpoint",
    "finished_at",
    "git_sha",
)


def write_epoch_log(history: list[dict[str, Any]], run_dir: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EPOCH_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(history)
    write_text_atomic(run_dir / LOG_NAME, buf.getvalue())


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_result(row: dict[str, Any], csv_path: Path) -> bool:
    """Append `row` unless one with the same checkpoint is there; True when appended."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with locked(csv_path.with_name(f".{csv_path.name}.lock")):
        rows = read_rows(csv_path)
        if any(r.get("checkpoint") == str(row["checkpoint"]) for r in rows):
            return False
        columns = _columns(csv_path)
        if columns and columns != list(RESULT_COLUMNS):  # an older layout: rewrite it whole
            _rewrite(csv_path, [*rows, row])
            return True
        new = not columns
        with open(csv_path, "a", newline="") as f:
            w = csv.DictWriter(
                f, fieldnames=RESULT_COLUMNS, extrasaction="ignore", lineterminator="\n"
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
    w = csv.DictWriter(buf, fieldnames=RESULT_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(csv_path, buf.getvalue())


def git_sha() -> str:
    """The commit of the nas checkout that ran (empty when not in a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def provenance() -> dict[str, str]:
    import timm
    import torch

    return {
        "git_sha": git_sha(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
    }
