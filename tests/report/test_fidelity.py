"""The proxy-fidelity report on hand-made inputs whose rank statistics are worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from nas.report import stats
from nas.report.fidelity import (
    RankAgreement,
    fidelity_markdown,
    proxy_fidelity,
    verdict,
    write_fidelity,
)


def _tables(proxy: list[float], full: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"arch{i}" for i in range(len(proxy))]
    return (
        pd.DataFrame(
            {
                "arch_id": ids,
                "proxy_accuracy": proxy,
                "flops": [1e6 * (i + 1) for i in range(len(ids))],
            }
        ),
        pd.DataFrame({"arch_id": ids, "top1": full}),
    )


def test_one_swapped_pair_of_four():
    # proxy orders 0<1<2<3, full training 0<1<3<2: 5 of 6 pairs agree
    fid = proxy_fidelity(*_tables([0.1, 0.2, 0.3, 0.4], [10.0, 20.0, 40.0, 30.0]))
    assert fid.n == 4
    assert fid.kendall_tau == pytest.approx((5 - 1) / 6)  # (C - D) / pairs
    assert fid.spearman_rho == pytest.approx(1 - 6 * 2 / (4 * 15))  # sum d^2 = 2
    assert (fid.pairs_right, fid.pairs) == (5, 6)
    assert fid.top_k_overlap == {1: 0, 3: 3}  # proxy's best (arch3) is second in full
    assert fid.regret == pytest.approx(10.0)
    table = fid.table.set_index("arch_id")
    assert table.loc["arch3", "proxy_rank"] == 1 and table.loc["arch3", "full_rank"] == 2


def test_perfect_and_reversed_rankings():
    right = proxy_fidelity(*_tables([0.1, 0.2, 0.3], [50.0, 60.0, 70.0]))
    assert right.kendall_tau == pytest.approx(1) and right.regret == 0
    assert verdict(right).startswith("strong")
    wrong = proxy_fidelity(*_tables([0.1, 0.2, 0.3], [70.0, 60.0, 50.0]))
    assert wrong.kendall_tau == pytest.approx(-1) and wrong.spearman_rho == pytest.approx(-1)
    assert wrong.regret == pytest.approx(20) and verdict(wrong).startswith("weak")
    assert "indicative, not significant" in verdict(wrong)


def test_ties_use_tau_b_and_all_equal_is_undefined():
    fid = proxy_fidelity(*_tables([0.5, 0.5, 0.7], [60.0, 61.0, 70.0]))
    # tau-b: C=2, D=0, one tie in proxy: 2 / sqrt(2 * 3)
    assert fid.kendall_tau == pytest.approx(2 / math.sqrt(6))
    assert (fid.pairs_right, fid.pairs) == (2, 2)
    flat = proxy_fidelity(*_tables([0.5, 0.5], [60.0, 61.0]))
    assert math.isnan(flat.kendall_tau) and verdict(flat).startswith("undefined")


def test_ties_on_both_sides_are_tau_b_and_the_statistics_module_agrees():
    proxy, full = [0.5, 0.5, 0.7, 0.7], [60.0, 61.0, 61.0, 70.0]
    fid = proxy_fidelity(*_tables(proxy, full))
    assert isinstance(fid, RankAgreement)
    # C=3, D=0 of 6 pairs; 2 tied in proxy, 1 in full: tau-b 3 / sqrt(4 * 5) (tau-a: 0.5)
    assert fid.kendall_tau == pytest.approx(3 / math.sqrt(20))
    # the report and the statistics of run tables are one implementation: ties alike
    assert fid.kendall_tau == stats.kendall(proxy, full)
    assert fid.spearman_rho == stats.spearman(proxy, full)
    assert (fid.kendall_tau, fid.kendall_p) == stats.kendall_test(proxy, full)
    assert (fid.spearman_rho, fid.spearman_p) == stats.spearman_test(proxy, full)


def test_a_tie_across_rank_k_leaves_top_k_overlap_undefined(tmp_path):
    """Which of two tied architectures is 'in the top 3' is the tie-break's choice, not the
    proxy's: the overlap is n/a rather than 3 or 2 by arch_id."""
    fid = proxy_fidelity(*_tables([0.9, 0.8, 0.7, 0.7, 0.5], [90.0, 80.0, 70.0, 60.0, 50.0]))
    assert fid.top_k_overlap == {1: 1, 3: None}
    measures = fid.measures().set_index("measure")
    assert measures.loc["top1_overlap", "value"] == 1
    assert math.isnan(measures.loc["top3_overlap", "value"])
    md = fidelity_markdown(fid)
    assert "| top-3 overlap | n/a (accuracies tie across rank 3) |" in md
    assert "| top-1 overlap | 1 of 1 |" in md
    # a tie in full training counts the same; a tie inside the top k does not matter
    full_tie = proxy_fidelity(*_tables([0.9, 0.8, 0.7, 0.6, 0.5], [90.0, 90.0, 70.0, 60.0, 50.0]))
    assert full_tie.top_k_overlap == {1: None, 3: 3}


