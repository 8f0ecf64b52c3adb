"""`run_all`: train a batch of runs (architectures x fidelities x seeds) into a run table.

Resumable: keys already in the table are skipped, each finished run is appended at once, so a
killed batch loses only the runs in flight and re-running the same call finishes it. Runs go
in the order given (callers put what they need first first). With `workers > 1` they run in
that many spawned processes: on CPU each gets an equal share of the cores (several small
trainings use 2 cores better than one does), on GPUs worker k uses GPU k mod #GPUs. At most
`workers` runs are in flight, so a run that kills its process (the OOM killer, a segfault) is
known: it is tried once more in a fresh process, then recorded as failed. A killed batch takes
its workers with it (`nas._core.exit_with_parent`): none is left idle holding its data.
Batches sharing a table share its runs: each claims a run before training it (`claims`), so a
second `nas-compare` on the same folder trains what the first is not training, then waits for
the runs the first has in flight.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch
from tqdm import tqdm

from nas._core import exit_with_parent
from nas.data.proxy import ProxyData
from nas.train.device import pick_device

from . import claims as claims_module
from .claims import ClaimedQueue, Claims
from .runs import (
    TRANSIENT,
    RunKey,
    RunRecord,
    RunRequest,
    blank_record,
    load_fidelity_data,
    train_run,
)
from .table import RunTable

log = logging.getLogger(__name__)

OnRecord = Callable[[RunRecord], None]


def run_all(
    requests: Sequence[RunRequest],
    *,
    table: RunTable,
    workers: int = 1,
    device: str = "auto",
    progress: bool = True,
    label: str = "runs",
    on_record: OnRecord | None = None,
    data_options: Mapping[str, object] | None = None,
    retry_failed: bool = False,
) -> list[RunRecord]:
    """Train every request not yet in `table`; return the table's records of `requests`.
    `data_options`: how the proxy data is loaded (`skip_bad_images`, `workers`: decoding
    processes), as `load_fidelity_data` takes them. The data of a fidelity is loaded before
    its first run: an error there (a missing folder, an unreadable image) is raised, not
    recorded as a failed run, since it would fail every run alike. Failed runs in the table
    are tried again when transient (`RunTable.to_retry`), every one with `retry_failed`."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"`workers >= 1` must hold, but got workers={workers!r}")
    wanted = list({r.key: r for r in requests}.values())
    claims = Claims(table)  # first: what the table gets after this, another batch trained
    done = table.keys() - table.to_retry(retry_failed=retry_failed)
    pending = [r for r in wanted if r.key not in done]
    bar = RunProgress(
        label=label, total=len(wanted), already=len(wanted) - len(pending), enabled=progress
    )

    def finished(record: RunRecord) -> None:
        table.append(record)
        claims.release(record.key)
        bar.update(record)
        if on_record is not None:
            on_record(record)

    options = dict(data_options or {})
    try:
        if pending:
            with claims:  # beats their heartbeat; releases what is left at the end
                queue = ClaimedQueue(pending, claims, on_done_elsewhere=bar.elsewhere)
                if workers == 1:
                    cache = DataCache(pick_device(device), options)
                    _run_here(queue, cache=cache, finished=finished, bar=bar)
                else:
                    _run_in_pool(
                        queue,
                        workers=workers,
                        device=pick_device(device),
                        data_options=options,
                        finished=finished,
                        bar=bar,
                    )
    finally:
        bar.close()
    by_key = {r.key: r for r in table.records()}
    return [by_key[r.key] for r in wanted if r.key in by_key]


def _run_here(
    queue: ClaimedQueue,
    *,
    cache: DataCache,
    finished: Callable[[RunRecord], None],
    bar: RunProgress,
) -> None:
    while queue.todo:
        request = queue.take()
        if request is None:  # what is left, other batches train now
            queue.wait()
            continue
        bar.started(request)
        finished(train_run(request, cache.get(request), on_epoch=bar.epoch_hook(request)))


def _run_in_pool(
    queue: ClaimedQueue,
    *,
    workers: int,
    device: torch.device,
    data_options: dict[str, object],
    finished: Callable[[RunRecord], None],
    bar: RunProgress,
) -> None:
    deaths: Counter[RunKey] = Counter()
    while queue.todo:
        with _pool(workers, device, data_options) as pool:  # workers start on first submit
            in_flight: dict[Future, RunRequest] = {}
            broken = False
            while (queue.todo or in_flight) and not broken:
                while len(in_flight) < workers and (request := queue.take()) is not None:
                    bar.started(request)
                    in_flight[pool.submit(_task, request)] = request
                if not in_flight:  # what is left, other batches train now
                    queue.wait()
                    continue
                done, _ = wait(
                    in_flight,
                    timeout=claims_module.POLL_S if queue.todo else None,
                    return_when=FIRST_COMPLETED,
                )
                for future in done:
                    request = in_flight.pop(future)
                    try:
                        finished(RunRecord.from_dict(future.result()))
                    except BrokenProcessPool:
                        broken = True
                        in_flight[future] = request  # retried below with the others
            for request in in_flight.values():  # in flight when a worker died
                deaths[request.key] += 1
                if deaths[request.key] < 2:
                    queue.again(request)
                else:
                    finished(_died(request))


