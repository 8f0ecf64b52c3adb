"""`run_training`, the Python API behind nas-train (the CLI only parses arguments)."""

from __future__ import annotations

import pytest

from nas.space import ConfigError
from nas.train.runner import run_name, run_training


def test_one_architecture_or_one_study():
    with pytest.raises(ConfigError, match="give an architecture"):
        run_training()
    with pytest.raises(ConfigError, match="not both"):
        run_training(arch="spach_xxs_patch16_224_conv", study="results/x")


def test_unknown_run_options_are_named():
    with pytest.raises(ConfigError, match="unknown option\\(s\\) epochs"):
        run_training(arch="spach_xxs_patch16_224_conv", data="fashion-mnist", epochs=3)


def test_study_choices_are_refused_with_an_architecture():
    with pytest.raises(ConfigError, match="--top: chooses among a study's Pareto members"):
        run_training(arch="spach_xxs_patch16_224_conv", data="fashion-mnist", top=2, device="cpu")


def test_run_names():
    assert run_name("results/s/archs/ab12cd34ef.yaml") == "ab12cd34ef"
    assert run_name("nas_coatnet_0_224") == "coatnet_0_224"
