"""Full training of a search's top picks: `nas-train --from results/<study> --top K`.

Reads the study folder's contract (pareto.csv, archs/<arch_id>.yaml, run.yaml), picks K
Pareto members, trains each in `<study>/full/<arch_id>/` (one after another, or one per GPU),
appends their rows to `<study>/full_training.csv` and, once two or more have full results,
writes the proxy-fidelity report.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nas._core import NasError
from nas.report import StudyFolder, append_result, write_result
from nas.report.tables import FULL_TRAINING
from nas.space import ArchSpec, ConfigError

from .distributed import DistContext
from .full import FullTrainer, RunConfig
from .recipe import Recipe

log = logging.getLogger(__name__)

PARETO_COLUMNS = ("arch_id", "flops", "proxy_accuracy")


@dataclass(frozen=True)
class Study:
    root: Path
    pareto: pd.DataFrame
    run: dict[str, Any]

    @property
    def data(self) -> str | None:
        return self.run.get("data")

    @property
    def resolution(self) -> int | None:
        return self.run.get("resolution")

    @property
    def classes(self) -> int | tuple[str, ...] | None:
        """The study's class subset (`--classes`): full training learns the same classes."""
        from nas.data.classes import parse_classes

        return parse_classes(self.run.get("classes"))

    @property
    def folder(self) -> StudyFolder:
        return StudyFolder(self.root)

    @property
    def results_csv(self) -> Path:
        return self.folder.full_training_csv

    def spec(self, arch_id: str) -> ArchSpec:
        return self.folder.arch(arch_id)

    def run_dir(self, arch_id: str, output: Path | None = None) -> Path:
        return (output or self.folder.full_dir) / arch_id


def load_study(root: str | Path) -> Study:
    """A finished search's folder; a clear error naming what is missing."""
    folder = StudyFolder(root)
    if not folder.root.is_dir():
        raise ConfigError(
            "study folder not found (expected the output folder of nas-search)",
            source=str(folder.root),
        )
    pareto = folder.pareto()
    if pareto is None:
        raise ConfigError(f"no {folder.PARETO}: has the search finished?", source=str(folder.root))
    missing = [c for c in PARETO_COLUMNS if c not in pareto]
    if missing:
        raise ConfigError(f"missing column(s) {', '.join(missing)}", source=str(folder.pareto_csv))
    return Study(folder.root, pareto, folder.run())


def pick_top(pareto: pd.DataFrame, k: int) -> pd.DataFrame:
    """K members of the front: the best proxy accuracy in each of K equal-width bands of
    log(FLOPs) spanning the front, so the picks cover its cheap and its costly end. Bands left
    empty by a gappy front are filled with the best remaining members. Sorted by FLOPs."""
    if k < 1:
        raise ConfigError(f"expected at least 1, got {k}", field="--top")
    front = pareto.dropna(subset=["flops", "proxy_accuracy"]).drop_duplicates("arch_id")
    if len(front) <= k:
        return front.sort_values("flops").reset_index(drop=True)
    logf = np.log(front.flops.astype(float).to_numpy())
    edges = np.linspace(logf.min(), logf.max(), k + 1)
    band = np.clip(np.searchsorted(edges, logf, side="right") - 1, 0, k - 1)
    ranked = front.assign(band=band).sort_values(
        ["proxy_accuracy", "flops"], ascending=[False, True]
    )
    picks = ranked.groupby("band").head(1)
    if len(picks) < k:
        rest = ranked[~ranked.arch_id.isin(picks.arch_id)]
        picks = pd.concat([picks, rest.head(k - len(picks))])
    return picks.drop(columns="band").sort_values("flops").reset_index(drop=True)


def train_and_record(
    spec: ArchSpec,
    *,
    name: str,
    recipe: Recipe,
    config: RunConfig,
    ctx: DistContext,
    results_csv: Path,
) -> dict[str, Any]:
    """Train (or resume, or find finished) one run; record its row once."""
    trainer = FullTrainer(spec, name=name, recipe=recipe, config=config, ctx=ctx)
    result = FULL_TRAINING.check_row(trainer.fit())  # a value for every column, no other
    if ctx.is_main:
        write_result(config.run_dir, result)
        if append_result(result, results_csv) and config.progress:
            log.info("%s: top-1 %.2f%% -> %s", name, result["top1"], results_csv)
    return result


