"""Zero-cost fidelities: each score against a worked example computed by hand or by an
independent small computation, each finite on every mixer family, and `zc:NAME` through the
engine into a run table that resumes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nas.cost import closed_form
from nas.evaluate import Fidelity, RunRequest, RunTable, load_fidelity_data, run_all, train_once
from nas.evaluate.forecast import run_seconds
from nas.evaluate.zero_cost import (
    SCORES,
    Batch,
    ZeroCostUndefined,
    fisher,
    grad_norm,
    grasp,
    jacov,
    jacov_of,
    meco,
    meco_of,
    nwot,
    snip,
    synflow,
    zen,
)
from nas.space import ConfigError
from nas.train.proxy import proxy_spec
from nas.train.proxy_config import (
    PROXY_PRESETS,
    ZC_BATCH,
    ZERO_COST_SCORES,
    ProxyConfig,
    get_proxy,
    load_proxy,
)

from ..helpers import tiny_spec

CPU = torch.device("cpu")
W1 = [[1.0, -2.0], [3.0, 0.5], [-1.0, 1.0]]  # 2 -> 3
W2 = [[2.0, -1.0, 0.5], [1.0, 1.0, -3.0]]  # 3 -> 2
X = [[1.0, 2.0], [-1.0, 0.5]]
Y = [0, 1]


def linear_net(w1=W1, w2=W2, act: nn.Module | None = None) -> nn.Sequential:
    """x -> W2 act(W1 x), no biases, in float64."""
    first, second = nn.Linear(2, 3, bias=False), nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        first.weight.copy_(torch.tensor(w1))
        second.weight.copy_(torch.tensor(w2))
    return nn.Sequential(first, *([act] if act is not None else []), second).double()


def batch(x=X, y=Y, seed: int = 0) -> Batch:
    return Batch(
        torch.tensor(x, dtype=torch.float64),
        torch.tensor(y),
        torch.Generator().manual_seed(seed),
    )


# --- worked examples ---------------------------------------------------------------------------


def test_synflow_of_a_two_layer_linear_net_by_hand():
    # |W1| 1 = (3, 3.5, 2); 1^T |W2| = (3, 2, 3.5); R = 1^T |W2| |W1| 1 = 9 + 7 + 7 = 23. R is
    # homogeneous of degree 1 in each layer, so each layer's sum of theta * dR/dtheta is R.
    assert synflow(linear_net(), batch()) == pytest.approx(46.0)
    flipped = linear_net([[-a for a in row] for row in W1])  # signs do not matter
    assert synflow(flipped, batch()) == pytest.approx(46.0)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _forward(w1: np.ndarray, w2: np.ndarray):
    x, y = np.array(X), np.eye(2)[Y]
    h = x @ w1.T
    z = h @ w2.T
    return x, y, h, z, _softmax(z)


def _grads(w1: np.ndarray, w2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d(mean cross-entropy)/dW of x -> W2 W1 x, by the chain rule."""
    x, y, h, _, p = _forward(w1, w2)
    dz = (p - y) / len(x)
    return (dz @ w2).T @ x, dz.T @ h


def test_snip_grad_norm_and_grasp_match_the_chain_rule():
    w1, w2 = np.array(W1), np.array(W2)
    g1, g2 = _grads(w1, w2)
    assert snip(linear_net(), batch()) == pytest.approx(
        np.abs(w1 * g1).sum() + np.abs(w2 * g2).sum(), rel=1e-9
    )
    assert grad_norm(linear_net(), batch()) == pytest.approx(
        np.linalg.norm(g1) + np.linalg.norm(g2), rel=1e-9
    )
    # H g by central differences of the gradient along g
    e = 1e-5
    plus, minus = _grads(w1 + e * g1, w2 + e * g2), _grads(w1 - e * g1, w2 - e * g2)
    hg1, hg2 = ((p - m) / (2 * e) for p, m in zip(plus, minus))
    expected = -((w1 * hg1).sum() + (w2 * hg2).sum())
    assert grasp(linear_net(), batch()) == pytest.approx(expected, rel=1e-6)


def test_fisher_of_a_two_layer_linear_net_by_hand():
    w1, w2 = np.array(W1), np.array(W2)
    _, y, h, z, p = _forward(w1, w2)
    gz = p - y  # each image's own loss gradient at the logits
    gh = gz @ w2
    expected = sum(0.5 * ((a * g) ** 2).mean(0).sum() for a, g in ((h, gh), (z, gz)))
    assert fisher(linear_net(), batch()) == pytest.approx(expected, rel=1e-9)


