"""Shared fixtures: small threads, tiny specs."""

from __future__ import annotations

import os

# Before torch loads OpenMP: idle threads sleep instead of spinning, or in-process training
# slows 10-30x whenever another process (a test's subprocess, say) shares the two cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch

# Under pytest-xdist (pyproject's -n) each worker process gets its share of the cores: two
# single-threaded processes do more than two two-threaded ones fighting over two cores.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // _WORKERS)))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxy-data caches of a test go to a folder of its own, never to ~/.cache."""
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path_factory.mktemp("nas-cache")))
