"""Noise-aware search: the repeat rule, and repeats inside a real (tiny) search."""

from __future__ import annotations

import pandas as pd
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from nas.report.summary import front_ties
from nas.search import attrs, run_search
from nas.search.repeats import parse_repeats, study_noise
from nas.space import ConfigError

from .conftest import TINY_BUDGET, TINY_PROXY, needs_fmnist

AUTO = parse_repeats("auto")


def done(
    acc: float,
    flops: float,
    *,
    seeds: list[float] | None = None,
    arch: str = "x",
    state: TrialState = TrialState.COMPLETE,
):
    return create_trial(
        state=state,
        values=[acc, flops] if state == TrialState.COMPLETE else None,
        params={"p": 0.0},
        distributions={"p": FloatDistribution(0, 1)},
        user_attrs={
            attrs.TRAINED: True,
            attrs.FEASIBLE: True,
            attrs.COSTS: [flops],
            attrs.PROXY_ACCURACY: acc,
            attrs.ARCH_ID: arch,
            attrs.SEED_ACCURACIES: seeds or [acc],
        },
    )


TRIALS = [done(0.70, 1e9, arch="a"), done(0.80, 2e9, arch="b"), done(0.90, 4e9, arch="c")]


def test_a_candidate_within_the_noise_of_the_best_cheaper_one_is_repeated():
    # at 3 GFLOPs the best cheaper one is 0.80 (1 seed); 2 * 0.01 * sqrt(1 + 1) = 0.028
    assert AUTO.wanted([0.82], costs=[3e9], trials=TRIALS, sigma=0.01)  # just above it
    assert AUTO.wanted([0.79], costs=[3e9], trials=TRIALS, sigma=0.01)  # just below it


def test_a_candidate_clearly_ahead_or_behind_is_not_repeated():
    # the dearer 0.90 (at 4 GFLOPs) is 0.05 away: no doubt there either
    assert not AUTO.wanted([0.85], costs=[3e9], trials=TRIALS, sigma=0.01)
    assert not AUTO.wanted([0.75], costs=[3e9], trials=TRIALS, sigma=0.01)
    # the band narrows with seeds: 0.775 is within it after one seed, two seeds averaging
    # 0.775 sit 2.04 standard errors low (0.01 * sqrt(1/2 + 1) each)
    assert AUTO.wanted([0.775], costs=[3e9], trials=TRIALS, sigma=0.01)
    assert not AUTO.wanted([0.770, 0.780], costs=[3e9], trials=TRIALS, sigma=0.01)


def test_a_candidate_that_decides_a_dearer_one_is_repeated():
    # 0.79 at 1.5 GFLOPs is clearly ahead of the cheaper 0.70, but within the noise of the
    # dearer 0.80: whether that one stays on the front depends on it
    assert AUTO.wanted([0.79], costs=[1.5e9], trials=TRIALS, sigma=0.01)
    assert not AUTO.wanted([0.75], costs=[1.5e9], trials=TRIALS, sigma=0.01)


def test_the_first_candidate_is_not_repeated():
    assert not AUTO.wanted([0.5], costs=[1e9], trials=[], sigma=0.02)


def test_the_cap_and_fixed_counts():
    assert not AUTO.wanted([0.9, 0.9, 0.9], costs=[3e9], trials=TRIALS, sigma=0.01)
    fixed = parse_repeats(2)
    assert fixed.wanted([0.1], costs=[3e9], trials=TRIALS, sigma=0.01)
    assert not fixed.wanted([0.1, 0.2], costs=[3e9], trials=TRIALS, sigma=0.01)
    assert not parse_repeats("1").wanted([0.99], costs=[0.1], trials=[], sigma=0.01)


def test_pruned_and_failed_trials_are_not_the_front():
    trials = [done(0.70, 1e9, state=TrialState.PRUNED), done(0.80, 1e9)]
    assert not AUTO.wanted([0.70], costs=[3e9], trials=trials, sigma=0.01)
    assert AUTO.wanted([0.79], costs=[3e9], trials=trials, sigma=0.01)


