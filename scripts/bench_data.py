"""Benchmark the proxy data of an image folder: decoding it into the cache, and mapping it back;
writes results/benchmarks/proxy_data.csv (and proxy_data.md: command, machine, load, figures).

1. Generates once (and reuses) an ImageNet-layout folder of --images real JPEG files at 500x375,
   ImageNet's typical size, ~110 KB each like ImageNet's (gradients, blobs and noise at quality
   90), in --folder (default /tmp/nas-bench-imagenet).
2. For each stored --sizes (128: what the cpu and gpu proxies store, 64: cpu-v1), the draw of
   all the images (80% train, 20% val), through `load_proxy_data` and a read of every byte:
   - before: the decoder before the cache (one process, full JPEG decode, resize), for scale;
   - cold build with 1 and 2 processes into an empty cache folder (JPEG draft mode), the JPEG
     files in the page cache; and with 1 process after dropping the JPEG files' pages;
   - cached load: the entry mapped back, its pages in the page cache (warm) and dropped.
   Pages are dropped per file with posix_fadvise(POSIX_FADV_DONTNEED) (--drop global: all of
   the page cache through /proc/sys/vm/drop_caches, as root; it slows everyone on the machine).
   Each case runs --repeats times; the table shows the fastest run and the load average.

    python scripts/bench_data.py                                     # ~10 min on 2 busy cores
    python scripts/bench_data.py --images 600 --sizes 64 --repeats 1 # smoke, ~1 min
    python scripts/bench_data.py --real ../shared/data/imagewoof --images 5800 --stem \
        proxy_data_imagewoof                                         # real ImageNet photos

With --real PATH an existing ImageNet-layout folder is read instead of a generated one (its
train/ images; --images of them drawn, class-balanced), and --stem names the result files.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import io
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import PIL
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.data.decode import available_cores
from nas.data.proxy import load_proxy_data

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks"
WIDTH, HEIGHT, NOISE, QUALITY = 500, 375, 30, 90  # ~110 KB per JPEG
CLASSES = 100


# --- the folder ---------------------------------------------------------------------------------


def make_folder(root: Path, images: int, workers: int) -> dict:
    """train/c000..c099/<k>.JPEG, reused when a finished folder of the same size is there."""
    marker = root / "complete.json"
    if marker.is_file() and json.loads(marker.read_text()).get("images") == images:
        return json.loads(marker.read_text())
    shutil.rmtree(root, ignore_errors=True)
    tasks = [(root / "train" / f"c{k % CLASSES:03d}" / f"{k:06d}.JPEG", k) for k in range(images)]
    for c in range(min(CLASSES, images)):
        (root / "train" / f"c{c:03d}").mkdir(parents=True)
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        sizes = list(pool.map(_write_jpeg, tasks, chunksize=64))
    info = {
        "images": images,
        "mean_bytes": int(np.mean(sizes)),
        "width": WIDTH,
        "height": HEIGHT,
        "seconds": round(time.perf_counter() - started, 1),
    }
    marker.write_text(json.dumps(info))
    return info


def _write_jpeg(task: tuple[Path, int]) -> int:
    path, seed = task
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    image = np.empty((HEIGHT, WIDTH, 3), np.float32)
    for c in range(3):
        a, b = rng.uniform(-0.4, 0.4, 2)
        image[..., c] = rng.uniform(40, 200) + a * x + b * y
    blobs = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    image += np.asarray(blobs.resize((WIDTH, HEIGHT), Image.BICUBIC), np.float32) / 2 - 64
    image += rng.normal(0, NOISE, image.shape).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=QUALITY)
    path.write_bytes(buffer.getvalue())
    return len(buffer.getvalue())


# --- page cache ---------------------------------------------------------------------------------


def drop_pages(paths: list[Path], how: str) -> None:
    gc.collect()  # no live memory map of a file we drop
    if how == "global":
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


# --- the cases ----------------------------------------------------------------------------------


def timed_load(
    folder: Path, *, images: int, size: int, workers: int, cache: Path
) -> tuple[float, float]:
    """Wall and CPU seconds of load_proxy_data plus a read of every byte (a map is lazy)."""
    started, cpu = time.perf_counter(), cpu_seconds()
    data = load_proxy_data(
        f"folder:{folder}",
        train_images=images * 4 // 5,
        val_images=images - images * 4 // 5,
        folder_size=size,
        workers=workers,
        cache_dir=cache,
    )
    int(data.train_x.max()) + int(data.val_x.max())  # reads every page
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    del data
    gc.collect()
    return seconds, cpu


def decode_before(path: Path, size: int) -> np.ndarray:
    """The decoder before the cache (nas/train/proxy_data.py up to 88760ad): a full decode."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = size / min(im.size)
        w, h = max(size, round(im.width * scale)), max(size, round(im.height * scale))
        im = im.resize((w, h), Image.BILINEAR)
        left, top = (w - size) // 2, (h - size) // 2
        return np.asarray(im.crop((left, top, left + size, top + size))).transpose(2, 0, 1)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the decoding workers)."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_case(case: str, repeats: int, fn) -> dict:
    """The fastest of `repeats` runs of `fn` (-> wall and CPU seconds), with the cores it got
    (CPU seconds per wall second: on a busy machine, what bounds the scaling with processes)
    and the load average around it."""
    times, cpus, loads = [], [], []
    for _ in range(repeats):
        before = os.getloadavg()[0]
        seconds, cpu = fn()
        times.append(seconds)
        cpus.append(cpu)
        loads.append((before + os.getloadavg()[0]) / 2)
        print(
            f"  {case}: {times[-1]:.2f} s, {cpus[-1]:.2f} CPU s (load {loads[-1]:.1f})", flush=True
        )
    best = int(np.argmin(times))
    return {
        "case": case,
        "seconds": times[best],
        "cpu_seconds": round(cpus[best], 3),
        "load_avg_1min": round(loads[best], 2),
        "all_seconds": ";".join(f"{t:.2f}" for t in times),
    }


