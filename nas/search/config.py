"""The resolved configuration of a search: every default filled in, every input checked.

`SearchConfig.create(...)` is the one place where user input (CLI or Python) becomes a
configuration; `fingerprint()` is the part a study is bound to: resuming a study with a
different budget, proxy or objective would mix incomparable numbers, so it is refused.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.cost import parse_amount, parse_budget
from nas.data.classes import Classes, parse_classes, to_config
from nas.data.source import absolute_data, data_identity
from nas.space import ConfigError, check_resolution, load_space
from nas.train.proxy_config import (
    PROXY_PRESETS,
    SUPERNET_PREFIX,
    ZC_PREFIX,
    ZERO_COST_SCORES,
    ProxyConfig,
    auto_proxy,
    load_proxy,
    supernet_proxy,
    zero_cost_proxy,
)

from .repeats import NO_REPEATS, RepeatPolicy, parse_repeats
from .samplers import MULTI_OBJECTIVE_PRUNERS, PRUNERS, SAMPLERS, default_sampler

# objective name -> Optuna direction
OBJECTIVES = {
    "accuracy": "maximize",
    "flops": "minimize",
    "params": "minimize",
    "latency": "minimize",
}

# Trials, wall-clock budget (seconds) and worker processes a search gets by default with each
# proxy preset. The CPU default is sized so the README's main command ends within ~15 minutes
# on 2 cores: the timeout guarantees it, the trial count is what a quiet machine reaches in
# that time. Its workers: two single-threaded processes train 1.26x the runs of one process on
# two threads (results/benchmarks/main_command.md), so on 2+ cores it runs two.
SEARCH_DEFAULTS: dict[str, tuple[int, float | None, int]] = {
    "cpu": (20, 12 * 60.0, 2),
    "cpu-cifar": (20, 12 * 60.0, 2),  # a CPU proxy too: the same bounds, on natural images
    "gpu": (100, None, 1),
    "tiny": (8, None, 1),
}
_FALLBACK_DEFAULTS = (20, None, 1)


@dataclass(frozen=True)
class Prescreen:
    """`--prescreen SCORE:K`: every new candidate trained is the best by `score` of `k` drawn
    (`nas.search.prescreen`)."""

    score: ProxyConfig  # a scoring fidelity: a zero-cost score or a trained supernet
    k: int  # candidates drawn per candidate trained, >= 2 (1 is no pre-screen)

    def __str__(self) -> str:
        return f"{self.score.name}:{self.k}"

    def fingerprint(self) -> dict[str, Any]:
        return {"score": self.score.canonical(), "k": self.k}


@dataclass(frozen=True)
class SearchConfig:
    space: str  # shipped space name or YAML path, as given
    budget: str  # as given, e.g. "4GFLOPs"
    max_flops: int
    resolution: int  # px at which FLOPs/params/latency are measured
    objectives: tuple[str, ...]
    trials: int  # candidates to train, failed ones included (over-budget and duplicate
    #              proposals do not count)
    timeout: float | None  # seconds of wall clock for this invocation
    sampler: str
    pruner: str
    proxy: ProxyConfig
    data: str
    study_name: str
    out: Path
    storage: str  # RDB URL or journal file path
    seed: int
    device: str
    workers: int
    max_params: int | None = None
    pruner_percentile: float = 50.0
    repeats: str = "auto"  # auto, or seeds per completed candidate (nas.search.repeats)
    data_seed: int = 0  # which images the proxy trains and validates on (fixed in a study)
    classes: Classes = None  # a count drawn with a fixed seed, or class names; None: all
    data_workers: int | None = None  # processes decoding the proxy data (None: the cores)
    skip_bad_images: bool = False  # leave out images that cannot be decoded
    retry_failed: bool = False  # queue every failed trial again, not only transient failures
    prescreen: Prescreen | None = None  # score K drawn candidates, train the best; None: all

    @classmethod
    def create(
        cls,
        *,
        space: str,
        budget: str | int,
        resolution: int | None = None,
        space_resolution: int = 224,
        objectives: str | list[str] | tuple[str, ...] = ("accuracy", "flops"),
        trials: int | None = None,
        timeout: float | str | None = None,
        sampler: str | None = None,  # None: default_sampler(trials)
        pruner: str = "median",
        proxy: ProxyConfig | None = None,
        data: str = "fashion-mnist",
        study_name: str | None = None,
        out: str | Path | None = None,
        storage: str | None = None,
        seed: int = 0,
        device: str = "auto",
        workers: int | None = None,
        max_params: str | int | None = None,
        repeats: str | int = "auto",
        data_seed: int = 0,
        classes: object = None,
        data_workers: int | None = None,
        skip_bad_images: bool = False,
        retry_failed: bool = False,
        prescreen: str | Prescreen | None = None,
    ) -> SearchConfig:
        from nas.report import StudyFolder  # not at the top: `nas-search --help` reads this module

        if proxy is None:  # as `--proxy auto` on a CPU (`make_config` knows the device)
            proxy = PROXY_PRESETS[auto_proxy("cpu", data)]
        default_trials, default_timeout, default_workers = SEARCH_DEFAULTS.get(
            proxy.name, _FALLBACK_DEFAULTS
        )
        if workers is None:  # never more processes than cores
            workers = max(1, min(default_workers, os.cpu_count() or 1))
        budget_text = str(budget)
        study_name = study_name or f"{Path(str(space)).stem}-{_slug(budget_text)}"
        out_dir = Path(out) if out else Path("results") / study_name
        pruner_name, percentile = parse_pruner(pruner)
        trials = _positive_int(default_trials if trials is None else trials, "--trials")
        cfg = cls(
            space=str(space),
            budget=budget_text,
            max_flops=parse_budget(budget),
            resolution=space_resolution if resolution is None else check_resolution(resolution),
            objectives=parse_objectives(objectives),
            trials=trials,
            timeout=default_timeout if timeout is None else parse_duration(timeout),
            sampler=default_sampler(trials)
            if sampler is None
            else _one_of(sampler, SAMPLERS, "--sampler"),
            pruner=pruner_name,
            pruner_percentile=percentile,
            proxy=proxy,
            data=absolute_data(str(data)),  # nas-train --from reads it, from any folder
            study_name=study_name,
            out=out_dir,
            storage=str(storage) if storage else str(StudyFolder(out_dir).journal),
            seed=int(seed),
            device=str(device),
            workers=_positive_int(workers, "--workers"),
            max_params=None
            if max_params is None
            else parse_amount(max_params, what="params", field="--max-params"),
            repeats=str(parse_repeats(repeats).seeds if str(repeats) != "auto" else "auto"),
            data_seed=_int(data_seed, "--data-seed"),
            classes=parse_classes(classes),
            skip_bad_images=bool(skip_bad_images),
            retry_failed=bool(retry_failed),
            data_workers=None
            if data_workers is None
            else _positive_int(data_workers, "--data-workers"),
            prescreen=parse_prescreen(prescreen),
        )
        cfg.check()
        return cfg

    def check(self) -> None:
        multi = len(self.objectives) > 1
        if multi and self.pruner not in MULTI_OBJECTIVE_PRUNERS:
            raise ConfigError(
                f"Optuna's {self.pruner} pruner does not support multi-objective studies; use "
                f"median or percentile:P (cost-aware rules that do), or --objectives accuracy",
                field="--pruner",
            )
        if self.sampler in ("nsga2", "nsga3") and not multi:
            raise ConfigError(
                f"{self.sampler} is a multi-objective sampler; give at least two "
                f"--objectives or use tpe",
                field="--sampler",
            )

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o] for o in self.objectives]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def fingerprint(self) -> dict[str, Any]:
        """What a study is bound to: results under another of these are not comparable. The
        space by its content (an edited copy under the same name is another space), the data
        by its identity (`~/x` and `/abs/x`, or a moved copy, are the same data).
        (`data_seed` joins only when it is not 0, and `prescreen` only when there is one, so
        studies made before they existed resume.)"""
        out = {
            "space": Path(self.space).stem,
            "space_content": load_space(self.space).content_leaves(),
            "max_flops": self.max_flops,
            "max_params": self.max_params,
            "resolution": self.resolution,
            "objectives": list(self.objectives),
            "proxy": self.proxy.canonical(),
            "data": data_identity(self.data),
            "classes": to_config(self.classes),
        }
        if self.data_seed:
            out["data_seed"] = self.data_seed
        if self.prescreen is not None:
            out["prescreen"] = self.prescreen.fingerprint()
        return out

    @property
    def repeat_policy(self) -> RepeatPolicy:
        """A supernet's score does not depend on the seed: one run each, whatever asked."""
        return NO_REPEATS if self.proxy.supernet else parse_repeats(self.repeats)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(out=str(self.out), objectives=list(self.objectives), proxy=self.proxy.to_dict())
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchConfig:
        data = dict(data)
        data.update(
            out=Path(data["out"]),
            objectives=tuple(data["objectives"]),
            proxy=ProxyConfig(**data["proxy"]),
        )
        if isinstance(data.get("classes"), list):
            data["classes"] = tuple(data["classes"])
        if data.get("prescreen"):
            p = data["prescreen"]
            data["prescreen"] = Prescreen(ProxyConfig(**p["score"]), p["k"])
        return cls(**data)

    def replace(self, **changes: Any) -> SearchConfig:
        return dataclasses.replace(self, **changes)


