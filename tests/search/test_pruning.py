"""The cost-aware median rule that stops proxy training in multi-objective studies."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from nas.search.pruning import (
    CheaperTrialsRule,
    NoStopping,
    OptunaPruning,
    make_early_stopping,
    reference_accuracies,
    stop_decision,
)


def done(curve, flops, *, feasible=True, trained=True, duplicate_of=None, x=0):
    return create_trial(
        state=TrialState.COMPLETE,
        values=[curve[-1], flops],
        params={"x": x},
        distributions={"x": IntDistribution(0, 1000)},
        user_attrs={
            "curve": curve,
            "costs": [flops],
            "trained": trained,
            "duplicate_of": duplicate_of,
        },
        system_attrs={"constraints:flops": -0.5 if feasible else 0.5},
    )


def test_only_cheaper_feasible_trained_originals_are_references():
    trials = [
        done([0.5, 0.7], 100),
        done([0.6, 0.8], 200),
        done([0.9, 0.95], 300),
        done([0.99, 0.99], 100, feasible=False),
        done([0.99, 0.99], 100, trained=False),
        done([0.99, 0.99], 100, duplicate_of=0),
        done([0.2], 50),  # stopped after one epoch: no accuracy at epoch 2
    ]
    assert sorted(reference_accuracies(trials, epoch=1, costs=[200])) == [0.2, 0.5, 0.6]
    assert sorted(reference_accuracies(trials, epoch=2, costs=[200])) == [0.7, 0.8]
    assert reference_accuracies(trials, epoch=1, costs=[40]) == []


def test_stops_below_the_median_of_enough_references_only():
    refs = [0.5, 0.6, 0.7]
    assert stop_decision(0.55, refs, percentile=50, min_references=3)
    assert not stop_decision(0.65, refs, percentile=50, min_references=3)
    assert not stop_decision(0.1, refs[:2], percentile=50, min_references=3)
    assert not stop_decision(0.56, refs, percentile=25, min_references=3)  # 25th: 0.55
    assert stop_decision(0.54, refs, percentile=25, min_references=3)


def test_the_rule_reads_the_study_and_never_compares_with_dearer_candidates():
    study = optuna.create_study(directions=["maximize", "minimize"])
    for k, (acc, flops) in enumerate([(0.8, 100), (0.82, 150), (0.85, 200)]):
        study.add_trial(done([acc - 0.1, acc], flops, x=k))
    rule = CheaperTrialsRule(study)
    trial = study.ask()
    assert rule.should_stop(trial, epoch=1, accuracy=0.5, costs=[250])  # trails cheaper ones
    assert not rule.should_stop(trial, epoch=1, accuracy=0.76, costs=[250])
    assert not rule.should_stop(trial, epoch=1, accuracy=0.1, costs=[120])  # one cheaper only


def test_single_objective_studies_use_optunas_pruners():
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=2)
    )
    for k, acc in enumerate([0.8, 0.9]):
        study.add_trial(
            create_trial(
                value=acc,
                params={"x": k},
                distributions={"x": IntDistribution(0, 9)},
                intermediate_values={1: acc},
            )
        )
    stopping = make_early_stopping(study, pruner="median", percentile=50, multi_objective=False)
    assert isinstance(stopping, OptunaPruning)
    trial = study.ask()
    assert stopping.should_stop(trial, epoch=1, accuracy=0.5, costs=[])
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {1: 0.5}


@pytest.mark.parametrize(
    "pruner, multi, kind",
    [
        ("none", True, NoStopping),
        ("median", True, CheaperTrialsRule),
        ("percentile", True, CheaperTrialsRule),
        ("median", False, OptunaPruning),
    ],
)
def test_make_early_stopping(pruner, multi, kind):
    study = optuna.create_study(directions=["maximize", "minimize"] if multi else ["maximize"])
    assert isinstance(
        make_early_stopping(study, pruner=pruner, percentile=50, multi_objective=multi), kind
    )
