"""Early stopping of proxy training, in single- and multi-objective studies alike.

Optuna's pruners refuse multi-objective studies (`Trial.report` raises there), and a search
for "accurate *and* cheap" is multi-objective by default. `CheaperTrialsRule` is the rule we
use there, a cost-aware median rule:

    After epoch e, stop a candidate when at least `min_references` completed candidates cost no
    more than it (every cost objective <=, e.g. FLOPs) and its accuracy after epoch e is below
    the `percentile` (default: the median) of theirs after epoch e.

Why this is sound for a Pareto front: a candidate is on the front only if no cheaper one is
more accurate. One that trails most cheaper candidates at the same point of the same proxy
schedule is, at that point, dominated by them, and learning curves of one schedule rarely cross
by that much later. The rule never compares a candidate with more expensive ones (a cheap,
less accurate net can still be Pareto-optimal), so the cheap end of the front is always fully
trained, and the savings land where training is dear: on expensive candidates.

A stopped candidate ends PRUNED, not COMPLETE with its partial accuracy: an accuracy after
fewer epochs is not comparable with full-proxy accuracies, so it must enter neither the Pareto
front nor the sampler's model as a value. TPE counts pruned trials among the bad ones; NSGA-II
and GP ignore them. Its last accuracy is kept in `trials.csv` with its epoch count.

With one objective (`--objectives accuracy`) Optuna's own pruners are used unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from . import attrs


class EarlyStopping(Protocol):
    def should_stop(
        self, trial: Trial, *, epoch: int, accuracy: float, costs: Sequence[float]
    ) -> bool: ...


class NoStopping:
    def should_stop(
        self, trial: Trial, *, epoch: int, accuracy: float, costs: Sequence[float]
    ) -> bool:
        return False


class OptunaPruning:
    """Single-objective studies: report the epoch's accuracy and ask the study's pruner."""

    def should_stop(
        self, trial: Trial, *, epoch: int, accuracy: float, costs: Sequence[float]
    ) -> bool:
        trial.report(accuracy, step=epoch)
        return trial.should_prune()


@dataclass(frozen=True)
class CheaperTrialsRule:
    """See the module docstring."""

    study: optuna.Study
    percentile: float = 50.0
    min_references: int = 3

    def should_stop(
        self, trial: Trial, *, epoch: int, accuracy: float, costs: Sequence[float]
    ) -> bool:
        done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        refs = reference_accuracies(done, epoch=epoch, costs=costs)
        return stop_decision(
            accuracy, refs, percentile=self.percentile, min_references=self.min_references
        )


def reference_accuracies(
    trials: Sequence[FrozenTrial], *, epoch: int, costs: Sequence[float]
) -> list[float]:
    """Accuracy after `epoch` of every trained, feasible trial costing no more than `costs`."""
    out = []
    for t in trials:
        curve = t.user_attrs.get(attrs.CURVE) or []
        if (
            not t.user_attrs.get(attrs.TRAINED)
            or t.user_attrs.get(attrs.DUPLICATE_OF) is not None
            or len(curve) < epoch
        ):
            continue
        if not all(v <= 0 for v in t.constraints.values()):
            continue
        theirs = t.user_attrs.get(attrs.COSTS) or []
        if len(theirs) == len(costs) and all(a <= b for a, b in zip(theirs, costs)):
            out.append(float(curve[epoch - 1]))
    return out


def stop_decision(
    accuracy: float, references: Sequence[float], *, percentile: float, min_references: int
) -> bool:
    if len(references) < min_references:
        return False
    return accuracy < float(np.percentile(references, percentile))


def make_early_stopping(
    study: optuna.Study, *, pruner: str, percentile: float, multi_objective: bool
) -> EarlyStopping:
    if pruner == "none":
        return NoStopping()
    if not multi_objective:
        return OptunaPruning()
    return CheaperTrialsRule(study, percentile=percentile)
