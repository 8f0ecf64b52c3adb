"""Small builders shared by several test modules."""

from __future__ import annotations

import os

import pytest

from nas.data.kinds.fashion_mnist import FASHION_MNIST_DIR
from nas.space import MIXERS, ArchSpec, HeadSpec, StageSpec, StemSpec

# Tests on Fashion-MNIST skip where it is not installed, but not under CI (NAS_CI, set by
# .ci/run, which installs it): there a missing data set fails the tests that need it.
needs_fmnist = pytest.mark.skipif(
    not all(
        (FASHION_MNIST_DIR / f).exists()
        for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
    )
    and not os.environ.get("NAS_CI"),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)


def tiny_spec(
    mixer: str,
    *,
    resolution: int = 32,
    width: int = 32,
    depth: int = 2,
    shared: bool = False,
    strided: bool | None = None,
) -> ArchSpec:
    """Two stages of `mixer` at low resolution; strided mixers open their stages themselves."""
    info = MIXERS[mixer]
    strided = info.strided if strided is None else strided
    heads = 2 if info.uses_heads else 0
    if strided:
        stem = StemSpec("coatnet", 2, 16)
        stages = tuple(
            StageSpec(
                width * 2**i,
                (mixer,) * depth,
                downsample="stride",
                heads=heads,
                shared=shared,
                mlp_ratio=2.0,
            )
            for i in range(2)
        )
    else:
        stem = StemSpec("conv1", 4)
        stages = tuple(
            StageSpec(
                width * 2**i,
                (mixer,) * depth,
                downsample="conv" if i else "none",
                heads=heads,
                shared=shared,
                mlp_ratio=2.0,
            )
            for i in range(2)
        )
    return ArchSpec(
        stages=stages, stem=stem, head=HeadSpec(norm=True), resolution=resolution, num_classes=10
    )


def assert_closed_form_matches(spec: ArchSpec, report) -> None:
    """The closed form equals an fvcore report (`nas.cost.measure`), module by module."""
    from nas.cost import closed_form

    cost = closed_form(spec)
    assert (cost.params, cost.flops) == (report.params, report.flops), spec.summary()
    assert cost.by_module == report.count.by_module, spec.summary()