def test_a_tie_for_the_proxys_best_averages_the_regret():
    fid = proxy_fidelity(*_tables([0.9, 0.9, 0.5], [60.0, 80.0, 70.0]))
    assert fid.regret == pytest.approx(80 - (60 + 80) / 2)  # not 20 by the arch_id order
    assert fid.top_k_overlap == {1: None}


def test_repeats_are_averaged_and_the_latest_full_run_counts():
    proxy = pd.DataFrame({"arch_id": ["a", "a", "b"], "proxy_accuracy": [0.2, 0.6, 0.3]})
    full = pd.DataFrame({"arch_id": ["a", "b", "a"], "top1": [10.0, 50.0, 70.0]})
    fid = proxy_fidelity(proxy, full)
    table = fid.table.set_index("arch_id")
    assert table.loc["a", "proxy_accuracy"] == pytest.approx(0.4)
    assert table.loc["a", "top1"] == 70.0 and fid.kendall_tau == pytest.approx(1)


def test_fewer_than_two_is_no_report():
    assert proxy_fidelity(*_tables([0.1], [10.0])) is None
    proxy, full = _tables([0.1, 0.2], [10.0, 20.0])
    assert proxy_fidelity(proxy, full.assign(arch_id=["x", "arch1"])) is None


def test_study_files(tmp_path):
    proxy, full = _tables([0.1, 0.2, 0.3, 0.4], [10.0, 20.0, 40.0, 30.0])
    failed = pd.DataFrame({"arch_id": ["arch0"], "proxy_accuracy": [0.99], "flops": [1e6]})
    trials = pd.concat([proxy.assign(state="COMPLETE"), failed.assign(state="FAIL")])
    trials.insert(0, "number", range(len(trials)))  # the trials.csv contract leads with it
    trials.to_csv(tmp_path / "trials.csv", index=False)
    assert write_fidelity(tmp_path) is None  # no full results yet
    full.to_csv(tmp_path / "full_training.csv", index=False)
    fid = write_fidelity(tmp_path)
    assert fid.table.set_index("arch_id").loc["arch0", "proxy_accuracy"] == 0.1  # FAIL ignored
    measures = pd.read_csv(tmp_path / "fidelity.csv").set_index("measure")
    assert measures.loc["kendall_tau", "value"] == pytest.approx(2 / 3)
    assert measures.loc["top1_overlap", "value"] == 0
    assert measures.loc["pairwise_agreement", "value"] == pytest.approx(5 / 6)
    md = (tmp_path / "fidelity.md").read_text()
    assert "| Kendall τ | 0.667" in md and "| arch3 | 4 | 0.4000 | 1 | 30.00 | 2 |" in md
    assert "| Kendall τ | 0.667" in (tmp_path / "summary.md").read_text()  # in the summary
