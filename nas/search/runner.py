"""`run_search`: the budgeted search, from a configuration to the reports on disk.

Order of work: work out the feasible region (a budget nothing meets is an error here, before
any training), load the proxy data, open (or resume) the study with a sampler restricted to the
region, start extra worker processes, then trials until the requested number of candidates was
trained or the time budget would be overrun. The reports are rewritten after every trial.
"""

from __future__ import annotations

import logging
import random
import warnings
from dataclasses import dataclass

import optuna
import pandas as pd
import torch
from optuna.trial import FrozenTrial, TrialState

from nas._core import NasError
from nas.cost import NoClosedForm, closed_form, format_amount
from nas.data.classes import to_config
from nas.data.proxy import ProxyData
from nas.evaluate import Fidelity, load_fidelity_data
from nas.report import StudyFolder, provenance, reports_lock, write_search_reports
from nas.report import write_run_yaml as write_run_doc
from nas.space import SearchSpace, load_space
from nas.space.spec import spec_from_dict
from nas.train.device import pick_device

from . import attrs
from .config import SearchConfig, check_resume, make_config
from .deadline import Deadline
from .feasible import FeasibleRegion
from .objective import Objective, TrialFailed
from .prescreen import PinnedSampler, Prescreener
from .progress import Progress
from .pruning import make_early_stopping
from .results import Counts, count, pareto_trials, trials_frame
from .retry import requeue_failed
from .samplers import make_pruner, make_sampler
from .storage import mask_url, open_storage
from .unstick import unstick
from .workers import share_the_cores, start_workers, wait_workers

MAX_CONSECUTIVE_FAILURES = 5

log = logging.getLogger(__name__)


class SearchError(NasError, RuntimeError):
    """The search cannot go on (every candidate fails, say); the message says why."""

    exit_status = 1  # the search ran and failed: not a usage error


@dataclass
class SearchOutcome:
    config: SearchConfig
    study: optuna.Study
    trials: pd.DataFrame
    pareto: pd.DataFrame
    counts: Counts


def run_search(
    *, space: str, budget: str | int, progress: bool = True, **options: object
) -> SearchOutcome:
    """The Python API of `nas-search`: the same options, as keyword arguments
    (`trials=`, `timeout=`, `sampler=`, `objectives=`, `proxy=` (a preset name or a
    ProxyConfig), `data=`, `resolution=`, `storage=`, `study_name=`, `out=`, `seed=`,
    `device=`, `workers=`, `max_params=`, `pruner=`, `classes=`, `data_workers=`,
    `skip_bad_images=`, `retry_failed=`, `prescreen=` (`"zc:synflow:4"`: `SCORE:K`))."""
    return run(make_config(space=space, budget=budget, **options), progress=progress)


def run(cfg: SearchConfig, *, progress: bool = True, worker_index: int = 0) -> SearchOutcome:
    _quiet_optuna()
    space = load_space(cfg.space)
    device = pick_device(cfg.device)
    share_the_cores(cfg, device)
    region = feasible_region(space, cfg)
    # the study first: one made for another space or data is refused before any decoding
    study = open_study(cfg, space, region=region, worker_index=worker_index)
    data = load_fidelity_data(fidelity_of(cfg), device=device, **data_options(cfg))
    prescreener = make_prescreener(cfg, device)
    lead = worker_index == 0
    if lead:
        write_run_yaml(cfg, space, region, study, device)
        requeue(cfg, study)
    workers = start_workers(cfg, device=device) if lead and cfg.workers > 1 else []
    try:
        _optimize(cfg, space, study, data, prescreener, region=region, progress=progress and lead)
    finally:
        if workers:
            wait_workers(workers)
        if lead:
            outcome = write_reports(cfg, study)
    return outcome if lead else _outcome(cfg, study)


def requeue(cfg: SearchConfig, study: optuna.Study) -> None:
    """Queue failed trials of a resumed study again (`nas.search.retry`): transient failures,
    or every one with --retry-failed. They run before any new proposal."""
    numbers = requeue_failed(study, retry_failed=cfg.retry_failed)
    if numbers:
        which = "failed" if cfg.retry_failed else "transiently failed (out of memory, killed)"
        listed = ", ".join(f"#{n}" for n in numbers)
        log.info(
            "%s: trying %d %s trial(s) again: %s", cfg.study_name, len(numbers), which, listed
        )


