"""FLOP counting against hand arithmetic on toy nets (one multiply-add = 1)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.cost import UncountedHeavyOp, count_flops, count_params


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def flops(model: nn.Module, *shape: int) -> int:
    return count_flops(model, torch.randn(*shape)).flops


def test_linear_counts_in_times_out_per_row():
    assert flops(nn.Linear(16, 8), 3, 5, 16) == 3 * 5 * 16 * 8


def test_conv_counts_weight_times_output_positions():
    # 3->4 channels, 3x3, stride 2 on 9x9 (pad 1): 5x5 outputs
    assert flops(nn.Conv2d(3, 4, 3, stride=2, padding=1), 1, 3, 9, 9) == 4 * 3 * 9 * 25


def test_same_padding_conv_is_counted():
    conv = nn.Conv2d(8, 8, 5, groups=8, padding="same")
    assert flops(conv, 2, 8, 6, 6) == 2 * 8 * 25 * 36


def test_fused_attention_counts_like_explicit_matmuls():
    b, h, n, d = 2, 3, 7, 4

    def fused(x):
        q, k, v = x, x, x
        return F.scaled_dot_product_attention(q, k, v)

    def explicit(x):
        q, k, v = x, x, x
        return (q @ k.transpose(-2, -1)).softmax(-1) @ v

    want = 2 * b * h * n * n * d
    assert flops(Lambda(fused), b, h, n, d) == want
    assert flops(Lambda(explicit), b, h, n, d) == want


def test_norms_follow_fvcore_convention():
    assert flops(nn.LayerNorm(6), 4, 6) == 5 * 24
    assert flops(nn.GroupNorm(1, 6), 2, 6, 3, 3) == 5 * 108
    assert flops(nn.BatchNorm2d(6).eval(), 2, 6, 3, 3) == 2 * 108


def test_elementwise_ops_are_free_but_audited():
    count = count_flops(Lambda(lambda x: F.gelu(x) * 2 + x.mean()), torch.randn(4, 4))
    assert count.flops == 0
    assert {"aten::gelu", "aten::mul"} <= set(count.uncounted)
    assert any("uncounted aten::gelu" in line for line in count.audit())


@pytest.mark.parametrize(
    "fn, shape",
    [
        (lambda x: torch.baddbmm(x, x, x), (2, 3, 3)),
        (lambda x: torch.mv(x, x[0]), (3, 3)),
        (lambda x: torch.addmv(x[0], x, x[0]), (3, 3)),
        (lambda x: torch.dot(x, x), (3,)),
        (lambda x: torch.outer(x, x), (3,)),
        (lambda x: torch.tensordot(x, x, dims=2), (3, 3)),
    ],
)
def test_an_uncounted_heavy_op_is_an_error(fn, shape):
    with pytest.raises(UncountedHeavyOp):
        count_flops(Lambda(fn), torch.randn(*shape))


def test_count_is_per_batch_and_model_mode_is_restored():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).train()
    one = count_flops(model, torch.randn(2, 4)).flops
    assert count_flops(model, torch.randn(4, 4)).flops == 2 * one
    assert model.training


def test_shared_modules_count_params_once_and_flops_per_call():
    lin = nn.Linear(5, 5)
    model = nn.Sequential(lin, lin)
    assert count_params(model) == 30
    assert flops(model, 1, 5) == 2 * 25
