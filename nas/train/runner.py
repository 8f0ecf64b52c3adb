"""`run_training`: the Python API of `nas-train`, one architecture or a study's picks.

    run_training(arch="spach_ms_s_patch4_224_hybrid", data="imagenet:/data/imagenet")
    run_training(study="results/hybrid-4GFLOPs", top=3)   # its Pareto picks, then fidelity

Under torchrun every process calls this; it sets up and tears down the process group itself.
Re-running the same call resumes from each run's checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.data.classes import Classes, parse_classes
from nas.report import StudyFolder
from nas.space import ArchSpec, ConfigError

from . import distributed
from .distributed import DistContext, accumulation_for
from .full import RunConfig
from .recipe import Recipe
from .study import load_study, run_study, train_and_record

DEFAULT_OUTPUT = Path("results/train")
DEFAULT_TOP = 2
# RunConfig fields a caller may set (the others follow from the call)
RUN_OPTIONS = (
    "workers",
    "accum_steps",
    "checkpoint_minutes",
    "seed",
    "precision",
    "grad_checkpointing",
    "steps_per_epoch",
)


def run_training(
    *,
    arch: str | ArchSpec | None = None,
    study: str | Path | None = None,
    data: str | None = None,
    classes: object = None,
    top: int | None = None,
    pick: str | None = None,
    output: str | Path | None = None,
    resolution: int | None = None,
    global_batch: int | None = None,
    resume: bool = False,
    device: str = "auto",
    parallel: str = "auto",
    progress: bool = True,
    recipe: Recipe | None = None,
    argv: list[str] | None = None,
    **run_options: Any,
) -> int:
    """Train `arch` (a preset, spec file or ArchSpec) on `data` (`classes`: a subset, as
    `--classes`), or `top` Pareto picks of the search folder `study` (data, classes and
    resolution default to the study's); the exit code (1: a
    pick failed). `run_options`: RUN_OPTIONS. `argv`: the command line, for the per-GPU child
    processes of a study run; None trains the picks in this process."""
    if (arch is None) == (study is None):
        raise ConfigError("give an architecture (--arch) or a study (--from), not both")
    unknown = sorted(set(run_options) - set(RUN_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; expected {RUN_OPTIONS}")
    ctx = distributed.setup(device)
    try:
        recipe = recipe or Recipe()
        if global_batch:
            run_options["accum_steps"] = accumulation_for(
                global_batch, batch_size=recipe.batch_size, world_size=ctx.world_size
            )
        common = dict(
            resume="required" if resume else "auto",
            progress=progress,
            resolution=resolution,
            **run_options,
        )
        output = Path(output) if output is not None else None
        if arch is not None:
            _check_arch_call(top=top, pick=pick, data=data)
            return _train_one(
                arch,
                data=data,
                classes=parse_classes(classes),
                output=output,
                recipe=recipe,
                ctx=ctx,
                **common,
            )
        return _train_study(
            study,
            data=data,
            classes=None if classes is None else parse_classes(classes),
            top=top,
            pick=pick,
            output=output,
            recipe=recipe,
            ctx=ctx,
            argv=argv,
            parallel=parallel,
            **common,
        )
    finally:
        distributed.teardown()


def _check_arch_call(*, top: int | None, pick: str | None, data: str | None) -> None:
    for flag, value in (("--top", top), ("--pick", pick)):
        if value is not None:
            raise ConfigError(
                "chooses among a study's Pareto members: give it with --from STUDY, not with "
                "--arch",
                field=flag,
            )
    if not data:
        raise ConfigError("give the data to train on", field="--data")


def _train_one(
    arch: str | ArchSpec,
    *,
    data: str,
    classes: Classes,
    output: Path | None,
    recipe: Recipe,
    ctx: DistContext,
    **common: Any,
) -> int:
    from nas.models import resolve_spec

    spec = resolve_spec(arch)
    output = output or DEFAULT_OUTPUT
    config = RunConfig(run_dir=output / spec.arch_id, data=data, classes=classes, **common)
    train_and_record(
        spec,
        name=run_name(arch),
        recipe=recipe,
        config=config,
        ctx=ctx,
        results_csv=StudyFolder(output).full_training_csv,
    )
    return 0


def _train_study(
    root: str | Path,
    *,
    data: str | None,
    classes: Classes,
    top: int | None,
    pick: str | None,
    output: Path | None,
    recipe: Recipe,
    ctx: DistContext,
    argv: list[str] | None,
    parallel: str,
    **common: Any,
) -> int:
    study = load_study(root)
    data = data or study.data
    if not data:
        raise ConfigError(
            "the study's run.yaml names no data; give --data", source=str(study.root)
        )
    common["resolution"] = common["resolution"] or study.resolution
    classes = study.classes if classes is None else classes
    config = RunConfig(run_dir=study.folder.full_dir, data=data, classes=classes, **common)
    return run_study(
        study.root,
        top=DEFAULT_TOP if top is None else top,
        pick=pick,
        recipe=recipe,
        config=config,
        ctx=ctx,
        output=output,
        argv=argv,
        parallel=parallel,
    )


def run_name(arch: str | ArchSpec) -> str:
    """The name a run carries: a spec file's stem, a preset's name, or the spec's arch_id."""
    if isinstance(arch, ArchSpec):
        return arch.arch_id
    path = Path(arch)
    return path.stem if path.suffix in (".yaml", ".yml") else str(arch).removeprefix("nas_")
