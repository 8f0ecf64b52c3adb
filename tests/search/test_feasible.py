"""The feasible region against brute force on small spaces, and the sampler wrapper with real
Optuna studies: every trial's architecture fits, and its recorded params rebuild it."""

from __future__ import annotations

import importlib
import math
import re
import textwrap
from collections import Counter

import optuna
import pytest

from nas.cost import NoClosedForm, closed_form
from nas.search.feasible import FeasibleRegion
from nas.search.feasible_sampler import FeasibleSampler, restrict_sampler
from nas.space import ConfigError, load_space
from nas.space.choices import Replay

net_region = importlib.import_module("nas.search._private.net_region")
optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

MINI = """\
# mini: a small hybrid (conv/mlp/attn segments, CPE, sharing, deep stem) for brute force
resolution: 64
params:
  width: {choice: [32, 64]}
  mlp_ratio: {choice: [2, 4]}
stem: {type: {choice: [conv1, conv4]}, patch_size: 4, width: 16}
head: {norm: true, pool: fast}
stages:
  - width: {param: width}
    blocks: [[conv, {int: [1, 2]}]]
    mlp_ratio: {param: mlp_ratio}
  - width: {param: width, times: 2}
    downsample: conv
    blocks: [[{choice: [conv, mlp, attn]}, {int: [1, 2]}], [attn, {int: [0, 2]}]]
    cpe: {choice: [true, false]}
    shared: {choice: [false, true]}
    heads: {param: width, div: 32}
    mlp_ratio: {param: mlp_ratio}
    token_ratio: {choice: [0.25, 0.5]}
"""

VARIANTS = """\
# variants: CoAtNet-like and ConvMixer-like alternatives, strided blocks, an MLP head, act
resolution: 64
act: {choice: [gelu, relu]}
variants:
  coat:
    params:
      width: {choice: [32, 64]}
    stem: {type: coatnet, patch_size: 2, width: {choice: [16, 32]}}
    head: {pool: avg, hidden: {param: width, times: 2}}
    stages:
      - width: {param: width}
        downsample: stride
        blocks: [[mbconv, {int: [1, 2]}]]
        mlp_ratio: {choice: [2, 4]}
      - width: {param: width, times: 2}
        downsample: stride
        blocks: [[{choice: [mbconv, relattn]}, {int: [1, 2]}]]
        heads: {param: width, div: 32}
        mlp_ratio: 4
  mixer:
    stem: {type: convmixer, patch_size: {choice: [4, 8]}}
    head: {pool: avg}
    stages:
      - width: {choice: [32, 48]}
        blocks: [[convmixer, {int: [2, 6], step: 2}]]
        kernel_size: {choice: [3, 5]}
"""


def _space(tmp_path, text: str):
    path = tmp_path / (text.split(":")[0].lstrip("# ") + ".yaml")
    path.write_text(textwrap.dedent(text))
    return load_space(path)


@pytest.fixture(params=[MINI, VARIANTS], ids=["mini", "variants"])
def small(request, tmp_path):
    """(space, {arch_id: (params, flops)}) by walking every decision path."""
    space = _space(tmp_path, request.param)
    archs = {}
    for _, spec in space.walk():
        cost = closed_form(spec)
        archs[spec.arch_id] = (cost.params, cost.flops)
    return space, archs


def _quantiles(values, qs=(0.0, 0.1, 0.5, 0.9, 1.0)):
    values = sorted(values)
    return [values[int(q * (len(values) - 1))] for q in qs]


def test_count_equals_enumeration(small):
    space, archs = small
    params_budgets = [None, _quantiles(p for p, _ in archs.values())[2]]
    for max_flops in _quantiles(f for _, f in archs.values()):
        for max_params in params_budgets:
            region = FeasibleRegion(space, max_flops=max_flops, max_params=max_params)
            want = sum(
                f <= max_flops and (max_params is None or p <= max_params)
                for p, f in archs.values()
            )
            count = region.count
            assert count.exact and count.low == count.high == want, (max_flops, max_params)
            assert count.total == len(archs) == space.size().count


def test_extremes_and_choice_ranges_equal_enumeration(small):
    space, archs = small
    region = FeasibleRegion(space, max_flops=10**12)
    flops = [f for _, f in archs.values()]
    assert region.cheapest == (min(flops), min(p for p, _ in archs.values()))
    assert region.dearest == (max(flops), max(p for p, _ in archs.values()))
    assert closed_form(region.extreme_spec("cheapest")).flops == min(flops)
    assert closed_form(region.extreme_spec("dearest")).flops == max(flops)
    want: dict[str, dict] = {}
    for params, spec in space.walk():
        f = closed_form(spec).flops
        for name, value in params.items():
            lo, hi = want.setdefault(name, {}).get(value, (f, f))
            want[name][value] = (min(lo, f), max(hi, f))
    assert region.choice_ranges() == want


