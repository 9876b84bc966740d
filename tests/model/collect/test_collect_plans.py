"""Sampling plans, cost estimate, journal, rate limiter and grouping: the collector's parts."""
from __future__ import annotations

import collections
import json
import threading

import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from model.collect import cost, plans, regions
from model.collect.groups import group_ids, grouped_split, parse_fractions
from model.collect.journal import Journal, atomic_write_bytes, clean_temp_files
from model.collect.ratelimit import RateLimiter
from model.geo import haversine_km
from model.data.revgeo import reverse_geocode


def inside(code: str, pts) -> np.ndarray:
    return shapely.contains_xy(regions.country_area(code).geom, [p.lon for p in pts], [p.lat for p in pts])


def test_countries_plan_uniform_inside_each_country():
    pts = plans.countries_plan(["HR", "SI", "FJ"], 40, seed=5)
    by = collections.defaultdict(list)
    for p in pts:
        by[p.region].append(p)
    assert {k: len(v) for k, v in by.items()} == {"HR": 40, "SI": 40, "FJ": 40}
    for code, ps in by.items():
        assert inside(code, ps).all()
    assert len({p.point_id for p in pts}) == 120
    assert plans.countries_plan(["HR", "SI", "FJ"], 40, seed=5) == pts  # deterministic
    assert plans.countries_plan(["HR", "SI", "FJ"], 40, seed=6) != pts


def test_sampling_is_equal_area_not_equal_degree():
    # Norway spans 58-71 N: equal-area sampling puts fewer points in the north than a flat
    # lat/lon sampler would; compare with the polygon's own area split at 64 N.
    geom = regions.country_area("NO").geom
    lat = regions.sample_in(geom, 4000, np.random.default_rng(0))[:, 0]
    south = shapely.intersection(geom, shapely.box(-180, -90, 180, 64))
    north = shapely.intersection(geom, shapely.box(-180, 64, 180, 90))
    a_s = sum(regions.spherical_area_km2(p) for p in getattr(south, "geoms", [south]))
    a_n = sum(regions.spherical_area_km2(p) for p in getattr(north, "geoms", [north]))
    assert abs((lat < 64).mean() - a_s / (a_s + a_n)) < 0.04


def test_admin1_plan_fills_every_region():
    pts = plans.admin1_plan(["HR"], 4, seed=0, warn=lambda m: None)
    regions_hr = regions.admin1_names("HR")
    assert len(regions_hr) == 21 and len(pts) == 21 * 4
    labels = reverse_geocode([p.lat for p in pts], [p.lon for p in pts])
    assert all(f"HR:{lab['admin1']}" == p.region for p, lab in zip(pts, labels))
    assert inside("HR", pts).all()


def test_admin1_plan_reports_regions_it_cannot_fill():
    warnings = []
    pts = plans.admin1_plan(["US"], 1, seed=0, max_draw_factor=3, warn=warnings.append)
    assert warnings and "Washington, D.C." in warnings[0]
    assert 40 <= len(pts) < 51


def test_grid_plan_h3_cells_and_latlon_grid():
    pts = plans.grid_plan(["SI"], per_cell=2, seed=1, cell_km=25)
    res = plans.h3_res_for(25)
    cells = plans.grid_cells(["SI"], h3_res=res)
    assert res == 4 and len(cells) >= 10 and len(pts) == 2 * len(cells)
    for p in pts:
        assert h3.latlng_to_cell(p.lat, p.lon, res) == p.region
    assert inside("SI", pts).all()
    assert collections.Counter(p.region for p in pts).most_common(1)[0][1] <= 2
    sq = plans.grid_plan(["LI"], per_cell=3, grid_deg=0.05)
    assert sq and inside("LI", sq).all()
    for p in sq:
        _, i, j = p.region.split(":")
        assert int(i) * 0.05 <= p.lat <= (int(i) + 1) * 0.05 and int(j) * 0.05 <= p.lon <= (int(j) + 1) * 0.05


