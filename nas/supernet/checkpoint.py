"""A supernet's checkpoint: everything needed to rebuild it, resume its training, or score
subnets with it, and nothing that runs code when loaded.

One file, replaced atomically (`nas.train.checkpoint.save_atomic`). It carries the space it
was trained over as data (the parsed YAML), so that an edited space file cannot change what
the weights mean, and is read with `weights_only=True`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas._core import ConfigError, write_text_atomic
from nas.models.weights import STATE_DICT, read_state
from nas.space import ArchSpec, SearchSpace, parse_space
from nas.train.checkpoint import FORMAT_VERSION as TRAIN_FORMAT
from nas.train.checkpoint import save_atomic
from nas.train.proxy_config import SUPERNET_CHECKPOINT, SUPERNET_SIDECAR

from .net import Supernet, SupernetShape
from .recipe import SupernetRecipe

CHECKPOINT_NAME = SUPERNET_CHECKPOINT
FORMAT = "nas-supernet/1"


@dataclass
class SupernetState:
    """The supernet's identity (what a resume must match) and its training's progress."""

    space_name: str
    space_content: dict[str, Any]
    shape: SupernetShape
    recipe: SupernetRecipe
    identity: dict[str, Any]  # data identity and seed, budget, training seed
    step: int = 0
    done: bool = False
    log: list[dict[str, Any]] = field(default_factory=list)  # one row per epoch
    epoch_so_far: dict[str, float] = field(default_factory=dict)  # loss sum, steps, seconds

    def space(self) -> SearchSpace:
        return parse_space(self.space_content, name=self.space_name)


def save(
    path: str | os.PathLike,
    supernet: Supernet,
    state: SupernetState,
    *,
    optimizer: dict[str, Any] | None = None,
    scheduler: dict[str, Any] | None = None,
) -> None:
    save_atomic(
        {
            "format": FORMAT,
            "space_name": state.space_name,
            "space_content": state.space_content,
            "shape": state.shape.to_dict(),
            "recipe": state.recipe.to_dict(),
            "identity": state.identity,
            "step": state.step,
            "done": state.done,
            "log": state.log,
            "epoch_so_far": state.epoch_so_far,
            "supernet": supernet.state_dict(),
            "optimizer": optimizer,
            "scheduler": scheduler,
        },
        path,
    )
    sidecar = {
        "hash": file_hash(path),
        "file": Path(path).name,
        "space": state.space_name,
        "step": state.step,
        "done": state.done,
        "shape": state.shape.to_dict(),
        "recipe": state.recipe.to_dict(),
        "identity": state.identity,
        "log": state.log,
    }
    write_text_atomic(Path(path).with_name(SUPERNET_SIDECAR), json.dumps(sidecar, indent=1))


def load(path: str | os.PathLike) -> tuple[Supernet, SupernetState, dict[str, Any]]:
    """(supernet with its weights, its state, the raw file: optimizer and scheduler)."""
    raw = read_state(path)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigError(
            f"not a supernet checkpoint ({FORMAT} expected); nas-supernet train writes them",
            source=str(path),
        )
    state = SupernetState(
        space_name=raw["space_name"],
        space_content=raw["space_content"],
        shape=SupernetShape(**raw["shape"]),
        recipe=SupernetRecipe.from_dict(raw["recipe"], source=str(path)),
        identity=raw["identity"],
        step=raw["step"],
        done=raw["done"],
        log=raw["log"],
        epoch_so_far=raw["epoch_so_far"],
    )
    supernet = Supernet(state.space(), state.shape, init=False)
    supernet.load_state_dict(raw["supernet"])
    return supernet, state, raw


def write_subnet(
    supernet: Supernet, spec: ArchSpec, path: str | os.PathLike, *, source: str
) -> ArchSpec:
    """`spec`'s subnet as a nas-train checkpoint (its network and weights): what `nas-export
    --checkpoint` exports and timm loads with `pretrained_cfg_overlay=dict(file=...)`.
    Returns the spec it holds (scaled as the supernet runs it)."""
    model = supernet.extract(spec).cpu()
    save_atomic(
        {
            "format": TRAIN_FORMAT,
            "spec": model.spec.to_dict(),
            STATE_DICT: model.state_dict(),
            "best": "model",
            "source": source,
        },
        path,
    )
    return model.spec


def file_hash(path: str | os.PathLike) -> str:
    """The checkpoint's content hash: what a study scored by it records (a moved file is the
    same supernet, a further-trained one is not)."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def checkpoint_path(path: str | os.PathLike) -> Path:
    """A checkpoint file, or the folder `nas-supernet train --out` wrote it in."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise ConfigError(
            "no supernet checkpoint here (nas-supernet train writes one)", source=str(path)
        )
    return path