def _died(request: RunRequest) -> RunRecord:
    return blank_record(
        request,
        device=torch.device("cpu"),
        failure=("the worker process died twice while training it (out of memory?)"),
        failure_kind=TRANSIENT,
    )


def _pool(
    workers: int, device: torch.device, data_options: dict[str, object] | None = None
) -> ProcessPoolExecutor:
    ctx = multiprocessing.get_context("spawn")  # fork after OpenMP may hang the children
    if device.type == "cuda":
        gpus = torch.cuda.device_count()
        devices = [f"cuda:{k % gpus}" for k in range(workers)]
        threads = 0
    else:
        devices = ["cpu"] * workers
        threads = max(1, len(os.sched_getaffinity(0)) // workers)
    slots = ctx.Queue()
    for d in devices:
        slots.put(d)
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(slots, threads, dict(data_options or {}), os.getpid()),
    )


# --- inside a worker process ---------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(slots: Any, threads: int, data_options: dict[str, object], parent: int) -> None:
    # killed with the batch (SIGKILL, the OOM killer), not left idle holding its data; the
    # pool lives inside one run_all call, so the thread that started the worker outlives it
    exit_with_parent(parent)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if threads:
        torch.set_num_threads(threads)
    device = torch.device(slots.get())
    _WORKER.update(cache=DataCache(device, data_options), parent=parent)


def _task(request: RunRequest) -> dict[str, Any]:
    def orphan_check(epoch: int, accuracy: float) -> bool:
        if os.getppid() != _WORKER["parent"]:  # the batch was killed: stop, do not linger
            os._exit(1)
        return False

    record = train_run(request, _WORKER["cache"].get(request), on_epoch=orphan_check)
    return record.to_dict()


class DataCache:
    """The proxy data of the last fidelity used (runs are grouped by fidelity, so one copy),
    loaded with `options` (`load_fidelity_data`'s: bad images, decoding processes)."""

    def __init__(self, device: torch.device, options: Mapping[str, object] | None = None):
        self.device = device
        self.options = dict(options or {})
        self.key: str | None = None
        self.data: ProxyData | None = None

    def get(self, request: RunRequest) -> ProxyData:
        f = request.fidelity
        key = (
            f"{f.data}|{f.data_seed}|{f.classes}|{f.proxy.train_images}|{f.proxy.val_images}|"
            f"{f.proxy.resolution}"
        )
        if key != self.key:
            self.data = None  # free the old subset first
            self.data = load_fidelity_data(f, device=self.device, **self.options)
            self.key = key
        return self.data


# --- progress --------------------------------------------------------------------------------


class RunProgress:
    """A tqdm bar on a terminal; one line per finished run otherwise (logs, CI)."""

    def __init__(self, *, label: str, total: int, already: int, enabled: bool):
        self.total, self.done, self.enabled = total, already, enabled
        self.tty = enabled and sys.stderr.isatty()
        self.bar = tqdm(
            total=total,
            initial=already,
            desc=label,
            unit="run",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=not self.tty,
        )
        if enabled and already and not self.tty:
            log.info("%s: %d/%d runs already in the table", label, already, total)

    def started(self, request: RunRequest) -> None:
        if self.tty:
            self.bar.set_postfix_str(
                f"{request.fidelity.name} seed {request.seed} "
                f"{request.label or request.spec.arch_id}"
            )

    def epoch_hook(self, request: RunRequest) -> Callable[[int, float], bool]:
        def hook(epoch: int, accuracy: float) -> bool:
            if self.tty:
                self.bar.set_postfix_str(
                    f"{request.fidelity.name} seed {request.seed} "
                    f"{request.label or request.spec.arch_id} epoch "
                    f"{epoch}/{request.fidelity.proxy.epochs} "
                    f"acc {accuracy:.3f}"
                )
            return False

        return hook

    def elsewhere(self, request: RunRequest) -> None:
        """A run of the batch that another batch on the table trained meanwhile."""
        self.done += 1
        if self.tty:
            self.bar.update(1)

    def update(self, record: RunRecord) -> None:
        self.done += 1
        acc = f"acc {record.accuracy:.4f}" if record.accuracy is not None else record.failure
        line = (
            f"{record.fidelity} seed {record.seed} {record.label or record.arch_id}: {acc}"
            f" ({record.seconds or 0:.0f}s)"
        )
        if self.tty:
            self.bar.update(1)
            self.bar.write(line, file=sys.stderr)
        elif self.enabled:
            log.info("[%d/%d] %s", self.done, self.total, line)

    def close(self) -> None:
        self.bar.close()
