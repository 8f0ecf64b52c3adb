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
            return want.get(name, next(iter(choices)))

        def suggest_int(self, name, low, high, **_):
            return want.get(name, low)

    return space.sample(Chooser())


def make_cifar(root, per_class: int = 20, val_per_class: int = 5):
    """A learnable tiny CIFAR-10 in the python-batch layout: each class its own colour."""
    import pickle

    import numpy as np

    from nas.data.kinds import cifar as C

    spec = next(x for x in C.LAYOUTS["cifar10"] if not x.binary)
    folder = root / spec.name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("val", val_per_class)):
        y = np.repeat(np.arange(10), n)
        x = rng.integers(0, 60, (len(y), 3, 32, 32), dtype=np.uint8)
        x[np.arange(len(y)), y % 3] += (20 * y).astype(np.uint8)[:, None, None]
        files = getattr(spec, split)
        for f, xs, ys in zip(files, np.array_split(x, len(files)), np.array_split(y, len(files))):
            batch = {b"data": xs.reshape(len(xs), -1), b"labels": ys.tolist()}
            (folder / f).write_bytes(pickle.dumps(batch, protocol=2))
    names = {"label_names": [f"c{i}" for i in range(10)]}
    (folder / spec.names_file).write_bytes(pickle.dumps(names))
    return root
