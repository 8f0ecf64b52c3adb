"""Failed trials on resume: transient ones (out of memory) are tried again, at most
MAX_AUTO_RETRIES times per candidate; deterministic ones (NaN loss) stay failed unless
--retry-failed. The proxy run is a stub, so no data and no training are needed."""

from __future__ import annotations

import types

import pytest
import torch
from optuna.trial import TrialState

from nas.evaluate.runs import DETERMINISTIC, TRANSIENT, failure_of
from nas.report import read_trials
from nas.search import attrs, run_search
from nas.search.retry import MAX_AUTO_RETRIES, kind_of, superseded, to_retry
from nas.train.proxy import ProxyResult, TrainingDiverged

from .conftest import TINY_BUDGET, TINY_PROXY, search_trial


class StubRuns:
    """Stands in for the proxy run: an accuracy fixed by the architecture; while `failing`,
    the first architecture it trains raises `error` instead."""

    def __init__(self, error: BaseException):
        self.error, self.failing = error, True
        self.arch: str | None = None  # the one that fails
        self.calls: list[str] = []

    def __call__(self, spec, *, fidelity, seed, data, on_epoch=None, train_eval=False):
        self.calls.append(spec.arch_id)
        self.arch = self.arch or spec.arch_id
        if spec.arch_id == self.arch and self.failing:
            raise self.error
        accuracy = 0.5 + int(spec.arch_id[:4], 16) / 2**17
        if on_epoch is not None:
            on_epoch(1, accuracy)
        return ProxyResult(accuracy, curve=[accuracy], seconds=0.01, resolution=32)

    @property
    def tries(self) -> int:
        return self.calls.count(self.arch)


@pytest.fixture
def stub(monkeypatch):
    def install(error: BaseException) -> StubRuns:
        runs = StubRuns(error)
        monkeypatch.setattr("nas.search.objective.train_once", runs)
        monkeypatch.setattr(
            "nas.search.runner.load_fidelity_data",
            lambda *a, **k: types.SimpleNamespace(device=torch.device("cpu")),
        )
        return runs

    return install


def search(space, out, **kw):
    return run_search(
        space=str(space),
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        out=out,
        device="cpu",
        progress=False,
        trials=3,
        repeats=1,
        pruner="none",
        **kw,
    )


def oom() -> torch.OutOfMemoryError:
    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


def test_an_out_of_memory_trial_is_tried_again_on_resume(tiny_space, tmp_path, stub):
    runs = stub(oom())
    first = search(tiny_space, tmp_path)
    failed = [t for t in first.study.trials if t.state == TrialState.FAIL]
    assert failed and all(t.user_attrs[attrs.ARCH_ID] == runs.arch for t in failed)
    assert {t.user_attrs[attrs.FAILURE_KIND] for t in failed} == {TRANSIENT}
    assert first.counts.evaluated == 3  # failures count while they are not tried again
    total = len(first.study.trials)

    runs.failing = False  # the memory is there now
    again = search(tiny_space, tmp_path)  # resume: the retry runs before new proposals
    df = read_trials(tmp_path / "trials.csv").set_index("number")
    retry = df[df["retry_of"].isin([t.number for t in failed])]
    assert len(retry) == 1 and retry.iloc[0]["state"] == "COMPLETE"  # one per candidate
    assert retry.index[0] == total and retry.iloc[0]["arch_id"] == runs.arch  # first
    assert (df.loc[[t.number for t in failed], "state"] == "FAIL").all()  # kept as they were
    assert (df.loc[[t.number for t in failed], "failure_kind"] == TRANSIENT).all()
    assert again.counts.evaluated == 3 and again.counts.failed == 0


def test_a_candidate_that_keeps_running_out_of_memory_is_tried_a_bounded_number_of_times(
    tiny_space, tmp_path, stub
):
    runs = stub(oom())
    search(tiny_space, tmp_path)
    first = runs.tries  # the sampler may propose it more than once
    for _ in range(MAX_AUTO_RETRIES + 1):  # the last resume has nothing left to try
        search(tiny_space, tmp_path)
    assert runs.tries == max(first, 1 + MAX_AUTO_RETRIES)
    df = read_trials(tmp_path / "trials.csv")
    assert (df["state"] == "FAIL").sum() == runs.tries


