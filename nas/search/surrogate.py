"""A surrogate of proxy accuracy, fitted on a tabulated benchmark of a space, for simulated
searches (`nas.search.simulate`): NAS-Bench-301's idea, on the user's own space and proxy.

`encode` turns any ArchSpec into a fixed-length vector of what the spec says (per stage: width,
depth, blocks of each mixer, the position of the first attention block, CPE, sharing, heads,
ratios, kernel; the stem and head; log FLOPs and params), so one encoding serves every space.
The model is scikit-learn's gradient boosting (an optional dependency: `pip install
'budgeted-nas[bench]'`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nas.cost import closed_form
from nas.space import MIXERS, ArchSpec, ConfigError
from nas.space.spec import DOWNSAMPLES, STEM_TYPES

MAX_STAGES = 4  # stages encoded one by one; further ones are summed into the last


def encode(spec: ArchSpec) -> np.ndarray:
    cost = closed_form(spec, fallback=True)
    head = [
        float(spec.head.norm),
        float(spec.head.pool == "fast"),
        math.log2(1 + spec.head.hidden),
    ]
    stem = [float(spec.stem.type == t) for t in STEM_TYPES]
    stem += [math.log2(spec.stem.patch_size), math.log2(1 + spec.stem.width)]
    stages = [_stage(s) for s in spec.stages[:MAX_STAGES]]
    if len(spec.stages) > MAX_STAGES:
        stages[-1] = list(np.sum([_stage(s) for s in spec.stages[MAX_STAGES - 1 :]], axis=0))
    stages += [[0.0] * len(stages[0])] * (MAX_STAGES - len(stages))
    flat = [v for s in stages for v in s]
    return np.array([*stem, *head, *flat, math.log(cost.flops), math.log(cost.params)])


def _stage(s) -> list[float]:
    counts = [float(s.mixers.count(m)) for m in MIXERS]
    first_attn = next((i for i, m in enumerate(s.mixers) if m in ("attn", "relattn")), s.depth)
    return [
        math.log2(s.width),
        float(s.depth),
        *counts,
        first_attn / s.depth,
        float(s.cpe),
        float(s.shared),
        float(s.heads),
        s.mlp_ratio,
        s.token_ratio,
        float(s.kernel_size),
        float(DOWNSAMPLES.index(s.downsample)),
    ]


def _regressor(seed: int):
    try:
        from sklearn.ensemble import GradientBoostingRegressor
    except ImportError:
        raise ConfigError(
            "the surrogate needs scikit-learn: pip install 'budgeted-nas[bench]'",
            field="--simulate",
        ) from None
    return GradientBoostingRegressor(
        n_estimators=300, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=seed
    )


@dataclass
class Surrogate:
    """Proxy accuracy predicted from the encoding."""

    model: object

    @classmethod
    def fit(cls, specs: Sequence[ArchSpec], accuracy: Sequence[float], *, seed: int = 0):
        model = _regressor(seed)
        model.fit(np.stack([encode(s) for s in specs]), np.asarray(accuracy, float))
        return cls(model)

    def predict(self, specs: Sequence[ArchSpec]) -> np.ndarray:
        return self.model.predict(np.stack([encode(s) for s in specs]))


@dataclass(frozen=True)
class HeldOut:
    kendall: float
    mae: float
    rmse: float
    folds: int


def cross_validate(
    specs: Sequence[ArchSpec], accuracy: Sequence[float], *, folds: int = 5, seed: int = 0
) -> tuple[HeldOut, np.ndarray]:
    """Held-out Kendall tau, MAE and RMSE of the surrogate over k folds, and the held-out
    predictions (in the order given)."""
    from nas.report.stats import kendall

    y = np.asarray(accuracy, float)
    order = np.random.default_rng(seed).permutation(len(y))
    predicted = np.empty(len(y))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        model = Surrogate.fit([specs[i] for i in train], y[train], seed=seed)
        predicted[test] = model.predict([specs[i] for i in test])
    err = predicted - y
    return (
        HeldOut(
            kendall(predicted, y),
            float(np.abs(err).mean()),
            float(np.sqrt((err**2).mean())),
            folds,
        ),
        predicted,
    )
