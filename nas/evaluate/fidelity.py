"""A fidelity: everything that decides what an accuracy means, except the architecture and
the seed. Two runs compare only when their fidelities are equal.

The proxy's hyperparameters, the data source and the seed of the data subset (which images the
proxy trains and validates on). The run seed (model init, batch order) is separate, so several
seeds of one architecture see the same images and differ only by the training's randomness.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from nas.data.classes import Classes, to_config
from nas.data.source import DataSource, data_identity
from nas.train.proxy_config import ProxyConfig


@dataclass(frozen=True)
class Fidelity:
    proxy: ProxyConfig
    data: str = "fashion-mnist"
    data_seed: int = 0
    classes: Classes = None  # a class subset (`--classes`); None: every class

    @property
    def name(self) -> str:
        return self.proxy.name

    def canonical(self) -> dict[str, Any]:
        """What the id hashes: the proxy's canonical fields (not its name: a renamed file is
        the same fidelity), the data's identity (not its spelling: `data_identity`) and its
        seed."""
        proxy = {k: v for k, v in self.proxy.canonical().items() if k != "name"}
        out = {"proxy": proxy, "data": data_identity(self.data), "data_seed": self.data_seed}
        if self.classes is not None:  # added later: absent when unused, so ids stay
            out["classes"] = to_config(self.classes)
        return out

    @property
    def fidelity_id(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()[:8]

    def describe(self) -> str:
        """One line, e.g. `cpu: 6000 images x 1 epoch at 32px, 5000 val, lr 0.002`, saying
        what else the proxy does (crops, clipping, the data's own val split) and what it
        upsamples (CIFAR's 32 px at a 64-px proxy)."""
        p = self.proxy
        width = f", widths x{p.width_scale:g}" if p.width_scale != 1 else ""
        if p.score:  # a zero-cost score (`nas.evaluate.zero_cost`): nothing is trained
            return (
                f"{p.name}: the {p.score} score of the initialised network (no training) on "
                f"{p.train_images} images at {p.resolution}px{width}; {self.data} (data seed "
                f"{self.data_seed})"
            )
        if p.supernet:  # a trained supernet (`nas.supernet`): nothing is trained per run
            return (
                f"supernet {p.supernet}: the subnet's top-1 with inherited weights on "
                f"{p.val_images} held-out images at {p.resolution}px{width}; {self.data} (data "
                f"seed {self.data_seed}); checkpoint {p.name.removeprefix('supernet:')}"
            )
        val = " of the data's val split" if p.val_split == "val" else ""
        extras = [
            *([f"{p.crop_pad}-px crops"] if p.crop_pad else []),
            *([f"grad clip {p.clip_grad:g}"] if p.clip_grad else []),
            *(["alternating flips"] if p.flip and p.alt_flip else []),
            *(["flip TTA"] if p.tta_flip else []),
            *([f"weight EMA {p.ema_decay:g}"] if p.ema_decay else []),
        ]
        stored = DataSource.parse(self.data).spec.stored_size
        upsampled = (
            f"; its {stored}px images upsampled to {p.resolution}px"
            if stored and stored < p.resolution
            else ""
        )
        return (
            f"{p.name}: {p.train_images} images x {p.epochs} epoch(s) at {p.resolution}px"
            f"{width}, {p.val_images} val{val}, batch {p.batch_size}, lr {p.lr:g}"
            f"{''.join(', ' + e for e in extras)}; {self.data} (data seed {self.data_seed})"
            f"{upsampled}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "proxy": self.proxy.to_dict(),
            "data": self.data,
            "data_seed": self.data_seed,
            "classes": to_config(self.classes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fidelity:
        classes = data.get("classes")
        return cls(
            ProxyConfig(**data["proxy"]),
            data["data"],
            int(data["data_seed"]),
            tuple(classes) if isinstance(classes, list) else classes,
        )