def test_a_nan_loss_stays_failed_unless_asked_to_retry_failed(tiny_space, tmp_path, stub):
    runs = stub(TrainingDiverged("loss is nan after 3 batches"))
    search(tiny_space, tmp_path)
    tries = runs.tries
    again = search(tiny_space, tmp_path)  # resume: nothing to do, the failures stay
    assert runs.tries == tries
    df = read_trials(tmp_path / "trials.csv")
    failed = df[df["state"] == "FAIL"]
    assert len(failed) == tries and (failed["failure_kind"] == DETERMINISTIC).all()
    assert failed["failure"].str.startswith("NaN loss").all()
    assert df["retry_of"].isna().all() and again.counts.failed == tries

    runs.failing = False
    search(tiny_space, tmp_path, retry_failed=True)
    assert runs.tries == tries + 1  # one retry for the candidate
    df = read_trials(tmp_path / "trials.csv")
    retry = df[df["retry_of"].isin(failed["number"])]
    assert len(retry) == 1 and retry.iloc[0]["state"] == "COMPLETE"


def test_the_cli_passes_retry_failed(tiny_space, tmp_path, monkeypatch):
    from nas.cli import search as cli

    seen = {}
    monkeypatch.setattr(
        "nas.search.make_config", lambda **kw: seen.update(kw) or (_ for _ in ()).throw(SystemExit)
    )
    with pytest.raises(SystemExit):
        cli._main(["--space", str(tiny_space), "--budget", TINY_BUDGET, "--retry-failed"])
    assert seen["retry_failed"] is True


@pytest.mark.parametrize(
    ("error", "kind", "reason"),
    [
        (torch.OutOfMemoryError("CUDA out of memory"), TRANSIENT, "out of memory"),
        (MemoryError(), TRANSIENT, "out of memory"),
        (RuntimeError("DataLoader worker (pid 7) is killed by signal: Killed."), TRANSIENT, ""),
        (TrainingDiverged("loss is nan"), DETERMINISTIC, "NaN loss"),
        (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), DETERMINISTIC, ""),
        (ValueError("bad spec"), DETERMINISTIC, "ValueError"),
    ],
)
def test_failures_are_transient_or_deterministic(error, kind, reason):
    text, got = failure_of(error)
    assert got == kind and text.startswith(reason)


def test_which_failed_trials_are_queued_again():
    def trial(number, width, failure, kind=None, history=(), phase="done"):
        """A failed trial of the architecture of `width`."""
        t = search_trial(width, 0.0, state=TrialState.FAIL)
        t.number = number
        t.user_attrs.update({attrs.FAILURE: failure, attrs.FAILURE_KIND: kind, attrs.PHASE: phase})
        if history:
            t.system_attrs.update(failed_trial=history[0], retry_history=list(history))
        return t

    done = search_trial(14, 0.7)
    done.number = 10
    trials = [
        trial(0, 8, "out of memory: x", TRANSIENT),  # re-run by #4
        trial(1, 9, "NaN loss: x", DETERMINISTIC),
        trial(2, 10, "out of memory: old record"),  # no kind recorded: read off the reason
        trial(3, 11, None),  # Optuna failed it (its process died): transient
        trial(4, 8, "out of memory: x", TRANSIENT, history=[0]),  # its second failure
        trial(5, 12, "out of memory: x", TRANSIENT, history=[6, 7]),  # its third
        trial(6, 12, "out of memory: x", TRANSIENT, history=[7]),
        trial(7, 12, "out of memory: x", TRANSIENT),
        trial(8, 13, None, phase="interrupted"),  # it queued its candidate again itself
        trial(9, 14, "out of memory: x", TRANSIENT),  # its architecture finished since: #10
        done,
    ]
    assert [kind_of(t) for t in trials[:4]] == [TRANSIENT, DETERMINISTIC, TRANSIENT, TRANSIENT]
    assert superseded(trials) == {0, 6, 7, 9}
    assert [t.number for t in to_retry(trials)] == [2, 3, 4]
    assert [t.number for t in to_retry(trials, retry_failed=True)] == [1, 2, 3, 4, 5]
