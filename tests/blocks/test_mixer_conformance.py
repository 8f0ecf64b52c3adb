"""Conformance over every registered mixer: shapes, gradients reach every parameter, no NaN,
weight sharing really shares. A new mixer gets these tests by registering."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas.blocks import BLOCKS, Block
from nas.models import build_model
from nas.space import MIXERS, MixerInfo
from tests.helpers import tiny_spec


def test_every_mixer_has_its_row_its_block_and_its_cost():
    from nas.cost import table_gaps

    assert table_gaps() == []
    for name, cls in BLOCKS.items():
        assert issubclass(cls, Block) and cls.fmt == MIXERS[name].fmt


def test_a_half_added_mixer_is_named_with_the_table_it_lacks():
    from nas.cost import table_gaps
    from nas.cost.closed_form import BLOCK_COSTS

    row = MixerInfo("gmlp", "nlc")
    gaps = table_gaps(mixers={**MIXERS, "gmlp": row})
    assert gaps == [
        "mixer 'gmlp': no block class in the registry (nas/blocks/: a Block with @register_block)",
        "mixer 'gmlp': no closed-form cost (nas/cost/closed_form.py: @block_formula, or "
        "MEASURED_ONLY)",
    ]
    assert table_gaps(mixers={**MIXERS, "gmlp": row}, measured_only={"gmlp"}) == gaps[:1]
    costs = {k: v for k, v in BLOCK_COSTS.items() if k != "relattn"}
    assert table_gaps(costs=costs) == [gaps[1].replace("gmlp", "relattn")]
    blocks = {**BLOCKS, "gmlp": object}
    assert table_gaps(blocks=blocks)[0].startswith("mixer 'gmlp': no row in the mixer table")


def test_a_block_must_declare_the_interface():
    from nas.blocks import register_block

    class Loose(nn.Module):
        fmt = "nlc"

        def __init__(self, a, spatial=None):
            super().__init__()

    with pytest.raises(TypeError, match=r"Loose must subclass nas\.blocks\.Block and nn\.Module"):
        register_block("conv")(Loose)

    class OddArgs(Block, nn.Module):
        fmt = "nlc"

        def __init__(self, dim, spatial=None):
            super().__init__()

    with pytest.raises(TypeError, match=r"OddArgs.__init__ must take \(a: BlockArgs"):
        register_block("conv")(OddArgs)
    assert BLOCKS["conv"].__name__ == "ConvBlock"  # refused classes never replace a block


def _train_step(model: nn.Module, resolution: int) -> torch.Tensor:
    nn.init.normal_(model.get_classifier().weight, std=0.1)  # the zero-init head blocks grads
    x = torch.randn(4, 3, resolution, resolution)
    out = model(x)
    nn.functional.cross_entropy(out, torch.arange(4) % out.shape[1]).backward()
    return out


@pytest.mark.parametrize("mixer", sorted(MIXERS))
def test_shapes_gradients_and_finiteness(mixer):
    spec = tiny_spec(mixer)
    model = build_model(spec, drop_path_rate=0.1).train()
    out = _train_step(model, spec.resolution)
    assert out.shape == (4, 10) and torch.isfinite(out).all()
    feats = model.forward_features(torch.randn(1, 3, spec.resolution, spec.resolution))
    side = spec.feature_sizes()[-1]
    assert feats.shape == (1, model.num_features, side, side)
    for name, p in model.named_parameters():
        assert p.grad is not None, f"no gradient reaches {name}"
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"zero gradient at {name}"


@pytest.mark.parametrize("mixer", sorted(m for m, i in MIXERS.items() if i.shareable))
def test_shared_spatial_function_is_one_module(mixer):
    spec = tiny_spec(mixer, depth=3, shared=True)
    model = build_model(spec)
    unshared = build_model(tiny_spec(mixer, depth=3))
    saved = 0
    for stage in model.stages:
        assert len({id(b.spatial) for b in stage.blocks}) == 1
        f_params = sum(p.numel() for p in stage.blocks[0].spatial.parameters())
        saved += (len(stage.blocks) - 1) * f_params
    n_params = sum(p.numel() for p in model.parameters())
    n_unshared = sum(p.numel() for p in unshared.parameters())
    assert saved > 0 and n_unshared - n_params == saved
    _train_step(model, spec.resolution)  # the shared module trains from every block


def test_unknown_mixer_is_a_clear_error():
    from nas.blocks import get_block
    from nas.space import ConfigError

    with pytest.raises(ConfigError, match="no block registered for mixer 'gmlp'"):
        get_block("gmlp")
