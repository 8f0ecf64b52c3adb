"""Training a supernet: one loop, read top to bottom (the recipe is `SupernetRecipe`).

Every random choice of a step (its batch order, crops, flips and subnets) comes from
generators seeded by (seed, epoch) or (seed, step), so a resumed training repeats exactly what
an uninterrupted one does: the checkpoint needs only the weights, the optimiser and the step.
Under torchrun every process draws the same subnets, trains them on its share of the batch,
and the gradients are averaged before the update.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from nas._core import ConfigError, NasError
from nas.data.proxy import ProxyData
from nas.space import ArchSpec
from nas.train.device import autocast, memory_format
from nas.train.distributed import DistContext, all_reduce_sum, any_process
from nas.train.proxy import TrainingDiverged, adamw_cosine, random_crop

from . import checkpoint
from .checkpoint import CHECKPOINT_NAME, SupernetState
from .net import Supernet
from .score import score_subnet

log = logging.getLogger(__name__)

Draw = Callable[[random.Random], ArchSpec]  # a random feasible architecture of the space


class Preempted(NasError):
    """Asked to stop (SIGTERM): a checkpoint was written and the same command resumes."""


def train_supernet(
    supernet: Supernet,
    state: SupernetState,
    data: ProxyData,
    *,
    largest: ArchSpec,
    smallest: ArchSpec,
    draw: Draw,
    out: Path,
    ctx: DistContext,
    resume: dict | None = None,
    stop: Callable[[int], bool] | None = None,
    progress: bool = True,
) -> SupernetState:
    """Train to the recipe's end from `state.step` (0, or a checkpoint's with `resume` its
    optimiser and scheduler states), checkpointing into `out`. `stop(step)` returning True
    acts as SIGTERM does: checkpoint, then raise Preempted."""
    r, seed = state.recipe, state.identity["seed"]
    device = ctx.device
    fmt = memory_format(device)
    supernet.to(device)
    opt, sched = adamw_cosine(
        supernet,
        lr=r.lr,
        weight_decay=r.weight_decay,
        epochs=r.epochs,
        steps_per_epoch=r.steps_per_epoch,
        warmup_epochs=r.warmup_epochs,
    )
    total = r.epochs * r.steps_per_epoch
    if resume is not None:
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
    sched.step_update(state.step)
    path = out / CHECKPOINT_NAME
    res, chans = supernet.shape.resolution, supernet.shape.in_chans
    n = len(data.train_y)
    share = r.batch_size // ctx.world_size  # this process's images of each step

    def save() -> None:
        if ctx.is_main:
            checkpoint.save(
                path, supernet, state, optimizer=opt.state_dict(), scheduler=sched.state_dict()
            )

    bar = tqdm(
        total=total,
        initial=state.step,
        desc="supernet",
        unit="step",
        disable=not (progress and ctx.is_main),
        dynamic_ncols=True,
    )
    with _sigterm() as asked, bar:
        while state.step < total:
            epoch, first = divmod(state.step, r.steps_per_epoch)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
            t0 = time.perf_counter()
            so_far = state.epoch_so_far
            so_far.update({k: so_far.get(k, 0.0) for k in ("loss", "steps", "seconds")})
            for k in range(first, r.steps_per_epoch):
                idx = order[k * r.batch_size : (k + 1) * r.batch_size]
                idx = idx[ctx.rank * share : (ctx.rank + 1) * share].to(device)
                gen = torch.Generator(device=device).manual_seed(seed * 1_000_003 + state.step)
                x = data.train_x[idx]
                if r.crop_pad:
                    x = random_crop(x, pad=r.crop_pad, gen=gen)
                x = data.prepare(x, resolution=res, in_chans=chans, memory_format=fmt)
                if r.flip:
                    flip = torch.rand(len(x), 1, 1, 1, device=device, generator=gen) < 0.5
                    x = torch.where(flip, x.flip(-1), x)
                rng = random.Random(seed * 1_000_003 + state.step)
                specs = [largest, smallest, *(draw(rng) for _ in range(r.random_subnets))]
                loss = _step(supernet, x, data.train_y[idx], specs, r)
                if not math.isfinite(loss):
                    raise TrainingDiverged(f"loss became {loss} at step {state.step}")
                if ctx.distributed:
                    for p in supernet.parameters():
                        if p.grad is not None:
                            dist.all_reduce(p.grad)
                            p.grad /= ctx.world_size
                if r.clip_grad:
                    torch.nn.utils.clip_grad_norm_(supernet.parameters(), r.clip_grad)
                opt.step()
                state.step += 1
                sched.step_update(state.step)
                so_far["loss"] += loss
                so_far["steps"] += 1
                so_far["seconds"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                bar.update()
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
                wanted = (stop is not None and stop(state.step)) or asked()
                if any_process(wanted, ctx):
                    save()
                    raise Preempted(
                        f"stopped at step {state.step} of {total}; checkpoint {path}: "
                        "the same command resumes"
                    )
                if r.checkpoint_every and state.step % r.checkpoint_every == 0:
                    save()
            (loss_total,) = all_reduce_sum([so_far["loss"]], ctx)
            row = _epoch_row(supernet, data, r, epoch, largest, smallest)
            row.update(
                loss=round(loss_total / ctx.world_size / max(1, so_far["steps"]), 4),
                seconds=round(so_far["seconds"], 1),  # training, not this scoring
            )
            state.log.append(row)
            state.epoch_so_far = {}
            bar.clear()  # the line above the bar, not through it
            log.info(
                "epoch %d/%d: largest %.4f, smallest %.4f on %d held-out images",
                epoch + 1,
                r.epochs,
                state.log[-1]["largest"],
                state.log[-1]["smallest"],
                len(data.val_y),
            )
            bar.refresh()
            save()
    state.done = True
    save()
    return state


def _step(
    supernet: Supernet,
    x: torch.Tensor,
    y: torch.Tensor,
    specs: list[ArchSpec],
    r,
) -> float:
    """The sandwich rule: the largest on the labels, the others on its predictions (or the
    labels without distillation); gradients summed over the subnets."""
    supernet.train()
    supernet.zero_grad(set_to_none=True)
    total = 0.0
    teacher = None
    for i, spec in enumerate(specs):
        with autocast(x.device):
            logits = supernet(x, spec, check=False)
            if i == 0 or not r.distill:
                loss = F.cross_entropy(logits, y, label_smoothing=r.label_smoothing)
            else:
                loss = F.kl_div(F.log_softmax(logits.float(), -1), teacher, reduction="batchmean")
        if i == 0:
            teacher = F.softmax(logits.detach().float(), -1)
        loss.backward()
        total += loss.item()
    return total


def _epoch_row(
    supernet: Supernet,
    data: ProxyData,
    r,
    epoch: int,
    largest: ArchSpec,
    smallest: ArchSpec,
) -> dict:
    """The epoch's health: the held-out accuracy of the largest and smallest subnets."""
    row = {"epoch": epoch + 1}
    for name, spec in (("largest", largest), ("smallest", smallest)):
        row[name] = round(score_subnet(supernet, spec, data, recipe=r, check=False), 4)
    return row


