import math

import numpy as np
import pytest

from model import geo


def test_haversine_known_distances():
    # Paris - London about 343.5 km; New York - Los Angeles about 3936 km (great circle).
    assert geo.haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343.5, abs=1.0)
    assert geo.haversine_km(40.7128, -74.0060, 34.0522, -118.2437) == pytest.approx(3936, abs=5)
    # A quarter of a great circle: equator to pole.
    assert geo.haversine_km(0, 0, 90, 0) == pytest.approx(math.pi / 2 * geo.EARTH_RADIUS_KM, rel=1e-9)
    # Antipodes and across the antimeridian.
    assert geo.haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * geo.EARTH_RADIUS_KM, rel=1e-9)
    assert geo.haversine_km(0, 179.5, 0, -179.5) == pytest.approx(111.2, abs=0.2)


def test_haversine_broadcasts_and_pairwise():
    d = geo.haversine_km(np.array([0.0, 10.0]), np.array([0.0, 0.0]), 0.0, 0.0)
    assert d.shape == (2,) and d[0] == 0 and d[1] == pytest.approx(1111.95, abs=0.1)
    m = geo.pairwise_km([0, 10], [0, 0], [0, 0, 20], [0, 10, 0])
    assert m.shape == (2, 3) and m[1, 2] == pytest.approx(1111.95, abs=0.1)


def test_geoscore_world_and_scaled():
    assert geo.geoscore(0) == 5000
    assert geo.geoscore(1492.7) == pytest.approx(5000 / math.e)
    # A map of diagonal S: 5000*exp(-10 d / S); at d = S/10 the score is 5000/e.
    assert geo.geoscore(100, map_size_km=1000) == pytest.approx(5000 / math.e)
    assert geo.geoscore(geo.WORLD_DIAGONAL_KM / 10, map_size_km=geo.WORLD_DIAGONAL_KM) == pytest.approx(5000 / math.e)
    assert geo.reference_accuracy(1160) == pytest.approx(1 / math.e)


def test_spherical_mean_across_antimeridian():
    lat, lon = geo.spherical_mean([0, 0], [179, -179])
    assert lat == pytest.approx(0, abs=1e-9) and abs(lon) == pytest.approx(180, abs=1e-6)


def test_destination_and_great_circle():
    lat, lon = geo.destination(0, 0, 90, 1111.95)
    assert lat == pytest.approx(0, abs=1e-6) and lon == pytest.approx(10, abs=1e-3)
    pts = geo.great_circle_points(0, 170, 0, -170, n=5)
    lons = [p[1] for p in pts]
    assert all(b > a for a, b in zip(lons, lons[1:])), "line must stay continuous across the antimeridian"
    assert lons[-1] == pytest.approx(190)
