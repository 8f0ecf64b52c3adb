"""Reading weight files safely: a checkpoint is data, never code.

Every checkpoint this package reads (nas-train's `last.pt`, a file given to `nas-export
--checkpoint` or to timm as `pretrained_cfg_overlay=dict(file=...)`) goes through `read_state`:
`torch.load(..., weights_only=True)`, which unpickles tensors and plain containers only. A
file that carries any other pickled object (a class, a function: anything whose unpickling
could run code) is refused with one line naming it.

A nas-train checkpoint keeps its weights under the keys timm's loader reads
(`timm.models.load_state_dict`): `state_dict` (the model), and the EMA under `state_dict_ema`
when the run reports the EMA as its best weights (timm then prefers it) or under `ema`
otherwise, so that timm loads the weights the run reports as best. `spec` rebuilds the network.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from nas.space import ArchSpec, ConfigError

STATE_DICT = "state_dict"  # the model's weights (timm reads it when no EMA key is preferred)
EMA_BEST = "state_dict_ema"  # the EMA's weights when they are the run's best (timm prefers it)
EMA_OTHER = "ema"  # the EMA's weights when the model's are the best (timm ignores this key)
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def read_state(path: str | os.PathLike) -> Any:
    """The unpickled contents of a torch file, loaded with `weights_only=True`: tensors and
    plain data only. ConfigError (one line) when the file is missing, unreadable, or carries a
    pickled object that loading would have to construct."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("checkpoint not found", source=str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        text = str(e).strip()
        found = _GLOBAL.search(text)
        refused = found or "weights only" in text.lower()
        what = _what_it_is(path)
        if what is None and isinstance(e, pickle.UnpicklingError) and refused:
            what = f" ({found[1]})" if found else ""
            raise ConfigError(
                f"refused: the file carries a pickled Python object{what} that loading could "
                f"run code for; a checkpoint must hold only tensors and plain data",
                source=str(path),
            ) from None
        if what is None:  # begins as torch.save's files do
            what = (
                "a zip archive torch.save did not write, or a damaged one"
                if zipfile.is_zipfile(path)
                else "a torch file cut short or damaged"
            )
        raise ConfigError(f"not a readable nas checkpoint: {what}", source=str(path)) from None


def _what_it_is(path: Path) -> str | None:
    """What a file torch could not load is, told by its first bytes rather than by torch's
    error (`IndexError`, `OSError: [Errno 22]` say nothing to the user); None when it begins
    as torch.save's files do (a zip archive, or a pickle: the legacy format)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        return f"the file cannot be read ({e.strerror})"
    if not head:
        return "the file is empty"
    if head == b"PK\x03\x04" or head[0] == 0x80:
        return None
    return "not a file torch.save wrote"


def is_nas_checkpoint(state: Any) -> bool:
    return isinstance(state, dict) and isinstance(state.get("spec"), dict) and STATE_DICT in state


def checkpoint_spec(state: dict[str, Any], *, source: str = "") -> ArchSpec:
    """The architecture a nas-train checkpoint trained (its classes and resolution)."""
    if not is_nas_checkpoint(state):
        raise ConfigError(
            "not a nas-train checkpoint (no 'spec' and 'state_dict'); give the architecture "
            "with spec=",
            source=source or None,
        )
    try:
        return ArchSpec.from_dict(state["spec"])
    except ConfigError as e:
        raise e.within(source=source or None, prefix="spec") from None


def best_weights(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights timm loads from this checkpoint: the EMA's when the run reported them as
    its best, else the model's ("module." prefixes of the EMA wrapper removed)."""
    weights = state.get(EMA_BEST) or state[STATE_DICT]
    return {k.removeprefix("module."): v for k, v in weights.items()}
