"""Noise-aware search: which candidates are trained with more seeds, inside their own trial.

One proxy run is a noisy measurement (on the CPU proxy a seed std of a few points), so a
front built from single runs rewards lucky seeds. Repeating every candidate triples the cost;
repeating none leaves the front to luck. The rule (`--repeats auto`, the default) spends
repeats where they decide the front:

    After n seeds with mean m, train one more seed (up to the cap, 3) when another seed could
    change which of two candidates the front keeps: when the best trained candidate costing no
    more than it (every cost objective <=), or any costing no less, has a mean within
    BAND * sigma * sqrt(1/n + 1/n') of m (n' its seeds: two standard errors of the
    difference).

A candidate clearly ahead of everything cheaper, or clearly behind it, is not repeated, nor
is the first one (there is nothing to decide yet): the seeds go where the front is in doubt,
and a 12-minute search trains more candidates.

sigma is the seed noise measured in this study (pooled within-candidate std of the candidates
with two or more seeds, once two of them exist), else a prior of 0.02
(`nas.report.stats.study_noise`). BAND = 2: a single
run that would put a network on the front lands at most ~2 sigma below its true mean about 97%
of the time. `--repeats K` trains every completed candidate with K seeds instead. Candidates
stopped early are not repeated; a repeated architecture reuses the mean; the trial's value is
the mean of its seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nas.space import ConfigError

from . import attrs

if TYPE_CHECKING:  # the configuration imports this module: no Optuna, torch or pandas here
    import pandas as pd
    from optuna.trial import FrozenTrial

AUTO_CAP = 3  # seeds at most under --repeats auto
BAND = 2.0  # noise standard deviations below the front that still earn a repeat
MAX_REPEATS = 10


@dataclass(frozen=True)
class RepeatPolicy:
    auto: bool
    seeds: int  # auto: the cap; fixed: seeds per completed candidate

    def __str__(self) -> str:
        return f"auto (up to {self.seeds} seeds)" if self.auto else f"{self.seeds} seeds"

    def wanted(
        self,
        accuracies: Sequence[float],
        *,
        costs: Sequence[float],
        trials: Sequence[FrozenTrial],
        sigma: float,
    ) -> bool:
        """Whether a candidate with these seed accuracies gets one more seed."""
        n = len(accuracies)
        if n >= self.seeds:
            return False
        if not self.auto:
            return True
        mean = sum(accuracies) / n
        for acc, seeds in rivals(trials, costs=costs):
            if abs(mean - acc) < BAND * sigma * math.sqrt(1 / n + 1 / seeds):
                return True
        return False


NO_REPEATS = RepeatPolicy(auto=False, seeds=1)


def parse_repeats(value: str | int) -> RepeatPolicy:
    """`auto` (the default), or K seeds for every completed candidate (1 = no repeats)."""
    if str(value).strip().lower() == "auto":
        return RepeatPolicy(auto=True, seeds=AUTO_CAP)
    try:
        k = int(str(value))
    except ValueError:
        k = 0
    if not 1 <= k <= MAX_REPEATS or isinstance(value, bool):
        raise ConfigError(
            f"expected auto or a number of seeds from 1 to {MAX_REPEATS}, got {value!r}",
            field="--repeats",
        )
    return RepeatPolicy(auto=False, seeds=k)


def rivals(trials: Sequence[FrozenTrial], *, costs: Sequence[float]) -> list[tuple[float, int]]:
    """(mean accuracy, seeds) of the candidates that decide whether one costing `costs` is on
    the front, or that it decides: the best of the completed, trained, feasible trials costing
    no more in every cost objective, and every one costing no less in every one."""
    best: tuple[float, int] | None = None
    dearer: list[tuple[float, int]] = []
    for t in trials:
        ua = t.user_attrs
        if (
            t.state.name != "COMPLETE"
            or not ua.get(attrs.TRAINED)
            or ua.get(attrs.DUPLICATE_OF) is not None
            or not ua.get(attrs.FEASIBLE)
        ):
            continue
        theirs = ua.get(attrs.COSTS) or []
        acc = ua.get(attrs.PROXY_ACCURACY)
        if acc is None or len(theirs) != len(costs):
            continue
        seeds = len(ua.get(attrs.SEED_ACCURACIES) or [acc])
        if all(a <= b for a, b in zip(theirs, costs)):
            if best is None or acc > best[0]:
                best = (float(acc), seeds)
        elif all(a >= b for a, b in zip(theirs, costs)):
            dearer.append((float(acc), seeds))
    return ([best] if best else []) + dearer


def study_noise(trials: Sequence[FrozenTrial]) -> tuple[float, int, bool]:
    """(seed std the rule uses, candidates with 2+ seeds, measured?): `stats.study_noise` of
    the study's seed runs."""
    from nas.report.stats import study_noise as noise

    return noise(seed_frame(trials))


def seed_frame(trials: Sequence[FrozenTrial]) -> pd.DataFrame:
    """arch_id, seed, accuracy of every seed run of the study's trained candidates."""
    import pandas as pd

    rows = []
    for t in trials:
        ua = t.user_attrs
        if ua.get(attrs.DUPLICATE_OF) is not None or t.state.name != "COMPLETE":
            continue
        for k, acc in enumerate(ua.get(attrs.SEED_ACCURACIES) or []):
            rows.append({"arch_id": ua.get(attrs.ARCH_ID), "seed": k, "accuracy": acc})
    return pd.DataFrame(rows, columns=["arch_id", "seed", "accuracy"])
