"""Every photo of a predicted collection on one map (no Streamlit), built on ``app.maps.builders``.

Each predicted photo is its best guess E (pin "E"); a photo with EXIF GPS adds its position (pin star)
and the great-circle line from it to E. Guesses are clustered (Leaflet.markercluster, vendored in
``app/static/markercluster/``) when there are at least ``cluster_from`` of them. Degrees and km.
"""
from __future__ import annotations

import folium
import pandas as pd
from folium.plugins import MarkerCluster

from app.common.formatting import fmt_km
from app.maps import builders as maps

CLUSTER_URL = f"{maps.STATIC_URL}/markercluster"
CLUSTER_FROM = 30
LEGEND = ("best", "truth")


class OfflineCluster(MarkerCluster):
    """``folium.plugins.MarkerCluster`` loading Leaflet.markercluster from the app's static files."""

    default_js = [("markerclusterjs", f"{CLUSTER_URL}/leaflet.markercluster.js")]
    default_css = [("markercluster_css", f"{CLUSTER_URL}/MarkerCluster.css"),
                   ("markercluster_default_css", f"{CLUSTER_URL}/MarkerCluster.Default.css")]


def photo_tooltip(r: pd.Series) -> str:
    """One line per photo: name, predicted country and its probability, error when GPS is known."""
    s = f"{r['photo']}: {r['country'] or '?'}"
    if pd.notna(r.get("country_prob")):
        s += f" {float(r['country_prob']):.0%}"
    if pd.notna(r.get("error_km")):
        s += f", {fmt_km(float(r['error_km']))} from its GPS position"
    elif pd.notna(r.get("expected_km")):
        s += f" (no GPS; expected error {fmt_km(float(r['expected_km']))})"
    return s


def collection_map(df: pd.DataFrame, *, cluster_from: int = CLUSTER_FROM, online_tiles: bool = True) -> folium.Map:
    """The map of the rows of ``df`` (``app.batch.table.answers_frame``, failed rows ignored): guesses
    (clustered when ``len >= cluster_from``), GPS positions and the lines between, framed on all of them."""
    m = maps.base_map(online_tiles=online_tiles)
    rows = df[df["ok"] & df["best_lat"].notna() & df["best_lon"].notna()]
    clustered = len(rows) >= cluster_from
    if clustered:
        m.options["max_zoom"] = 18  # Leaflet.markercluster needs the map's maxZoom (there is no base tile layer)
        guesses: folium.FeatureGroup | MarkerCluster = OfflineCluster(
            name=f"Best guesses ({len(rows):,} photos)", maxClusterRadius=40, showCoverageOnHover=False,
            spiderfyOnMaxZoom=True, disableClusteringAtZoom=9)
    else:
        guesses = folium.FeatureGroup(name=f"Best guesses ({len(rows):,} photos)")
    truth = folium.FeatureGroup(name="Photo GPS and errors")
    pts: list[tuple[float, float]] = []
    for _, r in rows.iterrows():
        tip = photo_tooltip(r)
        maps.add_marker(guesses, r["best_lat"], r["best_lon"], "best", tip, size=20)
        pts.append((r["best_lat"], r["best_lon"]))
        if r["has_gps"]:
            maps.add_great_circle(truth, r["exif_lat"], r["exif_lon"], r["best_lat"], r["best_lon"],
                                  color=maps.KIND_STYLES["truth"]["color"], tooltip=tip)
            maps.add_marker(truth, r["exif_lat"], r["exif_lon"], "truth", f"{r['photo']}: its GPS position", size=18)
            pts.append((r["exif_lat"], r["exif_lon"]))
    guesses.add_to(m)
    truth.add_to(m)
    if pts:
        maps.fit_to(m, pts, pad_deg=3.0, max_zoom=8)
    return maps.finish(m)
