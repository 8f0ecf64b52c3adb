"""The one writer: search and training outputs share one lock per folder; nas.report sits
below the commands that write reports and imports none of them."""

from __future__ import annotations

import subprocess
import sys
import threading

from nas.report import append_result, reports_lock, write_epoch_log
from nas.report.writer import EPOCH_COLUMNS


def test_a_training_row_waits_while_a_search_writes_the_same_folder(tmp_path):
    csv_path = tmp_path / "full_training.csv"
    row = {"arch_id": "abcdefabcd", "top1": 80.0, "checkpoint": "/runs/a/last.pt"}
    with reports_lock(tmp_path):  # a search worker rewriting the study's reports
        writer = threading.Thread(target=append_result, args=(row, csv_path))
        writer.start()
        writer.join(timeout=1.0)
        assert writer.is_alive() and not csv_path.exists()
    writer.join(timeout=30)
    assert not writer.is_alive() and "abcdefabcd" in csv_path.read_text()
    assert not append_result(row, csv_path)  # the same checkpoint is recorded once


def test_the_epoch_log_has_the_contract_columns(tmp_path):
    write_epoch_log([{"epoch": 1, "top1": 50.0, "extra": "ignored"}], tmp_path)
    header, first = (tmp_path / "log.csv").read_text().splitlines()
    assert header.split(",") == list(EPOCH_COLUMNS) and first.startswith("1,,,50.0")


def test_report_imports_no_search_train_optuna_or_torch():
    code = (
        "import sys, nas.report, nas.report.writer, nas.report.fidelity\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('optuna', 'torch')\n"
        "             or m.startswith(('nas.search', 'nas.train', 'nas.cli')))\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
