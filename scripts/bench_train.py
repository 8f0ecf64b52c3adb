"""Full-recipe training throughput and model-FLOP utilisation (MFU) on this machine.

    python scripts/bench_train.py --arch spach_ms_xs_patch4_224_hybrid --batch-size 128
    python scripts/bench_train.py --arch ... --data imagenet:/data/in1k --workers 16

Times whole training updates (AdamW, Mixup/CutMix, soft-target loss, EMA, bf16 autocast and
channels_last on GPU: the nas-train loop's own step) on batches already on the device, so the
number is the model's, not the input pipeline's. With --data it also times the input pipeline
(decode + RandAugment + erasing in --workers processes) to show whether training would be
data-bound. MFU = 6 x fvcore FLOPs (multiply-adds) per image x images/s / the device's dense
bf16 peak: 2 FLOPs per multiply-add, backward twice the forward. Appends a row, with the
command, to results/benchmarks/train_throughput.csv.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nas.cost import measure  # noqa: E402
from nas.data import DataSource  # noqa: E402
from nas.data.datasets import TensorImages  # noqa: E402
from nas.models import resolve_spec  # noqa: E402
from nas.report.provenance import git_sha  # noqa: E402
from nas.train import distributed  # noqa: E402
from nas.train.full import FullTrainer, RunConfig  # noqa: E402
from nas.train.imagenet import ImageData, load_image_data, train_loader  # noqa: E402
from nas.train.recipe import Recipe, eval_transform  # noqa: E402

OUT = REPO / "results" / "benchmarks" / "train_throughput.csv"
# dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets, by device-name substring
PEAK_BF16 = {
    "H200": 989e12,
    "H100 80GB HBM3": 989e12,
    "H100 PCIe": 756e12,
    "H100 NVL": 835e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def synthetic(resolution: int, n: int) -> ImageData:
    images = torch.randint(0, 256, (n, 3, resolution, resolution), dtype=torch.uint8)
    ds = TensorImages(images, torch.arange(n) % 1000, eval_transform(Recipe(), resolution))
    return ImageData(ds, ds, [str(i) for i in range(1000)], DataSource.parse("folder:synthetic"))


def time_steps(trainer: FullTrainer, *, steps: int, warmup: int) -> float:
    """Images per second over `steps` updates after `warmup` untimed ones."""
    b, r, dev = trainer.recipe.batch_size, trainer.spec.resolution, trainer.ctx.device
    x = torch.randn(b, 3, r, r, device=dev)
    y = torch.randint(0, trainer.data.num_classes, (b,), device=dev)
    for i in range(warmup + steps):
        if i == warmup:
            _sync(dev)
            t0 = time.perf_counter()
        trainer.train_step(x, y)
    _sync(dev)
    return b * steps / (time.perf_counter() - t0)


def time_loader(data: ImageData, *, recipe: Recipe, workers: int, batches: int) -> float:
    loader = train_loader(
        data, ctx=distributed.setup("cpu"), recipe=recipe, workers=workers, seed=0, epoch=0
    )
    it = iter(loader)
    next(it)  # workers started
    t0, n = time.perf_counter(), 0
    for _, (x, _) in zip(range(batches), it):
        n += len(x)
    return n / (time.perf_counter() - t0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="spach_ms_xs_patch4_224_hybrid")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--resolution", type=int)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--device", default="auto")
    p.add_argument("--data", help="also time the input pipeline on this data")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)

    spec = resolve_spec(args.arch)
    resolution = args.resolution or spec.resolution
    ctx = distributed.setup(args.device)
    recipe = Recipe(batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(run_dir=Path(tmp), resolution=resolution, workers=0, progress=False)
        trainer = FullTrainer(
            spec,
            recipe=recipe,
            config=config,
            ctx=ctx,
            data=synthetic(resolution, args.batch_size),
        )
        images_per_s = time_steps(trainer, steps=args.steps, warmup=args.warmup)
    flops = measure(trainer.spec).flops
    peak = peak_flops(ctx.device)
    mfu = 6 * flops * images_per_s / peak if peak else None
    loader_rate = None
    if args.data:
        data = load_image_data(DataSource.parse(args.data), resolution=resolution, recipe=recipe)
        loader_rate = time_loader(data, recipe=recipe, workers=args.workers, batches=args.steps)
    row = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python scripts/bench_train.py " + shlex.join(argv or sys.argv[1:]),
        "device": ctx.describe(),
        "arch": args.arch,
        "arch_id": spec.arch_id,
        "resolution": resolution,
        "batch_size": args.batch_size,
        "precision": str(trainer.dtype).replace("torch.", ""),
        "params": trainer.params,
        "gflops": round(flops / 1e9, 3),
        "step_images_per_s": round(images_per_s, 1),
        "mfu": round(mfu, 4) if mfu is not None else "",
        "loader_images_per_s": round(loader_rate, 1) if loader_rate else "",
        "workers": args.workers if args.data else "",
        "git_sha": git_sha(),
    }
    new = not args.out.is_file()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row), lineterminator="\n")
        if new:
            w.writeheader()
        w.writerow(row)
    print(", ".join(f"{k} {v}" for k, v in row.items() if k != "command"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
