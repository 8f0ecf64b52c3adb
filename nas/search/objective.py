"""One trial of a search: sample, measure, (maybe) proxy-train, and record everything.

The order is the point: the candidate's FLOPs and params are measured (fvcore, at the target
resolution) and stored on the trial, with the closed-form count the sampler relied on, before
it is built for training; the two must agree (`CostMismatch` stops the search). The sampler
only proposes architectures within budget, but one over budget all the same (enqueued by
hand, or from a space without closed-form costs) is never trained: it completes with accuracy
0 and positive constraint values, which every Optuna sampler reads as infeasible
(`trial.set_constraint`). An architecture seen before reuses the earlier result. A failure
(NaN loss, out of memory, an exception while building or training) is recorded with its
reason and its kind, and the study goes on: a transient one (out of memory) is tried again
when the search resumes (`nas.search.retry`), a deterministic one (NaN loss, a bad spec)
stays failed. With a pre-screen (`nas.search.prescreen`) a trial first draws K candidates
as trials of their own, scores them, and trains the best-scored one.
"""

from __future__ import annotations

import logging
import os
import socket
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from nas.cost import CostMismatch, measure, verify_cost
from nas.data.proxy import ProxyData
from nas.evaluate import Fidelity, train_once
from nas.evaluate.runs import DETERMINISTIC, failure_of
from nas.space import ArchSpec, SearchSpace
from nas.train.proxy import ProxyResult

from . import attrs
from .deadline import Deadline
from .latency import measure_latency
from .prescreen import (
    Heartbeats,
    PinnedSampler,
    Prescreener,
    Scores,
    known_scores,
    new_proposal,
    waiting,
)
from .pruning import EarlyStopping
from .repeats import NO_REPEATS, RepeatPolicy, study_noise

log = logging.getLogger(__name__)

# (trial number, seed index (0 = first), epochs done, accuracy)
EpochCallback = Callable[[int, int, int, float], None]


class TrialFailed(RuntimeError):
    """A candidate that could not be evaluated; the reason is on the trial."""


@dataclass
class Candidate:
    spec: ArchSpec
    flops: int
    params: int
    latency_ms: float | None = None