def test_histogram_bounds_bracket_the_exact_count(small, monkeypatch):
    space, archs = small
    max_flops = _quantiles(f for _, f in archs.values())[2]
    exact = FeasibleRegion(space, max_flops=max_flops).count.low
    monkeypatch.setattr(net_region, "MEET_CAP", 0)
    count = FeasibleRegion(space, max_flops=max_flops).count
    assert not count.exact and count.how.startswith("bounds")
    assert count.low <= exact <= count.high
    assert count.high - count.low <= 0.02 * len(archs)


def test_the_hybrid_space_counts_exactly_and_by_hand():
    """Distinct stages given (width, mlp_ratio), for a stage of 1..D blocks then 0..D attn:
    CPE (x2) matters where attn or mlp is present, head size (x2) where attn is, token ratio
    (x2) where mlp is, sharing (x2) where attn or mlp occurs twice or more (it is per mixer
    type; conv does not share).
      conv^a attn^b: b = 0: D; b = 1: 4D; b >= 2: 8D(D-1)
      mlp^a attn^b:  (1,0): 4; (1,1): 8; a >= 2, b = 0: 8(D-1); b >= 1 but not (1,1): 16(D^2-1)
      attn^n, n = 1..2D: 4 + 8(2D-1)
    D = 4: 116 + 276 + 60 = 452; D = 12: 1,116 + 2,388 + 188 = 3,692; D = 3: 63 + 156 + 44 = 263;
    times 2 stems x 5 widths x 3 ratios x 4 stage-1 depths."""
    region = FeasibleRegion(load_space("hybrid"), max_flops="4GFLOPs")
    count = region.count
    assert count.exact and count.total == 2 * 5 * 3 * 4 * 452 * 3692 * 263
    assert 0 < count.low < count.total
    loose = FeasibleRegion(load_space("hybrid"), max_flops="4GFLOPs", max_params="10M").count
    assert loose.exact and 0 < loose.low < count.low


def test_budgets_outside_the_space_say_so(tmp_path):
    space = _space(tmp_path, MINI)
    low = FeasibleRegion(space, max_flops=1000)
    assert low.count.low == 0 and "below the cheapest" in low.problem()
    assert "nothing fits" in low.summary()
    with pytest.raises(ConfigError, match="budget: budget 1KFLOPs"):
        restrict_sampler(optuna.samplers.RandomSampler(), space, max_flops=1000)
    high = FeasibleRegion(space, max_flops="1T")
    assert high.problem() is None and "constrains nothing" in high.summary()
    assert high.count.low == high.count.total
    with pytest.raises(ConfigError, match="resolution: expected an integer of at least 8"):
        FeasibleRegion(space, max_flops="1T", resolution=0)


def test_a_given_resolution_is_used_and_checked_not_replaced_by_the_spaces():
    space = load_space("hybrid")
    assert FeasibleRegion(space, max_flops="4G", resolution=160).resolution == 160
    assert FeasibleRegion(space, max_flops="4G").resolution == 224
    with pytest.raises(ConfigError, match="resolution: expected an integer of at least 8"):
        FeasibleRegion(space, max_flops="4G", resolution=0)


def test_summary_names_the_count_and_marks_choices_that_never_fit():
    space = load_space("hybrid")
    region = FeasibleRegion(space, max_flops="1GFLOPs")
    text = region.summary()
    assert f"{region.count.low:,} fit" in text and "exact" in text
    assert "cheapest" in text and "dearest" in text and "stage3" in text
    ((lo, _),) = [v for k, v in region.choice_ranges()["width"].items() if k == 160]
    assert lo > 10**9  # the widest nets cannot be made to fit 1 GFLOPs
    (width,) = [line for line in text.splitlines() if line.strip().startswith("width ")]
    marks = dict(re.findall(r"(\d+): \S+( /never)?", width))  # the mark apart from the value
    assert marks == {"32": "", "64": "", "96": "", "128": " /never", "160": " /never"}


def test_a_mixer_without_formula_is_a_clear_error_not_a_guess(tmp_path, monkeypatch):
    formulas = importlib.import_module("nas.cost.closed_form").BLOCK_COSTS
    monkeypatch.delitem(formulas, "mlp")
    with pytest.raises(NoClosedForm, match="no closed form for mixer 'mlp'"):
        FeasibleRegion(_space(tmp_path, MINI), max_flops="1G")


