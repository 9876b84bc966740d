"""A prediction on the map (no Streamlit): the map Predict shows and Explore's detail panel repeats.

``pred`` is a ``model.predict.Prediction`` (see ``app.common.results``); coordinates are WGS-84
degrees, distances km, probabilities 0..1.
"""
from __future__ import annotations

from typing import Any

import folium
import numpy as np
import pandas as pd
from jinja2 import Template

from app.common.formatting import fmt_km
from app.common.results import Truth, guess_rows, summary
from app.maps import builders as maps
from app.maps.layers import FitFrame

MAP_MIN_SPAN_DEG = 16.0  # the result map shows at least this many degrees across (a country and its neighbours)
MAP_MAX_ZOOM = 6
BOTTOM_PAD_PX = 64  # px kept free of framed points at the bottom: the km scale bar sits there (bottom right)
LOOK_ALIKE_COLOR = "#7b3fa0"


class _ClearOfScale(FitFrame):
    """:class:`app.maps.layers.FitFrame` keeping :data:`BOTTOM_PAD_PX` free at the bottom edge (the scale bar
    and attribution), so that a pin at the bottom of the frame is not drawn under them."""

    _template = Template("""{% macro script(this, kwargs) %}
        GeoLayers.fitBounds({{ this._parent.get_name() }}, {{ this.bounds|tojson }},
                            {maxZoom: {{ this.max_zoom }}, paddingTopLeft: [{{ this.padding }}, {{ this.padding }}],
                             paddingBottomRight: [{{ this.padding }}, {{ this.bottom }}]});
    {% endmacro %}""")

    def __init__(self, frame: FitFrame, bottom_px: int):
        super().__init__(frame.bounds, frame.max_zoom, frame.padding)
        self.bottom = int(bottom_px)


def _clear_of_scale(m: folium.Map, bottom_px: int = BOTTOM_PAD_PX) -> None:
    """Swap the map's FitFrame (``app.maps.builders.fit_to``) for one that keeps the bottom edge clear."""
    for name, child in list(m._children.items()):
        if type(child) is FitFrame:
            m._children.pop(name)
            _ClearOfScale(child, bottom_px).add_to(m)


def top_cells(pred: Any, cells: pd.DataFrame, k: int = 300, min_prob: float = 1e-3) -> pd.DataFrame:
    """The ``k`` most probable cells with prob >= ``min_prob``: lat, lon, name, country, prob."""
    p = np.asarray(pred.cell_probs, dtype=float)
    idx = np.argsort(-p)[:k]
    idx = idx[p[idx] >= min_prob]
    t = cells.iloc[idx]
    return pd.DataFrame({"lat": t["lat"].to_numpy(float), "lon": t["lon"].to_numpy(float),
                         "name": t["name"].astype(str).to_numpy(), "country": t["country"].astype(str).to_numpy(),
                         "prob": p[idx]})


def prediction_map(pred: Any, truth: Truth | None, top_n: int, *, cells: pd.DataFrame | None = None,
                   country_layer: bool = True, online_tiles: bool = True,
                   look_alikes: list[tuple[float, float, str]] | None = None) -> folium.Map:
    """The result map: probability layers (per-country shading; per-cell points if ``cells`` is the
    cell table), numbered top-N guesses, the model's guess (M), the expected-score guess (E, drawn up and right
    of its point on a stem so that it stays visible when it falls on M), the actual location and great-circle
    lines from the guesses to it. Framed on all of them with their surroundings: at least
    :data:`MAP_MIN_SPAN_DEG` degrees across, zoom at most :data:`MAP_MAX_ZOOM` (never a close-up filled by
    the predicted country's shading), with the context layers (admin-1 borders, place names) showing, and the
    bottom edge kept clear for the scale bar. ``look_alikes``: (lat, lon, tooltip) of the look-alike training
    places behind the answer ("Why this answer"), drawn as a layer of purple points (not framed)."""
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
    if look_alikes:
        maps.add_point_layer(m, [a for a, _b, _t in look_alikes], [b for _a, b, _t in look_alikes],
                             name="Look-alike training places", tooltips=[t for _a, _b, t in look_alikes],
                             colors=LOOK_ALIKE_COLOR, radius=6.0, fill_opacity=0.9)
    fg = folium.FeatureGroup(name=f"Top-{len(rows)} guesses", show=True)
    for r in reversed(rows):
        tip = f"#{r['rank']}{' (M, the model’s guess)' if r.get('is_m') else ''} {r['place']}, {r['country']}: {r['prob']:.1%}"
        if truth is not None:
            tip += f"; {fmt_km(r['km'])} from the truth, {r['score']} points"
        maps.add_marker(fg, r["lat"], r["lon"], "candidate", tip, text=str(r["rank"]), size=20)
        pts.append((r["lat"], r["lon"]))
    fg.add_to(m)
    s = summary(pred, truth)
    tip_m = f"Model's guess: {s['place']}, {s['country']}"
    tip_b = ("Expected-score guess: the point (a look-alike training place, a cell's position, M or a top-N guess) "
             "with the highest expected GeoGuessr score under the answer's probabilities" if getattr(pred, "refined", False)
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
    _clear_of_scale(m)
    return maps.finish(m)
