"""Regions: continent table, region ids, filtering, playable-region options, map size."""
from __future__ import annotations

import pycountry
import pytest

from app.play import regions as r
from model.geo import WORLD_DIAGONAL_KM, bbox_diagonal_km, geoscore


def test_every_iso_country_has_a_continent():
    missing = [c.alpha_2 for c in pycountry.countries if r.continent_of(c.alpha_2) is None]
    assert missing == []
    assert set(r.CONTINENT_OF.values()) == set(r.CONTINENT_NAMES)


@pytest.mark.parametrize("cc,cont", [("HR", "EU"), ("hr", "EU"), ("RU", "EU"), ("TR", "AS"), ("US", "NA"),
                                     ("AU", "OC"), ("BR", "SA"), ("NG", "AF"), ("AS", "OC"), ("JP", "AS")])
def test_continent_of(cc, cont):
    assert r.continent_of(cc) == cont


def test_unknown_country_has_no_continent():
    assert r.continent_of("ZZ") is None and r.continent_of("") is None


def test_parse_region_and_prefixes_keep_colliding_codes_apart():
    assert r.parse_region("World") == ("world", "")
    assert r.parse_region("continent:as") == ("continent", "AS")
    assert r.parse_region("country:as") == ("country", "AS")
    assert r.in_region("JP", "continent:AS") and not r.in_region("JP", "country:AS")
    assert r.in_region("AS", "country:AS") and not r.in_region("AS", "continent:AS")  # American Samoa is in Oceania
    for bad in ("", "europe", "continent:XX", "country:HRV", "country:1A", "planet:EU"):
        with pytest.raises(r.RegionIdError):
            r.parse_region(bad)


def test_in_region():
    assert r.in_region("HR", "world") and r.in_region("HR", "continent:EU") and r.in_region("hr", "country:HR")
    assert not r.in_region("FR", "country:HR") and not r.in_region("US", "continent:EU")
    assert not r.in_region("", "continent:EU")


def test_region_label():
    assert r.region_label("world") == "World"
    assert r.region_label("continent:NA") == "North America"
    assert r.region_label("country:HR", {"HR": "Croatia"}) == "Croatia"
    assert r.region_label("country:HR") == "HR"


def test_region_options_need_enough_locations():
    codes = ["HR"] * 11 + ["FR"] * 6 + ["US"] * 9 + ["JP"] * 4
    opts = r.region_options(codes, {"HR": "Croatia", "US": "United States"})
    ids = [o.region for o in opts]
    assert ids == ["world", "continent:EU", "continent:NA", "country:HR"]
    assert [o.n_locations for o in opts] == [30, 17, 9, 11]
    assert opts[-1].label == "Croatia"
    assert "continent:AS" not in ids  # 4 < 5
    assert r.region_options([]) == []
    assert [o.region for o in r.region_options(codes, min_country=5, min_continent=10)] == \
        ["world", "continent:EU", "country:HR", "country:US", "country:FR"]


def test_map_size_matches_bbox_diagonal_and_is_clamped():
    lats, lons = [42.4, 46.5, 45.0], [13.5, 19.4, 16.0]  # roughly Croatia
    assert r.map_size_km(lats, lons) == pytest.approx(bbox_diagonal_km(lats, lons))
    assert 500 < r.map_size_km(lats, lons) < 800
    assert r.map_size_km([45.0], [16.0]) == r.MIN_MAP_SIZE_KM  # one town: floor
    assert r.map_size_km([-50, 70], [-170, 170]) < WORLD_DIAGONAL_KM  # narrow box across the antimeridian
    assert r.map_size_km([-60, 70, 0, 10], [-170, -60, 40, 120]) == WORLD_DIAGONAL_KM  # the world: capped
    # at the cap the scaled formula is the world formula
    assert geoscore(1000.0, WORLD_DIAGONAL_KM) == pytest.approx(geoscore(1000.0))
    with pytest.raises(ValueError):
        r.map_size_km([], [])


def test_map_size_across_the_antimeridian_is_the_narrow_box():
    # Fiji-like points on both sides of 180 degrees: 4 degrees wide, not 356
    s = r.map_size_km([-18.0, -16.0], [178.0, -178.0])
    assert s == pytest.approx(bbox_diagonal_km([-18.0, -16.0], [178.0, 182.0]), rel=1e-6)
    assert s < 600
