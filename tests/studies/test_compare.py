"""nas-compare: verdicts against hand-made runs, suite files with typos, and a tiny suite end
to end."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from nas.space import ConfigError
from nas.space.spec import spec_from_dict
from nas.studies.compare_report import finding_verdict, picks_vs_baselines, verdict
from nas.studies.suites import Comparison, load_suite

from ..search.conftest import ROOT, TINY_PROXY, cli_env, needs_fmnist


def runs(rows: dict[str, list[tuple[float, float]]]) -> pd.DataFrame:
    """model -> [(validation, train accuracy) per seed]."""
    out = [
        {"model": m, "seed": s, "accuracy": v, "train_accuracy": t, "gap": t - v}
        for m, values in rows.items()
        for s, (v, t) in enumerate(values)
    ]
    return pd.DataFrame(out)


RUNS = runs(
    {
        "a": [(0.80, 0.90), (0.82, 0.93), (0.81, 0.92)],
        "b": [(0.75, 0.80), (0.78, 0.81), (0.76, 0.80)],  # a - b: 0.05, 0.04, 0.05
        "c": [(0.805, 0.85), (0.815, 0.86), (0.812, 0.85)],  # a - c: -0.005, 0.005, -0.002
        "d": [(0.70, 0.70), (0.90, 0.90), (0.75, 0.75)],  # noisy
    }
)


def test_a_clear_difference_is_reproduced_and_its_reverse_contradicted():
    assert verdict(RUNS, Comparison("a", "b"))[0] == "reproduced"
    assert verdict(RUNS, Comparison("b", "a"))[0] == "contradicted"
    assert verdict(RUNS, Comparison("a", "d"))[0] == "inconclusive at this noise"


def test_rivals_is_an_equivalence_test_against_the_margin():
    assert verdict(RUNS, Comparison("a", "c", "equivalent", 0.02))[0] == "reproduced"
    assert verdict(RUNS, Comparison("a", "b", "equivalent", 0.01))[0] == "contradicted"
    # a - c lies within +-0.01 only partly: [-0.0099, 0.0085] is inside, so shrink the margin
    assert verdict(RUNS, Comparison("a", "c", "equivalent", 0.005))[0] == (
        "inconclusive at this noise"
    )


def test_overfitting_is_read_from_the_train_validation_gap():
    # gaps: a 0.10, 0.11, 0.11; b 0.05, 0.03, 0.04
    assert verdict(RUNS, Comparison("a", "b", "larger-gap"))[0] == "reproduced"
    assert verdict(RUNS, Comparison("b", "a", "larger-gap"))[0] == "contradicted"


def test_a_larger_gain_is_a_difference_of_differences_paired_by_seed():
    # from "b" to "a" the first model gains 0.05, 0.04, 0.05; from "d" to "c" the second
    # gains 0.105, -0.085, 0.062: a smaller mean, and seeds that disagree
    table = RUNS
    assert verdict(table, Comparison("a", "b", "larger-gain", base=("b", "b")))[0] == (
        "reproduced"
    )
    assert verdict(table, Comparison("b", "a", "larger-gain", base=("a", "a")))[0] == (
        "contradicted"
    )
    noisy = verdict(table, Comparison("a", "c", "larger-gain", base=("b", "d")))
    assert noisy[0] == "inconclusive at this noise"
    assert noisy[1].startswith("(a − b) − (c − d): ")


def test_the_coatnet_suite_tests_the_data_size_claim_on_the_same_models():
    suite = load_suite("coatnet")
    t2 = {f.id: f for f in suite.findings}["T2"]
    gains = [c for c in t2.comparisons if c.kind == "larger-gain"]
    assert len(gains) == 2
    for c in gains:
        for big, small in zip((c.a, c.b), c.base):
            assert suite.models[big].spec == suite.models[small].spec
            assert suite.models[big].proxy.train_images == 10 * (
                suite.models[small].proxy.train_images
            )


def test_a_finding_is_reproduced_only_when_every_comparison_is():
    assert finding_verdict(["reproduced", "reproduced"]) == "reproduced"
    assert finding_verdict(["contradicted"] * 2) == "contradicted"
    assert finding_verdict(["reproduced", "inconclusive at this noise"]).startswith("partly")
    assert finding_verdict(["reproduced", "contradicted"]).startswith("mixed")


SUITE = {
    "name": "tiny",
    "fidelity": {
        **{k: v for k, v in TINY_PROXY.to_dict().items() if k != "name"},
        "epochs": 1,
        "train_images": 64,
        "val_images": 32,
    },
    "models": {
        "conv": {
            "spec": {
                "resolution": 32,
                "stem": {"patch_size": 4},
                "stages": [{"width": 8, "blocks": [["conv", 1]]}],
            }
        },
        "attn": {
            "spec": {
                "resolution": 32,
                "stem": {"patch_size": 4},
                "stages": [{"width": 8, "blocks": [["attn", 1]], "heads": 2}],
            }
        },
    },
    "findings": [
        {"id": "X1", "claim": "conv beats attention", "comparisons": [{"a": "conv", "b": "attn"}]}
    ],
}


def write_suite(path, **changes):
    data = {**SUITE, **changes}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "change, where, what",
    [
        (
            {"models": {**SUITE["models"], "x": {"preset": "spach_nope"}}},
            "models.x.preset",
            "unknown preset 'spach_nope'",
        ),
        (
            {"findings": [{"id": "X", "claim": "c", "comparisons": [["conv", "mlp"]]}]},
            "findings[0].comparisons[0].b",
            "names no model of the suite: 'mlp'",
        ),
        (
            {
                "findings": [
                    {
                        "id": "X",
                        "claim": "c",
                        "comparisons": [{"a": "conv", "b": "attn", "kind": "bigger"}],
                    }
                ]
            },
            "findings[0].comparisons[0].kind",
            "expected one of better, equivalent, larger-gap, larger-gain",
        ),
        (
            {
                "findings": [
                    {
                        "id": "X",
                        "claim": "c",
                        "comparisons": [{"a": "conv", "b": "attn", "kind": "larger-gain"}],
                    }
                ]
            },
            "findings[0].comparisons[0].from",
            "expected the two models that a and b gain over",
        ),
        (
            {
                "findings": [
                    {
                        "id": "X",
                        "claim": "c",
                        "comparisons": [{"a": "conv", "b": "attn", "from": ["conv", "attn"]}],
                    }
                ]
            },
            "findings[0].comparisons[0].from",
            "only a larger-gain comparison takes `from`",
        ),
        ({"fidelity": {"epochs": 0}}, "fidelity.epochs", "expected an integer >= 1"),
        (
            {"models": {"conv": {"preset": "coatnet_0_224", "group": "big"}}},
            "models.conv.group",
            "unknown group 'big'",
        ),
    ],
)
def test_a_suite_with_a_typo_is_one_line_naming_file_and_field(tmp_path, change, where, what):
    path = write_suite(tmp_path / "s.yaml", **change)
    with pytest.raises(ConfigError) as e:
        load_suite(path)
    assert str(e.value).startswith(f"{path}: {where}: ") and what in str(e.value)
    done = subprocess.run(
        [sys.executable, "-m", "nas.cli.compare", "--suite", str(path), "--dry-run"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(f"nas-compare: error: {path}: {where}: ")


def test_the_shipped_suites_load_at_every_size():
    for size, smaller in (("xs", "xxs"), ("s", "xs")):
        suite = load_suite("spach", size=size)
        assert suite.models["ms_mlp_smaller"].source == f"spach_ms_{smaller}_patch4_224_mlp"
        assert suite.models["ms_attn_nocpe"].spec.stages[1].cpe is False
        assert [f.id for f in suite.findings] == ["F1", "F2", "F3", "F4"]
    assert {m.proxy.resolution for m in load_suite("spach").models.values()} == {128}
    for name in ("convmixer", "coatnet"):
        assert load_suite(name).findings


@needs_fmnist
@pytest.mark.slow
def test_a_suite_end_to_end_on_a_tiny_fidelity_resumes(tmp_path):
    path = write_suite(tmp_path / "s.yaml")
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "nas.cli.compare",
        "--suite",
        str(path),
        "--seeds",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    done = subprocess.run(
        cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out / "compare.csv")
    assert len(table) == 4 and table["train_accuracy"].between(0, 1).all()
    md = (out / "compare.md").read_text()
    for text in (
        "### X1: conv beats attention",
        "**Verdict:",
        "| `conv` |",
        "32px | 8×8 |",
        "## Pairwise differences",
        "train − val",
    ):
        assert text in md
    assert (out / "compare.png").stat().st_size > 1000
    lines = (out / "runs.jsonl").read_text()
    again = subprocess.run(
        cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0 and (out / "runs.jsonl").read_text() == lines
    assert "replaces the suite's own fidelity" not in md
    other = tmp_path / "other"
    cmd[cmd.index(str(out))] = str(other)
    replaced = subprocess.run(
        [*cmd, "--proxy", "tiny"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert replaced.returncode == 0, replaced.stderr
    md = (other / "compare.md").read_text()
    assert "Here `--proxy tiny` replaces the suite's own fidelity" in md and "- tiny: " in md


def test_comparing_needs_two_architectures(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "nas.cli.compare", "coatnet_0_224", "--dry-run"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "expected at least two architectures" in done.stderr


def test_a_study_front_is_compared_by_its_arch_ids(tmp_path):
    from nas.space import save_spec
    from nas.space.spec import spec_from_dict
    from nas.studies.compare import CompareConfig, resolve

    study = tmp_path / "study"
    for name, model in SUITE["models"].items():
        spec = spec_from_dict(model["spec"])
        save_spec(spec, study / "archs" / f"{spec.arch_id}.yaml", name=name)
    models, suite = resolve(CompareConfig(from_studies=(str(study),), proxy="tiny"))
    assert suite is None and len(models) == 2
    assert {m.name for m in models} == {m.spec.arch_id for m in models}
    with pytest.raises(ConfigError, match="no Pareto members"):
        resolve(CompareConfig(from_studies=(str(tmp_path),), proxy="tiny"))


def test_each_pick_of_a_search_meets_the_best_baseline_of_no_more_flops():
    from nas.studies.suites import Model

    spec = spec_from_dict(SUITE["models"]["conv"]["spec"])
    models = [
        Model("a", spec, "x", TINY_PROXY, pick=True),
        Model("d", spec, "x", TINY_PROXY, pick=True),
        Model("b", spec, "p", TINY_PROXY),
        Model("c", spec, "p", TINY_PROXY),
    ]
    summary = pd.DataFrame(
        {
            "model": ["a", "d", "b", "c"],
            "flops": [3e9, 1e9, 2e9, 2.5e9],
            "mean": [0.81, 0.78, 0.763, 0.811],
        }
    )
    got = {
        p["model"]: (b["model"], more, d)
        for p, b, more, d in picks_vs_baselines(models, summary, RUNS)
    }
    # a (3 GFLOPs) meets c, the more accurate of the two cheaper baselines
    assert got["a"][:2] == ("c", False) and got["a"][2].verdict == "tie at this noise"
    # no baseline is as cheap as d (1 GFLOPs): it meets the cheapest, which costs more
    assert got["d"][:2] == ("b", True) and got["d"][2].n == 3


def test_a_pick_not_yet_trained_shows_dashes_not_nan():
    from nas.studies.compare_report import _picks_md
    from nas.studies.suites import Model

    spec = spec_from_dict(SUITE["models"]["conv"]["spec"])
    models = [Model("e", spec, "x", TINY_PROXY, pick=True), Model("b", spec, "p", TINY_PROXY)]
    summary = pd.DataFrame({"model": ["e", "b"], "flops": [3e9, 2e9], "mean": [None, 0.763]})
    row = next(line for line in _picks_md(models, summary, RUNS).splitlines() if "`e`" in line)
    assert "nan" not in row and "| — | — | 0 | too few seeds |" in row


def write_study(folder, widths, accuracies) -> list[str]:
    """A search's folder with one Pareto member per width: its arch_ids, in order."""
    from nas.space import save_spec

    rows = []
    for width, acc in zip(widths, accuracies):
        spec = spec_from_dict(
            {
                "resolution": 32,
                "stem": {"patch_size": 4},
                "stages": [{"width": width, "blocks": [["conv", 1]]}],
            }
        )
        save_spec(spec, folder / "archs" / f"{spec.arch_id}.yaml", name=f"w{width}")
        rows.append({"arch_id": spec.arch_id, "flops": 1e6 * width, "proxy_accuracy": acc})
    pd.DataFrame(rows).to_csv(folder / "pareto.csv", index=False)
    return [r["arch_id"] for r in rows]


