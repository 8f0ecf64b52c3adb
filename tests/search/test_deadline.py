"""--timeout is spent run by run: a new trial starts, and a repeat runs, only if one more run
as long as the longest recent one ends within the budget."""

from __future__ import annotations

import pytest

from nas.search import run_search
from nas.search.deadline import RECENT, Deadline

from .conftest import TINY_BUDGET, TINY_PROXY, needs_fmnist


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_room_for_a_run_is_the_longest_recent_run_against_the_time_left():
    clock = Clock()
    deadline = Deadline(100.0, clock=clock)
    assert deadline.room_for_a_run()  # nothing timed yet
    for seconds in (30.0, 10.0):
        deadline.ran(seconds)
    clock.now += 40.0
    assert deadline.room_for_a_run()  # 40 + 30 <= 100
    clock.now += 31.0
    assert not deadline.room_for_a_run()  # 71 + 30 > 100, though the last run took 10
    deadline.runs[:] = [30.0] + [10.0] * RECENT  # the 30-s run is no longer recent
    assert deadline.room_for_a_run()
    assert Deadline(None, clock=clock).room_for_a_run()


@needs_fmnist
@pytest.mark.slow
def test_a_repeat_that_would_overrun_is_skipped_and_the_search_stops(
    tmp_path, tiny_space, monkeypatch
):
    # every run takes 60 s of the budget, whatever it really took
    monkeypatch.setattr(Deadline, "ran", lambda self, seconds: self.runs.append(60.0))
    monkeypatch.setattr(Deadline, "elapsed", property(lambda self: sum(self.runs)))
    outcome = run_search(
        space=str(tiny_space),
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=5,
        repeats=3,
        timeout=150,
        pruner="none",
        out=tmp_path / "out",
        progress=False,
    )
    trained = outcome.trials[outcome.trials["trained"].astype(str).eq("True")]
    # seed 2 at 60 s fits (60 + 60 <= 150), seed 3 at 120 s does not, nor does a new trial
    assert len(trained) == 1 and trained.iloc[0]["seeds"] == 2
