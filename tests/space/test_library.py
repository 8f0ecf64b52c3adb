"""Conformance over every shipped space file: it loads, documents itself, and every sample
validates, builds and runs forward at low resolution."""

from __future__ import annotations

import pytest
import torch

from nas.models import PRESETS, build_model
from nas.space import list_spaces, load_space, spaces_dir

SPACES = list_spaces()


def test_library_ships_the_required_spaces():
    assert {"hybrid", "conv", "transformer", "mlp", "convmixer", "coatnet"} <= set(SPACES)


@pytest.mark.parametrize("name", SPACES)
def test_space_file_starts_with_a_comment_saying_what_it_explores(name):
    first = (spaces_dir() / f"{name}.yaml").read_text().splitlines()[0]
    assert first.startswith(f"# {name}:")
    assert len(load_space(name).description) > 80


@pytest.mark.parametrize("name", SPACES)
def test_samples_validate_build_and_run(name):
    space = load_space(name)
    for seed in range(3):
        spec = space.sample_random(seed)
        r = spec.fit_resolution(64)
        model = build_model(spec.replace(resolution=r), num_classes=5).eval()
        with torch.no_grad():
            out = model(torch.randn(2, spec.in_chans, r, r))
        assert out.shape == (2, 5)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", SPACES)
def test_choices_are_named_by_stable_dotted_paths(name):
    for param in load_space(name).choices():
        assert all(part.replace("_", "").isalnum() for part in param.split(".")), param


PRESET_SPACES = {
    "hybrid": lambda n: "hybrid" in n,
    "conv": lambda n: n.startswith("spach") and n.endswith("_conv"),
    "transformer": lambda n: n.endswith("_attn"),
    "mlp": lambda n: "_mlp" in n,
    "convmixer": lambda n: n.startswith("convmixer"),
    "coatnet": lambda n: n.startswith("coatnet"),
}


def test_every_preset_is_a_point_of_a_shipped_space():
    owner = {}
    for space_name, belongs in PRESET_SPACES.items():
        space = load_space(space_name)
        for preset in filter(belongs, PRESETS):
            assert space.contains(PRESETS[preset]), (preset, space_name)
            owner[preset] = space_name
    assert set(owner) == set(PRESETS)
