"""Where a result came from: library versions, git commit, host, device.

The one `provenance()` of every results folder: a search's run.yaml, a training run's
config.json and checkpoint carry the same record.
"""

from __future__ import annotations

import datetime
import functools
import platform
import socket
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("torch", "timm", "optuna", "fvcore", "pandas", "numpy")


def library_versions() -> dict[str, str | None]:
    import nas  # the distribution is "budgeted-nas"; the version is the package's

    out: dict[str, str | None] = {"python": platform.python_version(), "nas": nas.__version__}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """The commit of the checkout holding `nas` (and whether it has uncommitted changes)."""
    return dict(_git_commit(path or Path(__file__).resolve().parents[2]))


@functools.lru_cache(maxsize=8)  # the code a process runs is the code it started with
def _git_commit(root: Path) -> dict[str, Any]:
    """Only a checkout whose top level holds `nas` counts: an installed package inside some
    repository's folder (a venv in a checkout) has no commit of its own."""
    try:
        top, sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.splitlines()
        if Path(top).resolve() != root.resolve():
            return {"sha": None, "dirty": None}
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "-uno"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError, ValueError):
        return {"sha": None, "dirty": None}
    return {"sha": sha, "dirty": bool(dirty)}


def git_sha(length: int = 12) -> str:
    """The commit of the checkout that ran, shortened ("" outside a git checkout)."""
    return (git_commit()["sha"] or "")[:length]


def device_description(device: Any) -> str:
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def provenance(device: Any = "cpu") -> dict[str, Any]:
    return {
        "versions": library_versions(),
        "git": git_commit(),
        "host": socket.gethostname(),
        "device": device_description(device),
        "time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def devices_of(values: Iterable[Any], fallback: str) -> str:
    """The devices a table's runs recorded, for its report: the reporting process may run
    elsewhere, or with other threads, than the runs did."""
    names = sorted({v for v in values if isinstance(v, str) and v})
    return ", ".join(names) or fallback
