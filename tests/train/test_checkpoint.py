from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from nas.space import ConfigError
from nas.train import checkpoint as ckpt


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    ckpt.save_atomic({"format": ckpt.FORMAT_VERSION, "epoch": 1}, path)
    with pytest.raises(Exception):  # noqa: B017  (pickling fails half way through the file)
        ckpt.save_atomic({"format": ckpt.FORMAT_VERSION, "epoch": 2,
                          "big": torch.zeros(1000), "bad": lambda: 0}, path)
    assert ckpt.load(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint not found"):
        ckpt.load(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_text("hello")
    with pytest.raises(ConfigError, match="not a readable checkpoint"):
        ckpt.load(tmp_path / "junk.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="not a nas-train checkpoint"):
        ckpt.load(tmp_path / "other.pt")


def test_rng_state_round_trip():
    state = ckpt.rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    ckpt.set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
