"""Our networks as timm models: presets, any spec, a study's Pareto members, trained weights.

    timm.create_model("nas_coatnet_0_224")                          # every preset, `nas_` prefix
    timm.create_model("nas_arch", spec="results/s/archs/ab12cd34ef.yaml", num_classes=10)
    nas.models.register_study("results/hybrid-4GFLOPs")            # nas_hybrid_4gflops_<arch_id>
    timm.create_model("nas_arch", pretrained=True,                  # a nas-train checkpoint:
                      pretrained_cfg_overlay=dict(file="runs/ab12cd34ef/last.pt"))

timm's builder wraps each model, so `features_only=True`, `pretrained_cfg` and
`resolve_data_config` work as for timm's own models. With a nas-train checkpoint as the
pretrained file the network takes the checkpoint's architecture, classes and resolution (ask
for other `num_classes` and timm drops the trained classifier, as for fine-tuning), and timm's
loader reads the weights the run reports as best (`nas.models.weights`); the file is read with
`weights_only=True`, so it runs no code.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from nas.space import ArchSpec, ConfigError, load_spec
from nas.space.io import read_yaml

from .builder import resolve_spec
from .net import NasNet
from .presets import PRESETS
from .weights import checkpoint_spec, is_nas_checkpoint, read_state

PREFIX = "nas_"
GENERIC = f"{PREFIX}arch"  # any spec, given as `spec=` or read from a checkpoint
# A study folder's files that register_study reads. Their owner is nas.report.StudyFolder, a
# layer above this one: tests/report/test_study_folder.py holds these to its names.
STUDY_ARCHS, STUDY_RUN = "archs", "run.yaml"
_FIRST_CONV = {
    "conv1": "stem.proj",
    "conv4": "stem.proj.0",
    "convmixer": "stem.0",
    "coatnet": "stem.conv1",
}


def _cfg(spec: ArchSpec | None) -> dict[str, Any]:
    """timm's pretrained_cfg of a spec: what `resolve_data_config` and the weight loader use
    (the input size, the classes the classifier `head.fc` has, the first conv to adapt)."""
    r = spec.resolution if spec else 224
    return dict(
        url="",
        num_classes=spec.num_classes if spec else 1000,
        input_size=(spec.in_chans if spec else 3, r, r),
        pool_size=None,
        crop_pct=0.9 if r <= 224 else 1.0,
        interpolation="bicubic",
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        first_conv=_FIRST_CONV[spec.stem.type if spec else "conv1"],
        classifier="head.fc",
    )


default_cfgs: dict[str, Any] = {}  # filled by `register`; timm's register_model reads it


def create(variant: str, spec: ArchSpec | None, pretrained: bool = False, **kwargs: Any) -> NasNet:
    """Build `spec` through timm's builder under the name `variant`. With a nas-train
    checkpoint as the pretrained file, its spec (classes, resolution) replaces `spec`, which
    must describe the same network."""
    overlay = dict(kwargs.pop("pretrained_cfg_overlay", None) or {})
    file = overlay.get("file") if pretrained else None
    if file:
        state = read_state(file)
        if is_nas_checkpoint(state):
            spec = _trained(spec, checkpoint_spec(state, source=str(file)), source=str(file))
    if spec is None:
        raise ConfigError(
            f"{variant} needs the architecture: spec=ArchSpec, a spec YAML path or a preset "
            f"name, or pretrained=True with pretrained_cfg_overlay=dict(file=CHECKPOINT)",
            field="spec",
        )
    return build_model_with_cfg(
        NasNet,
        variant,
        pretrained,
        spec=spec,
        pretrained_cfg_overlay={**_cfg(spec), **overlay},
        feature_cfg=dict(out_indices=tuple(range(len(spec.stages))), feature_cls="getter"),
        **kwargs,
    )


def _trained(asked: ArchSpec | None, trained: ArchSpec, *, source: str) -> ArchSpec:
    """The checkpoint's spec, when it is the network asked for (classes, input channels and
    resolution aside: those are the checkpoint's)."""
    if asked is not None:
        same = asked.replace(
            num_classes=trained.num_classes,
            in_chans=trained.in_chans,
            resolution=trained.resolution,
        )
        if same != trained:
            raise ConfigError(
                f"the checkpoint holds architecture {trained.arch_id} ({trained.summary()}), "
                f"not the one asked for ({asked.summary()}); create it as {GENERIC!r}",
                source=source,
            )
    return trained


def _entrypoint(name: str, spec: ArchSpec | None, doc: str) -> Callable[..., NasNet]:
    if spec is None:  # nas_arch: the spec is an argument

        def entry(pretrained: bool = False, *, spec: Any = None, **kwargs: Any) -> NasNet:
            return create(name, _as_spec(spec), pretrained, **kwargs)
    else:

        def entry(pretrained: bool = False, **kwargs: Any) -> NasNet:
            return create(name, spec, pretrained, **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry.__module__ = __name__
    entry.__doc__ = doc
    return entry


def _as_spec(spec: Any) -> ArchSpec | None:
    if spec is None or isinstance(spec, ArchSpec):
        return spec
    if isinstance(spec, dict):
        return ArchSpec.from_dict(spec)
    if isinstance(spec, (str, os.PathLike)):
        return resolve_spec(spec)
    raise ConfigError(
        f"expected an ArchSpec, a dict, a spec YAML path or a preset name, got "
        f"{type(spec).__name__}",
        field="spec",
    )


def register(name: str, spec: ArchSpec | None, *, doc: str) -> str:
    """Register `spec` with timm as `name` (its pretrained_cfg too); registering a name again
    replaces it."""
    default_cfgs.update(generate_default_cfgs({f"{name}.untrained": _cfg(spec)}))
    fn = _entrypoint(name, spec, doc)
    setattr(sys.modules[__name__], name, fn)
    with warnings.catch_warnings():  # a study registered again after its front moved
        warnings.filterwarnings("ignore", message=f"Overwriting {name} in registry")
        register_model(fn)
    return name


def register_study(study_dir: str | os.PathLike) -> list[str]:
    """Register every Pareto member of a nas-search output folder (`archs/<arch_id>.yaml`)
    as `nas_<study>_<arch_id>` (the study name lower-cased, other characters than letters
    and digits as `_`); returns the names, in arch_id order."""
    root = Path(study_dir)
    files = sorted((root / STUDY_ARCHS).glob("*.yaml"))
    if not files:
        raise ConfigError(
            "no archs/<arch_id>.yaml: not a nas-search output folder, or no Pareto member yet",
            source=str(root),
        )
    study = _slug(_study_name(root))
    names = []
    for path in files:
        spec = load_spec(path)
        name = f"{PREFIX}{study}_{spec.arch_id}"
        names.append(register(name, spec, doc=f"{root.name} Pareto member: {spec.summary()}"))
    return names


def _study_name(root: Path) -> str:
    run = read_yaml(root / STUDY_RUN) if (root / STUDY_RUN).is_file() else {}
    config = run.get("config") if isinstance(run, dict) else None
    name = config.get("study_name") if isinstance(config, dict) else None
    return str(name) if name else root.resolve().name


def _slug(text: str) -> str:
    """A timm-safe name part: timm reads '.' as a pretrained tag and ':' as a hub prefix."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_") or "study"


register(GENERIC, None, doc="Any ArchSpec: timm.create_model('nas_arch', spec=PATH_OR_SPEC)")
for _name, _spec in PRESETS.items():
    register(f"{PREFIX}{_name}", _spec, doc=f"{_name}: {_spec.summary()}")
