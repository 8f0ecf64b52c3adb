"""nas-calibrate: the architecture draw, the figures on a hand-made table, and a whole
calibration on tiny proxies."""

from __future__ import annotations

import math
import subprocess
import sys

import pandas as pd
import pytest

from nas.search.feasible import FeasibleRegion
from nas.space import load_space
from nas.studies.calibration_report import MIN_RANKED, compute, write_report
from nas.studies.draws import draw_architectures, family

from ..search.conftest import ROOT, TINY_BUDGET, cli_env, needs_fmnist, tiny_space, write_proxy

__all__ = ["tiny_space"]


def test_the_draw_spreads_over_cost_and_mixer_and_is_repeatable():
    region = FeasibleRegion(load_space("hybrid"), max_flops="4GFLOPs")
    drawn = draw_architectures(region, k=12, seed=0)
    again = draw_architectures(region, k=12, seed=0)
    assert [d.spec.arch_id for d in drawn] == [d.spec.arch_id for d in again]
    assert len({d.spec.arch_id for d in drawn}) == 12
    assert all(d.flops <= 4 * 10**9 for d in drawn)
    assert {family(d.spec) for d in drawn} == {"conv", "attn", "mlp"}
    quartiles = {d.label.split("(q")[1][0] for d in drawn}
    assert quartiles == {"1", "2", "3", "4"}
    assert draw_architectures(region, k=12, seed=1)[0].spec != drawn[0].spec


def test_a_small_budget_draws_within_it():
    """Of the hybrid space's 52.7e9 architectures 196,404 fit within 200 MFLOPs (0.0004%):
    rejection finds next to none, so the pool is drawn choice by choice inside the region."""
    region = FeasibleRegion(load_space("hybrid"), max_flops="200M")
    drawn = draw_architectures(region, k=3, seed=0)
    assert len({d.spec.arch_id for d in drawn}) == 3
    assert all(d.flops <= 200 * 10**6 and region.fits(d.spec) for d in drawn)


def test_a_region_smaller_than_asked_gives_what_it_holds_and_says_so(tiny_space, caplog):
    region = FeasibleRegion(load_space(str(tiny_space)), max_flops=TINY_BUDGET)  # 9 fit
    drawn = draw_architectures(region, k=12, seed=0)
    assert len({d.spec.arch_id for d in drawn}) == 9
    assert "--archs 12: the draw found only 9 distinct architectures" in caplog.text


def _runs(rows: list[tuple[str, str, int, float]], *, seconds: dict[str, float]) -> pd.DataFrame:
    flops = {"A": 1e9, "B": 2e9, "C": 3e9, "D": 4e9}  # cheapest is best
    return pd.DataFrame(
        [
            {
                "arch_id": a,
                "fidelity": f,
                "fidelity_id": f,
                "seed": s,
                "status": "ok",
                "accuracy": acc,
                "seconds": seconds[f],
                "flops": flops[a],
                "params": flops[a] / 100,
            }
            for a, f, s, acc in rows
        ]
    )


# Reference order A > B > C > D. Proxy p1 gets it right under both seeds; p2 swaps B and C
# under seed 1 and ties them in the mean.
ROWS = [
    ("A", "ref", 0, 0.90),
    ("B", "ref", 0, 0.85),
    ("C", "ref", 0, 0.80),
    ("D", "ref", 0, 0.75),
    ("A", "p1", 0, 0.70),
    ("B", "p1", 0, 0.60),
    ("C", "p1", 0, 0.50),
    ("D", "p1", 0, 0.40),
    ("A", "p1", 1, 0.72),
    ("B", "p1", 1, 0.62),
    ("C", "p1", 1, 0.52),
    ("D", "p1", 1, 0.42),
    ("A", "p2", 0, 0.70),
    ("B", "p2", 0, 0.60),
    ("C", "p2", 0, 0.50),
    ("D", "p2", 0, 0.40),
    ("A", "p2", 1, 0.70),
    ("B", "p2", 1, 0.50),
    ("C", "p2", 1, 0.60),
    ("D", "p2", 1, 0.40),
]


