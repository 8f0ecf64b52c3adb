"""The supernet: one set of weights from which every architecture of a space is a subnet.

A subnet is the library's own network (`NasNet`), built on the meta device (structure only,
no memory) and run with `torch.func.functional_call` on views of the supernet's tensors
(`nas.supernet.weights` says which part each uses). So a subnet computes exactly what
`build_model(spec)` computes with those weights, gradients of any subnet reach the shared
tensors, and `extract(spec)` copies them out into a normal network of the library
(timm-creatable, exportable, fine-tunable).

The supernet works at one resolution and width scale, as a proxy does (`proxy_spec`): it takes
architectures as the space writes them (224 px, full widths) and runs them scaled.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from nas._core import ConfigError
from nas.models import NasNet
from nas.space import ArchSpec, SearchSpace
from nas.space.scaling import scale_widths

from .weights import envelope, put, storage_name, take, weight_key

_CACHE = 64  # subnet structures kept (meta modules: no memory to speak of)


@dataclass(frozen=True)
class SupernetShape:
    """What the supernet's subnets are: the space's architectures scaled like a proxy's."""

    resolution: int = 64
    width_scale: float = 0.5
    num_classes: int = 10
    in_chans: int = 3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Supernet(nn.Module):
    """Weights for every architecture of `space`; `forward(x, spec)` runs one of them."""

    def __init__(
        self, space: SearchSpace, shape: SupernetShape, *, seed: int = 0, init: bool = True
    ):
        """`init=False` leaves the tensors at zero, for a checkpoint to fill."""
        super().__init__()
        self.space = space
        self.shape = shape
        self._known: dict[str, ArchSpec] = {}  # arch_id -> scaled spec, for specs checked
        self._subnets: OrderedDict[str, NasNet] = OrderedDict()
        scaled = [self._scale(s) for s in _largest_specs(space)]
        shapes: dict[str, list[torch.Size]] = {}
        kinds: dict[str, tuple[bool, torch.dtype]] = {}  # key -> (trained?, dtype)
        for spec in scaled:
            module = self._module(spec)
            for trained, named in (
                (True, module.named_parameters()),
                (False, module.named_buffers()),
            ):
                for name, t in named:
                    key = weight_key(name, spec)
                    shapes.setdefault(key, []).append(t.shape)
                    kinds[key] = (trained, t.dtype)
        self.weights = nn.ParameterDict()
        self.stats = nn.Module()  # buffers (batch-norm statistics): updated, never trained
        for key in sorted(shapes):
            trained, dtype = kinds[key]
            full = torch.zeros(envelope(shapes[key], key), dtype=dtype)
            if trained:
                self.weights[storage_name(key)] = nn.Parameter(full)
            else:
                self.stats.register_buffer(storage_name(key), full)
        if init:
            torch.manual_seed(seed)
            self._initialise(scaled)

    # --- subnets -----------------------------------------------------------------------------

    def subnet_spec(self, spec: ArchSpec, *, check: bool = True) -> ArchSpec:
        """The spec the supernet runs for `spec` (scaled); with `check`, first one clear error
        when `spec` is not an architecture of the space."""
        if spec.arch_id in self._known:
            return self._known[spec.arch_id]
        if check:
            check_in_space(self.space, spec)
        scaled = self._scale(spec)
        self._known[spec.arch_id] = scaled
        return scaled

    def forward(self, x: torch.Tensor, spec: ArchSpec, *, check: bool = True) -> torch.Tensor:
        scaled = self.subnet_spec(spec, check=check)
        module = self._module(scaled)
        module.train(self.training)
        return functional_call(module, self.tensors(scaled), (x,), tie_weights=True)

    def tensors(self, scaled: ArchSpec) -> dict[str, torch.Tensor]:
        """The subnet's parameters and buffers by its own names, as views of the supernet's."""
        out = {}
        for name, t in _named_tensors(self._module(scaled)):
            key = weight_key(name, scaled)
            out[name] = take(self._storage(key), t.shape, key)
        return out

    def extract(self, spec: ArchSpec, *, check: bool = True) -> NasNet:
        """`spec` as a normal network of the library, with its weights copied out."""
        scaled = self.subnet_spec(spec, check=check)
        device = next(self.parameters()).device
        with torch.device(device):
            model = NasNet(scaled)
        views = self.tensors(scaled)
        with torch.no_grad():
            for name, t in _named_tensors(model):
                t.copy_(views[name])
        return model

    # --- internals ---------------------------------------------------------------------------

    def _scale(self, spec: ArchSpec) -> ArchSpec:
        s = self.shape
        scaled = scale_widths(spec, s.width_scale)
        try:
            return scaled.replace(
                resolution=s.resolution, num_classes=s.num_classes, in_chans=s.in_chans
            )
        except ConfigError as e:
            raise ConfigError(
                f"{spec.summary()} cannot run at the supernet's {s.resolution}px: {e}",
                field="resolution",
            ) from None

    def _module(self, scaled: ArchSpec) -> NasNet:
        key = scaled.arch_id
        if key in self._subnets:
            self._subnets.move_to_end(key)
            return self._subnets[key]
        with torch.device("meta"):
            module = NasNet(scaled)
        self._subnets[key] = module
        if len(self._subnets) > _CACHE:
            self._subnets.popitem(last=False)
        return module

    def _storage(self, key: str) -> torch.Tensor:
        name = storage_name(key)
        return self.weights[name] if name in self.weights else self.stats.get_buffer(name)

    def _initialise(self, scaled: list[ArchSpec]) -> None:
        """Each tensor from real networks initialised as the library initialises them: every
        largest architecture built once, smaller tensors first, so the largest one wins."""
        sources: list[tuple[int, str, torch.Tensor]] = []
        seen = set()
        for spec in scaled:
            same = repr([{**dataclasses.asdict(s), "heads": 0} for s in spec.stages])
            if (spec.stem, same) in seen:  # head sizes change no tensor's initial values
                continue
            seen.add((spec.stem, same))
            for name, t in _named_tensors(NasNet(spec)):
                sources.append((t.numel(), weight_key(name, spec), t.detach()))
        for _, key, t in sorted(sources, key=lambda s: s[0]):
            put(self._storage(key), t, key)


