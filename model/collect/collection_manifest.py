"""The manifest of a Street View collection, rebuilt from its journal: one row per saved image.

Coordinates are the panorama's own (degrees), labels (country, admin1) come from offline reverse
geocoding, views of one panorama share a ``location_id``, panoramas closer than 1 km share a
``group_id``, and ``split`` is the recorded grouped, country-stratified split (empty if none).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.data.manifest import COLUMNS, write_manifest

from .groups import group_ids, grouped_split, location_id
from .journal import JournalState
from .settings import CollectConfig


def build_manifest(st: JournalState, cfg: CollectConfig, out: Path) -> Path:
    """Write ``out/manifest.csv`` for journal state ``st`` and return its path."""
    from model.data.revgeo import reverse_geocode

    rows = []
    for pano, rec in st.panos.items():
        loc = location_id(pano)
        for view, heading in enumerate(cfg.headings):
            rel = st.images.get((pano, view))
            if rel:
                rows.append({"image": rel, "location_id": loc, "view": view, "heading": _num(heading),
                             "lat": rec.lat, "lon": rec.lon, "pano_id": pano, "date": rec.date,
                             "pitch": _num(cfg.pitch), "fov": _num(cfg.fov), "copyright": rec.copyright})
    df = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["image"])
    df["source"] = cfg.dataset_name or f"gsv_{Path(out).resolve().name}"
    if len(df):
        df = df.sort_values(["location_id", "view"]).reset_index(drop=True)
        locs = df.drop_duplicates("location_id")
        labels = pd.DataFrame(reverse_geocode(locs["lat"].to_numpy(), locs["lon"].to_numpy()),
                              index=locs["location_id"])
        for c in ("country_code", "country", "admin1"):
            df[c] = df["location_id"].map(labels[c])
        gids = dict(zip(locs["location_id"], group_ids(list(locs["location_id"]), locs["lat"], locs["lon"])))
        df["group_id"] = df["location_id"].map(gids)
        df["split"] = grouped_split(df, cfg.split, seed=cfg.seed) if cfg.split else ""
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
    return write_manifest(df, Path(out) / "manifest.csv")


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else float(v)
