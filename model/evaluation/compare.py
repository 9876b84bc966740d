"""Two evaluations of the same places compared with paired bootstrap intervals (no Streamlit, no torch).

Two evaluations (``predictions.csv`` of ``python -m model.evaluate``, e.g. the shipped one and one of another
checkpoint or predictor) are compared only on the places **both** hold with the same truth: a place is
matched by ``location_id`` and kept when its country and coordinates agree in both files (a place whose
truth differs is not the same place and is counted apart). On those places each headline, country accuracy,
median error (km) and mean GeoGuessr score, is given for A and for B with the difference B - A and a
**paired** percentile bootstrap interval: the places are resampled once per replicate and both evaluations
are read on the same resample, so the place-to-place spread that both share cancels out. A difference is
called one only when its interval excludes zero. The same is done per country.

Units: distances in km, scores in GeoGuessr points (0..5000, 5000·exp(-d/1492.7), unrounded), accuracies
in 0..1 (the tables give points as 100 × the difference of two shares).

CLI::

    python -m model.evaluation.compare RUN_A RUN_B   # folders (or predictions.csv files) of model.evaluate
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

RESAMPLES = 2000
LEVEL = 0.95
SMALL_N = 30   # below this a comparison is labelled indicative (as app.common.uncertainty does)
SAME_KM = 0.1  # coordinates of one place in both files agree to this distance (files keep 6 decimals)
COLUMNS = ("location_id", "source", "true_country", "true_lat", "true_lon", "correct", "distance_km", "score")


@dataclass(frozen=True)
class Diff:
    """One headline of A and B on the same places: their values, B - A with its paired bootstrap interval
    (``lo``/``hi``, NaN when it cannot be given) and ``n``, the places it is over."""

    a: float
    b: float
    diff: float
    lo: float
    hi: float
    n: int

    def verdict(self, lower_is_better: bool = False) -> str:
        """"B better" / "A better" when the interval excludes zero (for an error, ``lower_is_better``),
        else "no clear difference"."""
        up = math.isfinite(self.lo) and self.lo > 0
        down = math.isfinite(self.hi) and self.hi < 0
        if not (up or down):
            return "no clear difference"
        return "B better" if up != lower_is_better else "A better"


@dataclass(frozen=True)
class Paired:
    """The places both evaluations hold with the same truth (``frame``: one row per place, columns
    ``location_id, source, true_country, true_lat, true_lon`` and ``correct/distance_km/score`` with the
    suffixes ``_a`` and ``_b``) and how many were left out: only in A, only in B, truth differs."""

    frame: pd.DataFrame
    only_a: int
    only_b: int
    truth_differs: int

    @property
    def n(self) -> int:
        """Places compared."""
        return int(len(self.frame))


def location_rows(pred: pd.DataFrame) -> pd.DataFrame:
    """One row per place from a ``predictions.csv`` table (the fused ``loc_*`` answer; an old file without
    them: the per-image columns of its first view), columns :data:`COLUMNS`; ``correct`` is the country
    right (False where the truth is unknown), distances and scores NaN without coordinates."""
    first = pred.drop_duplicates("location_id").reset_index(drop=True)

    def col(*names: str, default: object = np.nan) -> pd.Series:
        for c in names:
            if c in first:
                return first[c]
        return pd.Series(default, index=first.index)

    truth = col("true_country", default="").fillna("").astype(str)
    guess = col("loc_pred_country", "pred_country", default="").fillna("").astype(str)
    out = pd.DataFrame({"location_id": first["location_id"].astype(str), "source": col("source", default=""),
                        "true_country": truth, "true_lat": pd.to_numeric(col("true_lat"), errors="coerce"),
                        "true_lon": pd.to_numeric(col("true_lon"), errors="coerce"),
                        "correct": (truth != "") & (guess == truth),
                        "distance_km": pd.to_numeric(col("loc_distance_km", "distance_km"), errors="coerce"),
                        "score": pd.to_numeric(col("loc_score", "score"), errors="coerce")})
    out["source"] = out["source"].fillna("").astype(str)
    return out[list(COLUMNS)]


def read_locations(path: str | Path) -> pd.DataFrame:
    """:func:`location_rows` of an evaluation folder (``predictions.csv`` or ``predictions.csv.gz``) or file."""
    p = Path(path)
    if p.is_dir():
        p = next((p / n for n in ("predictions.csv", "predictions.csv.gz") if (p / n).is_file()), p / "predictions.csv")
    pred = pd.read_csv(p, dtype={"location_id": str, "true_country": str, "loc_pred_country": str,
                                 "pred_country": str, "source": str}, keep_default_na=False,
                       na_values={c: [""] for c in ("true_lat", "true_lon", "loc_distance_km", "distance_km",
                                                    "loc_score", "score")})
    return location_rows(pred)


def pair(a: pd.DataFrame, b: pd.DataFrame) -> Paired:
    """The places of :func:`location_rows` tables ``a`` and ``b`` that both hold with the same truth
    (country equal; coordinates both unknown, or within :data:`SAME_KM` of each other)."""
    from model.geo import haversine_km

    keys = ["location_id", "source", "true_country", "true_lat", "true_lon"]
    m = a.merge(b, on="location_id", suffixes=("_a", "_b"), how="inner")
    only_a = int((~a["location_id"].isin(b["location_id"])).sum())
    only_b = int((~b["location_id"].isin(a["location_id"])).sum())
    la, lb = m["true_lat_a"].to_numpy(float), m["true_lat_b"].to_numpy(float)
    both = ~np.isnan(la) & ~np.isnan(lb)
    d = np.full(len(m), np.inf)
    if both.any():
        d[both] = np.asarray(haversine_km(la[both], m["true_lon_a"].to_numpy(float)[both], lb[both],
                                          m["true_lon_b"].to_numpy(float)[both]), float)
    same_xy = (np.isnan(la) & np.isnan(lb)) | (d <= SAME_KM)
    same = same_xy & (m["true_country_a"].to_numpy() == m["true_country_b"].to_numpy())
    m = m[same]
    frame = pd.DataFrame({k: m[f"{k}_a"] if k != "location_id" else m[k] for k in keys})
    for c in ("correct", "distance_km", "score"):
        frame[f"{c}_a"], frame[f"{c}_b"] = m[f"{c}_a"].to_numpy(), m[f"{c}_b"].to_numpy()
    return Paired(frame.reset_index(drop=True), only_a, only_b, int((~same).sum()))


def _stat(x: np.ndarray, how: str) -> np.ndarray | float:
    return np.median(x, axis=-1) if how == "median" else np.mean(x, axis=-1)


def paired_bootstrap(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, how: str = "mean",
                     resamples: int = RESAMPLES, level: float = LEVEL, seed: int = 0) -> Diff:
    """``how`` ("mean" or "median") of ``a`` and of ``b`` (the same places, in the same order; pairs with
    a NaN left out) and B - A with a paired percentile bootstrap interval (the places resampled once per
    replicate, both read on it; fixed ``seed`` so a page does not flicker). No interval below 2 pairs."""
    if how not in ("mean", "median"):
        raise ValueError("how must be 'mean' or 'median'")
    x, y = np.asarray(a, float), np.asarray(b, float)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.shape} vs {y.shape}")
    ok = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[ok], y[ok]
    n = len(x)
    if n == 0:
        return Diff(math.nan, math.nan, math.nan, math.nan, math.nan, 0)
    va, vb = float(_stat(x, how)), float(_stat(y, how))
    if n < 2:
        return Diff(va, vb, vb - va, math.nan, math.nan, n)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    d = np.asarray(_stat(y[idx], how) - _stat(x[idx], how), float)
    alpha = (1 - level) / 2
    return Diff(va, vb, vb - va, float(np.quantile(d, alpha)), float(np.quantile(d, 1 - alpha)), n)


HEADLINES: tuple[tuple[str, str, str, str], ...] = (  # (label, column, statistic, unit)
    ("Country accuracy", "correct", "mean", "%"),
    ("Median error", "distance_km", "median", "km"),
    ("Mean GeoGuessr score", "score", "mean", "pts"),
)


def _diffs(f: pd.DataFrame, seed: int) -> dict[str, Diff]:
    lab = f[f["true_country"].astype(str) != ""]
    out = {}
    for label, col, how, _ in HEADLINES:
        g = lab if col == "correct" else f
        a, b = g[f"{col}_a"].to_numpy(float), g[f"{col}_b"].to_numpy(float)
        out[label] = paired_bootstrap(a, b, how, seed=seed)
    return out


def headline(p: Paired, seed: int = 0) -> pd.DataFrame:
    """One row per headline (:data:`HEADLINES`): metric, unit, a, b, diff (B - A), lo, hi (its 95 % paired
    interval), n (places: with a known country for the accuracy, with coordinates for the others) and
    verdict ("B better", "A better", "no clear difference"; a lower error is the better one)."""
    rows = [{"metric": k, "unit": u, "a": v.a, "b": v.b, "diff": v.diff, "lo": v.lo, "hi": v.hi, "n": v.n,
             "verdict": v.verdict(lower_is_better=u == "km")}
            for (k, _, _, u), v in zip(HEADLINES, _diffs(p.frame, seed).values())]
    return pd.DataFrame(rows, columns=["metric", "unit", "a", "b", "diff", "lo", "hi", "n", "verdict"])


def per_country(p: Paired, seed: int = 0, min_n: int = 1) -> pd.DataFrame:
    """Per true country (places with a known country, at least ``min_n``): country, n, and for each headline
    ``{key}_a``, ``{key}_b``, ``{key}_diff``, ``{key}_lo``, ``{key}_hi`` (key ``acc``, ``median_km``,
    ``score``; the distances over the country's places with coordinates, ``n_coords``), ``indicative``
    (n < :data:`SMALL_N`). Sorted by n (desc), then code."""
    f = p.frame[p.frame["true_country"].astype(str) != ""]
    rows = []
    for code, g in f.groupby("true_country", sort=True):
        if len(g) < min_n:
            continue
        r: dict = {"country": str(code), "n": int(len(g)), "n_coords": int(g["distance_km_a"].notna().sum())}
        diffs = _diffs(g, seed)
        for key, d in zip(("acc", "median_km", "score"), diffs.values()):
            r.update({f"{key}_a": d.a, f"{key}_b": d.b, f"{key}_diff": d.diff, f"{key}_lo": d.lo, f"{key}_hi": d.hi})
        r["acc_verdict"] = diffs["Country accuracy"].verdict()
        r["indicative"] = r["n"] < SMALL_N
        rows.append(r)
    cols = ["country", "n", "n_coords"] + [f"{k}_{s}" for k in ("acc", "median_km", "score")
                                           for s in ("a", "b", "diff", "lo", "hi")] + ["acc_verdict", "indicative"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["n", "country"], ascending=[False, True]).reset_index(drop=True)


def fmt_value(v: float, unit: str) -> str:
    """'46.9%', '1,432 km', '2,136' ('–' for NaN)."""
    if v is None or not math.isfinite(v):
        return "–"
    return {"%": f"{100 * v:.1f}%", "km": f"{v:,.0f} km"}.get(unit, f"{v:,.0f}")


def fmt_diff(d: float, lo: float, hi: float, unit: str, compact: bool = False) -> str:
    """'+2.1 pts (95% CI −1.7 to +5.8)', '−120 km (95% CI −260 to +10)'; ``compact`` (a table whose header
    names the unit and the interval): '+2.1 (−1.7 to +5.8)'. No interval part when unknown."""
    if d is None or not math.isfinite(d):
        return "–"
    f: Callable[[float], str] = (lambda v: f"{100 * v:+.1f}") if unit == "%" else (lambda v: f"{v:+,.0f}")
    tail = "" if compact else {"%": " pts", "km": " km"}.get(unit, "")
    ok = math.isfinite(lo) and math.isfinite(hi)
    ci = (f" ({f(lo)} to {f(hi)})" if compact else f" (95% CI {f(lo)} to {f(hi)})") if ok else ""
    return (f(d) + tail + ci).replace("-", "−")


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(prog="python -m model.evaluation.compare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="evaluation folder (or predictions.csv) A")
    ap.add_argument("b", help="evaluation folder (or predictions.csv) B")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    p = pair(read_locations(args.a), read_locations(args.b))
    print(f"{p.n} places in both (only in A: {p.only_a}, only in B: {p.only_b}, truth differs: {p.truth_differs})")
    t = headline(p, args.seed)
    for r in t.itertuples():
        print(f"{r.metric:22s} A {fmt_value(r.a, r.unit):>9s}  B {fmt_value(r.b, r.unit):>9s}  "
              f"B−A {fmt_diff(r.diff, r.lo, r.hi, r.unit)}  n={r.n}  {r.verdict}")
    return t


if __name__ == "__main__":
    main()
