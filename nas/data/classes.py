"""Class subsets (`--classes 100` or `--classes FILE`): ImageNet-100-style proxies.

A count draws that many classes with a fixed seed; a file lists them. The draw ranks every class
name by a SHA-1 of (seed, name) and keeps the first N: it depends on nothing but the names, so
it is the same under any numpy or torch version and the same for every source whose classes
have the same names (an ImageNet folder and Downsampled ImageNet with its `map_clsloc.txt` give
the same 100 wnids). The subset is part of a study's identity and travels into `nas-train
--from` through run.yaml.

Torch-free: `nas-search` checks `--classes` before it loads torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from nas.space import ConfigError

CLASS_DRAW_SEED = 0  # fixed: `--classes 100` names one task, whatever the run's seed

Classes = int | tuple[str, ...] | None  # a count, class names, or every class


def parse_classes(value: object) -> Classes:
    """`--classes` as given (an int, digits, a file path, a list of names) -> a count or a
    tuple of names; None or "" -> every class."""
    if value is None or value == "" or value == "all":
        return None
    if isinstance(value, bool):
        raise ConfigError(
            f"expected a number of classes or a file, got {value!r}", field="--classes"
        )
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        count = int(value)
        if count < 1:
            raise ConfigError(f"expected at least 1 class, got {count}", field="--classes")
        return count
    if isinstance(value, (list, tuple)):
        return _check_names([str(v) for v in value], source=None)
    return read_class_file(Path(str(value)))


def read_class_file(path: Path) -> tuple[str, ...]:
    """One class per line: its first word (a wnid, a folder name or a Downsampled ImageNet
    label id), so ILSVRC's `map_clsloc.txt` lines work too; `#` starts a comment."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            "file not found (expected a number of classes or a file listing them)",
            field="--classes",
            source=str(path),
        ) from None
    except OSError as e:
        raise ConfigError(
            f"cannot read: {e.strerror}", field="--classes", source=str(path)
        ) from None
    names = [
        line.split("#", 1)[0].split()[0]
        for line in text.splitlines()
        if line.split("#", 1)[0].strip()
    ]
    return _check_names(names, source=str(path))


def _check_names(names: list[str], *, source: str | None) -> tuple[str, ...]:
    if not names:
        raise ConfigError(
            "lists no classes (expected one class name per line)", field="--classes", source=source
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(
            f"classes listed twice: {', '.join(repeated[:5])}", field="--classes", source=source
        )
    return tuple(names)


def to_config(classes: Classes) -> int | list[str] | None:
    """The subset as JSON/YAML data (a study's fingerprint, run.yaml)."""
    return list(classes) if isinstance(classes, tuple) else classes


def describe(classes: Classes) -> str:
    if classes is None:
        return "all classes"
    return f"{classes if isinstance(classes, int) else len(classes)} classes"


def draw_classes(names: Sequence[str], count: int, *, seed: int = CLASS_DRAW_SEED) -> list[str]:
    """`count` of `names`, the same ones for the same names and seed (see the module doc)."""

    def rank(name: str) -> str:
        return hashlib.sha1(f"{seed}:{name}".encode()).hexdigest()

    return sorted(names, key=rank)[:count]


def select_classes(
    names: Sequence[str],
    classes: Classes,
    *,
    source: str,
    aliases: Mapping[str, str] | None = None,
) -> list[int]:
    """Positions in `names` (a source's classes in its own order) of the chosen classes,
    ascending, so labels keep the source's order. `aliases` maps other accepted spellings
    (Downsampled ImageNet's label ids) to names."""
    if classes is None:
        return list(range(len(names)))
    if isinstance(classes, int):
        if classes > len(names):
            raise ConfigError(
                f"asks for {classes} classes but {source} has {len(names)}", field="--classes"
            )
        chosen = set(draw_classes(names, classes))
        return [i for i, n in enumerate(names) if n in chosen]
    position = {n: i for i, n in enumerate(names)}
    aliases = aliases or {}
    wanted = [aliases.get(c, c) for c in classes]
    missing = [c for c, w in zip(classes, wanted) if w not in position]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ConfigError(
            f"{len(missing)} listed class(es) not in {source}: {shown}", field="--classes"
        )
    return sorted(position[w] for w in set(wanted))