def test_figures_against_hand_computed_values():
    cal = compute(
        _runs(ROWS, seconds={"ref": 100, "p1": 20, "p2": 10}),
        reference_id="ref",
        proxy_ids=["p1", "p2"],
        target=0.5,
    )
    p1, p2 = cal.proxies
    assert p1.tau.estimate == pytest.approx(1) and p1.seed_tau == pytest.approx(1)
    assert p1.within_std == pytest.approx(math.sqrt(0.0002))  # each pair differs by 0.02
    # p2 means: A .70, B .55, C .55, D .40 -> B,C tied: tau-b = 5 / sqrt(6 * 5)
    assert p2.tau.estimate == pytest.approx(5 / math.sqrt(30))
    # seed 0 agrees with seed 1 on 5 of 6 pairs: (5 - 1) / 6
    assert p2.seed_tau == pytest.approx(4 / 6)
    assert p2.top_overlap == 1.0 and p1.top_overlap == 1.0
    # ranking by FLOPs (more is better) is the reverse of the reference's
    assert cal.baselines["flops"].estimate == pytest.approx(-1.0)
    assert p1.gain_over_flops.estimate == pytest.approx(2.0)
    # summed with FLOPs: p1's ranks cancel the reversed FLOPs ranks (a constant, tau undefined);
    # p2's sums A 5, B 4.5, C 5.5, D 5 agree with the reference on 2 pairs, disagree on 3 and
    # tie on A-D: tau-b = -1 / sqrt(5 * 6), one better than FLOPs alone (-1)
    assert math.isnan(p1.gain_with_flops.estimate)
    assert p2.gain_with_flops.estimate == pytest.approx(1 - 1 / math.sqrt(30))
    assert cal.reference.name == "ref" and math.isnan(cal.reference.within_std)


def test_signal_to_noise_needs_seeds_on_more_than_one_architecture():
    one = [*ROWS, ("A", "ref", 1, 0.9001)]  # the reference repeated on A alone
    ref = compute(
        _runs(one, seconds={"ref": 100, "p1": 20, "p2": 10}), reference_id="ref", proxy_ids=["p1"]
    ).reference
    assert ref.repeated == 1 and ref.within_std == pytest.approx(0.0001 / math.sqrt(2))
    assert math.isnan(ref.snr)  # not 0.055 / 0.00007 = 800
    p1 = compute(
        _runs(ROWS, seconds={"ref": 100, "p1": 20, "p2": 10}), reference_id="ref", proxy_ids=["p1"]
    ).proxies[0]
    assert p1.repeated == 4 and p1.snr == pytest.approx(p1.between_std / p1.within_std)


def test_the_cheapest_proxy_that_clears_is_recommended_and_none_when_none_does():
    runs = _runs(ROWS, seconds={"ref": 100, "p1": 20, "p2": 10})
    ids = dict(reference_id="ref", proxy_ids=["p1", "p2"], min_ranked=4)
    # p2 is cheaper, but only p1's interval clears 0.95
    assert compute(runs, **ids, target=0.95).pick.name == "p1"
    assert compute(runs, **ids, target=0.0).pick.name == "p2"
    assert compute(runs, **ids, target=1.01).pick is None


def _report_md(tmp_path, cal, runs: pd.DataFrame) -> str:
    """calibration.md as write_report writes it for `cal` over the hand-made `runs`."""
    write_report(
        tmp_path,
        cal=cal,
        runs=runs.assign(label=runs["arch_id"]),
        header=["# Calibration"],
        descriptions={},
        proxies={},
    )
    return (tmp_path / "calibration.md").read_text()


def test_too_few_ranked_architectures_withhold_the_recommendation(tmp_path):
    """Four architectures in the reference's order give tau 1 on [1, 1]: that is no evidence
    (chance orders four right once in 24), so no recommended.yaml, and calibration.md says why."""
    runs = _runs(ROWS, seconds={"ref": 100, "p1": 20, "p2": 10})
    cal = compute(runs, reference_id="ref", proxy_ids=["p1", "p2"], target=0.5)
    assert cal.proxies[0].clears(0.5) and cal.proxies[0].ranked == 4 < MIN_RANKED
    assert cal.pick is None
    assert cal.withheld == (
        f"only 4 architecture(s) ranked by both a proxy and the reference, fewer than {MIN_RANKED}"
    )
    (tmp_path / "recommended.yaml").write_text("epochs: 1\n")  # an earlier report's
    md = _report_md(tmp_path, cal, runs)
    assert not (tmp_path / "recommended.yaml").exists()
    assert f"None: {cal.withheld}." in md and "no `recommended.yaml` is written" in md


