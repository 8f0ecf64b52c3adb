from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import yaml

from nas.space import (
    ArchSpec,
    ConfigError,
    HeadSpec,
    StageSpec,
    StemSpec,
    load_spec,
    parse_space,
    save_spec,
    spec_to_yaml,
)
from nas.space.spec import STAGE_OPTIONS, spec_from_dict


def hybrid_like(**stage_changes) -> ArchSpec:
    second = {"downsample": "conv", "heads": 2, **stage_changes}
    stages = (StageSpec(32, ("conv",) * 2), StageSpec(64, ("conv", "attn", "attn"), **second))
    return ArchSpec(
        stages=stages, stem=StemSpec("conv1", 4), head=HeadSpec(norm=True), resolution=64
    )


def test_equal_specs_share_id_and_hash():
    a, b = hybrid_like(), hybrid_like()
    assert a == b and hash(a) == hash(b) and a.arch_id == b.arch_id
    assert len(a.arch_id) == 10


def test_id_changes_with_any_relevant_field():
    base = hybrid_like()
    others = [
        hybrid_like(heads=4),
        hybrid_like(cpe=False),
        hybrid_like(mlp_ratio=3),
        base.replace(resolution=96),
        base.replace(num_classes=10),
        base.replace(stem=StemSpec("conv4", 4, 64)),
    ]
    ids = {s.arch_id for s in others}
    assert base.arch_id not in ids and len(ids) == len(others)


def test_irrelevant_fields_are_canonicalised():
    """heads/cpe/shared of a conv-only stage cannot split one network into two ids."""
    plain = StageSpec(32, ("conv",) * 2)
    noisy = StageSpec(32, ("conv",) * 2, heads=7, cpe=False, shared=True, token_ratio=0.25)
    assert plain == noisy
    assert noisy.heads == 0 and noisy.cpe and not noisy.shared


def test_sharing_matters_only_where_a_shareable_mixer_repeats():
    """Sharing is per mixer type: one attn block (and conv, which never shares) is one network."""
    once = ("conv", "conv", "attn")
    assert StageSpec(64, once, heads=2, shared=True) == StageSpec(64, once, heads=2)
    twice = ("mlp", "attn", "attn")
    assert StageSpec(64, twice, heads=2, shared=True) != StageSpec(64, twice, heads=2)
    assert StageSpec(64, ("mlp", "mlp"), shared=True).shared


def test_int_and_float_ratio_are_one_spec():
    assert StageSpec(32, ("conv",), mlp_ratio=3) == StageSpec(32, ("conv",), mlp_ratio=3.0)


def test_arch_id_is_stable_across_processes():
    code = "from tests.space.test_spec import hybrid_like; print(hybrid_like().arch_id)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
        cwd=".",
    )
    assert out.stdout.strip() == hybrid_like().arch_id


def test_yaml_round_trip(tmp_path):
    spec = hybrid_like(shared=True)
    path = tmp_path / "arch.yaml"
    save_spec(spec, path, name="demo")
    assert load_spec(path) == spec
    text = path.read_text()
    assert text.startswith(f"# arch_id: {spec.arch_id}")
    data = yaml.safe_load(text)
    assert data["stages"][1]["blocks"] == [["conv", 1], ["attn", 2]]
    assert "heads" not in data["stages"][0]  # irrelevant fields are not written


def test_blocks_accept_per_block_lists(tmp_path):
    data = yaml.safe_load(spec_to_yaml(hybrid_like()))
    data["stages"][1]["blocks"] = ["conv", "attn", "attn"]
    assert ArchSpec.from_dict(data) == hybrid_like()


@pytest.mark.parametrize(
    "change, field, words",
    [
        (lambda d: d["stages"][1].update(heads=3), "stages[1].heads", "not divisible"),
        (
            lambda d: d["stages"][1].update(blocks=[["transformer", 2]]),
            "stages[1].blocks[0]",
            "unknown mixer",
        ),
        (
            lambda d: d["stages"][1].update(downsample="none"),
            "stages[1].width",
            "without a downsample",
        ),
        (lambda d: d["stages"][0].update(widht=3), "stages[0].widht", "unknown field"),
        (lambda d: d.update(resolution=102), "resolution", "must be divisible by the stem"),
        (lambda d: d.update(resolution=36), "resolution", "multiple of 8"),
        (lambda d: d.update(layout="single"), "layout", "expected 'multi'"),
        (lambda d: d["stem"].update(type="conv3"), "stem.type", "expected one of"),
        (lambda d: d["stages"][1].update(width=True), "stages[1].width", "integer"),
        (
            lambda d: d["stages"][1].update(mlp_ratio=float("inf")),
            "stages[1].mlp_ratio",
            "positive finite number",
        ),
    ],
)
def test_bad_specs_name_the_field(change, field, words):
    data = yaml.safe_load(spec_to_yaml(hybrid_like()))
    change(data)
    with pytest.raises(ConfigError) as err:
        ArchSpec.from_dict(data)
    assert err.value.field == field
    assert words in str(err.value)


def test_bad_spec_file_error_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("stages: [{width: 32, blocks: [[conv, 2]], heads: -1}]\n")
    with pytest.raises(ConfigError) as err:
        load_spec(path)
    message = str(err.value)
    assert str(path) in message and "stages[0].heads" in message
    assert "\n" not in message


def test_stride_needs_a_strided_first_block():
    with pytest.raises(ConfigError, match="can stride"):
        StageSpec(32, ("conv",), downsample="stride")


def test_feature_sizes_follow_downsampling():
    spec = hybrid_like()
    assert spec.feature_sizes() == [16, 8]
    assert spec.total_stride() == 8
    assert dataclasses.replace(spec, resolution=32).feature_sizes() == [8, 4]


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import os
    import stat

    from nas._core import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temp file left behind


# a value other than the default for every stage option; a new StageSpec field adds one here
_STAGE_VALUES = {
    "downsample": "conv",
    "cpe": False,
    "shared": True,
    "heads": 2,
    "mlp_ratio": 3.0,
    "token_ratio": 0.25,
    "kernel_size": 5,
}


def test_every_stage_field_is_read_written_and_sampled_with_no_list_to_extend():
    """Spec and space files take their keys from the dataclasses' fields: each stage option is
    accepted by both, written back by to_dict and fixed in a space as given."""
    assert set(_STAGE_VALUES) == set(STAGE_OPTIONS)
    stage = {"width": 16, "blocks": [["conv", 2], ["attn", 2], ["mlp", 2]], **_STAGE_VALUES}
    data = {
        "resolution": 32,
        "stem": {"type": "conv1", "patch_size": 4},
        "stages": [{"width": 8, "blocks": [["conv", 1]]}, stage],
    }
    spec = spec_from_dict(data)
    written = spec.to_dict()["stages"][1]
    assert {k: written[k] for k in STAGE_OPTIONS} == _STAGE_VALUES
    assert parse_space(data).sample_random(0) == spec
