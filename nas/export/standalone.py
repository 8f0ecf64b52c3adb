"""One standalone Python file per architecture: the network with torch and timm only.

A found network should not depend on the framework that found it. `export_architecture`
writes `<name>.py`: the spec as data, and the code that builds it (the model class, the spec
reader and the blocks the spec uses) gathered from nas's own source by `nas.export.source`,
so the file changes when the code does and never drifts as a hand copy would. Its header
states the spec, FLOPs, params, arch_id and the timm version it was generated with. Given
weights (a nas-train checkpoint's best, `export_checkpoint`), `<name>.pth` is written beside
it, a plain state_dict that `build_model(pretrained=True)` loads with `weights_only=True`.

    import arch_ab12cd34ef as m
    model = m.build_model(pretrained=True)   # a NasNet with timm's model contract
"""

from __future__ import annotations

import keyword
import os
import pprint
import sys
from dataclasses import dataclass
from pathlib import Path

import timm
import torch

import nas
from nas._core import write_atomic, write_text_atomic
from nas.blocks import get_block
from nas.cost import closed_form, format_amount
from nas.models.presets import PRESETS
from nas.models.weights import best_weights, checkpoint_spec, read_state
from nas.report.provenance import git_sha
from nas.space import ArchSpec, spec_to_yaml

from .source import ExportError, gather

# what the generated tail defines or imports itself: the gathered code may not use these names
_TAIL_NAMES = {"SPEC", "ARCH_ID", "FLOPS", "PARAMS", "TIMM_VERSION", "WEIGHTS", "build_model"}
_TAIL_IMPORTS = [
    "import warnings",
    "from pathlib import Path",
    "from typing import Any",
    "import timm",
    "import torch",
]


@dataclass(frozen=True)
class Exported:
    module: Path  # the .py file
    weights: Path | None  # the .pth beside it, when weights were given
    spec: ArchSpec


def module_name(spec: ArchSpec) -> str:
    """A preset's own name, else `arch_<arch_id>` (ids may start with a digit)."""
    for name, preset in PRESETS.items():
        if preset == spec:
            return name
    return f"arch_{spec.arch_id}"


def module_source(spec: ArchSpec, *, name: str, weights_file: str | None = None) -> str:
    """The text of the standalone module for `spec` (see the module docstring)."""
    blocks = [get_block(m) for m in dict.fromkeys(m for s in spec.stages for m in s.mixers)]
    roots = [("nas.models.net", "NasNet"), ("nas.space.spec", "spec_from_dict")]
    gathered = gather([*roots, *((cls.__module__, cls.__name__) for cls in blocks)])
    clash = _TAIL_NAMES & {n for _, n, _ in gathered.parts}
    if clash:
        raise ExportError(f"nas defines {sorted(clash)}, which the exported module's tail uses")
    cost = closed_form(spec, fallback=True)
    imports = sorted(set(gathered.imports) | set(_TAIL_IMPORTS), key=_import_key)
    sections = [
        _header(spec, name=name, flops=cost.flops, params=cost.params, weights=weights_file),
        "from __future__ import annotations",
        "\n".join(imports),
    ]
    current = None
    for module, _, source in gathered.parts:
        if module != current:
            sections.append(f"# --- from {module.replace('.', '/')}.py " + "-" * 40)
            current = module
        sections.append(source)
    sections.append(_tail(spec, flops=cost.flops, params=cost.params, weights=weights_file))
    return "\n\n\n".join(sections) + "\n"


def export_architecture(
    spec: ArchSpec,
    *,
    out_dir: str | os.PathLike,
    name: str | None = None,
    weights: dict[str, torch.Tensor] | None = None,
) -> Exported:
    """Write `<out_dir>/<name>.py` (and `<name>.pth` with `weights`)."""
    name = name or module_name(spec)
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ExportError(f"{name!r} is not a Python module name")
    out_dir = Path(out_dir)
    weights_path = out_dir / f"{name}.pth" if weights is not None else None
    if weights is not None:
        write_atomic(weights_path, lambda tmp: torch.save(dict(weights), tmp))
    text = module_source(spec, name=name, weights_file=weights_path and weights_path.name)
    return Exported(write_text_atomic(out_dir / f"{name}.py", text), weights_path, spec)


