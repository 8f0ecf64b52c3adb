"""Helper processes end soon after their parent is killed, with the kernel's signal (Linux)
and with the portable fallback thread alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The middle process starts a helper that calls exit_with_parent, writes the helper's pid to
# a marker once the helper says it is watching, then waits to be killed.
_MIDDLE = """
import subprocess, sys, time
marker, kernel = sys.argv[1], sys.argv[2]
helper = subprocess.Popen([sys.executable, "-c", '''
import os, sys, time
from nas._core import exit_with_parent
exit_with_parent(os.getppid(), kernel=sys.argv[1] == "1", poll_s=0.1)
print("watching", flush=True)
time.sleep(600)
''', kernel], stdout=subprocess.PIPE, text=True)
assert helper.stdout.readline() == "watching\\n"
with open(marker + ".tmp", "w") as f:
    f.write(str(helper.pid))
import os
os.replace(marker + ".tmp", marker)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Running, not a zombie nobody reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pids: list[int], seconds: float = 20.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def wait_marker(marker: Path, proc: subprocess.Popen, seconds: float = 240.0) -> str:
    deadline = time.monotonic() + seconds
    while not marker.exists():
        assert proc.poll() is None, "the process under test ended early"
        assert time.monotonic() < deadline, "no marker"
        time.sleep(0.05)
    return marker.read_text()


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("kernel", ["1", "0"], ids=["prctl", "polling-thread"])
def test_a_helper_ends_when_its_parent_is_killed(tmp_path, kernel):
    marker = tmp_path / "helper.pid"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    middle = subprocess.Popen(
        [sys.executable, "-c", _MIDDLE, str(marker), kernel], cwd=ROOT, env=env
    )
    helper = int(wait_marker(marker, middle, 60))
    try:
        assert alive(helper)
        middle.kill()
        middle.wait()
        assert wait_gone([helper]) == []
    finally:
        kill_all([helper])
