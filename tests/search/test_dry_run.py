"""`nas-search --dry-run`: the exact count of what fits, the extremes, the cost of the run."""

from __future__ import annotations

from nas.cli.search import main
from nas.cost import measure, parse_budget
from nas.space import load_space


def test_dry_run_prints_the_exact_fit_and_the_cost_and_trains_nothing(tiny_space, tmp_path,
                                                                      capsys):
    out = tmp_path / "out"
    assert main(["--space", str(tiny_space), "--budget", "300K", "--proxy", "tiny",
                 "--out", str(out), "--dry-run", "--no-progress"]) == 0
    text = capsys.readouterr().out
    space = load_space(tiny_space)
    fit = sum(measure(spec).flops <= parse_budget("300K") for _, spec in space.walk())
    assert f"{fit} fit" in text and "exact" in text  # the brute-force count, by DP
    assert "cheapest" in text and "dearest" in text and "97.4K" in text
    assert "s of training and" in text and "run: 8 candidates" in text
    assert not out.exists()


def test_a_budget_above_the_dearest_says_so(tiny_space, capsys):
    assert main(["--space", str(tiny_space), "--budget", "1G", "--proxy", "tiny",
                 "--dry-run"]) == 0
    assert "every architecture fits" in capsys.readouterr().out


def test_a_budget_below_the_cheapest_says_so(tiny_space, capsys):
    assert main(["--space", str(tiny_space), "--budget", "10K", "--dry-run"]) == 0
    assert "is below the cheapest architecture" in capsys.readouterr().out


def test_cli_errors_are_one_line(tiny_space, capsys):
    assert main(["--space", str(tiny_space), "--budget", "1K", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nas-search: error: budget: budget 1KFLOPs") and "\n" not in err
    assert main(["--space", "nope", "--budget", "4G"]) == 2
    assert "unknown space 'nope'" in capsys.readouterr().err
    assert main(["--space", str(tiny_space), "--budget", "4 GB"]) == 2
    assert capsys.readouterr().err.startswith("nas-search: error: budget: cannot read '4 GB'")


def test_the_count_needs_no_torch(tiny_space):
    """The region (and so the dry run's count) is arithmetic: it must not wait for torch."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from nas.cli.search import parser\n"
            "from nas.search.feasible import FeasibleRegion\n"
            "from nas.space import load_space\n"
            "parser()\n"
            f"print(FeasibleRegion(load_space({str(tiny_space)!r}), max_flops='300K').count)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "9 fit" in out.stdout
