"""`nas-search --dry-run`: how much of the space fits the budget and what the run would cost.

`fit_report` answers the first question (the seam for an exact count), `time_estimate` the
second; nothing is trained and no study is created.
"""

from __future__ import annotations

import math
import sys
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from nas.cost import format_amount
from nas.models import NasNet
from nas.space import ArchSpec, SearchSpace, load_space
from nas.train.device import autocast, memory_format, pick_device
from nas.train.proxy import ProxyConfig, proxy_resolution

from .config import SearchConfig
from .estimate import FitEstimate, cheapest_architecture, estimate_fit

SAMPLES = 64  # architectures measured for the Monte-Carlo share (fvcore: ~0.3s each at 224px)


def dry_run(cfg: SearchConfig, *, samples: int | None = None, progress: bool = True) -> str:
    samples = samples or SAMPLES
    space = load_space(cfg.space)
    lines, est, feasible = fit_report(space, cfg, samples=samples, progress=progress)
    if est is not None and feasible:
        lines += time_estimate(cfg, est, feasible)
    return "\n".join(lines)


def fit_report(space: SearchSpace, cfg: SearchConfig, *, samples: int, progress: bool
               ) -> tuple[list[str], FitEstimate | None, list[ArchSpec]]:
    """Space size, the cheapest architecture found, and a Monte-Carlo share within budget."""
    size = space.size()
    lines = [f"space {space.name}: {size} architectures"
             + ("" if size.exact else " (bound: product of the choices' sizes)"),
             f"budget: {format_amount(cfg.max_flops)} at {cfg.resolution}px"
             + (f", {format_amount(cfg.max_params, '')} params" if cfg.max_params else "")]
    cheapest = cheapest_architecture(space, resolution=cfg.resolution, max_flops=cfg.max_flops,
                                     max_params=cfg.max_params)
    lines.append(f"cheapest found: {format_amount(cheapest.flops)}, "
                 f"{format_amount(cheapest.params, '')} params ({cheapest.spec.summary()})")
    if cheapest.flops > cfg.max_flops or (cfg.max_params and cheapest.params > cfg.max_params):
        lines.append("no architecture found fits the budget: a search would stop with an error")
        return lines, None, []

    bar = tqdm(total=samples, desc="measuring samples", file=sys.stderr,
               disable=not (progress and sys.stderr.isatty()), leave=False)
    feasible: list[ArchSpec] = []
    est = estimate_fit(space, resolution=cfg.resolution, max_flops=cfg.max_flops,
                       max_params=cfg.max_params, samples=samples, seed=cfg.seed,
                       progress=lambda i: bar.update(1), keep=feasible)
    bar.close()
    lo, hi = est.interval()
    fits = f"{est.fitting} of {est.samples} uniform samples fit ({est.share:.0%}, 95% CI " \
           f"{lo:.0%}-{hi:.0%})"
    if not math.isinf(size.count):
        fits += f": about {est.share * size.count:,.0f} architectures" + (
            "" if size.exact else " (of the bound)")
    lines.append(fits)
    return lines, est, feasible


def time_estimate(cfg: SearchConfig, est: FitEstimate, feasible: list[ArchSpec]) -> list[str]:
    """Seconds per trained candidate, from a few timed training steps of fitting samples."""
    device = pick_device(cfg.device)
    per_train = [_train_seconds(spec, cfg.proxy, device) for spec in feasible[:3]]
    train = sum(per_train) / len(per_train)
    proposals = 1 / max(est.share, 1e-9)  # proposals per candidate that fits
    per_candidate = train + proposals * est.seconds_per_measure
    total = cfg.trials * per_candidate
    lines = [f"proxy {cfg.proxy.name}: about {train:.0f}s of training per candidate, "
             f"{proposals:.1f} proposals measured per candidate ({est.seconds_per_measure:.2f}s "
             f"each)",
             f"run: {cfg.trials} candidates x {per_candidate:.0f}s = about {total / 60:.1f} min "
             f"with {cfg.workers} worker(s)"]
    if cfg.timeout is not None and total / cfg.workers > cfg.timeout:
        lines.append(f"--timeout {cfg.timeout / 60:.1f} min stops it first, after about "
                     f"{int(cfg.timeout * cfg.workers / per_candidate)} candidates (re-run to "
                     f"continue)")
    return lines


def _train_seconds(spec: ArchSpec, proxy: ProxyConfig, device: torch.device,
                   steps: int = 3) -> float:
    size = proxy_resolution(spec, proxy.resolution)
    fmt = memory_format(device)
    model = NasNet(spec.replace(resolution=size, num_classes=10)).to(device, memory_format=fmt)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(proxy.batch_size, spec.in_chans, size, size, device=device)
    y = torch.randint(0, 10, (proxy.batch_size,), device=device)
    for i in range(steps + 1):
        if i == 1:
            _sync(device)
            start = time.perf_counter()
        with autocast(device):
            loss = F.cross_entropy(model(x.contiguous(memory_format=fmt)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _sync(device)
    per_image = (time.perf_counter() - start) / (steps * proxy.batch_size)
    images = proxy.epochs * proxy.train_images
    return per_image * images * 1.1  # + validation, about a tenth


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
