"""--prescreen SCORE:K: each trained candidate is the best-scored of K drawn through the search's
sampler; the others stay in the study scored, not trained, and no architecture is scored twice."""

from __future__ import annotations

import shutil

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState, create_trial

from nas.cli.search import main
from nas.report import read_trials
from nas.search import attrs, run_search
from nas.search import prescreen as prescreen_module
from nas.search.config import SearchConfig, check_resume
from nas.search.storage import open_storage
from nas.space import ConfigError

from .conftest import TINY_BUDGET, TINY_PROXY, TINY_SPACE, needs_fmnist

PROXY = TINY_PROXY.replace(epochs=1)


def make(**kw) -> SearchConfig:
    return SearchConfig.create(**{"space": "hybrid", "budget": "4GFLOPs", **kw})


@pytest.mark.parametrize(
    "spelling, words",
    [
        ("zc:nope:4", "--prescreen: unknown zero-cost score 'nope'"),
        ("zc:synflow:0", "--prescreen: `K >= 1` must hold, but got K=0"),
        ("cpu:4", "--prescreen: 'cpu' is not a scoring fidelity"),
        ("zc:synflow", "--prescreen: expected SCORE:K"),
    ],
)
def test_a_bad_spelling_is_one_line_and_exit_2(spelling, words, tiny_space, tmp_path, capsys):
    args = ["--space", str(tiny_space), "--budget", TINY_BUDGET, "--out", str(tmp_path / "o")]
    assert main([*args, "--prescreen", spelling, "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and words in err
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_k_1_is_no_prescreen_and_the_setting_binds_the_study():
    assert make(prescreen="zc:synflow:1").prescreen is None
    assert make(prescreen="zc:synflow:1").fingerprint() == make().fingerprint()
    four = make(prescreen="zc:synflow:4")
    assert SearchConfig.from_dict(four.to_dict()) == four  # what worker processes get
    check_resume(four.fingerprint(), make(prescreen="zc:synflow:4"))
    for stored, now, words in [
        (four, make(), "study has zc:synflow:4, this run asks for none"),
        (make(), four, "study has none, this run asks for zc:synflow:4"),
        (four, make(prescreen="zc:snip:4"), "study has zc:synflow:4, this run asks for zc:snip:4"),
        (
            four,
            make(prescreen="zc:synflow:8"),
            "study has zc:synflow:4, this run asks for zc:synflow:8",
        ),
    ]:
        with pytest.raises(ConfigError, match=f"--prescreen: {words}"):
            check_resume(stored.fingerprint(), now)


def _search(space, out, *, trials: int, scored: list[str], prescreen: object = "zc:synflow:4"):
    """A search whose scorings are recorded (the arch_id of each) in `scored`. TPE: GP, in a
    space of 9 architectures, can settle on proposing trained ones only."""
    real = prescreen_module.train_once

    def recorded(spec, **kw):
        scored.append(spec.arch_id)
        return real(spec, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(prescreen_module, "train_once", recorded)
        return run_search(
            space=str(space),
            budget=TINY_BUDGET,
            proxy=PROXY,
            trials=trials,
            out=out,
            device="cpu",
            progress=False,
            repeats=1,
            sampler="tpe",
            prescreen=prescreen,
        )


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("prescreen")
    (root / "tiny.yaml").write_text(TINY_SPACE)
    scored: list[str] = []
    outcome = _search(root / "tiny.yaml", root / "out", trials=3, scored=scored)
    return outcome, root, scored


def _draws(trials: pd.DataFrame) -> dict[int, pd.DataFrame]:
    return {n: g for n, g in trials.groupby("prescreen_for")}


@needs_fmnist
@pytest.mark.slow
def test_each_trained_candidate_is_the_best_scored_of_its_draw(searched):
    outcome, root, scored = searched
    trials = read_trials(root / "out" / "trials.csv")
    trained = trials[trials["trained"].astype(str).eq("True")]
    assert len(trained) == 3 == outcome.counts.evaluated  # --trials counts trained ones
    draws = _draws(trials)
    for _, t in trained.iterrows():
        draw = draws[t["number"]]
        assert len(draw) == 4
        best = draw.loc[draw["prescreen_score"].idxmax()]
        assert t["arch_id"] == best["arch_id"]
        assert t["prescreen_score"] == best["prescreen_score"]
    assert len(scored) == len(set(scored))  # a draw's repeat keeps its score


@needs_fmnist
@pytest.mark.slow
def test_scored_candidates_are_never_trained_nor_on_the_front(searched):
    outcome, root, _ = searched
    trials = read_trials(root / "out" / "trials.csv")
    pareto = read_trials(root / "out" / "pareto.csv")
    only_scored = trials[trials["state"].eq("PRUNED") & trials["prescreen_for"].notna()]
    assert len(only_scored) == outcome.counts.scored >= 8
    assert only_scored["prescreen_score"].notna().all()
    assert not only_scored["trained"].astype(str).eq("True").any()
    assert only_scored[["proxy_accuracy", "curve", "proxy_seconds"]].isna().all().all()
    assert not set(only_scored["number"]) & set(pareto["number"])
    assert not set(only_scored["number"]) & {t.number for t in outcome.study.best_trials}


@needs_fmnist
@pytest.mark.slow
def test_resuming_scores_nothing_twice(searched, tmp_path):
    """Nor a drawn candidate a killed process left unfinished: retried, it is scored (with the
    score its architecture already has), not trained."""
    outcome, root, first = searched
    out = tmp_path / "out"
    shutil.copytree(root / "out", out)
    study = optuna.load_study(
        study_name=outcome.config.study_name, storage=open_storage(str(out / "study.journal"))
    )
    trained = {t.user_attrs[attrs.ARCH_ID] for t in study.trials if t.user_attrs[attrs.TRAINED]}
    drawn = next(
        t
        for t in study.trials
        if t.user_attrs.get(attrs.PRESCREEN_SCORE) is not None
        and t.user_attrs[attrs.ARCH_ID] not in trained
    )
    left = create_trial(
        state=TrialState.FAIL,
        params=drawn.params,
        distributions=drawn.distributions,
        user_attrs={attrs.PRESCREEN_FOR: drawn.user_attrs[attrs.PRESCREEN_FOR]},
    )
    study.add_trial(left)
    killed = len(study.trials) - 1
    del study

    second: list[str] = []
    more = _search(root / "tiny.yaml", out, trials=5, scored=second)
    assert more.counts.evaluated == 5
    assert not set(first) & set(second) and len(second) == len(set(second))
    trials = read_trials(out / "trials.csv")
    scores = trials.dropna(subset=["prescreen_score"]).groupby("arch_id")["prescreen_score"]
    assert (scores.nunique() == 1).all()  # every row of an architecture carries its one score
    retried = trials[trials["retry_of"].eq(killed)].iloc[0]
    assert retried["state"] == "PRUNED" and str(retried["trained"]) == "False"
    assert retried["arch_id"] == drawn.user_attrs[attrs.ARCH_ID]
    assert retried["prescreen_score"] == drawn.user_attrs[attrs.PRESCREEN_SCORE]
    for _, t in trials[trials["trained"].astype(str).eq("True")].iterrows():
        draw = _draws(trials)[t["number"]]
        assert t["prescreen_score"] == draw["prescreen_score"].max()


@needs_fmnist
@pytest.mark.slow
def test_a_changed_prescreen_is_refused_on_resume(searched):
    _, root, _ = searched
    for other, words in [("zc:snip:4", "zc:snip:4"), (None, "none")]:
        with pytest.raises(ConfigError, match=f"this run asks for {words}"):
            _search(root / "tiny.yaml", root / "out", trials=4, scored=[], prescreen=other)
    assert len(read_trials(root / "out" / "trials.csv")) == len(searched[0].trials)