def test_an_invisible_param_makes_the_count_a_bound(tmp_path):
    """The conv1 stem ignores `stem.width`; a param used only there is sampled but leaves no
    trace in the architecture, so paths cannot be told apart by their components."""
    text = (
        MINI.replace("# mini:", "# ghost:")
        .replace("width: 16}", "width: {param: ghost}}")
        .replace(
            "mlp_ratio: {choice: [2, 4]}",
            "mlp_ratio: {choice: [2, 4]}\n  ghost: {choice: [8, 16]}",
        )
    )
    space = _space(tmp_path, text)
    distinct = len({spec.arch_id for _, spec in space.walk()})
    count = FeasibleRegion(space, max_flops="1T").count
    assert not count.exact and count.high >= distinct


# --- the sampler wrapper --------------------------------------------------------------------

SAMPLERS = {
    "random": lambda: optuna.samplers.RandomSampler(seed=0),
    "tpe": lambda: optuna.samplers.TPESampler(seed=0, n_startup_trials=8),
    "tpe-multivariate": lambda: optuna.samplers.TPESampler(
        seed=0, n_startup_trials=8, multivariate=True, group=True
    ),
    "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=0, population_size=8),
    "qmc": lambda: optuna.samplers.QMCSampler(seed=0, warn_independent_sampling=False),
}


def _run(space, sampler, *, n_trials: int, extra_param: bool = False):
    """A study whose objective records every sampled spec and its cost."""
    seen = []

    def objective(trial):
        if extra_param:
            trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        spec = space.sample(trial)
        cost = closed_form(spec)
        replay = space.sample(
            optuna.trial.FixedTrial({k: v for k, v in trial.params.items() if k != "lr"})
        )
        seen.append((spec, cost, replay))
        return math.log(cost.params) + 0.5 * math.log(cost.flops)

    study = optuna.create_study(sampler=sampler, direction="maximize")
    study.optimize(objective, n_trials=n_trials)
    return study, seen


@pytest.fixture(scope="module")
def hybrid_regions():
    space = load_space("hybrid")
    return space, {b: FeasibleRegion(space, max_flops=b) for b in ("1GFLOPs", "4GFLOPs")}


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("budget", ["1GFLOPs", "4GFLOPs"])
def test_every_trial_fits_and_its_params_rebuild_it(hybrid_regions, name, budget):
    space, regions = hybrid_regions
    region = regions[budget]
    sampler = FeasibleSampler(SAMPLERS[name](), region, seed=0)
    study, seen = _run(space, sampler, n_trials=24)
    assert len(seen) == len(study.trials) == 24
    assert all(cost.flops <= region.max_flops for _, cost, _ in seen)
    assert all(spec == replay for spec, _, replay in seen)
    assert sampler.stats["kept"] > 0


def test_a_budget_just_above_the_cheapest_is_still_always_met(tmp_path):
    """Few architectures fit: plain sampling would waste nearly every trial."""
    space = _space(tmp_path, MINI)
    costs = sorted({closed_form(spec).flops for _, spec in space.walk()})
    max_flops = costs[3]
    sampler = restrict_sampler(
        optuna.samplers.RandomSampler(seed=1), space, max_flops=max_flops, seed=1
    )
    _, seen = _run(space, sampler, n_trials=30)
    assert all(cost.flops <= max_flops for _, cost, _ in seen)
    assert sampler.stats["uniform draws"] == 30  # whole architectures drawn inside the region
    # without draws, choice-by-choice restriction alone must still meet the budget
    sampler = FeasibleSampler(
        optuna.samplers.RandomSampler(seed=1), sampler.region, draws=0, seed=1
    )
    _, seen = _run(space, sampler, n_trials=30)
    assert all(cost.flops <= max_flops for _, cost, _ in seen)
    assert sampler.stats["repaired"] + sampler.stats["resampled"] > 0


class _Fixed:
    """A chooser that answers from a dict of params (as Optuna's FixedTrial)."""

    def __init__(self, params: dict):
        self.params = params

    def suggest_categorical(self, name, choices):
        return self.params[name]

    def suggest_int(self, name, low, high, *, step=1, log=False):
        return self.params[name]

    def suggest_float(self, name, low, high, *, step=None, log=False):
        return self.params[name]


def test_the_region_draws_architectures_within_budget_without_optuna(tmp_path):
    """What the dry run times: uniform draws, and choice-by-choice ones when rejection fails."""
    import random

    space = _space(tmp_path, MINI)
    costs = sorted({closed_form(spec).flops for _, spec in space.walk()})
    region = FeasibleRegion(space, max_flops=costs[3])
    rng = random.Random(0)
    for tries in (1000, 0):
        drawn = [region.draw(rng, tries=tries) for _ in range(20)]
        assert all(closed_form(spec).flops <= costs[3] for _, spec in drawn)
        assert all(space.sample(_Fixed(params)) == spec for params, spec in drawn)
    assert region.draw_uniform(rng, tries=0) is None


