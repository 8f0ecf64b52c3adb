from __future__ import annotations

import textwrap

import optuna
import pytest

from nas.space import ConfigError, load_space, parse_space
from nas.space.choices import ParamRef

TINY = """\
# tiny: two stages for tests; 24 architectures, counted by hand
resolution: 32
params:
  width: {choice: [16, 32]}
stem: {type: conv1, patch_size: 4}
stages:
  - width: {param: width}
    blocks: [[conv, {int: [1, 2]}]]
  - width: {param: width, times: 2}
    downsample: conv
    blocks: [[{choice: [conv, attn]}, {int: [1, 2]}]]
    heads: {param: width, div: 16}
    cpe: {choice: [true, false]}
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return load_space(path)


def test_header_comment_is_the_description(tiny):
    assert tiny.name == "tiny"
    assert tiny.description.startswith("tiny: two stages for tests")


def test_exact_size_by_hand(tiny):
    # width 2 x stage-1 depth 2 x (conv: depth 2 | attn: depth 2 x cpe 2) = 2*2*(2+4)
    size = tiny.size()
    assert size.exact and size.count == 24
    assert len({spec.arch_id for _, spec in tiny.walk()}) == 24


def test_optuna_names_are_dotted_and_conditional(tiny):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_cpe = {True: False, False: False}
    for _ in range(40):
        trial = study.ask()
        spec = tiny.sample(trial)
        names = set(trial.params)
        assert {"width", "stage1.depth", "stage2.depth", "stage2.mixer"} <= names
        has_attn = "attn" in spec.stages[1].mixers
        assert ("stage2.cpe" in names) == has_attn  # cpe only matters with attention
        seen_cpe[has_attn] = True
        assert spec.stages[1].width == 2 * trial.params["width"]
        assert spec.stages[1].heads == (trial.params["width"] // 16 if has_attn else 0)
        study.tell(trial, 0.0)
    assert all(seen_cpe.values())


def test_random_sampling_is_seeded(tiny):
    a = [tiny.sample_random(seed).arch_id for seed in range(10)]
    b = [tiny.sample_random(seed).arch_id for seed in range(10)]
    assert a == b and len(set(a)) > 1


def test_resolution_override(tiny):
    spec = tiny.sample_random(0, resolution=64)
    assert spec.resolution == 64 and spec.feature_sizes() == [16, 8]


def test_find_params_reproduces_the_spec(tiny):
    target = tiny.sample_random(3)
    params = tiny.find_params(target)
    assert params is not None
    study = optuna.create_study()
    study.enqueue_trial(params)
    assert tiny.sample(study.ask()) == target


def test_find_params_rejects_outsiders(tiny):
    outsider = tiny.sample_random(0).replace(resolution=32, num_classes=10)
    assert tiny.find_params(outsider) is None


def test_variants_prefix_their_names():
    space = parse_space(
        {
            "variants": {
                "ss": {
                    "stem": {"type": "conv1", "patch_size": 16},
                    "stages": [{"width": {"choice": [32, 64]}, "blocks": [["conv", 2]]}],
                },
                "ms": {
                    "stem": {"type": "conv1", "patch_size": 4},
                    "stages": [
                        {"width": 32, "blocks": [["conv", 1]]},
                        {"width": 64, "downsample": "conv", "blocks": [["conv", {"int": [1, 3]}]]},
                    ],
                },
            }
        }
    )
    assert set(space.choices()) == {"variant", "ss.stage1.width", "ms.stage2.depth"}
    layouts = {space.sample_random(s).layout for s in range(20)}
    assert layouts == {"single", "multi"}
    assert space.size().count == 5


def test_param_div_must_come_out_whole():
    with pytest.raises(ConfigError, match="not divisible by 32"):
        ParamRef("width", div=32).apply(48)
    assert ParamRef("width", times=4, div=32).apply(96) == 12


def _load(tmp_path, text: str):
    path = tmp_path / "space.yaml"
    path.write_text(textwrap.dedent(text))
    return load_space(path)


def test_head_dim_sets_heads_per_width(tmp_path):
    space = _load(
        tmp_path,
        """\
        # heads: attention whose head count follows the width
        resolution: 32
        params:
          width: {choice: [64, 128]}
        stem: {type: conv1, patch_size: 4}
        stages:
          - width: {param: width}
            blocks: [[conv, 1], [attn, {int: [0, 1]}]]
            head_dim: {choice: [16, 32]}
        """,
    )
    seen = {(s.stages[0].width, s.stages[0].heads) for _, s in space.walk()}
    assert seen == {(64, 0), (128, 0), (64, 4), (64, 2), (128, 8), (128, 4)}
    assert space.size().count == 6  # head_dim is not sampled without attention
    assert "stage1.head_dim" in space.choices()


def test_a_param_may_serve_only_some_variants(tmp_path):
    space = _load(
        tmp_path,
        """\
        # v: a top-level param that one variant uses
        resolution: 32
        params:
          w: {choice: [16, 32]}
        stem: {type: conv1, patch_size: 4}
        variants:
          a: {stages: [{width: {param: w}, blocks: [[conv, 1]]}]}
          b: {stages: [{width: 8, blocks: [[conv, 1]]}]}
        """,
    )
    assert space.size().count == 3


def _error(tmp_path, text: str) -> str:
    path = tmp_path / "broken.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as err:
        load_space(path)
    message = str(err.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "text, words",
    [
        (
            "stages: [{width: {choise: [1, 2]}, blocks: [[conv, 1]]}]",
            "stages[0].width: expected exactly one of choice, int, float, param",
        ),
        (
            "stages: [{width: 32, blocks: [[conv, {int: [4, 2]}]]}]",
            "stages[0].blocks[0].depth: `low <= high` must hold, but got low=4, high=2",
        ),
        (
            "stages: [{width: {param: w}, blocks: [[conv, 1]]}]",
            "stages[0].width: unknown param 'w'",
        ),
        (
            "params: [1, 2]\nvariants: {a: {stages: [{width: 32, blocks: [[conv, 1]]}]}}",
            "params: expected a mapping of name -> choice",
        ),
        (
            "variants: {a: {params: 3, stages: [{width: 32, blocks: [[conv, 1]]}]}}",
            "variants.a.params: expected a mapping of name -> choice",
        ),
        (
            "params: {w: {choice: [1]}}\n"
            "variants: {a: {stages: [{width: 32, blocks: [[conv, 1]]}]}}",
            "params.w: param is never used by any variant",
        ),
        (
            "stages: [{width: 48, blocks: [[attn, 1]], head_dim: {choice: [16, 32]}}]",
            "stages[0].head_dim: width 48 is not divisible by head_dim 32",
        ),
        (
            "stages: [{width: 64, blocks: [[attn, 1]], heads: 2, head_dim: 32}]",
            "stages[0].head_dim: give heads or head_dim",
        ),
        (
            "params: {w: {choice: [1]}}\nstages: [{width: 32, blocks: [[conv, 1]]}]",
            "params.w: param is never used",
        ),
        (
            "stages: [{width: 32, blocks: [[{choice: [conv, gmlp]}, 1]]}]",
            "stages[0].blocks[0].mixer: unknown mixer 'gmlp'",
        ),
        (
            "stages: [{width: 32, blocks: [[conv, {int: [0, 2]}], [attn, {int: [0, 2]}]], "
            "heads: 2}]",
            "stages[0].blocks: every segment can have depth 0 at once",
        ),
        (
            "stages: [{width: {choice: [32, 48]}, blocks: [[attn, 1]], heads: {choice: [1, 5]}}]",
            "stages[0].heads: width 32 is not divisible by heads 5",
        ),
        (
            "stages: [{width: 32, blocks: [[conv, 1]]}]\nresolution: 30",
            "resolution: must be divisible by the stem's patch size 16, got 30",
        ),
        ("stages: [{width: 32, blocks: [[conv, 1]]]", "not valid YAML"),
        ("stagez: []", "stagez: unknown field"),
    ],
)
def test_broken_space_files_give_one_clear_line(tmp_path, text, words):
    assert words in _error(tmp_path, text)


def test_unknown_space_name_lists_the_library():
    with pytest.raises(ConfigError, match=r"unknown space 'hybird'.*hybrid"):
        load_space("hybird")
