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

import numpy as np
import pandas as pd

from app.common.formatting import place_label
from model.geo import geoscore, haversine_km


@dataclass(frozen=True)
class Truth:
    """A known actual location (degrees) and where we know it from (shown to the user)."""

    lat: float
    lon: float
    source: str  # e.g. "EXIF GPS of the photo", "test set", "Street View panorama"


def m_guess(pred: Any) -> Any:
    """M's cell (``Prediction.m_guess``: the likeliest cell of the likeliest country, ``top[0]``)."""
    return getattr(pred, "m_guess", None) or pred.top[0]


def country_probs(pred: Any) -> dict[str, float]:
    """Probability (0..1) of each country the answer lists, by ISO code."""
    return {str(c): float(p) for c, _n, p in pred.country_probs}


def _ranker(pred: Any):
    """cell_id -> rank by probability over every cell (1 = likeliest) when the answer carries its cell
    probabilities, else the rank among the listed guesses."""
    probs = getattr(pred, "cell_probs", None)
    if probs is not None and len(probs):
        p = np.asarray(probs, dtype=float)
        return lambda g: int((p > p[int(g.cell_id)]).sum()) + 1
    listed = sorted(float(g.prob) for g in pred.top)[::-1]
    return lambda g: 1 + sum(q > float(g.prob) for q in listed)


def guess_rows(pred: Any, truth: Truth | None, top_n: int) -> list[dict]:
    """The ``top_n`` likeliest guesses, likeliest first, as dicts, with M's row added last when M is not
    among them: ``rank`` (by probability over all cells, 1 = likeliest), place, region, country, code,
    ``country_prob`` (that country's probability, 0..1), prob, lat, lon, ``is_m`` (the model's guess M),
    and with a truth ``km`` (distance to it) and ``score`` (GeoGuessr world-map points)."""
    m = m_guess(pred)
    rank, cp = _ranker(pred), country_probs(pred)
    rows = []
    for g in _listed(pred, top_n):
        r = {"rank": rank(g), "place": g.name, "region": g.admin1, "country": g.country, "code": g.country_code,
             "country_prob": cp.get(str(g.country_code), 0.0), "prob": float(g.prob), "lat": float(g.lat),
             "lon": float(g.lon), "is_m": g is m}
        if truth is not None:
            d = float(haversine_km(g.lat, g.lon, truth.lat, truth.lon))
            r["km"], r["score"] = d, int(round(geoscore(d)))
        rows.append(r)
    return rows


def guess_table(rows: list[dict]) -> pd.DataFrame:
    """Display table of :func:`guess_rows`, the numbers first so that a phone shows them: '#' (the
    probability rank, 'M' marks the model's guess), probability in %, with a truth the distance (km) and
    score, then 'Place' (place, region when it adds something) and 'Country' (with its probability)."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    is_m = df["is_m"] if "is_m" in df else pd.Series(False, index=df.index)
    out = pd.DataFrame({"#": [f"{r} · M" if m else str(r) for r, m in zip(df["rank"], is_m)],
                        "Probability": (df["prob"] * 100).round(1)})
    if "km" in df:
        out["Distance (km)"] = df["km"].round(0).astype(int)
        out["Score"] = df["score"]
    out["Place"] = [place_label(p, r) for p, r in zip(df["place"], df["region"])]
    cprob = df["country_prob"] if "country_prob" in df else pd.Series(float("nan"), index=df.index)
    out["Country"] = [str(c) if pd.isna(q) else f"{c} ({q:.0%})" for c, q in zip(df["country"], cprob)]
    return out


def m_note(pred: Any) -> str | None:
    """Why M is not the likeliest cell, when it is not (else None): M is the likeliest cell of the likeliest
    country, and the likeliest cell lies in a country that is less likely in all."""
    m = m_guess(pred)
    rank = _ranker(pred)
    if rank(m) == 1:
        return None
    first = max(pred.top, key=lambda g: float(g.prob))
    cp = country_probs(pred)
    return (f"M, the model's guess, is #{rank(m)} ({float(m.prob):.1%}): the likeliest place in the likeliest "
            f"country, {pred.country} ({cp.get(str(pred.country_code), 0.0):.0%} over all its cells). The single "
            f"likeliest place, #1 {place_label(first.name, first.admin1, first.country)} ({float(first.prob):.1%}), "
            f"lies in {first.country}, {cp.get(str(first.country_code), 0.0):.0%} in all.")


def summary(pred: Any, truth: Truth | None) -> dict:
    """Headline numbers: country, region, confidence (top cell and top country, 0..1), expected
    error (km) and, with a truth, distance (km) and score of the predicted and expected-score guesses."""
    top = m_guess(pred)
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
    ``("country", code)``: the predicted cell (M's), the predicted country, then the other top-N guesses
    by probability, named by their rank (as in the table and on the map)."""
    m = m_guess(pred)
    opts = [(f"Predicted cell (M): {m.name}, {m.country}", ("cell", int(m.cell_id))),
            (f"Predicted country: {pred.country}", ("country", pred.country_code))]
    for r, g in zip(guess_rows(pred, None, top_n), _listed(pred, top_n)):
        if not r["is_m"]:
            opts.append((f"Guess #{r['rank']}: {g.name}, {g.country} ({g.prob:.1%})", ("cell", int(g.cell_id))))
    return opts


def _listed(pred: Any, top_n: int) -> list[Any]:
    """The guesses of :func:`guess_rows` in its order (the Guess objects): the ``top_n`` likeliest listed ones
    (a stable sort: M first among equals), then M if it is not among them."""
    m = m_guess(pred)
    guesses = sorted(pred.top, key=lambda g: -float(g.prob))[: max(1, top_n)]
    return guesses if any(g is m for g in guesses) else guesses + [m]
