import pytest

from nas.space import parse_space
from nas.supernet import Supernet, SupernetShape

TINY = {
    "resolution": 64,
    "params": {"width": {"choice": [16, 32]}, "mlp_ratio": {"choice": [1, 2]}},
    "stem": {"type": {"choice": ["conv1", "conv4"]}, "patch_size": 4, "width": 16},
    "head": {"norm": True, "pool": "fast"},
    "stages": [
        {
            "width": {"param": "width"},
            "blocks": [["conv", {"int": [1, 2]}]],
            "mlp_ratio": {"param": "mlp_ratio"},
        },
        {
            "width": {"param": "width", "times": 2},
            "downsample": "conv",
            "blocks": [
                [{"choice": ["conv", "mlp", "attn"]}, {"int": [1, 2]}],
                ["attn", {"int": [0, 2]}],
            ],
            "cpe": {"choice": [True, False]},
            "shared": {"choice": [False, True]},
            "head_dim": {"choice": [8, 16]},
            "mlp_ratio": {"param": "mlp_ratio"},
            "token_ratio": {"choice": [0.25, 0.5]},
        },
    ],
}


@pytest.fixture(scope="session")
def tiny_space():
    return parse_space(TINY, name="tiny")


@pytest.fixture(scope="session")
def tiny_supernet(tiny_space):
    return Supernet(tiny_space, SupernetShape(resolution=32, width_scale=1.0, num_classes=10))


def pick(space, want: dict):
    """The architecture of `space` whose trial params include `want`, the rest at their first
    choice."""

    class Chooser:
        def suggest_categorical(self, name, choices):
            return want.get(name, list(choices)[0])

        def suggest_int(self, name, low, high, **_):
            return want.get(name, low)

    return space.sample(Chooser())
