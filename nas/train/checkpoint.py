"""Checkpoints that survive a kill at any moment and rebuild their model on their own.

One file, `last.pt`, replaced atomically (temp file in the same folder, fsync, rename): a reader
sees the previous checkpoint or the new one, never half of one. It holds the model, optimiser,
scheduler, EMA and grad-scaler states, every process's RNG states, the position in training
(epoch, step inside the epoch, update count), the epoch log so far, the recipe and the ArchSpec.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.models import NasNet
from nas.space import ArchSpec, ConfigError
from nas.space.io import write_atomic

CHECKPOINT_NAME = "last.pt"
FORMAT_VERSION = 1


def save_atomic(state: dict[str, Any], path: str | os.PathLike) -> None:
    """torch.save through a temp file + rename, flushed to disk: a checkpoint is the one file
    whose loss costs hours."""
    path = Path(path)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())

    write_atomic(path, write)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a power cut right after must not undo it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError("checkpoint not found", source=str(path))
    try:
        # our own files: plain containers, tensors and numpy RNG arrays
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise ConfigError(
            f"not a readable checkpoint ({type(e).__name__}: {e})", source=str(path)
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise ConfigError(
            f"not a nas-train checkpoint (format {FORMAT_VERSION} expected)", source=str(path)
        )
    return state


def check_resumable(
    state: dict[str, Any],
    *,
    spec: dict[str, Any],
    run: dict[str, Any],
    recipe: dict[str, Any],
    path: Path,
) -> None:
    """A checkpoint is continued only by the run that wrote it: same architecture, recipe and
    schedule; mid-epoch also the same sharding (the samples to skip depend on it)."""
    if state["spec"] != spec:
        raise ConfigError(
            "the checkpoint holds a different architecture; use another --output", source=str(path)
        )
    theirs = state["run"]
    must = ["data", "resolution", "global_batch", "seed", "updates_per_epoch"]
    if state["step"]:
        must += ["world_size", "batch_size", "accum_steps"]
    diffs = [f"{k} {theirs.get(k)} -> {run[k]}" for k in must if theirs.get(k) != run[k]]
    diffs += [
        f"{k} {v} -> {recipe.get(k)}" for k, v in state["recipe"].items() if recipe.get(k) != v
    ]
    if diffs:
        raise ConfigError(
            f"cannot continue the checkpoint with other settings "
            f"({'; '.join(diffs)}); re-run with the checkpoint's settings or "
            f"another --output",
            source=str(path),
        )


def rng_state() -> dict[str, Any]:
    """This process's generators: Python (RandAugment, erasing), numpy (Mixup), torch."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def model_from_checkpoint(path: str | os.PathLike, *, ema: bool = False) -> NasNet:
    """The trained network from the checkpoint alone (`ema=True`: the EMA weights)."""
    state = load(path)
    model = NasNet(ArchSpec.from_dict(state["spec"]))
    weights = state["model"]
    if ema:
        if state.get("ema") is None:
            raise ConfigError("this run kept no EMA weights", source=str(path))
        weights = {k.removeprefix("module."): v for k, v in state["ema"].items()}
    model.load_state_dict(weights)
    return model.eval()