@contextlib.contextmanager
def _sigterm() -> Iterator[Callable[[], bool]]:
    """SIGTERM (preemption, torchrun stopping) asks for a checkpoint after the current step;
    a second one stops at once."""
    asked = []

    def handler(*_: object) -> None:
        if asked:
            raise SystemExit(128 + signal.SIGTERM)
        asked.append(True)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield lambda: False
        return
    try:
        yield lambda: bool(asked)
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_resumable(saved: SupernetState, wanted: SupernetState, path: Path) -> None:
    """A checkpoint is continued only by the training that wrote it."""
    diffs = []
    if saved.space_content != wanted.space_content:
        diffs.append(f"the space ({saved.space_name} -> {wanted.space_name}, content differs)")
    if saved.shape != wanted.shape:
        diffs.append(f"shape {saved.shape} -> {wanted.shape}")
    a, b = saved.recipe.to_dict(), wanted.recipe.to_dict()
    diffs += [f"{k} {a[k]} -> {b[k]}" for k in a if a[k] != b[k] and k != "checkpoint_every"]
    diffs += [
        f"{k} {saved.identity.get(k)} -> {v}"
        for k, v in wanted.identity.items()
        if saved.identity.get(k) != v and k != "data"
    ]
    if diffs:
        raise ConfigError(
            f"cannot continue this supernet with other settings ({'; '.join(diffs)}); re-run "
            "with its settings or another --out",
            source=str(path),
        )
