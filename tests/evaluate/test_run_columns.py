"""A run table's CSV views (calibration.csv, compare.csv) are RunRecord's fields: a field
added to the record is a column, typed as the field, with no list to extend."""

from __future__ import annotations

import dataclasses

from nas.evaluate import RunRecord, records_frame
from nas.evaluate.table import RUN_COLUMNS, run_columns


def _record(cls: type[RunRecord] = RunRecord, **more) -> RunRecord:
    fields = dict(arch_id="0123456789", fidelity="t", fidelity_id="f" * 8, seed=0, status="ok")
    return cls(**{**fields, "curve": [0.5, 0.25], "spec": {"x": 1}, **more})


def test_the_csv_view_holds_the_fields_in_order_with_their_types():
    df = records_frame([_record(), _record(seed=1, flops=None)])
    assert tuple(df.columns) == tuple(f.name for f in dataclasses.fields(RunRecord))
    assert df.columns[1] == "label" and df.columns[-1] == "spec"  # as the views always were
    assert df.loc[0, "curve"] == "0.5000;0.2500" and df.loc[0, "spec"] == '{"x":1}'
    assert set(RUN_COLUMNS.of_type(int)) == {
        "seed",
        "flops",
        "params",
        "proxy_resolution",
        "data_seed",
    }
    assert {str(df[c].dtype) for c in RUN_COLUMNS.of_type(int)} == {"Int64"}


def test_a_new_field_is_a_new_column():
    @dataclasses.dataclass(kw_only=True)
    class WithNote(RunRecord):
        note: int | None = None

    columns = run_columns(WithNote)
    assert columns.names == (*RUN_COLUMNS.names, "note") and "note" in columns.of_type(int)
    df = columns.frame([columns.row(_record(WithNote, note=3))])
    assert df.loc[0, "note"] == 3 and str(df["note"].dtype) == "Int64"
