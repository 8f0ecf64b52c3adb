"""Where a result came from: library versions, git commit, host, device."""

from __future__ import annotations

import datetime
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("nas", "torch", "timm", "optuna", "fvcore", "pandas", "numpy")


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """The commit of the checkout holding `nas` (and whether it has uncommitted changes)."""
    root = path or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "-uno"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}
    return {"sha": sha, "dirty": bool(dirty)}


def provenance(device: Any = "cpu") -> dict[str, Any]:
    from nas.train.device import device_description  # loads torch: only when asked

    return {
        "versions": library_versions(),
        "git": git_commit(),
        "host": socket.gethostname(),
        "device": device_description(device),
        "time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