def make_config(
    *, space: str, budget: str | int, proxy: object = None, device: str = "auto", **options: object
) -> SearchConfig:
    """The configuration `run_search` and `nas-search` run: the space's own resolution and
    the proxy preset for the device and data filled in (`auto`: gpu on a GPU, else the data's
    CPU preset, `auto_proxy`)."""
    from nas.train.device import pick_device
    from nas.train.proxy_config import get_proxy

    loaded = load_space(space)
    net = next(iter(loaded.variants.values()))
    return SearchConfig.create(
        space=space,
        budget=budget,
        space_resolution=net.resolution,
        proxy=get_proxy(proxy, device=pick_device(device), data=str(options.get("data") or "")),
        device=device,
        **options,
    )


def check_resume(stored: dict[str, Any], cfg: SearchConfig) -> None:
    """Refuse to continue a study under a configuration whose numbers would not compare."""
    now = cfg.fingerprint()
    keys = [*now, *(k for k in _WHEN_SET_KEYS if k in stored and k not in now)]
    diffs = [
        _difference(k, stored.get(k), now.get(k))
        for k in keys
        if not (k in _LATER_KEYS and k not in stored)  # studies made before the key existed
        and _comparable(k, stored.get(k)) != _comparable(k, now.get(k))
    ]
    if diffs:
        hint = ""
        if any(d.startswith("proxy:") for d in diffs):
            hint = _preset_hint(stored.get("proxy"))
        raise ConfigError(
            f"study {cfg.study_name!r} in {cfg.storage} was created with another "
            f"configuration ({'; '.join(diffs)}){hint}; its trials would not compare with "
            f"this run's: start a new study with another --out (or --study-name)",
            field="--study-name",
        )


