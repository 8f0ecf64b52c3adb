"""Choice leaves of a search space and the choosers that resolve them.

A leaf resolves through any object with Optuna's `suggest_*` methods: an `optuna.Trial` during a
search, `RandomChooser` to sample without Optuna, `Replay` to walk every decision path. One code
path samples, enumerates and matches, so they cannot disagree.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Protocol

from nas._core import ConfigError

Scalar = bool | int | float | str


class Chooser(Protocol):
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...
    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int: ...
    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...


@dataclass(frozen=True)
class Fixed:
    value: Any

    def resolve(self, chooser: Chooser, name: str) -> Any:
        return self.value

    def values(self) -> list[Any]:
        return [self.value]


@dataclass(frozen=True)
class Categorical:
    choices: tuple[Scalar, ...]

    def resolve(self, chooser: Chooser, name: str) -> Any:
        return chooser.suggest_categorical(name, list(self.choices))

    def values(self) -> list[Any]:
        return list(self.choices)


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    step: int = 1
    log: bool = False

    def resolve(self, chooser: Chooser, name: str) -> int:
        return chooser.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    step: float | None = None
    log: bool = False

    def resolve(self, chooser: Chooser, name: str) -> float:
        return chooser.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def values(self) -> list[float] | None:
        """The grid when stepped; None when continuous."""
        if self.step is None:
            return None
        n = math.floor((self.high - self.low) / self.step + 1e-9)
        return [self.low + k * self.step for k in range(n + 1)]


@dataclass(frozen=True)
class ParamRef:
    """`{param: width, times: 2}` or `{param: width, div: 32}`: a named choice of `params:`,
    shared by several fields, optionally scaled. Integers stay integers: a division that does
    not come out whole is an error."""

    name: str
    times: int | float = 1
    div: int = 1

    def apply(self, value: Any) -> Any:
        if self.times == 1 and self.div == 1:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(
                f"cannot scale the non-numeric value {value!r} of param {self.name!r}"
            )
        out = value * self.times
        if isinstance(value, int) and isinstance(self.times, int):
            if out % self.div:
                raise ConfigError(
                    f"{self.name}={value} times {self.times} is not divisible by {self.div}"
                )
            return out // self.div
        out = out / self.div
        return int(out) if isinstance(value, int) and float(out).is_integer() else out


Leaf = Fixed | Categorical | IntRange | FloatRange | ParamRef
_KINDS = ("choice", "int", "float", "param")


def parse_leaf(node: Any, field: str) -> Leaf:
    """A YAML node -> leaf. Scalars are fixed; `{choice|int|float|param: ...}` are choices."""
    if isinstance(node, (bool, int, float, str)) or node is None:
        return Fixed(node)
    if not isinstance(node, dict):
        raise ConfigError(
            f"expected a value or one of {{{', '.join(_KINDS)}: ...}}, got {node!r}", field=field
        )
    kinds = [k for k in _KINDS if k in node]
    if len(kinds) != 1:
        raise ConfigError(f"expected exactly one of {', '.join(_KINDS)} in {node!r}", field=field)
    kind = kinds[0]
    options = {k: v for k, v in node.items() if k != kind}
    allowed = {
        "choice": (),
        "int": ("step", "log"),
        "float": ("step", "log"),
        "param": ("times", "div"),
    }[kind]
    for key in options:
        if key not in allowed:
            raise ConfigError(
                f"unknown option {key!r} for a {kind} choice; expected "
                f"{', '.join(allowed) or 'none'}",
                field=field,
            )
    return _PARSERS[kind](node[kind], options, field)


def _parse_choice(arg: Any, options: dict, field: str) -> Categorical:
    if not isinstance(arg, list) or not arg:
        raise ConfigError(f"choice needs a non-empty list, got {arg!r}", field=field)
    for v in arg:
        if not isinstance(v, (bool, int, float, str)):
            raise ConfigError(f"choice values must be scalars, got {v!r}", field=field)
    if len(set(map(repr, arg))) != len(arg):
        raise ConfigError(f"choice values repeat: {arg!r}", field=field)
    return Categorical(tuple(arg))


def _range_bounds(arg: Any, kind: str, field: str, cast: type) -> tuple[Any, Any]:
    ok = (
        isinstance(arg, list)
        and len(arg) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in arg)
    )
    if not ok or (cast is int and not all(isinstance(v, int) for v in arg)):
        raise ConfigError(
            f"{kind} needs [low, high] of {cast.__name__}s, got {arg!r}", field=field
        )
    low, high = cast(arg[0]), cast(arg[1])
    if low > high:
        raise ConfigError(f"`low <= high` must hold, but got low={low}, high={high}", field=field)
    return low, high


def _parse_int(arg: Any, options: dict, field: str) -> IntRange:
    low, high = _range_bounds(arg, "int", field, int)
    step, log = options.get("step", 1), options.get("log", False)
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ConfigError(f"int step must be an integer >= 1, got {step!r}", field=field)
    if not isinstance(log, bool) or (log and (step != 1 or low < 1)):
        raise ConfigError("log-scale int ranges need step 1 and low >= 1", field=field)
    return IntRange(low, high, step, log)


def _parse_float(arg: Any, options: dict, field: str) -> FloatRange:
    low, high = _range_bounds(arg, "float", field, float)
    step, log = options.get("step"), options.get("log", False)
    if step is not None and (
        isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0
    ):
        raise ConfigError(f"float step must be a positive number, got {step!r}", field=field)
    if not isinstance(log, bool) or (log and (step is not None or low <= 0)):
        raise ConfigError("log-scale float ranges need no step and low > 0", field=field)
    return FloatRange(low, high, None if step is None else float(step), log)


def _parse_param(arg: Any, options: dict, field: str) -> ParamRef:
    if not isinstance(arg, str):
        raise ConfigError(
            f"param needs the name of an entry of `params:`, got {arg!r}", field=field
        )
    times, div = options.get("times", 1), options.get("div", 1)
    if isinstance(times, bool) or not isinstance(times, (int, float)) or times <= 0:
        raise ConfigError(f"times must be a positive number, got {times!r}", field=field)
    if isinstance(div, bool) or not isinstance(div, int) or div < 1:
        raise ConfigError(f"div must be an integer >= 1, got {div!r}", field=field)
    return ParamRef(arg, times, div)


_PARSERS = {
    "choice": _parse_choice,
    "int": _parse_int,
    "float": _parse_float,
    "param": _parse_param,
}


# --- choosers --------------------------------------------------------------------------------


class RandomChooser:
    """Uniform sampling with Python's `random`, for use without Optuna."""

    def __init__(self, seed: int | random.Random | None = None):
        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)
        self.params: dict[str, Any] = {}

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._keep(name, self.rng.choice(list(choices)))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        if log:
            value = int(math.exp(self.rng.uniform(math.log(low), math.log(high + 1))))
            return self._keep(name, min(max(value, low), high))
        return self._keep(name, self.rng.randrange(low, high + 1, step))

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        if step is not None:
            grid = FloatRange(low, high, step).values() or [low]
            return self._keep(name, self.rng.choice(grid))
        if log:
            return self._keep(name, math.exp(self.rng.uniform(math.log(low), math.log(high))))
        return self._keep(name, self.rng.uniform(low, high))

    def _keep(self, name: str, value: Any) -> Any:
        self.params[name] = value
        return value


