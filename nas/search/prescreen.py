"""`--prescreen SCORE:K`: each new candidate trained is the best-scored of K drawn.

SCORE is a scoring fidelity (a zero-cost score `zc:NAME` or a trained supernet
`supernet:PATH`): a `ProxyConfig` run through `train_once` like any fidelity, whose accuracy
is the score, higher = better. For each trial `Study.optimize` runs whose candidate the
sampler would propose (not a retry or an enqueued trial: those are trained as they are), the
objective first draws K candidates, each a trial of its own asked from the study's sampler
(restricted to the budget like every proposal). A drawn candidate is measured as any trial
is; where a trial would train it, it is scored instead and ends PRUNED with its
`prescreen_score`, `prescreen_for` (the number of the trial it was drawn for) and `trained`
False: no sampler reads a value off it, no front holds it, `--trials` does not count it. The
trial it was drawn for then takes the parameters of the best-scored one (`PinnedSampler`) and
is trained as any trial, recording that score: the pick has two rows in trials.csv, scored
in its draw and trained in its own trial.

A drawn candidate over budget, or repeating an architecture already trained, ends as that
proposal ends in any trial and is not eligible. One whose architecture was scored before
keeps that score (nothing is scored twice, across resumes too; a score that could not be
taken is not tried again). When no candidate is eligible the trial samples its own, as
without a pre-screen. All K are sampled before any is scored and told, so a sampler that
reads running trials (GP, TPE's constant liar) spreads them rather than proposing one K times;
they beat Optuna's heartbeat while they wait, so no other worker fails them as stale. A
drawn candidate left unfinished by a killed process is, when retried, scored and not trained.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.storages._heartbeat import get_heartbeat_thread  # what Study.optimize beats with
from optuna.study import Study
from optuna.trial import FrozenTrial, Trial, TrialState

from nas.data.proxy import ProxyData
from nas.evaluate import Fidelity, train_once
from nas.evaluate.runs import failure_of
from nas.space import ArchSpec

from . import attrs

# arch_id -> the score its architecture got in the study; None: it could not be scored
Scores = dict[str, float | None]


class Prescreener:
    """Scores candidates with the pre-screen's fidelity, each architecture once per study."""

    def __init__(self, *, k: int, fidelity: Fidelity, data: ProxyData, seed: int = 0):
        if k < 2:
            raise ValueError(f"`k >= 2` must hold, but got k={k}")
        self.k = k  # candidates drawn per candidate trained
        self.fidelity = fidelity
        self.data = data  # the fidelity's images (not the proxy's)
        self.seed = seed  # of the initialised network a zero-cost score is taken on

    def score(self, trial: Trial, spec: ArchSpec, known: Scores) -> float | None:
        """The architecture's score, recorded on the trial: the one it got before (`known`),
        else taken now and added to `known`. None when it cannot be taken (its reason in
        `failure`)."""
        if spec.arch_id not in known:
            trial.set_user_attr(attrs.PHASE, "scoring")
            try:
                result = train_once(spec, fidelity=self.fidelity, seed=self.seed, data=self.data)
            except Exception as e:  # an undefined score leaves the candidate out, not the search
                known[spec.arch_id] = None
                trial.set_user_attr(attrs.FAILURE, failure_of(e, what=" (pre-screen)")[0])
                return None
            known[spec.arch_id] = result.accuracy
            trial.set_user_attr(attrs.PRESCREEN_SECONDS, result.seconds)
        value = known[spec.arch_id]
        if value is None:
            trial.set_user_attr(attrs.FAILURE, "pre-screen: this architecture could not be scored")
        trial.set_user_attr(attrs.PRESCREEN_SCORE, value)
        return value


def known_scores(trials: Iterable[FrozenTrial]) -> Scores:
    """What the study's trials record: each architecture's score, or None where scoring it
    failed (a candidate ended scored, with a failure and no score)."""
    out: Scores = {}
    for t in trials:
        ua = t.user_attrs
        arch = ua.get(attrs.ARCH_ID)
        if ua.get(attrs.PRESCREEN_SCORE) is not None:
            out[arch] = ua[attrs.PRESCREEN_SCORE]
        elif is_scored(t) and ua.get(attrs.FAILURE):
            out.setdefault(arch, None)
    return out


def is_scored(t: FrozenTrial) -> bool:
    """A drawn candidate that was scored (or could not be), not trained."""
    ua = t.user_attrs
    return (
        t.state == TrialState.PRUNED
        and not ua.get(attrs.TRAINED)
        and ua.get(attrs.DUPLICATE_OF) is None
        and ua.get(attrs.PRESCREEN_FOR) is not None
    )


def new_proposal(trial: Trial) -> bool:
    """Whether the sampler is to propose this trial's candidate: not when its parameters were
    fixed before it started (enqueued by hand or on Ctrl-C, a retry of a trial that had them).
    Optuna keeps those as the `fixed_params` system attribute, not shown by a running Trial."""
    for t in reversed(trial.study.get_trials(deepcopy=False)):
        if t.number == trial.number:
            return not t.system_attrs.get("fixed_params")
    return True


def waiting(study: Study) -> bool:
    """Trials queued to run next (retries, enqueued ones): `Study.ask` would hand one out."""
    return bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


class Heartbeats:
    """Optuna's heartbeat for trials asked outside `Study.optimize` (which beats only its
    own), each until `stop` (before it is told: a finished trial takes no more beats)."""

    def __init__(self, trials: Sequence[Trial]):
        self._threads = {t.number: get_heartbeat_thread(t._trial_id, t.storage) for t in trials}

    def __enter__(self) -> Heartbeats:
        for thread in self._threads.values():
            thread.start()
        return self

    def stop(self, trial: Trial) -> None:
        thread = self._threads.pop(trial.number, None)
        if thread is not None:
            thread.join()

    def __exit__(self, *exc: object) -> None:
        for thread in self._threads.values():
            thread.join()
        self._threads.clear()


class PinnedSampler(BaseSampler):
    """The study's sampler, except for a trial given its parameters (`pin`): there it returns
    them and computes no proposal. Optuna's own way (`enqueue_trial`) fixes them before the
    trial exists; a pre-screen knows them only after its draw, inside the trial."""

    def __init__(self, base: BaseSampler):
        self.base = base
        self._pins: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return str(self.base)

    def pin(self, number: int, params: dict[str, Any]) -> None:
        with self._lock:
            self._pins[number] = dict(params)

    def _pinned(self, trial: FrozenTrial) -> dict[str, Any] | None:
        with self._lock:
            return self._pins.get(trial.number)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        with self._lock:
            self._pins.pop(trial.number, None)
        self.base.after_trial(study, trial, state, values)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if self._pinned(trial) is not None:
            return {}
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if self._pinned(trial) is not None:
            return {}
        return self.base.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        pinned = self._pinned(trial)
        if pinned is not None and param_name in pinned:
            return pinned[param_name]
        return self.base.sample_independent(study, trial, param_name, param_distribution)
