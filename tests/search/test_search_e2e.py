"""A whole search on a tiny space and proxy, then its outputs reloaded and checked."""

from __future__ import annotations

import json

import optuna
import pytest
import yaml

from nas.cli.flops import main as flops_main
from nas.cost import measure, parse_budget
from nas.models import build_model
from nas.report import LEAD_COLUMNS, read_trials, write_summary
from nas.search import run_search
from nas.space import load_spec

from .conftest import TINY_BUDGET, TINY_PROXY, needs_fmnist

pytestmark = [needs_fmnist, pytest.mark.slow]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One search of 6 trained candidates, shared by the checks below."""
    root = tmp_path_factory.mktemp("search")
    space = root / "tiny.yaml"
    from .conftest import TINY_SPACE

    space.write_text(TINY_SPACE)
    out = root / "out"
    outcome = run_search(
        space=str(space),
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=6,
        out=out,
        device="cpu",
        progress=False,
        seed=0,
    )
    return outcome, out


def test_the_requested_number_of_candidates_is_trained(searched):
    outcome, out = searched
    df = read_trials(out / "trials.csv")
    trained = df[df["trained"].astype(str).eq("True") & df["duplicate_of"].isna()]
    assert len(trained) == 6 == outcome.counts.evaluated
    assert (trained["state"] == "COMPLETE").all()
    assert trained["proxy_accuracy"].between(0, 1).all()
    assert (trained["proxy_seconds"] > 0).all()


def test_trials_csv_follows_the_contract(searched):
    _, out = searched
    df = read_trials(out / "trials.csv")
    assert tuple(df.columns[: len(LEAD_COLUMNS)]) == LEAD_COLUMNS
    params = [c for c in df.columns if c.startswith("param.")]
    assert params == sorted(params) and df.columns[-len(params) :].tolist() == params
    assert {"param.width", "param.stage1.depth", "param.stage2.mixer"} <= set(params)
    assert df["number"].tolist() == sorted(df["number"]) and df["number"].is_unique
    assert str(df["flops"].dtype) == "Int64" and str(df["params"].dtype) == "Int64"


def test_every_proposal_fits_and_both_counts_are_recorded_and_agree(searched):
    """The sampler is restricted to the feasible region: nothing over budget is proposed, so
    the 6 trials asked for are 6 trained candidates (repeats reuse a result, not a trial)."""
    _, out = searched
    df = read_trials(out / "trials.csv")
    assert df["flops"].notna().all() and (df["flops"] <= parse_budget(TINY_BUDGET)).all()
    assert (df["feasible"].astype(str) == "True").all()
    assert len(df[df["duplicate_of"].isna()]) == 6
    measured = df[df["duplicate_of"].isna()]
    assert (measured["closed_form_flops"] == measured["flops"]).all()
    assert (measured["closed_form_params"] == measured["params"]).all()


def test_an_enqueued_over_budget_candidate_is_measured_but_never_trained(tiny_space, tmp_path):
    """Enqueued params bypass samplers: the fvcore check still keeps them from training."""
    from nas.space import load_space

    space = load_space(tiny_space)
    over = next(
        params for params, spec in space.walk() if measure(spec).flops > parse_budget(TINY_BUDGET)
    )
    first = run_search(
        space=str(tiny_space),
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=1,
        out=tmp_path,
        device="cpu",
        progress=False,
    )
    first.study.enqueue_trial(over)
    run_search(
        space=str(tiny_space),
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=2,
        out=tmp_path,
        device="cpu",
        progress=False,
    )
    df = read_trials(tmp_path / "trials.csv")
    row = df[df["flops"] > parse_budget(TINY_BUDGET)]
    assert len(row) == 1 and row["feasible"].astype(str).eq("False").all()
    assert row["trained"].astype(str).eq("False").all() and row["epochs"].isna().all()
    assert (df["trained"].astype(str) == "True").sum() == 2


def test_stored_flops_are_fvcore_counts_at_the_target_resolution(searched):
    outcome, _ = searched
    for t in outcome.study.get_trials()[:4]:
        spec = load_spec_from_trial(t)
        assert measure(spec).flops == t.user_attrs["flops"]
        assert spec.resolution == 32


def load_spec_from_trial(t):
    from nas.space.spec import spec_from_dict

    return spec_from_dict(t.user_attrs["spec"])


def test_pareto_csv_is_the_non_dominated_feasible_set(searched):
    _, out = searched
    df = read_trials(out / "trials.csv")
    pareto = read_trials(out / "pareto.csv")
    assert tuple(pareto.columns) == tuple(df.columns)
    done = df[(df["state"] == "COMPLETE") & df["proxy_accuracy"].notna()]
    done = done[done["flops"] <= parse_budget(TINY_BUDGET)]

    def dominated(r) -> bool:
        return any(
            (o.flops <= r.flops and o.proxy_accuracy >= r.proxy_accuracy)
            and (o.flops < r.flops or o.proxy_accuracy > r.proxy_accuracy)
            for o in done.itertuples()
        )

    expected = {r.arch_id for r in done.itertuples() if not dominated(r)}
    assert set(pareto["arch_id"]) == expected
    assert pareto["arch_id"].is_unique and len(pareto) >= 1
    assert (pareto["flops"] <= parse_budget(TINY_BUDGET)).all()


def test_pareto_specs_load_in_nas_flops_and_build_model(searched, capsys):
    _, out = searched
    pareto = read_trials(out / "pareto.csv")
    files = sorted((out / "archs").glob("*.yaml"))
    assert {p.stem for p in files} == set(pareto["arch_id"])
    for path in files:
        spec = load_spec(path)
        assert spec.arch_id == path.stem
        assert build_model(path).spec == spec
        assert flops_main([str(path), "--format", "json"]) == 0
        counted = json.loads(capsys.readouterr().out)
        row = pareto[pareto["arch_id"] == path.stem].iloc[0]
        assert counted["flops"] == row["flops"] and counted["params"] == row["params"]


def test_run_yaml_records_configuration_and_provenance(searched):
    _, out = searched
    run = yaml.safe_load((out / "run.yaml").read_text())
    assert run["data"] == "fashion-mnist" and run["resolution"] == 32  # read by nas-train
    assert run["budget"]["fitting"].startswith("9 fit") and "exact" in run["budget"]["fitting"]
    cfg = run["config"]
    assert cfg["budget"] == TINY_BUDGET and cfg["max_flops"] == 300_000
    assert cfg["resolution"] == 32 and cfg["sampler"] == "gp" and cfg["seed"] == 0
    assert cfg["proxy"]["epochs"] == TINY_PROXY.epochs
    assert cfg["storage"].endswith("study.journal")
    prov = run["provenance"]
    assert prov["versions"]["torch"] and prov["versions"]["optuna"] == optuna.__version__
    assert "sha" in prov["git"] and prov["device"].startswith("cpu")


def test_plot_and_summary_are_written(searched):
    _, out = searched
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    pareto = read_trials(out / "pareto.csv")
    assert "## Pareto front" in summary
    assert all(a in summary for a in pareto["arch_id"])
    assert not list(out.glob(".*.tmp")) and not list(out.glob(".*trials*"))


def test_summary_includes_fidelity_md_when_present(searched):
    _, out = searched
    (out / "fidelity.md").write_text("## Proxy fidelity\n\nSpearman rho 0.81 over 3 nets.\n")
    try:
        text = write_summary(out).read_text()
        assert "Spearman rho 0.81 over 3 nets." in text and "## Pareto front" in text
    finally:
        (out / "fidelity.md").unlink()
        write_summary(out)


def test_the_study_is_a_plain_optuna_study(searched):
    outcome, out = searched
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(out / "study.journal"))
    )
    study = optuna.load_study(study_name=outcome.config.study_name, storage=storage)
    assert len(study.trials) == len(read_trials(out / "trials.csv"))
    assert study.metric_names == ["proxy_accuracy", "flops"]
    assert {t.number for t in study.best_trials} >= set(read_trials(out / "pareto.csv")["number"])


def test_running_again_resumes_up_to_the_new_total(searched, tmp_path):
    outcome, out = searched
    before = read_trials(out / "trials.csv")
    again = run_search(
        space=outcome.config.space,
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=6,
        out=out,
        device="cpu",
        progress=False,
    )
    assert len(read_trials(out / "trials.csv")) == len(before)  # already done: no new trial
    more = run_search(
        space=outcome.config.space,
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=8,
        out=out,
        device="cpu",
        progress=False,
    )
    after = read_trials(out / "trials.csv")
    assert again.counts.evaluated == 6 and more.counts.evaluated == 8
    old = after[after["number"].isin(before["number"])]
    cols = ["number", "state", "arch_id", "flops", "proxy_accuracy"]
    assert old[cols].reset_index(drop=True).equals(before[cols].reset_index(drop=True))


def test_params_and_latency_objectives(tiny_space, tmp_path):
    outcome = run_search(
        space=str(tiny_space),
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=2,
        out=tmp_path,
        device="cpu",
        progress=False,
        sampler="nsga2",
        objectives="accuracy,flops,params,latency",
        max_params="45K",
    )
    assert outcome.study.directions[3].name == "MINIMIZE"
    assert outcome.study.metric_names == ["proxy_accuracy", "flops", "params", "latency"]
    df = read_trials(tmp_path / "trials.csv")
    assert (df["latency_ms"] > 0).all()
    for t in outcome.study.get_trials():
        assert set(t.constraints) == {"flops", "params"}
        assert (t.user_attrs["feasible"] is True) == (
            t.user_attrs["flops"] <= 300_000 and t.user_attrs["params"] <= 45_000
        )


def test_a_single_objective_search_uses_optunas_pruner(tiny_space, tmp_path):
    outcome = run_search(
        space=str(tiny_space),
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=3,
        out=tmp_path,
        device="cpu",
        progress=False,
        objectives="accuracy",
        sampler="random",
        pruner="percentile:90",
    )
    trained = [t for t in outcome.study.trials if t.user_attrs.get("trained")]
    assert all(len(t.intermediate_values) >= 1 for t in trained)  # reported per epoch
    assert len(outcome.pareto) == 1  # the best trial
