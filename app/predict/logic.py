"""Pure logic of the Predict page (no Streamlit): result tables, the result map, before/after
comparisons. Coordinates are WGS-84 degrees, distances km, scores GeoGuessr points (0..5000).

``pred`` arguments are ``model.predict.Prediction`` objects (duck-typed: ``top`` guesses with
``name, country_code, country, admin1, lat, lon, prob``; ``lat, lon, best_lat, best_lon,
country_code, country, country_probs, cell_probs, expected_km``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

import folium
import numpy as np
import pandas as pd

from app.maps import builders as maps
from model.geo import geoscore, haversine_km


@dataclass(frozen=True)
class Truth:
    """A known actual location (degrees) and where we know it from (shown to the user)."""

    lat: float
    lon: float
    source: str  # e.g. "EXIF GPS of the photo", "test set", "Street View panorama"


def fmt_km(d: float) -> str:
    """A distance in km for people: '850 m', '12.3 km', '1,234 km'."""
    if d is None or not math.isfinite(d):
        return "?"
    if d < 1:
        return f"{d * 1000:.0f} m"
    if d < 100:
        return f"{d:.1f} km"
    return f"{d:,.0f} km"


_NUM = r"[-+]?\d+(?:\.\d+)?"


def parse_latlon(text: str) -> tuple[float, float]:
    """``"45.81, 15.97"`` (also with ; or a space, or a trailing N/S/E/W) -> (lat, lon) degrees.

    Raises ValueError with a message that says what was expected.
    """
    s = (text or "").strip()
    m = re.fullmatch(rf"\s*({_NUM})\s*°?\s*([NSns])?\s*[,; ]\s*({_NUM})\s*°?\s*([EWew])?\s*", s)
    if not m:
        raise ValueError(f"'{s[:60]}' is not 'lat, lon' in decimal degrees (for example 45.81, 15.97)")
    lat, lon = float(m.group(1)), float(m.group(3))
    if m.group(2) and m.group(2).upper() == "S":
        lat = -abs(lat)
    if m.group(4) and m.group(4).upper() == "W":
        lon = -abs(lon)
    check_latlon(lat, lon)
    return lat, lon


class OutOfRange(ValueError):
    """Numbers that read as coordinates but are not on Earth."""


def check_latlon(lat: float, lon: float) -> None:
    """Raise :class:`OutOfRange` (a ValueError) unless -90 <= lat <= 90 and -180 <= lon <= 180
    (degrees, finite); the message names only the number that is wrong."""
    bad = []
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        bad.append(f"latitude {lat:g} is not between -90 and 90")
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        bad.append(f"longitude {lon:g} is not between -180 and 180")
    if bad:
        raise OutOfRange(f"coordinates out of range: {' and '.join(bad)}")


def _words(text: str) -> set[str]:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return set(re.findall(r"[a-z0-9]+", plain))


def place_label(name: str, region: str = "", country: str = "") -> str:
    """'Place, Region, Country' without repeats: a part is left out when its words are all already
    said, or when it contains all the words of a part already said ('Iowa, Iowa' -> 'Iowa', 'Grad
    Zagreb, Zagreb' -> 'Grad Zagreb'); 'Split, Splitsko-Dalmatinska' keeps both."""
    parts: list[tuple[str, set[str]]] = []
    for p in (name, region, country):
        p = (p or "").strip()
        w = _words(p)
        if not w or p.lower() in ("nan", "none"):
            continue
        if any(w <= q or q <= w for _, q in parts):
            continue
        parts.append((p, w))
    return ", ".join(p for p, _ in parts)


def testset_label(i: int, row: Any) -> str:
    """A test-set location for people: '#3: Croatia, Splitsko-Dalmatinska (4 views)'."""
    n = len(row["paths"])
    where = place_label(str(row.get("country", "") or ""), str(row.get("admin1", "") or ""))
    return f"#{i + 1}: {where or 'unknown country'} ({n} view{'s' if n != 1 else ''})"


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


def top_cells(pred: Any, cells: pd.DataFrame, k: int = 300, min_prob: float = 1e-3) -> pd.DataFrame:
    """The ``k`` most probable cells with prob >= ``min_prob``: lat, lon, name, country, prob."""
    p = np.asarray(pred.cell_probs, dtype=float)
    idx = np.argsort(-p)[:k]
    idx = idx[p[idx] >= min_prob]
    t = cells.iloc[idx]
    return pd.DataFrame({"lat": t["lat"].to_numpy(float), "lon": t["lon"].to_numpy(float),
                         "name": t["name"].astype(str).to_numpy(), "country": t["country"].astype(str).to_numpy(),
                         "prob": p[idx]})


MAP_MIN_SPAN_DEG = 16.0  # the result map shows at least this many degrees across (a country and its neighbours)
MAP_MAX_ZOOM = 6


def prediction_map(pred: Any, truth: Truth | None, top_n: int, *, cells: pd.DataFrame | None = None,
                   country_layer: bool = True, online_tiles: bool = True) -> folium.Map:
    """The result map: probability layers (per-country shading; per-cell points if ``cells`` is the
    cell table), numbered top-N guesses, the model's guess (M), the expected-score guess (E, drawn up and right
    of its point on a stem so that it stays visible when it falls on M), the actual location and great-circle
    lines from the guesses to it. Framed on all of them with their surroundings: at least
    :data:`MAP_MIN_SPAN_DEG` degrees across, zoom at most :data:`MAP_MAX_ZOOM` (never a close-up filled by
    the predicted country's shading), with the context layers (admin-1 borders, place names) showing."""
    m = maps.base_map(online_tiles=online_tiles)
    if country_layer:
        maps.add_country_choropleth(m, {c: p for c, _n, p in pred.country_probs}, name="P(country)",
                                    min_value=0.002)
    if cells is not None:
        tc = top_cells(pred, cells)
        if len(tc):
            maps.add_point_layer(m, tc["lat"].tolist(), tc["lon"].tolist(), name="P(cell)", values=tc["prob"].tolist(),
                                 tooltips=[f"{n}, {c}: {p:.1%}" for n, c, p in zip(tc["name"], tc["country"], tc["prob"])],
                                 scale_radius=(3, 11), show=False)
    pts: list[tuple[float, float]] = []
    rows = guess_rows(pred, truth, top_n)
    fg = folium.FeatureGroup(name=f"Top-{len(rows)} guesses", show=True)
    for r in reversed(rows):
        tip = f"#{r['rank']} {r['place']}, {r['country']}: {r['prob']:.1%}"
        if truth is not None:
            tip += f"; {fmt_km(r['km'])} from the truth, {r['score']} points"
        maps.add_marker(fg, r["lat"], r["lon"], "candidate", tip, text=str(r["rank"]), size=20)
        pts.append((r["lat"], r["lon"]))
    fg.add_to(m)
    s = summary(pred, truth)
    tip_m = f"Model's guess: {s['place']}, {s['country']}"
    tip_b = ("Expected-score guess: the training place, among look-alikes in the likeliest cells, that maximises "
             "the expected GeoGuessr score" if getattr(pred, "refined", False)
             else "Expected-score guess (maximises the expected GeoGuessr score)")
    if truth is not None:
        tip_m += f"; {fmt_km(s['km'])}, {s['score']} points"
        tip_b += f"; {fmt_km(s['best_km'])}, {s['best_score']} points"
        maps.add_great_circle(m, s["best_lat"], s["best_lon"], truth.lat, truth.lon,
                              color=maps.KIND_STYLES["best"]["color"], tooltip=f"{fmt_km(s['best_km'])}")
        maps.add_great_circle(m, s["lat"], s["lon"], truth.lat, truth.lon,
                              color=maps.KIND_STYLES["model"]["color"], tooltip=f"{fmt_km(s['km'])}")
    maps.add_marker(m, s["best_lat"], s["best_lon"], "best", tip_b, callout=True)
    maps.add_marker(m, s["lat"], s["lon"], "model", tip_m)
    pts += [(s["lat"], s["lon"]), (s["best_lat"], s["best_lon"])]
    if truth is not None:
        maps.add_marker(m, truth.lat, truth.lon, "truth", f"Actual location ({truth.source})", size=26)
        pts.append((truth.lat, truth.lon))
    maps.fit_to(m, pts, pad_deg=2.0, min_span_deg=MAP_MIN_SPAN_DEG, max_zoom=MAP_MAX_ZOOM)
    return maps.finish(m)


def country_prob(pred: Any, code: str) -> float:
    """Probability (0..1) that ``pred`` gives the country ``code`` (0 when it is not listed)."""
    return next((float(p) for c, _n, p in pred.country_probs if c == code), 0.0)


def compare(before: Any, after: Any, truth: Truth | None) -> dict:
    """How a prediction moved when part of the photo was hidden.

    ``conf_before`` / ``conf_after``: the probability (0..1) of the SAME country, the one predicted
    before hiding (``country_before``), so the two numbers are comparable; ``country_after`` and
    ``top_after`` say what the top answer became and how sure (``country_changed`` when it differs).
    Also ``moved_km`` between the two predicted points and, with a truth, the distance (km) and
    score before/after."""
    code = before.country_code
    out = {"moved_km": float(haversine_km(before.lat, before.lon, after.lat, after.lon)),
           "code_before": code, "country_before": before.country, "country_after": after.country,
           "country_changed": code != after.country_code,
           "conf_before": country_prob(before, code), "conf_after": country_prob(after, code),
           "top_after": float(after.country_probs[0][2]) if len(after.country_probs) else 0.0,
           "place_before": before.top[0].name, "place_after": after.top[0].name}
    if truth is not None:
        for tag, p in (("before", before), ("after", after)):
            d = float(haversine_km(p.lat, p.lon, truth.lat, truth.lon))
            out[f"km_{tag}"], out[f"score_{tag}"] = d, int(round(geoscore(d)))
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


def views_key(blobs: Sequence[bytes], extra: str = "") -> str:
    """A short stable id of an input (the bytes of its views, plus ``extra``)."""
    import hashlib

    h = hashlib.sha1(extra.encode())
    for b in blobs:
        h.update(hashlib.sha1(b).digest())
    return h.hexdigest()[:16]


HIDE_CHOICES = {"Bottom band": "bottom", "Edges (game UI)": "edges", "Both": "both"}


def hidden_variant(images: Sequence[Any], what: str, default_crop: float) -> tuple[list[Any], float]:
    """Views with part hidden, and the bottom crop to predict them with (fraction 0..0.5).

    ``what`` is a key or value of :data:`HIDE_CHOICES`: the bottom band is hidden by a larger bottom
    crop (``model.explain.HIDE_BOTTOM``), the edges by painting a frame in the photo's mean colour.
    """
    from model.explain import HIDE_BOTTOM, hide_edges

    kind = HIDE_CHOICES.get(what, what)
    if kind not in ("bottom", "edges", "both"):
        raise ValueError(f"unknown part to hide: {what!r}")
    crop = max(default_crop, HIDE_BOTTOM) if kind in ("bottom", "both") else default_crop
    out = [hide_edges(im, crop) for im in images] if kind in ("edges", "both") else list(images)
    return out, crop


SHORTCUT_LIMITS = ("What this test can tell: how much this answer depends on the hidden part. What it cannot: "
                   "whether that part is a shortcut (capture car, watermark, game UI) or real evidence (road, "
                   "kerbs, signs), and the flat patch that replaces it is itself unlike the training photos, so "
                   "part of any change can come from the patch rather than from what it covers.")


def shortcut_verdict(c: dict, masked_unusual: bool | None = None) -> str:
    """One sentence on a :func:`compare` result. ``masked_unusual``: the out-of-distribution check
    of the hidden version (True: it does not look like a street photo to the model; None: unknown).
    When it is unusual, a change is not put down to lost evidence: the test cannot tell which."""
    a, b = c["conf_before"], c["conf_after"]
    same = f"{c['country_before']}: {a:.0%} → {b:.0%}"
    if masked_unusual:
        s = (f"The hidden version itself does not look like a street-level photo to the model, so this run "
             f"cannot say whether the change ({same}) comes from losing the hidden part or from the unusual "
             "patch.")
    elif c["country_changed"]:
        s = (f"Hiding it changed the answer to {c['country_after']} ({c['top_after']:.0%}); {same}: the hidden part "
             f"carried much of the evidence for {c['country_before']}.")
    elif b < a - 0.15:
        s = f"Same answer, but less sure of it ({same}): the hidden part supported it."
    elif b > a + 0.15:
        s = f"Same answer, and surer of it ({same}): the hidden part pulled elsewhere."
    elif c["moved_km"] > 500:
        s = f"Same country ({same}), but the guess moved {fmt_km(c['moved_km'])}: the hidden part mattered for the region."
    else:
        s = f"The answer barely changed ({same}): the model does not depend on the hidden part for this photo."
    if "score_after" in c:
        s += f" Score {c['score_before']:,} → {c['score_after']:,}."
    return s


def ood_words(a: Any) -> str:
    """'distance 0.93 from the training photos; 99% of held-out street photos: 0.84 or less'."""
    return (f"distance {a.score:.2f} from the training photos; {1 - a.quantile:.0%} of held-out street photos: "
            f"{a.threshold:.2f} or less")


def ood_message(a: Any, names: Sequence[str]) -> tuple[str, str] | None:
    """What to say about an out-of-distribution assessment (``model.ood.Assessment``) of an input with
    views ``names``: ``("warning", text)`` when the input as a whole does not look like a street-level
    photo, ``("info", text)`` when only some of several views do not, else None."""
    if a is None:
        return None
    if a.unusual:
        return ("warning", "**This does not look like a street-level photo** to the model: what it sees is further "
                f"from its training photos than {1 - a.quantile:.0%} of held-out street photos are ({ood_words(a)}). "
                "The answer below is what the model says anyway: a guess about a picture it was not made for, "
                "not a location.")
    if a.unusual_views and len(names) > 1:
        odd = ", ".join(f"'{names[i]}'" for i in a.unusual_views if i < len(names))
        return ("info", f"{odd} looks unlike the training photos (distance {max(a.scores):.2f} > {a.threshold:.2f}); "
                        "the views together still look like a street scene.")
    return None


def thumbnail(img: Any, max_side: int = 900) -> Any:
    """A copy of a PIL image no larger than ``max_side`` pixels (for display)."""
    t = img.copy()
    t.thumbnail((max_side, max_side))
    return t