_LATER_KEYS = ("space_content",)  # fingerprint keys added after studies existed
_WHEN_SET_KEYS = ("data_seed", "prescreen")  # keys present only when set: absent is unset


def _difference(key: str, before: Any, now: Any) -> str:
    if key == "space_content" and isinstance(before, dict):
        changed = [
            f"{k}: {before.get(k, '(absent)')!r} -> {now.get(k, '(absent)')!r}"
            for k in sorted(set(before) | set(now))
            if before.get(k) != now.get(k)
        ]
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        return f"the space's content changed since ({', '.join(changed[:3])}{more})"
    if key == "prescreen":
        before, now = _prescreen_name(before), _prescreen_name(now)
        return f"--prescreen: study has {before}, this run asks for {now}"
    if key == "data_seed":  # absent: 0
        before, now = before or 0, now or 0
    return f"{key}: study has {before!r}, this run asks for {now!r}"


def _prescreen_name(fingerprint: Any) -> str:
    if not isinstance(fingerprint, dict):
        return "none"
    return f"{fingerprint['score'].get('name')}:{fingerprint['k']}"


def _preset_hint(stored: object) -> str:
    """Which preset the study was made with, when its settings are one's: a default moved
    since (`cpu` on 2026-11-30, `auto` on CIFAR data to `cpu-cifar` on 2026-12-03)."""
    from nas.train.proxy_config import PROXY_PRESETS

    same = [
        name
        for name, preset in PROXY_PRESETS.items()
        if _comparable("proxy", preset.canonical()) == _comparable("proxy", stored)
    ]
    if not same:
        return ""
    return (
        f" (its proxy's settings are the `{same[0]}` preset's: it resumes with --proxy {same[0]})"
    )


