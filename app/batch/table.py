"""A predicted photo collection as a table, its filters, and the subset to download (no Streamlit).

Rows are :class:`model.export.collection.PhotoAnswer` fields (degrees, km, probability 0..1): one per
photo, failed ones included (``error`` says why; no answer fields). ``error_km`` is EXIF GPS to the best
guess E, so it exists only for photos with GPS.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from model.export.collection import CollectionResult

GPS_CHOICES = ("All photos", "With GPS", "Without GPS")
SHOWN = {"photo": "Photo", "country": "Predicted country", "country_prob": "P(country)", "error_km": "Error (km)",
         "expected_km": "Expected error (km)", "date": "Taken", "exif_lat": "GPS lat", "exif_lon": "GPS lon",
         "best_lat": "Guess lat", "best_lon": "Guess lon", "error": "Problem"}  # key columns first
DIGITS = {"error_km": 0, "expected_km": 0, "exif_lat": 5, "exif_lon": 5, "best_lat": 4, "best_lon": 4}


def answers_frame(res: CollectionResult) -> pd.DataFrame:
    """One row per photo (columns: the answer fields plus ``has_gps`` and ``ok``), in the result's order."""
    df = pd.DataFrame([a.to_dict() for a in res.answers])
    if df.empty:
        df = pd.DataFrame(columns=list(SHOWN) + ["pred_lat", "pred_lon", "country_code"])
    for c in ("pred_lat", "pred_lon", "best_lat", "best_lon", "country_prob", "expected_km", "exif_lat",
              "exif_lon", "error_km"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["has_gps"] = df["exif_lat"].notna() & df["exif_lon"].notna()
    df["ok"] = df["error"].fillna("") == ""
    return df


@dataclass(frozen=True)
class BatchFilter:
    """What to show: predicted ``countries`` (names; empty = all), ``gps`` (one of :data:`GPS_CHOICES`),
    ``error_range`` (km, inclusive; None = any, which keeps photos without GPS too)."""

    countries: tuple[str, ...] = ()
    gps: str = GPS_CHOICES[0]
    error_range: tuple[float, float] | None = None


def error_bounds(df: pd.DataFrame) -> tuple[float, float] | None:
    """(min, max) error in km over photos with GPS (rounded out to whole km), None when there are none."""
    e = df["error_km"].dropna()
    if e.empty:
        return None
    lo, hi = float(e.min()), float(e.max())
    return float(int(lo)), float(int(hi) + 1)


def apply_filter(df: pd.DataFrame, f: BatchFilter) -> pd.DataFrame:
    """The rows of ``df`` (:func:`answers_frame`) that pass ``f``. An ``error_range`` keeps only photos with
    GPS whose error lies in it, unless it spans all errors (:func:`error_bounds`), which filters nothing."""
    if f.gps not in GPS_CHOICES:
        raise ValueError(f"gps must be one of {GPS_CHOICES}, got {f.gps!r}")
    keep = pd.Series(True, index=df.index)
    if f.countries:
        keep &= df["country"].isin(f.countries)
    if f.gps == "With GPS":
        keep &= df["has_gps"]
    elif f.gps == "Without GPS":
        keep &= ~df["has_gps"]
    bounds = error_bounds(df)
    if f.error_range is not None and bounds is not None:
        lo, hi = f.error_range
        if lo > bounds[0] or hi < bounds[1]:
            keep &= df["error_km"].between(lo, hi)
    return df[keep]


def subset(res: CollectionResult, photos: pd.Series | list[str]) -> CollectionResult:
    """The result restricted to these photo names (the filtered rows), in the result's order: what the
    downloads hold, so that a file has what the page shows."""
    names = set(photos)
    return replace(res, answers=[a for a in res.answers if a.photo in names])


def display_table(df: pd.DataFrame) -> pd.DataFrame:
    """The columns a person reads, renamed (:data:`SHOWN`), key columns first; probabilities in %, km to
    the kilometre, GPS to 5 decimals (about 1 m)."""
    out = df[[c for c in SHOWN if c in df.columns]].copy()
    out["country_prob"] = (out["country_prob"] * 100).round(1)
    for c, n in DIGITS.items():
        out[c] = out[c].round(n)
    out = out.rename(columns=SHOWN | {"country_prob": "P(country) %"})
    return out


def headline(df: pd.DataFrame) -> dict[str, str]:
    """Figures for the page's metrics: photos, predicted, with GPS, median error (km) over those with GPS (n in
    its label, so that the value stays short enough to be read whole)."""
    e = df["error_km"].dropna()
    return {"Photos": f"{len(df):,}", "Predicted": f"{int(df['ok'].sum()):,}",
            "With GPS": f"{int(df['has_gps'].sum()):,}",
            f"Median error (n={len(e):,})": f"{e.median():,.0f} km" if len(e) else "n/a"}
