"""Play page glue: held-out locations, leak-free views, the model's move, maps and tables."""
from __future__ import annotations

import io
import re
from types import SimpleNamespace

import folium
import numpy as np
import pytest
from PIL import Image

from app.play import areas
from app.play import game as g
from app.play import logic as pl
from app.play.summary import summary_map
from model.data.manifest import read_manifest
from model.geo import haversine_km
from model.net.retrieval import Gallery
from tests.app.play.playhelpers import COUNTRIES, TRAIN_GROUP, loc


@pytest.fixture(scope="module")
def playable(dataset):
    return pl.playable_locations(read_manifest(dataset), {TRAIN_GROUP})


def test_only_held_out_test_locations_with_coordinates(dataset, playable):
    ids = {x.location_id for x in playable}
    assert len(playable) == sum(c[4] for c in COUNTRIES) - 1
    assert "loc-HR-00" not in ids  # its group is a training group
    assert not any(i.startswith(("shot-", "train-")) for i in ids)  # label-only screenshots, train split
    assert all(len(x.paths) == 4 and x.headings == (0.0, 90.0, 180.0, 270.0) for x in playable)
    everything = pl.playable_locations(read_manifest(dataset))
    assert len(everything) == len(playable) + 1


def test_missing_image_files_are_skipped(dataset, tmp_path):
    df = read_manifest(dataset)
    df.loc[df["location_id"] == "loc-FR-01", "path"] = str(tmp_path / "gone.jpg")
    ids = {x.location_id for x in pl.playable_locations(df)}
    assert "loc-FR-01" not in ids and "loc-FR-02" in ids


def test_a_manifest_without_coordinates_has_nothing_to_play(dataset):
    """Test places labelled with a country only: no playable location (this raised KeyError: the empty
    list mask of the file check selected no columns, and the Play page crashed)."""
    df = read_manifest(dataset).assign(lat=np.nan, lon=np.nan)
    assert pl.playable_locations(df) == []


def test_load_playable_caches_and_follows_training_groups(dataset):
    a = pl.load_playable({TRAIN_GROUP}, dataset)
    assert a == pl.load_playable([TRAIN_GROUP], dataset)
    assert len(pl.load_playable(set(), dataset)) == len(a) + 1


def test_views_are_reencoded_without_metadata(playable):
    x = playable[0]
    raw = open(x.paths[0], "rb").read()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)  # the source carries GPS
    img, blob = pl.load_view(x.paths[0], 0)
    assert img.mode == "RGB" and img.size == (96, 96)
    out = Image.open(io.BytesIO(blob))
    assert out.format == "JPEG" and not out.getexif() and "exif" not in out.info
    assert x.location_id.encode() not in blob


def test_unreadable_view_error_names_the_view_not_the_file(tmp_path):
    p = tmp_path / "loc-secret-place_2.jpg"
    p.write_bytes(b"not a jpeg")
    for path in (p, tmp_path / "missing-secret.jpg"):
        with pytest.raises(ValueError) as e:
            pl.load_view(str(path), 2)
        assert "view 3" in str(e.value) and "secret" not in str(e.value)


@pytest.mark.parametrize("h,label", [(0, "facing N (0°)"), (90, "facing E (90°)"), (200, "facing S (200°)"),
                                     (359, "facing N (359°)"), (-90, "facing W (270°)"), (None, ""),
                                     (float("nan"), "")])
def test_heading_label(h, label):
    assert pl.heading_label(h) == label


def test_view_caption():
    assert pl.view_caption(1, 4, 90.0) == "View 2 of 4 · facing E (90°)"
    assert pl.view_caption(0, 1, None) == "View 1 of 1"


def fake_pred(cells, best=(48.0, 2.0)):
    top = [SimpleNamespace(cell_id=i, name=n, country_code=cc, country=c, lat=la, lon=lo, prob=p)
           for i, (n, cc, c, la, lo, p) in enumerate(cells)]
    return SimpleNamespace(top=top, best_lat=best[0], best_lon=best[1])


CELLS = [("Paris", "FR", "France", 48.9, 2.3, 0.6), ("Zagreb", "HR", "Croatia", 45.8, 16.0, 0.25),
         ("Split", "HR", "Croatia", 43.5, 16.4, 0.1), ("Denver", "US", "United States", 39.7, -105.0, 0.05)]