def train_picks(
    study: Study, arch_ids: list[str], *, recipe: Recipe, config_for: Any, ctx: DistContext
) -> list[str]:
    """Train the picks one after another (all processes on each under torchrun); the arch_ids
    that failed (a failure does not stop the others)."""
    failed = []
    for arch_id in arch_ids:
        try:
            train_and_record(
                study.spec(arch_id),
                name=arch_id,
                recipe=recipe,
                config=config_for(arch_id),
                ctx=ctx,
                results_csv=study.results_csv,
            )
        except Exception as e:  # one broken pick must not cost the others their training
            if isinstance(e, NasError) and len(arch_ids) == 1:
                raise
            log.error("nas-train: %s failed: %s", arch_id, e, exc_info=True)
            failed.append(arch_id)
    return failed


def launch_per_gpu(
    arch_ids: list[str], *, argv: list[str], gpus: int, log_dir_for: Any
) -> list[str]:
    """One child `nas-train ... --pick ARCH` per GPU, a queue when there are more picks than
    GPUs; each child's output goes to <run dir>/train.log. Returns the arch_ids that failed."""
    queue, running, failed = list(arch_ids), {}, []
    while queue or running:
        free = [g for g in range(gpus) if g not in running]
        while queue and free:
            arch_id, gpu = queue.pop(0), free.pop(0)
            log_path = Path(log_dir_for(arch_id)) / "train.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": str(gpu)}
            cmd = [sys.executable, "-m", "nas.cli.train", *argv, "--pick", arch_id]
            with open(log_path, "ab") as child_log:
                proc = subprocess.Popen(cmd, env=env, stdout=child_log, stderr=subprocess.STDOUT)
            running[gpu] = (arch_id, proc)
            log.info("%s: training on GPU %d (log %s)", arch_id, gpu, log_path)
        time.sleep(0.5)
        for gpu, (arch_id, proc) in list(running.items()):
            if proc.poll() is not None:
                del running[gpu]
                ok = proc.returncode == 0
                log.info("%s: %s", arch_id, "done" if ok else f"failed (exit {proc.returncode})")
                if not ok:
                    failed.append(arch_id)
    return failed


def study_summary_lines(study: Study, picks: pd.DataFrame) -> list[str]:
    from nas.cost import format_amount

    lines = [f"{len(picks)} pick(s) of {len(study.pareto)} Pareto member(s) in {study.root}:"]
    for r in picks.itertuples():
        lines.append(
            f"  {r.arch_id}  {format_amount(r.flops):>12}  proxy accuracy {r.proxy_accuracy:.4f}"
        )
    return lines


def run_study(
    root: str | Path,
    *,
    top: int,
    pick: str | None,
    recipe: Recipe,
    config: RunConfig,
    ctx: DistContext,
    output: Path | None = None,
    argv: list[str] | None = None,
    parallel: str = "auto",
) -> int:
    """Train a study's picks and write its fidelity report; the exit code (1: some failed)."""
    import dataclasses

    import torch

    from nas.report.fidelity import verdict, write_fidelity

    study = load_study(root)
    if pick is not None:
        study.spec(pick)  # fails clearly when the study has no such architecture
        arch_ids = [pick]
    else:
        picks = pick_top(study.pareto, top)
        arch_ids = list(picks.arch_id)
        if len(picks) < top and ctx.is_main:
            log.warning(
                "nas-train: warning: --top %d, but the study's Pareto front has %d member(s): "
                "training %d",
                top,
                len(picks),
                len(picks),
            )
        if ctx.is_main and config.progress:
            log.info("%s", "\n".join(study_summary_lines(study, picks)))

    def config_for(arch_id: str) -> RunConfig:
        return dataclasses.replace(config, run_dir=study.run_dir(arch_id, output))

    gpus = torch.cuda.device_count() if ctx.device.type == "cuda" else 0
    per_gpu = (
        parallel == "auto"
        and pick is None
        and not ctx.distributed
        and gpus > 1
        and len(arch_ids) > 1
        and argv is not None
    )
    if per_gpu:
        failed = launch_per_gpu(
            arch_ids, argv=argv or [], gpus=gpus, log_dir_for=lambda a: config_for(a).run_dir
        )
    else:
        failed = train_picks(study, arch_ids, recipe=recipe, config_for=config_for, ctx=ctx)
    if ctx.is_main:
        fid = write_fidelity(study.root)
        if fid is not None and config.progress:
            log.info(
                "proxy fidelity over %d architectures: Kendall tau %.3f, Spearman rho %.3f "
                "-> %s\n%s",
                fid.n,
                fid.kendall_tau,
                fid.spearman_rho,
                study.folder.fidelity_md,
                verdict(fid),
            )
    if failed:
        log.error(
            "nas-train: %d pick(s) failed: %s; re-run the same command to retry them "
            "(finished ones are kept)",
            len(failed),
            ", ".join(failed),
        )
    return 1 if failed else 0
