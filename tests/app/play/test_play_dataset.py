"""Play on the visitor's data set (issue 19, Play part): the picker's set is the one played (not the
default manifest), the empty state names the three routes, and nothing served in a round gives the
place away (no EXIF in the images, the demo set's credit under the photo but its Mapillary page only
after the reveal)."""
from __future__ import annotations

import io
import random
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app.play import game as g
from tests.app.play.playhelpers import gps_jpeg
from tests.app.play.test_play_app import MAIN, PAGE, ok, protos, start


def small_set(root: Path, cc: str, country: str, lat0: float, lon0: float, n: int, prefix: str,
              demo: bool = False) -> Path:
    """``n`` single-view test places (JPEGs with EXIF GPS) around (lat0, lon0); with ``demo`` the
    manifest carries the demo set's ``attribution`` and ``source_url`` columns."""
    rng = random.Random(prefix)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        lat, lon = round(lat0 + rng.uniform(-1, 1), 6), round(lon0 + rng.uniform(-1, 1), 6)
        name = f"images/{prefix}{i:02d}.jpg"
        (root / name).write_bytes(gps_jpeg((rng.randrange(256), 120, 60), lat, lon))
        row = {"image": name, "location_id": f"{prefix}-{i:02d}", "group_id": f"{prefix}-g{i:02d}", "source": "x",
               "view": 0, "heading": "", "lat": lat, "lon": lon, "country_code": cc, "country": country,
               "admin1": "", "split": "test"}
        if demo:
            row |= {"attribution": f"Photo from Mapillary, CC BY-SA 4.0, by @walker{i} (via OpenStreetView-5M)",
                    "source_url": f"https://www.mapillary.com/app/?pKey=99887766{i:02d}"}
        rows.append(row)
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


def page() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.switch_page(PAGE).run()
    return at


def test_play_plays_on_the_data_set_the_visitor_picked(play_env, isolated_datasets):
    small_set(isolated_datasets / "photos" / "trip", "JP", "Japan", 36.0, 138.0, 6, "trip")
    at = page()
    ok(at)
    pick = at.selectbox(key="play_dataset_select")  # the old page had no picker: it played the default manifest
    assert "Your photos: trip (6 photos)" in pick.options and pick.value == "env"
    pick.set_value("photos:trip").run()
    ok(at)
    assert at.selectbox(key="play_region").options == ["World (6 places)", "Asia (6 places)"]
    state = start(at, rounds=3)
    assert {r.location.location_id[:4] for r in state.rounds} == {"trip"}
    assert state.config.dataset == "photos:trip" and at.query_params["data"] == "photos:trip"
    x = state.current.location
    at.session_state["play_game"] = g.set_guess(state, x.lat, x.lon, time.time())
    at.run()
    at.button(key="play_submit").click().run()
    at.button(key="play_next").click().run()
    assert any("on Your photos: trip" in c.value for c in at.caption)  # the game says where it is played


def test_a_link_picks_its_data_set_for_this_visitor(play_env, isolated_datasets):
    small_set(isolated_datasets / "photos" / "trip", "JP", "Japan", 36.0, 138.0, 6, "trip")
    at = AppTest.from_file(MAIN, default_timeout=60)
    for k, v in {"seed": "abc", "region": "world", "rounds": "2", "data": "photos:trip"}.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(PAGE).run()
    ok(at)
    assert at.selectbox(key="play_dataset_select").value == "photos:trip"
    assert {r.location.location_id[:4] for r in start(at).rounds} == {"trip"}


def test_without_data_the_page_names_the_three_routes(play_env, monkeypatch):
    monkeypatch.delenv("GEOLOC_DATA")
    at = page()
    assert not at.exception, at.exception
    said = " ".join(w.value for w in at.warning)
    assert "Three ways to get one" in said, said
    text = protos(at, components=False)
    assert "make demo-data" in text and "python -m model.collect photos" in text and "GEOLOC_DATA" in text
    assert "play_game" not in at.session_state and not at.get("form")


@pytest.fixture
def served(monkeypatch) -> dict[str, bytes]:
    """{media file id: bytes} of every file the app hands to the browser (images included)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    got: dict[str, bytes] = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        fid = real(self, path_or_data, mimetype, kind, filename)
        got[fid] = path_or_data if isinstance(path_or_data, bytes) else Path(path_or_data).read_bytes()
        return fid

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return got


def image_bytes(at: AppTest, served: dict[str, bytes]) -> list[bytes]:
    return [served[Path(i.proto.imgs[0].url).stem] for i in at.get("image")]


def test_a_demo_round_serves_no_exif_and_links_the_photo_page_only_after_the_reveal(play_env, isolated_datasets,
                                                                                    served):
    small_set(isolated_datasets / "demo", "FR", "France", 46.5, 2.5, 8, "demo", demo=True)
    at = page()
    at.selectbox(key="play_dataset_select").set_value("demo").run()
    ok(at)
    state = start(at, rounds=2)
    x = state.current.location
    blobs = image_bytes(at, served)
    assert blobs and all(b.startswith(b"\xff\xd8") for b in blobs)
    for b in blobs:  # the files carry GPS in EXIF; what is served carries no EXIF at all
        assert not Image.open(io.BytesIO(b)).getexif() and b"Exif" not in b and b"GPS" not in b
    before = protos(at)
    assert x.credits[0] in before  # the licence's credit line is under the photo...
    assert "OpenStreetView-5M" in before and "CC BY-SA 4.0" in before
    for other in (x.source_urls[0], x.location_id, f"{x.lat:.4f}", f"{x.lon:.4f}", "pKey=99887766"):
        assert other not in before, other  # ...but not its Mapillary page: that shows the place
    at.session_state["play_game"] = g.set_guess(state, x.lat, x.lon, time.time())
    at.run()
    at.button(key="play_submit").click().run()
    ok(at)
    after = protos(at, components=False)
    assert x.source_urls[0] in after and "its page" in after  # the page, now that the answer is out
    assert all(not Image.open(io.BytesIO(b)).getexif() for b in image_bytes(at, served))
