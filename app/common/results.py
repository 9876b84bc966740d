"""A prediction as the pages tabulate it (no Streamlit): the actual place, the top-N guesses, the
headline numbers and the Grad-CAM targets. Predict and Explore's detail panel show the same tables.

``pred`` arguments are ``model.predict.Prediction`` objects (duck-typed: ``top`` guesses with
``name, country_code, country, admin1, lat, lon, prob, cell_id``; ``lat, lon, best_lat, best_lon,
country_code, country, country_probs, expected_km``). Coordinates are WGS-84 degrees, distances km,
scores GeoGuessr world-map points (0..5000), probabilities 0..1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from app.common.formatting import place_label
from model.geo import geoscore, haversine_km


@dataclass(frozen=True)
class Truth:
    """A known actual location (degrees) and where we know it from (shown to the user)."""

    lat: float
    lon: float
    source: str  # e.g. "EXIF GPS of the photo", "test set", "Street View panorama"


def guess_rows(pred: Any, truth: Truth | None, top_n: int) -> list[dict]:
    """The top-N guesses as dicts: rank, place, region, country, code, prob, lat, lon, and with a
    truth also ``km`` (distance to it) and ``score`` (GeoGuessr world-map points)."""
    rows = []
    for i, g in enumerate(list(pred.top)[: max(1, top_n)]):
        r = {"rank": i + 1, "place": g.name, "region": g.admin1, "country": g.country,
             "code": g.country_code, "prob": float(g.prob), "lat": float(g.lat), "lon": float(g.lon)}
        if truth is not None:
            d = float(haversine_km(g.lat, g.lon, truth.lat, truth.lon))
            r["km"], r["score"] = d, int(round(geoscore(d)))
        rows.append(r)
    return rows


def guess_table(rows: list[dict]) -> pd.DataFrame:
    """Display table of :func:`guess_rows`: rank, one 'Place' column (place, region when it adds
    something, country), probability in %, and with a truth the distance (km) and score. Narrow
    enough for the side panel: nothing important hides behind a horizontal scroll."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    out = pd.DataFrame({"#": df["rank"],
                        "Place": [place_label(p, r, c) for p, r, c in zip(df["place"], df["region"], df["country"])],
                        "Probability": (df["prob"] * 100).round(1)})
    if "km" in df:
        out["Distance (km)"] = df["km"].round(0).astype(int)
        out["Score"] = df["score"]
    return out


def summary(pred: Any, truth: Truth | None) -> dict:
    """Headline numbers: country, region, confidence (top cell and top country, 0..1), expected
    error (km) and, with a truth, distance (km) and score of the predicted and expected-score guesses."""
    top = pred.top[0]
    cprob = float(pred.country_probs[0][2]) if len(pred.country_probs) else float(top.prob)
    out = {"country": pred.country, "country_code": pred.country_code, "region": top.admin1,
           "place": top.name, "cell_prob": float(top.prob), "country_prob": cprob,
           "expected_km": float(pred.expected_km), "lat": float(pred.lat), "lon": float(pred.lon),
           "best_lat": float(pred.best_lat), "best_lon": float(pred.best_lon)}
    if truth is not None:
        d = float(haversine_km(pred.lat, pred.lon, truth.lat, truth.lon))
        db = float(haversine_km(pred.best_lat, pred.best_lon, truth.lat, truth.lon))
        out.update(km=d, score=int(round(geoscore(d))), best_km=db, best_score=int(round(geoscore(db))))
    return out


def target_options(pred: Any, top_n: int) -> list[tuple[str, tuple[str, Any]]]:
    """Grad-CAM targets offered to the user: (label, target) with target ``("cell", id)`` or
    ``("country", code)``: the predicted cell, the predicted country, then each top-N guess."""
    top = list(pred.top)
    opts = [(f"Predicted cell: {top[0].name}, {top[0].country}", ("cell", int(top[0].cell_id))),
            (f"Predicted country: {pred.country}", ("country", pred.country_code))]
    for i, g in enumerate(top[1:max(1, top_n)], start=2):
        opts.append((f"Guess #{i}: {g.name}, {g.country} ({g.prob:.1%})", ("cell", int(g.cell_id))))
    return opts
