"""Zero-cost proxies: a score of the initialised network, taken in place of training it.

A zero-cost fidelity is a `ProxyConfig` whose `score` is set; `get_proxy("zc:NAME")` makes one
at the `cpu` preset's resolution and widths, scored on ZC_BATCH (64) class-balanced images of
the proxy's data subset (`load_fidelity_data`: the first images of the class-balanced deal
every proxy of the same data seed trains on). `train_once` hands such a fidelity to
`score_once`, which builds the network exactly as proxy training builds it
(`build_proxy_model`: widths scaled, at the proxy's resolution, the run seed as the init seed)
and returns the score as the `accuracy` of a `ProxyResult`: **in a run table (runs.jsonl) the
accuracy column of a zc fidelity holds its score** (higher is better for every score here) and
`seconds` the time it took, building included. Rankings, Kendall tau and the seed noise of
`nas-calibrate` and `nas-compare` are computed from it unchanged; the spread statistics
(seed std, signal/noise, paired differences) are on the score's own scale, not accuracy's.

Conventions every score shares:

* The classifier. NasNet zero-initialises `head.fc`, which makes every gradient that passes
  through the head zero: synflow, snip, grasp, fisher, grad_norm and jacov would all be
  exactly 0. `score_once` re-draws `head.fc` as every other Linear layer is drawn (xavier
  uniform, zero bias), from the run seed's generator, before scoring.
* The weights: the `weight` of every Conv2d and Linear layer, the prunable parameters of SNIP,
  GraSP and SynFlow (norms, biases, layer scales, position tables are not summed over).
* The loss: plain cross-entropy on the batch's labels (no label smoothing), mean over the
  batch unless a score says otherwise.
* Mode and precision: train mode (BatchNorm on the batch's statistics, as the first training
  step sees it) in float32 without autocast, on the data's device; synflow and meco are in eval
  mode (their definitions feed one input), synflow in float64.

What each score does on these networks (GELU everywhere, ReLU in the conv4 stem, SiLU and
sigmoid in MBConv's squeeze-excitation; LayerNorm in SPACH blocks, GroupNorm in downsamples,
BatchNorm only in the conv4 stem, ConvMixer and CoAtNet blocks), and when it fails. A score that
is not finite fails the run with `ZeroCostUndefined` and its reason (recorded as the run's
`failure`), never a silent zero:

=========  ======================================================================================
synflow    defined for every mixer. Its premise (a positive, homogeneous network, where the
           score conserves flow) does not hold with LayerNorm, GELU and softmax; the number is
           what the definition gives: LayerNorm subtracts the channel mean, so on SPACH
           networks the score is small and of either sign. BatchNorm in eval mode at its
           initial statistics is the identity (as SynFlow's BN-free network). Fails when
           float64 overflows.
snip       defined for every mixer (first-order gradients only).
grasp      defined for every mixer (a Hessian-vector product: twice-differentiable ops; GELU,
           LayerNorm, softmax and attention are; attention runs on PyTorch's math kernel, the
           fused ones having no double backward).
fisher     defined for every mixer: the channels are the output features of every Conv2d and
           Linear (a token-mixing MLP's channels are its hidden tokens).
grad_norm  defined for every mixer.
jacov      defined for every differentiable network (the Jacobian is the local linear map;
           Mellor et al. motivate it with ReLU's linear regions, which GELU only approximates).
           Fails when an image's Jacobian is constant (no correlation).
nwot       needs ReLU-like units. Fallback: GELU and SiLU units are coded by the sign of their
           input (on where ReLU would pass it), ReLU exactly; sigmoid and softmax are not
           coded. Fails on a network without such units, or when two images share a code
           (a singular kernel).
zen        defined for every mixer; the BatchNorm term covers the network's BatchNorm layers
           only: SPACH's LayerNorm / GroupNorm are left uncompensated, so on BN-free networks
           the score is its expressivity term alone. The features are the stages' output,
           before the head's norm. Fails when it overflows float32.
meco       defined for every mixer; a layer whose output has one position (the classifier)
           has no correlation and adds nothing; channels constant over the positions have
           correlation 0 (the reference code's rule).
params     the proxy-built network's parameters (closed form): no data, no seed noise.
flops      its FLOPs per image at the proxy's resolution (closed form): likewise.
=========  ======================================================================================

Adding a score is one function registered with `@zero_cost(NAME)` here and its name in
`nas.train.proxy_config.ZERO_COST_SCORES` (a test checks both agree).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from timm.layers import activations as timm_act
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from nas.cost import closed_form
from nas.models import NasNet
from nas.space import ArchSpec
from nas.train.proxy import ProxyResult, build_proxy_model

if TYPE_CHECKING:
    from nas.data.proxy import ProxyData

    from .fidelity import Fidelity


class ZeroCostUndefined(RuntimeError):
    """The score is not defined on this network, or not finite: the run fails with this."""


@dataclass(frozen=True)
class Batch:
    x: torch.Tensor  # normalised float images (N, C, H, W) at the network's resolution
    y: torch.Tensor  # their labels (N,)
    gen: torch.Generator  # the run seed's stream on the batch's device (data-free draws)


ScoreFn = Callable[[nn.Module, Batch], float]


@dataclass(frozen=True)
class Score:
    name: str
    fn: ScoreFn
    passes: float  # its time in training steps over the batch (measured on the hybrid space's
    #                 xs preset at 64 px, half widths, one CPU thread): the forecast's scale


SCORES: dict[str, Score] = {}


def zero_cost(name: str, *, passes: float) -> Callable[[ScoreFn], ScoreFn]:
    """Register `fn(model, batch) -> float` as the score `name` (higher is better)."""

    def register(fn: ScoreFn) -> ScoreFn:
        SCORES[name] = Score(name, fn, passes)
        return fn

    return register


# --- the engine's entry ------------------------------------------------------------------------


def score_once(spec: ArchSpec, *, fidelity: Fidelity, seed: int, data: ProxyData) -> ProxyResult:
    """Build `spec` as the proxy trains it (seeded by `seed`) and take the fidelity's score on
    its first `train_images` training images; the score is the result's `accuracy`. Raises
    ZeroCostUndefined when it is not defined or not finite."""
    cfg = fidelity.proxy
    score = SCORES[cfg.score]
    start = time.perf_counter()
    device = data.device
    torch.manual_seed(seed)
    model = build_proxy_model(spec, cfg=cfg, data=data).to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    redraw_classifier(model, gen)
    res, chans = model.spec.resolution, model.spec.in_chans
    n = min(cfg.train_images, len(data.train_y))
    x = data.prepare(data.train_x[:n], resolution=res, in_chans=chans)
    value = float(score.fn(model, Batch(x, data.train_y[:n], gen)))
    if not math.isfinite(value):
        raise ZeroCostUndefined(f"{cfg.score} is {value} on this network")
    seconds = time.perf_counter() - start
    return ProxyResult(
        accuracy=value,
        curve=[value],
        seconds=seconds,
        images_per_s=n / max(seconds, 1e-9),
        resolution=res,
    )


def redraw_classifier(model: nn.Module, gen: torch.Generator) -> None:
    """`head.fc` drawn like the network's other Linear layers (xavier uniform, zero bias) in
    place of NasNet's zeros, through which no gradient would pass."""
    fc = getattr(getattr(model, "head", None), "fc", None)
    if isinstance(fc, nn.Linear):
        with torch.no_grad():
            nn.init.xavier_uniform_(fc.weight, generator=gen)
            if fc.bias is not None:
                fc.bias.zero_()


