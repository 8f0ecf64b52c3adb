"""Simulated searches on a tabulated benchmark: the real search loop (the same samplers, the
budget-restricted sampler, the same objectives and trial records), with closed-form costs
instead of fvcore and, instead of proxy training, a surrogate's prediction plus the table's
measured seed noise. A 200-trial search takes seconds, so samplers and trial counts can be
compared over many repetitions (`scripts/bench_samplers.py`).

The table (`scripts/bench_hybrid.py` writes one) is a CSV whose `# key: value` header says
which space, budget, resolution and fidelity it measured; a search for another space or budget
is refused, since the surrogate knows nothing outside it.

With a pre-screen (`--prescreen SCORE:K`) the scores are real, taken on the table's data (its
`# data:` line) with the seconds they cost, and only the training is simulated: what a
pre-screen buys per hour can be measured (`scripts/bench_prescreen.py`).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, Trial

from nas._core import write_text_atomic
from nas.cost import closed_form
from nas.data.source import data_identity
from nas.report.stats import hypervolume_2d, pareto_mask, study_noise
from nas.space import ArchSpec, ConfigError, load_space
from nas.space.spec import spec_from_dict
from nas.train.device import pick_device
from nas.train.proxy import ProxyResult
from nas.train.proxy_config import ProxyConfig

from . import attrs
from .config import SearchConfig, make_config
from .feasible import FeasibleRegion
from .objective import Candidate, Objective, TrialFailed
from .prescreen import PinnedSampler
from .pruning import NoStopping
from .results import count, pareto_trials, trials_frame
from .samplers import make_sampler
from .surrogate import Surrogate

HEADER_KEYS = ("space", "max_flops", "resolution", "fidelity")
TRUE_ACCURACY = "true_accuracy"  # user attr of a simulated trial: the surrogate, noise-free


@dataclass
class BenchTable:
    """A tabulated benchmark: one row per architecture, accuracy per seed."""

    path: Path
    space: str
    max_flops: int
    resolution: int
    fidelity: str
    frame: pd.DataFrame  # arch_id, label, flops, params, acc_seed0, acc_seed1..., mean, spec
    header: dict[str, str] = field(default_factory=dict)

    @property
    def specs(self) -> list[ArchSpec]:
        return [spec_from_dict(json.loads(s)) for s in self.frame["spec"]]

    @property
    def seed_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c.startswith("acc_seed")]

    def noise(self) -> tuple[float, int]:
        """(seed std pooled over the rows with 2+ seeds, how many such rows)."""
        long = self.frame.melt(
            id_vars="arch_id", value_vars=self.seed_columns, var_name="seed", value_name="accuracy"
        ).dropna()
        sigma, repeated, measured = study_noise(long)
        return (sigma if measured else math.nan), repeated

    def search_config(self, out: str | os.PathLike, **options: object) -> SearchConfig:
        """The configuration of a simulated search on this table: its space (by name; a
        space file is given as `space=`) and budget, the proxy it tabulates (its `# proxy:`
        line; `cpu` for tables written before it), and `options` (trials, sampler, seed...)
        as nas-search's."""
        proxy = self.header.get("proxy")
        options = {"space": self.space, **options}
        return make_config(
            budget=self.max_flops,
            proxy=ProxyConfig(**json.loads(proxy)) if proxy else "cpu",
            device="cpu",
            out=out,
            **options,
        )

    def seconds_per_candidate(self) -> float:
        col = self.frame.get("seconds")
        return float(pd.to_numeric(col, errors="coerce").mean()) if col is not None else math.nan


def write_bench(
    path: str | os.PathLike, frame: pd.DataFrame, *, header: dict[str, object]
) -> Path:
    """The table with its `# key: value` header (what it measured, so nobody mistakes it for
    ImageNet accuracy)."""
    lines = [f"# {k}: {v}" for k, v in header.items()]
    return write_text_atomic(path, "\n".join(lines) + "\n" + frame.to_csv(index=False))


def read_bench(path: str | os.PathLike) -> BenchTable:
    path = Path(path)
    if not path.exists():
        raise ConfigError("file not found", source=str(path), field="--simulate")
    header = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            key, _, value = line[1:].partition(":")
            header[key.strip()] = value.strip()
    missing = [k for k in HEADER_KEYS if k not in header]
    if missing:
        raise ConfigError(
            f"not a benchmark table: its header lacks {', '.join(missing)} "
            f"(written by scripts/bench_hybrid.py)",
            source=str(path),
        )
    frame = pd.read_csv(path, comment="#")
    for col in ("arch_id", "spec", "mean"):
        if col not in frame:
            raise ConfigError(f"not a benchmark table: no {col!r} column", source=str(path))
    return BenchTable(
        path,
        header["space"],
        int(header["max_flops"]),
        int(header["resolution"]),
        header["fidelity"],
        frame,
        header,
    )


def check_table(bench: BenchTable, cfg: SearchConfig) -> None:
    want = (Path(cfg.space).stem, cfg.max_flops, cfg.resolution)
    have = (bench.space, bench.max_flops, bench.resolution)
    if want != have:
        raise ConfigError(
            f"the table measured space {have[0]!r} within {have[1]:,} FLOPs at {have[2]}px; "
            f"this search asks for space {want[0]!r} within {want[1]:,} FLOPs at {want[2]}px "
            f"(a surrogate knows nothing outside its table)",
            source=str(bench.path),
            field="--simulate",
        )
    if set(cfg.objectives) - {"accuracy", "flops", "params"}:
        raise ConfigError(
            "a simulated search knows accuracy, flops and params only", field="--objectives"
        )
    if cfg.prescreen is not None and "data" not in bench.header:
        raise ConfigError(
            "the table does not say which data it measured (a `# data:` line), and a "
            "pre-screen scores candidates on that data",
            source=str(bench.path),
            field="--prescreen",
        )
    if cfg.prescreen is not None and data_identity(cfg.data) != data_identity(
        bench.header["data"]
    ):
        raise ConfigError(
            f"the table measured {bench.header['data']}, this search's data is {cfg.data}: "
            "a pre-screen of a simulated search scores candidates on the table's data",
            source=str(bench.path),
            field="--data",
        )


