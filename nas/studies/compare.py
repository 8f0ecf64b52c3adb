"""`nas-compare`: architectures trained under one fidelity with several seeds, and every
accuracy with its noise.

The runs go through the evaluation engine into a resumable run table (`OUT/runs.jsonl`, or
with `storage` the table `compare/<OUT's folder name>` in that database, which several machines
share: `nas.studies._tables`); `compare.csv`, `compare.md` and `compare.png` are rebuilt from
that table. Seeds are shared: seed k of every
model starts from the same random stream and sees the same data in the same order, so two
models are compared by paired differences over seeds (a paired-t interval), which removes what
the seeds have in common. A suite (`--suite`) adds its findings: each comparison it names gets
a verdict that its interval supports — reproduced, contradicted, or inconclusive at this noise.
The report (the CSV, the markdown and the plot) is written by `compare_report`.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nas.evaluate import Fidelity, RunRequest, RunTable, run_all
from nas.report import StudyFolder
from nas.space import ConfigError, load_spec
from nas.train.proxy import proxy_spec
from nas.train.proxy_config import ProxyConfig

from ._anyway import write_anyway
from ._tables import run_table
from .compare_report import write_compare
from .suites import Model, Suite, load_suite

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompareConfig:
    archs: tuple[str, ...] = ()  # presets or spec files
    # searches' results folders: their Pareto fronts; the first one's members are judged
    # against the best of the rest (the other fronts and `archs`) at no more FLOPs
    from_studies: tuple[str, ...] = ()
    top: int | None = None  # of each front, K members picked as nas-train --top K picks
    suite: str | None = None
    findings: tuple[str, ...] = ()  # of the suite, only these findings and their models
    size: str | None = None
    proxy: str = "auto"  # a preset or YAML; with a suite, replaces its base fidelity
    data: str = "fashion-mnist"
    data_seed: int = 0
    seeds: int = 3
    workers: int = 1
    device: str = "auto"
    out: str | None = None
    margin: float | None = None  # overrides the suite's equivalence margins
    skip_bad_images: bool = False  # leave out images that cannot be decoded (else stop)
    retry_failed: bool = False  # train every failed run again (else only transient ones)
    storage: str | None = None  # a database URL for the run table (else OUT/runs.jsonl)

    @property
    def proxy_given(self) -> bool:
        """Whether --proxy names a fidelity (with a suite: one that replaces the suite's)."""
        return self.proxy not in ("", "auto", None)

    def out_dir(self, suite: Suite | None) -> Path:
        if self.out:
            return Path(self.out)
        if suite is not None:
            name = suite.name + (f"-{suite.size}" if suite.size else "")
        elif self.from_studies:
            name = "-".join(Path(s).name for s in self.from_studies)
        else:
            name = "-".join(Path(a).stem for a in self.archs)[:80]
        return Path("results") / "compare" / re.sub(r"[^A-Za-z0-9._-]+", "-", name)

    def table(self, suite: Suite | None) -> RunTable:
        """The comparison's run table: OUT/runs.jsonl, or `compare/<OUT's name>` in storage."""
        return run_table(self.out_dir(suite), storage=self.storage, kind="compare")


def resolve(cfg: CompareConfig) -> tuple[list[Model], Suite | None]:
    """The models to train, and the suite they come from (if any)."""
    from nas.train.device import pick_device
    from nas.train.proxy_config import get_proxy

    if not isinstance(cfg.seeds, int) or isinstance(cfg.seeds, bool) or cfg.seeds < 2:
        raise ConfigError(
            f"expected an integer >= 2 (a paired interval needs two), got {cfg.seeds!r}",
            field="--seeds",
        )
    proxy = get_proxy(cfg.proxy, device=pick_device(cfg.device), data=cfg.data)
    if cfg.suite:
        if cfg.archs or cfg.from_studies:
            raise ConfigError("give --suite or architectures, not both", field="--suite")
        suite = load_suite(cfg.suite, size=cfg.size, proxy=proxy if cfg.proxy_given else None)
        if cfg.findings:
            suite = suite.only(list(cfg.findings))
        return list(suite.models.values()), suite
    if cfg.findings:
        raise ConfigError("--findings picks a suite's findings; give --suite", field="--findings")
    if cfg.size:
        raise ConfigError("--size picks a suite's size; give --suite", field="--size")
    if cfg.top is not None and not cfg.from_studies:
        raise ConfigError("--top picks members of a search's front; give --from", field="--top")
    models = [_model(a, proxy) for a in cfg.archs]
    for i, study in enumerate(cfg.from_studies):
        known = {m.spec.arch_id for m in models}
        front = _front(Path(study), proxy, top=cfg.top, picks=i == 0)
        models += [m for m in front if m.spec.arch_id not in known]  # on two fronts: the first's
    if len(models) < 2:
        raise ConfigError(
            "expected at least two architectures to compare (presets, spec "
            "files, --from STUDY or --suite)",
            field="ARCH",
        )
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ConfigError(f"an architecture is named twice: {names}", field="ARCH")
    return models, None


def _model(arch: str, proxy: ProxyConfig) -> Model:
    if arch.endswith((".yaml", ".yml")) or Path(arch).exists():
        return Model(Path(arch).stem, load_spec(arch), arch, proxy)
    from nas.models import get_preset

    return Model(arch.removeprefix("nas_"), get_preset(arch), arch, proxy)


def _front(study: Path, proxy: ProxyConfig, *, top: int | None, picks: bool) -> list[Model]:
    folder = StudyFolder(study)
    archs = folder.arch_files()
    if not archs:
        raise ConfigError(
            f"no Pareto members ({StudyFolder.ARCHS}/*.yaml) in this results folder",
            field="--from",
            source=str(study),
        )
    if top is not None:
        from nas.train.study import load_study, pick_top

        picked = set(pick_top(load_study(study).pareto, top)["arch_id"])
        archs = [p for p in archs if p.stem in picked]
    return [Model(p.stem, load_spec(p), str(p), proxy, pick=picks) for p in archs]


def requests(models: list[Model], cfg: CompareConfig) -> list[RunRequest]:
    """Seed by seed over the models: a stopped comparison has whole seeds of every model."""
    return [
        RunRequest(
            m.spec, Fidelity(m.proxy, cfg.data, cfg.data_seed), seed, label=m.name, train_eval=True
        )
        for seed in range(cfg.seeds)
        for m in models
    ]


def elsewhere(models: list[Model], cfg: CompareConfig, table: RunTable) -> str:
    """A line when the table holds finished runs of these models under other fidelities
    only: an old folder resumed after a default moved (`auto` on CIFAR data became
    `cpu-cifar`) would otherwise train everything again without a word."""
    wanted = {r.key for r in requests(models, cfg)}
    if wanted & table.keys():
        return ""
    archs = {arch for arch, _, _ in wanted}
    other = Counter(
        r.fidelity
        for r in table.records()
        if r.status == "ok" and r.arch_id in archs and r.key not in wanted
    )
    if not other:
        return ""
    found = ", ".join(f"{n} runs under `{name}`" for name, n in other.most_common())
    planned = sorted({m.proxy.name for m in models})
    return (
        f"{table.where} holds {found} of these models and none under this comparison's "
        f"fidelity ({', '.join(planned)}), so every run is trained again; to report the runs "
        f"it has, give the --proxy (and --data) they were made with"
    )


def run_compare(cfg: CompareConfig, *, progress: bool = True, command: str = "") -> Path:
    models, suite = resolve(cfg)
    out = cfg.out_dir(suite)
    table = cfg.table(suite)
    if notice := elsewhere(models, cfg, table):
        log.warning(notice)
    start = time.monotonic()
    stopped_by = None
    try:
        run_all(
            requests(models, cfg),
            table=table,
            workers=cfg.workers,
            device=cfg.device,
            progress=progress,
            label=f"compare {suite.name if suite else ''}".strip(),
            data_options={"skip_bad_images": cfg.skip_bad_images},
            retry_failed=cfg.retry_failed,
        )
    except BaseException as e:
        stopped_by = e
        raise
    finally:
        write_anyway(
            lambda: write_compare(
                models, suite, table, out, cfg=cfg, command=command, wall=time.monotonic() - start
            ),
            stopped_by=stopped_by,
        )
    return out


def forecast(models: list[Model], suite: Suite | None, cfg: CompareConfig) -> list[str]:
    """The models, the grid each trains at, and the estimated time of what is left."""
    from nas.evaluate.forecast import run_seconds
    from nas.train.device import pick_device

    device = pick_device(cfg.device)
    table = cfg.table(suite)
    done = table.keys() - table.to_retry(retry_failed=cfg.retry_failed)
    lines, total = [], 0.0
    for m in models:
        reqs = [r for r in requests([m], cfg) if r.key not in done]
        trained = proxy_spec(m.spec, cfg=m.proxy, num_classes=10)
        secs = run_seconds(m.spec, m.proxy, device=device) if reqs else 0.0
        total += secs * len(reqs)
        grid = " → ".join(f"{s}×{s}" for s in trained.feature_sizes())
        lines.append(
            f"  {m.name:<28} {m.proxy.name} at {trained.resolution}px ({grid}): "
            f"{len(reqs)} runs left, ~{secs:.0f}s each"
        )
    lines.append(
        f"  in all about {total / 3600 / cfg.workers:.2f} h with {cfg.workers} "
        f"worker(s) on {device.type}"
    )
    if notice := elsewhere(models, cfg, table):
        lines.append(f"  note: {notice}")
    return lines