# --- shared pieces -----------------------------------------------------------------------------


def layers(model: nn.Module) -> list[nn.Module]:
    """The Conv2d and Linear layers: the prunable weights of SNIP, GraSP and SynFlow."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def weight_grads(
    output: torch.Tensor, weights: list[torch.Tensor], **options: bool
) -> list[torch.Tensor]:
    grads = torch.autograd.grad(output, weights, allow_unused=True, **options)
    return [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads)]


def loss_of(model: nn.Module, batch: Batch, *, reduction: str = "mean") -> torch.Tensor:
    model.train()
    return F.cross_entropy(model(batch.x), batch.y, reduction=reduction)


RELU_LIKE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, timm_act.GELU, timm_act.GELUTanh)


def _features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The pre-pooling feature map: a NasNet's stages' output (before the head's norm)."""
    if isinstance(model, NasNet):
        return model.stages(model.stem(x))
    return model(x)


# --- the scores --------------------------------------------------------------------------------


@zero_cost("synflow", passes=0.4)
def synflow(model: nn.Module, batch: Batch) -> float:
    """SynFlow (Tanaka, Kunin, Yamins & Ganguli, "Pruning neural networks without any data by
    iteratively conserving synaptic flow", NeurIPS 2020), summed over the network as by
    Abdelfattah et al. 2021: every parameter and buffer replaced by its absolute value,
    R = 1^T f(1) for an all-ones input of one image, and the score the sum over the weights of
    theta * dR/dtheta. Data-free; eval mode, float64."""
    model.eval()
    model.double()
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            if t.is_floating_point():
                t.abs_()
    weights = [m.weight for m in layers(model)]
    x = torch.ones((1, *batch.x.shape[1:]), dtype=torch.float64, device=batch.x.device)
    grads = weight_grads(model(x).sum(), weights)
    return sum((w * g).sum() for w, g in zip(weights, grads)).item()


