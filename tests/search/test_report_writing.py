"""trials.csv rows, and report writing by several processes of one study (they take turns and
never go back)."""

from __future__ import annotations

import threading

import optuna
from optuna.trial import TrialState

from nas.report import read_trials, reports_lock, tables, write_csv_atomic
from nas.report.columns import Column, Table
from nas.report.tables import TRIALS, TrialFacts
from nas.search import attrs, results
from nas.search.config import SearchConfig
from nas.search.results import trial_row
from nas.search.runner import write_reports
from tests.helpers import tiny_spec

from .conftest import TINY_PROXY, search_trial


def test_writers_take_turns_and_read_the_study_once_they_hold_the_lock(tiny_space, tmp_path):
    cfg = SearchConfig.create(space=str(tiny_space), budget="300K", proxy=TINY_PROXY, out=tmp_path)
    study = optuna.create_study(directions=cfg.directions)
    study.add_trial(search_trial(8, 0.5))
    with reports_lock(tmp_path):  # another worker is writing its reports
        writer = threading.Thread(target=write_reports, args=(cfg, study))
        writer.start()
        writer.join(timeout=1.0)
        assert writer.is_alive() and not (tmp_path / "trials.csv").exists()
        study.add_trial(search_trial(16, 0.9))  # meanwhile a trial ends and joins the front
    writer.join(timeout=60)
    assert not writer.is_alive()
    assert len(read_trials(tmp_path / "trials.csv")) == 2  # not the view from before the wait
    new = tiny_spec("conv", width=16, depth=1).arch_id
    assert (tmp_path / "archs" / f"{new}.yaml").is_file()


def test_a_failed_trial_has_no_proxy_accuracy_but_keeps_its_curve():
    """Killed (or NaN) after two epochs: the last epoch's accuracy is no result of the trial."""
    row = trial_row(search_trial(8, 0.6, state=TrialState.FAIL, curve=[0.4, 0.6]))
    assert row["state"] == "FAIL" and row["proxy_accuracy"] is None
    assert row["curve"] == "0.4000;0.6000" and row["epochs"] == 2
    assert trial_row(search_trial(8, 0.6))["proxy_accuracy"] == 0.6


def test_a_trials_row_has_the_tables_columns_then_the_sampled_params():
    row = trial_row(search_trial(8, 0.6))
    assert list(row) == [*TRIALS.names, "param.width"]


def test_the_table_reads_only_user_attributes_a_search_sets():
    class Recording(dict):
        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

    read: set[str] = set()
    t = search_trial(8, 0.6, state=TrialState.FAIL)
    TRIALS.row(TrialFacts(number=0, state="FAIL", attrs=Recording(t.user_attrs)))
    TRIALS.row(TrialFacts(number=0, state="COMPLETE", attrs=Recording(t.user_attrs)))
    assert read and read <= set(attrs.TRIAL_ATTRS)


def test_a_column_added_to_the_table_is_written_and_read_with_its_type(tmp_path, monkeypatch):
    """Adding a trials.csv column is one Column: the row, the file and the reader follow."""
    phase = Column("phase", str, "where the trial stopped")
    more = Table(TRIALS.name, (*TRIALS.columns, phase))
    monkeypatch.setattr(tables, "TRIALS", more)
    monkeypatch.setattr(results, "TRIALS", more)
    trial = search_trial(8, 0.6)
    trial.set_user_attr(attrs.PHASE, "done")
    df = results.trials_frame([trial])
    assert df.columns[len(TRIALS.names)] == "phase" and df.loc[0, "phase"] == "done"
    write_csv_atomic(df, tmp_path / "trials.csv")
    assert read_trials(tmp_path / "trials.csv")["phase"].tolist() == ["done"]
