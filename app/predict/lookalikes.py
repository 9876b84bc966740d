""""Why this answer": the look-alike training places that moved the answer (no Streamlit).

With a retrieval gallery (``model.net.retrieval``), the answer's mass in its likeliest cells is spread over
the training places whose embedding looks most like the photo's (``PlaceAnswer.look_alikes``); E, the
expected-score guess, is chosen under that mass. Each look-alike is named by its cell, weighed (its share of
the answer's mass, 0..1), measured (cosine similarity to the photo, km from E and from the truth) and, where
the training place's images are on this machine, shown: a gallery entry is matched to its training location
by coordinates (the gallery stores no ids; :func:`attach_paths`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.geo import haversine_km

MATCH_DEG = 1e-3  # a gallery place and a manifest location are the same when this close (degrees, both axes)


@dataclass
class LookAlike:
    """One look-alike training place: ``index`` in the gallery, ``weight`` (0..1 of the answer's mass),
    ``similarity`` (cosine, -1..1; NaN unknown), position (degrees), its cell's ``place``/``region``/``country``,
    ``km_from_e`` and, with a truth, ``km_to_truth``; ``paths`` its images found on this machine."""

    index: int
    weight: float
    similarity: float
    lat: float
    lon: float
    place: str
    region: str
    country: str
    km_from_e: float
    km_to_truth: float | None = None
    paths: list[str] = field(default_factory=list)


def look_alikes(answer: Any, gallery: Any, table: pd.DataFrame, best: tuple[float, float], k: int = 6,
                truth: tuple[float, float] | None = None) -> list[LookAlike]:
    """The ``k`` heaviest look-alikes of ``answer`` (a ``PlaceAnswer``) in ``gallery`` over the cell ``table``;
    ``best`` is E (lat, lon), ``truth`` the actual location if known. Empty without a gallery."""
    if answer is None or gallery is None:
        return []
    emb = getattr(answer, "embed", None)
    out = []
    for idx, w in answer.look_alikes(k):
        lat, lon = float(gallery.lat[idx]), float(gallery.lon[idx])
        c = int(gallery.cell[idx])
        row = table.iloc[c] if 0 <= c < len(table) else None
        sim = float(np.dot(np.asarray(emb, float), np.asarray(gallery.embed[idx], float)) /
                    max(np.linalg.norm(emb) * np.linalg.norm(gallery.embed[idx]), 1e-12)) if emb is not None else float("nan")
        out.append(LookAlike(int(idx), float(w), sim, lat, lon,
                             str(row["name"]) if row is not None else "", str(row.get("admin1", "")) if row is not None else "",
                             str(row["country"]) if row is not None else "",
                             float(haversine_km(lat, lon, best[0], best[1])),
                             float(haversine_km(lat, lon, truth[0], truth[1])) if truth is not None else None))
    return out


def training_places(df: pd.DataFrame) -> pd.DataFrame:
    """Training and validation locations of a manifest with coordinates: ``location_id, lat, lon, paths``
    (its views' paths, in view order), one row each (the places a gallery is built from)."""
    t = df[df["split"].isin(["train", "val"]) & df["lat"].notna() & df["lon"].notna()]
    if t.empty:
        return pd.DataFrame(columns=["location_id", "lat", "lon", "paths"])
    t = t.sort_values(["location_id", "view"] if "view" in t else ["location_id"])
    return t.groupby("location_id", sort=True).agg(lat=("lat", "first"), lon=("lon", "first"),
                                                   paths=("path", list)).reset_index()


def attach_paths(items: list[LookAlike], places: pd.DataFrame, max_views: int = 1) -> list[LookAlike]:
    """Fill each look-alike's ``paths`` with up to ``max_views`` image files of the training location at its
    coordinates (within :data:`MATCH_DEG`) that exist on this machine. Returns ``items``."""
    if places is None or places.empty:
        return items
    lat, lon = places["lat"].to_numpy(float), places["lon"].to_numpy(float)
    for it in items:
        d = np.maximum(np.abs(lat - it.lat), np.abs(lon - it.lon))
        j = int(np.argmin(d))
        if d[j] <= MATCH_DEG:
            it.paths = [p for p in places["paths"].iloc[j] if Path(p).is_file()][:max_views]
    return items


def map_points(items: list[LookAlike]) -> list[tuple[float, float, str]]:
    """(lat, lon, tooltip) of each look-alike, for the result map's look-alike layer."""
    return [(it.lat, it.lon, f"Look-alike training place: {it.place}, {it.country} ({it.weight:.0%} of the answer)")
            for it in items]
