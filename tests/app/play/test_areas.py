"""Region land polygons: point-in-region and the nearest point inside (bundled Natural Earth 1:50m)."""
from __future__ import annotations

import numpy as np
import pytest

from app.play import areas
from model.geo import haversine_km

ZAGREB, KNIN, LJUBLJANA, BUDAPEST = (45.815, 15.982), (44.041, 16.199), (46.056, 14.506), (47.498, 19.040)
SLOVENIAN_PIN = (45.8734, 15.5467)  # where the model's pin landed in a Croatia game (issue 14)


def test_country_and_continent_membership():
    lats, lons = zip(ZAGREB, KNIN, LJUBLJANA, BUDAPEST, SLOVENIAN_PIN)
    assert areas.contains("country:HR", lats, lons).tolist() == [True, True, False, False, False]
    assert areas.contains("continent:EU", lats, lons).all()
    assert not areas.contains("country:HR", 43.508, 16.440)[0]  # Split harbour: 1:50m coasts are km-coarse
    assert areas.contains("world", lats, lons).all()
    # Edirne (European Turkey) is in Turkey, an Asian country in the seven-continent convention of the regions
    assert areas.contains("continent:AS", 41.68, 26.56)[0] and not areas.contains("continent:EU", 41.68, 26.56)[0]
    # the sea is in no region; Fiji and Chukotka straddle the antimeridian
    assert not areas.contains("continent:OC", -35.0, 155.0)[0]
    assert areas.contains("continent:OC", -16.5, 179.5)[0] and areas.contains("country:RU", 65.0, -175.0)[0]


def test_a_region_without_a_polygon_contains_nothing():
    assert not areas.has_shape("country:ZZ") and areas.has_shape("world") and areas.has_shape("country:HR")
    assert not areas.contains("country:ZZ", *ZAGREB).any()
    with pytest.raises(ValueError, match="no polygon"):
        areas.nearest_inside("country:ZZ", *ZAGREB)


def test_nearest_inside_moves_a_point_just_across_the_border():
    assert areas.nearest_inside("country:HR", *KNIN) == KNIN  # already inside: unchanged
    lat, lon = areas.nearest_inside("country:HR", *SLOVENIAN_PIN)
    assert areas.contains("country:HR", lat, lon)[0]
    d = haversine_km(lat, lon, *SLOVENIAN_PIN)
    assert 0.5 < d < 8  # the border is ~5 km south of it; the point goes ~1 km past the border
    # the nearest, not any point: moving from Ljubljana lands near the Slovenian border, far from Knin
    lat, lon = areas.nearest_inside("country:HR", *LJUBLJANA)
    assert haversine_km(lat, lon, *LJUBLJANA) < 60 and haversine_km(lat, lon, *KNIN) > 200
    # out at sea, to the nearest coast of the continent
    lat, lon = areas.nearest_inside("continent:OC", -34.0, 151.6)
    assert areas.contains("continent:OC", lat, lon)[0] and haversine_km(lat, lon, -34.0, 151.6) < 60


@pytest.mark.parametrize("region", ["country:HR", "country:US", "country:JP", "continent:EU", "continent:OC"])
def test_random_points_end_up_inside(region):
    rng = np.random.default_rng(0)
    for lat, lon in zip(rng.uniform(-60, 70, 8), rng.uniform(-180, 180, 8)):
        assert areas.contains(region, *areas.nearest_inside(region, lat, lon))[0]
