"""Found architectures through timm: any spec file (`nas_arch`), a study's Pareto members
(`register_study`), and nas-train checkpoints as pretrained files, read as data only."""

from __future__ import annotations

import pytest
import timm
import torch
import yaml
from torch import nn

from nas.models import build_model, register_study
from nas.models.timm_registry import _FIRST_CONV
from nas.space import ConfigError, StemSpec, load_spec, save_spec
from nas.train import checkpoint as ckpt
from tests.helpers import tiny_spec


@pytest.fixture
def study(tmp_path):
    """A nas-search output folder with two Pareto members (the parts register_study reads)."""
    root = tmp_path / "hybrid-4.5GFLOPs"
    for spec in (tiny_spec("conv", width=8, depth=1), tiny_spec("mbconv", width=16)):
        save_spec(spec, root / "archs" / f"{spec.arch_id}.yaml")
    (root / "run.yaml").write_text(yaml.safe_dump({"config": {"study_name": "Hybrid-4.5G"}}))
    return root


def test_any_spec_file_is_a_timm_model(tmp_path):
    spec = tiny_spec("attn", width=16)
    path = tmp_path / "arch.yaml"
    save_spec(spec, path)
    model = timm.create_model("nas_arch", spec=str(path), num_classes=7)
    assert model.spec == spec.replace(num_classes=7)
    assert model.pretrained_cfg["input_size"] == (3, 32, 32)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 7)


def test_nas_arch_without_a_spec_says_what_it_needs():
    with pytest.raises(ConfigError, match="spec: nas_arch needs the architecture"):
        timm.create_model("nas_arch")


def test_register_study_registers_every_pareto_member(study):
    names = register_study(study)
    ids = sorted(p.stem for p in (study / "archs").glob("*.yaml"))
    assert names == [f"nas_hybrid_4_5g_{i}" for i in ids]  # '.' would read as a timm tag
    assert set(names) <= set(timm.list_models("nas_hybrid_4_5g_*"))
    for name, arch_id in zip(names, ids):
        model = timm.create_model(name)
        assert model.spec == load_spec(study / "archs" / f"{arch_id}.yaml")
        assert model.pretrained_cfg["architecture"] == name
    assert register_study(study) == names  # again: replaced, not an error


def test_features_only_and_pretrained_cfg_as_for_presets(study):
    name = register_study(study)[0]
    spec = timm.create_model(name).spec
    features = timm.create_model(name, features_only=True)
    outs = features(torch.zeros(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == list(spec.widths)
    assert [o.shape[-1] for o in outs] == spec.feature_sizes()
    cfg = timm.data.resolve_data_config({}, model=timm.create_model(name))
    assert cfg["input_size"] == (3, 32, 32)


@pytest.mark.parametrize("stem", sorted(_FIRST_CONV))
def test_first_conv_names_the_stems_first_convolution(stem):
    """timm adapts it when pretrained weights meet another in_chans."""
    spec = tiny_spec("mbconv" if stem == "coatnet" else "conv")
    if stem != spec.stem.type:
        width = 16 if stem == "conv4" else 0
        spec = spec.replace(stem=StemSpec(stem, 4, width))
    model = build_model(spec)
    assert isinstance(model.get_submodule(_FIRST_CONV[stem]), nn.Conv2d)


def _checkpoint(tmp_path, *, best: str) -> tuple[str, dict, dict]:
    """A checkpoint in nas-train's format whose model and EMA weights differ."""
    spec = tiny_spec("conv", width=8, depth=1).replace(num_classes=4, resolution=64)
    model, ema = build_model(spec).state_dict(), build_model(spec).state_dict()
    for v in ema.values():
        if v.is_floating_point():
            v.add_(1.0)
    ema = {f"module.{k}": v for k, v in ema.items()}  # as ModelEmaV3.state_dict() keys them
    path = tmp_path / f"{best}.pt"
    state = {
        "format": ckpt.FORMAT_VERSION,
        "spec": spec.to_dict(),
        **ckpt.weights_state(model, ema, best=best),
    }
    ckpt.save_atomic(state, path)
    return str(path), model, ema


@pytest.mark.parametrize("best", ["model", "ema"])
def test_a_checkpoint_loads_through_timm_with_the_best_weights(tmp_path, best):
    path, model_sd, ema_sd = _checkpoint(tmp_path, best=best)
    model = timm.create_model("nas_arch", pretrained=True, pretrained_cfg_overlay=dict(file=path))
    assert model.num_classes == 4 and model.spec.resolution == 64  # the checkpoint's
    want = (
        model_sd if best == "model" else {k.removeprefix("module."): v for k, v in ema_sd.items()}
    )
    assert all(torch.equal(v, want[k]) for k, v in model.state_dict().items())
    assert all(
        torch.equal(v, want[k]) for k, v in ckpt.model_from_checkpoint(path).state_dict().items()
    )
    # other classes: timm drops the trained classifier and keeps the backbone
    tuned = timm.create_model(
        "nas_arch", pretrained=True, num_classes=10, pretrained_cfg_overlay=dict(file=path)
    )
    assert tuned.num_classes == 10
    assert torch.equal(tuned.stem.proj.weight, want["stem.proj.weight"])


def test_a_study_member_loads_its_own_checkpoint_and_refuses_another(tmp_path, study):
    path, model_sd, _ = _checkpoint(tmp_path, best="model")  # trained tiny conv, 4 classes
    names = register_study(study)
    trained_id = tiny_spec("conv", width=8, depth=1).arch_id
    (same,) = [n for n in names if n.endswith(trained_id)]
    model = timm.create_model(same, pretrained=True, pretrained_cfg_overlay=dict(file=path))
    assert model.num_classes == 4 and torch.equal(
        model.stem.proj.weight, model_sd["stem.proj.weight"]
    )
    (other,) = [n for n in names if n != same]
    with pytest.raises(ConfigError, match=r"holds architecture \w+ .* not the one asked for"):
        timm.create_model(other, pretrained=True, pretrained_cfg_overlay=dict(file=path))


class Payload:
    """Anything a pickle can rebuild by calling code."""


def test_a_checkpoint_carrying_a_pickled_object_is_refused_with_one_line(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": ckpt.FORMAT_VERSION, "spec": {}, "extra": Payload()}, path)
    for load in (
        ckpt.load,
        lambda p: timm.create_model(
            "nas_arch", pretrained=True, pretrained_cfg_overlay=dict(file=str(p))
        ),
    ):
        with pytest.raises(ConfigError) as err:
            load(path)
        text = str(err.value)
        assert text.startswith(f"{path}: refused: the file carries a pickled Python object")
        assert "Payload" in text and "\n" not in text
