"""The supernet's commands as functions: train into a folder (resuming what is there), and
open a checkpoint to score architectures.

Which subnets a training may draw is the caller's: a `Region` (the search's
`FeasibleRegion`, which sits above this package) gives the budget's largest and smallest
architectures and random feasible ones.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import torch

from nas._core import ConfigError
from nas.cost import closed_form
from nas.data.proxy import ProxyData, load_proxy_data
from nas.data.source import absolute_data, data_identity
from nas.space import ArchSpec, SearchSpace
from nas.space.io import read_yaml
from nas.train.device import pick_device
from nas.train.distributed import setup, teardown

from . import checkpoint
from .checkpoint import CHECKPOINT_NAME, SupernetState
from .net import Supernet, SupernetShape
from .recipe import RECIPES, SupernetRecipe, get_recipe
from .score import score_subnet
from .train import check_resumable, train_supernet

log = logging.getLogger(__name__)


class Region(Protocol):
    space: SearchSpace
    max_flops: int
    max_params: int | None

    def extreme_spec(self, which: str) -> ArchSpec: ...

    def draw(self, rng: random.Random) -> tuple[dict[str, Any], ArchSpec]: ...


def resolve_recipe(name: str, *, epochs: int | None = None) -> SupernetRecipe:
    """A preset by name or a YAML file of SupernetRecipe fields (unset ones: `cpu`'s)."""
    if name.endswith((".yaml", ".yml")):
        data = read_yaml(name)
        if not isinstance(data, dict):
            raise ConfigError("expected a mapping of recipe fields", source=name)
        data.setdefault("name", Path(name).stem)
        recipe = SupernetRecipe.from_dict({**RECIPES["cpu"].to_dict(), **data}, source=name)
    else:
        recipe = get_recipe(name)
    return recipe.replace(epochs=epochs) if epochs else recipe


def load_data(
    data: str, recipe: SupernetRecipe, *, data_seed: int, device: torch.device, **options: Any
) -> ProxyData:
    """The training images and the held-out ones (the same draw for training and scoring)."""
    return load_proxy_data(
        data,
        train_images=recipe.train_images,
        val_images=recipe.val_images,
        seed=data_seed,
        device=device,
        folder_size=2 * recipe.resolution,
        **options,
    )


def train_command(
    *,
    region: Region,
    data: str,
    out: Path,
    recipe: SupernetRecipe,
    seed: int = 0,
    data_seed: int = 0,
    device: str = "auto",
    skip_bad_images: bool = False,
    progress: bool = True,
    stop: Callable[[int], bool] | None = None,
) -> SupernetState:
    """Train (or resume, or report as done) the supernet of `region` in `out`."""
    space = region.space
    identity = {
        "data": absolute_data(data),  # nas-supernet score reads it, from any folder
        "data_identity": data_identity(data),
        "data_seed": data_seed,
        "seed": seed,
        "max_flops": region.max_flops,
        "max_params": region.max_params,
    }
    path = out / CHECKPOINT_NAME
    ctx = setup(device)
    try:
        images = load_data(
            data, recipe, data_seed=data_seed, device=ctx.device, skip_bad_images=skip_bad_images
        )
        shape = SupernetShape(
            resolution=recipe.resolution,
            width_scale=recipe.width_scale,
            num_classes=images.num_classes,
            in_chans=3,
        )
        wanted = SupernetState(space.name, space.content, shape, recipe, identity)
        resume = None
        if path.exists():
            supernet, state, resume = checkpoint.load(path)
            check_resumable(state, wanted, path)
            if state.done:
                log.info("%s is trained already (%d steps)", path, state.step)
                return state
            log.info("resuming %s at step %d", path, state.step)
        else:
            out.mkdir(parents=True, exist_ok=True)
            supernet, state = Supernet(space, shape, seed=seed), wanted
        return train_supernet(
            supernet,
            state,
            images,
            largest=largest_feasible(region, seed=seed),
            smallest=region.extreme_spec("cheapest"),
            draw=lambda rng: region.draw(rng)[1],
            out=out,
            ctx=ctx,
            resume=resume,
            stop=stop,
            progress=progress,
        )
    finally:
        teardown()


def largest_feasible(region: Region, *, seed: int = 0, draws: int = 2000) -> ArchSpec:
    """The sandwich rule's largest subnet under a budget: the most FLOPs among `draws` random
    architectures of the region (a budget has no one largest network; this one sits at its
    edge: 3.998 of 4 GFLOPs in the hybrid space)."""
    rng = random.Random(seed)
    specs = [region.draw(rng)[1] for _ in range(draws)]
    return max(specs, key=lambda s: closed_form(s).flops)


def open_for_scoring(
    path: str | Path, *, data: str | None = None, device: torch.device | str = "cpu"
) -> Callable[[ArchSpec], float]:
    """A function from an architecture of the supernet's space to its held-out top-1."""
    file = checkpoint.checkpoint_path(path)
    supernet, state, _ = checkpoint.load(file)
    if not state.done:
        log.warning("%s is a checkpoint of a training not finished (step %d)", file, state.step)
    device = pick_device(device) if isinstance(device, str) else device
    if data is not None and data_identity(data) != state.identity["data_identity"]:
        raise ConfigError(
            f"the supernet was trained on {state.identity['data']} "
            f"({state.identity['data_identity']}), not on {data} ({data_identity(data)}): its "
            "held-out images would not be held out",
            field="--data",
        )
    images = load_data(
        data or state.identity["data"],
        state.recipe,
        data_seed=state.identity["data_seed"],
        device=device,
    )
    supernet.to(device).eval()
    return lambda spec: score_subnet(supernet, spec, images, recipe=state.recipe)