def test_world_plan_is_on_land_and_spread():
    pts = plans.world_plan(200, seed=2)
    assert len(pts) == 200
    assert shapely.contains_xy(regions.land(), [p.lon for p in pts], [p.lat for p in pts]).all()
    assert min(p.lat for p in pts) > -60  # no Antarctica
    labels = reverse_geocode([p.lat for p in pts], [p.lon for p in pts])
    assert len({lab["country_code"] for lab in labels}) > 40


def test_plan_csv_roundtrip(tmp_path):
    pts = plans.countries_plan(["SI"], 7)
    plans.write_plan(pts, tmp_path / "plan.csv")
    assert plans.read_plan(tmp_path / "plan.csv") == pts


def test_country_labels():
    assert regions.parse_countries("hr, Slovenia,AUT,uk,United States,HR") == ["HR", "SI", "AT", "GB", "US"]
    with pytest.raises(regions.RegionError, match="unknown country"):
        regions.to_country_code("Narnia")


def test_cost_estimate_numbers():
    e = cost.estimate(100, 4)
    assert (e.metadata_requests, e.image_requests) == (100, 400)
    assert e.cost_usd == pytest.approx(2.80) and e.full_cost_usd == pytest.approx(2.80)
    r = cost.estimate(100, 4, points_done=60, panos_pending_images=3, images_done=200, price_per_1000=5.6)
    assert (r.metadata_requests, r.image_requests) == (40, 163)
    assert r.cost_usd == pytest.approx(163 * 5.6 / 1000) and "Already done: 200 images" in r.summary()
    with pytest.raises(ValueError):
        cost.estimate(10, 0)


def test_journal_survives_a_torn_last_line(tmp_path):
    p = tmp_path / "journal.jsonl"
    j = Journal(p)
    assert j.claim("a", "PANO1", 1.0, 2.0, "2020-01", "©") is True
    assert j.claim("b", "PANO1", 1.0, 2.0, "2020-01", "©") is False  # duplicate panorama
    j.append({"e": "image", "pano": "PANO1", "view": 0, "heading": 0, "file": "images/x_0.jpg"})
    j.close()
    with open(p, "a") as f:
        f.write('{"e":"image","pano":"PANO1","vi')  # killed mid-write
    j2 = Journal(p)
    assert j2.state.points == {"a": "OK", "b": "DUPLICATE"} and list(j2.state.images) == [("PANO1", 0)]
    j2.append({"e": "point", "point": "c", "status": "ZERO_RESULTS"})
    j2.close()
    lines = [json.loads(x) for x in p.read_text().splitlines()]  # every line parses again
    assert len(lines) == 4 and lines[-1]["point"] == "c"


