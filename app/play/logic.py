"""Glue of the Play page that needs no Streamlit: playable locations from the manifest, leak-free
view images, the model's move and the maps. Rules live in ``app.play.game``, links in
``app.play.links``, tables in ``app.play.tables``.

Leak-free means nothing shown before the reveal can give the place away: views are re-encoded
JPEGs without metadata (no EXIF GPS, no file name), errors never quote a path, the guess map is
framed on the whole region, never on the round. Coordinates are degrees, distances km.
"""
from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import folium
import numpy as np
import pandas as pd
from PIL import Image

from app.common.formatting import fmt_km
from app.common.stamps import file_stamp
from app.maps import builders as maps
from app.play.game import Location, RoundResult
from app.play.places import place_words  # noqa: F401  (re-exported for the page)
from app.play.regions import WORLD, in_region, parse_region
from model.data.images import ImageLoadError, open_image

COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
MODEL_KIND = "best"  # the model plays its expected-score guess: the app's marker kind for that
REVEAL_LEGEND = ("truth", "guess", MODEL_KIND)
CONTROLS_PX = 60  # the map's corner controls (zoom buttons, layer switcher) are about 50 px from the edge


# ----------------------------------------------------------------------------------- locations
def _exists(path: str) -> bool:
    """Whether an image path is there: a file, or a shard sample ``<dir>/<shard>.tar#<key>`` whose shard is."""
    text = str(path)
    return Path(text.split(".tar#", 1)[0] + ".tar").is_file() if ".tar#" in text else Path(text).is_file()


def _texts(g: pd.DataFrame, col: str) -> tuple[str, ...]:
    """A per-view text column ("" where empty), or () when the manifest has no such column."""
    return tuple("" if pd.isna(v) else str(v).strip() for v in g[col]) if col in g else ()


def playable_locations(df: pd.DataFrame, train_groups: Iterable[str] = (), *, check_files: bool = True) -> list[Location]:
    """Held-out locations of a manifest: split "test", with coordinates (label-only screenshot rows
    are dropped), group not in ``train_groups`` (what the model trained or was selected on), and
    image files that exist (files, or samples of a shard folder). Views are ordered by their ``view``
    index; each keeps its ``attribution`` and ``source_url`` (extra manifest columns of the demo set)."""
    excluded = {str(g) for g in train_groups}
    t = df[(df["split"] == "test") & df["lat"].notna() & df["lon"].notna()]
    t = t[~t["group_id"].astype(str).isin(excluded)]
    if check_files:
        t = t[np.array([_exists(p) for p in t["path"]], dtype=bool)]  # an empty list would select no columns
    out = []
    for loc_id, g in t.sort_values(["location_id", "view"]).groupby("location_id", sort=True):
        heads = tuple(None if pd.isna(h) else float(h) for h in g["heading"]) if "heading" in g else ()
        r = g.iloc[0]
        out.append(Location(location_id=str(loc_id), group_id=str(r["group_id"]), lat=float(r["lat"]),
                            lon=float(r["lon"]), country_code=str(r["country_code"]).upper(),
                            country=str(r["country"]), paths=tuple(str(p) for p in g["path"]), headings=heads,
                            credits=_texts(g, "attribution"), source_urls=_texts(g, "source_url")))
    return out


@lru_cache(maxsize=4)
def _playable_cached(manifest: str, _stamp: str, train_groups: frozenset[str]) -> tuple[Location, ...]:
    from model.data.manifest import read_manifest

    return tuple(playable_locations(read_manifest(manifest), train_groups))


def load_playable(train_groups: Iterable[str], manifest: str | os.PathLike) -> list[Location]:
    """:func:`playable_locations` of ``manifest`` (the active data set's: ``app.common.datasets``), cached
    per process by manifest path, file stamp (``app.common.stamps``) and training groups."""
    from model.data.manifest import resolve_manifest

    p = resolve_manifest(manifest)
    return list(_playable_cached(str(p), file_stamp(p), frozenset(str(g) for g in train_groups)))


def country_names(locations: Iterable[Location]) -> dict[str, str]:
    """{country code: English name} of the given locations."""
    return {x.country_code: x.country for x in locations if x.country_code}


def region_bounds(locations: Sequence[Location], region: str) -> list[tuple[float, float]]:
    """Corner points (lat, lon) framing all playable locations of a region (empty for the world),
    rounded outwards to whole degrees: the guess map shows the region, and no location's coordinates."""
    if parse_region(region)[0] == WORLD:
        return []
    pts = [(x.lat, x.lon) for x in locations if in_region(x.country_code, region)]
    if not pts:
        return []
    lats, lons = [p[0] for p in pts], [p[1] for p in pts]
    return [(math.floor(min(lats)), math.floor(min(lons))), (math.ceil(max(lats)), math.ceil(max(lons)))]


