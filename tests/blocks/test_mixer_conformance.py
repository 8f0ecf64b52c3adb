"""Conformance over every registered mixer: shapes, gradients reach every parameter, no NaN,
weight sharing really shares. A new mixer gets these tests by registering."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas.blocks import BLOCKS
from nas.models import build_model
from nas.space import MIXERS
from tests.helpers import tiny_spec


def test_registry_matches_the_space_table():
    assert set(BLOCKS) == set(MIXERS)
    for name, cls in BLOCKS.items():
        assert cls.fmt == MIXERS[name].fmt


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
