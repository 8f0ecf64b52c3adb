"""Checkpoints that survive a kill at any moment, rebuild their model on their own, load in
timm, and run no code when loaded.

One file, `last.pt`, replaced atomically (temp file in the same folder, fsync, rename): a reader
sees the previous checkpoint or the new one, never half of one. It holds the model, optimiser,
scheduler, EMA and grad-scaler states, every process's RNG states, the position in training
(epoch, step inside the epoch, update count), the epoch log so far, the recipe and the ArchSpec.

Everything in it is a tensor or plain data (the RNG states too), so it is read with
`torch.load(weights_only=True)` (`nas.models.weights.read_state`): a shared checkpoint cannot
execute anything. The weights sit under the keys timm's loader reads, so
`timm.create_model("nas_arch", pretrained=True, pretrained_cfg_overlay=dict(file="last.pt"))`
builds the trained network (its classes and resolution) with the weights the run reports as
best (`best`: "ema" or "model", by the last epoch's top-1).
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas._core import write_atomic
from nas.models import NasNet
from nas.models.weights import EMA_BEST, EMA_OTHER, STATE_DICT, best_weights, read_state
from nas.space import ArchSpec, ConfigError

CHECKPOINT_NAME = "last.pt"
# 2: weights under timm's keys, RNG states as tensors, read with weights_only=True
FORMAT_VERSION = 2


@dataclass
class Meters:
    """Sums over the current epoch, kept across a mid-epoch resume."""

    loss_sum: float = 0.0
    images: int = 0
    seconds: float = 0.0


@dataclass
class Position:
    """Where a run is: what a checkpoint restores besides the weights and optimiser."""

    epoch: int = 0  # epochs finished
    step: int = 0  # micro-batches done inside the current epoch
    updates: int = 0  # optimiser updates since the start
    elapsed_s: float = 0.0  # wall seconds of training over all sessions
    meters: Meters = field(default_factory=Meters)
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per epoch


def training_state(
    pos: Position,
    *,
    about: dict[str, Any],
    elapsed_s: float,
    finished: bool,
    model: torch.nn.Module,
    ema: torch.nn.Module | None,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    best: str,
    rng: list[Any] | None,
) -> dict[str, Any]:
    """The checkpoint of a run at `pos`: `about` (what is trained and how: arch_id, name,
    spec, recipe, run signature, device, provenance...), the position, the weights under
    timm's keys (`weights_state`), the optimiser, scheduler and grad-scaler states and every
    process's RNG states (`rng`, gathered on the main process)."""
    return {
        "format": FORMAT_VERSION,
        **about,
        "epoch": pos.epoch,
        "step": pos.step,
        "updates": pos.updates,
        "elapsed_s": elapsed_s,
        "meters": asdict(pos.meters),
        "history": pos.history,
        "finished": finished,
        **weights_state(
            model.state_dict(), ema.state_dict() if ema is not None else None, best=best
        ),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": rng,
    }


def restore(
    state: dict[str, Any],
    *,
    model: torch.nn.Module,
    ema: torch.nn.Module | None,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    rank: int,
    world_size: int,
    main: bool,
) -> Position:
    """Load a checkpoint's states into the run's objects and return its position. The RNG
    states are this process's when the world size is the same; the epoch's sums so far live
    on the main process only (they are global there)."""
    model.load_state_dict(state[STATE_DICT])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if ema is not None:
        ema.load_state_dict(ema_weights(state))
    scaler.load_state_dict(state["scaler"])
    rngs = state["rng"] or []
    if len(rngs) == world_size:
        set_rng_state(rngs[rank])
    return Position(
        state["epoch"],
        state["step"],
        state["updates"],
        state["elapsed_s"],
        Meters(**state["meters"]) if main else Meters(),
        list(state["history"]),
    )


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
    """A nas-train checkpoint, read as data only (see module docstring); one-line ConfigError
    when it is missing, unreadable, carries pickled objects or is of another format."""
    state = read_state(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        found = state.get("format") if isinstance(state, dict) else None
        older = f"; this one is format {found}, from an older nas-train" if found else ""
        raise ConfigError(
            f"not a nas-train checkpoint (format {FORMAT_VERSION} expected{older})",
            source=str(path),
        )
    return state


def weights_state(
    model: dict[str, Any], ema: dict[str, Any] | None, *, best: str
) -> dict[str, Any]:
    """The checkpoint's weight entries: the model under `state_dict`, the EMA under the key
    timm prefers when `best == "ema"`, else under one it ignores."""
    out: dict[str, Any] = {STATE_DICT: model, "best": best}
    if ema is not None:
        out[EMA_BEST if best == "ema" else EMA_OTHER] = ema
    return out


def ema_weights(state: dict[str, Any]) -> dict[str, Any] | None:
    """The EMA's state (as `ModelEmaV3.state_dict()`), wherever `weights_state` put it."""
    return state.get(EMA_BEST) if state.get(EMA_BEST) is not None else state.get(EMA_OTHER)


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
    """This process's generators: Python (RandAugment, erasing), numpy (Mixup), torch; as
    tensors and numbers, so that the checkpoint holds no pickled object."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {
            "version": version,
            "state": torch.tensor(mt, dtype=torch.int64),
            "gauss": gauss,
        },
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py, npy = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    np.random.set_state(
        (
            npy["kind"],
            npy["keys"].numpy().astype(np.uint32),
            npy["pos"],
            npy["has_gauss"],
            npy["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def model_from_checkpoint(path: str | os.PathLike, *, ema: bool | None = None) -> NasNet:
    """The trained network from the checkpoint alone: by default with the weights the run
    reports as best (what timm loads); `ema=True` the EMA's, `ema=False` the model's."""
    state = load(path)
    model = NasNet(ArchSpec.from_dict(state["spec"]))
    if ema is None:
        weights = best_weights(state)
    elif ema:
        weights = ema_weights(state)
        if weights is None:
            raise ConfigError("this run kept no EMA weights", source=str(path))
    else:
        weights = state[STATE_DICT]
    model.load_state_dict({k.removeprefix("module."): v for k, v in weights.items()})
    return model.eval()
