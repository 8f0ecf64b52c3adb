"""The supernet's subnets are the library's networks, with shared weights."""

import pytest
import torch

from nas.models import NasNet
from nas.space import ConfigError, StageSpec
from nas.train.proxy import proxy_spec
from nas.train.proxy_config import ProxyConfig

from .conftest import pick

MIXER = "stage2.seg1.mixer"
CASES = {
    "conv": {MIXER: "conv"},
    "mlp": {MIXER: "mlp", "stage2.token_ratio": 0.5},
    "attn": {MIXER: "attn", "stage2.seg2.depth": 2, "stage2.head_dim": 16},
    "shared": {
        MIXER: "attn",
        "stage2.seg1.depth": 2,
        "stage2.seg2.depth": 1,
        "stage2.shared": True,
    },
    "no-cpe": {MIXER: "mlp", "stage2.cpe": False, "width": 32},
    "deep-stem": {"stem.type": "conv4", MIXER: "attn", "stage2.seg2.depth": 1},
}


@pytest.fixture(scope="module")
def supernet(tiny_supernet):
    torch.manual_seed(0)
    with torch.no_grad():  # a zero classifier would make every output equal
        for name, p in tiny_supernet.weights.items():
            if name.startswith("head/"):
                p.normal_()
    return tiny_supernet.eval()


@pytest.mark.parametrize("case", sorted(CASES))
def test_subnet_forward_equals_the_extracted_network(supernet, tiny_space, case):
    spec = pick(tiny_space, CASES[case])
    model = supernet.extract(spec).eval()
    assert isinstance(model, NasNet)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        want, got = model(x), supernet(x, spec)
    assert want.abs().max() > 0
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_subnet_is_the_spec_scaled_as_a_proxy_scales_it(supernet, tiny_space):
    spec = pick(tiny_space, CASES["attn"])
    cfg = ProxyConfig("p", resolution=32, width_scale=1.0)
    assert supernet.extract(spec).spec == proxy_spec(spec, cfg=cfg, num_classes=10)


def test_a_segment_uses_its_first_blocks_whatever_precedes_it(supernet, tiny_space):
    short = supernet.extract(pick(tiny_space, {MIXER: "conv", "stage2.seg2.depth": 1}))
    long = supernet.extract(
        pick(tiny_space, {MIXER: "conv", "stage2.seg1.depth": 2, "stage2.seg2.depth": 1})
    )
    # the first attention block sits at index 1 in one and 2 in the other: the same weights
    a, b = short.stages[1].blocks[1], long.stages[1].blocks[2]
    torch.testing.assert_close(a.spatial.proj.weight, b.spatial.proj.weight)
    # the two conv blocks of `long` are different weights
    c0, c1 = long.stages[1].blocks[0], long.stages[1].blocks[1]
    assert not torch.equal(c0.mlp.fc1.weight, c1.mlp.fc1.weight)


def test_a_narrow_subnet_takes_the_leading_channels_and_qkv_by_part(supernet, tiny_space):
    want = {MIXER: "attn", "stage2.head_dim": 8}
    narrow = supernet.extract(pick(tiny_space, {**want, "width": 16}))  # stage 2: 32 wide
    wide = supernet.extract(pick(tiny_space, {**want, "width": 32}))  # stage 2: 64 wide
    n, w = narrow.stages[1].blocks[0], wide.stages[1].blocks[0]
    torch.testing.assert_close(n.mlp.fc1.weight, w.mlp.fc1.weight[: n.mlp.fc1.out_features, :32])
    qn, qw = n.spatial.qkv.weight, w.spatial.qkv.weight
    for part in range(3):  # queries, keys, values: each the leading rows of the wide one's
        torch.testing.assert_close(
            qn[part * 32 : part * 32 + 32], qw[part * 64 : part * 64 + 32, :32]
        )


def test_head_sizes_share_weights(supernet, tiny_space):
    few = supernet.extract(pick(tiny_space, {MIXER: "attn", "stage2.head_dim": 16}))
    many = supernet.extract(pick(tiny_space, {MIXER: "attn", "stage2.head_dim": 8}))
    a, b = few.stages[1].blocks[0].spatial, many.stages[1].blocks[0].spatial
    assert a.num_heads != b.num_heads
    torch.testing.assert_close(a.qkv.weight, b.qkv.weight)


def test_gradients_reach_only_the_tensors_the_subnet_uses(tiny_space, tiny_supernet):
    tiny_supernet.train().zero_grad(set_to_none=True)
    spec = pick(tiny_space, {MIXER: "mlp"})
    tiny_supernet(torch.randn(2, 3, 32, 32), spec).square().sum().backward()
    grads = {n for n, p in tiny_supernet.weights.items() if p.grad is not None}
    assert any(n.startswith("stages/1/mlp0/spatial/") for n in grads)
    assert not any(n.startswith(("stages/1/attn", "stages/1/conv")) for n in grads)
    assert not any(n.startswith("stem[conv4]") for n in grads)
    tiny_supernet.zero_grad(set_to_none=True)
    tiny_supernet.eval()


def test_a_spec_outside_the_space_is_one_error_naming_the_part_and_field(supernet, tiny_space):
    spec = pick(tiny_space, {MIXER: "attn"})
    wider = StageSpec(**{**spec.stages[1].__dict__, "width": 48, "heads": 3})
    with pytest.raises(ConfigError, match=r"stages\[1\] \(width=48"):
        supernet(torch.randn(1, 3, 32, 32), spec.replace(stages=(spec.stages[0], wider)))
    bad_first = StageSpec(width=16, mixers=("mlp",), mlp_ratio=1.0)
    with pytest.raises(ConfigError, match=r"stages\[0\] \(mixers=\('mlp',\)"):
        supernet.extract(spec.replace(stages=(bad_first, spec.stages[1])))


def test_batch_norm_statistics_are_the_supernets(tiny_space, tiny_supernet):
    spec = pick(tiny_space, {"stem.type": "conv4"})
    stats = [n for n, _ in tiny_supernet.stats.named_buffers() if n.endswith("running_mean")]
    assert stats and all(n.startswith("stem[conv4]") for n in stats)
    before = tiny_supernet.stats.get_buffer(stats[0]).clone()
    tiny_supernet.train()
    with torch.no_grad():
        tiny_supernet(torch.randn(4, 3, 32, 32) + 3, spec)
    tiny_supernet.eval()
    after = tiny_supernet.stats.get_buffer(stats[0])
    assert not torch.equal(before, after)
    torch.testing.assert_close(
        tiny_supernet.extract(spec).stem.proj[1].running_mean, after[: len(after)]
    )