def _named_tensors(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Parameters (tied ones once) and buffers, by name."""
    return [*module.named_parameters(), *module.named_buffers()]


def check_in_space(space: SearchSpace, spec: ArchSpec) -> None:
    """One ConfigError naming the first part and field of `spec` that the space cannot give."""
    if space.contains(spec):
        return
    raise ConfigError(
        f"{spec.summary()} is not an architecture of space {space.name!r}: "
        + _first_mismatch(space, spec),
        field="spec",
        source=space.source,
    )


def _first_mismatch(space: SearchSpace, spec: ArchSpec, *, samples: int = 500) -> str:
    """The first part (stem, stages[i]) that no sampled architecture of the space has, and the
    fields in which the nearest sampled one differs: a description, not a proof."""
    rng = random.Random(0)
    drawn = [space.sample_random(rng, resolution=spec.resolution) for _ in range(samples)]
    if len(spec.stages) not in {len(d.stages) for d in drawn}:
        return f"it has {len(spec.stages)} stages"
    for name, part, of in [("stem", spec.stem, lambda d: d.stem)] + [
        (f"stages[{i}]", s, lambda d, i=i: d.stages[i] if i < len(d.stages) else None)
        for i, s in enumerate(spec.stages)
    ]:
        have = [p for p in map(of, drawn) if p is not None]
        if part in have:
            continue
        near = min(have, key=lambda o: len(_differing(part, o)))
        fields = ", ".join(f"{f}={getattr(part, f)!r}" for f in _differing(part, near))
        return f"no architecture of the space has its {name} ({fields})"
    return "its parts exist in the space, but not in this combination"


def _differing(a: Any, b: Any) -> list[str]:
    return [f for f in a.__dataclass_fields__ if getattr(a, f) != getattr(b, f)]


class _Largest:
    """A chooser that takes every numeric choice at its largest, booleans as the most weights
    need (CPE on, no sharing), and a given mixer, stem type and head size where it can."""

    def __init__(self, variant: str, mixer: str, stem: Any, heads: str):
        self.variant, self.mixer, self.stem, self.heads = variant, mixer, stem, heads
        self.params: dict[str, Any] = {}

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        choices = list(choices)
        if name == "variant":
            value = self.variant
        elif name.endswith("mixer"):
            value = self.mixer if self.mixer in choices else choices[0]
        elif name.endswith("stem.type"):
            value = self.stem if self.stem in choices else choices[0]
        elif name.endswith("head_dim"):
            value = (min if self.heads == "min" else max)(choices)
        elif all(isinstance(c, bool) for c in choices):
            value = not name.endswith("shared")
        elif all(isinstance(c, (int, float)) for c in choices):
            value = max(choices)
        else:
            value = choices[0]
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int, **_: Any) -> int:
        self.params[name] = high
        return high

    def suggest_float(self, name: str, low: float, high: float, **_: Any) -> float:
        self.params[name] = high
        return high


def _largest_specs(space: SearchSpace) -> list[ArchSpec]:
    """Architectures whose tensors, together, are the largest each position of the space
    needs: per mixer, stem type and head size, everything else at its largest."""
    choices = space.choices()
    mixers = sorted(
        {v for n, leaf in choices.items() if n.endswith("mixer") for v in leaf.values()}
    )
    stems = choices["stem.type"].values() if "stem.type" in choices else [None]
    out: dict[str, ArchSpec] = {}
    for variant, mixer, stem, heads in itertools.product(
        space.variants, mixers or [""], stems, ("min", "max")
    ):
        spec = space.sample(_Largest(variant, mixer, stem, heads))
        out[spec.arch_id] = spec
    return list(out.values())
