"""Sample sizes and 95 % intervals for every rate the pages show (no Streamlit): Explore's headlines
and audit, the About page's model card, Play's humans-vs-model tallies.

- proportions (accuracies, shares within a distance): Wilson score interval (``scipy.stats.binomtest``);
- means and medians (errors in km, scores in points): percentile bootstrap over locations
  (``scipy.stats.bootstrap``, 2,000 resamples, fixed seed so the page does not flicker);
- the change of a paired rate (the same locations before and after hiding part of the picture):
  paired percentile bootstrap of the difference.

Fewer than :data:`SMALL_N` locations make a figure *indicative*: the page says so next to it.
Rates are in 0..1; differences in percentage points are reported by the callers as ``100 * diff``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

SMALL_N = 30          # below this a rate is labelled "indicative"
LEVEL = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A figure with its sample size and 95 % interval (``lo``/``hi`` NaN when it cannot be given)."""

    value: float
    lo: float
    hi: float
    n: int

    @property
    def indicative(self) -> bool:
        """True for small samples (n < :data:`SMALL_N`)."""
        return self.n < SMALL_N


def wilson(k: int, n: int, level: float = LEVEL) -> Estimate:
    """Proportion ``k / n`` with its Wilson score interval; NaN everywhere for ``n == 0``."""
    k, n = int(k), int(n)
    if n <= 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return Estimate(k / n, float(ci.low), float(ci.high), n)


def rate(flags: Sequence[bool] | np.ndarray, level: float = LEVEL) -> Estimate:
    """:func:`wilson` of a boolean array (NaN entries left out)."""
    a = np.asarray(flags, dtype=float)
    a = a[~np.isnan(a)]
    return wilson(int(a.sum()), len(a), level)


def bootstrap(values: Sequence[float] | np.ndarray, stat: Callable[..., float] = np.mean,
              level: float = LEVEL, seed: int = 0) -> Estimate:
    """``stat`` (``np.mean`` or ``np.median``) of ``values`` (NaN left out) with a percentile bootstrap
    interval; no interval for fewer than 2 values or when every value is the same."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    v = float(stat(x))
    if len(x) < 2 or np.all(x == x[0]):
        return Estimate(v, math.nan, math.nan, len(x)) if len(x) < 2 else Estimate(v, v, v, len(x))
    from scipy.stats import bootstrap as sp_bootstrap

    res = sp_bootstrap((x,), lambda a, axis=-1: stat(a, axis=axis), n_resamples=RESAMPLES, confidence_level=level,
                       method="percentile", random_state=np.random.default_rng(seed), vectorized=True)
    return Estimate(v, float(res.confidence_interval.low), float(res.confidence_interval.high), len(x))


def paired_change(before: Sequence[bool] | np.ndarray, after: Sequence[bool] | np.ndarray, level: float = LEVEL,
                  seed: int = 0) -> Estimate:
    """Change of a rate on the same locations, ``mean(after) - mean(before)`` (in 0..1, negative = a
    loss), with a paired percentile bootstrap interval (locations resampled with their pair)."""
    a = np.asarray(before, dtype=float)
    b = np.asarray(after, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b.shape}")
    d = b - a
    d = d[~np.isnan(d)]
    return bootstrap(d, np.mean, level, seed)


def pct(v: float, digits: int = 0) -> str:
    """'47%' (``digits`` decimals), '–' for NaN."""
    return "–" if v is None or not math.isfinite(v) else f"{100 * v:.{digits}f}%"


def interval_text(e: Estimate, fmt: Callable[[float], str] = pct) -> str:
    """'95% CI 41–53%' ('' when no interval); signed ends read '95% CI −8 to +1 pts'. Formats both ends
    with ``fmt`` and keeps one unit."""
    if not (math.isfinite(e.lo) and math.isfinite(e.hi)):
        return ""
    lo, hi = fmt(e.lo), fmt(e.hi)
    for unit in ("%", " km", " pts"):
        if lo.endswith(unit) and hi.endswith(unit):
            lo = lo[: -len(unit)]
    signed = lo[:1] in "+−±" or hi[:1] in "+−±"  # '−8 to +1 pts' reads better than '−8–+1 pts'
    return f"95% CI {lo}{' to ' if signed else '–'}{hi}"


def describe(e: Estimate, fmt: Callable[[float], str] = pct, what: str = "locations", compact: bool = False) -> str:
    """'95% CI 41–53% · n = 241' with ' · indicative (small sample)' for small samples; ``compact``
    (under a metric): '95% CI 41–53% · n=241', ' · indicative'."""
    eq = "=" if compact else " = "
    parts = [p for p in (interval_text(e, fmt), f"n{eq}{e.n:,}" + ("" if what == "locations" else f" {what}")) if p]
    if e.n and e.indicative:
        parts.append("indicative" if compact else "indicative (small sample)")
    return " · ".join(parts)


def points(diff: float) -> str:
    """A difference of rates as percentage points with a sign: '+6 pts', '−25 pts'."""
    if diff is None or not math.isfinite(diff):
        return "–"
    v = round(100 * diff)
    return f"{'+' if v > 0 else '−' if v < 0 else '±'}{abs(v)} pts"