def test_world_model_move_is_the_expected_score_guess():
    m = pl.model_move(fake_pred(CELLS, best=(48.0, 2.5)), "world", None)
    assert (m.lat, m.lon) == (48.0, 2.5) and m.cell_id == 0
    assert [t[0] for t in m.top] == ["Paris", "Zagreb", "Split"]


def test_region_model_move_is_told_the_region():
    m = pl.model_move(fake_pred(CELLS), "country:HR", 600.0)
    assert (m.lat, m.lon) == (45.8, 16.0) and m.cell_id == 1  # the best Croatian cell, not Paris
    assert [t[0] for t in m.top] == ["Zagreb", "Split"]
    assert sum(t[2] for t in m.top) == pytest.approx(1.0)  # renormalised within the region
    eu = pl.model_move(fake_pred(CELLS), "continent:EU", 3000.0)
    assert eu.cell_id == 0
    # no cell in the region: the world answer (in France) moved to the nearest point of the region
    us = pl.model_move(fake_pred(CELLS[:3], best=(47.0, 5.0)), "country:US", 4000.0)
    assert areas.contains("country:US", us.lat, us.lon)[0] and us.lon > -80  # the US east coast, not Alaska


def test_region_model_move_never_leaves_the_region():
    # issue 14: in a Croatia game the model's pin landed in Slovenia (45.8734, 15.5467), the position of a
    # Croatian cell near the border; the pin must stay in Croatia, as close as possible to that spot
    cells = [("Samobor", "HR", "Croatia", 45.8734, 15.5467, 0.9), ("Split", "HR", "Croatia", 43.51, 16.44, 0.1)]
    assert not areas.contains("country:HR", 45.8734, 15.5467)[0]
    m = pl.model_move(fake_pred(cells, best=(46.05, 14.5)), "country:HR", 600.0)  # best: Ljubljana
    assert areas.contains("country:HR", m.lat, m.lon)[0]
    assert haversine_km(m.lat, m.lon, 45.8734, 15.5467) < 15 and m.cell_id == 0
    # a gallery of training places: a real place in the region near the likely cell beats the moved cell
    # position; one in Slovenia (at the cell's very position) is never the pin
    gallery = Gallery(np.zeros((2, 4), np.float32), np.array([45.82, 45.8734]), np.array([15.56, 15.5467]),
                      np.array([0, 0]), np.array([0, 0]))
    g2 = pl.model_move(fake_pred(cells, best=(46.05, 14.5)), "country:HR", 600.0, gallery=gallery)
    assert (g2.lat, g2.lon) == (45.82, 15.56) and g2.cell_id == 0
    # a continent: a cell whose position its offset moved out to sea (off Sydney) gives a pin on land
    oc = [("Sydney", "AU", "Australia", -34.0, 151.6, 0.9), ("Auckland", "NZ", "New Zealand", -36.85, 174.76, 0.1)]
    m = pl.model_move(fake_pred(oc, best=(-36.0, 160.0)), "continent:OC", 8000.0)
    assert areas.contains("continent:OC", m.lat, m.lon)[0] and haversine_km(m.lat, m.lon, -34.0, 151.6) < 60


def test_region_model_move_maximises_expected_score():
    # two Croatian cells at 0.34 each close together beat a lone 0.32 one far away (expected score)
    cells = [("A", "HR", "Croatia", 42.6, 18.1, 0.32), ("B", "HR", "Croatia", 45.8, 16.0, 0.34),
             ("C", "HR", "Croatia", 45.9, 16.1, 0.34)]
    m = pl.model_move(fake_pred(cells), "country:HR", 600.0)
    assert m.cell_id in (1, 2)


def test_region_bounds(playable):
    assert pl.region_bounds(playable, "world") == []
    (s, w), (n, e) = pl.region_bounds(playable, "country:HR")
    hr = [x for x in playable if x.country_code == "HR"]
    assert all(s <= x.lat <= n and w <= x.lon <= e for x in hr)
    assert all(float(v).is_integer() for v in (s, w, n, e))  # whole degrees: no location's coordinates
    assert n - s <= 4 and e - w <= 6