def _comparable(key: str, value: Any) -> Any:
    """A proxy's name is a label: the same settings under another name measure the same.
    Data recorded as typed (studies before identities) is compared by its identity."""
    if key == "proxy" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "name"}
    if key == "prescreen" and isinstance(value, dict):  # a supernet is named by its path
        return {**value, "score": _comparable("proxy", value["score"])}
    if key == "data" and isinstance(value, str):
        try:
            return data_identity(value)
        except ConfigError:  # an identity already, or a folder no longer there
            return value
    return value


def parse_objectives(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
    for name in names:
        _one_of(name, tuple(OBJECTIVES), "--objectives")
    if "accuracy" not in names:
        raise ConfigError(
            "the objectives must include accuracy (what the proxy measures)", field="--objectives"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"objectives repeat: {','.join(names)}", field="--objectives")
    return tuple(names)


def parse_pruner(text: str) -> tuple[str, float]:
    """`median`, `percentile:25`, `hyperband`, `successive-halving` or `none`."""
    name, _, arg = str(text).partition(":")
    _one_of(name, PRUNERS, "--pruner")
    if name != "percentile":
        if arg:
            raise ConfigError(f"{name} takes no argument, got {text!r}", field="--pruner")
        return name, 50.0
    try:
        p = float(arg)
    except ValueError:
        raise ConfigError(
            f"expected percentile:P with 0 < P < 100, got {text!r}", field="--pruner"
        ) from None
    if not 0 < p < 100:
        raise ConfigError(f"`0 < P < 100` must hold, but got P={p}", field="--pruner")
    return name, p


def parse_prescreen(value: str | Prescreen | None) -> Prescreen | None:
    """`SCORE:K`: SCORE a scoring fidelity (`zc:NAME`, `supernet:PATH`, or a proxy file that
    sets `score` or `supernet`), K >= 1 candidates drawn per one trained. K = 1 is no
    pre-screen (None), so it means what leaving the option out means."""
    if value is None or isinstance(value, Prescreen):
        return None if value is None or value.k == 1 else value
    text = str(value).strip()
    spelling = f"expected SCORE:K ({ZC_PREFIX}NAME:K or {SUPERNET_PREFIX}PATH:K, K >= 1)"
    score_text, _, k_text = text.rpartition(":")
    try:
        k = int(k_text) if score_text else None
    except ValueError:
        k = None
    if k is None:
        raise ConfigError(f"{spelling}, got {text!r}", field="--prescreen")
    if k < 1:
        raise ConfigError(f"`K >= 1` must hold, but got K={k} ({text!r})", field="--prescreen")
    score = _scoring_fidelity(score_text)
    return None if k == 1 else Prescreen(score, k)


def _scoring_fidelity(text: str) -> ProxyConfig:
    try:
        if text.startswith(ZC_PREFIX):
            return zero_cost_proxy(text.removeprefix(ZC_PREFIX))
        if text.startswith(SUPERNET_PREFIX):
            return supernet_proxy(text.removeprefix(SUPERNET_PREFIX))
        proxy = load_proxy(text) if text.endswith((".yaml", ".yml")) else None
    except ConfigError as e:
        raise ConfigError(e.message, field="--prescreen", source=e.source) from None
    if proxy is None or not (proxy.score or proxy.supernet):
        raise ConfigError(
            f"{text!r} is not a scoring fidelity; expected {ZC_PREFIX}NAME (a zero-cost "
            f"score: {', '.join(ZERO_COST_SCORES)}) or {SUPERNET_PREFIX}PATH (a trained "
            "supernet), then :K",
            field="--prescreen",
        )
    return proxy


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(s|sec|m|min|h)?\s*$")


def parse_duration(value: float | str) -> float | None:
    """`900`, `900s`, `15m`, `1.5h` -> seconds; `0` or `none` -> no limit."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        if str(value).strip().lower() in ("none", "0", ""):
            return None
        m = _DURATION.match(str(value))
        if not m:
            raise ConfigError(
                f"cannot read {value!r}; expected seconds or a duration like 900s, 15m, 1.5h",
                field="--timeout",
            )
        seconds = float(m[1]) * {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[m[2]]
    if seconds < 0:
        raise ConfigError(f"must not be negative, got {value!r}", field="--timeout")
    return seconds or None


def _one_of(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise ConfigError(f"expected one of {', '.join(allowed)}, got {value!r}", field=field)
    return value


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"expected an integer >= 0, got {value!r}", field=field)
    return value


def _positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"expected an integer >= 1, got {value!r}", field=field)
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "", text) or "budget"
