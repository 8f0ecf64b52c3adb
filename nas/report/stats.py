"""The statistics of noisy accuracies: seed noise, rank agreement with intervals, paired
differences. Pure numpy/scipy/pandas on run tables, shared by calibration, comparison and the
search's report.

Conventions. Kendall's tau is tau-b (ties in either ranking count as neither concordant nor
discordant, scipy's default). Intervals are two-sided at `level` (0.90 unless asked):
percentile bootstrap over architectures for rank statistics, Student t over seeds for means
and paired differences.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

LEVEL = 0.90
BOOTSTRAP = 2000
SEED_STD_PRIOR = 0.02  # seed std assumed where a study has not measured its own yet
MIN_MEASURED = 2  # architectures with 2+ seeds before a measured seed std is used


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def __str__(self) -> str:
        if math.isnan(self.estimate):
            return "n/a"
        return f"{self.estimate:.2f} [{self.low:.2f}, {self.high:.2f}]"


def kendall(a: np.ndarray | pd.Series, b: np.ndarray | pd.Series) -> float:
    """Kendall's tau-b; nan when either side is constant or has fewer than 2 values."""
    return kendall_test(a, b)[0]


def spearman(a: np.ndarray | pd.Series, b: np.ndarray | pd.Series) -> float:
    """Spearman's rho (ties get their mean rank); nan as for `kendall`."""
    return spearman_test(a, b)[0]


def rank_sum(*columns: np.ndarray | pd.Series) -> np.ndarray:
    """The sum of each row's ranks over the columns (ties get their mean rank): the simplest
    combination of rankings, e.g. a score that breaks the FLOPs ranking's order."""
    return np.sum([stats.rankdata(np.asarray(c, dtype=float)) for c in columns], axis=0)


def kendall_test(a: np.ndarray | pd.Series, b: np.ndarray | pd.Series) -> tuple[float, float]:
    """Kendall's tau-b and its two-sided p-value: the one implementation of tau in nas."""
    return _rank_test(stats.kendalltau, a, b)


def spearman_test(a: np.ndarray | pd.Series, b: np.ndarray | pd.Series) -> tuple[float, float]:
    """Spearman's rho and its two-sided p-value: the one implementation of rho in nas."""
    return _rank_test(stats.spearmanr, a, b)


def _rank_test(test, a, b) -> tuple[float, float]:
    """(statistic, p); (nan, nan) when either side is constant or has fewer than 2 values,
    where a rank correlation is undefined."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan, math.nan
    with warnings.catch_warnings():  # n = 2: the p-value is undefined (nan), say nothing
        warnings.simplefilter("ignore")
        result = test(a, b)
    return float(result.statistic), float(result.pvalue)


def bootstrap(
    statistic, *columns: np.ndarray, level: float = LEVEL, n: int = BOOTSTRAP, seed: int = 0
) -> Interval:
    """Percentile interval of `statistic(*columns)` over resampled rows (architectures)."""
    columns = tuple(np.asarray(c, dtype=float) for c in columns)
    estimate = statistic(*columns)
    rows = len(columns[0])
    if rows < 3 or math.isnan(estimate):
        return Interval(estimate, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    draws = np.array(
        [statistic(*(c[idx] for c in columns)) for idx in rng.integers(0, rows, size=(n, rows))]
    )
    draws = draws[~np.isnan(draws)]
    if len(draws) == 0:
        return Interval(estimate, math.nan, math.nan)
    tail = (1 - level) / 2
    return Interval(estimate, float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail)))


# --- seed noise ------------------------------------------------------------------------------


def per_arch(runs: pd.DataFrame, value: str = "accuracy") -> pd.DataFrame:
    """arch_id -> mean, std (ddof 1; nan with one seed), n of `value` over seeds."""
    ok = runs.dropna(subset=[value])
    return ok.groupby("arch_id")[value].agg(mean="mean", std="std", n="count")


def pooled_std(runs: pd.DataFrame, value: str = "accuracy") -> float:
    """Within-architecture seed std, pooled over architectures (weighted by degrees of
    freedom); nan when no architecture has two seeds."""
    g = per_arch(runs, value)
    g = g[g["n"] >= 2]
    dof = (g["n"] - 1).sum()
    if dof == 0:
        return math.nan
    return float(math.sqrt(((g["n"] - 1) * g["std"] ** 2).sum() / dof))


def study_noise(runs: pd.DataFrame, value: str = "accuracy") -> tuple[float, int, bool]:
    """(seed std, architectures with 2+ seeds, measured?): the pooled std once MIN_MEASURED
    architectures have 2+ seeds, else SEED_STD_PRIOR."""
    ok = runs.dropna(subset=[value])
    repeated = int(ok.groupby("arch_id").size().ge(2).sum()) if len(ok) else 0
    if repeated < MIN_MEASURED:
        return SEED_STD_PRIOR, repeated, False
    return pooled_std(ok, value), repeated, True


def between_std(runs: pd.DataFrame, value: str = "accuracy") -> float:
    """Std of the architectures' mean accuracies: the spread a ranking has to resolve."""
    means = per_arch(runs, value)["mean"]
    return float(means.std()) if len(means) >= 2 else math.nan


