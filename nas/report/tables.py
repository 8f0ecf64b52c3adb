"""The CSV contracts of a search's and a study's results, and atomic writing of tables.

`trials.csv` and `pareto.csv` hold the columns of `TRIALS` in its order (its first columns,
`LEAD_COLUMNS`, are what other tools, e.g. `nas-train`'s fidelity report, read by name), then
columns a caller added, then one column per sampled parameter named `param.<name>`. Each
column's value comes from a `TrialFacts`: what `nas.search` reads off an Optuna trial (its
number, state, duration and the user attributes of `nas.search.attrs`), so a column computed
from what a trial records is one `Column` here. `full_training.csv` holds the columns of
`FULL_TRAINING`, one row per finished training run, each computed from a `FullRunFacts`
(`nas.train.full.FullTrainer.facts`): a column is one `Column` there too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from nas._core import write_text_atomic as write_text
from nas.space import ArchSpec

from .columns import Column, Table


@dataclass(frozen=True)
class TrialFacts:
    """A search trial as plain data: what every trials.csv column is computed from."""

    number: int
    state: str  # Optuna's state name: COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    attrs: Mapping[str, Any]  # its user attributes (names: nas.search.attrs)
    duration_s: float | None = None  # wall clock from start to end; None while running
    retry_of: int | None = None  # the trial a retry re-runs (heartbeat, or a resume)
    failure_kind: str | None = None  # a failed trial's: transient or deterministic

    @property
    def failed(self) -> bool:
        return self.state == "FAIL"

    def get(self, name: str) -> Any:
        """A user attribute; None when the trial has not set it."""
        return self.attrs.get(name)


def _joined(values: Any) -> str | None:
    return ";".join(f"{a:.4f}" for a in values or []) or None


def _failure(t: TrialFacts) -> str | None:
    if t.get("failure") or not t.failed:
        return t.get("failure")
    # a trial Optuna failed for us: a killed worker's (retried) or an interrupted one's
    if t.get("phase") == "interrupted":
        return "interrupted (queued again)"
    return "process died (retried)"


def _seeds(t: TrialFacts) -> int | None:
    if t.failed:
        return None
    return len(t.get("seed_accuracies") or []) or (1 if t.get("curve") else None)


_LEAD = (
    Column("number", int, "Optuna's trial number", lambda t: t.number),
    Column("state", str, "COMPLETE, PRUNED, FAIL, RUNNING or WAITING", lambda t: t.state),
    Column("arch_id", str, "the architecture's id (ArchSpec.arch_id)"),
    Column("flops", int, "fvcore's FLOPs per image at the target resolution"),
    Column("params", int, "parameters"),
    Column(
        "proxy_accuracy",
        float,
        "mean proxy accuracy over the seeds; none for a failed trial (its epochs before the "
        "failure stay in `curve`)",
        lambda t: t.get("proxy_accuracy") if t.get("curve") and not t.failed else None,
    ),
    Column(
        "proxy_accuracy_std",
        float,
        "std over the seeds (ddof 1), none with one seed",
        lambda t: None if t.failed else t.get("proxy_accuracy_std"),
    ),
    Column("seeds", int, "proxy runs averaged into proxy_accuracy", _seeds),
    Column("proxy_seconds", float, "proxy training time, every seed"),
    Column("failure", str, "why the trial failed", _failure),
)
_MORE = (
    Column(
        "failure_kind",
        str,
        "a failed trial's kind: transient (out of memory, its process killed: tried again "
        "on resume) or deterministic (NaN loss, a bad spec: tried again with --retry-failed)",
        lambda t: t.failure_kind,
    ),
    Column(
        "closed_form_flops",
        int,
        "FLOPs by nas.cost.closed_form (equal to fvcore's)",
        lambda t: (t.get("closed_form") or [None, None])[0],
    ),
    Column(
        "closed_form_params",
        int,
        "params by nas.cost.closed_form",
        lambda t: (t.get("closed_form") or [None, None])[1],
    ),
    Column("feasible", bool, "within the budget"),
    Column(
        "trained",
        bool,
        "proxy training started (false: over budget, a duplicate, or only scored by --prescreen)",
    ),
    Column("duplicate_of", int, "the earlier trial whose result this one reused"),
    Column("epochs", int, "epochs of the first seed", lambda t: len(t.get("curve") or []) or None),
    Column(
        "curve", str, "accuracy after each epoch, first seed", lambda t: _joined(t.get("curve"))
    ),
    Column(
        "seed_accuracies",
        str,
        "final accuracy of each seed, first seed first",
        lambda t: _joined(t.get("seed_accuracies")),
    ),
    Column("proxy_resolution", int, "the resolution the proxy trained at (px)"),
    Column("images_per_s", float, "proxy training throughput"),
    Column("latency_ms", float, "measured latency per image on the search device"),
    Column(
        "duration_s",
        float,
        "the trial's wall clock",
        lambda t: round(t.duration_s, 3) if t.duration_s is not None else None,
    ),
    Column(
        "retry_of",
        int,
        "the trial a retry re-runs (a heartbeat's, or a resume's: nas.search.retry)",
        lambda t: t.retry_of,
    ),
    Column("worker", str, "host:pid of the process that ran it"),
    Column("summary", str, "ArchSpec.summary()"),
    Column("prescreen_score", float, "--prescreen's score of the architecture (higher = better)"),
    Column(
        "prescreen_for",
        int,
        "on a candidate --prescreen drew and scored: the trial it was drawn for, which trained "
        "the best-scored one of its draw",
    ),
    Column("prescreen_seconds", float, "on a candidate --prescreen scored: what its score took"),
)
TRIALS = Table("a search's trials", (*_LEAD, *_MORE))
LEAD_COLUMNS = tuple(c.name for c in _LEAD)
PARAM_PREFIX = "param."


@dataclass(frozen=True)
class FullRunFacts:
    """A finished full-training run as plain data: what every full_training.csv column is
    computed from, so a column computed from what a run knows is one `Column` here."""

    arch_id: str  # the architecture asked for (the study's)
    spec: ArchSpec  # the one trained (the data's classes, the training resolution)
    name: str  # the run's name
    params: int  # parameters of the trained architecture
    history: Sequence[Mapping[str, Any]]  # one row per epoch, as log.csv: top1, top5, ema_top1
    epochs: int  # epochs trained
    weights: str  # ema or model: the better at the last epoch
    data: str  # the data source
    global_batch: int  # images per update, all processes
    wall_s: float  # wall clock of the run, resumed parts added
    gpus: int  # GPUs it ran on (0 on CPU)
    device: str  # what it ran on, in words
    checkpoint: str  # the run's last.pt
    finished_at: str  # ISO 8601
    git_sha: str | None  # the code it ran

    @property
    def last(self) -> Mapping[str, Any]:
        return self.history[-1]

    @property
    def wall_hours(self) -> float:
        return self.wall_s / 3600


def _flops(run: FullRunFacts) -> int:
    from nas.cost import measure  # fvcore and torch: only when a run finishes

    return measure(run.spec).flops


# accuracies in percent (timm's convention); hours of wall clock; gpu_hours = wall x GPUs.
# Rows: nas.train.full.FullTrainer.result() (FULL_TRAINING.row of its facts).
FULL_TRAINING = Table(
    "full training's results",
    (
        Column("arch_id", str, "the architecture asked for (the study's)", lambda r: r.arch_id),
        Column(
            "trained_arch_id",
            str,
            "the one trained (the run's spec.yaml: the data's classes, the training "
            "resolution), whose flops, params and accuracies these are",
            lambda r: r.spec.arch_id,
        ),
        Column("name", str, "the run's name", lambda r: r.name),
        Column("flops", int, "fvcore's FLOPs per image of the trained architecture", _flops),
        Column("params", int, "parameters of the trained architecture", lambda r: r.params),
        Column("top1", float, "top-1 after the last epoch", lambda r: r.last["top1"]),
        Column("top5", float, "top-5 after the last epoch", lambda r: r.last["top5"]),
        Column(
            "best_top1",
            float,
            "the best top-1 of any epoch",
            lambda r: max(h["top1"] for h in r.history),
        ),
        Column(
            "ema_top1",
            float,
            "the weight EMA's top-1 after the last epoch",
            lambda r: r.last["ema_top1"],
        ),
        Column(
            "weights",
            str,
            "ema or model: the better at the last epoch, what timm loads",
            lambda r: r.weights,
        ),
        Column("epochs", int, "epochs trained", lambda r: r.epochs),
        Column("resolution", int, "the training resolution (px)", lambda r: r.spec.resolution),
        Column("num_classes", int, "classes of the data", lambda r: r.spec.num_classes),
        Column("data", str, "the data source", lambda r: r.data),
        Column("global_batch", int, "images per update, all processes", lambda r: r.global_batch),
        Column("gpu_hours", float, "wall hours x GPUs", lambda r: round(r.wall_hours * r.gpus, 4)),
        Column("wall_hours", float, "wall clock", lambda r: round(r.wall_hours, 4)),
        Column("device", str, "what it ran on", lambda r: r.device),
        Column("checkpoint", str, "the run's last.pt", lambda r: r.checkpoint),
        Column("finished_at", str, "when it finished (ISO 8601)", lambda r: r.finished_at),
        Column("git_sha", str, "the code it ran", lambda r: r.git_sha),
    ),
)

# search objective -> (its column, its name in titles)
OBJECTIVE_COLUMNS = {
    "accuracy": ("proxy_accuracy", "proxy accuracy"),
    "flops": ("flops", "FLOPs"),
    "params": ("params", "params"),
    "latency": ("latency_ms", "latency"),
}


def front_title(objectives: tuple[str, ...] | list[str]) -> str:
    """What the Pareto front trades: 'proxy accuracy vs FLOPs', 'proxy accuracy vs params and
    latency'; with accuracy alone the front is the best trial."""
    names = [OBJECTIVE_COLUMNS[o][1] for o in objectives if o != "accuracy"]
    if not names:
        return "proxy accuracy"
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"proxy accuracy vs {listed}"


def order_columns(df: pd.DataFrame) -> pd.DataFrame:
    """LEAD_COLUMNS first (added when missing), the other TRIALS columns present in the
    table's order, columns it does not know in their order, `param.*` last (sorted)."""
    for col in LEAD_COLUMNS:
        if col not in df.columns:
            df[col] = pd.NA
    known = [c for c in TRIALS.names if c in df.columns]
    params = sorted(c for c in df.columns if c.startswith(PARAM_PREFIX))
    extras = [c for c in df.columns if c not in TRIALS.names and c not in params]
    return TRIALS.typed(df[[*known, *extras, *params]].copy())


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike) -> None:
    write_text(path, df.to_csv(index=False))


def read_trials(path: str | os.PathLike) -> pd.DataFrame:
    """A trials.csv / pareto.csv with TRIALS' types (integers as integers, missing -> <NA>;
    ids as strings)."""
    return TRIALS.read(path)
