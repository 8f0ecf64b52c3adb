"""Every preset registered with timm as `nas_<name>`: `timm.create_model("nas_coatnet_0_224")`.

timm's builder wraps the model so that `features_only=True`, `pretrained_cfg` and
`resolve_data_config` work as for timm's own models.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from nas.space import ArchSpec

from .net import NasNet
from .presets import PRESETS

PREFIX = "nas_"


def _cfg(spec: ArchSpec) -> dict[str, Any]:
    r = spec.resolution
    return dict(
        url="",
        num_classes=spec.num_classes,
        input_size=(spec.in_chans, r, r),
        pool_size=None,
        crop_pct=0.9 if r <= 224 else 1.0,
        interpolation="bicubic",
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        first_conv="stem",
        classifier="head.fc",
    )


default_cfgs = generate_default_cfgs(
    {f"{PREFIX}{name}.untrained": _cfg(spec) for name, spec in PRESETS.items()}
)


def _entrypoint(name: str, spec: ArchSpec) -> Callable[..., NasNet]:
    def create(pretrained: bool = False, **kwargs: Any) -> NasNet:
        return build_model_with_cfg(
            NasNet,
            f"{PREFIX}{name}",
            pretrained,
            spec=spec,
            feature_cfg=dict(out_indices=tuple(range(len(spec.stages))), feature_cls="getter"),
            **kwargs,
        )

    create.__name__ = create.__qualname__ = f"{PREFIX}{name}"
    create.__module__ = __name__
    create.__doc__ = f"{name}: {spec.summary()}"
    return create


for _name, _spec in PRESETS.items():
    setattr(sys.modules[__name__], f"{PREFIX}{_name}", register_model(_entrypoint(_name, _spec)))
