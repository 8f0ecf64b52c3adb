"""One exclusive lock per file, between processes: the writers of a results folder, the
builders of a cache entry and the appenders of a run table take turns under it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock


@contextmanager
def locked(
    lock_path: str | os.PathLike, *, on_wait: Callable[[], object] | None = None
) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` (created if missing; `flock` on POSIX, the
    platform's own lock elsewhere, through `filelock`) for the block; released when the block
    ends or the process dies. Not re-entrant: a second `locked` of the same path, even in the
    process holding it, waits. `on_wait` is called once when another holder has it (so a
    waiting process can say why it waits)."""
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        if on_wait is not None:
            on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
