"""What a run will cost before it is trained: a few timed training steps of the network as
the proxy builds it (widths scaled, at its resolution), scaled to the proxy's images, epochs
and validation passes. `--dry-run` of nas-search, nas-calibrate and nas-compare use it."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from nas.models import NasNet
from nas.space import ArchSpec
from nas.train.device import autocast, memory_format
from nas.train.proxy import proxy_spec
from nas.train.proxy_config import ProxyConfig

EVAL_SHARE = 1 / 3  # a validation image costs about a third of a training image (no backward)


def run_seconds(
    spec: ArchSpec, proxy: ProxyConfig, *, device: torch.device, steps: int = 3
) -> float:
    """Estimated wall seconds of one proxy run of `spec` (training and every validation); of
    a zero-cost fidelity, its score's passes over the batch (`nas.evaluate.zero_cost`)."""
    per_image = train_seconds_per_image(spec, proxy, device=device, steps=steps)
    if proxy.score:
        from .zero_cost import SCORES

        return per_image * proxy.train_images * SCORES[proxy.score].passes
    if proxy.supernet:  # forward passes only: the held-out images (and a batch-norm pass)
        return per_image * EVAL_SHARE * 2 * proxy.val_images
    passes = 2 if proxy.tta_flip else 1  # flip TTA judges each image and its mirror
    images = proxy.epochs * (
        min(proxy.train_images, proxy.steps_per_epoch * proxy.batch_size)
        + EVAL_SHARE * passes * proxy.val_images
    )
    return per_image * images


def train_seconds_per_image(
    spec: ArchSpec, proxy: ProxyConfig, *, device: torch.device, steps: int = 3
) -> float:
    trained = proxy_spec(spec, cfg=proxy, num_classes=10)
    size, fmt = trained.resolution, memory_format(device)
    model = NasNet(trained).to(device, memory_format=fmt)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(proxy.batch_size, spec.in_chans, size, size, device=device)
    y = torch.randint(0, 10, (proxy.batch_size,), device=device)
    for i in range(steps + 1):  # the first step warms up (allocations, kernels)
        if i == 1:
            _sync(device)
            start = time.perf_counter()
        with autocast(device):
            loss = F.cross_entropy(model(x.contiguous(memory_format=fmt)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _sync(device)
    return (time.perf_counter() - start) / (steps * proxy.batch_size)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
