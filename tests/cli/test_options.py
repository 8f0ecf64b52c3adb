"""Numeric options are range-checked when parsed: one line naming the option, exit status 2,
before anything is loaded, drawn or deleted."""

from __future__ import annotations

import argparse
import importlib

import pytest

from nas.cli.common import kendall_tau, non_negative_float, non_negative_int, positive_int

SEARCH = ["--space", "hybrid", "--budget", "4GFLOPs", "--dry-run"]
COMPARE = ["coatnet_0_224", "convmixer_768_32", "--proxy", "tiny", "--dry-run"]
CALIBRATE = ["--space", "hybrid", "--budget", "4GFLOPs", "--dry-run"]


@pytest.mark.parametrize(
    "command, args, error",
    [
        # --older-than -3 removed every entry: "not used for -3 days" holds for all
        (
            "data",
            ["cache", "clear", "--older-than", "-3"],
            "--older-than: expected a finite number >= 0, got -3.0",
        ),
        ("data", ["cache", "clear", "--older-than", "nan"], "got nan"),
        (
            "compare",
            [*COMPARE, "--margin", "-0.5"],
            "--margin: expected a finite number >= 0, got -0.5",
        ),
        ("compare", [*COMPARE, "--margin", "nan"], "--margin: expected a finite number >= 0"),
        ("compare", [*COMPARE, "--margin", "inf"], "got inf"),
        ("compare", [*COMPARE, "--workers", "0"], "--workers: expected an integer >= 1, got 0"),
        ("compare", [*COMPARE, "--workers", "-1"], "--workers: expected an integer >= 1, got -1"),
        ("compare", [*COMPARE, "--data-seed", "-1"], "--data-seed: expected an integer >= 0"),
        ("calibrate", [*CALIBRATE, "--workers", "0"], "--workers: expected an integer >= 1"),
        (
            "calibrate",
            [*CALIBRATE, "--target", "2"],
            "--target: expected a Kendall tau in (-1, 1], got 2.0",
        ),
        ("calibrate", [*CALIBRATE, "--target", "-1"], "got -1.0"),
        ("calibrate", [*CALIBRATE, "--target", "nan"], "got nan"),
        ("calibrate", [*CALIBRATE, "--draw-seed", "-2"], "--draw-seed: expected an integer >= 0"),
        ("search", [*SEARCH, "--workers", "0"], "--workers: expected an integer >= 1, got 0"),
        ("search", [*SEARCH, "--seed", "-1"], "--seed: expected an integer >= 0, got -1"),
        ("search", [*SEARCH, "--trials", "two"], "--trials: expected an integer >= 1, got 'two'"),
        (
            "train",
            ["--arch", "x", "--global-batch", "0"],
            "--global-batch: expected an integer >= 1, got 0",
        ),
    ],
)
def test_out_of_range_values_are_one_line_errors(command, args, error, capsys):
    main = importlib.import_module(f"nas.cli.{command}").main
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"nas-{command}: error: ")
    assert error in err and len(err.splitlines()) == 1


def test_argparse_errors_are_one_line_not_a_usage_dump(capsys):
    from nas.cli.search import main

    assert main([]) == 2
    assert capsys.readouterr().err == (
        "nas-search: error: the following arguments are required: --space, --budget\n"
    )
    assert main([*SEARCH, "--no-such-option"]) == 2
    assert capsys.readouterr().err == (
        "nas-search: error: unrecognized arguments: --no-such-option\n"
    )


def test_the_checks_accept_their_bounds():
    assert positive_int("1") == 1 and non_negative_int("0") == 0
    assert non_negative_float("0") == 0.0 and non_negative_float("2.5") == 2.5
    assert kendall_tau("1") == 1.0 and kendall_tau("-0.99") == -0.99
    for check, bad in ((positive_int, "0"), (non_negative_float, "-1e-9"), (kendall_tau, "1.01")):
        with pytest.raises(argparse.ArgumentTypeError):
            check(bad)
