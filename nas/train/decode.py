"""Decoding image files into a uint8 array, in several processes.

Each image is decoded with PIL; a JPEG is decoded in draft mode, which lets libjpeg scale it
down by 1/2, 1/4 or 1/8 while decoding (the DCT is only partly inverted), to the smallest
scale that still covers the target size. A 500x375 JPEG bound for 64 px is then decoded at
1/4 scale, several times faster than in full. The shorter side is then resized to the stored
size (bilinear, antialiased) and the centre cropped.

Worker processes each open the output `.npy` file as a writable memory map and write their
rows into it: no pixel crosses a pipe, and the array is on disk when the last worker ends.
An image that cannot be decoded leaves its row zero and is reported with its file and reason.

Torch-free: the worker processes import only numpy and PIL, and start in a fraction of a
second.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CHUNK = 64  # images per task: small enough to balance the processes, large enough to be cheap
log = logging.getLogger("nas.data")


def decoder_settings() -> dict[str, Any]:
    """What the decoded pixels depend on besides the files and the size (part of the cache
    key: another PIL may decode a JPEG differently)."""
    import PIL

    return {"decoder": "pil", "pil": PIL.__version__, "jpeg_draft": True,
            "resize": "bilinear-antialiased", "crop": "center"}


def available_cores() -> int:
    """The cores this process may run on (its affinity mask: a container's or a batch job's
    share, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class BadImage:
    position: int  # row of the array
    path: str
    reason: str


def decode_image(path: str | os.PathLike, size: int) -> np.ndarray:
    """RGB uint8 (size, size, 3): shorter side resized to `size`, centre crop."""
    from PIL import Image

    with Image.open(path) as im:
        scale = size / min(im.size)
        w, h = max(size, round(im.width * scale)), max(size, round(im.height * scale))
        im.draft("RGB", (w, h))  # JPEG only: decode at the smallest 1/2^k scale >= (w, h)
        rgb = im.convert("RGB")
    if rgb.size != (w, h):
        rgb = rgb.resize((w, h), Image.BILINEAR)
    left, top = (w - size) // 2, (h - size) // 2
    return np.asarray(rgb.crop((left, top, left + size, top + size)))


def decode_files(paths: Sequence[str | os.PathLike], *, out: Path, size: int,
                 workers: int) -> list[BadImage]:
    """Decode `paths` into rows 0.. of the (N, 3, size, size) uint8 `.npy` file `out` (made by
    the caller) with `workers` processes (1: in this process). The unreadable ones, by row."""
    tasks = [(str(out), [str(p) for p in paths[i:i + CHUNK]], i, size)
             for i in range(0, len(paths), CHUNK)]
    workers = max(1, min(workers, len(tasks)))
    started, done, bad, report_at = time.perf_counter(), 0, [], len(paths) // 10
    if workers == 1:
        results: Any = map(_decode_chunk, tasks)
        pool = None
    else:  # spawn: no fork of a process that runs torch's threads
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        results = pool.map(_decode_chunk, tasks)
    try:
        for count, chunk_bad in results:
            done += count
            bad += chunk_bad
            if report_at <= done < len(paths):  # about every tenth
                rate = done / max(time.perf_counter() - started, 1e-9)
                log.info("proxy data: decoded %d/%d images (%.0f/s)", done, len(paths), rate)
                report_at = done + len(paths) // 10
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return bad


def _decode_chunk(task: tuple[str, list[str], int, int]) -> tuple[int, list[BadImage]]:
    """One worker task: decode `paths` into rows start.. of the memory-mapped file."""
    from PIL import Image

    out, paths, start, size = task
    array = np.load(out, mmap_mode="r+")
    bad = []
    for i, path in enumerate(paths):
        try:
            array[start + i] = decode_image(path, size).transpose(2, 0, 1)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            bad.append(BadImage(start + i, path, _reason(e)))
    array.flush()
    return len(paths), bad


def _reason(e: BaseException) -> str:
    text = str(e).split("\n")[0]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
