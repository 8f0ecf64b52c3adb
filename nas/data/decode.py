"""Decoding image files into a uint8 array, in several processes.

Each image is decoded with PIL; a JPEG is decoded in draft mode, which lets libjpeg scale it
down by 1/2, 1/4 or 1/8 while decoding (the DCT is only partly inverted), to the smallest
scale that still covers the target size. A 500x375 JPEG bound for 64 px is then decoded at
1/4 scale, several times faster than in full. The shorter side is then resized to the stored
size (bilinear, antialiased) and the centre cropped.

Worker processes each open the output `.npy` file as a writable memory map and write their
rows into it: no pixel crosses a pipe, and the array is on disk when the last worker ends.
An image that cannot be decoded leaves its row zero and is reported with its file and reason.

The workers are `python -m nas.data.decode` processes that take chunks of files as JSON lines
on stdin and answer one line per chunk; each gets its next chunk when it answers, so a core
that other work slows down gets fewer. They import only numpy and PIL and start in a fraction
of a second: a multiprocessing pool would, with spawn, import the caller's main module (torch,
optuna...) once per worker, or, with fork, copy a process that runs torch's threads.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

CHUNK = 64  # images per task: small enough to balance the processes, large enough to be cheap
log = logging.getLogger("nas.data")


def decoder_settings() -> dict[str, Any]:
    """What the decoded pixels depend on besides the files and the size (part of the cache
    key: another PIL may decode a JPEG differently)."""
    import PIL

    return {
        "decoder": "pil",
        "pil": PIL.__version__,
        "jpeg_draft": True,
        "resize": "bilinear-antialiased",
        "crop": "center",
    }


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


def decode_files(
    paths: Sequence[str | os.PathLike], *, out: Path, size: int, workers: int
) -> list[BadImage]:
    """Decode `paths` into rows 0.. of the (N, 3, size, size) uint8 `.npy` file `out` (made by
    the caller) with `workers` processes (1: in this process). The unreadable ones, by row."""
    tasks = [(i, [str(p) for p in paths[i : i + CHUNK]]) for i in range(0, len(paths), CHUNK)]
    workers = max(1, min(workers, len(tasks)))
    if workers == 1:
        results: Iterator[tuple[int, list[BadImage]]] = (
            _decode_chunk(str(out), chunk, start, size) for start, chunk in tasks
        )
    else:
        results = _in_processes(tasks, out=out, size=size, workers=workers)
    started, done, bad, report_at = time.perf_counter(), 0, [], len(paths) // 10
    for count, chunk_bad in results:
        done += count
        bad += chunk_bad
        if report_at <= done < len(paths):  # about every tenth
            rate = done / max(time.perf_counter() - started, 1e-9)
            log.info("proxy data: decoded %d/%d images (%.0f/s)", done, len(paths), rate)
            report_at = done + len(paths) // 10
    return sorted(bad, key=lambda b: b.position)


def _in_processes(
    tasks: list[tuple[int, list[str]]], *, out: Path, size: int, workers: int
) -> Iterator[tuple[int, list[BadImage]]]:
    """Each chunk's result as a worker process answers it (see the module doc)."""
    import nas

    here = str(Path(nas.__file__).resolve().parents[1])  # the children import this `nas`
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p),
    }
    cmd = [sys.executable, "-m", "nas.data.decode", str(out), str(size)]
    procs = [
        subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        for _ in range(workers)
    ]
    queue, buffers = iter(tasks), {p.pid: b"" for p in procs}
    selector = selectors.DefaultSelector()
    try:
        for proc in procs:
            for _ in range(2):  # one to work on, one waiting: no idle gap between chunks
                _send(proc, next(queue, None))
            selector.register(proc.stdout, selectors.EVENT_READ, proc)
        while selector.get_map():
            for key, _ in selector.select():
                proc = key.data
                data = os.read(proc.stdout.fileno(), 1 << 16)
                if not data:  # the worker ended: every chunk sent to it was answered
                    selector.unregister(proc.stdout)
                    if proc.wait() != 0:
                        raise RuntimeError(
                            f"a decoding process exited with status "
                            f"{proc.returncode} (its error is above)"
                        )
                    continue
                *lines, buffers[proc.pid] = (buffers[proc.pid] + data).split(b"\n")
                for line in lines:
                    count, bad = json.loads(line)
                    yield count, [BadImage(**b) for b in bad]
                    _send(proc, next(queue, None))
    finally:
        selector.close()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None and not stream.closed:
                    stream.close()


def _send(proc: subprocess.Popen, task: tuple[int, list[str]] | None) -> None:
    """The next chunk for a worker; None: no more (its stdin closes, it ends when done)."""
    assert proc.stdin is not None
    if proc.stdin.closed:
        return
    if task is None:
        proc.stdin.close()
    else:
        proc.stdin.write(json.dumps(task).encode() + b"\n")
        proc.stdin.flush()


def _decode_chunk(out: str, paths: list[str], start: int, size: int) -> tuple[int, list[BadImage]]:
    """Decode `paths` into rows start.. of the memory-mapped file `out`."""
    from PIL import Image

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


def _serve(out: str, size: int) -> None:
    """A worker process: chunks `[start, paths]` from stdin, `[count, bad]` lines on stdout."""
    for line in sys.stdin:
        start, paths = json.loads(line)
        count, bad = _decode_chunk(out, paths, start, size)
        sys.stdout.write(json.dumps([count, [asdict(b) for b in bad]]) + "\n")  # the protocol
        sys.stdout.flush()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