@zero_cost("snip", passes=1.0)
def snip(model: nn.Module, batch: Batch) -> float:
    """SNIP (Lee, Ajanthan & Torr, "SNIP: single-shot network pruning based on connection
    sensitivity", ICLR 2019): the connection sensitivity |theta * dL/dtheta| summed over the
    weights (Abdelfattah et al. 2021's network score)."""
    weights = [m.weight for m in layers(model)]
    grads = weight_grads(loss_of(model, batch), weights)
    return sum((w * g).abs().sum() for w, g in zip(weights, grads)).item()


@zero_cost("grasp", passes=4.5)
def grasp(model: nn.Module, batch: Batch) -> float:
    """GraSP (Wang, Zhang & Grosse, "Picking winning tickets before training by preserving
    gradient flow", ICLR 2020): S = -theta * (H g), H the Hessian of the loss and g its
    gradient, summed over the weights (Abdelfattah et al. 2021; temperature 1)."""
    weights = [m.weight for m in layers(model)]
    with sdpa_kernel(SDPBackend.MATH):  # the fused attention kernels have no double backward
        grads = weight_grads(loss_of(model, batch), weights, create_graph=True)
    z = sum((g.detach() * g).sum() for g in grads)  # d z / d theta = H g
    hg = weight_grads(z, weights)
    return -sum((w * h).sum() for w, h in zip(weights, hg)).item()


@zero_cost("fisher", passes=0.8)
def fisher(model: nn.Module, batch: Batch) -> float:
    """Fisher pruning saliency (Theis, Korshunova, Tejani & Huszar, "Faster gaze prediction with
    dense networks and Fisher pruning", 2018) summed over all channels, the "Fisher potential"
    of Turner et al. ("BlockSwap", ICLR 2020): per channel c of every Conv2d / Linear output a,
    with g = dl_n/da each image's own loss gradient (summed loss),
    Delta_c = 1/(2N) sum_n (sum_{positions} a * g)^2."""
    acts: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: object, output: torch.Tensor) -> torch.Tensor:
        acts.append(output)
        return output + 0  # later in-place ops change the copy, not what is kept

    hooks = [m.register_forward_hook(keep) for m in layers(model)]
    try:
        loss = loss_of(model, batch, reduction="sum")
    finally:
        for h in hooks:
            h.remove()
    grads = torch.autograd.grad(loss, acts, allow_unused=True)
    n, total = len(batch.y), 0.0
    for a, g in zip(acts, grads):
        if g is None:
            continue
        if a.dim() == 4:  # conv: (N, C, H, W)
            s = (a * g).sum((2, 3))
        else:  # linear: (N, ..., C)
            s = (a * g).reshape(n, -1, a.shape[-1]).sum(1)
        total += 0.5 * (s.detach().double() ** 2).mean(0).sum().item()
    return total


