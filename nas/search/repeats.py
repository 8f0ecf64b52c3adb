"""Noise-aware search: which candidates are trained with more seeds, inside their own trial.

One proxy run is a noisy measurement (on the CPU proxy a seed std of a few points), so a
front built from single runs rewards lucky seeds. Repeating every candidate triples the cost;
repeating none leaves the front to luck. The rule (`--repeats auto`, the default) spends
repeats where they decide something:

    After n seeds with mean m, train one more seed (up to the cap, 3) when the candidate is on
    the current front or within the noise band below it: when no trained candidate that costs
    no more than it (every cost objective <=) has a mean accuracy above
    m + BAND * sigma / sqrt(n).

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
        best = best_cheaper(trials, costs=costs)
        mean = sum(accuracies) / n
        return best is None or mean + BAND * sigma / math.sqrt(n) >= best


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


def best_cheaper(trials: Sequence[FrozenTrial], *, costs: Sequence[float]) -> float | None:
    """The best mean accuracy of the completed, trained, feasible trials costing no more than
    `costs` in every cost objective (None when there is none)."""
    best = None
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
        if all(a <= b for a, b in zip(theirs, costs)) and (best is None or acc > best):
            best = float(acc)
    return best


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
