"""Reading pickled data batches (CIFAR's python batches, Downsampled ImageNet's originals)
without letting a file run code: only numpy's array reconstruction may be called."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from nas.space import ConfigError

_ALLOWED = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # bytes in a protocol-2 pickle written by Python 3
        *(
            (m, n)
            for m in ("numpy.core.multiarray", "numpy._core.multiarray")
            for n in ("_reconstruct", "scalar")
        ),
    }
)


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load_batch(path: Path, *, expected: str) -> dict[str, Any]:
    """The dict a batch file pickles, its bytes keys as str; one line naming the file and
    `expected` (what the file should have been) when it is anything else."""
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, OSError, ValueError) as e:
        raise ConfigError(
            f"cannot read this batch ({e}); expected {expected}", source=str(path)
        ) from None
    if not isinstance(batch, dict):
        raise ConfigError(f"expected {expected}", source=str(path))
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