def test_jacov_of_identical_jacobians_and_of_two_by_hand():
    # x -> W2 W1 x: every image's Jacobian of the summed output is 1^T W2 W1, the correlation
    # matrix is all ones, its eigenvalues 0 and 2
    k = 1e-5
    expected = -(math.log(k) + 1 / k + math.log(2 + k) + 1 / (2 + k))
    assert jacov(linear_net(), batch()) == pytest.approx(expected, rel=1e-9)
    # two Jacobians (1, 2, 3) and (1, 3, 2): r = 1 / 2, eigenvalues 1/2 and 3/2
    j = torch.tensor([[1.0, 2.0, 3.0], [1.0, 3.0, 2.0]])
    expected = -sum(math.log(s + k) + 1 / (s + k) for s in (0.5, 1.5))
    assert jacov_of(j) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ZeroCostUndefined, match="constant"):
        jacov_of(torch.tensor([[1.0, 1.0], [1.0, 2.0]]))


@pytest.mark.parametrize("act", [nn.ReLU, nn.GELU])
def test_nwot_kernel_of_two_images_by_hand(act):
    # pre-activations W1 x: (1, 1, 0) and (1, -1, 2): codes 110 and 101 (0 is off), N_A = 3,
    # Hamming distance 2, K = [[3, 1], [1, 3]], log det = log 8. GELU is coded by its sign.
    w1 = [[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]
    net = linear_net(w1, act=act())
    assert nwot(net, batch([[1.0, 1.0], [1.0, -1.0]])) == pytest.approx(math.log(8))


def test_nwot_fails_without_relu_like_units_or_on_a_shared_code():
    with pytest.raises(ZeroCostUndefined, match="no ReLU-like units"):
        nwot(linear_net(), batch())
    with pytest.raises(ZeroCostUndefined, match="singular"):
        nwot(linear_net(act=nn.ReLU()), batch([[1.0, 1.0], [2.0, 2.0]]))


def _zen_draws(seed: int, weights: list[tuple[int, ...]], shape: tuple[int, ...]):
    gen = torch.Generator().manual_seed(seed)
    drawn = [torch.empty(s).normal_(generator=gen) for s in weights]
    x, eps = torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)
    return drawn, x.double().numpy(), eps.double().numpy()


def test_zen_of_a_linear_map_is_log_alpha_mean_norm_of_w_eps():
    net = nn.Linear(4, 3, bias=False)
    b = Batch(
        torch.zeros(5, 4), torch.zeros(5, dtype=torch.long), torch.Generator().manual_seed(7)
    )
    score = zen(net, b)
    (w,), _, eps = _zen_draws(7, [(3, 4)], (5, 4))
    assert torch.equal(net.weight, w)  # drawn from N(0, 1) by the run seed
    w = w.double().numpy()
    expected = math.log(np.mean(np.linalg.norm(0.01 * eps @ w.T, axis=1)))
    assert score == pytest.approx(expected, rel=1e-5)


def test_zen_adds_the_batchnorm_scale():
    net = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), nn.BatchNorm2d(2))
    shape = (4, 1, 3, 3)
    b = Batch(
        torch.zeros(shape), torch.zeros(4, dtype=torch.long), torch.Generator().manual_seed(3)
    )
    score = zen(net, b)
    (w,), x, eps = _zen_draws(3, [(2, 1, 1, 1)], shape)
    w = w.double().numpy().reshape(1, 2, 1, 1)

    def bn(u: np.ndarray) -> np.ndarray:
        mean, var = u.mean((0, 2, 3), keepdims=True), u.var((0, 2, 3), keepdims=True)
        return (u - mean) / np.sqrt(var + 1e-5)

    u = w * x
    delta = np.mean(np.linalg.norm((bn(u) - bn(w * (x + 0.01 * eps))).reshape(4, -1), axis=1))
    expected = math.log(delta) + 0.5 * math.log(u.var((0, 2, 3)).mean())
    assert score == pytest.approx(expected, rel=1e-4)


def test_meco_minimum_eigenvalue_of_channel_correlations_by_hand():
    # channels (1, 2, 3) and (1, 3, 2): r = 1/2, eigenvalues 1/2 and 3/2
    assert meco_of(torch.tensor([[1.0, 2.0, 3.0], [1.0, 3.0, 2.0]])) == pytest.approx(0.5)
    # a constant channel correlates 0 with the rest: eigenvalues 1 and 0
    assert meco_of(torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])) == pytest.approx(0.0)
    assert meco_of(torch.tensor([[1.0], [2.0]])) == 0.0  # one position: no correlation
    # one channel (a layer with a single output feature): its 1x1 correlation, 1
    assert meco_of(torch.tensor([[1.0, 2.0, 4.0]])) == 1.0
    assert meco_of(torch.tensor([[3.0, 3.0, 3.0]])) == 0.0
    # a Linear on tokens: channels are its output features over the three token positions
    net = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.eye(2))
    x = torch.tensor([[[1.0, 1.0], [2.0, 3.0], [3.0, 2.0]]])
    assert meco(net, Batch(x, torch.zeros(1), torch.Generator())) == pytest.approx(0.5)


