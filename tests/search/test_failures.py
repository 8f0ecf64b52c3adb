"""Failed trials are recorded with their reason and the study goes on; hopeless ones stop it."""

from __future__ import annotations

import pytest
import torch

import nas.evaluate.runs as runs_module
from nas.report import read_trials
from nas.search import SearchError, run_search
from nas.space import ConfigError
from nas.train.proxy import build_proxy_model

from .conftest import TINY_BUDGET, TINY_PROXY, needs_fmnist, write_proxy

pytestmark = needs_fmnist


class Broken(torch.nn.Module):
    """Wraps a proxy model; breaks the way a real candidate can."""

    def __init__(self, model: torch.nn.Module, how: str):
        super().__init__()
        self.model, self.how, self.spec = model, how, model.spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.how == "nan":
            return self.model(x) * float("nan")
        if self.how == "oom":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        raise RuntimeError("shapes cannot be multiplied (64x3 and 4x2)")


def break_by_mixer(monkeypatch, how: dict[str, str]) -> None:
    """Candidates whose stage 2 is of mixer m break as how[m]; the others train normally."""

    def build(spec, *, cfg, data):
        model = build_proxy_model(spec, cfg=cfg, data=data)
        kind = how.get(spec.stages[1].mixers[0])
        return Broken(model, kind) if kind else model

    monkeypatch.setattr(runs_module, "build_proxy_model", build)  # the one training path


def search(space, out, *, budget=TINY_BUDGET, **kw):
    return run_search(
        space=str(space),
        budget=budget,
        proxy=TINY_PROXY,
        out=out,
        device="cpu",
        progress=False,
        **kw,
    )


@pytest.mark.slow
def test_nan_and_out_of_memory_trials_are_failed_with_reasons_and_the_study_goes_on(
    tiny_space, tmp_path, monkeypatch
):
    break_by_mixer(monkeypatch, {"attn": "nan"})
    outcome = search(tiny_space, tmp_path / "nan", trials=4, seed=1)
    df = read_trials(tmp_path / "nan" / "trials.csv")
    failed = df[df["state"] == "FAIL"]
    assert len(failed) >= 1 and failed["failure"].str.startswith("NaN loss").all()
    assert (failed["param.stage2.mixer"] == "attn").all()
    assert (df[df["state"] == "COMPLETE"]["param.stage2.mixer"] == "conv").any()
    assert outcome.counts.evaluated == 4  # failures count as evaluated candidates

    break_by_mixer(monkeypatch, {"attn": "oom"})
    search(tiny_space, tmp_path / "oom", trials=4, seed=1)
    df = read_trials(tmp_path / "oom" / "trials.csv")
    failed = df[df["state"] == "FAIL"]
    assert len(failed) >= 1 and failed["failure"].str.startswith("out of memory").all()
    summary = (tmp_path / "oom" / "summary.md").read_text()
    assert "## Failures" in summary and "out of memory" in summary


def test_the_last_line_counts_failed_candidates_among_the_trained(
    tiny_space, tmp_path, monkeypatch, capsys
):
    """They count toward --trials (they were trained), so the line says so."""
    import re

    from nas.cli.search import main

    break_by_mixer(monkeypatch, {"attn": "nan"})
    proxy = write_proxy(tmp_path / "proxy.yaml")
    assert (
        main(
            [
                "--space",
                str(tiny_space),
                "--budget",
                TINY_BUDGET,
                "--proxy",
                str(proxy),
                "--trials",
                "3",
                "--seed",
                "1",
                "--device",
                "cpu",
                "--out",
                str(tmp_path / "out"),
                "--no-progress",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("seed noise")  # the last line: what the run measured
    line = lines[-2]
    m = re.search(
        r": 3 candidates trained \((\d+) complete, (\d+) stopped early, (\d+) "
        r"failed\), \d+ over budget",
        line,
    )
    assert m, line
    df = read_trials(tmp_path / "out" / "trials.csv")
    assert int(m[3]) == (df["state"] == "FAIL").sum() >= 1
    assert sum(map(int, m.groups())) == 3


def test_a_search_where_every_candidate_fails_stops_with_the_reason(
    tiny_space, tmp_path, monkeypatch
):
    break_by_mixer(monkeypatch, {"conv": "error", "attn": "error"})
    with pytest.raises(SearchError, match="5 trials failed in a row"):
        search(tiny_space, tmp_path / "bad", trials=20)
    df = read_trials(tmp_path / "bad" / "trials.csv")
    failed = df[df["state"] == "FAIL"]
    assert len(failed) == 5 and (df[df["feasible"].astype(str) == "True"]["state"] == "FAIL").all()
    assert failed["failure"].str.contains("RuntimeError: shapes cannot be multiplied").all()


def test_a_budget_nothing_meets_is_an_error_before_any_training(tiny_space, tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained despite an unreachable budget")

    monkeypatch.setattr("nas.search.runner.load_fidelity_data", no_training)
    with pytest.raises(
        ConfigError,
        match=r"budget: budget 50KFLOPs \(50,000\) is below the "
        r"cheapest architecture of space 'tiny' "
        r"\(97.4KFLOPs\): nothing fits",
    ):
        search(tiny_space, tmp_path / "none", budget="50K", trials=2)
    assert not (tmp_path / "none" / "trials.csv").exists()
