"""One table of columns per CSV contract: a column added to a table is written and read back
with its type, and the files' writers write exactly the table's columns."""

from __future__ import annotations

import pandas as pd
import pytest

from nas.report import StudyFolder, append_result, read_trials, write_csv_atomic
from nas.report.columns import Column, Table
from nas.report.tables import FULL_TRAINING, TRIALS, FullRunFacts, order_columns


def test_a_tables_columns_are_its_rows_its_frames_and_its_reads(tmp_path):
    table = Table(
        "x.csv",
        (
            Column("id", str, "an id of digits"),
            Column("count", int, "missing in one row"),
            Column("twice", int, "computed", lambda s: 2 * s["count"] if s["count"] else None),
        ),
    )
    rows = [table.row({"id": "0012", "count": 3}), table.row({"id": "0034", "count": None})]
    assert rows[0] == {"id": "0012", "count": 3, "twice": 6}
    df = table.frame(rows)
    assert list(df.columns) == ["id", "count", "twice"]
    assert str(df["count"].dtype) == "Int64"
    write_csv_atomic(df, tmp_path / "x.csv")
    back = table.read(tmp_path / "x.csv")
    assert back["id"].tolist() == ["0012", "0034"]  # not the numbers 12 and 34
    assert back["twice"].tolist()[0] == 6 and pd.isna(back["twice"].tolist()[1])
    assert str(back["twice"].dtype) == "Int64"


def test_trials_csv_is_read_with_its_tables_types(tmp_path):
    df = order_columns(
        pd.DataFrame([{"number": 0, "arch_id": "0123456789", "flops": 10, "epochs": None}])
    )
    assert tuple(df.columns[: len(TRIALS.names)]) == tuple(
        c for c in TRIALS.names if c in df.columns
    )
    write_csv_atomic(df, tmp_path / "trials.csv")
    back = read_trials(tmp_path / "trials.csv")
    assert back.loc[0, "arch_id"] == "0123456789"
    assert {str(back[c].dtype) for c in TRIALS.of_type(int) if c in back} == {"Int64"}


def test_full_training_csv_has_the_tables_columns_and_types(tmp_path):
    row = FULL_TRAINING.check_row(
        {name: 1 for name in FULL_TRAINING.names} | {"arch_id": "0000000001", "checkpoint": "a"}
    )
    folder = StudyFolder(tmp_path)
    assert append_result(row, folder.full_training_csv)
    header = folder.full_training_csv.read_text().splitlines()[0]
    assert tuple(header.split(",")) == FULL_TRAINING.names
    back = folder.full_training()
    assert back.loc[0, "arch_id"] == "0000000001"
    assert str(back["flops"].dtype) == "Int64"


@pytest.mark.parametrize(
    "row", [{"arch_id": "a"}, {**dict.fromkeys(FULL_TRAINING.names), "extra": 1}]
)
def test_a_row_that_misses_or_adds_a_column_is_a_producers_bug(row):
    with pytest.raises(AssertionError, match="full training's results"):
        FULL_TRAINING.check_row(row)


def test_a_full_training_row_is_computed_from_the_runs_facts():
    from nas.models import PRESETS

    spec = PRESETS["spach_xxs_patch16_224_conv"]
    history = [
        {"top1": 61.0, "top5": 90.0, "ema_top1": 60.0},
        {"top1": 64.0, "top5": 92.0, "ema_top1": 63.5},
        {"top1": 63.0, "top5": 93.0, "ema_top1": 63.9},
    ]
    facts = FullRunFacts(
        arch_id="asked", spec=spec, name="run", params=123, history=history, epochs=3,
        weights="ema", data="folder:/d", global_batch=256, wall_s=7200.0, gpus=4,
        device="4 x H200", checkpoint="/r/last.pt", finished_at="2026-12-02T00:00:00Z",
        git_sha="abc",
    )  # fmt: skip
    row = FULL_TRAINING.check_row(FULL_TRAINING.row(facts))
    assert (row["top1"], row["top5"], row["ema_top1"]) == (63.0, 93.0, 63.9)  # the last epoch
    assert row["best_top1"] == 64.0
    assert (row["wall_hours"], row["gpu_hours"]) == (2.0, 8.0)
    assert row["trained_arch_id"] == spec.arch_id and row["arch_id"] == "asked"
    assert row["resolution"] == spec.resolution and row["num_classes"] == spec.num_classes
    assert row["flops"] > 0
