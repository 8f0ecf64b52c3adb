"""Full training of one architecture with the DeiT/SPACH recipe: one loop, resumable anywhere.

    trainer = FullTrainer(spec, recipe=Recipe(), config=RunConfig(run_dir=..., data=...))
    result = trainer.fit()   # continues <run_dir>/last.pt when there is one

The recipe (what to learn) is `nas.train.recipe.Recipe`; RunConfig below is how to run it. Under
torchrun every process runs this same code; DDP averages the gradients.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import signal
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from timm.utils import accuracy
from torch.nn.parallel import DistributedDataParallel

from nas.data import DataSource
from nas.models import build_model
from nas.report import write_epoch_log, write_run_files
from nas.report.provenance import git_sha, provenance
from nas.report.tables import FULL_TRAINING, FullRunFacts
from nas.space import ArchSpec, ConfigError
from nas.space.spec import MIN_RESOLUTION

from . import checkpoint as ckpt
from . import recipe as R
from .device import memory_format
from .distributed import DistContext, all_reduce_sum, any_process, gather_to_main
from .imagenet import (
    ImageData,
    load_image_data,
    micro_batches_per_epoch,
    train_loader,
    val_loader,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunConfig:
    """How to run the recipe; none of these change what is learned (except steps_per_epoch)."""

    run_dir: Path  # holds last.pt, log.csv, spec.yaml, result.json
    data: str = "fashion-mnist"  # fashion-mnist | imagenet:PATH | folder:PATH | imagenet64:..
    classes: int | tuple[str, ...] | None = None  # a class subset (--classes), None: all
    resolution: int | None = None  # training side in pixels; None: the spec's
    workers: int = 8  # DataLoader processes per training process
    accum_steps: int = 1  # micro-batches per optimiser update (small GPUs)
    checkpoint_minutes: float = 20.0  # wall minutes between checkpoints inside an epoch
    seed: int = 0
    precision: str = "auto"  # auto (bf16 on GPU, fp16 where no bf16, fp32 on CPU)
    grad_checkpointing: bool = False  # recompute activations in backward: memory for time
    steps_per_epoch: int | None = None  # cap on updates per epoch: smoke runs, benchmarks
    resume: str = "auto"  # auto: continue last.pt if any; required: it must exist
    progress: bool = True  # a live progress bar on the main process

    def __post_init__(self) -> None:
        checks = (
            ("--workers", self.workers >= 0, ">= 0", self.workers),
            ("--accum-steps", self.accum_steps >= 1, "at least 1", self.accum_steps),
            (
                "--checkpoint-minutes",
                self.checkpoint_minutes >= 0,
                ">= 0 (0: after every update)",
                self.checkpoint_minutes,
            ),
            (
                "--resolution",
                self.resolution is None or self.resolution >= MIN_RESOLUTION,
                f"at least {MIN_RESOLUTION} pixels",
                self.resolution,
            ),
            (
                "--steps-per-epoch",
                self.steps_per_epoch is None or self.steps_per_epoch >= 1,
                "at least 1",
                self.steps_per_epoch,
            ),
            ("--precision", self.precision in PRECISIONS, " | ".join(PRECISIONS), self.precision),
            ("resume", self.resume in ("auto", "required"), "auto or required", self.resume),
        )
        for flag, ok, expected, got in checks:
            if not ok:
                raise ConfigError(f"expected {expected}, got {got!r}", field=flag)


PRECISIONS = ("auto", "bf16", "fp16", "fp32")


SYNC_EVERY = 20  # updates between the processes' "checkpoint now?" votes under DDP


class Preempted(Exception):
    """SIGTERM arrived; a checkpoint was written and the same command resumes."""


class FullTrainer:
    def __init__(
        self,
        spec: ArchSpec,
        *,
        recipe: R.Recipe,
        config: RunConfig,
        ctx: DistContext,
        name: str = "",
        data: ImageData | None = None,
    ):
        """`data`: datasets to use instead of loading `config.data` (benchmarks)."""
        self.recipe, self.config, self.ctx = recipe, config, ctx
        # arch_id names the spec asked for (a study's archs/<arch_id>.yaml); self.spec, what is
        # trained, takes the data's classes and the training resolution: its id may differ
        self.arch_id, self.name = spec.arch_id, name or spec.arch_id
        self.run_dir = Path(config.run_dir)
        resolution = config.resolution or spec.resolution
        self.data = data or load_image_data(
            DataSource.parse(config.data),
            resolution=resolution,
            recipe=recipe,
            classes=config.classes,
        )
        self.source = self.data.source
        self.spec = spec.replace(
            resolution=resolution, num_classes=self.data.num_classes, in_chans=3
        )
        self.dtype = _precision(ctx.device, config.precision)
        self.micro_per_epoch = micro_batches_per_epoch(
            self.data, ctx=ctx, recipe=recipe, accum_steps=config.accum_steps
        )
        if config.steps_per_epoch:
            self.micro_per_epoch = min(
                self.micro_per_epoch, config.steps_per_epoch * config.accum_steps
            )
        self.updates_per_epoch = self.micro_per_epoch // config.accum_steps
        self.global_batch = recipe.batch_size * ctx.world_size * config.accum_steps
        self.lr = recipe.learning_rate(self.global_batch)
        self._build()
        self.pos = ckpt.Position()
        self._stop = False
        self._session_start: float | None = None

    # --- setup ------------------------------------------------------------------------------

    def _build(self) -> None:
        from nas.cost import params_of

        self.params = params_of(self.spec)
        self.drop_path = (
            self.recipe.drop_path
            if self.recipe.drop_path is not None
            else R.drop_path_for(self.params)
        )
        if self.ctx.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest convs
            torch.backends.cuda.matmul.allow_tf32 = True  # what autocast leaves in fp32
        torch.manual_seed(self.config.seed)  # the same initial weights on every process
        model = build_model(self.spec, drop_rate=self.recipe.drop, drop_path_rate=self.drop_path)
        if self.config.grad_checkpointing:
            model.set_grad_checkpointing(True)
        self.model = model.to(self.ctx.device, memory_format=memory_format(self.ctx.device))
        self.ema = R.weight_ema(self.model, self.recipe)
        self.ddp = (
            DistributedDataParallel(
                self.model, device_ids=_device_ids(self.ctx), gradient_as_bucket_view=True
            )
            if self.ctx.distributed
            else None
        )
        self.optimizer = R.optimizer(self.model, self.recipe, lr=self.lr)
        self.scheduler = R.scheduler(
            self.optimizer, self.recipe, updates_per_epoch=self.updates_per_epoch
        )
        self.scaler = torch.amp.GradScaler(
            self.ctx.device.type, enabled=self.dtype == torch.float16
        )
        self.mixup = R.mixup(self.recipe, self.data.num_classes)
        self.criterion = R.train_loss(self.recipe)
        _seed_process(self.config.seed + self.ctx.rank)  # different augmentations per process

    def describe(self) -> str:
        from nas.cost import format_amount

        r, c = self.recipe, self.config
        trained = f", trained as {self.spec.arch_id}" if self.spec.arch_id != self.arch_id else ""
        lines = [
            f"{self.name} (arch_id {self.arch_id}{trained}): {self.spec.summary()}",
            f"  {format_amount(self.params, ' params')}, drop_path {self.drop_path}, "
            f"{self.ctx.describe()}, precision {str(self.dtype).replace('torch.', '')}",
            f"  data {self.source}: {len(self.data.train)} train / {len(self.data.val)} val "
            f"images, {self.data.num_classes} classes, {self.spec.resolution}px",
            f"  global batch {self.global_batch} = {r.batch_size} x {self.ctx.world_size} "
            f"process(es) x {c.accum_steps} accumulation; lr {self.lr:.3g}; "
            f"{self.updates_per_epoch} updates/epoch x {r.epochs} epochs",
            f"  run folder {self.run_dir}",
        ]
        if r.warmup_epochs >= r.epochs:
            lines.append(
                f"  note: the warmup ({r.warmup_epochs} epochs) is not shorter than "
                f"the run; pass --warmup-epochs to shorten it"
            )
        return "\n".join(lines)

    # --- the loop ---------------------------------------------------------------------------

    def fit(self) -> dict[str, Any]:
        self._resume()
        if self.ctx.is_main:
            self._write_run_files()
            if self.config.progress:
                log.info("%s", self.describe())
        finished = self.pos.epoch >= self.recipe.epochs
        self._session_start = None if finished else time.monotonic()
        self._last_save = time.monotonic()
        with _on_sigterm(self._request_stop):
            for epoch in range(self.pos.epoch, self.recipe.epochs):
                self._train_epoch(epoch)
                self._end_epoch(epoch)
        return self.result()

    def _train_epoch(self, epoch: int) -> None:
        model, c = self.ddp or self.model, self.config
        model.train()
        loader = train_loader(
            self.data,
            ctx=self.ctx,
            recipe=self.recipe,
            workers=c.workers,
            seed=c.seed,
            epoch=epoch,
            skip_batches=self.pos.step,
        )
        bar = self._progress(epoch)
        loss_sum = torch.zeros((), device=self.ctx.device)
        images, t0 = 0, time.perf_counter()
        for micro, (x, y) in enumerate(loader, start=self.pos.step):
            if micro >= self.micro_per_epoch:
                break
            loss_sum += self._forward_backward(model, x, y, sync=(micro + 1) % c.accum_steps == 0)
            images += len(x)
            if (micro + 1) % c.accum_steps:
                continue
            self._update()
            self.pos.step = micro + 1
            if bar is not None:
                bar.update(c.accum_steps)
                bar.set_postfix(lr=f"{self.optimizer.param_groups[0]['lr']:.2e}", refresh=False)
            if self._time_to_save():
                self._fold_meters(loss_sum, images, time.perf_counter() - t0)
                loss_sum.zero_()
                images, t0 = 0, time.perf_counter()
                self._save()
                if self._stop:
                    raise Preempted(str(self.run_dir / ckpt.CHECKPOINT_NAME))
        self._fold_meters(loss_sum, images, time.perf_counter() - t0)
        if bar is not None:
            bar.close()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One whole update on one batch, as the loop does it (benchmarks time this)."""
        self._forward_backward(self.ddp or self.model, x, y, sync=True)
        self._update()

    def _forward_backward(
        self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, sync: bool
    ) -> torch.Tensor:
        dev = self.ctx.device
        x = x.to(dev, non_blocking=True).contiguous(memory_format=memory_format(dev))
        y = y.to(dev, non_blocking=True)
        if self.mixup is not None:
            x, y = self.mixup(x, y)
        skip_allreduce = self.ddp is not None and not sync  # accumulate locally first
        with model.no_sync() if skip_allreduce else contextlib.nullcontext(), self._autocast():
            loss = self.criterion(model(x), y)
            self.scaler.scale(loss / self.config.accum_steps).backward()
        return loss.detach().float() * len(x)

    def _update(self) -> None:
        if self.recipe.clip_grad is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.pos.updates += 1
        self.scheduler.step_update(num_updates=self.pos.updates)
        if self.ema is not None:
            self.ema.update(self.model, step=self.pos.updates)

    def _end_epoch(self, epoch: int) -> None:
        t0 = time.perf_counter()
        loss_sum, images = all_reduce_sum(
            [self.pos.meters.loss_sum, self.pos.meters.images], self.ctx
        )
        if not math.isfinite(loss_sum):
            raise FloatingPointError(
                f"training loss is {loss_sum} in epoch {epoch + 1}; "
                f"lower --lr-base or set --clip-grad"
            )
        val_loss, top1, top5 = self.evaluate(self.model)
        ema_top1, ema_top5 = (
            self.evaluate(self.ema.module)[1:] if self.ema is not None else (None, None)
        )
        train_s = self.pos.meters.seconds
        self.pos.history.append(
            {
                "epoch": epoch + 1,
                "train_loss": round(loss_sum / max(images, 1), 5),
                "val_loss": round(val_loss, 5),
                "top1": round(top1, 3),
                "top5": round(top5, 3),
                "ema_top1": _round(ema_top1),
                "ema_top5": _round(ema_top5),
                "lr": self.optimizer.param_groups[0]["lr"],
                "images_per_s": round(images / max(train_s, 1e-9), 1),
                "train_seconds": round(train_s, 2),
                "epoch_seconds": round(train_s + time.perf_counter() - t0, 2),
            }
        )
        self.pos.epoch, self.pos.step, self.pos.meters = epoch + 1, 0, ckpt.Meters()
        self._save()
        if self.ctx.is_main:
            write_epoch_log(self.pos.history, self.run_dir)
            if self.config.progress:
                h = self.pos.history[-1]
                log.info(
                    "epoch %d/%d: loss %.4f top-1 %.2f%% top-5 %.2f%% %.0f img/s",
                    h["epoch"],
                    self.recipe.epochs,
                    h["train_loss"],
                    h["top1"],
                    h["top5"],
                    h["images_per_s"],
                )

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> tuple[float, float, float]:
        """(loss, top-1 %, top-5 %) over the whole val set, exact across processes."""
        was_training = model.training
        model.eval()
        sums = [0.0, 0.0, 0.0, 0.0]
        batch = max(1, int(1.5 * self.recipe.batch_size))  # [DeiT]
        dev = self.ctx.device
        k5 = min(5, self.data.num_classes)
        for x, y in val_loader(
            self.data, ctx=self.ctx, batch_size=batch, workers=self.config.workers
        ):
            x = x.to(dev, non_blocking=True).contiguous(memory_format=memory_format(dev))
            y = y.to(dev, non_blocking=True)
            with self._autocast():
                out = model(x).float()
            a1, a5 = accuracy(out, y, topk=(1, k5))
            n = len(y)
            for i, v in enumerate(
                (
                    F.cross_entropy(out, y, reduction="sum").item(),
                    a1.item() * n / 100,
                    a5.item() * n / 100,
                    n,
                )
            ):
                sums[i] += v
        loss, c1, c5, n = all_reduce_sum(sums, self.ctx)
        model.train(was_training)
        return loss / n, 100 * c1 / n, 100 * c5 / n

    # --- checkpoints ------------------------------------------------------------------------

    def _time_to_save(self) -> bool:
        """Checkpoint now? (time is up, or SIGTERM). Under DDP all processes must agree,
        which costs a collective and a host sync, so they only ask every SYNC_EVERY updates."""
        if self.ctx.distributed and self.pos.updates % SYNC_EVERY:
            return False
        due = time.monotonic() - self._last_save >= 60 * self.config.checkpoint_minutes
        return any_process(self._stop or due, self.ctx)

    def _request_stop(self) -> None:
        if self._stop:  # a second SIGTERM: stop now, losing at most the current interval
            raise SystemExit(128 + signal.SIGTERM)
        self._stop = True

    def _fold_meters(self, loss_sum: torch.Tensor, images: int, seconds: float) -> None:
        m = self.pos.meters
        m.loss_sum += loss_sum.item()
        m.images += images
        m.seconds += seconds

    def _elapsed(self) -> float:
        if self._session_start is None:
            return self.pos.elapsed_s
        return self.pos.elapsed_s + time.monotonic() - self._session_start

    def _save(self) -> None:
        """Every process calls this (the RNG states are gathered); the main one writes."""
        rng = gather_to_main(ckpt.rng_state(), self.ctx)
        loss_sum, images = all_reduce_sum(
            [self.pos.meters.loss_sum, self.pos.meters.images], self.ctx
        )
        if not math.isfinite(loss_sum):  # keep the last good checkpoint
            raise FloatingPointError(
                f"training loss is {loss_sum} in epoch "
                f"{self.pos.epoch + 1}; lower --lr-base or set --clip-grad"
            )
        # the epoch's sums so far are global in the checkpoint and on the main process
        keep = self.ctx.is_main
        self.pos.meters.loss_sum, self.pos.meters.images = (
            (loss_sum, int(images)) if keep else (0.0, 0)
        )
        if self.ctx.is_main:
            ckpt.save_atomic(self._state(rng), self.run_dir / ckpt.CHECKPOINT_NAME)
        self._last_save = time.monotonic()

    def _state(self, rng: list[Any] | None) -> dict[str, Any]:
        about = {
            "arch_id": self.arch_id,
            "name": self.name,
            "spec": self.spec.to_dict(),
            "recipe": self.recipe.to_dict(),
            "run": self._run_signature(),
            "drop_path": self.drop_path,
            "params": self.params,
            "device": self.ctx.describe(),
            "provenance": provenance(self.ctx.device),
            "saved_at": _now(),
        }
        return ckpt.training_state(
            self.pos,
            about=about,
            elapsed_s=self._elapsed(),
            finished=self.pos.epoch >= self.recipe.epochs,
            model=self.model,
            ema=self.ema,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            best=self.best_weights(),
            rng=rng,
        )

    def best_weights(self) -> str:
        """ "ema" when the EMA's top-1 beat the model's at the last evaluation, else "model":
        the weights the run reports as best, which the checkpoint hands timm's loader."""
        last = self.pos.history[-1] if self.pos.history else {}
        ema, model = last.get("ema_top1"), last.get("top1")
        return "ema" if self.ema is not None and ema is not None and ema > model else "model"

    def _run_signature(self) -> dict[str, Any]:
        """What must match for a checkpoint to be continued by this run."""
        return {
            "data": self.data.identity,
            "resolution": self.spec.resolution,
            "global_batch": self.global_batch,
            "seed": self.config.seed,
            "updates_per_epoch": self.updates_per_epoch,
            "world_size": self.ctx.world_size,
            "batch_size": self.recipe.batch_size,
            "accum_steps": self.config.accum_steps,
        }

    def _resume(self) -> None:
        path = self.run_dir / ckpt.CHECKPOINT_NAME
        if not path.is_file():
            if self.config.resume == "required":
                raise ConfigError(
                    f"nothing to resume: no {ckpt.CHECKPOINT_NAME} in {self.run_dir}",
                    field="--resume",
                )
            return
        state = ckpt.load(path)
        ckpt.check_resumable(
            state,
            spec=self.spec.to_dict(),
            run=self._run_signature(),
            recipe=self.recipe.to_dict(),
            path=path,
        )
        self.pos = ckpt.restore(
            state,
            model=self.model,
            ema=self.ema,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
            main=self.ctx.is_main,
        )
        if self.ctx.is_main and self.config.progress:
            if self.pos.epoch >= self.recipe.epochs:
                log.info("already finished: %d epochs in %s", self.pos.epoch, path)
            else:
                step = f", step {self.pos.step}" if self.pos.step else ""
                log.info("resuming %s at epoch %d%s", path, self.pos.epoch + 1, step)

    # --- results ----------------------------------------------------------------------------

    def result(self) -> dict[str, Any]:
        """This run's row of full_training.csv."""
        return FULL_TRAINING.row(self.facts())

    def facts(self) -> FullRunFacts:
        return FullRunFacts(
            arch_id=self.arch_id,
            spec=self.spec,
            name=self.name,
            params=self.params,
            history=self.pos.history,
            epochs=self.pos.epoch,
            weights=self.best_weights(),
            data=str(self.source),
            global_batch=self.global_batch,
            wall_s=self._elapsed(),
            gpus=self.ctx.gpus,
            device=self.ctx.describe(),
            checkpoint=str(self.run_dir / ckpt.CHECKPOINT_NAME),
            finished_at=_now(),
            git_sha=git_sha(),
        )

    def _write_run_files(self) -> None:
        cfg = {
            "recipe": self.recipe.to_dict(),
            "run": {**asdict(self.config), "run_dir": str(self.run_dir)},
            "derived": {
                "lr": self.lr,
                "global_batch": self.global_batch,
                "drop_path": self.drop_path,
                "updates_per_epoch": self.updates_per_epoch,
            },
            "device": self.ctx.describe(),
            "provenance": provenance(self.ctx.device),
        }
        write_run_files(self.run_dir, spec=self.spec, name=self.name, config=cfg)

    def _progress(self, epoch: int) -> Any:
        if not (self.ctx.is_main and self.config.progress):
            return None
        from tqdm import tqdm

        return tqdm(
            total=self.micro_per_epoch,
            initial=self.pos.step,
            unit="batch",
            desc=f"epoch {epoch + 1}/{self.recipe.epochs}",
            leave=False,
            disable=None,
            file=sys.stderr,
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.ctx.device.type, dtype=self.dtype)


def _precision(device: torch.device, requested: str) -> torch.dtype:
    if requested == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[requested]


def _seed_process(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _device_ids(ctx: DistContext) -> list[int] | None:
    return [ctx.device.index] if ctx.device.type == "cuda" else None


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextlib.contextmanager
def _on_sigterm(callback):
    """SIGTERM (preemption, torchrun stopping) asks for a checkpoint at the next update."""
    try:
        previous = signal.signal(signal.SIGTERM, lambda *_: callback())
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
