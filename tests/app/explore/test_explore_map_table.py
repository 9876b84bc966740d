"""Explore maps (offline, clustered, selection line, choropleth), click handling, thumbnails, table."""
from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image

from app.explore import maps as xm
from app.explore import stats as xs
from app.explore import table as xt
from app.maps.builders import map_html


def _dots(html: str) -> int:
    return len(re.findall(r"L\.circleMarker\(\s*\[", html))


def test_errors_map_is_offline_clustered_and_coloured(locs):
    html = map_html(xm.errors_map(locs))
    assert "/app/static/markercluster/leaflet.markercluster.js" in html and "MarkerCluster.Default.css" in html
    assert "cdnjs" not in html and "unpkg" not in html and "jsdelivr" not in html
    urls = set(re.findall(r'(?:src|href)="(https?://[^"]+)"', html))
    assert not urls, urls  # every script and stylesheet is served by the app
    assert _dots(html) == 9  # the location without coordinates is not drawn
    assert "L.markerClusterGroup(" in html and '"maxZoom": 18' in html
    for b in (0, 1, 2, 3, 4, 5):
        assert xs.BUCKET_COLORS[b] in html
    assert "Norway → Finland: 400 km" in html
    flat = map_html(xm.errors_map(locs, cluster=False))
    assert "L.markerClusterGroup(" not in flat and _dots(flat) == 9


def test_errors_map_tooltips_name_sources_as_the_tables_do(locs):
    """The dots' tooltips read 'Street View, 4 views', like the table, filters and audit, not the data's
    internal folder name 'gsv_strips' (issue 14, items 8 and 17)."""
    html = map_html(xm.errors_map(locs, cluster=False))
    assert "; Street View, 4 views)" in html and "GeoGuessr screenshot with game UI" in html
    assert "gsv_strips" not in html and "screenshots_ui" not in html


def test_errors_map_selection_draws_the_line(locs):
    sel = locs.iloc[0]
    html = map_html(xm.errors_map(locs, sel))
    assert html.count("L.polyline(") >= 1 and "geo-marker-truth" in html and "geo-marker-model" in html
    assert "Model&#x27;s guess: Finland, 400 km away" in html or "Model's guess: Finland, 400 km away" in html
    assert "L.polyline(" not in map_html(xm.errors_map(locs))


def test_nearest_and_clicked_location(locs):
    assert xm.nearest_location(locs, 45.0, 15.0) == "L0"
    assert xm.nearest_location(locs, 45.1, 15.1 + 360.0) == "L1"  # the map was panned a world over
    assert xm.nearest_location(locs, -30.0, 150.0) is None
    assert xm.clicked_location({"last_object_clicked": {"lat": 45.2, "lng": 15.2}}, locs) == "L2"
    assert xm.clicked_location({"last_object_clicked": {"lat": 40.0, "lng": 10.0}}, locs) is None  # guess marker
    assert xm.clicked_location({"last_object_clicked": None}, locs) is None
    assert xm.clicked_location(None, locs) is None


def test_accuracy_map_shades_zero_accuracy_countries(locs):
    pc = xs.per_country(locs)
    html = map_html(xm.accuracy_map(pc))
    assert "Croatia" in html and "Norway" in html and "United States" in html
    for v in ("0%", "33%", "100%"):
        assert re.search(rf'"value":\s*"{v}"', html), v
    for c in ("#d73027", "#1a9850"):  # 0 % red, 100 % green
        assert re.search(rf'"fill":\s*"{c}"', html), c


def test_fmt_km_and_legend():
    assert xm.fmt_km(0.25) == "250 m" and xm.fmt_km(12.34) == "12.3 km" and xm.fmt_km(1234.0) == "1,234 km"
    assert xm.fmt_km(float("nan")) == "?"
    assert all(lab in xm.bucket_legend() for lab in ("street", "continent"))


def _jpeg(path, size=(640, 400), color=(200, 30, 30)):
    Image.new("RGB", size, color).save(path, "JPEG")
    return path


def test_thumbnails_cached_on_disk(tmp_path, cache_dir):
    src = _jpeg(tmp_path / "a.jpg")
    f = xt.thumbnail_file(src, 100)
    assert f is not None and cache_dir in f.parents
    with Image.open(f) as im:
        assert im.size[0] == 100 and im.size[1] in (62, 63)
    mtime = f.stat().st_mtime_ns
    assert xt.thumbnail_file(src, 100) == f and f.stat().st_mtime_ns == mtime  # reused
    assert xt.thumbnail_file(src, 50) != f
    uri = xt.thumbnail_uri(src, 100)
    assert uri.startswith("data:image/jpeg;base64,")
    Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).verify()
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    assert xt.thumbnail_file(tmp_path / "bad.jpg") is None and xt.thumbnail_uri(tmp_path / "missing.jpg") is None


def test_display_table_keeps_row_order(locs):
    t = xt.display_table(locs, [f"u{i}" for i in range(len(locs))])
    assert list(t.columns) == ["Photo", "Truth", "Guess", "Right", "Distance (km)", "Score", "Confidence", "Error",
                               "Source", "Views", "Location"]
    assert t["Location"].tolist() == locs["location_id"].tolist() and t["Photo"].iloc[3] == "u3"
    assert t["Truth"].iloc[0] == "Norway" and t["Guess"].iloc[0] == "Finland" and not t["Right"].iloc[0]
    assert t["Error"].iloc[0] == xs.BUCKET_LABELS[3] and t["Error"].iloc[8] == "unknown"
    assert t["Truth"].iloc[8] == "?" and np.isnan(t["Distance (km)"].iloc[8])


def test_new_table_pick():
    ids = ["a", "b", "c"]
    assert xt.new_table_pick([1], ids, None) == "b"
    assert xt.new_table_pick([1], ids, [1]) is None  # still ticked: a selection made elsewhere stays
    assert xt.new_table_pick([2], ids, [1]) == "c"
    assert xt.new_table_pick([], ids, [1]) is None and xt.new_table_pick([7], ids, []) is None


def test_image_rows_worst_first(locs):
    rows = xt.image_rows(locs, 3)
    assert [r["location_id"] for r in rows] == ["L6", "L1", "L7"]
    assert rows[0]["caption"] == "United States → Canada, 3,000 km" and rows[0]["path"] == "/nowhere/i6.jpg"
    assert xt.image_rows(locs, 20)[-1]["location_id"] == "L8"  # no distance: last
