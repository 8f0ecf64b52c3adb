from __future__ import annotations

import pytest

from nas.cost import format_amount, parse_amount, parse_budget
from nas.space import ConfigError


@pytest.mark.parametrize(
    "text, value",
    [
        ("4GFLOPs", 4_000_000_000),
        ("4G", 4_000_000_000),
        ("4.5GFLOPs", 4_500_000_000),
        ("600MFLOPs", 600_000_000),
        ("600M", 600_000_000),
        ("4e9", 4_000_000_000),
        ("0.1G", 100_000_000),
        (" 12GFLOPs ", 12_000_000_000),
        ("1.25e9", 1_250_000_000),
        ("7", 7),
        (4e9, 4_000_000_000),
    ],
)
def test_budgets_parse_exactly(text, value):
    got = parse_budget(text)
    assert got == value and isinstance(got, int)


@pytest.mark.parametrize(
    "text",
    [
        "4 GB",
        "four",
        "4GFLOPS!",
        "-4G",
        "0",
        "4g",
        "1.5",
        "",
        "4GFLOPs4",
        "1e-12G",
        "4Gparams",
        True,
        "4 GFLOPs",
        "4e9G",
        "4.G",
        "1e400",
        "1e1000000",
        "4e9e9",
    ],
)
def test_bad_budgets_are_one_clear_error(text):
    with pytest.raises(ConfigError) as err:
        parse_budget(text)
    assert str(err.value).startswith("budget: ") and "\n" not in str(err.value)


def test_param_amounts():
    assert parse_amount("25M", what="params") == 25_000_000
    assert parse_amount("3.5Mparams", what="params") == 3_500_000
    with pytest.raises(ConfigError):
        parse_amount("25MFLOPs", what="params")


def test_format_amount():
    assert format_amount(4_584_344_320) == "4.58GFLOPs"
    assert format_amount(25_036_820, "") == "25M"
