"""`nas-search --dry-run`: the exact count of what fits, the extremes, the cost of the run."""

from __future__ import annotations

from nas.cli.search import main
from nas.cost import measure, parse_budget
from nas.space import load_space


def test_dry_run_prints_the_exact_fit_and_the_cost_and_trains_nothing(
    tiny_space, tmp_path, capsys
):
    out = tmp_path / "out"
    assert (
        main(
            [
                "--space",
                str(tiny_space),
                "--budget",
                "300K",
                "--proxy",
                "tiny",
                "--out",
                str(out),
                "--dry-run",
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    space = load_space(tiny_space)
    fit = sum(measure(spec).flops <= parse_budget("300K") for _, spec in space.walk())
    assert f"{fit} fit" in text and "exact" in text  # the brute-force count, by DP
    assert "cheapest" in text and "dearest" in text and "97.4K" in text
    assert "s of training and" in text and "run: 8 candidates" in text
    assert not out.exists()


def test_a_budget_above_the_dearest_says_so(tiny_space, capsys):
    assert (
        main(["--space", str(tiny_space), "--budget", "1G", "--proxy", "tiny", "--dry-run"]) == 0
    )
    assert "every architecture fits" in capsys.readouterr().out


def test_a_budget_below_the_cheapest_says_so(tiny_space, capsys):
    """Nothing fits: one error line and exit 2, as the search itself says, and no table."""
    assert main(["--space", str(tiny_space), "--budget", "10K", "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "\n" not in err.strip()
    assert err.startswith("nas-search: error: budget: budget 10KFLOPs")
    assert "is below the cheapest architecture" in err


def test_a_resolution_of_zero_is_an_error_not_the_spaces(tiny_space, capsys):
    assert (
        main(["--space", str(tiny_space), "--budget", "300K", "--resolution", "0", "--dry-run"])
        == 2
    )
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(
        "nas-search: error: --resolution: expected an integer of at least 8 pixels, got 0"
    )


def test_the_time_estimate_divides_by_the_workers(tiny_space, monkeypatch):
    """8 candidates of about 60 s each: 8 min on one worker, 4 on two; the timeout line
    follows the same wall time."""
    from nas.search import make_config
    from nas.search.dry_run import time_estimate
    from nas.search.feasible import FeasibleRegion

    monkeypatch.setattr("nas.evaluate.forecast.run_seconds", lambda *a, **k: 60.0)
    monkeypatch.setattr("nas.cost.measure", lambda spec: None)  # no fvcore time to add
    space = load_space(tiny_space)
    region = FeasibleRegion(space, max_flops="300K")

    def run_line(**kw) -> list[str]:
        cfg = make_config(space=str(tiny_space), budget="300K", proxy="tiny", device="cpu", **kw)
        return time_estimate(cfg, region)

    assert "= about 8.0 min" in run_line(workers=1)[1]
    two = run_line(workers=2, timeout="3m")
    assert "/ 2 worker(s) = about 4.0 min" in two[1]
    assert "--timeout 3.0 min stops it first, after about 5 candidates" in two[2]
    five = run_line(workers=2, timeout="5m")  # 4 min: the timeout is not reached
    assert len(five) == 3 and five[2].startswith("  --repeats auto: candidates on or near")
    assert "(3 seeds each) / 1 worker(s) = about 24.0 min" in run_line(workers=1, repeats=3)[1]


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

    code = (
        "import sys\n"
        "from nas.cli.search import parser\n"
        "from nas.search.feasible import FeasibleRegion\n"
        "from nas.space import load_space\n"
        "parser()\n"
        f"print(FeasibleRegion(load_space({str(tiny_space)!r}), max_flops='300K').count)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "9 fit" in out.stdout
