"""`nas-calibrate`: can the proxy's ranking be trusted, on this data and this hardware?

A calibration trains K architectures drawn over the feasible region (plus the space's presets
near the budget) under each proxy of a ladder with S seeds, and under a fixed reference
fidelity (one seed each, and S seeds on a few architectures to measure the reference's own
noise). Everything goes through the evaluation engine into a resumable run table
(`OUT/runs.jsonl`, or with `storage` the table `calibration/<OUT's folder name>` in that
database, which several machines share: `nas.studies._tables`); the report (`calibration.csv`,
`calibration.md`, `calibration.png`, `recommended.yaml`) is rebuilt from that table alone.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nas._core import write_text_atomic
from nas.cost import closed_form
from nas.evaluate import Fidelity, RunRequest, RunTable, run_all
from nas.search.feasible import FeasibleRegion
from nas.space import ConfigError, SearchSpace, load_space

from ._anyway import write_anyway
from ._tables import run_table
from .calibration_report import TARGET_TAU, Calibration, compute, write_report
from .draws import Drawn, draw_architectures, presets_near

REFERENCE_NOISE_ARCHS = 4  # architectures the reference is also trained with every seed
NOISE_SEEDS_FIRST = 2  # of those seeds, trained before the other architectures' one run


@dataclass(frozen=True)
class CalibrationPlan:
    space: SearchSpace
    max_flops: int
    archs: list[Drawn]
    proxies: list[Fidelity]
    reference: Fidelity
    seeds: int = 3
    noise_archs: list[str] = field(default_factory=list)  # arch_ids with reference seeds

    @classmethod
    def create(
        cls,
        *,
        region: FeasibleRegion,
        k: int,
        proxies: list[Fidelity],
        reference: Fidelity,
        seeds: int,
        draw_seed: int = 0,
        presets_within: float = 0.25,
    ) -> CalibrationPlan:
        archs = draw_architectures(region, k=k, seed=draw_seed)
        ids = {a.spec.arch_id for a in archs}
        archs += [
            p
            for p in presets_near(
                region.space,
                max_flops=region.max_flops,
                within=presets_within,
                resolution=region.resolution,
            )
            if p.spec.arch_id not in ids
        ]
        return cls(
            region.space,
            region.max_flops,
            archs,
            proxies,
            reference,
            seeds,
            _spread_by_flops(archs, REFERENCE_NOISE_ARCHS),
        )

    def requests(self) -> list[RunRequest]:
        """Seed by seed through the ladder (a stopped calibration has whole seeds of every
        proxy; `judged_first` then moves the architectures the reference has run ahead), then
        the reference: first two seeds of its noise architectures (its own
        signal/noise decides whether it can judge anything, so it is known before the rest is
        spent), then once per other architecture (a τ needs 8 architectures, so they come
        before the noise estimate is refined), then the noise architectures' other seeds."""
        out = [
            RunRequest(a.spec, f, seed, label=a.label)
            for seed in range(self.seeds)
            for f in self.proxies
            for a in self.archs
        ]
        noisy = [a for a in self.archs if a.spec.arch_id in self.noise_archs]
        first = min(self.seeds, NOISE_SEEDS_FIRST)
        out += [
            RunRequest(a.spec, self.reference, seed, label=a.label)
            for seed in range(first)
            for a in noisy
        ]
        out += [
            RunRequest(a.spec, self.reference, 0, label=a.label)
            for a in self.archs
            if a.spec.arch_id not in self.noise_archs
        ]
        out += [
            RunRequest(a.spec, self.reference, seed, label=a.label)
            for seed in range(first, self.seeds)
            for a in noisy
        ]
        return out


