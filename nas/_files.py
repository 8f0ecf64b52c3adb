"""A lock file shared by processes that rewrite the same files (several search workers writing
one study's reports, several runs appending to one full_training.csv).

POSIX `flock` on `<lock_path>`: exclusive, released when the block ends or the process dies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def locked(lock_path: str | Path, *, on_wait: Callable[[], object] | None = None
           ) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` (created if missing) for the block; `on_wait` is
    called once when another process holds it (so a waiting process can say why it waits)."""
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as f:
        try:
            import fcntl
        except ImportError:  # not POSIX: writers then take turns only by convention
            yield
            return
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
