"""Where a subnet's tensor lives in the supernet, and which part of it the subnet takes.

A block's weights belong to its stage, its mixer and its rank among the stage's blocks of that
mixer: the third attention block of stage 3 uses `stages.2.attn2.*` whatever comes before it.
In the hybrid space, where a stage is "k blocks of one mixer, then j attention blocks", this is
elastic depth by segment (a segment uses its first k blocks, as in Once-for-All), and a stage's
attention blocks keep their weights when the convolutions before them change in number. Each
mixer has its own weights at each rank (a choice block, as in single-path one-shot NAS); the
stem's by stem type. A stage that shares weights uses its first block's spatial function for
every block of that mixer, so its spatial weights are those of rank 0 (`nas.models.net`).

Elastic width takes the leading channels of every dimension (Once-for-All, AutoFormer); a
convolution kernel smaller than the supernet's takes its centre (Once-for-All's elastic
kernel). Attention's fused `qkv` projection is sliced per query, key and value, so that a
narrower stage's queries are the leading channels of the wider one's queries (AutoFormer).
Heads take no weights of their own: a stage's head size only regroups the same channels, so
weights are entangled across head sizes.
"""

from __future__ import annotations

import re

import torch

from nas.space import ArchSpec

_BLOCK = re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\.(.+)$")
_QKV = (".qkv.weight", ".qkv.bias")


def weight_key(name: str, spec: ArchSpec) -> str:
    """The supernet's key for the tensor a `NasNet(spec)` calls `name`."""
    if name.startswith("stem."):
        return f"stem[{spec.stem.type}].{name.removeprefix('stem.')}"
    m = _BLOCK.match(name)
    if m is None:  # downsample, the final norm, the head: one per position
        return name
    s, i, rest = int(m[1]), int(m[2]), m[3]
    mixers = spec.stages[s].mixers
    rank = mixers[:i].count(mixers[i])
    return f"stages.{s}.{mixers[i]}{rank}.{rest}"


def storage_name(key: str) -> str:
    """A key as a parameter name of a module (no dots)."""
    return key.replace(".", "/")


def take(full: torch.Tensor, shape: torch.Size, key: str) -> torch.Tensor:
    """The part of the supernet tensor `full` that a subnet tensor of `shape` uses: a view, so
    that gradients reach the supernet and batch-norm statistics update it in place."""
    if full.shape == shape:
        return full
    if len(shape) != full.dim():
        raise ValueError(f"{key}: a {len(shape)}-d tensor cannot come from {tuple(full.shape)}")
    if key.endswith(_QKV):
        d, big = shape[0] // 3, full.shape[0] // 3
        parts = full.unflatten(0, (3, big))[(slice(None), slice(0, d), *_lead(shape[1:]))]
        return parts.flatten(0, 1)
    index = _lead(shape)
    if full.dim() == 4:  # a convolution: its kernel's centre
        index = index[:2] + tuple(_centre(n, big) for n, big in zip(shape[2:], full.shape[2:]))
    return full[index]


def put(full: torch.Tensor, part: torch.Tensor, key: str) -> None:
    """Write `part` where `take` reads it (initialising the supernet from built networks)."""
    with torch.no_grad():
        take(full, part.shape, key).copy_(part)


def envelope(shapes: list[torch.Size], key: str) -> torch.Size:
    """The smallest shape every shape of `shapes` is a part of."""
    dims = {len(s) for s in shapes}
    if len(dims) != 1:
        raise ValueError(f"{key}: tensors of different ranks {sorted(dims)} at one position")
    out = [max(s[d] for s in shapes) for d in range(dims.pop())]
    if key.endswith(_QKV):  # whole query/key/value thirds
        out[0] = 3 * max(s[0] // 3 for s in shapes)
    return torch.Size(out)


def _lead(shape: torch.Size | tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(0, n) for n in shape)


def _centre(n: int, big: int) -> slice:
    start = (big - n) // 2
    return slice(start, start + n)