def test_random_search_draws_from_its_own_distribution_conditioned_on_fitting(tmp_path):
    """Restricting a random sampler must not skew it (towards the budget's edge, say): each
    feasible decision path comes up as often as under plain random sampling given that it
    fits (probability: the product of 1/options of its decisions)."""
    space = _space(tmp_path, MINI)
    budget = sorted(closed_form(s).flops for _, s in space.walk())[60]
    expected: dict[tuple, float] = {}
    path: list[int] | None = []
    while path is not None:
        replay = Replay(path)
        spec = space.sample(replay)
        if closed_form(spec).flops <= budget:
            key = tuple(sorted(replay.params.items()))
            expected[key] = math.prod(1 / w for w in replay.widths)
        path = replay.next_path()
    total = sum(expected.values())
    sampler = restrict_sampler(optuna.samplers.RandomSampler(seed=0), space, max_flops=budget)
    study, _ = _run(space, sampler, n_trials=1200)
    seen = Counter(tuple(sorted(t.params.items())) for t in study.trials)
    assert set(seen) <= set(expected)
    tv = sum(abs(seen[k] / 1200 - p / total) for k, p in expected.items()) / 2
    assert tv < 0.15, tv  # noise at 1200 draws: ~0.08; choice-by-choice restriction: ~0.25


def test_params_budget_and_foreign_hyperparameters(tmp_path):
    space = _space(tmp_path, VARIANTS)
    sampler = restrict_sampler(
        optuna.samplers.TPESampler(seed=0, n_startup_trials=5),
        space,
        max_flops="20M",
        max_params="150K",
    )
    _, seen = _run(space, sampler, n_trials=30, extra_param=True)
    assert all(c.flops <= 20 * 10**6 and c.params <= 150_000 for _, c, _ in seen)
    assert all(spec == replay for spec, _, replay in seen)
    assert sampler.stats["passed through"] == 30  # "lr" is not the space's business


def test_continuous_floats_are_restricted_too(tmp_path):
    text = MINI.replace("# mini:", "# floaty:").replace(
        "mlp_ratio: {choice: [2, 4]}", "mlp_ratio: {float: [1.0, 4.0]}"
    )
    space = _space(tmp_path, text)
    region = FeasibleRegion(space, max_flops="15M")
    assert math.isinf(region.count.total) and "infinite" in region.summary()
    sampler = FeasibleSampler(optuna.samplers.RandomSampler(seed=0), region, seed=0)
    _, seen = _run(space, sampler, n_trials=30)
    assert all(cost.flops <= 15 * 10**6 for _, cost, _ in seen)
    assert len({spec.stages[0].mlp_ratio for spec, _, _ in seen}) > 10


def test_paths_invalid_at_the_search_resolution_are_never_proposed():
    """At 128 px the ConvMixer space's patch sizes 7 and 14 do not divide the image."""
    space = load_space("convmixer")
    sampler = restrict_sampler(
        optuna.samplers.RandomSampler(seed=0), space, max_flops="1T", resolution=128
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: space.sample(t, resolution=128).stem.patch_size, n_trials=20)
    assert {t.params["stem.patch_size"] for t in study.trials} <= {8, 16}
    with pytest.raises(ConfigError, match="resolution: no architecture"):
        FeasibleRegion(space, max_flops="1T", resolution=30)


DEAD_END = """\
# deadend: at 96 px a patch-8 stem leaves a 3x3 map that the last stage cannot halve
resolution: 128
params:
  width: {choice: [16, 32]}
stem: {type: conv1, patch_size: {choice: [4, 8]}}
head: {norm: true, pool: fast}
stages:
  - width: {param: width}
    blocks: [[conv, {int: [1, 2]}]]
  - width: {param: width, times: 2}
    downsample: conv
    blocks: [[conv, {int: [1, 2]}]]
  - width: {param: width, times: 4}
    downsample: conv
    blocks: [[conv, {int: [1, 2]}]]
  - width: {param: width, times: 8}
    downsample: conv
    blocks: [[attn, {int: [1, 2]}]]
    heads: 2
"""


def test_a_dead_end_found_stages_later_prunes_the_choice_that_leads_there(tmp_path):
    space = _space(tmp_path, DEAD_END)
    region = FeasibleRegion(space, max_flops="1T", resolution=96)
    assert region.count.total == 2 * 2 * 2 * 2 * 2  # width x four depths, patch 4 only
    assert set(region.choice_ranges()["stem.patch_size"]) == {4}
    sampler = FeasibleSampler(optuna.samplers.RandomSampler(seed=0), region, seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: space.sample(t, resolution=96).stem.patch_size, n_trials=20)
    assert {t.params["stem.patch_size"] for t in study.trials} == {4}
