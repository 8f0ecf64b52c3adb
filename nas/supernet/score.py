"""A subnet's accuracy with the weights it inherits from the supernet: what the `supernet:`
fidelity reports and the search ranks by.

Batch-norm statistics are a property of one network, not of the shared weights, so they are
recomputed for each subnet on training images before it is judged (Once-for-All, sec. 3.3).
Only the deep stem has batch norm in the SPACH blocks; elsewhere this costs nothing.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nas._core import ConfigError
from nas.data.proxy import ProxyData
from nas.data.source import data_identity
from nas.models import NasNet
from nas.space import ArchSpec
from nas.train.device import memory_format
from nas.train.proxy import evaluate
from nas.train.proxy_config import SUPERNET_PREFIX, ProxyConfig

from . import checkpoint
from .checkpoint import SupernetState
from .net import Supernet
from .recipe import SupernetRecipe


def score_subnet(
    supernet: Supernet,
    spec: ArchSpec,
    data: ProxyData,
    *,
    recipe: SupernetRecipe,
    check: bool = True,
) -> float:
    """Top-1 of `spec`'s subnet on the data's held-out images."""
    model = supernet.extract(spec, check=check)
    model.to(data.device)
    recalibrate_batch_norm(model, data, images=recipe.bn_images, batch_size=recipe.eval_batch_size)
    return evaluate(model, data, batch_size=recipe.eval_batch_size)


@torch.no_grad()
def recalibrate_batch_norm(
    model: NasNet, data: ProxyData, *, images: int, batch_size: int
) -> None:
    """Running statistics of every batch norm recomputed as the plain average over `images`
    training images (no augmentation)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or images == 0:
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    res, chans = model.spec.resolution, model.spec.in_chans
    fmt = memory_format(data.device)
    for x in data.train_x[:images].split(batch_size):
        model(data.prepare(x, resolution=res, in_chans=chans, memory_format=fmt))
    model.eval()


_OPEN: dict[str, tuple[Supernet, SupernetState]] = {}  # by checkpoint hash, per process


def score_for_fidelity(
    spec: ArchSpec, proxy: ProxyConfig, images: ProxyData, *, data: str, data_seed: int
) -> float:
    """The `supernet:` fidelity's accuracy of `spec`: the checkpoint is opened once per
    process, and must still be the one the fidelity names (its hash) and have been trained on
    this data's identity and draw (else its held-out images would not be held out)."""
    path = proxy.name.removeprefix(SUPERNET_PREFIX)
    if proxy.supernet not in _OPEN:
        if not Path(path).is_file():
            raise ConfigError(
                "the supernet checkpoint is missing (its sidecar is here, so its finished "
                "scorings can be reported, but a new architecture needs the weights)",
                source=path,
            )
        digest = checkpoint.file_hash(path)
        if digest != proxy.supernet:
            raise ConfigError(
                f"the supernet checkpoint changed (hash {digest}, the study's is "
                f"{proxy.supernet}); score with a copy of the one the study began with, or "
                "start another --out",
                source=path,
            )
        supernet, state, _ = checkpoint.load(path)
        _OPEN.clear()  # one at a time: each holds the whole space's weights
        _OPEN[proxy.supernet] = (supernet.to(images.device).eval(), state)
    supernet, state = _OPEN[proxy.supernet]
    ident = state.identity
    if (data_identity(data), data_seed) != (ident["data_identity"], ident["data_seed"]):
        raise ConfigError(
            f"the supernet was trained on {ident['data']} ({ident['data_identity']}, data seed "
            f"{ident['data_seed']}), not on {data} ({data_identity(data)}, data seed "
            f"{data_seed}): its held-out images would not be held out",
            field="--data",
        )
    return score_subnet(supernet, spec, images, recipe=state.recipe)
