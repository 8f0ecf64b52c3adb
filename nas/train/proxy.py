"""Proxy training: a short, reduced-fidelity run that ranks candidates during a search.

The hyperparameters (`ProxyConfig`) and their presets (`PROXY_PRESETS`) are in
`nas.train.proxy_config`; here is the one loop (`proxy_train`). The candidate is built at the
proxy resolution (the smallest size at or above `resolution` that the architecture accepts)
with the data set's classes; on GPU it runs under bf16 autocast in channels_last with the
whole subset resident on the device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler
from timm.utils import ModelEmaV3

from nas.data.proxy import ProxyData
from nas.models import NasNet
from nas.space import ArchSpec, ConfigError
from nas.space.scaling import scale_widths

from .device import autocast, memory_format
from .proxy_config import ProxyConfig


class TrainingDiverged(RuntimeError):
    """The loss went NaN or infinite."""


@dataclass
class ProxyResult:
    accuracy: float  # top-1 on the proxy validation images after the last epoch run
    curve: list[float] = field(default_factory=list)  # accuracy after each epoch
    seconds: float = 0.0  # wall time of training + validation
    images_per_s: float = 0.0  # training throughput
    resolution: int = 0  # px the candidate was built and trained at
    stopped: bool = False  # ended early by `on_epoch`
    train_accuracy: float | None = None  # top-1 on training images seen, in eval mode (asked for)

    @property
    def epochs(self) -> int:
        return len(self.curve)


EpochHook = Callable[[int, float], bool]  # (epochs done, accuracy) -> stop now?


def proxy_resolution(spec: ArchSpec, near: int, *, limit: int = 8) -> int:
    """The smallest side >= `near` that `spec` accepts: a multiple of its total stride at which
    every stage is still valid (a token-mixing MLP needs at least one hidden token, say)."""
    step = spec.total_stride()
    size = spec.fit_resolution(near)
    for _ in range(limit):
        try:
            spec.replace(resolution=size)
            return size
        except ConfigError:
            size += step
    raise ConfigError(f"no resolution between {near} and {size} px fits {spec.summary()}")


def proxy_spec(spec: ArchSpec, *, cfg: ProxyConfig, num_classes: int) -> ArchSpec:
    """What the proxy trains in place of `spec`: widths scaled by `cfg.width_scale`, at the
    smallest resolution >= the proxy's it accepts, with the data's classes."""
    scaled = scale_widths(spec, cfg.width_scale)
    size = proxy_resolution(scaled, cfg.resolution)
    return scaled.replace(resolution=size, num_classes=num_classes)


def build_proxy_model(spec: ArchSpec, *, cfg: ProxyConfig, data: ProxyData) -> NasNet:
    return NasNet(proxy_spec(spec, cfg=cfg, num_classes=data.num_classes))


def adamw_cosine(
    model: torch.nn.Module,
    *,
    lr: float,
    weight_decay: float,
    epochs: int,
    steps_per_epoch: int,
    warmup_epochs: float,
) -> tuple[torch.optim.Optimizer, CosineLRScheduler]:
    """timm's AdamW (no decay on norms and biases) and a per-step cosine to 0 after a linear
    warm-up from lr/1000: the schedule of the proxy, the references and the supernet."""
    opt = create_optimizer_v2(model, opt="adamw", lr=lr, weight_decay=weight_decay)
    total = epochs * steps_per_epoch
    warmup = min(total - 1, round(warmup_epochs * steps_per_epoch))
    sched = CosineLRScheduler(
        opt,
        t_initial=max(1, total - warmup),
        warmup_t=warmup,
        warmup_prefix=True,
        warmup_lr_init=lr * 1e-3,
        t_in_epochs=False,
    )
    return opt, sched


def proxy_train(
    model: NasNet,
    data: ProxyData,
    cfg: ProxyConfig,
    *,
    on_epoch: EpochHook | None = None,
    seed: int = 0,
    train_eval_images: int = 0,
) -> ProxyResult:
    """Train `model` (built by `build_proxy_model`) for `cfg.epochs` and validate each epoch.

    `seed` orders the batches and flips (the model's initial weights are the caller's: seed
    torch before building it). `on_epoch(epochs_done, accuracy)` returning True stops the run
    (early stopping). `train_eval_images` > 0 also measures, at the end, accuracy on that many
    of the training images (the train/validation gap says whether a network overfits).
    Raises TrainingDiverged when the loss stops being finite.
    """
    device = data.device
    fmt = memory_format(device)
    model = model.to(device=device, memory_format=fmt)
    res, chans = model.spec.resolution, model.spec.in_chans
    opt, sched = adamw_cosine(
        model,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        epochs=cfg.epochs,
        steps_per_epoch=cfg.steps_per_epoch,
        warmup_epochs=cfg.warmup_epochs,
    )
    gen = torch.Generator(device=device).manual_seed(seed)
    ema = ModelEmaV3(model, decay=cfg.ema_decay, use_warmup=True) if cfg.ema_decay else None
    judged = model if ema is None else ema.module
    mirrored = None  # alt_flip: which images the first epoch mirrors
    result = ProxyResult(accuracy=0.0, resolution=res)
    start, train_time, step = time.perf_counter(), 0.0, 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=device)
        order = torch.randperm(len(data.train_y), device=device, generator=gen)
        for idx in order[: cfg.steps_per_epoch * cfg.batch_size].split(cfg.batch_size):
            x = data.train_x[idx]
            if cfg.crop_pad:
                x = random_crop(x, pad=cfg.crop_pad, gen=gen)
            x = data.prepare(x, resolution=res, in_chans=chans, memory_format=fmt)
            if cfg.flip and cfg.alt_flip:
                if mirrored is None:
                    mirrored = torch.rand(len(data.train_y), device=device, generator=gen) < 0.5
                flip = (mirrored[idx] ^ (epoch % 2 == 0)).view(-1, 1, 1, 1)
                x = torch.where(flip, x.flip(-1), x)
            elif cfg.flip:
                x = torch.where(
                    torch.rand(len(x), 1, 1, 1, device=device, generator=gen) < 0.5, x.flip(-1), x
                )
            with autocast(device):
                loss = F.cross_entropy(
                    model(x), data.train_y[idx], label_smoothing=cfg.label_smoothing
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_grad:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            opt.step()
            step += 1
            if ema is not None:
                ema.update(model, step=step)
            sched.step_update(step)
            loss_sum += loss.detach()
        mean_loss = loss_sum.item() / cfg.steps_per_epoch  # one sync per epoch
        train_time += time.perf_counter() - t0
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(f"loss became {mean_loss} in epoch {epoch}")
        if not cfg.eval_each_epoch and epoch < cfg.epochs:
            continue
        result.curve.append(
            evaluate(judged, data, batch_size=cfg.eval_batch_size, tta_flip=cfg.tta_flip)
        )
        result.accuracy = result.curve[-1]
        if on_epoch is not None and on_epoch(epoch, result.accuracy) and epoch < cfg.epochs:
            result.stopped = True
            break
    if train_eval_images > 0:
        n = min(train_eval_images, len(data.train_y))
        result.train_accuracy = evaluate(
            judged,
            data,
            batch_size=cfg.eval_batch_size,
            images=(data.train_x[:n], data.train_y[:n]),
            tta_flip=cfg.tta_flip,
        )
    result.seconds = time.perf_counter() - start
    images = min(len(data.train_y), cfg.steps_per_epoch * cfg.batch_size)
    epochs_run = epoch if not result.stopped else len(result.curve)
    result.images_per_s = epochs_run * images / max(train_time, 1e-9)
    return result


def random_crop(x: torch.Tensor, *, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Each image of the batch cropped at a random offset from itself padded by `pad` px
    (reflected: no black borders for the network to learn). The standard CIFAR augmentation,
    done on the stored uint8 images of the whole batch at once."""
    n, _, h, w = x.shape
    padded = F.pad(x.float(), (pad, pad, pad, pad), mode="reflect")
    dy, dx = (torch.randint(0, 2 * pad + 1, (2, n), device=x.device, generator=gen)).unbind()
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chan, rows, cols].to(x.dtype)


@torch.no_grad()
def evaluate(
    model: NasNet,
    data: ProxyData,
    *,
    batch_size: int,
    images: tuple[torch.Tensor, torch.Tensor] | None = None,
    tta_flip: bool = False,
) -> float:
    """Top-1 accuracy on the proxy validation images (or on `images`, (uint8 x, labels));
    `tta_flip`: of the mean logits of each image and its mirror."""
    model.eval()
    fmt = memory_format(data.device)
    res, chans = model.spec.resolution, model.spec.in_chans
    xs, ys = images if images is not None else (data.val_x, data.val_y)
    correct = torch.zeros((), dtype=torch.long, device=data.device)
    for x, y in zip(xs.split(batch_size), ys.split(batch_size)):
        x = data.prepare(x, resolution=res, in_chans=chans, memory_format=fmt)
        with autocast(data.device):
            logits = model(x).float()
            if tta_flip:
                logits = logits + model(x.flip(-1)).float()
        correct += (logits.argmax(-1) == y).sum()
    return correct.item() / len(ys)
