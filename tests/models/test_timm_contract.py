"""Every preset is a timm model: registry, create_model, the model contract, features."""

from __future__ import annotations

import itertools

import timm
import torch

import nas.models  # noqa: F401  (registers the presets)
from nas.models import PRESETS, NasNet, build_model


def test_every_preset_is_registered_with_the_nas_prefix():
    names = set(timm.list_models("nas_*"))  # and any study registered by another test
    assert {f"nas_{n}" for n in PRESETS} | {"nas_arch"} <= names


def test_create_model_builds_the_preset():
    model = timm.create_model("nas_spach_ms_s_patch4_224_hybrid")
    assert isinstance(model, NasNet)
    assert model.spec == PRESETS["spach_ms_s_patch4_224_hybrid"]
    assert sum(p.numel() for p in model.parameters()) == 63_028_584
    assert model.pretrained_cfg["input_size"] == (3, 224, 224)


def test_model_contract_at_low_resolution():
    spec = PRESETS["spach_ms_xxs_patch4_224_attn"].replace(resolution=64)
    model = build_model(spec, num_classes=7).eval()
    x = torch.randn(2, 3, 64, 64)
    feats = model.forward_features(x)
    assert feats.shape == (2, model.num_features, 2, 2)
    assert model.forward_head(feats, pre_logits=True).shape == (2, model.num_features)
    assert model(x).shape == (2, 7) and model.num_classes == 7
    model.reset_classifier(3)
    assert model(x).shape == (2, 3) and model.spec.num_classes == 3
    model.reset_classifier(0)
    assert model(x).shape == (2, model.num_features)


def test_a_pool_timm_sets_is_part_of_the_spec():
    """model.spec must keep describing the model (checkpoints rebuild from it, costs use it)."""
    from nas.cost import closed_form, measure_model

    spec = PRESETS["spach_ms_xxs_patch4_224_conv"].replace(resolution=64)
    assert spec.head.pool == "fast"
    model = timm.create_model("nas_spach_ms_xxs_patch4_224_conv", img_size=64, global_pool="avg")
    assert model.spec.head.pool == "avg"
    assert closed_form(model.spec).flops == measure_model(model).flops
    model.reset_classifier(5, "fast")
    assert model.spec.head.pool == "fast" and model.spec.num_classes == 5


def test_features_only_through_timm():
    model = timm.create_model("nas_coatnet_0_224", features_only=True, img_size=64)
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [96, 192, 384, 768]
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2]


def test_timm_kwargs_pass_through():
    model = timm.create_model(
        "nas_spach_xxs_patch16_224_conv", num_classes=10, drop_path_rate=0.1, in_chans=1
    )
    assert model.stem.proj.in_channels == 1 and model.num_classes == 10
    rates = [b.drop_path.drop_prob for b in model.stages[0].blocks]
    assert rates == [0.1] * 12  # single-stage: uniform, as SPACH


def test_multi_stage_drop_path_rises_linearly():
    model = build_model("spach_ms_xxs_patch4_224_conv", drop_path_rate=0.2)
    rates = [getattr(b.drop_path, "drop_prob", 0.0) for s in model.stages for b in s.blocks]
    assert rates[0] == 0.0 and abs(rates[-1] - 0.2) < 1e-9
    assert all(a < b for a, b in itertools.pairwise(rates))


def test_spach_init_zeroes_the_head_and_sets_layer_scale():
    model = build_model("spach_ms_xxs_patch4_224_attn")
    assert model.get_classifier().weight.abs().sum() == 0
    gamma = model.stages[1].blocks[0].ls1.gamma
    assert torch.allclose(gamma, torch.full_like(gamma, 1e-4))