def test_concurrent_claims_give_one_winner(tmp_path):
    j = Journal(tmp_path / "journal.jsonl")
    wins = []
    threads = [threading.Thread(target=lambda k=k: wins.append(j.claim(f"p{k}", "SAME", 0, 0, "", "")))
               for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    j.close()
    assert wins.count(True) == 1 and Journal.read_state(tmp_path / "journal.jsonl").points.__len__() == 16


def test_atomic_write_and_temp_cleanup(tmp_path):
    atomic_write_bytes(tmp_path / "images" / "a.jpg", b"data")
    assert (tmp_path / "images" / "a.jpg").read_bytes() == b"data"
    (tmp_path / "images" / ".tmp-abc.jpg").write_bytes(b"half")
    assert clean_temp_files(tmp_path) == 1 and [p.name for p in (tmp_path / "images").iterdir()] == ["a.jpg"]


def test_rate_limiter_paces_and_adapts():
    t = [0.0]
    lim = RateLimiter(10, burst=1, clock=lambda: t[0], sleep=lambda s: t.__setitem__(0, t[0] + s))
    for _ in range(21):
        lim.acquire()
    assert t[0] == pytest.approx(2.0, abs=0.05)  # 10 per second after the first
    lim.slow_down()
    assert lim.rate == 5 and lim.slowdowns == 1
    start = t[0]
    for _ in range(10):
        lim.acquire()
    assert t[0] - start >= 1.7  # about 5 per second now
    for _ in range(50):
        lim.ok()
    assert lim.rate == 10
    free = RateLimiter(0)
    free.acquire()  # unlimited: returns at once


def test_group_ids_chain_within_1km():
    # a chain 0.8 km apart forms one group; a point 5 km away is alone; no coordinates: alone
    lat0, lon0 = 45.0, 15.0
    dlat = 0.8 / 111.2
    lats = [lat0, lat0 + dlat, lat0 + 2 * dlat, lat0 + 5 / 111.2, np.nan]
    lons = [lon0] * 4 + [np.nan]
    ids = ["a", "b", "c", "d", "e"]
    g = group_ids(ids, lats, lons)
    assert g[0] == g[1] == g[2] and len({g[0], g[3], g[4]}) == 3
    assert haversine_km(lats[0], lons[0], lats[1], lons[1]) < 1
    assert group_ids(ids[::-1], lats[::-1], lons[::-1])[::-1] == g  # independent of row order


def test_grouped_split_keeps_groups_and_strata():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"group_id": [f"g{i // 3}" for i in range(300)],
                       "country_code": ["HR" if i < 150 else "SI" for i in range(300)]})
    df["noise"] = rng.random(300)
    split = grouped_split(df, (0.8, 0.1, 0.1), seed=1)
    assert df.assign(s=split).groupby("group_id")["s"].nunique().eq(1).all()
    for cc in ("HR", "SI"):
        share = split[df["country_code"] == cc].value_counts(normalize=True)
        assert share["train"] == pytest.approx(0.8, abs=0.05) and share["test"] == pytest.approx(0.1, abs=0.05)
    assert (grouped_split(df, (0.8, 0.1, 0.1), seed=1) == split).all()
    assert parse_fractions("80/10/10") == (0.8, 0.1, 0.1)
    with pytest.raises(ValueError):
        parse_fractions("0.8,0.2")


@pytest.mark.parametrize("label", ["XX", "SW", "EU", "other", "None", "nan", "0", "Africa", "America", "Korea"])
def test_labels_that_are_not_one_country_are_refused(label):
    # a fuzzy match once turned "XX" into Malta and "other" into the United Kingdom
    with pytest.raises(regions.RegionError, match="unknown country"):
        regions.to_country_code(label)


@pytest.mark.parametrize("label,code", [("Bosnia", "BA"), ("Bosnia_and_Herzegovina", "BA"), ("south_korea", "KR"),
                                        ("Macau", "MO"), ("Cote d'Ivoire", "CI"), ("HRV", "HR"), ("Vatican", "VA")])
def test_country_names_and_codes(label, code):
    assert regions.to_country_code(label) == code


def test_a_stop_request_ends_the_wait_for_a_token():
    # Ctrl-C must not leave workers queued at a slowed-down limiter, each still sending its request later.
    import threading

    t = [0.0]
    stop = threading.Event()

    def sleep(s):
        t[0] += s
        if t[0] > 3:
            stop.set()  # Ctrl-C arrives while the workers wait

    lim = RateLimiter(0.1, burst=1, clock=lambda: t[0], sleep=sleep)
    assert lim.acquire(stop) is True  # the saved-up token
    assert lim.acquire(stop) is False and t[0] < 5  # gave up within a second of the stop, no token taken
    assert RateLimiter(0).acquire(stop) is False


@pytest.mark.parametrize("argv,needle", [
    (["--countries", ""], "--countries is empty"), (["--grid", "MT", "--cell-km", "0"], "--cell-km"),
    (["--countries", "MT", "--workers", "0"], "--workers"), (["--countries", "MT", "--rate", "-1"], "--rate"),
    (["--grid", "MT", "--h3-res", "20"], "--h3-res"), (["--countries", "XX"], "unknown country 'XX'"),
])
def test_collector_options_are_checked_before_anything_runs(argv, needle, tmp_path, capsys):
    from tests.model.collect.helpers import run_main

    code, _, err = run_main(["streetview", *argv, "--dry-run", "--out", str(tmp_path / "o")], capsys)
    assert code != 0 and needle in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
