"""Tiny spaces, tiny proxies and tiny data: a whole search in seconds."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from nas.search import attrs
from nas.train.proxy_config import ProxyConfig
from tests.helpers import needs_fmnist, tiny_spec  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parents[2]

# 16 architectures at 32px, from 97K to 598K FLOPs; conv and attention in stage 2.
TINY_SPACE = """\
# tiny: two stages of width 8 or 16, conv or attention in stage 2
resolution: 32
params:
  width: {choice: [8, 16]}
stem: {type: conv1, patch_size: 4}
head: {norm: true, pool: fast}
stages:
  - width: {param: width}
    blocks: [[conv, {int: [1, 2]}]]
  - width: {param: width, times: 2}
    downsample: conv
    blocks: [[{choice: [conv, attn]}, {int: [1, 2]}]]
    heads: {param: width, div: 8}
"""
TINY_BUDGET = "300K"  # 9 of the 16 fit
TINY_PROXY = ProxyConfig(
    "test",
    epochs=2,
    resolution=32,
    train_images=128,
    val_images=64,
    batch_size=32,
    warmup_epochs=0.0,
    eval_batch_size=64,
)


@pytest.fixture
def tiny_space(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path


def write_proxy(path: Path, **fields: object) -> Path:
    base = {k: v for k, v in TINY_PROXY.to_dict().items() if k != "name"}
    path.write_text(yaml.safe_dump({**base, **fields}))
    return path


def cli_env() -> dict[str, str]:
    """Subprocesses import this checkout's `nas`, one thread each."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "nas.cli.search", *args]


def search_trial(
    width: int,
    accuracy: float,
    *,
    state: TrialState = TrialState.COMPLETE,
    curve: list[float] | None = None,
) -> optuna.trial.FrozenTrial:
    """A finished trial carrying the user attributes a real search sets (a tiny conv net of
    `width`, FLOPs 1000 x width), to build studies with Optuna directly."""
    spec = tiny_spec("conv", width=width, depth=1)
    flops = 1000 * width
    return create_trial(
        state=state,
        values=[accuracy, flops] if state == TrialState.COMPLETE else None,
        params={"width": width},
        distributions={"width": IntDistribution(8, 64)},
        user_attrs={
            attrs.ARCH_ID: spec.arch_id,
            attrs.SPEC: spec.to_dict(),
            attrs.FLOPS: flops,
            attrs.PARAMS: 10 * width,
            attrs.CURVE: curve or [accuracy],
            attrs.PROXY_ACCURACY: accuracy,
            attrs.FEASIBLE: True,
            attrs.TRAINED: True,
        },
    )
