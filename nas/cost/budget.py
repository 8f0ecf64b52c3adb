"""Budget strings: `4GFLOPs`, `4G`, `4.5GFLOPs`, `600MFLOPs`, `600M`, `4e9` -> exact integers.

Strict on purpose: a number, then either a K/M/G/T unit or an exponent (not both), then the
optional suffix, with no space inside; a typo is an error, never a budget off by 10^9.
"""

from __future__ import annotations

import re
from decimal import Decimal, DecimalException

from nas.space import ConfigError

_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_PATTERN = re.compile(
    r"^(?P<num>\d+(?:\.\d+)?)(?:(?P<exp>[eE][+-]?\d{1,3})|(?P<unit>[KMGT]?))(?P<suffix>[A-Za-z]*)$"
)
LARGEST = 10**18  # far beyond any network; keeps every sum of costs inside int64
_SUFFIXES = {
    "flops": ("", "FLOPs", "FLOPS", "flops", "FLOP"),
    "params": ("", "params", "parameters"),
}


def parse_amount(text: str | int | float, *, what: str = "flops", field: str = "budget") -> int:
    """An exact positive integer amount; `what` picks the accepted suffix (FLOPs or params)."""
    if isinstance(text, bool):
        raise ConfigError(f"expected an amount like 4GFLOPs, got {text!r}", field=field)
    if isinstance(text, (int, float)):
        text = repr(text)
    m = _PATTERN.match(str(text).strip())
    example = "4GFLOPs, 4.5G, 600MFLOPs or 4e9" if what == "flops" else "25M, 3.5Mparams or 2e7"
    if not m or m["suffix"] not in _SUFFIXES[what]:
        raise ConfigError(
            f"cannot read {text!r}; expected a number with an optional K/M/G/T "
            f"unit, e.g. {example}",
            field=field,
        )
    try:
        value = Decimal(m["num"] + (m["exp"] or "")) * _UNITS[m["unit"] or ""]
    except DecimalException:
        raise ConfigError(f"cannot read the number in {text!r}", field=field) from None
    if value != value.to_integral_value():
        raise ConfigError(f"{text!r} is not a whole number of {what}", field=field)
    if value <= 0:
        raise ConfigError(f"{text!r} must be positive", field=field)
    if value > LARGEST:
        raise ConfigError(f"{text!r} is beyond any network (at most 1e18)", field=field)
    return int(value)


def parse_budget(text: str | int | float) -> int:
    return parse_amount(text, what="flops", field="budget")


def format_amount(n: float, unit: str = "FLOPs") -> str:
    """4_580_000_000 -> '4.58G' + unit."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{prefix}{unit}"
    return f"{n:g}{unit}"
