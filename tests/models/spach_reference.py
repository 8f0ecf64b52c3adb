"""SPACH's parameter and FLOP counts by hand arithmetic, from ../shared/ARCHITECTURES.md.

Independent of nas.models and nas.cost: only the spec's numbers are read. FLOPs follow
fvcore's convention on the reference code (explicit matmul attention; LayerNorm/GroupNorm 5
per element, BatchNorm 2 in eval; the token mean, activations and adds 0).
"""

from __future__ import annotations

from nas.space import ArchSpec


def _block(mixer: str, c: int, n: int, ratio: float, cpe: bool, token_ratio: float):
    ch = int(c * ratio)
    params = 2 * c * ch + ch + c + 2 * c  # channel MLP + LN2
    flops = 2 * n * c * ch + 5 * n * c
    f_params = 0
    if mixer == "conv" or cpe:
        params += 10 * c
        flops += 9 * n * c
    if mixer == "attn":
        params += 2 * c  # LN1
        f_params = 4 * c * c + 4 * c
        flops += 5 * n * c + 4 * n * c * c + 2 * n * n * c
    if mixer == "mlp":
        nt = int(n * token_ratio)
        params += 2 * c
        f_params = 2 * n * nt + nt + n
        flops += 5 * n * c + 2 * c * n * nt
    if mixer != "conv":
        params += c  # layer-scale gamma
    return params, f_params, flops


def spach_counts(spec: ArchSpec) -> tuple[int, int]:
    r, p, c = spec.resolution, spec.stem.patch_size, spec.stages[0].width
    n = (r // p) ** 2
    if spec.stem.type == "conv1":
        params, flops = 3 * c * p * p + c, n * c * 3 * p * p
    else:  # conv4: 7x7/2, two 3x3 (64 ch, BN, no bias), then k = s = p/2
        h, q = 64, (r // 2) ** 2
        params = 3 * h * 49 + 2 * h * 9 * h + 3 * 2 * h + h * c * (p // 2) ** 2 + c
        flops = q * h * 3 * 49 + 2 * q * h * h * 9 + 3 * 2 * q * h + n * c * h * (p // 2) ** 2
    params += 2 * c
    flops += 5 * n * c
    for stage in spec.stages:
        if stage.downsample == "conv":
            n //= 4
            params += c * stage.width * 4 + 2 * stage.width
            flops += n * stage.width * c * 4 + 5 * n * stage.width
        c = stage.width
        shared_f = {}
        for mixer in stage.mixers:
            bp, fp, bf = _block(mixer, c, n, stage.mlp_ratio, stage.cpe, stage.token_ratio)
            params += bp
            flops += bf
            if stage.shared:
                shared_f[mixer] = fp
            else:
                params += fp
        params += sum(shared_f.values())
    params += 2 * c + c * spec.num_classes + spec.num_classes
    flops += 5 * n * c + c * spec.num_classes
    return params, flops