# ----------------------------------------------------------------------------------- views
def compass_point(heading: float | None) -> str:
    """'NE' for a camera heading of 45 degrees (eight points), '' when unknown."""
    if heading is None or not math.isfinite(heading):
        return ""
    return COMPASS[int((float(heading) % 360.0 + 22.5) // 45) % 8]


def heading_label(heading: float | None) -> str:
    """'facing NE (45°)' for a camera heading in degrees, '' when unknown."""
    if not compass_point(heading):
        return ""
    return f"facing {compass_point(heading)} ({float(heading) % 360.0:.0f}°)"


def view_caption(k: int, n: int, heading: float | None) -> str:
    """Neutral caption of the k-th (0-based) of n views: 'View 2 of 4 · facing E (90°)'."""
    h = heading_label(heading)
    return f"View {k + 1} of {n}" + (f" · {h}" if h else "")


def load_view(path: str, k: int) -> tuple[Image.Image, bytes]:
    """A view as (RGB image for the model, JPEG bytes for the page). The bytes are re-encoded without
    EXIF or other metadata (orientation applied); errors name the view, never the file. ``path`` may be
    a shard sample (``<dir>/<shard>.tar#<key>``)."""
    if ".tar#" in str(path):
        img = open_image(str(path), f"view {k + 1}")
    else:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise ImageLoadError(f"view {k + 1}: cannot be read ({e.strerror or type(e).__name__})") from None
        img = open_image(data, f"view {k + 1}")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return img, buf.getvalue()


# ----------------------------------------------------------------------------------- model
from app.play.opponent import model_move  # noqa: F401  (the model's pin: app.play.opponent)


# ----------------------------------------------------------------------------------- maps
def guess_map(bounds: Sequence[tuple[float, float]]) -> folium.Map:
    """The map the player clicks: the whole inhabited world at the map's real width (fractional zoom, see
    ``maps.base_map``), or framed on a region's ``bounds``; with state/province borders and place names
    that appear as the player zooms in. It never changes during a round (its pin is drawn by
    :func:`pin_layer`), so zoom and pan survive each click."""
    m = maps.base_map(online_tiles=True)
    if bounds:
        maps.fit_to(m, bounds, pad_deg=0.5, max_zoom=9)
    return maps.finish(m)


def pin_layer(guess: tuple[float, float] | None) -> folium.FeatureGroup:
    """The player's pin as a feature group added to the map without re-rendering it."""
    fg = folium.FeatureGroup(name="Your pin")
    if guess is not None:  # no tooltip: the caption under the map gives the pin's coordinates
        maps.add_marker(fg, guess[0], guess[1], "guess")
    return fg


def reveal_map(res: RoundResult) -> folium.Map:
    """After a round: the actual place, the player's pin and the model's pin (marker kind
    :data:`MODEL_KIND`), great-circle lines from each pin to the truth (distances in the tooltips),
    framed on them with their surroundings (at least 4 degrees across)."""
    m = maps.base_map(online_tiles=True)
    tl, tn = res.truth
    pts = [res.truth, (res.model.lat, res.model.lon)]
    maps.add_great_circle(m, res.model.lat, res.model.lon, tl, tn, color=maps.KIND_STYLES[MODEL_KIND]["color"],
                          tooltip=f"Model: {fmt_km(res.model_km)}")
    maps.add_marker(m, res.model.lat, res.model.lon, MODEL_KIND,
                    f"Model: {fmt_km(res.model_km)}, {res.model_score:,} points")
    if res.guess is not None:
        maps.add_great_circle(m, res.guess[0], res.guess[1], tl, tn, color=maps.KIND_STYLES["guess"]["color"],
                              tooltip=f"You: {fmt_km(res.player_km)}")
        maps.add_marker(m, res.guess[0], res.guess[1], "guess",
                        f"You: {fmt_km(res.player_km)}, {res.player_score:,} points")
        pts.append(res.guess)
    maps.add_marker(m, tl, tn, "truth", f"Actual location: {res.country}", size=26)
    maps.fit_to(m, pts, pad_deg=0.5, max_zoom=10, min_span_deg=4.0)
    return maps.finish(clear_of_controls(m))


def clear_of_controls(m: folium.Map, px: int = CONTROLS_PX) -> folium.Map:
    """Keep ``px`` pixels free around the framed pins (``maps.fit_to``'s frame), so that no pin sits under
    the zoom buttons (top left) or the layer switcher (top right), as the player's pin did. Returns ``m``."""
    from app.maps.layers import FitFrame

    for child in m._children.values():
        if isinstance(child, FitFrame):
            child.padding = max(int(child.padding), int(px))
    return m


# ----------------------------------------------------------------------------------- words
def scoring_note(map_size_km: float | None) -> str:
    """How points are computed in this game, in words."""
    if map_size_km is None:
        return "Points: 5000·exp(−d / 1492.7 km), the GeoGuessr world-map formula."
    return (f"Points: 5000·exp(−10·d / S) with S = {map_size_km:,.0f} km, the diagonal of this region's map "
            "(GeoGuessr scales scores with the map size).")
