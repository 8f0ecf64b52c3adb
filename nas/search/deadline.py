"""`--timeout`: the search's wall-clock budget, spent run by run.

A trial is one to three proxy runs (`nas.search.repeats`), so the time a trial takes says
little about the next one: a three-seed trial would make the search stop a whole trial early.
The unit here is one proxy run. A new trial starts only if one more run, as long as the
longest of the last RECENT runs of this process, still ends within the budget, and a repeat
inside a trial is skipped when it would not: the budget is spent on candidates first and
overrun by at most the spread of run times.
"""

from __future__ import annotations

import time
from collections.abc import Callable

RECENT = 10  # runs whose longest predicts the next one


class Deadline:
    def __init__(self, timeout: float | None, *, clock: Callable[[], float] = time.monotonic):
        self.timeout = timeout
        self.clock = clock
        self.start = clock()
        self.runs: list[float] = []  # seconds of each proxy run of this process

    def ran(self, seconds: float) -> None:
        self.runs.append(float(seconds))

    @property
    def elapsed(self) -> float:
        return self.clock() - self.start

    def room_for_a_run(self) -> bool:
        """Whether one more run, as long as the longest recent one, ends within the budget
        (always, with no budget or before the first run is timed)."""
        if self.timeout is None or not self.runs:
            return True
        return self.elapsed + max(self.runs[-RECENT:]) <= self.timeout