def fidelity_of(cfg: SearchConfig) -> Fidelity:
    """What every accuracy of the study means: the proxy, the data, its classes and subset."""
    return Fidelity(cfg.proxy, cfg.data, cfg.data_seed, classes=cfg.classes)


def make_prescreener(cfg: SearchConfig, device: torch.device) -> Prescreener | None:
    """--prescreen's scorer with its own images (a score's fidelity draws other images than
    the proxy: the same data, data seed and classes); None without a pre-screen."""
    if cfg.prescreen is None:
        return None
    fidelity = Fidelity(cfg.prescreen.score, cfg.data, cfg.data_seed, classes=cfg.classes)
    data = load_fidelity_data(fidelity, device=device, **data_options(cfg))
    return Prescreener(k=cfg.prescreen.k, fidelity=fidelity, data=data, seed=cfg.seed)


def data_options(cfg: SearchConfig) -> dict[str, object]:
    """How the proxy data is loaded, beside what it is (the fidelity): decoding processes, bad
    images. Every worker passes the same, so all map the one cache entry the first built."""
    return {
        "workers": cfg.data_workers,
        "skip_bad_images": cfg.skip_bad_images,
    }


def feasible_region(space: SearchSpace, cfg: SearchConfig) -> FeasibleRegion | None:
    """The architectures within budget; ConfigError when there are none. None when a mixer of
    the space has no closed-form cost: then every proposal is measured with fvcore and those
    over budget are skipped (reported to the sampler as infeasible)."""
    try:
        region = FeasibleRegion(
            space, max_flops=cfg.max_flops, max_params=cfg.max_params, resolution=cfg.resolution
        )
    except NoClosedForm as e:
        logging.getLogger("nas.search").warning(
            "no closed-form cost (%s): the sampler is not restricted to the budget", e
        )
        return None
    region.check()
    return region


def open_study(
    cfg: SearchConfig, space: SearchSpace, *, region: FeasibleRegion | None, worker_index: int = 0
) -> optuna.Study:
    """Create the study, or load it and check it was made for the same question.

    The sampler's seed is --seed plus the number of trials already in the study (and the
    worker index), so a resumed run or a second worker does not replay the same proposals."""
    pruner = (
        make_pruner(cfg.pruner, percentile=cfg.pruner_percentile)
        if not cfg.multi_objective
        else None
    )
    with warnings.catch_warnings():  # metric names are "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            study_name=cfg.study_name,
            storage=open_storage(cfg.storage),
            pruner=pruner,
            directions=cfg.directions,
            load_if_exists=True,
        )
        stored = study.user_attrs.get(attrs.STUDY_CONFIG)
        if stored is None:
            study.set_user_attr(attrs.STUDY_CONFIG, cfg.fingerprint())
            study.set_metric_names(
                [o if o != "accuracy" else "proxy_accuracy" for o in cfg.objectives]
            )
        else:
            check_resume(stored, cfg)
    seed = cfg.seed + 10_007 * worker_index + len(study.get_trials(deepcopy=False))
    study.sampler = make_sampler(cfg.sampler, seed=seed, trials=cfg.trials, region=region)
    if cfg.prescreen is not None:  # a trial trains the best-scored of its draw
        study.sampler = PinnedSampler(study.sampler)
    return study


