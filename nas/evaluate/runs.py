"""One run: an architecture trained under a fidelity with a seed, and the record it leaves.

`train_once` is the single training path of the project's proxy runs: the search's trials (and
their repeats), calibrations and comparisons all go through it. `train_run` wraps it into a
`RunRecord` that never raises for a failing architecture (NaN loss, out of memory, a block
that cannot be built), so a batch of runs goes on past one bad candidate.

A failure is recorded with its kind (`failure_of`): transient when another try may pass (out of
memory, a worker process killed), deterministic when it would fail again (NaN loss, a bad spec,
a shape error). Resuming a batch or a search tries transient failures again; deterministic ones
stay failed unless asked (`--retry-failed`).
"""

from __future__ import annotations

import datetime
import gc
import os
import socket
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import torch

from nas.cost import closed_form
from nas.data.proxy import ProxyData, load_proxy_data
from nas.report.provenance import device_description
from nas.space import ArchSpec
from nas.supernet.score import score_for_fidelity
from nas.train.proxy import EpochHook, ProxyResult, TrainingDiverged, build_proxy_model
from nas.train.proxy import proxy_train as _proxy_train

from .fidelity import Fidelity
from .zero_cost import score_once

RunKey = tuple[str, str, int]  # (arch_id, fidelity_id, seed)

TRANSIENT = "transient"  # out of memory, a killed worker: another try may pass
DETERMINISTIC = "deterministic"  # NaN loss, a bad spec, a shape error: it fails again


@dataclass(frozen=True)
class RunRequest:
    spec: ArchSpec  # at the target resolution (FLOPs and params are counted there)
    fidelity: Fidelity
    seed: int  # model init and batch order; the data subset is the fidelity's
    label: str = ""  # a name for reports: a preset's name, `draw 3`
    train_eval: bool = False  # also measure accuracy on training images (overfitting)

    @property
    def key(self) -> RunKey:
        return (self.spec.arch_id, self.fidelity.fidelity_id, self.seed)


@dataclass(kw_only=True)
class RunRecord:
    """One line of a run table. `status` is `ok` or `failed` (with `failure`). The fields are
    also, in this order, the columns of the table's CSV views (calibration.csv, compare.csv:
    `nas.evaluate.table.RUN_COLUMNS`), so a new field is a new column."""

    arch_id: str
    label: str = ""  # a name for reports: a preset's name, `draw 3`
    fidelity: str  # the proxy's name
    fidelity_id: str
    seed: int
    status: str
    accuracy: float | None = None  # validation top-1 after the last epoch
    train_accuracy: float | None = None
    flops: int | None = None  # at the spec's (target) resolution
    params: int | None = None
    seconds: float | None = None
    images_per_s: float | None = None
    proxy_resolution: int | None = None
    curve: list[float] = field(default_factory=list)  # accuracy after each epoch
    failure: str | None = None
    failure_kind: str | None = None  # TRANSIENT or DETERMINISTIC (`failure_of`)
    data: str = ""
    data_seed: int = 0
    device: str = ""
    host: str = ""
    finished: str = ""
    summary: str = ""
    spec: dict[str, Any] = field(default_factory=dict)  # the CSV views' last column

    @property
    def key(self) -> RunKey:
        return (self.arch_id, self.fidelity_id, self.seed)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def load_fidelity_data(
    fidelity: Fidelity, *, device: torch.device | str = "cpu", **options: object
) -> ProxyData:
    """The proxy data of `fidelity`; `options`: how to load it (`workers`, decoding
    processes; `skip_bad_images`), as `load_proxy_data` takes them."""
    p = fidelity.proxy
    return load_proxy_data(
        fidelity.data,
        train_images=p.train_images,
        val_images=p.val_images,
        seed=fidelity.data_seed,
        device=device,
        folder_size=2 * p.resolution,
        classes=fidelity.classes,
        val_split=p.val_split,
        **options,
    )


def train_once(
    spec: ArchSpec,
    *,
    fidelity: Fidelity,
    seed: int,
    data: ProxyData,
    on_epoch: EpochHook | None = None,
    train_eval: bool = False,
) -> ProxyResult:
    """Build `spec` as the proxy trains it, seeded, and train it. Raises on failure.
    A zero-cost fidelity (`proxy.score` set) scores the network instead of training it: the
    result's accuracy is the score (`nas.evaluate.zero_cost`)."""
    if fidelity.proxy.score or fidelity.proxy.supernet:
        result = _score_once(spec, fidelity=fidelity, seed=seed, data=data)
        if on_epoch is not None:  # a one-epoch run to its callers (a search's curve)
            on_epoch(1, result.accuracy)
        return result
    torch.manual_seed(seed)
    model = build_proxy_model(spec, cfg=fidelity.proxy, data=data)
    return _proxy_train(
        model,
        data,
        fidelity.proxy,
        on_epoch=on_epoch,
        seed=seed,
        train_eval_images=fidelity.proxy.val_images if train_eval else 0,
    )


