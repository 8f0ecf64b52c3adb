"""nas-train --arch PRESET|SPEC.yaml --data imagenet:PATH | --from results/<study> --top K

Full training with the DeiT/SPACH recipe (every value of nas.train.recipe.Recipe is an option).
Re-running the same command resumes from the run's last checkpoint. Several GPUs:
`torchrun --nproc_per_node N -m nas.cli.train ...` (multi-node: add torchrun's --nnodes,
--node_rank, --rdzv_backend c10d, --rdzv_endpoint HOST:PORT).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from pathlib import Path
from typing import Any

from .common import ArgumentParser, positive_int, run

ALIASES = {"auto_augment": ["--aa"]}  # DeiT's and timm's name for the RandAugment policy
HELP = {  # what the less obvious values mean; sources and units are in nas/train/recipe.py
    "warmup_epochs": "epochs of linear warmup from --warmup-lr",
    "batch_size": "images per process per step",
    "lr_base": "peak lr per --lr-base-size images of global batch, scaled linearly",
    "lr": "absolute peak lr, overriding the scaled --lr-base",
    "clip_grad": "max gradient norm",
    "auto_augment": "timm RandAugment policy; '' disables",
    "reprob": "random-erasing probability",
    "remode": "random-erasing fill",
    "mixup": "Mixup alpha; 0 disables",
    "cutmix": "CutMix alpha; 0 disables",
    "mixup_switch_prob": "chance of CutMix rather than Mixup",
    "smoothing": "label smoothing",
    "repeated_aug": "copies of each image spread over the processes (DeiT); 0 or 1 disables",
    "eval_crop_pct": "val center crop as a share of the resize",
    "drop_path": "stochastic depth; auto: by model size",
    "drop": "classifier dropout",
    "ema": "keep an EMA of the weights",
    "workers": "DataLoader processes per training process",
    "accum_steps": "micro-batches per optimiser update",
    "checkpoint_minutes": "also checkpoint inside an epoch this often (0: every update)",
    "precision": "auto | bf16 | fp16 | fp32 (auto: bf16 on GPU, fp32 on CPU)",
    "grad_checkpointing": "recompute activations in backward (less memory)",
    "steps_per_epoch": "cap on updates per epoch (smoke runs, benchmarks)",
}
EXIT_PREEMPTED = 143


def parser() -> argparse.ArgumentParser:
    from nas.data import data_help
    from nas.train.full import RunConfig
    from nas.train.runner import DEFAULT_OUTPUT, DEFAULT_TOP, RUN_OPTIONS

    p = ArgumentParser(prog="nas-train", description=__doc__.split("\n\n")[1].strip())
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--arch", metavar="PRESET|SPEC.yaml", help="one architecture to train")
    what.add_argument(
        "--from",
        dest="study",
        metavar="STUDY",
        help="a nas-search output folder: train its Pareto picks",
    )
    p.add_argument(
        "--top",
        type=int,
        help=f"with --from: how many picks (best proxy accuracy per log-FLOP band; "
        f"default {DEFAULT_TOP})",
    )
    p.add_argument(
        "--pick", metavar="ARCH_ID", help="with --from: train only this architecture of the study"
    )
    p.add_argument(
        "--data",
        help=data_help() + " (default with --from: the study's data)",
    )
    p.add_argument(
        "--classes",
        metavar="N|FILE",
        help="a class subset, as nas-search's "
        "(default with --from: the study's, else all classes)",
    )
    p.add_argument(
        "--output",
        type=Path,
        help=f"runs go to OUTPUT/<arch_id>/ (default {DEFAULT_OUTPUT}, or STUDY/full with --from)",
    )
    p.add_argument(
        "--resolution",
        type=int,
        help="training side in pixels (default: the study's target, else the spec's)",
    )
    p.add_argument(
        "--global-batch",
        type=positive_int,
        help="images per update over all processes; sets --accum-steps",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="require a checkpoint to continue (without it, one is continued when "
        "present and a fresh run starts otherwise)",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument(
        "--parallel",
        choices=("auto", "sequential"),
        default="auto",
        help="with --from and several GPUs (no torchrun): auto trains one pick per GPU at once",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or epoch lines")
    defaults = RunConfig(run_dir=Path("."))
    run_opts = p.add_argument_group("run")
    for name in RUN_OPTIONS:
        _add_field_option(run_opts, name, RunConfig, getattr(defaults, name))
    _add_recipe_options(p)
    return p


def _add_recipe_options(p: argparse.ArgumentParser) -> None:
    from nas.train.recipe import Recipe

    group = p.add_argument_group(
        "recipe", "DeiT/SPACH values (sources in nas/train/recipe.py); each overrides one value"
    )
    for f in dataclasses.fields(Recipe):
        _add_field_option(group, f.name, Recipe, f.default, dest=f"recipe.{f.name}")


def _add_field_option(
    group: Any, name: str, cls: type, default: Any, *, dest: str | None = None
) -> None:
    hint = typing.get_type_hints(cls)[name]
    flags = [f"--{name.replace('_', '-')}", *ALIASES.get(name, [])]
    dest = dest or name
    if hint is bool:
        group.add_argument(
            *flags,
            dest=dest,
            action=argparse.BooleanOptionalAction,
            default=None,
            help=_help(name, default),
        )
        return
    base = next(t for t in typing.get_args(hint) or (hint,) if t is not type(None))
    optional = type(None) in typing.get_args(hint)
    kind = _optional(base) if optional else base
    shown = "auto" if name == "drop_path" and default is None else default
    group.add_argument(
        *flags,
        dest=dest,
        type=kind,
        default=None,
        metavar=base.__name__.upper(),
        help=_help(name, shown),
    )


def _help(name: str, default: Any) -> str:
    return f"{HELP[name]} (default: {default})" if name in HELP else f"(default: {default})"


def _optional(kind: type):
    def parse(text: str) -> Any:
        return None if text.lower() in ("none", "auto", "") else kind(text)

    parse.__name__ = kind.__name__
    return parse


def main(argv: list[str] | None = None) -> int:
    return run("nas-train", _main, argv)


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    from nas.train.full import Preempted
    from nas.train.recipe import Recipe
    from nas.train.runner import RUN_OPTIONS, run_training

    given = {k: v for k, v in vars(args).items() if v is not None}
    recipe = Recipe(**{k.removeprefix("recipe."): v for k, v in given.items() if "." in k})
    try:
        return run_training(
            arch=args.arch,
            study=args.study,
            data=args.data,
            classes=args.classes,
            top=args.top,
            pick=args.pick,
            output=args.output,
            resolution=args.resolution,
            global_batch=args.global_batch,
            resume=args.resume,
            device=args.device,
            parallel=args.parallel,
            progress=not args.no_progress,
            recipe=recipe,
            argv=argv,
            **{k: v for k, v in given.items() if k in RUN_OPTIONS},
        )
    except Preempted as e:
        print(
            f"nas-train: stopped by SIGTERM; checkpoint {e}; re-run the same command to resume",
            file=sys.stderr,
        )
        return EXIT_PREEMPTED


if __name__ == "__main__":
    sys.exit(main())
