"""The engine's pool workers end with the batch that made them: a SIGKILLed nas-compare or
nas-calibrate --workers 2 leaves no idle worker holding its data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .._core.test_orphans import alive, kill_all, wait_gone, wait_marker
from ..search.conftest import ROOT, cli_env

# A batch's pool, made by the engine's own function, with both workers started (each has
# answered a task); their pids go to a marker, then the batch waits to be killed.
_BATCH = """
import os, sys, time
import torch
from nas.evaluate.engine import _pool


def pid_after(seconds):
    time.sleep(seconds)
    return os.getpid()


if __name__ == "__main__":
    pool = _pool(2, torch.device("cpu"))
    pids = set()
    while len(pids) < 2:
        pids |= {f.result() for f in [pool.submit(pid_after, 1.0) for _ in range(2)]}
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(" ".join(map(str, sorted(pids))))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(600)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_pool_workers_end_when_the_batch_is_killed(tmp_path):
    script, marker = tmp_path / "batch.py", tmp_path / "workers.pid"
    script.write_text(_BATCH)
    env = {**cli_env(), "PYTHONPATH": str(ROOT)}
    batch = subprocess.Popen([sys.executable, str(script), str(marker)], cwd=ROOT, env=env)
    try:
        workers = [int(p) for p in wait_marker(marker, batch).split()]
    except BaseException:
        batch.kill()
        raise
    try:
        assert len(workers) == 2 and all(alive(p) for p in workers)
        assert batch.pid not in workers and os.getpid() not in workers
        batch.kill()  # SIGKILL: no cleanup runs in the batch
        batch.wait()
        assert wait_gone(workers) == []
    finally:
        kill_all(workers)