def _score_once(spec: ArchSpec, *, fidelity: Fidelity, seed: int, data: ProxyData) -> ProxyResult:
    """A zero-cost score of the initialised network, or the subnet's accuracy with the weights
    a supernet gives it (the seed changes nothing there: that scoring is deterministic)."""
    if fidelity.proxy.score:
        return score_once(spec, fidelity=fidelity, seed=seed, data=data)
    start = time.perf_counter()
    acc = score_for_fidelity(
        spec, fidelity.proxy, data, data=fidelity.data, data_seed=fidelity.data_seed
    )
    seconds = time.perf_counter() - start
    return ProxyResult(
        acc,
        curve=[acc],
        seconds=seconds,
        images_per_s=fidelity.proxy.val_images / max(seconds, 1e-9),
        resolution=fidelity.proxy.resolution,
    )


def train_run(
    request: RunRequest, data: ProxyData, *, on_epoch: EpochHook | None = None
) -> RunRecord:
    """`train_once` as a record: failures are recorded with their reason, not raised."""
    record = blank_record(request, device=data.device)
    try:
        result = train_once(
            request.spec,
            fidelity=request.fidelity,
            seed=request.seed,
            data=data,
            on_epoch=on_epoch,
            train_eval=request.train_eval,
        )
    except Exception as e:  # one architecture's failure must not end the batch
        record.failure, record.failure_kind = failure_of(e)
    else:
        record.status = "ok"
        record.accuracy = result.accuracy
        record.train_accuracy = result.train_accuracy
        record.curve = [round(a, 6) for a in result.curve]
        record.seconds = round(result.seconds, 3)
        record.images_per_s = round(result.images_per_s, 1)
        record.proxy_resolution = result.resolution
    record.finished = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return record


def blank_record(
    request: RunRequest,
    *,
    device: torch.device,
    failure: str | None = None,
    failure_kind: str | None = None,
) -> RunRecord:
    """The record of `request` before training: status failed until the run succeeds."""
    spec = request.spec
    cost = cost_of(spec)
    return RunRecord(
        arch_id=spec.arch_id,
        fidelity=request.fidelity.name,
        fidelity_id=request.fidelity.fidelity_id,
        seed=request.seed,
        status="failed",
        flops=cost[0],
        params=cost[1],
        label=request.label,
        summary=spec.summary(),
        data=request.fidelity.data,
        data_seed=request.fidelity.data_seed,
        device=device_description(device),
        host=f"{socket.gethostname()}:{os.getpid()}",
        spec=spec.to_dict(),
        failure=failure,
        failure_kind=failure_kind,
    )


_COSTS: dict[str, tuple[int, int]] = {}


def cost_of(spec: ArchSpec) -> tuple[int, int]:
    """(FLOPs, params) at the spec's resolution: the closed form, fvcore where it has none."""
    if spec.arch_id not in _COSTS:
        cost = closed_form(spec, fallback=True)
        _COSTS[spec.arch_id] = (cost.flops, cost.params)
    return _COSTS[spec.arch_id]


def failure_of(e: BaseException, *, what: str = "") -> tuple[str, str]:
    """(reason, kind) of an exception a run raised; `what` names the run in the reason
    (" (seed 2)"). Out of memory frees what it can first."""
    if isinstance(e, TrainingDiverged):
        return f"NaN loss{what}: {e}", DETERMINISTIC
    if is_oom(e):
        free_memory()
        return f"out of memory{what}: {first_line(e)}", TRANSIENT
    reason = f"{type(e).__name__}{what}: {first_line(e)}"
    return reason, TRANSIENT if is_killed(e) else DETERMINISTIC


def failure_kind(failure: str | None, kind: str | None = None) -> str | None:
    """The kind of a recorded failure: as recorded, else (a record from before kinds were
    recorded) read off its reason. None when there is no failure."""
    if kind:
        return kind
    if not failure:
        return None
    text = failure.lower()
    transient = text.startswith("out of memory") or any(m in text for m in _KILLED)
    return TRANSIENT if transient else DETERMINISTIC


def is_oom(e: BaseException) -> bool:
    if isinstance(e, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(e).lower()
    return isinstance(e, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


# a process the run needs was killed: a data loader worker, a pool worker
_KILLED = ("killed by signal", "process died", "terminated abruptly")


def is_killed(e: BaseException) -> bool:
    if isinstance(e, BrokenProcessPool):
        return True
    return isinstance(e, RuntimeError) and any(m in str(e).lower() for m in _KILLED)


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__