def test_top_k_of_a_front_are_the_picks_of_nas_train(tmp_path):
    from nas.studies.compare import CompareConfig, resolve

    ids = write_study(tmp_path / "study", (8, 16, 32, 64), (0.5, 0.6, 0.7, 0.8))
    models, _ = resolve(
        CompareConfig(
            archs=("coatnet_0_224",), from_studies=(str(tmp_path / "study"),), top=2, proxy="tiny"
        )
    )
    # two bands of log FLOPs: the most accurate of each, the 2nd and the 4th member
    assert {m.name for m in models if m.pick} == {ids[1], ids[3]}
    assert [m.pick for m in models] == [False, True, True]
    with pytest.raises(ConfigError, match="give --from"):
        resolve(CompareConfig(archs=("coatnet_0_224", "coatnet_0_224"), top=2, proxy="tiny"))


def test_two_searches_set_against_each_other_share_an_architecture_once(tmp_path):
    from nas.studies.compare import CompareConfig, resolve

    first = write_study(tmp_path / "supernet", (8, 16), (0.5, 0.6))
    second = write_study(tmp_path / "proxy", (16, 24), (0.55, 0.65))
    models, _ = resolve(
        CompareConfig(from_studies=(str(tmp_path / "supernet"), str(tmp_path / "proxy")))
    )
    assert {m.name: m.pick for m in models} == {first[0]: True, first[1]: True, second[1]: False}


