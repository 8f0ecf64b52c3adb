"""Tiny inputs for full-training tests: an ImageNet-layout folder, spec files, a study folder
written by hand to the nas-search output contract."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from nas.cost import measure
from nas.space import ArchSpec, save_spec
from tests.helpers import tiny_spec

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("n01440764", "n01443537", "n01484850", "n01491361")


def make_image_folder(root: Path, *, train: int = 8, val: int = 2, side: int = 32) -> Path:
    """train/<wnid>/*.JPEG and val/<wnid>/*.JPEG; each class its own mean colour."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("val", val)):
        for c, wnid in enumerate(CLASSES):
            folder = root / split / wnid
            folder.mkdir(parents=True)
            for i in range(n):
                base = np.array([60 * c, 255 - 60 * c, 128], dtype=float)
                pixels = np.clip(base + rng.normal(0, 30, (side, side, 3)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{wnid}_{i}.JPEG")
    return root


def tiny_specs() -> list[ArchSpec]:
    """Three small, different architectures that train in a second at 32 px."""
    return [
        tiny_spec("conv", width=8, depth=1),
        tiny_spec("attn", width=16, depth=1),
        tiny_spec("conv", width=24, depth=2),
    ]


def make_study(root: Path, data: str, *, proxy: list[float] | None = None) -> Path:
    """trials.csv, pareto.csv, archs/<arch_id>.yaml and run.yaml, as nas-search writes them."""
    specs = tiny_specs()
    proxy = proxy or [0.61, 0.70, 0.74]
    rows = []
    for number, (spec, acc) in enumerate(zip(specs, proxy)):
        cost = measure(spec)
        save_spec(spec, root / "archs" / f"{spec.arch_id}.yaml")
        rows.append(
            {
                "number": number,
                "state": "COMPLETE",
                "arch_id": spec.arch_id,
                "flops": cost.flops,
                "params": cost.params,
                "proxy_accuracy": acc,
                "proxy_seconds": 1.0,
                "failure": "",
                "param.width": spec.stages[0].width,
            }
        )
    rows.append(
        {
            "number": 3,
            "state": "FAIL",
            "arch_id": "0000000000",
            "flops": 1,
            "params": 1,
            "proxy_accuracy": None,
            "proxy_seconds": 0.0,
            "failure": "out of memory",
            "param.width": 0,
        }
    )
    trials = pd.DataFrame(rows)
    trials.to_csv(root / "trials.csv", index=False)
    trials[trials.state == "COMPLETE"].to_csv(root / "pareto.csv", index=False)
    (root / "run.yaml").write_text(
        yaml.safe_dump({"space": "tiny", "budget": "1MFLOPs", "data": data, "resolution": 32})
    )
    return root


def subprocess_env() -> dict[str, str]:
    """One thread per process: the test machine has two cores and other tests beside us."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def train_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nas.cli.train", *args]


FAST = (
    "--epochs",
    "1",
    "--batch-size",
    "8",
    "--workers",
    "0",
    "--lr",
    "1e-3",
    "--warmup-epochs",
    "0",
    "--device",
    "cpu",
    "--no-progress",
)