def test_the_noise_is_the_prior_until_two_candidates_measure_it():
    one = [done(0.8, 1, seeds=[0.79, 0.81], arch="a"), done(0.7, 1, seeds=[0.70], arch="b")]
    assert study_noise(one) == (0.02, 1, False)
    two = [*one[:1], done(0.6, 1, seeds=[0.56, 0.64], arch="c")]
    sigma, n, measured = study_noise(two)
    # pooled: the root mean of the two candidates' sample variances
    assert (n, measured) == (2, True)
    assert sigma == pytest.approx(((0.0141421**2 + 0.0565685**2) / 2) ** 0.5, abs=1e-6)


def test_the_end_summary_uses_the_measured_noise_once_two_candidates_have_two_seeds():
    """The last line of nas-search and summary.md's seed noise: the pooled std of the
    candidates with 2+ seeds as soon as there are two of them (not the 0.02 prior)."""
    import optuna

    from nas.cli.search import noise_line
    from nas.report.summary import seed_noise
    from nas.search.results import trials_frame

    one = [done(0.8, 1, seeds=[0.79, 0.81], arch="a"), done(0.7, 2, seeds=[0.70], arch="b")]
    two = [*one, done(0.6, 3, seeds=[0.56, 0.64], arch="c")]
    pooled = ((0.0141421**2 + 0.0565685**2) / 2) ** 0.5
    for trials, measured in ((one, False), (two, True)):
        study = optuna.create_study(directions=["maximize", "minimize"])
        study.add_trials(trials)
        line = noise_line(study)
        sigma, n, got = seed_noise(trials_frame(study.get_trials()))
        assert got == measured and n == (2 if measured else 1)
        if measured:
            assert sigma == pytest.approx(pooled, abs=1e-4)  # the CSV keeps 4 decimals
            assert line.startswith(f"seed noise measured in this study: std {pooled:.4f} over 2")
        else:
            assert sigma == 0.02 and line.endswith("assumed std 0.02")


@pytest.mark.parametrize("bad", ["0", "many", "11", True])
def test_bad_repeats_are_errors(bad):
    with pytest.raises(ConfigError, match="--repeats"):
        parse_repeats(bad)


def test_front_members_closer_than_the_noise_are_ties():
    pareto = pd.DataFrame(
        {
            "number": [1, 2, 3],
            "flops": [1e9, 2e9, 3e9],
            "proxy_accuracy": [0.70, 0.72, 0.80],
            "seeds": [3, 3, 1],
        }
    )
    verdicts = front_ties(pareto, objectives=("accuracy", "flops"), sigma=0.02)
    assert verdicts[1] == "cheapest"
    # 0.02 < 2 * 0.02 * sqrt(2/3)
    assert verdicts[2] == "+0.0200 over #1: tie at this noise"
    # 0.08 > 2 * 0.02 * sqrt(1/3 + 1)
    assert verdicts[3] == "+0.0800 over #2: better"


@needs_fmnist
@pytest.mark.slow
def test_fixed_repeats_train_every_completed_candidate_that_often(tmp_path, tiny_space):
    outcome = run_search(
        space=str(tiny_space),
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=3,
        repeats=2,
        pruner="none",
        out=tmp_path / "out",
        progress=False,
    )
    trained = outcome.trials[outcome.trials["state"] == "COMPLETE"]
    trained = trained[trained["duplicate_of"].isna() & trained["trained"].astype(bool)]
    assert len(trained) == 3 and set(trained["seeds"]) == {2}
    for _, r in trained.iterrows():
        seeds = [float(v) for v in r["seed_accuracies"].split(";")]
        assert r["proxy_accuracy"] == pytest.approx(sum(seeds) / 2, abs=1e-4)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "proxy accuracy (mean ± std, seeds)" in summary and "Seed noise: std" in summary
    assert "(2) |" in summary


@needs_fmnist
@pytest.mark.slow
def test_auto_leaves_the_first_candidate_alone_and_records_the_seeds(tmp_path, tiny_space):
    outcome = run_search(
        space=str(tiny_space),
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=2,
        pruner="none",
        out=tmp_path / "out",
        progress=False,
    )
    first, second = outcome.trials.iloc[0], outcome.trials.iloc[1]
    assert first["seeds"] == 1  # nothing to decide yet
    assert 1 <= second["seeds"] <= 3
    assert len(second["seed_accuracies"].split(";")) == second["seeds"]
