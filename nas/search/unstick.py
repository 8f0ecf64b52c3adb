"""A sampler that keeps proposing architectures the study has already seen gets an unseen one
queued in its place.

A repeated architecture costs no training (its result is reused, `Objective._reuse`), but it
tells a model-based sampler nothing new: in a small space (or late in a search) Optuna's GP
sampler can propose the same trained or pruned architecture again and again, since a pruned
trial gives it no value and a repeated point barely changes its acquisition. The search would
then stall until the proposal cap. After STUCK proposals in a row that repeat a seen
architecture, one drawn at random from the feasible region among those not yet seen is
queued: the sampler's next trial explores, and its model learns from it.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from optuna.trial import TrialState

from . import attrs

if TYPE_CHECKING:
    import optuna

    from .feasible import FeasibleRegion

STUCK = 3  # proposals in a row of seen architectures before an unseen one is queued
TRIES = 200  # random feasible draws looking for an unseen architecture


def unstick(study: optuna.Study, region: FeasibleRegion, rng: random.Random) -> bool:
    """Queue an unseen feasible architecture when the last STUCK finished trials all repeated
    a seen one and nothing is queued yet; whether one was queued."""
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state.is_finished()]
    last = finished[-STUCK:]
    if len(last) < STUCK or any(t.user_attrs.get(attrs.DUPLICATE_OF) is None for t in last):
        return False
    if any(t.state == TrialState.WAITING for t in trials):
        return False
    seen = {t.user_attrs.get(attrs.ARCH_ID) for t in trials}
    for _ in range(TRIES):
        params, spec = region.draw(rng)
        if spec.arch_id not in seen:
            study.enqueue_trial(params)
            return True
    return False  # every draw was seen: the region is nearly exhausted; the cap ends it