def _optimize(
    cfg: SearchConfig,
    space: SearchSpace,
    study: optuna.Study,
    data: ProxyData,
    prescreener: Prescreener | None,
    *,
    region: FeasibleRegion | None,
    progress: bool,
) -> None:
    counts = count(study.get_trials(deepcopy=False))
    bar = Progress(
        label=cfg.study_name,
        total=cfg.trials,
        timeout=cfg.timeout,
        enabled=progress,
        already=counts.evaluated,
    )
    if counts.evaluated >= cfg.trials:
        bar.message(
            f"{cfg.study_name}: {counts.evaluated} candidates already trained "
            f"(asked for {cfg.trials}); nothing to do"
        )
        bar.close()
        return
    if counts.total:
        bar.message(
            f"resuming {cfg.study_name}: {counts.evaluated}/{cfg.trials} candidates "
            f"trained in {counts.total} trials"
        )
    deadline = Deadline(cfg.timeout)
    objective = Objective(
        space=space,
        objectives=cfg.objectives,
        resolution=cfg.resolution,
        max_flops=cfg.max_flops,
        max_params=cfg.max_params,
        fidelity=fidelity_of(cfg),
        data=data,
        stopping=make_early_stopping(
            study,
            pruner=cfg.pruner,
            percentile=cfg.pruner_percentile,
            multi_objective=cfg.multi_objective,
        ),
        seed=cfg.seed,
        repeats=cfg.repeat_policy,
        prescreen=prescreener,
        deadline=deadline,
        on_start=lambda n, c: bar.trial_started(n, c.flops, c.spec.summary()),
        on_epoch=lambda n, k, e, a: bar.epoch(n, e, cfg.proxy.epochs, a, seed=k),
    )
    after = AfterTrial(cfg, bar, deadline, region=region)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.optimize(objective, catch=(TrialFailed,), callbacks=[after], gc_after_trial=True)
    finally:
        bar.close()


class AfterTrial:
    """Optuna callback: rewrite the reports, show progress, decide whether to go on."""

    def __init__(
        self,
        cfg: SearchConfig,
        bar: Progress,
        deadline: Deadline,
        *,
        region: FeasibleRegion | None,
    ):
        self.cfg = cfg
        self.bar = bar
        self.deadline = deadline  # the objective times each run into it
        self.region = region
        self.rng = random.Random(f"unstick:{cfg.seed}")
        self.cap = 10 * cfg.trials + 50  # proposals in all (over-budget ones are cheap), the
        #                                   candidates a pre-screen only scored left out

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        front = len(write_reports(self.cfg, study).pareto)
        trials = study.get_trials(deepcopy=False)
        counts = count(trials)
        self.bar.trial_finished(describe(trial), counts, best=_best(trials), front=front)
        self._decide(study, counts)
        if self.region is not None and unstick(study, self.region, self.rng):
            self.bar.message("the sampler repeated seen architectures: an unseen one is queued")

    def _decide(self, study: optuna.Study, counts: Counts) -> None:
        if counts.evaluated >= self.cfg.trials:
            study.stop()
        elif counts.total - counts.scored >= self.cap:
            self.bar.message(
                f"stopping after {counts.total - counts.scored} proposals: the sampler keeps "
                f"proposing over-budget or already-seen architectures"
            )
            study.stop()
        elif counts.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            raise SearchError(
                f"{counts.consecutive_failures} trials failed in a row; see the "
                f"failure column of {StudyFolder(self.cfg.out).trials_csv}"
            )
        elif not self.deadline.room_for_a_run():
            self.bar.message(
                f"time budget: stopping after {self.deadline.elapsed / 60:.1f} min, before "
                f"a run that would overrun --timeout {self.cfg.timeout / 60:.1f} min "
                f"(re-run to continue)"
            )
            study.stop()


def describe(t: FrozenTrial) -> str:
    ua = t.user_attrs
    flops = ua.get(attrs.FLOPS)
    head = f"#{t.number} {t.state.name.lower()}"
    cost = f"{format_amount(flops)}" if flops is not None else "?"
    if t.state == TrialState.FAIL:
        return f"{head}: {ua.get(attrs.FAILURE) or 'interrupted'}"
    if ua.get(attrs.FEASIBLE) is False:
        return f"#{t.number} over budget ({cost}), not trained"
    score = ua.get(attrs.PRESCREEN_SCORE)
    scored = f", pre-screen score {score:.4g}" if score is not None else ""
    if ua.get(attrs.PRESCREEN_FOR) is not None and not ua.get(attrs.TRAINED):
        return f"#{t.number} {cost}{scored or ', not scored'}, not trained"
    acc = ua.get(attrs.PROXY_ACCURACY)
    acc_text = f"acc {acc:.4f}" if acc is not None else "acc -"
    if ua.get(attrs.DUPLICATE_OF) is not None:
        return f"#{t.number} repeats #{ua[attrs.DUPLICATE_OF]}: {acc_text} {cost} (reused)"
    epochs = len(ua.get(attrs.CURVE) or [])
    return (
        f"{head} {acc_text} after {epochs} epoch(s), {cost}{scored}, "
        f"{ua.get(attrs.PROXY_SECONDS) or 0:.0f}s  {ua.get(attrs.SUMMARY, '')}"
    )