class Objective:
    """The callable handed to `Study.optimize`."""

    def __init__(
        self,
        *,
        space: SearchSpace,
        objectives: tuple[str, ...],
        resolution: int,
        max_flops: int,
        max_params: int | None,
        fidelity: Fidelity,
        data: ProxyData,
        stopping: EarlyStopping,
        seed: int = 0,
        repeats: RepeatPolicy = NO_REPEATS,
        prescreen: Prescreener | None = None,
        deadline: Deadline | None = None,
        on_start: Callable[[int, Candidate], None] | None = None,
        on_epoch: EpochCallback | None = None,
    ):
        self.space = space
        self.objectives = objectives
        self.resolution = resolution
        self.max_flops = max_flops
        self.max_params = max_params
        self.fidelity = fidelity
        self.data = data
        self.stopping = stopping
        self.seed = seed  # of the first run; repeats use seed + 1, seed + 2, ...
        self.repeats = repeats
        self.prescreen = prescreen  # the study's sampler must then be a PinnedSampler
        self.deadline = deadline or Deadline(None)  # --timeout: times each run, skips repeats
        self.on_start = on_start
        self.on_epoch = on_epoch

    def __call__(self, trial: Trial) -> list[float]:
        try:
            return self._evaluate(trial)
        except KeyboardInterrupt:
            # Optuna fails the trial; queue the same candidate for the next run.
            trial.set_user_attr(attrs.PHASE, "interrupted")
            trial.study.enqueue_trial(trial.params)
            raise

    def _evaluate(self, trial: Trial) -> list[float]:
        drawn_for = trial.user_attrs.get(attrs.PRESCREEN_FOR)  # a drawn candidate, retried
        _reset(trial)
        trial.set_user_attr(attrs.WORKER, f"{socket.gethostname()}:{os.getpid()}")
        if self.prescreen is not None and drawn_for is None and new_proposal(trial):
            self._draw(trial)
        cand, settled = self._prepare(trial)
        if settled is not None:
            return settled
        if self.prescreen is not None:
            known = known_scores(trial.study.get_trials(deepcopy=False))
            if drawn_for is not None:  # scored, as in its draw, never trained
                trial.set_user_attr(attrs.PRESCREEN_FOR, drawn_for)
                self.prescreen.score(trial, cand.spec, known)
                trial.set_user_attr(attrs.PHASE, "done")
                raise optuna.TrialPruned("scored by the pre-screen, not trained")
            if known.get(cand.spec.arch_id) is not None:  # the pick keeps its score
                trial.set_user_attr(attrs.PRESCREEN_SCORE, known[cand.spec.arch_id])
        if self.on_start:
            self.on_start(trial.number, cand)
        result = self._train(trial, cand)
        if result.stopped:
            trial.set_user_attr(attrs.PHASE, "done")
            raise optuna.TrialPruned(
                f"stopped after epoch {result.epochs}: accuracy "
                f"{result.accuracy:.4f} trails cheaper candidates"
            )
        mean = self._repeat(trial, cand, [result.accuracy])
        trial.set_user_attr(attrs.PHASE, "done")
        return self._values(cand, accuracy=mean)

    def _prepare(self, trial: Trial) -> tuple[Candidate, list[float] | None]:
        """Sample and measure the trial's candidate: (the candidate, the trial's values when
        it ends without training: over budget, or a repeat of a trained architecture, whose
        result it reuses). A repeat of one stopped early raises TrialPruned."""
        trial.set_user_attr(attrs.PHASE, "measuring")
        spec = self.space.sample(trial, resolution=self.resolution)
        for key, value in (
            (attrs.ARCH_ID, spec.arch_id),
            (attrs.SUMMARY, spec.summary()),
            (attrs.SPEC, spec.to_dict()),
        ):
            trial.set_user_attr(key, value)
        earlier = find_earlier(trial.study, spec.arch_id, trial.number)
        cand = self._measure(trial, spec, earlier)
        if not self._constrain(trial, cand):
            trial.set_user_attr(attrs.PHASE, "done")
            return cand, self._values(cand, accuracy=0.0)
        if earlier is not None and earlier.user_attrs.get(attrs.CURVE):
            return cand, self._reuse(trial, earlier)
        return cand, None

    # --- the pre-screen (nas.search.prescreen) --------------------------------------------

    def _draw(self, slot: Trial) -> None:
        """K candidates drawn from the study's sampler, all sampled before any is measured,
        scored and told; `slot` is pinned to the best-scored one (unpinned when none is
        eligible: it then samples its own)."""
        assert self.prescreen is not None
        study = slot.study
        drawn: list[Trial] = []
        best: tuple[float, dict] | None = None
        try:
            while len(drawn) < self.prescreen.k and not waiting(study):  # those go first
                drawn.append(study.ask())
                _reset(drawn[-1])  # should `ask` have handed out a queued trial all the same
                drawn[-1].set_user_attr(attrs.PRESCREEN_FOR, slot.number)
                self.space.sample(drawn[-1], resolution=self.resolution)
            known = known_scores(study.get_trials(deepcopy=False))
            with Heartbeats(drawn) as beats:
                while drawn:
                    score, ending = self._score_drawn(drawn[0], known)
                    beats.stop(drawn[0])
                    study.tell(drawn[0], **ending)
                    if score is not None and (best is None or score > best[0]):
                        best = (score, drawn[0].params)
                    drawn.pop(0)
        except BaseException:  # Ctrl-C, or a broken budget guarantee: none stays RUNNING
            for t in drawn:
                t.set_user_attr(attrs.PHASE, "interrupted")
                study.tell(t, state=TrialState.FAIL, skip_if_finished=True)
            raise
        if best is not None:
            assert isinstance(study.sampler, PinnedSampler), "open the study with a pre-screen"
            study.sampler.pin(slot.number, best[1])

    def _score_drawn(self, trial: Trial, known: Scores) -> tuple[float | None, dict]:
        """A drawn candidate measured as any trial: scored, to end PRUNED, where a trial would
        train it, else to end as its proposal would (over budget, a repeat). (Its score when it
        is eligible for training, else None; how it is to be told.)"""
        trial.set_user_attr(attrs.WORKER, f"{socket.gethostname()}:{os.getpid()}")
        try:
            cand, settled = self._prepare(trial)
        except optuna.TrialPruned:
            return None, {"state": TrialState.PRUNED}
        except TrialFailed:
            return None, {"state": TrialState.FAIL}
        if settled is not None:
            return None, {"values": settled}
        score = self.prescreen.score(trial, cand.spec, known)
        trial.set_user_attr(attrs.PHASE, "done")
        return score, {"state": TrialState.PRUNED}

    # --- steps ----------------------------------------------------------------------------

    def _measure(self, trial: Trial, spec: ArchSpec, earlier: FrozenTrial | None) -> Candidate:
        try:
            if earlier is not None and earlier.user_attrs.get(attrs.FLOPS) is not None:
                cand = Candidate(
                    spec,
                    earlier.user_attrs[attrs.FLOPS],
                    earlier.user_attrs[attrs.PARAMS],
                    earlier.user_attrs.get(attrs.LATENCY_MS),
                )
            else:
                cand = self._count(trial, spec)
            if "latency" in self.objectives and cand.latency_ms is None:
                cand.latency_ms = measure_latency(spec, device=self.data.device)
        except CostMismatch as e:  # the budget guarantee is broken: stop, do not go on
            self._fail(trial, f"closed form and fvcore disagree: {e}", DETERMINISTIC)
            raise
        except Exception as e:
            _, kind = failure_of(e)
            raise self._fail(trial, f"measuring failed: {type(e).__name__}: {e}", kind) from e
        trial.set_user_attr(attrs.FLOPS, cand.flops)
        trial.set_user_attr(attrs.PARAMS, cand.params)
        trial.set_user_attr(attrs.LATENCY_MS, cand.latency_ms)
        trial.set_user_attr(attrs.COSTS, self._costs(cand))
        return cand

    def _count(self, trial: Trial, spec: ArchSpec) -> Candidate:
        """FLOPs and params by fvcore, checked against the closed form the sampler used."""
        closed, report = verify_cost(spec, report=measure(spec))
        if closed.method == "closed-form":
            trial.set_user_attr(attrs.CLOSED_FORM, [closed.flops, closed.params])
        return Candidate(spec, report.flops, report.params)

    def _constrain(self, trial: Trial, cand: Candidate) -> bool:
        """Constraint values <= 0 mean feasible; positive ones say by how much it is over."""
        limits = {"flops": (cand.flops, self.max_flops), "params": (cand.params, self.max_params)}
        have = trial.constraints
        for key, (value, limit) in limits.items():
            if limit is not None and key not in have:  # a retried trial already has them
                trial.set_constraint(key, value / limit - 1.0)
        feasible = all(v <= 0 for v in trial.constraints.values())
        trial.set_user_attr(attrs.FEASIBLE, feasible)
        trial.set_user_attr(attrs.TRAINED, False)
        return feasible

    def _reuse(self, trial: Trial, earlier: FrozenTrial) -> list[float]:
        for key in (
            attrs.CURVE,
            attrs.PROXY_ACCURACY,
            attrs.PROXY_RESOLUTION,
            attrs.SEED_ACCURACIES,
            attrs.PROXY_STD,
        ):
            trial.set_user_attr(key, earlier.user_attrs.get(key))
        trial.set_user_attr(attrs.PROXY_SECONDS, 0.0)
        trial.set_user_attr(attrs.DUPLICATE_OF, earlier.number)
        trial.set_user_attr(attrs.PHASE, "done")
        if earlier.state == TrialState.PRUNED:
            raise optuna.TrialPruned(f"same architecture as trial {earlier.number}, pruned")
        return list(earlier.values)

    def _train(self, trial: Trial, cand: Candidate) -> ProxyResult:
        trial.set_user_attr(attrs.TRAINED, True)
        trial.set_user_attr(attrs.PHASE, "training")
        costs = self._costs(cand)
        curve: list[float] = []

        def epoch_done(epoch: int, accuracy: float) -> bool:
            curve.append(accuracy)
            trial.set_user_attr(attrs.CURVE, list(curve))
            trial.set_user_attr(attrs.PROXY_ACCURACY, accuracy)
            if self.on_epoch:
                self.on_epoch(trial.number, 0, epoch, accuracy)
            return self.stopping.should_stop(trial, epoch=epoch, accuracy=accuracy, costs=costs)

        result = self._run_seed(trial, cand, seed=self.seed, on_epoch=epoch_done, what="")
        trial.set_user_attr(attrs.PROXY_RESOLUTION, result.resolution)
        trial.set_user_attr(attrs.PROXY_SECONDS, round(result.seconds, 3))
        trial.set_user_attr(attrs.IMAGES_PER_S, round(result.images_per_s, 1))
        return result

    def _repeat(self, trial: Trial, cand: Candidate, accuracies: list[float]) -> float:
        """More seeds while the repeat rule asks for them (`nas.search.repeats`); the trial's
        value is their mean."""
        costs = self._costs(cand)
        seconds = trial.user_attrs.get(attrs.PROXY_SECONDS) or 0.0
        while True:
            trials = trial.study.get_trials(deepcopy=False)
            sigma, _, _ = study_noise(trials)
            if not self.repeats.wanted(accuracies, costs=costs, trials=trials, sigma=sigma):
                break
            if not self.deadline.room_for_a_run():
                log.info(
                    "trial %d: no repeat, it would overrun --timeout (the front keeps %d seed%s)",
                    trial.number,
                    len(accuracies),
                    "" if len(accuracies) == 1 else "s",
                )
                break
            k = len(accuracies)

            def progress(epoch: int, accuracy: float, k: int = k) -> bool:
                if self.on_epoch:
                    self.on_epoch(trial.number, k, epoch, accuracy)
                return False

            trial.set_user_attr(attrs.PHASE, f"repeat {k + 1}")
            result = self._run_seed(
                trial, cand, seed=self.seed + k, on_epoch=progress, what=f" (seed {k + 1})"
            )
            accuracies.append(result.accuracy)
            seconds += result.seconds
        mean = statistics.fmean(accuracies)
        trial.set_user_attr(attrs.SEED_ACCURACIES, [round(a, 6) for a in accuracies])
        trial.set_user_attr(
            attrs.PROXY_STD, statistics.stdev(accuracies) if len(accuracies) > 1 else None
        )
        trial.set_user_attr(attrs.PROXY_ACCURACY, mean)
        trial.set_user_attr(attrs.PROXY_SECONDS, round(seconds, 3))
        return mean

    def _run_seed(
        self,
        trial: Trial,
        cand: Candidate,
        *,
        seed: int,
        on_epoch: Callable[[int, float], bool],
        what: str,
    ) -> ProxyResult:
        try:
            result = train_once(
                cand.spec, fidelity=self.fidelity, seed=seed, data=self.data, on_epoch=on_epoch
            )
            self.deadline.ran(result.seconds)
            return result
        except optuna.TrialPruned:
            raise
        except Exception as e:
            raise self._fail(trial, *failure_of(e, what=what)) from e

    def _values(self, cand: Candidate, *, accuracy: float) -> list[float]:
        by_name = {
            "accuracy": accuracy,
            "flops": float(cand.flops),
            "params": float(cand.params),
            "latency": cand.latency_ms,
        }
        return [float(by_name[o]) for o in self.objectives]

    def _costs(self, cand: Candidate) -> list[float]:
        """The cost objectives' values (what early stopping compares candidates on)."""
        values = self._values(cand, accuracy=0.0)
        return [v for o, v in zip(self.objectives, values) if o != "accuracy"]

    def _fail(self, trial: Trial, reason: str, kind: str) -> TrialFailed:
        trial.set_user_attr(attrs.FAILURE, reason)
        trial.set_user_attr(attrs.FAILURE_KIND, kind)
        trial.set_user_attr(attrs.PHASE, "done")
        return TrialFailed(reason)


def find_earlier(study: optuna.Study, arch_id: str, number: int) -> FrozenTrial | None:
    """An earlier finished trial of the same architecture: a trained one if any, else one
    whose cost was measured."""
    measured = None
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if t.number == number or t.user_attrs.get(attrs.ARCH_ID) != arch_id:
            continue
        if t.user_attrs.get(attrs.TRAINED) and t.user_attrs.get(attrs.CURVE):
            return t
        if measured is None and t.user_attrs.get(attrs.FLOPS) is not None:
            measured = t
    return measured


def _reset(trial: Trial) -> None:
    """A retried trial starts with the failed one's attributes: clear them."""
    for key in attrs.TRIAL_ATTRS:
        if trial.user_attrs.get(key) is not None:
            trial.set_user_attr(key, None)
