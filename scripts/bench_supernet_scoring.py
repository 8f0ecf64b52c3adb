"""What one `supernet:` scoring costs, and what scoring on fewer held-out images would buy.

For each architecture of the calibration's draw (the hybrid space within 4 GFLOPs, draw seed 0)
the subnet is extracted (its weights copied out of the supernet), its batch norms are
recalibrated when it has any (a forward pass over the recipe's `bn_images`, as `score_subnet`
does), and its forward pass over each of --images images is timed, on one thread, in the
recipe's evaluation batches. Random images of the supernet's shape stand in for the held-out
ones: the time of a forward pass does not depend on the pixels. Beside each image count: the
binomial std of a top-1 measured on that many images (at p = 0.5, the scores being 0.4-0.55),
against the spread of the supernet's published scores, and how many architectures an hour that
is against a proxy run of issue 18's 90 s target.

    python scripts/bench_supernet_scoring.py --supernet results/supernet/<its --out>

Writes results/benchmarks/supernet_scoring.{csv,md}.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas._core import write_text_atomic
from nas.search.feasible import FeasibleRegion
from nas.space import load_space
from nas.studies.draws import draw_architectures
from nas.supernet import checkpoint
from nas.train.proxy_config import SUPERNET_SIDECAR

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
STEM = "supernet_scoring"
PROXY_TARGET_S = 90  # issue 18's cost target for a CPU proxy run
SCORES = OUT / "supernet_cifar10.csv"  # the published scores: their spread


def forward_seconds(model: nn.Module, images: int, *, batch: int, shape: tuple[int, ...]) -> float:
    x = torch.randn(batch, *shape)
    with torch.no_grad():
        start = time.perf_counter()
        for first in range(0, images, batch):
            model(x[: min(batch, images - first)])
        return time.perf_counter() - start


def measure(folder: Path, *, archs: int, counts: list[int]) -> pd.DataFrame:
    supernet, state, _ = checkpoint.load(folder / "supernet.pt")
    supernet.eval()
    recipe = state.recipe
    shape = (supernet.shape.in_chans, supernet.shape.resolution, supernet.shape.resolution)
    region = FeasibleRegion(load_space("hybrid"), max_flops="4GFLOPs")
    rows = []
    for drawn in draw_architectures(region, k=archs, seed=0):
        start = time.perf_counter()
        model = supernet.extract(drawn.spec)
        extract_s = time.perf_counter() - start
        norms = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
        forward_seconds(model.eval(), 8, batch=8, shape=shape)  # warm-up, not timed
        model.train()
        bn_s = (
            forward_seconds(model, recipe.bn_images, batch=recipe.eval_batch_size, shape=shape)
            if norms
            else 0.0
        )
        model.eval()
        for n in counts:
            rows.append(
                {
                    "arch_id": drawn.spec.arch_id,
                    "label": drawn.label,
                    "images": n,
                    "extract_s": round(extract_s, 3),
                    "batch_norm_s": round(bn_s, 3),
                    "forward_s": round(
                        forward_seconds(model, n, batch=recipe.eval_batch_size, shape=shape), 3
                    ),
                }
            )
        print(f"{drawn.label}: extract {extract_s:.2f} s, batch norm {bn_s:.2f} s", flush=True)
    return pd.DataFrame(rows)


def score_spread() -> float:
    """The std over architectures of the published supernet scores (nan when absent)."""
    if not SCORES.exists():
        return math.nan
    runs = pd.read_csv(SCORES)
    mine = runs[runs["fidelity"].str.startswith("supernet:") & (runs["status"] == "ok")]
    return float(mine.groupby("arch_id")["accuracy"].mean().std())


def report(table: pd.DataFrame, *, command: str, folder: Path, load: str) -> str:
    table = table.assign(total_s=table["extract_s"] + table["batch_norm_s"] + table["forward_s"])
    spread = score_spread()
    lines = [
        "# What one supernet scoring costs",
        "",
        f"Command: `{command}`",
        "",
        f"Supernet `{folder.relative_to(ROOT)}`; {table['arch_id'].nunique()} architectures of "
        f"the calibration's draw; one thread on {platform.machine()}, "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, load average at the start "
        f"{load} (other work on the machine's 2 cores: the times are upper bounds). Means over "
        f"the architectures (an hour's count is set by the mean).",
        "",
        "| held-out images | extract s | batch norm s | forward s | total s | architectures / h "
        "| vs a 90 s proxy run | binomial std of a top-1 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, part in table.groupby("images"):
        total = part["total_s"].mean()
        lines.append(
            f"| {n:,} | {part['extract_s'].mean():.2f} | {part['batch_norm_s'].mean():.2f} "
            f"| {part['forward_s'].mean():.2f} | {total:.2f} | {3600 / total:.0f} | "
            f"{PROXY_TARGET_S / total:.0f}x | {0.5 / math.sqrt(n):.3f} |"
        )
    per_arch = table.drop_duplicates("arch_id")
    floor = per_arch["extract_s"] + per_arch["batch_norm_s"]
    norms = per_arch["batch_norm_s"] > 0
    lines += [
        "",
        f"The part no held-out count changes (extraction, and the batch-norm recalibration "
        f"on the recipe's images where a subnet has batch norm: the deep stem, "
        f"{int(norms.sum())} of {len(per_arch)} here) is {floor.mean():.2f} s on average "
        f"({floor[norms].mean():.2f} s with batch norm, {floor[~norms].mean():.2f} s without).",
        "",
        f"The binomial std is that of one top-1 on that many images at p = 0.5 (independent "
        f"errors); the architectures are scored on the same images, so a difference between "
        f"two is less noisy than that. The spread of the supernet's published scores over "
        f"architectures (std of their means, `{SCORES.name}`) is {spread:.3f}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--supernet", type=Path, required=True, help="nas-supernet train --out")
    parser.add_argument("--archs", type=int, default=16)
    parser.add_argument("--images", default="2000,500,200", help="held-out image counts")
    args = parser.parse_args()
    folder = args.supernet.resolve()
    if not (folder / SUPERNET_SIDECAR).exists():
        parser.error(f"--supernet {args.supernet}: no {SUPERNET_SIDECAR} (not a trained one)")
    torch.set_num_threads(1)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    table = measure(folder, archs=args.archs, counts=[int(x) for x in args.images.split(",")])
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / f"{STEM}.csv", index=False)
    command = shlex.join(["python", "scripts/bench_supernet_scoring.py", *sys.argv[1:]])
    text = report(table, command=command, folder=folder, load=load)
    write_text_atomic(OUT / f"{STEM}.md", text)
    print(text)


if __name__ == "__main__":
    main()