def selected(plan: CalibrationPlan, only: tuple[str, ...]) -> list[RunRequest]:
    """The plan's requests of the fidelities named in `only` (all when empty): a user with an
    hour to spare can spend it where the report needs it most, e.g. on the reference. A
    fidelity is named by its name, or spelled as in --proxies (a file, `zc:NAME`,
    `supernet:FOLDER`)."""
    if not only:
        return plan.requests()
    names = {f.name: f.fidelity_id for f in plan.proxies}
    names["reference"] = names[plan.reference.name] = plan.reference.fidelity_id
    ids = {n: names.get(n) or _spelled(plan, n) for n in only}
    unknown = [n for n, i in ids.items() if i not in names.values()]
    if unknown:
        raise ConfigError(
            f"unknown fidelity {unknown[0]!r}; expected one of {', '.join(sorted(names))}",
            field="--only",
        )
    return [r for r in plan.requests() if r.fidelity.fidelity_id in ids.values()]


def judged_first(
    requests: list[RunRequest], table: RunTable, reference: Fidelity
) -> list[RunRequest]:
    """Every seed of the ladder on the architectures the reference has already trained, seed
    by seed, before the others; the reference's runs after, in their order. A τ needs both
    runs of an architecture: on a long calibration whose reference is still under way, the
    ladder's first hours then buy every proxy's τ (of its seed means) and seed-vs-seed τ over
    the judged architectures, not runs no reference can judge yet."""
    ref_id = reference.fidelity_id
    judged = {r.arch_id for r in table.records() if r.fidelity_id == ref_id and r.status == "ok"}
    ladder = [r for r in requests if r.fidelity.fidelity_id != ref_id]
    rest = [r for r in requests if r.fidelity.fidelity_id == ref_id]
    ladder.sort(key=lambda r: (r.spec.arch_id not in judged, r.seed))  # stable
    return ladder + rest


def _spelled(plan: CalibrationPlan, spelling: str) -> str | None:
    """The fidelity id of a proxy spelled as in --proxies, on the plan's data; None if it
    spells none."""
    import torch

    from nas.train.proxy_config import get_proxy

    try:
        proxy = get_proxy(spelling, device=torch.device("cpu"), data=plan.reference.data)
    except ConfigError:
        return None
    ref = plan.reference
    return Fidelity(proxy, ref.data, ref.data_seed, ref.classes).fidelity_id


def _spread_by_flops(archs: list[Drawn], n: int) -> list[str]:
    """n architectures evenly spaced in cost, cheapest and dearest included."""
    ranked = sorted(archs, key=lambda a: (a.flops, a.spec.arch_id))
    picks = np.unique(np.round(np.linspace(0, len(ranked) - 1, min(n, len(ranked)))))
    return [ranked[int(i)].spec.arch_id for i in picks]


# --- running it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationConfig:
    space: str
    budget: str
    proxies: tuple[str, ...] = ("auto",)  # preset names or YAML files (auto: `auto_proxy`)
    reference: str = "auto"  # a preset or YAML file (auto: `auto_reference`, by device and data)
    archs: int = 16
    seeds: int = 3
    data: str = "fashion-mnist"
    data_seed: int = 0
    draw_seed: int = 0
    resolution: int | None = None
    out: str | None = None
    workers: int = 1
    device: str = "auto"
    target: float = TARGET_TAU
    presets_within: float = 0.25
    only: tuple[str, ...] = ()  # fidelities to train now (names, or "reference"); () all
    skip_bad_images: bool = False  # leave out images that cannot be decoded (else stop)
    retry_failed: bool = False  # train every failed run again (else only transient ones)
    storage: str | None = None  # a database URL for the run table (else OUT/runs.jsonl)

    def out_dir(self) -> Path:
        return Path(
            self.out
            or Path("results") / "calibration" / f"{Path(self.space).stem}-{_slug(self.budget)}"
        )

    def table(self) -> RunTable:
        """The calibration's run table: OUT/runs.jsonl, or `calibration/<OUT's name>` in
        storage."""
        return run_table(self.out_dir(), storage=self.storage, kind="calibration")