def export_checkpoint(
    path: str | os.PathLike, *, out_dir: str | os.PathLike, name: str | None = None
) -> Exported:
    """A nas-train checkpoint's network (its classes and resolution) with the weights the run
    reports as best. The file is read as data only (`weights_only=True`)."""
    state = read_state(path)
    spec = checkpoint_spec(state, source=str(path))
    return export_architecture(spec, out_dir=out_dir, name=name, weights=best_weights(state))


def _import_key(line: str) -> tuple[bool, str]:
    top = line.split()[1].split(".")[0]
    return top not in sys.stdlib_module_names, line


def _header(spec: ArchSpec, *, name: str, flops: int, params: int, weights: str | None) -> str:
    r = spec.resolution
    git = f" (git {git_sha()})" if git_sha() else ""
    spec_text = "\n".join("    " + line for line in spec_to_yaml(spec).splitlines())
    how = f"model = {name}.build_model()   # untrained; num_classes=... as for timm models"
    if weights:
        how = f"model = {name}.build_model(pretrained=True)   # the weights in {weights}"
    return f'''"""{name}: a standalone network, generated by nas-export. Needs torch and timm only.

arch_id  {spec.arch_id}
FLOPs    {flops:,} ({format_amount(flops)}, fvcore's convention, {r}x{r} input)
params   {params:,} ({format_amount(params, " params")})
timm     {timm.__version__} (generated with; torch {torch.__version__})
source   nas {nas.__version__}{git}; the code below is nas's own
         (nas/space, nas/blocks, nas/models), gathered by nas-export, not a hand copy
{spec.summary()}

    import {name}
    {how}

The network honours timm's model contract (forward_features, forward_head(pre_logits=),
reset_classifier, forward_intermediates for features). The spec, as `SPEC` below:

{spec_text}
"""'''


def _tail(spec: ArchSpec, *, flops: int, params: int, weights: str | None) -> str:
    spec_literal = pprint.pformat(spec.to_dict(), sort_dicts=False, width=95)
    return f'''# --- this architecture (nas-export) {"-" * 60}

SPEC = {spec_literal}
ARCH_ID = {spec.arch_id!r}
FLOPS = {flops}
PARAMS = {params}
TIMM_VERSION = {timm.__version__!r}
WEIGHTS = {weights!r}  # a state_dict beside this file (None: exported without weights)


def build_model(*, pretrained: bool = False, **kwargs: Any) -> NasNet:
    """The network. kwargs as NasNet takes them: num_classes, in_chans, img_size, drop_rate,
    drop_path_rate, global_pool. pretrained: load WEIGHTS (tensors only, weights_only=True)."""
    if timm.__version__.split(".")[:2] != TIMM_VERSION.split(".")[:2]:
        warnings.warn(
            f"generated with timm {{TIMM_VERSION}}, running timm {{timm.__version__}}: timm's "
            f"CoAtNet blocks or layers may have changed",
            stacklevel=2,
        )
    model = NasNet(spec_from_dict(SPEC), **kwargs)
    if pretrained:
        if WEIGHTS is None:
            raise FileNotFoundError("exported without weights (nas-export --checkpoint)")
        path = Path(__file__).with_name(WEIGHTS)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


if __name__ == "__main__":
    net = build_model(pretrained=WEIGHTS is not None).eval()
    x = torch.zeros(1, net.spec.in_chans, net.spec.resolution, net.spec.resolution)
    print(f"{{ARCH_ID}}: {{net.spec.summary()}} -> output {{tuple(net(x).shape)}}")'''