def _recommendation_md(tmp_path, runs: pd.DataFrame, proxy_ids: list[str]) -> str:
    cal = compute(runs, reference_id="ref", proxy_ids=proxy_ids, target=1.01, min_ranked=4)
    assert cal.pick is None and not cal.withheld
    return _report_md(tmp_path, cal, runs)


def test_when_none_clears_the_report_says_what_the_best_ones_noise_and_flops_mean(tmp_path):
    """The best proxy's ties come from its own seed noise (none when it is unmeasured or a
    score that no seed changes), and FLOPs ahead of it is said."""
    runs = _runs(ROWS, seconds={"ref": 100, "p1": 20, "p2": 10})
    md = _recommendation_md(tmp_path, runs, ["p1", "p2"])  # p1: tau 1, FLOPs reversed (-1)
    assert "The best is `p1` (τ 1.00 [1.00, 1.00] over 4 architectures" in md
    assert "smaller than about 0.028 (twice its seed std) are ties" in md
    assert "The ranking by FLOPs" not in md
    # over four architectures its interval reaches 0: not shown to add
    assert "no proxy is shown to add to it on its interval; the closest is `p2` (gain 0.82" in md
    one_seed = runs[(runs["fidelity"] == "ref") | (runs["seed"] == 0)]
    assert "its seed noise is not measured yet" in _recommendation_md(tmp_path, one_seed, ["p1"])
    fixed = runs[runs["fidelity"] != "p2"].copy()
    fixed.loc[fixed["fidelity"] == "p1", "accuracy"] = fixed["arch_id"].map(
        {"A": 0.7, "B": 0.5, "C": 0.6, "D": 0.4}
    )  # the same under both seeds, B and C swapped: tau 4/6
    biggest_best = fixed["arch_id"].map({"A": 4e9, "B": 3e9, "C": 2e9, "D": 1e9})
    md = _recommendation_md(tmp_path, fixed.assign(flops=biggest_best), ["p1"])
    assert "its score does not change with the seed" in md and "twice its seed std" not in md
    assert "The ranking by FLOPs (τ 1.00" in md and "is ahead of it" in md
    # FLOPs already right, p1 swaps B and C: its sum with FLOPs cannot improve on FLOPs
    assert "Summed with the FLOPs ranking (rank sum), no proxy is shown to add to it" in md


def test_a_proxy_that_breaks_the_flops_rankings_errors_is_said_to_add_to_it(tmp_path):
    """16 architectures: FLOPs swap each neighbour pair (0, 1), (2, 3), ... of the reference's
    order, the proxy the pairs between them (1, 2), (3, 4), ...; each alone inverts 8 or 7 of
    120 pairs, their rank sum none: tau 1 against FLOPs' 104 / 120."""
    n = 16

    def swapped(first: int) -> list[int]:
        order = list(range(n))
        for i in range(first, n - 1, 2):
            order[i], order[i + 1] = order[i + 1], order[i]
        return order

    flops, proxy = swapped(0), swapped(1)
    runs = pd.DataFrame(
        [
            {
                "arch_id": f"a{i}",
                "fidelity": fid,
                "fidelity_id": fid,
                "seed": 0,
                "status": "ok",
                "accuracy": acc / 100,
                "seconds": 1.0,
                "flops": (flops[i] + 1) * 1e8,
                "params": 1e6,
            }
            for i in range(n)
            for fid, acc in (("ref", i), ("p", proxy[i]))
        ]
    )
    cal = compute(runs, reference_id="ref", proxy_ids=["p"], target=1.01)
    (p,) = cal.proxies
    assert cal.baselines["flops"].estimate == pytest.approx(104 / 120)
    assert p.tau.estimate == pytest.approx(106 / 120) and p.gain_over_flops.low < 0
    assert p.gain_with_flops.estimate == pytest.approx(16 / 120) and p.gain_with_flops.low > 0
    assert p.sum_over_proxy.estimate == pytest.approx(14 / 120) and p.sum_over_proxy.low > 0
    md = _report_md(tmp_path, cal, runs)
    assert "Summed with the FLOPs ranking, `p` adds to it (gain 0.13 [" in md
    assert "rank them by the sum of the two ranks" in md
    # FLOPs backwards: a good proxy 'adds' to it, but the sum is worse than the proxy alone
    backwards = runs.assign(flops=runs["flops"].max() + 1e8 - runs["flops"])
    cal = compute(backwards, reference_id="ref", proxy_ids=["p"], target=1.01)
    md = _report_md(tmp_path, cal, backwards)
    assert "but the sum is not shown to rank better than `p` alone" in md
    assert "rank them by the sum" not in md