class SimulatedObjective(Objective):
    """The search's objective with closed-form costs and surrogate 'training'."""

    def __init__(
        self, *, surrogate: Surrogate, noise: float, seconds: float, seed: int, **kwargs: object
    ):
        super().__init__(seed=seed, **kwargs)
        self.surrogate, self.noise, self.seconds = surrogate, noise, seconds

    def _count(self, trial: Trial, spec: ArchSpec) -> Candidate:
        cost = closed_form(spec)
        return Candidate(spec, cost.flops, cost.params)

    def _train(self, trial: Trial, cand: Candidate) -> ProxyResult:
        trial.set_user_attr(attrs.TRAINED, True)
        true = float(self.surrogate.predict([cand.spec])[0])
        rng = np.random.default_rng([self.seed, trial.number])
        accuracy = float(np.clip(true + rng.normal(0.0, self.noise), 0.0, 1.0))
        trial.set_user_attr(TRUE_ACCURACY, true)
        trial.set_user_attr(attrs.CURVE, [accuracy])
        trial.set_user_attr(attrs.PROXY_ACCURACY, accuracy)
        trial.set_user_attr(attrs.PROXY_SECONDS, self.seconds)
        return ProxyResult(accuracy=accuracy, curve=[accuracy], seconds=self.seconds)


@dataclass
class Simulation:
    study: optuna.Study
    trials: pd.DataFrame
    pareto: pd.DataFrame  # the front the run reports, with `true_accuracy`
    seconds: float  # wall time of the loop (sampler and surrogate), not of training


def simulate(
    cfg: SearchConfig,
    bench: BenchTable,
    *,
    surrogate: Surrogate | None = None,
    region: FeasibleRegion | None = None,
    write: bool = False,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
) -> Simulation:
    """One search of `cfg.trials` candidates on the table; deterministic for `cfg.seed`.
    `region`: the cfg's feasible region, built once by a caller that runs many searches (it
    takes seconds to build and holds only caches). `callbacks`: Optuna's, after each trial
    (a benchmark timing the sampler)."""
    import time

    check_table(bench, cfg)
    if surrogate is None:
        surrogate = Surrogate.fit(bench.specs, bench.frame["mean"].to_numpy(), seed=0)
    noise, _ = bench.noise()
    space = load_space(cfg.space)
    if region is None:
        region = FeasibleRegion(
            space, max_flops=cfg.max_flops, max_params=cfg.max_params, resolution=cfg.resolution
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        sampler = make_sampler(cfg.sampler, seed=cfg.seed, trials=cfg.trials, region=region)
        prescreener = None
        if cfg.prescreen is not None:  # the scores are taken for real: they cost seconds
            from .runner import make_prescreener

            sampler, prescreener = (
                PinnedSampler(sampler),
                make_prescreener(cfg, pick_device("cpu")),
            )
        study = optuna.create_study(directions=cfg.directions, sampler=sampler)
        objective = SimulatedObjective(
            surrogate=surrogate,
            noise=0.0 if math.isnan(noise) else noise,
            seconds=bench.seconds_per_candidate(),
            seed=cfg.seed,
            space=space,
            objectives=cfg.objectives,
            resolution=cfg.resolution,
            max_flops=cfg.max_flops,
            max_params=cfg.max_params,
            fidelity=None,
            data=None,
            stopping=NoStopping(),
            prescreen=prescreener,
        )
        start = time.perf_counter()
        study.optimize(
            objective, catch=(TrialFailed,), callbacks=[_stop_after(cfg.trials), *callbacks]
        )
        seconds = time.perf_counter() - start
    trials = study.get_trials(deepcopy=False)
    table = trials_frame(trials)
    table["true_accuracy"] = [t.user_attrs.get(TRUE_ACCURACY) for t in trials]
    front = {t.number for t in pareto_trials(study)}
    pareto = table[table["number"].isin(front)].sort_values("flops", kind="stable")
    if write:
        from .runner import write_reports

        write_reports(cfg, study)
    return Simulation(study, table, pareto, seconds)


def hypervolume_curve(trained: pd.DataFrame, *, max_flops: int, chance: float) -> list[float]:
    """After each trained candidate of a simulated search (`trials` rows in order): the
    hypervolume of (true accuracy, FLOPs) of the front the search would report then, chosen on
    its noisy accuracies as a real search chooses; reference point (chance, the budget)."""
    noisy = trained["proxy_accuracy"].to_numpy(float)
    true = trained[TRUE_ACCURACY].to_numpy(float)
    flops = trained["flops"].to_numpy(float)
    out = []
    for n in range(1, len(trained) + 1):
        front = pareto_mask(noisy[:n], flops[:n])
        out.append(
            hypervolume_2d(
                true[:n][front], flops[:n][front], ref_accuracy=chance, ref_cost=max_flops
            )
        )
    return out


def _stop_after(trials: int):
    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        counts = count(study.get_trials(deepcopy=False))
        if counts.evaluated >= trials or counts.total >= 10 * trials + 50:
            study.stop()

    return callback