def make_plan(cfg: CalibrationConfig) -> CalibrationPlan:
    from nas.train.device import pick_device
    from nas.train.proxy_config import auto_reference, get_proxy

    device = pick_device(cfg.device)
    space = load_space(cfg.space)
    region = FeasibleRegion(space, max_flops=cfg.budget, resolution=cfg.resolution)
    region.check()
    names = [n for n in cfg.proxies if n]
    if not names:
        raise ConfigError("expected at least one proxy", field="--proxies")
    proxies = [
        Fidelity(get_proxy(n, device=device, data=cfg.data), cfg.data, cfg.data_seed)
        for n in names
    ]
    ref_name = cfg.reference
    if ref_name in ("", "auto"):
        ref_name = auto_reference(device.type, cfg.data)
    reference = Fidelity(get_proxy(ref_name, device=device), cfg.data, cfg.data_seed)
    if reference.fidelity_id in {p.fidelity_id for p in proxies}:
        raise ConfigError(f"the reference {ref_name!r} is also in the ladder", field="--reference")
    for key, value, low in (("--archs", cfg.archs, 2), ("--seeds", cfg.seeds, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"expected an integer >= {low}, got {value!r}", field=key)
    plan = CalibrationPlan.create(
        region=region,
        k=cfg.archs,
        proxies=proxies,
        reference=reference,
        seeds=cfg.seeds,
        draw_seed=cfg.draw_seed,
        presets_within=cfg.presets_within,
    )
    return plan


def forecast(
    plan: CalibrationPlan,
    *,
    table: RunTable,
    workers: int,
    device: str = "auto",
    only: tuple[str, ...] = (),
    retry_failed: bool = False,
) -> list[str]:
    """Per fidelity: runs left and estimated hours (timed training steps of the median
    architecture, scaled by FLOPs at the proxy's resolution)."""
    from nas.evaluate.forecast import run_seconds
    from nas.train.device import pick_device
    from nas.train.proxy import proxy_spec

    dev = pick_device(device)
    done = table.keys() - table.to_retry(retry_failed=retry_failed)
    pending = [r for r in selected(plan, only) if r.key not in done]
    median = sorted(plan.archs, key=lambda a: a.flops)[len(plan.archs) // 2].spec
    lines, total = [], 0.0
    for f in [*plan.proxies, plan.reference]:
        mine = [r for r in pending if r.fidelity.fidelity_id == f.fidelity_id]
        if not mine:
            lines.append(f"  {f.describe()}: nothing left")
            continue
        base = run_seconds(median, f.proxy, device=dev)
        base_flops = closed_form(proxy_spec(median, cfg=f.proxy, num_classes=10)).flops
        secs = sum(
            base * closed_form(proxy_spec(r.spec, cfg=f.proxy, num_classes=10)).flops / base_flops
            for r in mine
        )
        total += secs
        lines.append(
            f"  {f.describe()}: {len(mine)} runs left, about {secs / 3600:.2f} h "
            f"({base:.0f}s for the median architecture)"
        )
    lines.append(
        f"  in all: {len(pending)} runs, about {total / 3600 / workers:.1f} h with "
        f"{workers} worker(s) on {dev.type} ({len(done)} runs already in "
        f"{table.where})"
    )
    return lines


def run_calibration(
    cfg: CalibrationConfig, *, progress: bool = True, command: str = ""
) -> Calibration:
    plan = make_plan(cfg)
    out = cfg.out_dir()
    table = cfg.table()
    reporter = _Reporter(plan, table, out, cfg=cfg, command=command)
    stopped_by = None
    try:
        run_all(
            judged_first(selected(plan, cfg.only), table, plan.reference),
            table=table,
            workers=cfg.workers,
            device=cfg.device,
            progress=progress,
            label=f"calibrate {plan.space.name}",
            on_record=reporter.maybe,
            data_options={"skip_bad_images": cfg.skip_bad_images},
            retry_failed=cfg.retry_failed,
        )
    except BaseException as e:
        stopped_by = e
        raise
    finally:
        cal = write_anyway(reporter.write, stopped_by=stopped_by)
    assert cal is not None  # written, or the error that stopped the runs was raised
    return cal


REPORT_EVERY_S = 600.0


class _Reporter:
    """Rewrites the report from the table at the end and every REPORT_EVERY_S meanwhile, so a
    long calibration can be read before it ends."""

    def __init__(
        self,
        plan: CalibrationPlan,
        table: RunTable,
        out: Path,
        *,
        cfg: CalibrationConfig,
        command: str,
    ):
        self.plan, self.table, self.out, self.cfg, self.command = plan, table, out, cfg, command
        self.last = time.monotonic()

    def maybe(self, record: object) -> None:
        if time.monotonic() - self.last > REPORT_EVERY_S:
            self.write()

    def write(self) -> Calibration:
        self.last = time.monotonic()
        return write_calibration(
            self.plan, self.table, self.out, cfg=self.cfg, command=self.command
        )


def write_calibration(
    plan: CalibrationPlan, table: RunTable, out: Path, *, cfg: CalibrationConfig, command: str = ""
) -> Calibration:
    """calibration.csv (every run of the plan), calibration.md, calibration.png,
    recommended.yaml: all from the table."""
    from nas.report.study_plots import plot_calibration

    fids = [f.fidelity_id for f in plan.proxies]
    ids = {a.spec.arch_id for a in plan.archs}
    runs = table.frame()
    runs = runs[
        runs["arch_id"].isin(ids) & runs["fidelity_id"].isin([*fids, plan.reference.fidelity_id])
    ]
    labels = {a.spec.arch_id: a.label for a in plan.archs}
    runs = runs.assign(label=runs["arch_id"].map(labels))
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "calibration.csv", runs.to_csv(index=False))
    cal = compute(runs, reference_id=plan.reference.fidelity_id, proxy_ids=fids, target=cfg.target)
    descriptions = {f.name: f.describe() for f in [*plan.proxies, plan.reference]}
    proxies = {f.fidelity_id: f.proxy.to_dict() for f in plan.proxies}
    write_report(
        out,
        cal=cal,
        runs=runs,
        header=_header(plan, cfg, runs, command, where=table.where),
        descriptions=descriptions,
        proxies=proxies,
    )
    if len(runs):
        plot_calibration(
            runs,
            proxies=[(f.fidelity_id, f.name, _caption(cal, f.fidelity_id)) for f in plan.proxies],
            reference_id=plan.reference.fidelity_id,
            path=out / "calibration.png",
            title=f"{plan.space.name} within {cfg.budget}: proxies vs {plan.reference.name}",
        )
    return cal


def _caption(cal: Calibration, fid: str) -> str:
    p = next((p for p in cal.proxies if p.fidelity_id == fid), None)
    return "" if p is None else f"τ {p.tau}, seed std {p.within_std:.3f}"


def _header(
    plan: CalibrationPlan, cfg: CalibrationConfig, runs: pd.DataFrame, command: str, *, where: str
) -> list[str]:
    from nas.report.provenance import devices_of, provenance

    prov = provenance(cfg.device if cfg.device != "auto" else "cpu")
    drawn = sum(a.label.startswith("draw") for a in plan.archs)
    short = f" (of {cfg.archs} asked: the draw found no more)" if drawn < cfg.archs else ""
    seconds = pd.to_numeric(runs["seconds"], errors="coerce").sum()
    git = prov["git"]
    sha = (git.get("sha") or "unknown")[:12] + (" (dirty)" if git.get("dirty") else "")
    return [
        f"# Calibration: `{plan.space.name}` within {cfg.budget}",
        "",
        f"Command: `{command or 'nas-calibrate'}`",
        "",
        f"Runs: {where}",
        "",
        f"{len(plan.archs)} architectures: {drawn} drawn over the feasible region{short} (cost "
        f"quartiles x dominant mixer, draw seed {cfg.draw_seed}) and "
        f"{len(plan.archs) - drawn} presets of the space within ±{cfg.presets_within:.0%} of "
        f"the budget; {plan.seeds} seeds per proxy (model init and batch order; the data subset "
        f"is fixed by data seed {cfg.data_seed}); the reference once per architecture and with "
        f"{plan.seeds} seeds on {len(plan.noise_archs)} of them. Data: {cfg.data}.",
        f"{len(runs)} runs, {seconds / 3600:.2f} h of training in all; ran on "
        f"{devices_of(runs.get('device', []), prov['device'])}, git "
        f"{sha}, {prov['time']}.",
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "", text) or "budget"
