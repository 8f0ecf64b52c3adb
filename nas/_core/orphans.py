"""Helper processes that end when the process they work for dies.

A pool worker whose parent is killed (SIGKILL, the OOM killer) is not told: idle, it waits on
its task queue forever and keeps its data (gigabytes of proxy images) in memory.
`exit_with_parent`, called first thing in such a worker, ends it soon after its parent."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_S = 1.0  # s between checks of the fallback thread


def exit_with_parent(parent: int, *, kernel: bool = True, poll_s: float = POLL_S) -> None:
    """End this process when process `parent` (its parent when it started) dies.

    On Linux the kernel sends SIGKILL at once (`prctl(PR_SET_PDEATHSIG)`; it fires when the
    *thread* that started this process ends, so start workers from a thread that outlives
    them, as a pool used inside one call does). Everywhere, and as a second line, a daemon
    thread polls `os.getppid()` and exits once it is no longer `parent` (the orphan was
    adopted by init or a subreaper). `kernel=False` leaves out the first."""
    if kernel and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
        except (OSError, AttributeError):
            pass  # no libc prctl: the thread below still watches
    if os.getppid() != parent:  # the parent died before the watch was set
        os._exit(1)
    threading.Thread(
        target=_watch, args=(parent, poll_s), name="nas-exit-with-parent", daemon=True
    ).start()


def _watch(parent: int, poll_s: float) -> None:
    while os.getppid() == parent:
        time.sleep(poll_s)
    os._exit(1)  # no cleanup: the work it did belonged to the dead parent