class Continuous(Exception):
    """Raised by `Replay` at a float choice without a step: it cannot be enumerated."""


class Replay:
    """Takes decision `path[k]` at the k-th choice (0 past the end) and records every option.

    Walking all paths in odometer order visits every decision sequence once: see
    `SearchSpace.walk`.
    """

    def __init__(self, path: list[int]):
        self.path = path
        self.taken: list[int] = []
        self.widths: list[int] = []
        self.params: dict[str, Any] = {}

    def _take(self, name: str, options: list[Any]) -> Any:
        k = len(self.taken)
        i = self.path[k] if k < len(self.path) else 0
        self.taken.append(i)
        self.widths.append(len(options))
        self.params[name] = options[i]
        return options[i]

    def _options(self, name: str, options: list[Any]) -> list[Any]:
        """The options walked at a choice (subclasses pin or thin them)."""
        return options

    def _float_grid(self, name: str, low: float, high: float, step: float | None) -> list[float]:
        grid = FloatRange(low, high, step).values()
        if grid is None:
            raise Continuous(name)
        return grid

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._take(name, self._options(name, list(choices)))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        return self._take(name, self._options(name, list(range(low, high + 1, step))))

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        return self._take(name, self._options(name, self._float_grid(name, low, high, step)))

    def next_path(self) -> list[int] | None:
        """The next decision sequence in odometer order, or None when all were visited."""
        taken = list(self.taken)
        while taken:
            k = len(taken) - 1
            if taken[k] + 1 < self.widths[k]:
                taken[k] += 1
                return taken
            taken.pop()
        return None