def test_a_suite_cut_to_some_findings_trains_only_the_models_they_compare():
    from nas.studies.compare import CompareConfig, resolve

    models, suite = resolve(CompareConfig(suite="spach", findings=("F1", "F4")))
    assert [f.id for f in suite.findings] == ["F1", "F4"]
    assert {m.name for m in models} == {
        "ss_conv",
        "ss_attn",
        "ss_mlp",
        "ms_conv",
        "ms_attn",
        "ms_mlp",
        "ms_hybrid",
    }
    gains = load_suite("coatnet").only(["T2"])
    assert "C-T-T-T" in gains.models and "C-C-C-T" not in gains.models  # a `from` model counts
    with pytest.raises(
        ConfigError, match=r"finding ids of suite spach \(F1, F2, F3, F4\), got F9"
    ):
        resolve(CompareConfig(suite="spach", findings=("F9",)))


def test_a_folder_holding_runs_of_another_fidelity_says_so_before_training_again(tmp_path):
    from nas.evaluate import RunRecord
    from nas.studies.compare import CompareConfig, elsewhere, forecast, requests, resolve

    cfg = CompareConfig(
        archs=("spach_ms_xs_patch4_224_conv", "spach_ms_xs_patch4_224_attn"),
        proxy="cpu",
        out=str(tmp_path),
    )
    models, suite = resolve(cfg)
    table = cfg.table(suite)
    assert elsewhere(models, cfg, table) == ""  # an empty folder: nothing to say
    for m in models:  # made under the default of the time: same models, another fidelity
        table.append(
            RunRecord(
                arch_id=m.spec.arch_id,
                fidelity="cpu-cifar",
                fidelity_id="0ld1d000",
                seed=0,
                status="ok",
                accuracy=0.5,
            )
        )
    notice = elsewhere(models, cfg, table)
    assert "2 runs under `cpu-cifar`" in notice and "(cpu)" in notice and "--proxy" in notice
    assert any("note:" in line and "cpu-cifar" in line for line in forecast(models, suite, cfg))
    first = requests(models, cfg)[0]
    table.append(
        RunRecord(
            arch_id=first.spec.arch_id,
            fidelity="cpu",
            fidelity_id=first.fidelity.fidelity_id,
            seed=0,
            status="ok",
        )
    )
    assert elsewhere(models, cfg, table) == ""  # it has begun under this fidelity: a resume
