"""A space's network template cut into components whose options can be enumerated.

Components, in the order `SearchSpace.sample` asks its questions: the stem together with the
first stage (the stem's cost depends on the first stage's width), each further stage, and the
head with the activation. An option is one decision path through a component; which options a
component offers depends only on the named `params:` already fixed (`State.consumed`), and its
cost and validity on the channels and map side it receives. Enumeration runs the space's own
sampling code (`sample_stage`, the same `get`), so it cannot disagree with sampling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nas.cost.closed_form import head_cost, norm_cost, stage_cost, stem_cost
from nas.space import ConfigError, HeadSpec, StageSpec, StemSpec
from nas.space.choices import FloatRange, Leaf, ParamRef, Replay
from nas.space.sampling import NetT, sample_stage
from nas.space.spec import ACTS

Vec = tuple[int, int]  # (FLOPs, params): FLOPs first, the budget that always applies


@dataclass(frozen=True)
class State:
    """Where a path stands between two components."""

    consumed: tuple[tuple[str, Any], ...]  # named params fixed so far, sorted by name
    dim: int = 0  # channels leaving the previous component
    side: int = 0  # side of its output map


END = State(())  # after the head: every path ends in the same place


@dataclass(frozen=True, eq=False)
class Option:
    """One decision path through a component, from one state."""

    decisions: dict[str, Any]  # trial params it sets (dotted names, as Optuna records them)
    value: Any  # (StemSpec, StageSpec) | StageSpec | (HeadSpec, act)
    consumed: tuple[tuple[str, Any], ...]  # named params it fixes for the first time
    cost: Vec
    next: State


class Enumerate(Replay):
    """Replay that also pins given values and offers a continuous float's two ends (the
    cost of a block never falls as a ratio grows, so the ends bound it)."""

    def __init__(self, path: list[int], pinned: dict[str, Any]):
        super().__init__(path)
        self.pinned = pinned
        self.continuous = False

    def _options(self, name: str, options: list[Any]) -> list[Any]:
        return [self.pinned[name]] if name in self.pinned else options

    def _float_grid(self, name: str, low: float, high: float, step: float | None) -> list[float]:
        grid = FloatRange(low, high, step).values()
        if grid is None:
            self.continuous = True
            grid = [low, high] if high > low else [low]
        return grid


Builder = Callable[[Callable[[Leaf, str], Any]], Any]


class NetComponents:
    """The components of one variant (`prefix` is "ms." for a variant named ms, else "")."""

    def __init__(self, net: NetT, prefix: str, *, resolution: int):
        self.net = net
        self.prefix = prefix
        self.resolution = resolution
        self.builders: list[Builder] = [self._first]
        self.builders += [self._stage_builder(i) for i in range(1, len(net.stages))]
        self.builders.append(self._last)
        self.titles = ["stem+stage1"] + [f"stage{i + 1}" for i in range(1, len(net.stages))]
        self.titles.append("head")
        self._refs = [_param_refs(self._leaves(j)) for j in range(len(self.builders))]
        self._raw: dict[tuple, list[tuple[dict, tuple, Any]]] = {}
        self._options: dict[tuple, list[Option]] = {}
        self._unique: dict[tuple, list[Option]] = {}
        self.continuous = False  # some float choice has no step
        self.ambiguous = False  # one value reached with different params fixed
        self.invalid = 0  # decision paths that make no valid network

    def __len__(self) -> int:
        return len(self.builders)

    # --- the three kinds of component ---------------------------------------------------

    def _first(self, get: Callable[[Leaf, str], Any]) -> Any:
        stem = StemSpec(**{k: get(v, f"stem.{k}") for k, v in self.net.stem})
        return stem, sample_stage(self.net.stages[0], 0, get)

    def _stage_builder(self, i: int) -> Builder:
        return lambda get: sample_stage(self.net.stages[i], i, get)

    def _last(self, get: Callable[[Leaf, str], Any]) -> Any:
        head = HeadSpec(**{k: get(v, f"head.{k}") for k, v in self.net.head})
        return head, get(self.net.act, "act")

    def _leaves(self, j: int) -> Iterator[Leaf]:
        net = self.net
        stages = [net.stages[j]] if j < len(net.stages) else []
        if j == 0:
            yield from (leaf for _, leaf in net.stem)
        if j == len(net.stages):
            yield from (leaf for _, leaf in net.head)
            yield net.act
        for st in stages:
            yield st.width
            for seg in st.segments:
                yield from (seg.mixer, seg.depth)
            yield from (leaf for _, leaf in st.fields)

    # --- enumeration ----------------------------------------------------------------------

    def raw(self, j: int, consumed: tuple, pinned: tuple = ()) -> list[tuple[dict, tuple, Any]]:
        """(decisions, newly consumed params, value or None) of every path through `j`."""
        fixed = tuple(kv for kv in consumed if kv[0] in self._refs[j])
        key = (j, fixed, pinned)
        if key not in self._raw:
            self._raw[key] = list(self._enumerate(j, dict(fixed), dict(pinned)))
        return self._raw[key]

    def _enumerate(self, j: int, fixed: dict, pinned: dict) -> Iterator[tuple]:
        path: list[int] | None = []
        while path is not None:
            chooser = Enumerate(path, pinned)
            new: dict[str, Any] = {}
            try:
                value = self.builders[j](self._getter(chooser, dict(fixed), new))
            except ConfigError:
                value = None
            self.continuous |= chooser.continuous
            yield dict(chooser.params), tuple(sorted(new.items())), value
            path = chooser.next_path()

    def _getter(
        self, chooser: Enumerate, cache: dict[str, Any], new: dict[str, Any]
    ) -> Callable[[Leaf, str], Any]:
        """`SearchSpace._sample_net`'s `get`, recording the named params it fixes."""
        net, prefix = self.net, self.prefix

        def get(leaf: Leaf, name: str) -> Any:
            if isinstance(leaf, ParamRef):
                if leaf.name not in cache:
                    cache[leaf.name] = net.params[leaf.name].resolve(chooser, prefix + leaf.name)
                    new[leaf.name] = cache[leaf.name]
                return leaf.apply(cache[leaf.name])
            return leaf.resolve(chooser, prefix + name)

        return get

    def options(self, j: int, state: State, pinned: tuple = ()) -> list[Option]:
        """Every valid decision path through component `j` from `state`."""
        key = (j, state, pinned)
        if key in self._options:
            return self._options[key]
        out, seen = [], {}
        for decisions, new, value in self.raw(j, state.consumed, pinned):
            step = None if value is None else self._advance(j, value, state)
            if step is None:
                self.invalid += 1
                continue
            cost, (dim, side) = step
            nxt = (
                END
                if j == len(self) - 1
                else State(tuple(sorted(state.consumed + new)), dim, side)
            )
            out.append(Option(decisions, value, new, cost, nxt))
            if seen.setdefault(value, new) != new:
                self.ambiguous = True
        self._options[key] = out
        return out

    def unique(self, j: int, state: State) -> list[Option]:
        """Options that are distinct architectures (segment splits that give the same stage
        collapse to one)."""
        key = (j, state)
        if key not in self._unique:
            seen: dict[tuple, Option] = {}
            for o in self.options(j, state):
                seen.setdefault((o.value, o.consumed), o)
            self._unique[key] = list(seen.values())
        return self._unique[key]

    # --- validity and cost, as ArchSpec checks them ---------------------------------------

    def _advance(self, j: int, value: Any, state: State) -> tuple[Vec, tuple[int, int]] | None:
        net = self.net
        if j == len(self) - 1:
            head, act = value
            if act not in ACTS:
                return None
            p1, f1 = norm_cost(head, width=state.dim, size=state.side)
            p2, f2 = head_cost(head, width=state.dim, size=state.side, num_classes=net.num_classes)
            return (f1 + f2, p1 + p2), (state.dim, state.side)
        extra = (0, 0)
        if j == 0:
            stem, stage = value
            if self.resolution % stem.patch_size:
                return None
            state = State((), stem.out_width(stage.width), self.resolution // stem.patch_size)
            extra = stem_cost(
                stem, in_chans=net.in_chans, width=stage.width, resolution=self.resolution
            )
        else:
            stage = value
        out = _stage_step(stage, state.dim, state.side)
        if out is None:
            return None
        params, flops = stage_cost(stage, dim_in=state.dim, size=out)
        return (flops + extra[1], params + extra[0]), (stage.width, out)


def _stage_step(stage: StageSpec, dim: int, side: int) -> int | None:
    """The side a stage outputs, or None where ArchSpec would reject it."""
    if stage.downsample == "none":
        if stage.width != dim:
            return None
    elif side % 2:
        return None
    else:
        side //= 2
    if "mlp" in stage.mixers and int(side * side * stage.token_ratio) < 1:
        return None
    return side


def _param_refs(leaves: Iterator[Leaf]) -> frozenset[str]:
    return frozenset(leaf.name for leaf in leaves if isinstance(leaf, ParamRef))
