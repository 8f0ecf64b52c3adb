"""The proxy-data cache: arrays built once, then memory-mapped by every later run and process.

Decoding the proxy's subset of an ImageNet folder costs minutes of CPU; a search pays it once.
Each entry is `<key>.npy` (a uint8 array numpy memory-maps) and `<key>.json` (its index: what
it holds, how it was built, images left out), in `$NAS_CACHE_DIR/proxy-data/` (default
`~/.cache/nas/proxy-data/`, or `$XDG_CACHE_HOME/nas/proxy-data/`). The key is a hash of a
document that names everything the bytes depend on (the caller's: source, the drawn files
with their size and mtime, the decoder and its settings, stored size, drawn indices), so a
changed input is a different key and a stale entry is never read; it is only left to be
cleared (`nas-data cache list|clear`).

Nothing is lost or half-read on interruption: the array is written to a temp file and renamed,
then the index is written (atomically) last, so an entry without its index does not exist.
A process building an entry holds `<key>.lock` (flock): a second process asking for the same
entry waits, then maps what the first built. Memory maps of one file share the page cache, so
`--workers N` processes hold one copy of the data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas._core import locked, write_text_atomic
from nas.space import ConfigError

CACHE_ENV = "NAS_CACHE_DIR"
SUBFOLDER = "proxy-data"
FORMAT_VERSION = 1  # of the entries' layout; part of every key
STAT_THREADS = 16  # stat() calls in flight: a network disk answers them in parallel

log = logging.getLogger("nas.data")


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """Where entries live: `root` if given, else `$NAS_CACHE_DIR/proxy-data`, else
    `$XDG_CACHE_HOME/nas/proxy-data` or `~/.cache/nas/proxy-data`."""
    if root is not None:
        return Path(root)
    env = os.environ.get(CACHE_ENV)
    base = (
        Path(env)
        if env
        else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nas"
    )
    return base.expanduser() / SUBFOLDER


def cache_key(doc: dict[str, Any]) -> str:
    """A short stable hash of `doc` (JSON with sorted keys)."""
    text = json.dumps({"format": FORMAT_VERSION, **doc}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def file_stats(paths: Sequence[str | os.PathLike], *, root: str | os.PathLike) -> list[list[Any]]:
    """[name relative to `root`, size, mtime in ns] of each path, sorted by name: what the key
    of an entry built from these files holds, so a changed file changes the key. Only these
    files are stat()ed, by a few threads (a network disk answers them in parallel)."""
    paths = [os.fspath(p) for p in paths]
    prefix = os.path.join(os.fspath(root), "")
    if not all(p.startswith(prefix) for p in paths):
        raise ValueError(f"every path must lie under {prefix}")
    threads = max(1, min(STAT_THREADS, len(paths) // 256))
    slices = [paths[k::threads] for k in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        stats = [st for part in pool.map(_stat_all, slices) for st in part]
    names = [p[len(prefix) :] for part in slices for p in part]
    return sorted([name, st.st_size, st.st_mtime_ns] for name, st in zip(names, stats))


def _stat_all(paths: list[str]) -> list[os.stat_result]:
    return [_stat(p) for p in paths]


def _stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", source=path) from None


@dataclass(frozen=True)
class CachedArray:
    array: np.ndarray  # memory-mapped, copy-on-write: writes stay in this process
    index: dict[str, Any]
    path: Path  # the .npy file
    built: bool  # this call built it (False: it was there, or another process built it)


def cached_array(
    doc: dict[str, Any],
    *,
    build: Callable[[Path], dict[str, Any]],
    describe: dict[str, Any],
    shape: tuple[int, ...] | None = None,
    dtype: Any = np.uint8,
    root: str | os.PathLike | None = None,
) -> CachedArray:
    """The array that `doc` names: mapped from the cache, or made by `build(tmp_path)`, which
    writes it as a `.npy` file at `tmp_path` (itself or by processes that open that file) and
    returns extra index fields. `shape` and `dtype`, when known in advance, are checked on
    reading and the free space before building. `describe`: what `nas-data cache list` shows."""
    folder = cache_root(root)
    key = cache_key(doc)
    hit = _open(folder, key, shape, dtype)
    if hit is not None:
        return hit
    _make_folder(folder)
    with locked(
        folder / f"{key}.lock",
        on_wait=lambda: log.info("proxy data: waiting for another process building cache %s", key),
    ):
        hit = _open(folder, key, shape, dtype)  # built by the process we waited for
        if hit is not None:
            return hit
        started = time.perf_counter()
        extra = _build(folder, key, shape, dtype, build)
        index = {
            "version": FORMAT_VERSION,
            "key": key,
            "created": time.time(),
            "build_seconds": round(time.perf_counter() - started, 3),
            **describe,
            **extra,
        }
        write_text_atomic(folder / f"{key}.json", json.dumps(index, indent=1) + "\n")
    hit = _open(folder, key, shape, dtype)
    if hit is None:  # pragma: no cover - removed between writing and reading
        raise ConfigError(
            "the cache entry just written cannot be read back", source=str(folder / f"{key}.npy")
        )
    return CachedArray(hit.array, hit.index, hit.path, built=True)


def _open(folder: Path, key: str, shape: tuple[int, ...] | None, dtype: Any) -> CachedArray | None:
    meta, npy = folder / f"{key}.json", folder / f"{key}.npy"
    try:
        index = json.loads(meta.read_text())
        array = np.load(npy, mmap_mode="c")
    except (OSError, ValueError):  # absent, or damaged by hand: rebuilt under the lock
        return None
    if (
        index.get("version") != FORMAT_VERSION
        or array.dtype != np.dtype(dtype)
        or (shape is not None and tuple(array.shape) != tuple(shape))
    ):
        return None
    try:
        os.utime(meta)  # last use, for `nas-data cache clear --older-than`
    except OSError:
        pass
    return CachedArray(array, index, npy, built=False)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot create the proxy-data cache folder ({e.strerror}); set "
            f"{CACHE_ENV} to a writable folder",
            source=str(folder),
        ) from None


def _build(
    folder: Path,
    key: str,
    shape: tuple[int, ...] | None,
    dtype: Any,
    build: Callable[[Path], dict[str, Any]],
) -> dict[str, Any]:
    for stale in folder.glob(f".{key}.*.tmp.npy"):  # left by a killed builder; we hold the lock
        stale.unlink(missing_ok=True)
    need = int(np.prod(shape)) * np.dtype(dtype).itemsize if shape is not None else 0
    free = shutil.disk_usage(folder).free
    if need > free:
        raise ConfigError(
            f"the proxy data needs {need / 1e9:.2f} GB of cache but "
            f"{free / 1e9:.2f} GB are free; free some (nas-data cache clear) or "
            f"set {CACHE_ENV} to a larger disk",
            source=str(folder),
        )
    tmp = folder / f".{key}.{os.getpid()}.tmp.npy"  # ends in .npy: np.save adds none
    try:
        extra = build(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, folder / f"{key}.npy")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return extra


# --- nas-data cache list | clear ---------------------------------------------------------------


@dataclass(frozen=True)
class CacheEntry:
    key: str
    files: tuple[Path, ...]  # everything of this entry on disk (array, index, temp files)
    index: dict[str, Any] | None  # None: incomplete (a build in progress or killed)
    bytes: int
    last_used: float  # seconds since the epoch

    @property
    def complete(self) -> bool:
        return self.index is not None


def list_entries(root: str | os.PathLike | None = None) -> list[CacheEntry]:
    """Every entry of the cache folder, the most recently used first."""
    folder = cache_root(root)
    if not folder.is_dir():
        return []
    files: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        key = path.name.lstrip(".").split(".")[0]
        if path.suffix != ".lock" and len(key) == 20:
            files.setdefault(key, []).append(path)
    return sorted(
        (_entry(folder, key, paths) for key, paths in files.items()), key=lambda e: -e.last_used
    )


def _entry(folder: Path, key: str, paths: list[Path]) -> CacheEntry:
    try:
        index = json.loads((folder / f"{key}.json").read_text())
    except (OSError, ValueError):
        index = None
    stats = [p.stat() for p in paths if p.exists()]
    return CacheEntry(
        key,
        tuple(paths),
        index,
        sum(s.st_size for s in stats),
        max((s.st_mtime for s in stats), default=0.0),
    )


def remove_entry(entry: CacheEntry, *, root: str | os.PathLike | None = None) -> None:
    """Remove an entry, waiting for a process building it to finish. A process that maps it
    keeps reading it (POSIX keeps a removed file until the last map closes)."""
    folder = cache_root(root)
    lock = folder / f"{entry.key}.lock"
    with locked(lock, on_wait=lambda: log.info("waiting for a build of %s to finish", entry.key)):
        for path in entry.files:
            path.unlink(missing_ok=True)
        # Removing the lock file while holding it may let two later builders of this key
        # lock different files; both then write the same bytes and rename them into place.
        lock.unlink(missing_ok=True)