def signal_to_noise(runs: pd.DataFrame, value: str = "accuracy") -> float:
    """between_std / pooled_std: above ~3 seeds rarely swap architectures that differ."""
    noise = pooled_std(runs, value)
    return between_std(runs, value) / noise if noise > 0 else math.nan


def seed_vs_seed_tau(runs: pd.DataFrame, value: str = "accuracy") -> float:
    """Mean Kendall tau between the rankings of two seeds, over every pair of seeds (on the
    architectures both have)."""
    wide = runs.dropna(subset=[value]).pivot_table(
        index="arch_id", columns="seed", values=value, aggfunc="first"
    )
    taus = []
    for a, b in combinations(wide.columns, 2):
        both = wide[[a, b]].dropna()
        taus.append(kendall(both[a], both[b]))
    taus = [t for t in taus if not math.isnan(t)]
    return float(np.mean(taus)) if taus else math.nan


def top_overlap(proxy: np.ndarray, reference: np.ndarray, *, share: float = 0.25) -> float:
    """Share of the reference's top `share` of architectures that the proxy also puts there
    (ties at the cut broken by position, i.e. by the callers' arch_id order)."""
    proxy, reference = np.asarray(proxy, float), np.asarray(reference, float)
    k = max(1, math.ceil(share * len(proxy)))
    top_p = set(np.argsort(-proxy, kind="stable")[:k])
    top_r = set(np.argsort(-reference, kind="stable")[:k])
    return len(top_p & top_r) / k


# --- means and paired differences ----------------------------------------------------------


def mean_interval(values: np.ndarray | pd.Series, *, level: float = LEVEL) -> Interval:
    """Student-t interval of the mean of seeds."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return Interval(math.nan, math.nan, math.nan)
    m = float(v.mean())
    if len(v) < 2:
        return Interval(m, math.nan, math.nan)
    half = stats.t.ppf((1 + level) / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return Interval(m, m - half, m + half)


@dataclass(frozen=True)
class PairedDifference:
    """a - b over the seeds both have, as a paired-t interval."""

    diff: Interval
    n: int
    detectable: float  # the smallest |a - b| this many seeds at this noise would call real

    @property
    def verdict(self) -> str:
        if math.isnan(self.diff.low):
            return "too few seeds"
        if self.diff.low > 0:
            return "better"
        if self.diff.high < 0:
            return "worse"
        return "tie at this noise"

    def within(self, margin: float) -> bool:
        """Equivalence (TOST at the interval's level): the whole interval inside +-margin."""
        return (
            not math.isnan(self.diff.low) and -margin < self.diff.low and self.diff.high < margin
        )


def paired_difference(a: pd.Series, b: pd.Series, *, level: float = LEVEL) -> PairedDifference:
    """`a` and `b` indexed by seed; the seeds both have are paired (same init stream, same
    batch order, same data), which removes what the seeds share from the noise."""
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1).dropna()
    d = (both["a"] - both["b"]).to_numpy(dtype=float)
    n = len(d)
    interval = mean_interval(d, level=level)
    if n < 2:
        return PairedDifference(interval, n, math.nan)
    t = stats.t.ppf((1 + level) / 2, n - 1)
    return PairedDifference(interval, n, float(t * d.std(ddof=1) / math.sqrt(n)))


# --- fronts --------------------------------------------------------------------------------


def pareto_mask(accuracy: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Which points are non-dominated for (maximise accuracy, minimise cost)."""
    a, c = np.asarray(accuracy, float), np.asarray(cost, float)
    keep = np.ones(len(a), dtype=bool)
    for i in range(len(a)):
        dominated = (a >= a[i]) & (c <= c[i]) & ((a > a[i]) | (c < c[i]))
        keep[i] = not dominated.any()
    return keep


def hypervolume_2d(
    accuracy: np.ndarray, cost: np.ndarray, *, ref_accuracy: float, ref_cost: float
) -> float:
    """Area dominated by the points (maximise accuracy, minimise cost) and bounded by the
    reference point (ref_accuracy, ref_cost): a sweep over cost. Points no better than the
    reference in either objective add nothing."""
    a, c = np.asarray(accuracy, float), np.asarray(cost, float)
    useful = (a > ref_accuracy) & (c < ref_cost)
    a, c = a[useful], c[useful]
    area, best = 0.0, ref_accuracy
    for i in np.argsort(c, kind="stable"):
        if a[i] > best:  # each new best accuracy adds a strip from its cost to the reference
            area += (a[i] - best) * (ref_cost - c[i])
            best = a[i]
    return float(area)
