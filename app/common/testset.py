"""The held-out test places Predict offers (no Streamlit): those with coordinates and image files here.

``app.common.heldout`` counts them beside every page's picker; ``app.common.resources`` caches the table.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def test_locations(df: pd.DataFrame) -> pd.DataFrame:
    """Test-split locations with coordinates whose image files exist: one row per location with
    ``location_id, group_id, lat, lon, country, admin1, source, paths`` (list of its views' absolute paths)."""
    t = df[(df["split"] == "test") & df["lat"].notna() & df["lon"].notna()]
    t = t[[Path(p).is_file() for p in t["path"]]]
    if t.empty:
        return pd.DataFrame(columns=["location_id", "group_id", "lat", "lon", "country", "admin1", "source", "paths"])
    t = t.sort_values(["location_id", "view"])
    g = t.groupby("location_id", sort=True)
    out = g.agg(group_id=("group_id", "first"), lat=("lat", "first"), lon=("lon", "first"), country=("country", "first"),
                admin1=("admin1", "first"), source=("source", "first"), paths=("path", list)).reset_index()
    return out
