"""Measured latency of a candidate at the target resolution (the `latency` objective)."""

from __future__ import annotations

import statistics
import time

import torch

from nas.models import NasNet
from nas.space import ArchSpec
from nas.train.device import autocast, memory_format


@torch.no_grad()
def measure_latency(
    spec: ArchSpec, *, device: torch.device, batch_size: int = 1, warmup: int = 2, repeats: int = 5
) -> float:
    """Median milliseconds of one forward pass (eval mode; bf16 + channels_last on GPU)."""
    fmt = memory_format(device)
    model = NasNet(spec).eval().to(device=device, memory_format=fmt)
    x = torch.randn(
        batch_size, spec.in_chans, spec.resolution, spec.resolution, device=device
    ).contiguous(memory_format=fmt)
    times = []
    for i in range(warmup + repeats):
        _sync(device)
        start = time.perf_counter()
        with autocast(device):
            model(x)
        _sync(device)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return round(statistics.median(times), 3)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
