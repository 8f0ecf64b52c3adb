"""A sampler stuck on seen architectures gets an unseen one queued."""

import random

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from nas.search import attrs
from nas.search.feasible import FeasibleRegion
from nas.search.unstick import STUCK, unstick
from nas.space import load_space

from .conftest import TINY_BUDGET


def trial(arch: str, *, duplicate_of: int | None = None, state=TrialState.COMPLETE):
    return create_trial(
        state=state,
        values=[0.5, 1.0] if state == TrialState.COMPLETE else None,
        params={"width": 8},
        distributions={"width": CategoricalDistribution([8, 16])},
        user_attrs={attrs.ARCH_ID: arch, attrs.DUPLICATE_OF: duplicate_of},
    )


def study_of(trials):
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.add_trials(trials)
    return study


def test_an_unseen_architecture_is_queued_after_repeated_proposals(tiny_space):
    region = FeasibleRegion(load_space(tiny_space), max_flops=TINY_BUDGET)
    _, seen = region.draw(random.Random(0))
    study = study_of(
        [trial(seen.arch_id), *(trial(seen.arch_id, duplicate_of=0) for _ in range(STUCK))]
    )
    assert unstick(study, region, random.Random(1))
    queued = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert len(queued) == 1
    spec = region.space.sample(optuna.trial.FixedTrial(queued[0].system_attrs["fixed_params"]))
    assert spec.arch_id != seen.arch_id and region.fits(spec)
    assert not unstick(study, region, random.Random(1))  # one queued is enough


def test_fewer_repeats_or_a_new_architecture_in_between_queue_nothing(tiny_space):
    region = FeasibleRegion(load_space(tiny_space), max_flops=TINY_BUDGET)
    _, seen = region.draw(random.Random(0))
    few = [trial(seen.arch_id), *(trial(seen.arch_id, duplicate_of=0) for _ in range(STUCK - 1))]
    assert not unstick(study_of(few), region, random.Random(1))
    broken = [*few, trial("other"), trial(seen.arch_id, duplicate_of=0)]
    assert not unstick(study_of(broken), region, random.Random(1))