def test_guess_map_shows_nothing_of_the_round(playable):
    def numbers(html: str) -> set[float]:
        return {float(x) for x in re.findall(r"-?\d+\.\d+", html)}

    world = pl.guess_map([]).get_root().render()
    html = pl.guess_map(pl.region_bounds(playable, "country:HR")).get_root().render()
    extra = numbers(html) - numbers(world)  # the borders layer is full of numbers: look at what the region adds
    assert extra, "the region framing should add its bounds"
    coords = [v for x in playable for v in (x.lat, x.lon)]
    assert not [v for v in extra if any(abs(v - c) < 1e-3 for c in coords)]
    assert 'class="geo-pin' not in html and 'class="geo-pin' not in world  # no marker at all
    assert "fitBounds" in html and "fitBounds" not in world


def test_pin_layer():
    def html(guess):
        m = folium.Map(tiles=None)
        pl.pin_layer(guess).add_to(m)
        return m.get_root().render()

    assert "geo-marker-guess" in html((45.0, 16.0)) and "[45.0, 16.0]" in html((45.0, 16.0))
    assert "geo-marker" not in html(None)


def test_reveal_map_has_the_three_pins_and_two_lines():
    locs = [loc(i, "HR", 45 + i * 0.1, 16.0) for i in range(4)]
    st = g.new_game(g.GameConfig(seed="t", region="country:HR", n_rounds=2), locs, 0.0)
    t = st.current.location
    st = g.submit(g.set_guess(st, t.lat + 0.2, t.lon, 1.0), g.ModelMove(t.lat, t.lon + 0.5, (), 3), 2.0)
    html = pl.reveal_map(st.results[0]).get_root().render()
    for kind in ("truth", "guess", "best"):
        assert f"geo-marker-{kind}" in html
    assert pl.REVEAL_LEGEND == ("truth", "guess", "best")
    assert html.count("L.polyline") == 2
    r = st.results[0]
    assert f"{r.truth[0]}" in html  # the truth is shown only after the reveal


def test_scoring_note():
    assert "1492.7" in pl.scoring_note(None)
    assert "S = 612 km" in pl.scoring_note(612.3)


def test_place_words_name_the_town_and_its_region():
    assert pl.place_words(43.508, 16.44, "HR", "Croatia") == "near Split, Splitsko-Dalmatinska, Croatia"
    assert pl.place_words(42.03, -93.63, "US", "United States") == "near Ames, Iowa, United States"
    # the nearest town is across the border: the place's own country stays last
    assert pl.place_words(45.85, 15.52, "HR", "Croatia") == "near Brezice (Slovenia), Croatia"


def test_summary_map_shows_every_round_numbered():
    locs = [loc(i, "HR", 45 + i * 0.3, 16.0) for i in range(4)]
    st = g.new_game(g.GameConfig(seed="t", region="country:HR", n_rounds=3, time_limit_s=10), locs, 0.0)
    for i in range(3):
        t = st.current.location
        if i != 1:  # round 2: no pin (time ran out)
            st = g.set_guess(st, t.lat + 0.2, t.lon, st.started_at + 1)
        st = g.submit(st, g.ModelMove(t.lat, t.lon + 0.5, (), 3), st.started_at + (2 if i != 1 else 100))
        st = g.next_round(st, st.started_at + 200)
    html = summary_map(st.results, lambda r: f"near Town{r.index + 1}, Croatia").get_root().render()
    for n in (1, 2, 3):
        assert f"Round {n}: near Town{n}, Croatia" in html and f"Round {n}, model:" in html
    assert "Round 1, you:" in html and "Round 3, you:" in html and "Round 2, you:" not in html
    assert html.count("geo-marker-truth") == 3 and html.count("geo-marker-best") == 3
    assert html.count("geo-marker-guess") == 2 and html.count("L.polyline") == 5  # a line per pin
    pins = re.findall(r"geo-pin geo-(\w+)\\\" style=[^\n]*?\\u003e(\w+)\\u003c/div", html)  # (kind, text)
    want = [("truth", n) for n in "123"] + [("best", n) for n in "123"] + [("guess", "1"), ("guess", "3")]
    assert sorted(pins) == sorted(want)