def bench_size(
    folder: Path, *, images: int, size: int, repeats: int, drop: str, work: Path
) -> list[dict]:
    files = sorted((folder / "train").rglob("*.JPEG"))
    rows = []

    def before() -> tuple[float, float]:
        started, cpu = time.perf_counter(), cpu_seconds()
        for path in files[:images]:
            decode_before(path, size)
        return time.perf_counter() - started, cpu_seconds() - cpu

    def cold(workers: int, dropped: bool = False) -> tuple[float, float]:
        cache = Path(tempfile.mkdtemp(dir=work))
        if dropped:
            drop_pages(files, drop)
        timing = timed_load(folder, images=images, size=size, workers=workers, cache=cache)
        shutil.rmtree(cache)
        return timing

    cached = work / "entry"
    timed_load(folder, images=images, size=size, workers=2, cache=cached)  # build it once
    entry = sorted(cached.rglob("*.npy"))

    def load(dropped: bool) -> tuple[float, float]:
        if dropped:
            drop_pages(entry, drop)
        else:
            timed_load(folder, images=images, size=size, workers=1, cache=cached)  # warm
        return timed_load(folder, images=images, size=size, workers=1, cache=cached)

    cases = [
        ("before: 1 process, full decode, no cache", 1, before),
        ("cold build, 1 process", 1, lambda: cold(1)),
        ("cold build, 2 processes", 2, lambda: cold(2)),
        ("cold build, 1 process, JPEG pages dropped", 1, lambda: cold(1, dropped=True)),
        ("cached load, page cache warm", 1, lambda: load(False)),
        ("cached load, pages dropped", 1, lambda: load(True)),
    ]
    for case, processes, fn in cases:
        row = run_case(case, repeats if "before" not in case else 1, fn)
        rows.append(
            {
                "size": size,
                "images": images,
                "processes": processes,
                **row,
                "images_per_s": images / row["seconds"],
            }
        )
    shutil.rmtree(cached)
    return rows


# --- the report ---------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} CPUs ({available_cores()} available), {memory:.0f} GiB; "
        f"Pillow {PIL.__version__}, numpy {np.__version__}, torch {torch.__version__}, "
        f"Python {platform.python_version()}"
    )


