"""Pure logic of the Predict page (no Streamlit): reading typed coordinates, naming test-set places,
before/after comparisons of the shortcut test and the out-of-distribution messages. The result
tables and map it shares with Explore are in ``app.common.results`` and ``app.common.result_map``.
Coordinates are WGS-84 degrees, distances km, scores GeoGuessr points (0..5000).

``pred`` arguments are ``model.predict.Prediction`` objects (duck-typed: ``top`` guesses with
``name``; ``lat, lon, country_code, country, country_probs``).
"""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

from app.common.formatting import fmt_km, place_label
from app.common.results import Truth
from model.geo import geoscore, haversine_km


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


def testset_label(i: int, row: Any, hidden: bool = False) -> str:
    """A test-set location for people: '#3: Croatia, Splitsko-Dalmatinska (4 views)', or with ``hidden``
    (the answer kept back) 'Test place #3 (4 views)'."""
    n = len(row["paths"])
    views = f"{n} view{'s' if n != 1 else ''}"
    if hidden:
        return f"Test place #{i + 1} ({views})"
    where = place_label(str(row.get("country", "") or ""), str(row.get("admin1", "") or ""))
    return f"#{i + 1}: {where or 'unknown country'} ({views})"


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
    elif abs(b - a) >= 0.05 or c["moved_km"] > 100:
        moved = f", guess moved {fmt_km(c['moved_km'])}" if c["moved_km"] > 100 else ""
        pts = round(abs(b - a) * 100)
        sure = f"{'less' if b < a else 'more'} sure by {pts} point{'s' * (pts != 1)}" if pts else "as sure"
        s = f"Same answer, {sure} ({same}{moved}): the hidden part played some part, not a large one."
    else:
        s = (f"The answer hardly changed ({same}, under 5 points): the model does not depend on the hidden part "
             "for this photo.")
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
        return ("info", f"{odd} looks unlike the training photos: further from them than {1 - a.quantile:.0%} of "
                        f"held-out street photos are (distance {max(a.scores):.2f}; those photos: {a.threshold:.2f} "
                        "or less). The views together still look like a street scene.")
    return None
