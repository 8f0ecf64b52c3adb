"""FLOPs and params measured with fvcore, in its convention (one multiply-add = 1 FLOP).

fvcore only logs, and skips, ops it has no handle for. Two of them are heavy in today's models:
`aten::scaled_dot_product_attention` (fused attention, timm's default) and
`aten::_convolution_mode` (convs with padding="same", ConvMixer's). We register handles for
both, and any other heavy op left uncounted is an error, not a log line.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from math import prod
from typing import Any

import torch
from torch import nn

with warnings.catch_warnings():  # fvcore's focal_loss uses the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import conv_flop_count, get_shape

# Ops that multiply-accumulate over a dimension: fvcore skipping one means a low count.
_HEAVY = re.compile(
    r"conv|matmul|::mm\b|bmm|addmm|::mv\b|addmv|::dot\b|vdot|::inner\b|"
    r"::outer\b|::ger\b|::addr\b|tensordot|linear|bilinear|einsum|attention|"
    r"::_scaled_mm\b|::kron\b|::cdist\b"
)


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> Counter[str]:
    """q @ k^T and attn @ v, as fvcore counts the explicit matmuls (softmax and mask: 0)."""
    q, k, v = (get_shape(t) for t in inputs[:3])
    rows = prod(q[:-1])
    return Counter({"attention": rows * k[-2] * q[-1] + rows * k[-2] * v[-1]})


def conv_mode_flop_jit(inputs: list[Any], outputs: list[Any]) -> Counter[str]:
    """`_convolution_mode(input, weight, bias, stride, padding: str, dilation, groups)`."""
    x, w, out = get_shape(inputs[0]), get_shape(inputs[1]), get_shape(outputs[0])
    return Counter({"conv": conv_flop_count(x, w, out, transposed=False)})


EXTRA_HANDLES = {
    "aten::scaled_dot_product_attention": sdpa_flop_jit,
    "aten::_convolution_mode": conv_mode_flop_jit,
}


class UncountedHeavyOp(RuntimeError):
    """A conv / matmul / attention op that fvcore has no handle for: the count would be low."""


@dataclass(frozen=True)
class FlopCount:
    flops: int
    by_operator: dict[str, int]
    by_module: dict[str, int]  # top-level children: stem, stages.0, ..., head
    uncounted: dict[str, int] = field(default_factory=dict)  # light ops skipped by convention

    def audit(self) -> list[str]:
        lines = [
            f"counted   {op:<30s} {n:>16,}"
            for op, n in sorted(self.by_operator.items(), key=lambda kv: -kv[1])
        ]
        lines += [
            f"uncounted {op:<30s} {n:>10,} calls (0 by fvcore convention)"
            for op, n in sorted(self.uncounted.items())
        ]
        return lines


def count_flops(model: nn.Module, inputs: torch.Tensor) -> FlopCount:
    """Trace `model(inputs)` in eval mode and count; raises UncountedHeavyOp when incomplete."""
    was_training = model.training
    model.eval()
    try:
        fa = FlopCountAnalysis(model, inputs)
        fa.set_op_handle(**EXTRA_HANDLES)
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            total = int(fa.total())
        by_op = {k: int(v) for k, v in fa.by_operator().items() if v}
        by_mod = fa.by_module()
        top = {name: int(by_mod.get(name, 0)) for name, _ in _top_modules(model)}
        skipped = dict(fa.unsupported_ops())
    finally:
        model.train(was_training)
    heavy = {op: n for op, n in skipped.items() if _HEAVY.search(op)}
    if heavy:
        raise UncountedHeavyOp(
            f"fvcore has no handle for {', '.join(sorted(heavy))}; the FLOP count would miss "
            f"them. Register a handle in nas.cost.fvcore_count.EXTRA_HANDLES"
        )
    return FlopCount(total, by_op, top, skipped)


def _top_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    out = []
    for name, child in model.named_children():
        if isinstance(child, nn.Sequential) and name == "stages":
            out += [(f"stages.{i}", c) for i, c in enumerate(child)]
        else:
            out.append((name, child))
    return out


def count_params(model: nn.Module) -> int:
    """Unique parameters: a spatial function shared by several blocks counts once."""
    return sum(p.numel() for p in model.parameters())
