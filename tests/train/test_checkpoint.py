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
        ckpt.save_atomic(
            {
                "format": ckpt.FORMAT_VERSION,
                "epoch": 2,
                "big": torch.zeros(1000),
                "bad": lambda: 0,
            },
            path,
        )
    assert ckpt.load(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint not found"):
        ckpt.load(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_text("hello")
    with pytest.raises(ConfigError, match="not a readable nas checkpoint"):
        ckpt.load(tmp_path / "junk.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="not a nas-train checkpoint"):
        ckpt.load(tmp_path / "other.pt")


def test_rng_state_round_trip():
    state = ckpt.rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    ckpt.set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_only_the_same_run_continues_a_checkpoint(tmp_path):
    run = {
        "data": "d",
        "resolution": 32,
        "global_batch": 16,
        "seed": 0,
        "updates_per_epoch": 4,
        "world_size": 2,
        "batch_size": 8,
        "accum_steps": 1,
    }
    state = {"spec": {"a": 1}, "run": run, "recipe": {"epochs": 3}, "step": 0}
    same = dict(spec={"a": 1}, recipe={"epochs": 3}, path=tmp_path)
    # between epochs, 1 process x 8 x 2 accumulation may continue 2 processes x 8
    ckpt.check_resumable(state, run={**run, "world_size": 1, "accum_steps": 2}, **same)
    with pytest.raises(ConfigError, match="world_size 2 -> 1"):  # mid-epoch it may not
        ckpt.check_resumable(
            {**state, "step": 2}, run={**run, "world_size": 1, "accum_steps": 2}, **same
        )
    with pytest.raises(ConfigError, match="epochs 3 -> 5"):
        ckpt.check_resumable(state, run=run, **{**same, "recipe": {"epochs": 5}})
    with pytest.raises(ConfigError, match="different architecture"):
        ckpt.check_resumable(state, run=run, **{**same, "spec": {"a": 2}})
