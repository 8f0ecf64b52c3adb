"""Every preset equals its reference: SPACH by hand arithmetic, ConvMixer and CoAtNet against
timm's own models. FLOPs are the complete count (fused attention and 'same' convs included)."""

from __future__ import annotations

import pytest
import timm
import torch

from nas.cost import count_flops, count_params, empty_model, measure, params_of
from nas.models import PRESETS, get_preset
from tests.helpers import assert_closed_form_matches
from tests.models.spach_reference import spach_counts

SPACH = [n for n in PRESETS if n.startswith("spach")]
TIMM = [n for n in PRESETS if not n.startswith("spach")]


def test_the_table_is_complete():
    assert len([n for n in SPACH if not n.endswith(("_conv4", "_shared"))]) == 20
    for name in (
        "spach_ms_s_patch4_224_hybrid_conv4",
        "spach_ms_xs_patch4_224_hybrid_conv4",
        "spach_s_patch16_224_mlp_shared",
        "spach_ms_s_patch4_224_mlp_shared",
        "convmixer_1536_20",
        "convmixer_768_32",
        "convmixer_1024_20_ks9_p14",
        "coatnet_0_224",
        "coatnet_1_224",
        "coatnet_2_224",
        "coatnet_3_224",
    ):
        assert name in PRESETS


def test_hybrid_ms_s_has_the_published_parameter_count():
    assert params_of(PRESETS["spach_ms_s_patch4_224_hybrid"]) == 63_028_584


@pytest.mark.parametrize("name", SPACH)
def test_spach_preset_counts_equal_hand_arithmetic(name):
    want_params, want_flops = spach_counts(PRESETS[name])
    report = measure(name)
    assert report.params == want_params
    assert report.flops == want_flops
    assert_closed_form_matches(PRESETS[name], report)


@pytest.mark.parametrize("name", TIMM)
def test_timm_family_presets_equal_timm(name):
    ours = measure(name)
    reference = empty_model(lambda: timm.create_model(name))
    assert ours.params == count_params(reference)
    ref = count_flops(reference, torch.zeros(1, 3, 224, 224))
    assert ours.flops == ref.flops
    assert ours.count.by_operator == ref.by_operator
    assert_closed_form_matches(PRESETS[name], ours)


@pytest.mark.parametrize(
    "name, op", [("coatnet_0_224", "attention"), ("convmixer_768_32", "conv")]
)
def test_plain_fvcore_would_undercount(name, op):
    """What the handles add: fvcore alone skips fused attention and 'same' convs."""
    from fvcore.nn import FlopCountAnalysis

    model = empty_model(lambda: timm.create_model(name))
    plain = FlopCountAnalysis(model, torch.zeros(1, 3, 224, 224))
    plain.unsupported_ops_warnings(False)
    complete = count_flops(model, torch.zeros(1, 3, 224, 224)).flops
    assert complete > plain.total() * 1.01


def test_reported_paper_magnitudes():
    """Coarse agreement with the numbers the papers report (M params / G FLOPs)."""
    for name, m, g in (
        ("spach_ms_xxs_patch4_224_conv", 5, 0.7),
        ("spach_ms_s_patch4_224_attn", 40, 7.6),
        ("spach_ms_s_patch4_224_hybrid_conv4", 63, 12.3),
        ("coatnet_0_224", 25, 4.2),
    ):
        report = measure(name)
        assert abs(report.params / 1e6 - m) / m < 0.06, name
        assert abs(report.flops / 1e9 - g) / g < 0.1, name


def test_variant_suffixes_resolve():
    base = get_preset("spach_ms_s_patch4_224_attn")
    nocpe = get_preset("nas_spach_ms_s_patch4_224_attn_nocpe")
    assert not any(s.cpe for s in nocpe.stages[1:])
    assert params_of(base) - params_of(nocpe) == sum(
        10 * s.width * s.depth for s in base.stages[1:]
    )
