"""A fix for timm's RandAugment under Pillow >= 11, applied once on import.

timm's posterize ops map some magnitudes to 0 bits kept ('PosterizeIncreasing' at magnitude 10,
which DeiT's rand-m9-mstd0.5-inc1 reaches whenever the magnitude noise exceeds +1; 'Posterize'
below magnitude 2.5). Older Pillow turned that into a black image, the behaviour timm's own
policy notes describe ("results in black image"); Pillow >= 11 raises ValueError instead, which
kills a data-loader worker mid-epoch. We keep the old behaviour; remove this once timm clamps.
"""

from __future__ import annotations

from PIL import Image
from timm.data import auto_augment

_POSTERIZE_OPS = ("Posterize", "PosterizeIncreasing", "PosterizeOriginal")


def posterize_any_bits(img: Image.Image, bits_to_keep: int, **kwargs) -> Image.Image:
    if bits_to_keep < 1:
        return Image.new(img.mode, img.size)  # every bit dropped: black, as older Pillow gave
    return auto_augment.posterize(img, bits_to_keep, **kwargs)


def patch_posterize() -> None:
    for name in _POSTERIZE_OPS:
        if auto_augment.NAME_TO_OP.get(name) is auto_augment.posterize:
            auto_augment.NAME_TO_OP[name] = posterize_any_bits


patch_posterize()