# --- every score on every mixer family, through score_once -------------------------------------


def make_folder(root: Path, *, classes: int = 3, per_class: int = 12) -> Path:
    """train/<class>/*.png: each class its own colour plus noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / "train" / f"c{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            base = np.array([80 * c, 255 - 80 * c, 100], dtype=float)
            pixels = np.clip(base + rng.normal(0, 40, (20, 20, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{c}_{i}.png")
    return root


@pytest.fixture
def folder(tmp_path: Path) -> str:
    return f"folder:{make_folder(tmp_path / 'data')}"


def zc(score: str, **changes: object) -> ProxyConfig:
    """`zc:SCORE` at 32 px on 12 images: seconds per test."""
    changes = {"resolution": 32, "train_images": 12, **changes}
    return get_proxy(f"zc:{score}", device=CPU).replace(**changes)


MIXERS = ("conv", "mlp", "attn", "convmixer", "mbconv", "relattn")


def test_every_score_is_finite_on_every_mixer_family(folder):
    fidelities = {name: Fidelity(zc(name), folder) for name in ZERO_COST_SCORES}
    data = load_fidelity_data(fidelities["snip"], workers=1)
    for mixer in MIXERS:
        spec = tiny_spec(mixer, width=16)
        for name, fid in fidelities.items():
            result = train_once(spec, fidelity=fid, seed=0, data=data)
            assert math.isfinite(result.accuracy), (mixer, name)
            assert result.curve == [result.accuracy] and result.seconds > 0
            assert result.resolution == 32
            if name not in ("synflow", "meco"):  # those two may be any sign, or 0
                assert result.accuracy != 0, (mixer, name)  # the classifier is redrawn


def test_the_run_seed_is_the_init_seed(folder):
    fid = Fidelity(zc("snip"), folder)
    data = load_fidelity_data(fid, workers=1)
    spec = tiny_spec("attn", width=16)
    a, again, other = (train_once(spec, fidelity=fid, seed=s, data=data) for s in (0, 0, 1))
    assert a.accuracy == again.accuracy != other.accuracy
    counts = Fidelity(zc("params"), folder)
    assert train_once(spec, fidelity=counts, seed=0, data=data).accuracy == (
        train_once(spec, fidelity=counts, seed=1, data=data).accuracy
    )


def test_params_and_flops_count_the_network_the_proxy_builds(folder):
    spec = tiny_spec("mlp", width=16)
    cfg = zc("params")
    data = load_fidelity_data(Fidelity(cfg, folder), workers=1)
    built = proxy_spec(spec, cfg=cfg, num_classes=3)  # half widths, 3 classes
    from nas.models import NasNet

    n_params = sum(p.numel() for p in NasNet(built).parameters())
    got = train_once(spec, fidelity=Fidelity(cfg, folder), seed=0, data=data)
    assert got.accuracy == n_params == closed_form(built).params
    got = train_once(spec, fidelity=Fidelity(zc("flops"), folder), seed=0, data=data)
    assert got.accuracy == closed_form(built).flops


def test_the_scoring_batch_is_among_every_proxys_training_images(folder):
    small = load_fidelity_data(Fidelity(zc("nwot"), folder), workers=1)
    big = load_fidelity_data(
        Fidelity(ProxyConfig("p", resolution=32, train_images=24, val_images=6), folder),
        workers=1,
    )
    theirs = {bytes(x.numpy()) for x in big.train_x}
    assert len(small.train_y) == 12 and all(bytes(x.numpy()) in theirs for x in small.train_x)


# --- the engine ------------------------------------------------------------------------------


def test_zc_fidelities_run_into_a_table_and_resume(folder, tmp_path, monkeypatch):
    fids = [Fidelity(zc("nwot"), folder), Fidelity(zc("synflow"), folder)]
    load_fidelity_data(fids[0], workers=1)  # decode once, single process: the engine maps it
    specs = [tiny_spec("conv", width=16), tiny_spec("attn", width=16)]
    reqs = [RunRequest(s, f, seed) for f in fids for s in specs for seed in (0, 1)]
    table = RunTable(tmp_path / "runs.jsonl")
    first = run_all(reqs, table=table, device="cpu", progress=False)
    assert [r.status for r in first] == ["ok"] * 8
    assert [r.fidelity for r in first] == ["zc:nwot"] * 4 + ["zc:synflow"] * 4
    assert all(math.isfinite(r.accuracy) and r.seconds > 0 for r in first)
    assert first[0].accuracy != first[1].accuracy  # seeds differ
    lines = table.path.read_text().splitlines()

    def no_scoring(*args, **kwargs):
        raise AssertionError("scored again")

    monkeypatch.setattr("nas.evaluate.runs.score_once", no_scoring)
    again = run_all(reqs, table=table, device="cpu", progress=False)
    assert table.path.read_text().splitlines() == lines
    assert [r.to_dict() for r in again] == [r.to_dict() for r in first]


def test_a_score_that_is_not_finite_fails_the_run_with_its_reason(folder, tmp_path, monkeypatch):
    import dataclasses

    monkeypatch.setitem(
        SCORES, "nwot", dataclasses.replace(SCORES["nwot"], fn=lambda m, b: float("nan"))
    )
    fid = Fidelity(zc("nwot"), folder)
    load_fidelity_data(fid, workers=1)
    (record,) = run_all(
        [RunRequest(tiny_spec("conv", width=16), fid, 0)],
        table=RunTable(tmp_path / "runs.jsonl"),
        device="cpu",
        progress=False,
    )
    assert record.status == "failed" and record.accuracy is None
    assert record.failure == "ZeroCostUndefined: nwot is nan on this network"


# --- the configuration -------------------------------------------------------------------------


def test_zc_names_are_the_cpu_proxys_geometry_with_a_score():
    cpu = PROXY_PRESETS["cpu"]
    for name in ZERO_COST_SCORES:
        p = get_proxy(f"zc:{name}", device=CPU)
        assert (p.name, p.score, p.train_images, p.epochs) == (f"zc:{name}", name, ZC_BATCH, 1)
        assert (p.resolution, p.width_scale, p.val_split) == (
            cpu.resolution,
            cpu.width_scale,
            cpu.val_split,
        )
    ids = {Fidelity(get_proxy(f"zc:{n}", device=CPU)).fidelity_id for n in ZERO_COST_SCORES}
    assert len(ids) == len(ZERO_COST_SCORES) and Fidelity(cpu).fidelity_id not in ids
    with pytest.raises(ConfigError, match="unknown zero-cost score 'nope'"):
        get_proxy("zc:nope", device=CPU)
    with pytest.raises(ConfigError, match=r"proxy\.score"):
        ProxyConfig(score="nope")


def test_no_existing_fidelity_changes_its_id():
    for preset in PROXY_PRESETS.values():  # the neutral score is left out of what ids hash
        assert "score" not in preset.canonical()
    assert zc("nwot").canonical()["score"] == "nwot"


def test_a_proxy_file_may_name_a_score(tmp_path):
    path = tmp_path / "zc_nwot_128.yaml"
    path.write_text("score: nwot\nresolution: 128\ntrain_images: 32\n")
    p = load_proxy(path)
    assert (p.name, p.score, p.resolution, p.train_images) == ("zc_nwot_128", "nwot", 128, 32)
    assert "nwot score" in Fidelity(p).describe() and "no training" in Fidelity(p).describe()


def test_every_score_name_has_a_function_and_back():
    assert set(SCORES) == set(ZERO_COST_SCORES)


def test_the_forecast_counts_flip_tta_as_a_second_validation_pass(monkeypatch):
    import dataclasses

    monkeypatch.setattr("nas.evaluate.forecast.train_seconds_per_image", lambda *a, **k: 0.01)
    spec, plain = tiny_spec("conv", width=16), PROXY_PRESETS["tiny"]
    tta = dataclasses.replace(plain, tta_flip=True)
    extra = 0.01 * plain.epochs * plain.val_images / 3
    assert run_seconds(spec, tta, device=CPU) == pytest.approx(
        run_seconds(spec, plain, device=CPU) + extra
    )


def test_the_forecast_of_a_zc_run_is_its_passes_over_the_batch(monkeypatch):
    monkeypatch.setattr("nas.evaluate.forecast.train_seconds_per_image", lambda *a, **k: 0.01)
    spec = tiny_spec("conv", width=16)
    assert run_seconds(spec, zc("params"), device=CPU) == 0
    assert run_seconds(spec, zc("grasp"), device=CPU) == pytest.approx(
        0.01 * 12 * SCORES["grasp"].passes
    )
    assert run_seconds(spec, PROXY_PRESETS["tiny"], device=CPU) > run_seconds(
        spec, zc("grasp"), device=CPU
    )
