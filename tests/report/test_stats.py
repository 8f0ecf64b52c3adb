"""Statistics of noisy accuracies, against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nas.report import stats


def table(rows: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"arch_id": a, "seed": s, "accuracy": v}
            for a, values in rows.items()
            for s, v in enumerate(values)
        ]
    )


# A ranks first under both seeds; B and C tie under seed 1.
RUNS = table({"A": [0.80, 0.84], "B": [0.70, 0.71], "C": [0.75, 0.71]})


def test_pooled_seed_std_weights_by_degrees_of_freedom():
    # variances 0.0008, 0.00005, 0.0008, one degree of freedom each
    assert stats.pooled_std(RUNS) == pytest.approx(math.sqrt(0.00165 / 3))


def test_spread_of_means_and_signal_to_noise():
    # means 0.82, 0.705, 0.73
    assert stats.between_std(RUNS) == pytest.approx(0.060484, abs=1e-6)
    assert stats.signal_to_noise(RUNS) == pytest.approx(0.060484 / 0.023452, abs=1e-3)


def test_seed_vs_seed_tau_with_a_tie_is_tau_b():
    # pairs: (A,B) and (A,C) concordant, (B,C) tied under seed 1: 2 / sqrt(3 * 2)
    assert stats.seed_vs_seed_tau(RUNS) == pytest.approx(2 / math.sqrt(6))


def test_seed_vs_seed_tau_averages_over_pairs_of_seeds():
    runs = table({"A": [0.9, 0.8, 0.9], "B": [0.8, 0.9, 0.8], "C": [0.7, 0.7, 0.7]})
    # seeds (0,1): 1 of 3 pairs discordant -> 1/3; (0,2): 1; (1,2): 1/3
    assert stats.seed_vs_seed_tau(runs) == pytest.approx((1 / 3 + 1 + 1 / 3) / 3)


def test_one_seed_has_no_noise_estimate():
    runs = table({"A": [0.8], "B": [0.7]})
    assert math.isnan(stats.pooled_std(runs)) and math.isnan(stats.seed_vs_seed_tau(runs))


def test_kendall_of_a_constant_ranking_is_undefined():
    assert math.isnan(stats.kendall([1, 1, 1], [1, 2, 3]))
    assert stats.kendall([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)


def test_rank_tests_are_undefined_on_constant_input_and_give_p_values():
    assert all(math.isnan(v) for v in stats.kendall_test([1, 1, 1], [1, 2, 3]))
    assert all(math.isnan(v) for v in stats.spearman_test([1, 2, 3], [5, 5, 5]))
    tau, p = stats.kendall_test([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    assert tau == pytest.approx(1) and 0 < p < 0.05
    # ties: Spearman's rho on mean ranks, (1.5, 1.5, 3) against (1, 2, 3)
    assert stats.spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(1.5 / math.sqrt(1.5 * 2))


def test_bootstrap_interval_is_deterministic_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    a = rng.normal(size=20)
    b = a + rng.normal(scale=0.5, size=20)
    first = stats.bootstrap(stats.kendall, a, b)
    assert first == stats.bootstrap(stats.kendall, a, b)
    assert first.low < first.estimate < first.high
    perfect = stats.bootstrap(stats.kendall, a, 2 * a)
    assert (perfect.estimate, perfect.low, perfect.high) == pytest.approx((1, 1, 1))


def test_rank_sum_adds_ranks_with_ties_at_their_mean_rank():
    assert stats.rank_sum([3.0, 1.0, 2.0], [10.0, 20.0, 20.0]).tolist() == [4.0, 3.5, 4.5]


def test_top_overlap_counts_the_shared_best_quarter():
    proxy = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    reference = [0.8, 0.9, 0.1, 0.7, 0.6, 0.5, 0.4, 0.3]  # top 2: items 1 and 0
    assert stats.top_overlap(proxy, reference) == 1.0
    assert stats.top_overlap(proxy, [0.1, 0.2, 0.9, 0.8, 0.3, 0.3, 0.3, 0.3]) == 0.0


def test_paired_difference_with_three_seeds_is_better():
    a = pd.Series([0.80, 0.84, 0.82])
    b = pd.Series([0.75, 0.78, 0.76])
    d = stats.paired_difference(a, b)  # differences 0.05, 0.06, 0.06
    half = 2.919986 * np.std([0.05, 0.06, 0.06], ddof=1) / math.sqrt(3)
    assert d.diff.estimate == pytest.approx(0.056667, abs=1e-6)
    assert (d.diff.low, d.diff.high) == pytest.approx((0.056667 - half, 0.056667 + half), abs=1e-5)
    assert d.verdict == "better" and d.detectable == pytest.approx(half, abs=1e-6)
    assert stats.paired_difference(b, a).verdict == "worse"


def test_paired_difference_with_two_noisy_seeds_is_a_tie():
    d = stats.paired_difference(pd.Series([0.80, 0.84]), pd.Series([0.75, 0.71]))
    # differences 0.05, 0.13: mean 0.09, half width t(0.95, 1) * 0.056569 / sqrt(2)
    assert d.diff.low == pytest.approx(0.09 - 0.25255, abs=1e-4)
    assert d.verdict == "tie at this noise"


def test_paired_difference_pairs_only_shared_seeds():
    a = pd.Series({0: 0.8, 1: 0.9, 2: 0.85})
    b = pd.Series({1: 0.8, 2: 0.8})
    assert stats.paired_difference(a, b).n == 2


def test_equivalence_needs_the_whole_interval_inside_the_margin():
    close = stats.paired_difference(
        pd.Series([0.800, 0.805, 0.802]), pd.Series([0.801, 0.803, 0.804])
    )
    assert close.within(0.01) and not close.within(0.001)


def test_hypervolume_of_a_hand_worked_front():
    # reference (accuracy 0.1, cost 10); points (0.5, 2), (0.7, 6), (0.6, 8) dominated, (0.05, 1)
    # worse than the reference. Strips: (0.5 - 0.1) * (10 - 2) = 3.2, (0.7 - 0.5) * (10 - 6) = 0.8
    acc = np.array([0.5, 0.7, 0.6, 0.05])
    cost = np.array([2.0, 6.0, 8.0, 1.0])
    assert stats.hypervolume_2d(acc, cost, ref_accuracy=0.1, ref_cost=10) == pytest.approx(4.0)
    assert stats.pareto_mask(acc, cost).tolist() == [True, True, False, True]
    assert stats.hypervolume_2d(acc[:0], cost[:0], ref_accuracy=0.1, ref_cost=10) == 0.0
    # a point beyond the reference cost adds nothing; duplicates add nothing
    assert stats.hypervolume_2d(
        np.array([0.5, 0.5, 0.9]), np.array([2.0, 2.0, 11.0]), ref_accuracy=0.1, ref_cost=10
    ) == pytest.approx(3.2)
