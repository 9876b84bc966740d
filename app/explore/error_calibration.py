"""Calibration of the model's own forecast of its error (no Streamlit): does the expected error it states
(``expected_km``: the mean distance between M and the truth under the answer's point distribution) match
the error it makes?

The places are cut into bins of equal count by the forecast (so every bin has a similar n); in each bin the
mean forecast is set against the mean actual error with a percentile bootstrap interval of that mean, and the
median actual error beside it. A forecast is calibrated when the mean error of the places it gives X km is
X km: points on the diagonal. The same works for the expected GeoGuessr score of E (``expected_score``)
against the score E made.

Units: km (or GeoGuessr points for the score); n counts places.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from app.common import uncertainty as un

COLUMNS = ["bin", "lo", "hi", "n", "forecast", "actual", "actual_lo", "actual_hi", "actual_median", "ratio"]
FORECASTS = {  # key: (forecast column, actual column, unit, words)
    "km": ("expected_km", "distance_km", "km", "expected error of the predicted place (M)"),
    "score": ("expected_score", "best_score", "pts", "expected score of the best guess (E)"),
}


def pairs(locs: pd.DataFrame, what: str = "km") -> tuple[np.ndarray, np.ndarray]:
    """(forecast, actual) arrays of the places that have both (see :data:`FORECASTS`)."""
    f_col, a_col, _, _ = FORECASTS[what]
    if f_col not in locs or a_col not in locs:
        return np.zeros(0), np.zeros(0)
    f = pd.to_numeric(locs[f_col], errors="coerce").to_numpy(float)
    a = pd.to_numeric(locs[a_col], errors="coerce").to_numpy(float)
    ok = np.isfinite(f) & np.isfinite(a)
    return f[ok], a[ok]


def forecast_bins(forecast: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray,
                  n_bins: int = 6, seed: int = 0) -> pd.DataFrame:
    """Equal-count bins of the forecast (fewer when there are fewer than 5 places a bin): one row per bin
    with its forecast range ``lo``..``hi``, ``n``, the mean ``forecast``, the mean ``actual`` with its 95 %
    bootstrap interval ``actual_lo``/``actual_hi``, ``actual_median`` and ``ratio`` (actual / forecast;
    above 1 the model is more wrong than it says)."""
    f, a = np.asarray(forecast, float), np.asarray(actual, float)
    if f.shape != a.shape:
        raise ValueError(f"forecast and actual differ in length: {f.shape} vs {a.shape}")
    ok = np.isfinite(f) & np.isfinite(a)
    f, a = f[ok], a[ok]
    k = int(max(1, min(n_bins, len(f) // 5)))
    if not len(f):
        return pd.DataFrame(columns=COLUMNS)
    order = np.argsort(f, kind="stable")
    rows = []
    for b, idx in enumerate(np.array_split(order, k)):
        if not len(idx):
            continue
        e = un.bootstrap(a[idx], np.mean, seed=seed)
        mf = float(f[idx].mean())
        rows.append({"bin": b, "lo": float(f[idx].min()), "hi": float(f[idx].max()), "n": int(len(idx)),
                     "forecast": mf, "actual": e.value, "actual_lo": e.lo, "actual_hi": e.hi,
                     "actual_median": float(np.median(a[idx])), "ratio": e.value / mf if mf > 0 else math.nan})
    return pd.DataFrame(rows, columns=COLUMNS)


def overall(forecast: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray, seed: int = 0) -> dict:
    """Over every place with both: ``n``, ``forecast`` (mean), ``actual`` (mean, a bootstrap
    :class:`~app.common.uncertainty.Estimate`), ``ratio`` (mean actual / mean forecast) and ``rank``
    (Spearman correlation of forecast and actual: does a larger forecast go with a larger error?)."""
    f, a = np.asarray(forecast, float), np.asarray(actual, float)
    ok = np.isfinite(f) & np.isfinite(a)
    f, a = f[ok], a[ok]
    if not len(f):
        return {"n": 0, "forecast": math.nan, "actual": un.bootstrap([]), "ratio": math.nan, "rank": math.nan}
    e = un.bootstrap(a, np.mean, seed=seed)
    mf = float(f.mean())
    rank = math.nan
    if len(f) >= 3 and np.ptp(f) > 0 and np.ptp(a) > 0:
        from scipy.stats import spearmanr

        rank = float(spearmanr(f, a).statistic)
    return {"n": int(len(f)), "forecast": mf, "actual": e, "ratio": e.value / mf if mf > 0 else math.nan, "rank": rank}


def verdict(bins: pd.DataFrame, unit: str = "km") -> str:
    """One sentence: in how many bins the forecast lies inside the interval of the actual mean, and which way
    the others miss (for an error: "more wrong than it says"; for a score: "scores less than it expects")."""
    if bins.empty:
        return ""
    inside = (bins["forecast"] >= bins["actual_lo"]) & (bins["forecast"] <= bins["actual_hi"])
    under = bins["actual_lo"] > bins["forecast"]
    over = bins["actual_hi"] < bins["forecast"]
    k = len(bins)
    s = f"In {int(inside.sum())} of {k} bins the forecast lies inside the 95 % interval of the actual mean."
    if unit == "km":
        if under.any():
            s += f" In {int(under.sum())} the model is more wrong than it says"
            s += f" and in {int(over.sum())} less." if over.any() else "."
        elif over.any():
            s += f" In {int(over.sum())} the model is less wrong than it says."
    else:
        if over.any():
            s += f" In {int(over.sum())} the best guess scores less than the model expects"
            s += f" and in {int(under.sum())} more." if under.any() else "."
        elif under.any():
            s += f" In {int(under.sum())} it scores more than the model expects."
    return s
