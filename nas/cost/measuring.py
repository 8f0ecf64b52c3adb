"""Cost of an architecture: params and FLOPs at its resolution, measured on a built model."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from nas.models import NasNet, resolve_spec
from nas.space import ArchSpec

from .fvcore_count import FlopCount, count_flops, count_params


@dataclass(frozen=True)
class CostReport:
    name: str
    arch_id: str
    resolution: int
    params: int
    flops: int
    count: FlopCount

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("count")
        out.update(
            by_operator=self.count.by_operator,
            by_module=self.count.by_module,
            uncounted=self.count.uncounted,
        )
        return out


def empty_model(factory: Callable[[], nn.Module]) -> nn.Module:
    """`factory()` with uninitialised weights: counting needs shapes, not values, and skipping
    init builds the biggest presets in a fraction of the time."""
    with torch.device("meta"):
        model = factory()
    model = model.to_empty(device="cpu")
    for module in model.modules():  # non-persistent buffers (relative position indices)
        init = (
            getattr(module, "init_non_persistent_buffers", None)  # timm's public name
            or getattr(module, "_init_buffers", None)
        )  # before timm 1.0.20 or so
        if init is not None:
            init()
    return model.eval()


def build_for_counting(spec: ArchSpec) -> NasNet:
    return empty_model(lambda: NasNet(spec))


def params_of(spec: ArchSpec) -> int:
    """Parameter count without allocating any weights."""
    with torch.device("meta"):
        return count_params(NasNet(spec))


def measure(
    spec_or_name: ArchSpec | str | os.PathLike,
    *,
    resolution: int | None = None,
    batch_size: int = 1,
) -> CostReport:
    """Params and fvcore FLOPs (per image) of a spec, preset name or spec file."""
    spec = resolve_spec(spec_or_name)
    if resolution is not None:
        spec = spec.replace(resolution=resolution)
    model = build_for_counting(spec)
    return measure_model(model, name=_name(spec_or_name, spec), batch_size=batch_size)


def measure_model(model: nn.Module, *, name: str = "", batch_size: int = 1) -> CostReport:
    spec: ArchSpec = model.spec
    x = torch.zeros(batch_size, spec.in_chans, spec.resolution, spec.resolution)
    count = count_flops(model, x)
    return CostReport(
        name=name or spec.arch_id,
        arch_id=spec.arch_id,
        resolution=spec.resolution,
        params=count_params(model),
        flops=count.flops // batch_size,
        count=count,
    )


def _name(spec_or_name: object, spec: ArchSpec) -> str:
    return spec.arch_id if isinstance(spec_or_name, ArchSpec) else str(spec_or_name)
