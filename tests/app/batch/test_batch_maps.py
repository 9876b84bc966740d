"""Every photo on one map (app.batch.maps): a pin per guess, the GPS position and the line where known,
clustered when many, offline assets only."""
from __future__ import annotations

import re

import pandas as pd

from app.batch import maps as bm
from app.batch.table import answers_frame
from app.maps import builders as maps
from model.export.collection import CollectionResult, PhotoAnswer


def frame(n: int, gps: bool = True) -> pd.DataFrame:
    a = [PhotoAnswer(f"p{k}.jpg", 10.0 + k * 0.5, 20.0, 10.0 + k * 0.5, 20.5, "HR", "Croatia", 0.5, 100.0,
                     (11.0 + k * 0.5) if gps else None, 21.0 if gps else None, 150.0 if gps else None)
         for k in range(n)]
    return answers_frame(CollectionResult("x", "y", a + [PhotoAnswer("bad.jpg", error="corrupt")]))


def test_twelve_photos_pins_lines_no_cluster():
    m = bm.collection_map(frame(12))
    html = maps.map_html(m)
    assert html.count("geo-pin") >= 24 or len(re.findall(r"L\.marker\(", html)) == 24
    assert len(re.findall(r"L\.marker\(", html)) == 24  # 12 guesses + 12 GPS positions
    assert len(re.findall(r"L\.polyline\(", html)) >= 12
    assert "markerClusterGroup" not in html and "p3.jpg: Croatia 50%, 150 km from its GPS position" in html
    assert maps.fitted_bounds(m) is not None
    assert not re.search(r"src=\"https?://(?!127\.0\.0\.1)", html)  # no CDN script


def test_many_photos_are_clustered_from_the_app_static_files():
    html = maps.map_html(bm.collection_map(frame(40, gps=False)))
    assert "markerClusterGroup" in html and "/app/static/markercluster/leaflet.markercluster.js" in html
    assert len(re.findall(r"L\.marker\(", html)) == 40 and "L.polyline(" not in html
    assert "expected error" in html


def test_empty_selection_is_a_world_map():
    m = bm.collection_map(frame(0))
    assert maps.fitted_bounds(m) is None
