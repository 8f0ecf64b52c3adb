"""One process per device under torchrun: NCCL on GPUs, gloo on CPU.

Launch with `torchrun --nproc_per_node N -m nas.cli.train ...` (or the `nas-train` script path
in place of `-m nas.cli.train`); multi-node runs add torchrun's rendezvous options
(`--nnodes 2 --node_rank R --rdzv_backend c10d --rdzv_endpoint HOST:29500`). Without torchrun's
environment this is a single process and every collective is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from nas.space import ConfigError

from .device import pick_device


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        """`2x cpu`, `8x NVIDIA H100 80GB HBM3`: the device column of the results."""
        name = (
            torch.cuda.get_device_name(self.device)
            if self.device.type == "cuda"
            else self.device.type
        )
        return f"{self.world_size}x {name}"

    @property
    def gpus(self) -> int:
        return self.world_size if self.device.type == "cuda" else 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(requested_device: str | None = "auto") -> DistContext:
    """Join torchrun's process group when launched by it; else a single-process context."""
    if not launched_by_torchrun():
        return DistContext(0, 1, 0, pick_device(requested_device))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(requested_device)
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"local rank {local_rank} but only {torch.cuda.device_count()} "
                f"GPU(s) visible; lower --nproc_per_node",
                field="torchrun",
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if device.type == "cuda" else "gloo",
            device_id=device if device.type == "cuda" else None,
        )
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, device)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], ctx: DistContext) -> list[float]:
    """Sums of per-process values (counts, loss sums) over all processes."""
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    if ctx.distributed:
        dist.all_reduce(t)
    return t.tolist()


def any_process(flag: bool, ctx: DistContext) -> bool:
    """True on every process when it is true on one (e.g. 'checkpoint now')."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([int(flag)], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather_to_main(obj: Any, ctx: DistContext) -> list[Any] | None:
    """Every process's `obj` on the main process (None elsewhere)."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] | None = [None] * ctx.world_size if ctx.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out


def broadcast_from_main(obj: Any, ctx: DistContext) -> Any:
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def accumulation_for(global_batch: int, *, batch_size: int, world_size: int) -> int:
    """Micro-batches per update that make `global_batch` from batch_size x world_size."""
    per_step = batch_size * world_size
    if global_batch < per_step or global_batch % per_step:
        raise ConfigError(
            f"must be a multiple of batch x processes = {batch_size} x "
            f"{world_size} = {per_step}, got {global_batch}",
            field="--global-batch",
        )
    return global_batch // per_step
