"""Before any training: the cheapest architecture, the share that fits, the dry run."""

from __future__ import annotations

import pytest

from nas.cli.search import main
from nas.cost import measure
from nas.search.estimate import cheapest_architecture, check_budget_reachable, estimate_fit
from nas.space import ConfigError, load_space

from .conftest import TINY_SPACE


@pytest.fixture
def all_flops(tiny_space):
    space = load_space(tiny_space)
    return space, sorted(measure(spec).flops for _, spec in space.walk())


def test_the_corner_is_the_cheapest_architecture_of_the_tiny_space(all_flops):
    space, flops = all_flops
    found = cheapest_architecture(space, resolution=32)
    assert found.flops == flops[0] and found.spec.resolution == 32


def test_coordinate_descent_finds_a_cheaper_point_than_the_corner(tmp_path):
    # The smallest patch is the most expensive choice here: the corner is not the cheapest.
    path = tmp_path / "patch.yaml"
    path.write_text(TINY_SPACE.replace("patch_size: 4", "patch_size: {choice: [2, 4]}"))
    space = load_space(path)
    corner = measure(space.sample(_Smallest(), resolution=32)).flops
    found = cheapest_architecture(space, resolution=32, max_flops=corner - 1)
    assert found.flops < corner and found.spec.stem.patch_size == 4
    check_budget_reachable(space, resolution=32, max_flops=corner - 1)  # no error


class _Smallest:
    def suggest_categorical(self, name, choices):
        return min(choices) if all(isinstance(c, int) for c in choices) else choices[0]

    def suggest_int(self, name, low, high, step=1, log=False):
        return low


def test_an_unreachable_budget_is_a_clear_error(tiny_space):
    space = load_space(tiny_space)
    with pytest.raises(ConfigError, match=r"--budget: no architecture of space 'tiny' fits "
                                          r"90KFLOPs at 32px"):
        check_budget_reachable(space, resolution=32, max_flops=90_000)
    with pytest.raises(ConfigError, match="--max-params"):
        check_budget_reachable(space, resolution=32, max_flops=10**9, max_params=1000)


def test_the_monte_carlo_share_brackets_the_exact_share(all_flops):
    space, flops = all_flops
    budget = 300_000
    est = estimate_fit(space, resolution=32, max_flops=budget, samples=24, seed=0)
    exact = sum(f <= budget for f in flops) / len(flops)  # 16 equally likely decision paths
    lo, hi = est.interval()
    assert est.samples == 24 and lo <= est.share <= hi
    assert lo <= exact <= hi


def test_dry_run_prints_the_fit_and_the_cost_and_trains_nothing(tiny_space, tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.setattr("nas.search.dry_run.SAMPLES", 16)
    out = tmp_path / "out"
    assert main(["--space", str(tiny_space), "--budget", "300K", "--proxy", "tiny",
                 "--out", str(out), "--dry-run", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "space tiny: 16 architectures" in text
    assert "cheapest found: 97.4KFLOPs" in text
    assert "uniform samples fit" in text and "about" in text
    assert "s of training per candidate" in text and "run: 8 candidates" in text
    assert not out.exists()


def test_cli_errors_are_one_line(tiny_space, capsys):
    assert main(["--space", str(tiny_space), "--budget", "1K", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nas-search: error: --budget: no architecture") and "\n" not in err
    assert main(["--space", "nope", "--budget", "4G"]) == 2
    assert "unknown space 'nope'" in capsys.readouterr().err
