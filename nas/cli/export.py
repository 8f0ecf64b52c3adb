"""nas-export NAME|SPEC.yaml ... | --from STUDY | --checkpoint last.pt [--out DIR]

One standalone Python file per architecture, needing torch and timm only (no nas): the spec as
data, the code generated from nas's source, the spec, FLOPs, params, arch_id and timm version
in its header. With --checkpoint, the run's best weights go to a .pth beside it.
"""

from __future__ import annotations

import argparse
import keyword
import sys
from pathlib import Path

from .common import ArgumentParser, run


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="nas-export", description=__doc__.split("\n\n")[1].strip())
    p.add_argument("archs", nargs="*", metavar="NAME|SPEC.yaml", help="presets or spec files")
    p.add_argument(
        "--from",
        dest="study",
        metavar="STUDY",
        help="a nas-search output folder: export every Pareto member",
    )
    p.add_argument(
        "--checkpoint",
        metavar="CKPT",
        help="a nas-train checkpoint: its network (classes, resolution) and best weights",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("exported"),
        help="folder for the files (default: exported/)",
    )
    p.add_argument("--name", type=module_name, help="module name, for a single architecture")
    return p


def module_name(text: str) -> str:
    """An argparse `type=`: a name `import NAME` accepts."""
    if not text.isidentifier() or keyword.iskeyword(text):
        raise argparse.ArgumentTypeError(
            f"expected a valid Python identifier (letters, digits and _, not starting with a "
            f"digit: the name to import the module by, e.g. my_net), got {text!r}"
        )
    return text


def main(argv: list[str] | None = None) -> int:
    return run("nas-export", _main, argv)


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    from nas.export import export_architecture, export_checkpoint
    from nas.models import resolve_spec
    from nas.report import StudyFolder
    from nas.space import ConfigError, load_spec

    if args.checkpoint and (args.archs or args.study):
        raise ConfigError(
            "exports the checkpoint's own architecture; give no other", field="--checkpoint"
        )
    specs = [resolve_spec(a) for a in args.archs]
    if args.study:
        files = StudyFolder(args.study).arch_files()
        if not files:
            raise ConfigError(
                "no archs/<arch_id>.yaml: not a nas-search output folder", source=args.study
            )
        specs += [load_spec(f) for f in files]
    if not specs and not args.checkpoint:
        raise ConfigError("give architectures, --from STUDY or --checkpoint CKPT")
    if args.name and len(specs) + bool(args.checkpoint) > 1:
        raise ConfigError("names one module; give one architecture", field="--name")
    if args.checkpoint:
        done = [export_checkpoint(args.checkpoint, out_dir=args.out, name=args.name)]
    else:
        done = [export_architecture(s, out_dir=args.out, name=args.name) for s in specs]
    for e in done:
        extra = f" + {e.weights}" if e.weights else ""
        print(f"{e.spec.arch_id}: {e.module}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
