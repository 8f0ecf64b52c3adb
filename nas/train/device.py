"""Device choice and the GPU habits (bf16 autocast, channels_last) in one place."""

from __future__ import annotations

import contextlib

import torch

from nas.space import ConfigError


def pick_device(requested: str | None = None) -> torch.device:
    """`auto` (or None): the GPU when there is one, else the CPU."""
    if requested in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ConfigError(
            f"cannot read {requested!r}; expected auto, cpu, cuda or cuda:N", field="--device"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA was asked for but no GPU is visible", field="--device")
    return device


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on GPU; full precision on CPU, where bf16 is slower on most cores."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format
