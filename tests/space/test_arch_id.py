"""arch_id is pinned: results, caches and benchmark tables are keyed by it.

The id hashes `ArchSpec.canonical()`, the spec with every default-valued field left out, so a
field added later with a default changes no existing id. If one of these golden ids changes,
every stored result is orphaned: change them only on purpose, and say so in the README.
"""

from __future__ import annotations

import pytest

from nas.models import get_preset
from nas.space import ArchSpec

spec_from_dict = ArchSpec.from_dict

GOLDEN_PRESETS = {
    "spach_ms_xs_patch4_224_hybrid": "0a660e1bb2",
    "spach_xs_patch16_224_conv": "8b26e603b6",
    "spach_ms_s_patch4_224_mlp_shared": "7927cd749b",
    "convmixer_768_32": "7204660ad3",
    "coatnet_0_224": "d2ac7c6208",
}

# Two points of the hybrid space, written out as a search writes them.
SAMPLED = [
    (
        {
            "stem": {"type": "conv4", "patch_size": 4, "width": 64},
            "head": {"norm": True, "pool": "fast"},
            "stages": [
                {"width": 32, "blocks": [["conv", 4]], "mlp_ratio": 3.0},
                {
                    "width": 64,
                    "downsample": "conv",
                    "blocks": [["mlp", 4], ["attn", 2]],
                    "heads": 2,
                    "cpe": False,
                    "shared": True,
                    "mlp_ratio": 3.0,
                    "token_ratio": 0.25,
                },
                {
                    "width": 128,
                    "downsample": "conv",
                    "blocks": [["conv", 5], ["attn", 12]],
                    "heads": 1,
                    "mlp_ratio": 3.0,
                },
                {"width": 256, "downsample": "conv", "blocks": [["conv", 2]], "mlp_ratio": 3.0},
            ],
        },
        "bfe74ed2ed",
    ),
    (
        {
            "resolution": 64,
            "num_classes": 10,
            "stem": {"patch_size": 4},
            "stages": [{"width": 48, "blocks": [["conv", 2], ["mlp", 2]], "token_ratio": 0.5}],
        },
        "b4f8af2b74",
    ),
]


@pytest.mark.parametrize("name", sorted(GOLDEN_PRESETS))
def test_preset_ids_are_pinned(name):
    assert get_preset(name).arch_id == GOLDEN_PRESETS[name]


@pytest.mark.parametrize("data, arch_id", SAMPLED)
def test_sampled_ids_are_pinned(data, arch_id):
    assert spec_from_dict(data).arch_id == arch_id


def test_canonical_form_leaves_out_defaults():
    spec = spec_from_dict(SAMPLED[1][0])
    assert spec.canonical() == {
        "resolution": 64,
        "num_classes": 10,
        "layout": "single",
        "stem": {"patch_size": 4},
        "stages": [{"width": 48, "blocks": [["conv", 2], ["mlp", 2]]}],
    }


def test_writing_a_default_out_does_not_change_the_id():
    data = SAMPLED[1][0]
    explicit = {
        **data,
        "in_chans": 3,
        "act": "gelu",
        "head": {"pool": "avg", "hidden": 0},
        "stages": [
            {
                **data["stages"][0],
                "downsample": "none",
                "kernel_size": 3,
                "mlp_ratio": 2.0,
                "cpe": True,
            }
        ],
    }
    assert spec_from_dict(explicit).arch_id == spec_from_dict(data).arch_id


def test_a_value_that_equals_a_default_only_loosely_still_counts():
    """resolution 224 is the default, True is not the integer 1: types are compared too."""
    a = spec_from_dict({**SAMPLED[1][0], "resolution": 224})
    assert "resolution" not in a.canonical()
    assert a.arch_id != spec_from_dict(SAMPLED[1][0]).arch_id
