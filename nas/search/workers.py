"""`--workers N`: N processes of one search on this machine, sharing its storage.

The calling process is worker 0 (it shows progress and writes the final reports); workers
1..N-1 are `python -m nas.search.worker` processes that get the resolved configuration on
stdin (so a storage password never lands on a command line or on disk) and log to
`<out>/logs/worker-<k>.log`. With several GPUs, worker k sees only GPU k mod #GPUs. A worker
ends with the process that started it (`nas._core.exit_with_parent`): a killed search leaves
none running on, and a re-run does not start a second set beside them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import torch

from .config import SearchConfig

log = logging.getLogger(__name__)


def share_the_cores(cfg: SearchConfig, device: torch.device) -> None:
    """On CPU, give this process its share of the cores: several single-threaded trainings
    use them better than one multi-threaded one (a small network's ops scale poorly)."""
    if device.type == "cpu" and cfg.workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // cfg.workers))


def start_workers(cfg: SearchConfig, *, device: torch.device) -> list[subprocess.Popen]:
    logs = Path(cfg.out) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    procs = []
    for k in range(1, cfg.workers):
        env = dict(os.environ)
        if gpus > 1:
            env["CUDA_VISIBLE_DEVICES"] = str(k % gpus)
        with open(logs / f"worker-{k}.log", "ab") as worker_log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "nas.search.worker", str(k), str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=os.getcwd(),
            )
        proc.stdin.write(json.dumps(cfg.to_dict()).encode())
        proc.stdin.close()
        procs.append(proc)
    return procs


def wait_workers(procs: list[subprocess.Popen]) -> None:
    for k, proc in enumerate(procs, 1):
        code = proc.wait()
        if code != 0:
            log.warning(
                "nas-search: worker %d exited with status %d; see its log in logs/worker-%d.log",
                k,
                code,
                k,
            )
