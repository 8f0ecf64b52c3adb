"""The lock between processes: two holders never overlap, a waiter says why it waits."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from nas._core import locked

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys, time
from nas._core import locked
lock, log, name = sys.argv[1:]
with locked(lock):
    with open(log, "a") as f:
        f.write(name + " in\\n"); f.flush()
    time.sleep(0.3)
    with open(log, "a") as f:
        f.write(name + " out\\n"); f.flush()
"""


def test_two_processes_take_turns(tmp_path):
    lock, log = tmp_path / "sub" / ".reports.lock", tmp_path / "log.txt"
    procs = [
        subprocess.Popen([sys.executable, "-c", HOLDER, str(lock), str(log), name], cwd=ROOT)
        for name in ("a", "b")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    lines = log.read_text().splitlines()
    assert sorted(lines) == ["a in", "a out", "b in", "b out"]
    first = lines[0].split()[0]
    assert lines[1] == f"{first} out"  # the second entered only after the first left


def test_a_waiter_is_told_once_and_gets_the_lock_when_it_is_released(tmp_path):
    lock = tmp_path / "x.lock"
    ready, release = tmp_path / "ready", tmp_path / "release"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib\nfrom nas._core import locked\n"
            "with locked(sys.argv[1]):\n"
            "    pathlib.Path(sys.argv[2]).touch()\n"
            "    while not pathlib.Path(sys.argv[3]).exists(): time.sleep(0.02)\n",
            str(lock),
            str(ready),
            str(release),
        ],
        cwd=ROOT,
    )
    try:
        while not ready.exists():
            assert holder.poll() is None
            time.sleep(0.01)
        waits = []

        def on_wait() -> None:
            waits.append(1)
            release.touch()  # the holder lets go once we say we wait

        with locked(lock, on_wait=on_wait):
            assert waits == [1]
    finally:
        release.touch()
        holder.wait(timeout=60)
    waits.clear()
    with locked(lock, on_wait=lambda: waits.append(1)):
        pass  # free: no waiting
    assert waits == []