@zero_cost("grad_norm", passes=1.0)
def grad_norm(model: nn.Module, batch: Batch) -> float:
    """grad_norm (Abdelfattah, Mehrotra, Dudziak & Lane, "Zero-cost proxies for lightweight
    NAS", ICLR 2021): the sum over layers of the Euclidean norm of the loss's gradient with
    respect to the layer's weight."""
    weights = [m.weight for m in layers(model)]
    grads = weight_grads(loss_of(model, batch), weights)
    return sum(g.norm() for g in grads).item()


@zero_cost("jacov", passes=0.7)
def jacov(model: nn.Module, batch: Batch) -> float:
    """Jacobian covariance (Mellor, Turner, Storkey & Crowley, "Neural architecture search
    without training", arXiv:2006.04647 v1, 2020): J_n = d(sum of f(x_n))/d x_n, Sigma the
    Pearson correlation matrix of the N Jacobians, and the score
    -sum_i [log(s_i + k) + 1/(s_i + k)] over its eigenvalues s_i (clipped at 0: Sigma is
    positive semi-definite), k = 1e-5."""
    model.train()
    x = batch.x.detach().clone().requires_grad_(True)
    (j,) = torch.autograd.grad(model(x).sum(), x)
    return jacov_of(j.reshape(len(x), -1))


def jacov_of(jacobians: torch.Tensor, k: float = 1e-5) -> float:
    j = jacobians.detach().double()
    if bool((j.std(1) == 0).any()):
        raise ZeroCostUndefined("jacov: an image's Jacobian is constant (no correlation)")
    s = torch.linalg.eigvalsh(torch.corrcoef(j)).clamp_min(0)
    return -(torch.log(s + k) + 1 / (s + k)).sum().item()


