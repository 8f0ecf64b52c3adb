"""The closed form equals fvcore, to the unit, on 300 specs sampled from the shipped spaces at
several resolutions. Every preset is checked against the fvcore count that
tests/models/test_presets.py already takes (FLOPs module by module); here, params part by part."""

from __future__ import annotations

import importlib
import random

import pytest
import torch

from nas.cost import (
    CostMismatch,
    NoClosedForm,
    build_for_counting,
    closed_form,
    count_params,
    measure,
    measure_model,
    verify_cost,
)
from nas.models import PRESETS, NasNet
from nas.space import ArchSpec, ConfigError, list_spaces, load_space
from tests.helpers import tiny_spec

closed_form_module = importlib.import_module("nas.cost.closed_form")  # the function shadows it
SAMPLES_PER_SPACE = 50  # x 6 shipped spaces = 300 specs
RESOLUTIONS = (32, 48, 64, 96)


def _parts(model) -> dict[str, int]:
    parts = {"stem": model.stem}
    parts.update({f"stages.{i}": stage for i, stage in enumerate(model.stages)})
    parts.update(norm=model.norm, head=model.head)
    return {k: count_params(m) for k, m in parts.items()}


def _mismatch(spec: ArchSpec) -> str | None:
    model = build_for_counting(spec)
    report = measure_model(model)
    cost = closed_form(spec)
    if (cost.flops, cost.by_module) != (report.flops, report.count.by_module) or (
        cost.params,
        cost.params_by_module,
    ) != (report.params, _parts(model)):
        return (
            f"{spec.summary()} @{spec.resolution}: closed form {cost.params:,}/"
            f"{cost.flops:,} {cost.by_module}, fvcore {report.params:,}/{report.flops:,} "
            f"{report.count.by_module}"
        )
    return None


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_params_part_by_part(name):
    spec = PRESETS[name]
    with torch.device("meta"):
        model = NasNet(spec)
    assert closed_form(spec).params_by_module == _parts(model)


def _at_resolution(spec: ArchSpec, near: int) -> ArchSpec:
    """The smallest resolution >= near that the spec accepts (an MLP stage needs tokens)."""
    r = spec.fit_resolution(near)
    for _ in range(64):
        try:
            return spec.replace(resolution=r)
        except ConfigError:
            r += spec.total_stride()
    raise AssertionError(f"no resolution from {near} up to {r} fits {spec.summary()}")


@pytest.mark.slow
@pytest.mark.parametrize("space_name", list_spaces())
def test_sampled_specs_equal_fvcore(space_name):
    space, rng = load_space(space_name), random.Random(space_name)
    bad = []
    for i in range(SAMPLES_PER_SPACE):
        spec = _at_resolution(space.sample_random(rng), RESOLUTIONS[i % len(RESOLUTIONS)])
        bad.append(_mismatch(spec))
    assert [b for b in bad if b] == []


def test_the_sample_covers_every_mixer_and_stem():
    seen_mixers, seen_stems = set(), set()
    for space_name in list_spaces():
        space, rng = load_space(space_name), random.Random(space_name)
        for _ in range(SAMPLES_PER_SPACE):
            spec = space.sample_random(rng)
            seen_mixers.update(m for s in spec.stages for m in s.mixers)
            seen_stems.add(spec.stem.type)
    assert seen_mixers == set(closed_form_module.BLOCK_COSTS)
    assert seen_stems == {"conv1", "conv4", "convmixer", "coatnet"}
    assert SAMPLES_PER_SPACE * len(list_spaces()) >= 300


def test_every_mixer_has_a_formula_or_is_declared_measured_only():
    from nas.space import MIXERS

    formulas, measured = set(closed_form_module.BLOCK_COSTS), closed_form_module.MEASURED_ONLY
    assert formulas | measured == set(MIXERS) and not formulas & measured


def test_a_block_without_formula_is_measured_not_guessed(monkeypatch):
    spec = tiny_spec("conv", resolution=32)
    monkeypatch.delitem(closed_form_module.BLOCK_COSTS, "conv")
    with pytest.raises(NoClosedForm, match="'conv'"):
        closed_form(spec)
    cost = closed_form(spec, fallback=True)
    report = measure(spec)
    assert cost.method == "fvcore"
    assert (cost.params, cost.flops) == (report.params, report.flops)


def test_verify_cost_catches_a_wrong_formula(monkeypatch):
    spec = tiny_spec("attn", resolution=32)
    closed, report = verify_cost(spec)
    assert (closed.params, closed.flops) == (report.params, report.flops)
    right = closed_form_module.BLOCK_COSTS["attn"]

    def off_by_one(stage, dim_in, dim, size, stride):
        (p, f), spatial = right(stage, dim_in, dim, size, stride)
        return (p, f + 1), spatial

    monkeypatch.setitem(closed_form_module.BLOCK_COSTS, "attn", off_by_one)
    with pytest.raises(CostMismatch, match=r"stages\.0: closed form"):
        verify_cost(spec, report=report)


def test_make_divisible_is_timms():
    from timm.layers import make_divisible

    for v in [1, 7.5, 12, 96 * 4, 100.0, 191, 1000 * 0.25, 3, 4 * 4.0]:
        assert closed_form_module.make_divisible(v) == make_divisible(v)
