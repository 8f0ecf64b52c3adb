"""trials.csv rows, and report writing by several processes of one study (they take turns and
never go back)."""

from __future__ import annotations

import threading

import optuna
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from nas.report import read_trials, reports_lock
from nas.search import attrs
from nas.search.config import SearchConfig
from nas.search.results import trial_row
from nas.search.runner import write_reports
from tests.helpers import tiny_spec

from .conftest import TINY_PROXY


def _trial(
    width: int,
    accuracy: float,
    *,
    state: TrialState = TrialState.COMPLETE,
    curve: list[float] | None = None,
) -> optuna.trial.FrozenTrial:
    spec = tiny_spec("conv", width=width, depth=1)
    flops = 1000 * width
    return create_trial(
        state=state,
        values=[accuracy, flops] if state == TrialState.COMPLETE else None,
        params={"width": width},
        distributions={"width": IntDistribution(8, 64)},
        user_attrs={
            attrs.ARCH_ID: spec.arch_id,
            attrs.SPEC: spec.to_dict(),
            attrs.FLOPS: flops,
            attrs.PARAMS: 10 * width,
            attrs.CURVE: curve or [accuracy],
            attrs.PROXY_ACCURACY: accuracy,
            attrs.FEASIBLE: True,
            attrs.TRAINED: True,
        },
    )


def test_writers_take_turns_and_read_the_study_once_they_hold_the_lock(tiny_space, tmp_path):
    cfg = SearchConfig.create(space=str(tiny_space), budget="300K", proxy=TINY_PROXY, out=tmp_path)
    study = optuna.create_study(directions=cfg.directions)
    study.add_trial(_trial(8, 0.5))
    with reports_lock(tmp_path):  # another worker is writing its reports
        writer = threading.Thread(target=write_reports, args=(cfg, study))
        writer.start()
        writer.join(timeout=1.0)
        assert writer.is_alive() and not (tmp_path / "trials.csv").exists()
        study.add_trial(_trial(16, 0.9))  # meanwhile a trial ends and joins the front
    writer.join(timeout=60)
    assert not writer.is_alive()
    assert len(read_trials(tmp_path / "trials.csv")) == 2  # not the view from before the wait
    new = tiny_spec("conv", width=16, depth=1).arch_id
    assert (tmp_path / "archs" / f"{new}.yaml").is_file()


def test_a_failed_trial_has_no_proxy_accuracy_but_keeps_its_curve():
    """Killed (or NaN) after two epochs: the last epoch's accuracy is no result of the trial."""
    row = trial_row(_trial(8, 0.6, state=TrialState.FAIL, curve=[0.4, 0.6]))
    assert row["state"] == "FAIL" and row["proxy_accuracy"] is None
    assert row["curve"] == "0.4000;0.6000" and row["epochs"] == 2
    assert trial_row(_trial(8, 0.6))["proxy_accuracy"] == 0.6