def _best(trials: list[FrozenTrial]) -> float | None:
    accs = [
        t.user_attrs.get(attrs.PROXY_ACCURACY)
        for t in trials
        if t.state == TrialState.COMPLETE
        and t.user_attrs.get(attrs.FEASIBLE)
        and t.user_attrs.get(attrs.PROXY_ACCURACY) is not None
    ]
    return max(accs) if accs else None


# --- reports ---------------------------------------------------------------------------------


def write_reports(cfg: SearchConfig, study: optuna.Study) -> SearchOutcome:
    """The study's reports in `cfg.out` (`nas.report.write_search_reports`).

    Every worker process rewrites them after its trials. They take turns (the out folder's
    report lock) and each reads the study once it holds the lock, so a later writer never
    replaces newer reports with its older view (nor deletes the spec of a new front member)."""
    with reports_lock(cfg.out):
        trials = study.get_trials(deepcopy=False)
        front = pareto_trials(study)
        table = trials_frame(trials)
        pareto = table[table["number"].isin([t.number for t in front])]
        pareto = pareto.sort_values("flops", kind="stable")
        archs = {
            t.user_attrs[attrs.ARCH_ID]: (
                spec_from_dict(t.user_attrs[attrs.SPEC]),
                f"{cfg.study_name}-trial{t.number}",
            )
            for t in front
        }
        write_search_reports(
            cfg.out,
            trials=table,
            pareto=pareto,
            archs=archs,
            max_flops=cfg.max_flops,
            max_params=cfg.max_params,
            objectives=cfg.objectives,
            study_name=cfg.study_name,
            resolution=cfg.resolution,
        )
        return SearchOutcome(cfg, study, table, pareto, count(trials))


def _outcome(cfg: SearchConfig, study: optuna.Study) -> SearchOutcome:
    trials = study.get_trials(deepcopy=False)
    table = trials_frame(trials)
    front = {t.number for t in pareto_trials(study)}
    return SearchOutcome(cfg, study, table, table[table["number"].isin(front)], count(trials))


def write_run_yaml(
    cfg: SearchConfig,
    space: SearchSpace,
    region: FeasibleRegion | None,
    study: optuna.Study,
    device: torch.device,
) -> None:
    config = cfg.to_dict()
    config["storage"] = mask_url(cfg.storage)
    budget: dict = {"max_flops": cfg.max_flops, "max_params": cfg.max_params}
    if region is not None:
        cheapest = region.extreme_spec("cheapest")
        cost = closed_form(cheapest)
        budget.update(
            fitting=str(region.count),
            cheapest={"flops": cost.flops, "params": cost.params, "summary": cheapest.summary()},
        )
    doc = {
        # what other tools read first (nas-train --from): the data and the target resolution
        "space": space.name,
        "data": cfg.data,
        "resolution": cfg.resolution,
        "classes": to_config(cfg.classes),
        "config": config,
        "space_info": {
            "name": space.name,
            "source": space.source,
            "description": space.description,
        },
        "budget": budget,
        "study": {
            "name": study.study_name,
            "storage": mask_url(cfg.storage),
            "directions": cfg.directions,
            "trials_at_start": len(study.get_trials(deepcopy=False)),
        },
        "provenance": provenance(device),
    }
    write_run_doc(cfg.out, doc)


def _quiet_optuna() -> None:
    """Our progress lines replace Optuna's per-trial log lines (and its tracebacks of failed
    trials: the reason is on the trial and in trials.csv)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("fvcore").setLevel(logging.ERROR)
