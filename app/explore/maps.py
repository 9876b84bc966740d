"""Maps of the Explore page (no Streamlit), built on ``app.maps.builders`` (offline Leaflet).

- :func:`errors_map`: every test location as a dot coloured by its error bucket, clustered where
  dense (Leaflet.markercluster vendored in ``app/static/markercluster/``; a cluster is a ring whose
  colours give the share of each error bucket among its locations), and for the selected location
  the actual place, the model's guess and the great-circle line between them.
- :func:`accuracy_map`: per-country accuracy as a choropleth (countries with a test location).

Coordinates in degrees, distances in km.
"""
from __future__ import annotations

import html
import json

import folium
import numpy as np
import pandas as pd
from folium.plugins import MarkerCluster

from app.common.formatting import fmt_km
from app.maps import builders as maps
from app.explore.stats import BUCKET_COLORS, BUCKET_LABELS, UNKNOWN_COLOR, bucket_color, source_label
from model.geo import haversine_km
from model.data.revgeo import country_name

CLUSTER_URL = f"{maps.STATIC_URL}/markercluster"

_ICON_JS = """function(cluster) {
  var ms = cluster.getAllChildMarkers(), n = ms.length, c = {}, order = %s, acc = 0, stops = [];
  ms.forEach(function(m) { var k = m.options.fillColor || '%s'; c[k] = (c[k] || 0) + 1; });
  order.forEach(function(k) { if (c[k]) { stops.push(k + ' ' + (acc / n * 360) + 'deg ' + ((acc + c[k]) / n * 360)
    + 'deg'); acc += c[k]; } });
  var s = n < 10 ? 30 : (n < 100 ? 38 : 46);
  return L.divIcon({html: '<div class="geo-cluster-ring" style="width:' + s + 'px;height:' + s + 'px;'
    + 'background:conic-gradient(' + stops.join(',') + ')"><span>' + n + '</span></div>',
    className: 'geo-cluster', iconSize: L.point(s, s)});
}"""
_CLUSTER_CSS = ("<style>.geo-cluster-ring{border-radius:50%;display:flex;align-items:center;justify-content:center;"
                "border:2px solid #fff;box-shadow:0 0 3px rgba(0,0,0,.6);box-sizing:border-box}"
                ".geo-cluster-ring span{background:rgba(255,255,255,.9);border-radius:9px;padding:1px 5px;"
                "font:bold 11px/1.2 sans-serif;color:#222}</style>")


class OfflineMarkerCluster(MarkerCluster):
    """``folium.plugins.MarkerCluster`` loading Leaflet.markercluster from the app's static files."""

    default_js = [("markerclusterjs", f"{CLUSTER_URL}/leaflet.markercluster.js")]
    default_css = [("markercluster_css", f"{CLUSTER_URL}/MarkerCluster.css"),
                   ("markercluster_default_css", f"{CLUSTER_URL}/MarkerCluster.Default.css")]


def location_tooltip(r: pd.Series) -> str:
    """One line per location: truth -> guess, error, score, confidence."""
    t = country_name(r["true_country"]) or "?"
    p = country_name(r["pred_country"]) or "?"
    s = f"{t} → {p}: {fmt_km(float(r['distance_km']))}"
    if not pd.isna(r.get("score")):
        s += f", {float(r['score']):,.0f} points"
    return s + f" (confidence {float(r['confidence']):.0%}; {source_label(r['source'])})"


def errors_map(locs: pd.DataFrame, selected: pd.Series | None = None, *, cluster: bool = True,
               online_tiles: bool = True) -> folium.Map:
    """The test set on a map: a dot per located row of ``locs`` coloured by error bucket (clustered if
    ``cluster``); the ``selected`` row (if any) adds the actual place, the guess and the line."""
    m = maps.base_map(online_tiles=online_tiles)
    m.options["max_zoom"] = 18  # Leaflet.markercluster needs the map's maxZoom (there is no base tile layer)
    m.get_root().header.add_child(folium.Element(_CLUSTER_CSS))
    located = locs[locs["true_lat"].notna() & locs["true_lon"].notna()]
    if cluster:
        fg: folium.map.FeatureGroup | MarkerCluster = OfflineMarkerCluster(
            name="Test locations (by error)", maxClusterRadius=35, showCoverageOnHover=False,
            spiderfyOnMaxZoom=True, disableClusteringAtZoom=7,
            icon_create_function=_ICON_JS % (json.dumps(list(BUCKET_COLORS) + [UNKNOWN_COLOR]), UNKNOWN_COLOR))
    else:
        fg = folium.FeatureGroup(name="Test locations (by error)")
    for _, r in located.iterrows():
        maps.add_circle(fg, r["true_lat"], r["true_lon"], radius=6, color=bucket_color(int(r["bucket"])),
                        fill_opacity=0.9, tooltip=location_tooltip(r), weight=0.8)
    fg.add_to(m)
    pts = list(zip(located["true_lat"], located["true_lon"]))
    if selected is not None and not pd.isna(selected["true_lat"]):
        sel = folium.FeatureGroup(name="Selected location")
        tip = fmt_km(float(selected["distance_km"]))
        maps.add_great_circle(sel, selected["pred_lat"], selected["pred_lon"], selected["true_lat"],
                              selected["true_lon"], color=maps.KIND_STYLES["model"]["color"], tooltip=tip)
        maps.add_marker(sel, selected["pred_lat"], selected["pred_lon"], "model",
                        f"Model's guess: {country_name(selected['pred_country'])}, {tip} away")
        maps.add_marker(sel, selected["true_lat"], selected["true_lon"], "truth",
                        f"Actual location: {country_name(selected['true_country'])}", size=26)
        sel.add_to(m)
        pts = [(selected["true_lat"], selected["true_lon"]), (selected["pred_lat"], selected["pred_lon"])]
        maps.fit_to(m, pts, pad_deg=3.0, max_zoom=6)
    elif pts:
        maps.fit_to(m, pts, pad_deg=5.0, max_zoom=5)
    return maps.finish(m)


