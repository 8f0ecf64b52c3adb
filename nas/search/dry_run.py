"""`nas-search --dry-run`: how much of the space fits the budget and what the run would cost.

The count is exact (`FeasibleRegion`: dynamic programming over stages on closed-form costs)
and comes first, in seconds and without importing torch; the time comes after, from a few
timed training steps of architectures drawn inside the region as a random search draws them.
Nothing is trained, no study is made and Optuna is never imported.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

from nas.cost import NoClosedForm
from nas.space import ArchSpec, check_resolution, load_space

from .config import SearchConfig
from .feasible import FeasibleRegion

TIMED = 3  # architectures whose training steps are timed for the estimate


def dry_run(
    *,
    space: str,
    budget: str,
    max_params: str | None = None,
    resolution: int | None = None,
    config: Callable[[], SearchConfig],
) -> Iterator[str]:
    """The report in parts: the region (count, extremes, per-choice ranges), then the run's
    estimated time (`config()` gives the search's configuration; it loads torch)."""
    loaded = load_space(space)
    if resolution is not None:
        resolution = check_resolution(resolution)
    try:
        region = FeasibleRegion(
            loaded, max_flops=budget, max_params=max_params, resolution=resolution
        )
    except NoClosedForm as e:
        yield (
            f"space {loaded.name!r}: the feasible region needs closed-form costs ({e}); a "
            f"search would measure every proposal with fvcore and skip those over budget"
        )
        return
    region.check()  # nothing fits: the same one-line error as the search itself
    yield region.summary()
    yield "\n".join(time_estimate(config(), region))


def feasible_samples(region: FeasibleRegion, *, n: int, seed: int) -> list[ArchSpec]:
    """`n` architectures drawn as a random search restricted to the region draws them
    (`FeasibleRegion.draw`: uniform over what fits)."""
    rng = random.Random(seed)
    return [region.draw(rng)[1] for _ in range(n)]


def time_estimate(cfg: SearchConfig, region: FeasibleRegion) -> list[str]:
    """Seconds per trained candidate: proxy training (timed steps) + the fvcore check."""
    from nas.cost import measure
    from nas.evaluate.forecast import run_seconds
    from nas.train.device import pick_device

    from .workers import share_the_cores

    device = pick_device(cfg.device)
    share_the_cores(cfg, device)  # timed as each worker will train: on its share of the cores
    specs = feasible_samples(region, n=TIMED, seed=cfg.seed)
    start = time.perf_counter()
    measure(specs[0])
    per_measure = time.perf_counter() - start
    train = sum(run_seconds(spec, cfg.proxy, device=device) for spec in specs) / len(specs)
    policy = cfg.repeat_policy
    seeds = 1 if policy.auto else policy.seeds
    per_candidate = seeds * train + per_measure
    wall = cfg.trials * per_candidate / cfg.workers  # the workers train candidates side by side
    lines = [
        f"  proxy {cfg.proxy.name}: about {train:.0f}s of training and {per_measure:.1f}s "
        f"of fvcore measuring per candidate (timed on {len(specs)} architectures sampled "
        f"in the region, {device.type})",
        f"  run: {cfg.trials} candidates x {per_candidate:.0f}s"
        + (f" ({seeds} seeds each)" if seeds > 1 else "")
        + f" / {cfg.workers} worker(s) = about {wall / 60:.1f} min",
    ]
    if cfg.timeout is not None and wall > cfg.timeout:
        lines.append(
            f"  --timeout {cfg.timeout / 60:.1f} min stops it first, after about "
            f"{int(cfg.timeout * cfg.workers / per_candidate)} candidates (re-run to "
            f"continue)"
        )
    if policy.auto:
        lines.append(
            f"  --repeats auto: candidates on or near the front train up to {policy.seeds} "
            f"seeds, up to {policy.seeds}x the time of those candidates"
        )
    return lines