def real_folder(root: Path, images: int) -> dict:
    """What the report says of an existing folder: its train/ images, their mean size."""
    files = sorted((root / "train").rglob("*.JPEG"))
    if len(files) < images:
        raise SystemExit(f"{root}/train holds {len(files)} JPEG files, fewer than --images")
    sample = files[:: max(1, len(files) // 200)]
    sides = []
    for path in sample:
        with Image.open(path) as im:
            sides.append(im.size)
    return {
        "images": images,
        "in_folder": len(files),
        "mean_bytes": int(np.mean([f.stat().st_size for f in sample])),
        "width": int(np.mean([w for w, _ in sides])),
        "height": int(np.mean([h for _, h in sides])),
        "real": True,
    }


def write_report(df: pd.DataFrame, args: argparse.Namespace, info: dict, loads: tuple) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    df.to_csv(OUT / f"{args.stem}.csv", index=False)
    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=OUT
    ).stdout.strip()
    dropped = (
        "posix_fadvise(POSIX_FADV_DONTNEED) on each file (this machine's page cache "
        "is shared: /proc/sys/vm/drop_caches would drop everyone's)"
        if args.drop == "fadvise"
        else "/proc/sys/vm/drop_caches (3), as root"
    )
    lines = [
        f"# {args.stem}.csv: decoding an image folder's proxy subset, once, into the cache",
        "",
        f"- command: `python scripts/bench_data.py {shlex.join(sys.argv[1:])}`".rstrip(),
        f"- date: {datetime.date.today()}, git {sha or 'unknown'}",
        f"- machine: {machine()}",
        f"- load average (1, 5, 15 min) at start {_fmt(loads[0])}, at end {_fmt(loads[1])}"
        f"; per case in the table (mean of before and after the fastest run)",
        (
            f"- data: {info['images']} of the {info['in_folder']} training JPEGs of "
            f"{args.real} (real photos; mean about {info['width']}x{info['height']}, "
            f"{info['mean_bytes'] / 1000:.0f} KB), drawn class-balanced (80% train, 20% val)"
            if info.get("real")
            else f"- data: {info['images']} generated JPEG files, {info['width']}x"
            f"{info['height']}, mean {info['mean_bytes'] / 1000:.0f} KB, {CLASSES} classes, "
            f"in {args.folder}; the proxy draws all of them (80% train, 20% val)"
        ),
        f"- pages dropped with {dropped}",
        *([f"- note: {args.note}"] if args.note else []),
        f"- each case: the fastest of {args.repeats} runs (all runs in {args.stem}.csv); a "
        f"load is `load_proxy_data` (listing, stat of drawn files, key, map) plus a read "
        f"of every byte; cores used = CPU seconds (this process and its decoding "
        f"workers) per wall second",
        "",
    ]
    for size, part in df.groupby("size", sort=False):
        cold1 = part.loc[part.case == "cold build, 1 process", "seconds"].iloc[0]
        cold2 = part.loc[part.case == "cold build, 2 processes", "seconds"].iloc[0]
        lines += [
            f"## stored at {size} px",
            "",
            "| case | processes | seconds | images/s | x cold build (1 process) | "
            "cores used | images per CPU s | load |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in part.itertuples():
            lines.append(
                f"| {r.case} | {r.processes} | {r.seconds:.2f} | "
                f"{r.images_per_s:,.0f} | {cold1 / r.seconds:.1f} | "
                f"{r.cpu_seconds / r.seconds:.2f} | "
                f"{r.images / max(r.cpu_seconds, 1e-9):,.0f} | "
                f"{r.load_avg_1min:.1f} |"
            )
        warm = part.loc[part.case == "cached load, page cache warm", "seconds"].iloc[0]
        cold_pages = part.loc[part.case == "cached load, pages dropped", "seconds"].iloc[0]
        lines += [
            "",
            f"Cached load {cold1 / warm:.0f}x faster than the cold build with one "
            f"process (pages warm; {cold1 / cold_pages:.0f}x with pages dropped; target "
            f">= 20x); 2 processes build {cold1 / cold2:.2f}x as fast as 1.",
            "",
        ]
    (OUT / f"{args.stem}.md").write_text("\n".join(lines))


def _fmt(load: tuple) -> str:
    return ", ".join(f"{x:.2f}" for x in load)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--sizes", default="64,128", help="stored sides in px, comma-separated")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--folder", type=Path, default=Path("/tmp/nas-bench-imagenet"))
    p.add_argument("--drop", choices=("fadvise", "global"), default="fadvise")
    p.add_argument("--note", default="", help="a line for the report (conditions, caveats)")
    p.add_argument("--real", type=Path, help="an existing ImageNet-layout folder to read")
    p.add_argument("--stem", default="proxy_data", help="results/benchmarks/STEM.{csv,md}")
    args = p.parse_args()
    torch.set_num_threads(1)
    start_load = os.getloadavg()
    if args.real:
        args.folder = args.real.resolve()
        info = real_folder(args.folder, args.images)
    else:
        info = make_folder(args.folder, args.images, available_cores())
    print(f"folder: {info}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="nas-bench-data-"))
    try:
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"size {size}:", flush=True)
            rows += bench_size(
                args.folder,
                images=args.images,
                size=size,
                repeats=args.repeats,
                drop=args.drop,
                work=work,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    df = pd.DataFrame(rows)
    write_report(df, args, info, (start_load, os.getloadavg()))
    print((OUT / f"{args.stem}.md").read_text())


if __name__ == "__main__":
    main()