ACC_LOW, ACC_HIGH = "#d73027", "#1a9850"  # accuracy 0 % (red, bad) ... 100 % (green, good), map and table alike


def accuracy_color(v: float) -> str:
    """Colour of an accuracy in 0..1 on the Explore page (the country map and its table): red = 0 %, green = 100 %."""
    return maps.mix_color(v, ACC_LOW, ACC_HIGH)


def accuracy_shading(per_country: pd.DataFrame) -> dict[str, dict]:
    """{ISO2: {"fill", "value", "tip"}} of :func:`accuracy_map`: the colour of each country's accuracy and a
    tooltip with the page's own name of the country (``country_name``: "Türkiye", as in the table beside the
    map, not the map file's "Turkey"), its accuracy and n."""
    from app.maps.layers import country_names

    drawn = country_names()
    out = {}
    for r in per_country.itertuples():
        code = str(r.country).upper()
        if code in drawn and r.accuracy == r.accuracy:
            name = country_name(code) or drawn[code]
            out[code] = {"fill": accuracy_color(float(r.accuracy)), "value": f"{float(r.accuracy):.0%}",
                         "tip": f"{html.escape(name)}: country accuracy {float(r.accuracy):.0%} (n={int(r.n)})"}
    return out


def accuracy_map(per_country: pd.DataFrame, *, online_tiles: bool = True) -> folium.Map:
    """Choropleth of per-country accuracy (red 0 % ... green 100 %, :func:`accuracy_color`) from
    ``app.explore.stats.per_country`` (:func:`accuracy_shading`)."""
    from app.maps.layers import countries_layer

    m = maps.base_map(online_tiles=online_tiles)
    shading = accuracy_shading(per_country)
    if shading:
        countries_layer(name="country accuracy", values=shading,
                        style={"color": "#7f2704", "weight": 0.8, "fillOpacity": 0.4}).add_to(m)
    return maps.finish(m)


def nearest_location(locs: pd.DataFrame, lat: float, lon: float, max_km: float = 300.0) -> str | None:
    """``location_id`` of the located row nearest to a map click (degrees; the longitude may lie
    outside -180..180 after panning), or None if none is within ``max_km``."""
    located = locs[locs["true_lat"].notna()]
    if located.empty or lat is None or lon is None:
        return None
    lon = (float(lon) + 180.0) % 360.0 - 180.0
    d = np.asarray(haversine_km(float(lat), lon, located["true_lat"].to_numpy(float),
                                located["true_lon"].to_numpy(float)), float)
    i = int(np.argmin(d))
    return str(located["location_id"].iloc[i]) if d[i] <= max_km else None


def clicked_location(state: dict | None, locs: pd.DataFrame, max_km: float = 1.0) -> str | None:
    """The location whose dot was clicked, from st_folium's returned state
    (``{"last_object_clicked": {"lat": .., "lng": ..}}``); None if the click hit no test location
    (e.g. the model's guess marker)."""
    obj = (state or {}).get("last_object_clicked") if isinstance(state, dict) else None
    if not isinstance(obj, dict) or obj.get("lat") is None or obj.get("lng") is None:
        return None
    return nearest_location(locs, float(obj["lat"]), float(obj["lng"]), max_km=max_km)


def bucket_legend() -> str:
    """HTML legend of the error buckets (``st.markdown(..., unsafe_allow_html=True)``): each item stays on one
    line ("750–2,500 km (continent)" never breaks inside); the items wrap between them."""
    items = [f'<span class="geo-legend-item" style="white-space:nowrap;display:inline-block;margin-right:10px">'
             f'<span style="display:inline-block;width:11px;height:11px;border-radius:50%;background:{c};'
             f'border:1px solid #555;margin:0 4px 0 0;vertical-align:middle"></span>{html.escape(lab)}</span>'
             for c, lab in zip(BUCKET_COLORS, BUCKET_LABELS)]
    return '<div style="font-size:0.85rem">' + " ".join(items) + "</div>"