@zero_cost("nwot", passes=0.6)
def nwot(model: nn.Module, batch: Batch) -> float:
    """NASWOT (Mellor, Turner, Storkey & Crowley, "Neural architecture search without training",
    ICML 2021): each image's binary code c over the network's ReLU units (1 where the unit is
    on), the kernel K_ij = N_A - d_H(c_i, c_j) (N_A units, d_H the Hamming distance), and the
    score log |det K|. GELU and SiLU units are coded by the sign of their input."""
    n = len(batch.y)
    kernel = torch.zeros(n, n, dtype=torch.float64, device=batch.x.device)
    units = 0

    def code(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        nonlocal kernel, units
        c = (inputs[0].detach() > 0).reshape(n, -1).double()
        kernel += c @ c.T + (1 - c) @ (1 - c).T
        units += c.shape[1]

    hooks = [m.register_forward_pre_hook(code) for m in model.modules() if _relu_like(m)]
    try:
        model.train()
        with torch.no_grad():
            model(batch.x)
    finally:
        for h in hooks:
            h.remove()
    if not units:
        raise ZeroCostUndefined("nwot: no ReLU-like units (ReLU, GELU, SiLU) to code")
    return nwot_of(kernel)


def _relu_like(module: nn.Module) -> bool:
    return isinstance(module, RELU_LIKE)


def nwot_of(kernel: torch.Tensor) -> float:
    sign, logdet = torch.linalg.slogdet(kernel)
    if sign.item() <= 0 or not math.isfinite(logdet.item()):
        raise ZeroCostUndefined(
            "nwot: the Hamming kernel is singular (two images share their activation code)"
        )
    return logdet.item()


@zero_cost("zen", passes=0.7)
def zen(model: nn.Module, batch: Batch, alpha: float = 0.01) -> float:
    """Zen-score (Lin, Wang, Sun, Chen, Sun, Qian, Li & Jin, "Zen-NAS: a zero-shot NAS for
    high-performance image recognition", ICCV 2021): with every Conv2d / Linear weight drawn
    from N(0, 1) (biases 0), x and eps standard Gaussian images of the batch's shape,
    log E ||f(x) - f(x + alpha eps)||_F + sum over BatchNorm layers i of
    log sqrt(mean_j sigma_ij^2), sigma_ij the batch std of channel j at BN i; f the
    pre-pooling feature map, alpha = 0.01. Data-free (the run seed draws the inputs)."""
    gen = batch.gen
    with torch.no_grad():
        for m in layers(model):
            m.weight.normal_(generator=gen)
            if m.bias is not None:
                m.bias.zero_()
    x = torch.randn(batch.x.shape, generator=gen, device=batch.x.device)
    eps = torch.randn(batch.x.shape, generator=gen, device=batch.x.device)
    logs: list[float] = []

    def bn_std(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        var = inputs[0].double().var((0, 2, 3), unbiased=False)
        logs.append(0.5 * math.log(var.mean().item()))

    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    model.train()
    with torch.no_grad():
        hooks = [m.register_forward_pre_hook(bn_std) for m in bns]
        try:
            f1 = _features(model, x)
        finally:
            for h in hooks:
                h.remove()
        f2 = _features(model, x + alpha * eps)
    delta = (f1 - f2).double().reshape(len(x), -1).norm(dim=1).mean().item()
    if not (math.isfinite(delta) and delta > 0):
        raise ZeroCostUndefined(f"zen: E||f(x) - f(x + alpha eps)|| is {delta}")
    return math.log(delta) + sum(logs)


@zero_cost("meco", passes=1.5)
def meco(model: nn.Module, batch: Batch) -> float:
    """MeCo (Jiang, Wang & Bie, "MeCo: zero-shot NAS with one data and single forward pass via
    minimum eigenvalue of correlation", NeurIPS 2023): for one image (the batch's first), the
    sum over the Conv2d / Linear layers of the minimum eigenvalue of the Pearson correlation
    matrix of the layer's channels (each channel's values over the positions of its map;
    eval mode)."""
    total = 0.0

    def layer(module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        o = output.detach()[0]
        if isinstance(module, nn.Conv2d):  # (C, H, W)
            fmap = o.reshape(o.shape[0], -1)
        else:  # Linear: (..., C) over positions
            fmap = o.reshape(-1, o.shape[-1]).T
        total += meco_of(fmap)

    hooks = [m.register_forward_hook(layer) for m in layers(model)]
    try:
        model.eval()
        with torch.no_grad():
            model(batch.x[:1])
    finally:
        for h in hooks:
            h.remove()
    return total


def meco_of(fmap: torch.Tensor) -> float:
    """The minimum eigenvalue of the correlation of the rows (channels) of (C, positions);
    0 for a map of one position; of one channel, its 1x1 correlation's 1 (0 if constant)."""
    if fmap.shape[1] < 2:
        return 0.0
    if fmap.shape[0] == 1:  # torch.corrcoef returns a scalar for one row
        return 1.0 if float(fmap.std()) > 0 else 0.0
    corr = torch.nan_to_num(torch.corrcoef(fmap.double()), nan=0.0, posinf=0.0, neginf=0.0)
    return torch.linalg.eigvalsh(corr)[0].item()


@zero_cost("params", passes=0.0)
def params(model: nn.Module, batch: Batch) -> float:
    """The parameter count of the network as the proxy builds it (a baseline)."""
    if isinstance(model, NasNet):
        return float(closed_form(model.spec, fallback=True).params)
    return float(sum(p.numel() for p in model.parameters()))


@zero_cost("flops", passes=0.0)
def flops(model: nn.Module, batch: Batch) -> float:
    """FLOPs per image of the network as the proxy builds it, at its resolution (a baseline)."""
    if not isinstance(model, NasNet):
        raise ZeroCostUndefined("flops: counted for NasNet models only")
    return float(closed_form(model.spec, fallback=True).flops)
