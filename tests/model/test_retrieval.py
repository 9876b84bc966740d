"""Retrieval refinement (model.retrieval / model.gallery) on hand-made galleries, and the feature-cache key."""
import io
import os
import time

import numpy as np
import pandas as pd
import torch

from model.features import _key
from model.gallery import choose_settings
from model.geo import haversine_km
from model.retrieval import Gallery, build_gallery, refine, unit


class _Cells:
    """Stand-in cell assignment: cell = index of the nearest of two centres (Zagreb, Tokyo)."""

    centres = np.array([[45.8, 16.0], [35.7, 139.7]])

    def assign(self, lat, lon, cc=None, a1=None):
        d = np.stack([haversine_km(np.asarray(lat, float), np.asarray(lon, float), c[0], c[1]) for c in self.centres])
        return d.argmin(0)


def _gallery(top_cells=1, temperature=0.05) -> Gallery:
    # four training places: three near Zagreb (cell 0), one in Tokyo (cell 1); embeddings on axes
    lat = np.array([45.81, 45.33, 46.30, 35.68])
    lon = np.array([15.98, 14.44, 16.34, 139.69])
    emb = np.eye(4, 8, dtype=np.float32)
    return Gallery(emb, lat, lon, _Cells().assign(lat, lon), top_cells, temperature)


def test_refine_picks_the_look_alike_inside_the_likely_cells():
    g = _gallery(top_cells=1, temperature=0.01)
    probs = np.array([0.9, 0.1])
    q = np.zeros(8, np.float32)
    q[1] = 1.0  # looks like the Rijeka place (index 1)
    r = refine(probs, q, g)
    assert (r["lat"], r["lon"]) == (45.33, 14.44) and r["neighbours"][0] == 1
    # a Tokyo look-alike is not a candidate while its cell is outside the top cells ...
    q = np.zeros(8, np.float32)
    q[3] = 1.0
    assert refine(probs, q, g)["lat"] != 35.68
    # ... and becomes the answer when its cell is the likely one
    assert refine(np.array([0.1, 0.9]), q, g)["lat"] == 35.68


def test_refine_hedges_between_similar_candidates_at_high_temperature():
    g = _gallery(top_cells=2, temperature=10.0)  # similarities barely matter: weights ~ cell probabilities
    q = unit(np.ones((1, 8), np.float32))[0]
    r = refine(np.array([0.97, 0.03]), q, g)
    # the expected-score answer is one of the Zagreb-cell places, never the lone Tokyo one
    assert r["lat"] in (45.81, 45.33, 46.30)
    assert abs(sum(refine(np.array([0.5, 0.5]), q, g)["weights"]) - 1) < 1e-6  # all 4 candidates, weights sum to 1


def test_gallery_state_round_trip_weights_only():
    g = _gallery(top_cells=7, temperature=0.02)
    buf = io.BytesIO()
    torch.save({"gallery": g.to_state()}, buf)
    buf.seek(0)
    g2 = Gallery.from_state(torch.load(buf, weights_only=True)["gallery"])
    assert (g2.top_cells, g2.temperature) == (7, 0.02) and len(g2) == 4
    assert np.allclose(g2.embed, g.embed) and np.allclose(g2.lat, g.lat) and (g2.cell == g.cell).all()


def test_build_gallery_averages_views_and_skips_label_only_rows():
    rows = pd.DataFrame({"location_id": ["a", "a", "b", "c"], "lat": [45.8, 45.8, 35.7, np.nan],
                         "lon": [16.0, 16.0, 139.7, np.nan], "country_code": ["HR", "HR", "JP", "FR"],
                         "admin1": ["", "", "", ""]})
    emb = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], np.float32)
    g = build_gallery(emb, rows, _Cells())
    assert len(g) == 2 and list(g.cell) == [0, 1]
    assert np.allclose(g.embed[0], unit(np.array([[1, 1, 0]], np.float32))[0])
    assert np.allclose(np.linalg.norm(g.embed, axis=1), 1)


def test_choose_settings_prefers_sharp_similarity_when_it_is_right():
    g = _gallery(top_cells=1)
    held = []
    for i in range(3):  # queries that look exactly like the Zagreb-cell place they are at
        q = np.zeros(8, np.float32)
        q[i] = 1.0
        held.append((np.array([0.8, 0.2]), q, float(g.lat[i]), float(g.lon[i])))
    k, t, scores = choose_settings(g, held, grid_cells=(1, 2), grid_temp=(0.01, 100.0))
    assert t == 0.01 and scores[f"{k}/0.01"] > scores[f"{k}/100"]
    assert scores[f"{k}/0.01"] > 4999  # exact places: full score


def test_feature_cache_key_follows_content_not_mtime(tmp_path):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(os.urandom(20000))
    b.write_bytes(os.urandom(300))
    k = _key([str(a), str(b)])
    os.utime(a, (time.time() + 1000, time.time() + 1000))  # a fresh copy of the same files
    assert _key([str(a), str(b)]) == k
    assert _key([str(b), str(a)]) != k  # order matters (rows of the cache)
    data = bytearray(a.read_bytes())
    data[-10] ^= 0xFF  # same size, different content
    a.write_bytes(bytes(data))
    assert _key([str(a), str(b)]) != k
    assert _key([str(tmp_path / "missing.jpg")]) != _key([str(b)])