@needs_fmnist
@pytest.mark.slow
def test_a_calibration_end_to_end_resumes_and_reports(tmp_path, tiny_space):
    proxy = write_proxy(
        tmp_path / "p.yaml", epochs=1, train_images=64, val_images=32, name="quick"
    )
    ref = write_proxy(tmp_path / "ref.yaml", epochs=1, train_images=128, val_images=64, name="ref")
    out = tmp_path / "cal"
    cmd = [
        sys.executable,
        "-m",
        "nas.cli.calibrate",
        "--space",
        str(tiny_space),
        "--budget",
        TINY_BUDGET,
        "--proxies",
        f"tiny,{proxy}",
        "--reference",
        str(ref),
        "--archs",
        "4",
        "--seeds",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    first = subprocess.run(
        [*cmd, "--only", "quick"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr
    assert pd.read_csv(out / "calibration.csv").groupby("fidelity").size().to_dict() == {
        "quick": 8
    }
    done = subprocess.run(
        cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr
    runs = pd.read_csv(out / "calibration.csv")
    # 4 archs x 2 proxies x 2 seeds, the reference once each and twice on the noise archs
    assert runs.groupby("fidelity").size().to_dict() == {
        "tiny": 8,
        "quick": 8,
        "ref": 4 + min(4, 4),
    }
    md = (out / "calibration.md").read_text()
    for text in (
        "| `tiny` |",
        "| `quick` |",
        "(reference)",
        "ranking by flops (baseline)",
        "## Recommendation",
        "seed-vs-seed τ",
    ):
        assert text in md
    assert (out / "calibration.png").stat().st_size > 1000
    lines = (out / "runs.jsonl").read_text()
    again = subprocess.run(
        cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0 and (out / "runs.jsonl").read_text() == lines


def test_bad_options_are_one_line_errors(tmp_path, tiny_space):
    cmd = [
        sys.executable,
        "-m",
        "nas.cli.calibrate",
        "--space",
        str(tiny_space),
        "--budget",
        TINY_BUDGET,
        "--archs",
        "1",
        "--out",
        str(tmp_path),
        "--dry-run",
    ]
    done = subprocess.run(
        cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "nas-calibrate: error: --archs: expected an integer >= 2, got 1"
    ]
    done = subprocess.run(
        [*cmd[:-3], "--proxies", "nope", "--dry-run"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "unknown proxy preset 'nope'" in done.stderr
    done = subprocess.run(
        [
            *cmd[:-4],
            "2",
            "--proxies",
            "tiny",
            "--out",
            str(tmp_path),
            "--only",
            "tiny,nope",
            "--dry-run",
        ],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "nas-calibrate: error: --only: unknown fidelity 'nope'; expected one of "
        "reference, reference-cpu, tiny"
    ]


def test_only_takes_a_fidelity_by_name_or_spelled_as_in_proxies(tmp_path, tiny_space):
    from nas.space import ConfigError
    from nas.studies.calibration import CalibrationConfig, make_plan, selected

    proxy = write_proxy(tmp_path / "p.yaml", epochs=1, train_images=64, name="quick")
    plan = make_plan(
        CalibrationConfig(
            space=str(tiny_space), budget=TINY_BUDGET, proxies=("tiny", str(proxy)), archs=4,
            seeds=2, device="cpu",
        )
    )  # fmt: skip
    by_name = selected(plan, ("quick",))
    assert by_name and {r.fidelity.name for r in by_name} == {"quick"}
    assert selected(plan, (str(proxy),)) == by_name
    with pytest.raises(ConfigError, match="unknown fidelity 'zc:synflow'"):
        selected(plan, ("zc:synflow",))  # a valid spelling, but not a rung of this plan


def test_the_reference_trains_two_noise_seeds_then_every_architecture_then_the_rest(tiny_space):
    """A τ needs every architecture ranked once, so the noise architectures' third seed waits
    until each other architecture has its one reference run."""
    from nas.studies.calibration import CalibrationConfig, make_plan

    plan = make_plan(
        CalibrationConfig(
            space=str(tiny_space), budget=TINY_BUDGET, proxies=("tiny",), archs=6, seeds=3,
            device="cpu",
        )
    )  # fmt: skip
    ref = [(r.spec.arch_id, r.seed) for r in plan.requests() if r.fidelity == plan.reference]
    noisy, others = set(plan.noise_archs), len(plan.archs) - len(plan.noise_archs)
    assert len(ref) == 3 * len(noisy) + others
    n = len(noisy)
    head, middle, tail = ref[: 2 * n], ref[2 * n : -n], ref[-n:]
    assert {a for a, _ in head} == noisy and {s for _, s in head} == {0, 1}
    assert len(middle) == others and all(a not in noisy and s == 0 for a, s in middle)
    assert {a for a, _ in tail} == noisy and {s for _, s in tail} == {2}


def test_the_ladder_trains_judged_architectures_first(tiny_space, tmp_path):
    """With the reference run on one architecture, the ladder trains every seed there first:
    a calibration stopped after a few proxy runs already has a τ's pairs."""
    from nas.evaluate import RunRecord, RunTable
    from nas.studies.calibration import CalibrationConfig, judged_first, make_plan

    plan = make_plan(
        CalibrationConfig(
            space=str(tiny_space), budget=TINY_BUDGET, proxies=("tiny",), archs=4, seeds=2,
            device="cpu",
        )
    )  # fmt: skip
    table = RunTable(tmp_path / "runs.jsonl")
    last = plan.archs[-1].spec.arch_id
    for arch, status in ((last, "ok"), (plan.archs[0].spec.arch_id, "failed")):
        ref = plan.reference
        table.append(
            RunRecord(arch_id=arch, fidelity=ref.name, fidelity_id=ref.fidelity_id, seed=0,
                      status=status)
        )  # fmt: skip
    ordered = judged_first(plan.requests(), table, plan.reference)
    assert sorted(r.key for r in ordered) == sorted(r.key for r in plan.requests())
    ladder = [(r.spec.arch_id, r.seed) for r in ordered if r.fidelity != plan.reference]
    assert ladder[:2] == [(last, 0), (last, 1)]  # a failed reference run judges nothing
    rest = [s for a, s in ladder[2:]]
    assert all(a != last for a, _ in ladder[2:]) and rest == sorted(rest)  # then seed by seed
    tail = [r for r in ordered if r.fidelity == plan.reference]
    assert tail == [r for r in plan.requests() if r.fidelity == plan.reference]


def test_the_default_proxy_and_reference_are_those_designed_for_the_data(tiny_space, tmp_path):
    from nas.studies.calibration import CalibrationConfig, make_plan

    def defaults(data: str) -> tuple[str, str]:
        plan = make_plan(
            CalibrationConfig(
                space=str(tiny_space), budget=TINY_BUDGET, archs=2, seeds=2, device="cpu",
                data=data,
            )
        )  # fmt: skip
        return plan.proxies[0].name, plan.reference.name

    assert defaults(f"cifar10:{tmp_path}") == ("cpu-cifar", "reference-cifar")
    assert defaults("fashion-mnist") == ("cpu", "reference-cpu")
