"""nas-supernet train | score | extract: one weight-sharing training ranks a whole space.

nas-supernet train --space hybrid --budget 4GFLOPs --data cifar10:PATH --out sn/
nas-supernet score sn/ spach_ms_xs_patch4_224_hybrid my_arch.yaml
nas-supernet extract sn/ my_arch.yaml --out my_arch.pt     # then nas-export --checkpoint
nas-search --space hybrid --budget 4GFLOPs --data cifar10:PATH --proxy supernet:sn/
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as nas-search: before torch loads

from .common import ArgumentParser, add_skip_bad_images, non_negative_int, positive_int, run


def parser() -> argparse.ArgumentParser:
    from nas.data import data_help
    from nas.supernet.recipe import RECIPES

    p = ArgumentParser(prog="nas-supernet", description=__doc__.split("\n\n")[0].strip())
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    t = sub.add_parser("train", help="train a supernet over a space's budget region")
    t.add_argument("--space", required=True, help="a shipped space by name, or a YAML file")
    t.add_argument("--budget", required=True, help="max FLOPs per image, e.g. 4GFLOPs")
    t.add_argument("--max-params", help="optional params budget, e.g. 30M")
    t.add_argument("--data", required=True, help=data_help())
    t.add_argument("--out", type=Path, required=True, help="folder of the checkpoint")
    t.add_argument(
        "--recipe",
        default="cpu",
        help=f"{', '.join(RECIPES)} (default cpu: the CIFAR-10 reference's resolution, widths "
        "and augmentation, 8 epochs) or a YAML file of SupernetRecipe fields",
    )
    t.add_argument("--epochs", type=positive_int, help="override the recipe's epochs")
    t.add_argument("--seed", type=non_negative_int, default=0, help="training seed (default 0)")
    t.add_argument("--data-seed", type=non_negative_int, default=0, help="seed of the data subset")
    t.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    add_skip_bad_images(t)
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    s = sub.add_parser("score", help="held-out accuracy of architectures with inherited weights")
    s.add_argument("supernet", help="a supernet checkpoint or the folder holding it")
    s.add_argument("archs", nargs="+", metavar="NAME|SPEC.yaml", help="presets or spec files")
    s.add_argument("--data", help="default: the data the supernet was trained on")
    s.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")

    e = sub.add_parser("extract", help="one subnet as a nas-train checkpoint (for nas-export)")
    e.add_argument("supernet", help="a supernet checkpoint or the folder holding it")
    e.add_argument("arch", metavar="NAME|SPEC.yaml", help="a preset or spec file")
    e.add_argument("--out", type=Path, required=True, help="the checkpoint file to write")
    return p


def main(argv: list[str] | None = None) -> int:
    return run("nas-supernet", _main, argv)


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    return {"train": _train, "score": _score, "extract": _extract}[args.command](args)


def _train(args: argparse.Namespace) -> int:
    from nas.search.feasible import FeasibleRegion
    from nas.space import load_space
    from nas.supernet.run import resolve_recipe, train_command

    region = FeasibleRegion(
        load_space(args.space), max_flops=args.budget, max_params=args.max_params
    )
    region.check()
    state = train_command(
        region=region,
        data=args.data,
        out=args.out,
        recipe=resolve_recipe(args.recipe, epochs=args.epochs),
        seed=args.seed,
        data_seed=args.data_seed,
        device=args.device,
        skip_bad_images=args.skip_bad_images,
        progress=not args.no_progress,
    )
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun: one report
        return 0
    last = state.log[-1] if state.log else {}
    largest, smallest = (last.get(k, float("nan")) for k in ("largest", "smallest"))
    print(
        f"supernet trained: {state.step} steps; held-out top-1 of the largest subnet "
        f"{largest:.4f}, smallest {smallest:.4f}"
    )
    print(f"checkpoint: {args.out}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from nas.models import resolve_spec
    from nas.supernet.run import open_for_scoring

    scorer = open_for_scoring(args.supernet, data=args.data, device=args.device)
    print("arch_id     top-1   seconds  architecture")
    for name in args.archs:
        spec = resolve_spec(name)
        t0 = time.perf_counter()
        acc = scorer(spec)
        print(f"{spec.arch_id}  {acc:.4f}  {time.perf_counter() - t0:7.2f}  {name}")
    sys.stdout.flush()
    return 0


def _extract(args: argparse.Namespace) -> int:
    from nas.models import resolve_spec
    from nas.supernet import checkpoint

    path = checkpoint.checkpoint_path(args.supernet)
    supernet, _, _ = checkpoint.load(path)
    spec = checkpoint.write_subnet(
        supernet,
        resolve_spec(args.arch),
        args.out,
        source=f"supernet {checkpoint.file_hash(path)}",
    )
    print(
        f"{args.out}: {spec.summary()} (as the supernet runs it); nas-export --checkpoint reads it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
