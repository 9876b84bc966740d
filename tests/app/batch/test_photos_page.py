"""The "Your photos" page in AppTest (through app/main.py, the shipped model): a zip of twelve held-out
views with EXIF GPS -> imported with a progress bar into this session's folder, every photo on one map,
filters, the three downloads; the copies carry no EXIF (also once saved into data/photos); bad uploads
are refused with the reason and leave nothing behind."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.common import datasets as ds
from model.data.metadata import metadata_found
from model.export.formats import to_csv, to_geojson, to_kml
from tests.app.apphelpers import MAIN
from tests.app.batch.batch_helpers import gps_zip, zip_of
from tests.model.export.photo_helpers import heldout_views, photo

TIMEOUT = 300


def open_page(data: Path) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.switch_page("app_pages/photos.py").run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    at.file_uploader(key="photos_upload").set_value(
        [(n, b, "application/zip" if n.endswith(".zip") else "image/jpeg") for n, b in files]).run()
    next(b for b in at.button if b.label.startswith("Import")).click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "repo" / "data"
    d.mkdir(parents=True)
    monkeypatch.setattr(ds, "DATA", d)
    monkeypatch.setattr(ds, "SETTINGS", d / "app_settings.json")
    return d


@pytest.fixture(scope="module")
def twelve(tmp_path_factory, model_env):
    """One page run on the twelve-photo zip, shared by the tests below (a module-wide data folder)."""
    d = tmp_path_factory.mktemp("repo") / "data"
    d.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ds, "DATA", d)
        mp.setattr(ds, "SETTINGS", d / "app_settings.json")
        blob, views = gps_zip(12, extra={"notes.txt": b"not a photo"})
        at = upload(open_page(d), ("holiday.zip", blob))
        yield at, d, views


def test_twelve_photos_on_one_map_with_table_and_filters(twelve):
    at, d, views = twelve
    assert not at.error
    assert "12 photos" in at.success[0].value and "12 with GPS" in at.success[0].value
    assert {m.label: m.value for m in at.metric}["With GPS"] == "12"
    table = at.dataframe[-1].value
    assert len(table) == 12 and {"Photo", "Predicted country", "Error (km)", "GPS lat"} <= set(table.columns)
    assert sorted(table["Photo"]) == sorted(views["name"])
    for _, v in views.iterrows():
        row = table[table["Photo"] == v["name"]].iloc[0]
        assert abs(row["GPS lat"] - v["lat"]) < 1e-4 and abs(row["GPS lon"] - v["lon"]) < 1e-4
    assert any("Showing 12 of 12" in c.value for c in at.caption)
    assert at.session_state["photos_batch"].with_gps == 12


def test_downloads_hold_what_is_shown(twelve):
    at, d, views = twelve
    labels = [b.label for b in at.get("download_button")]
    assert labels == [f"Download {x} (12 photos)" for x in ("GEOJSON", "KML", "CSV")]
    res = at.session_state["photos_batch"].result
    gj = json.loads(to_geojson(res))
    assert len(gj["features"]) == 12
    assert all({"exif_lat", "exif_lon", "error_km"} <= set(f["properties"]) for f in gj["features"])
    assert ET.fromstring(to_kml(res)).tag.endswith("kml")
    assert len(to_csv(res).strip().splitlines()) == 13

    at.radio(key="photos_f_gps").set_value("Without GPS").run()
    assert any("Showing 0 of 12" in c.value for c in at.caption)
    assert [b.label for b in at.get("download_button")][0] == "Download GEOJSON (0 photos)"
    at.radio(key="photos_f_gps").set_value("All photos").run()
    country = at.multiselect(key="photos_f_country").options[0]
    at.multiselect(key="photos_f_country").select(country).run()
    n = int(next(c.value for c in at.caption if c.value.startswith("Showing")).split()[1])
    assert 1 <= n <= 12 and len(at.dataframe[-1].value) == n
    at.multiselect(key="photos_f_country").unselect(country).run()
    lo, hi = at.slider(key="photos_f_err").value
    at.slider(key="photos_f_err").set_range(lo, (lo + hi) / 2).run()
    shown = at.dataframe[-1].value
    assert len(shown) < 12 and (shown["Error (km)"] <= (lo + hi) / 2).all()


def test_the_copies_carry_no_exif_and_are_this_sessions(twelve):
    at, d, views = twelve
    batch = at.session_state["photos_batch"]
    assert batch.folder.is_relative_to(d / ".uploads") and len(batch.images) == 12
    for p in batch.images.values():
        data = p.read_bytes()
        assert metadata_found(data) == [] and b"GPS" not in data[:4096]
    assert batch.key in [x.key for x in ds.available_datasets({ds.UPLOADS_KEY: at.session_state[ds.UPLOADS_KEY]})]
    assert not (d / "photos").exists()  # nothing for every visitor without the explicit save
    assert list(Path(d).rglob("notes.txt")) == []


def test_use_in_play_and_save_for_everyone(twelve):
    at, d, views = twelve
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ds, "DATA", d)
        mp.setattr(ds, "SETTINGS", d / "app_settings.json")
        at.button(key="photos_use").click().run()
        assert at.session_state[ds.SESSION_KEY] == at.session_state["photos_batch"].key
        at.text_input(key="photos_save_name").input("../evil").run()
        at.button(key="photos_save").click().run()
        assert "cannot name a folder" in at.error[0].value and not (d / "photos").exists()
        at.text_input(key="photos_save_name").input("holiday").run()
        at.button(key="photos_save").click().run()
        assert not at.error and at.session_state[ds.SESSION_KEY] == "photos:holiday"
        images = list((d / "photos" / "holiday" / "images").glob("*.jpg"))
        assert len(images) == 12
        assert all(metadata_found(p.read_bytes()) == [] for p in images)  # data/photos carries no EXIF
        assert "photos:holiday" in [x.key for x in ds.available_datasets({})]  # every visitor's now
        at.button(key="photos_save").click().run()
        assert "exists already" in at.error[0].value


def test_zip_slip_names_stay_inside_and_are_noted(data, model_env):
    v = heldout_views(2)
    blob = zip_of({"../../outside.jpg": photo(v.path[0], v.lat[0], v.lon[0]), "/abs/x.jpg": photo(v.path[1])})
    at = upload(open_page(data), ("evil.zip", blob))
    assert not at.error and "2 photos" in at.success[0].value
    assert any("leaves the archive" in c.value for c in at.caption)
    root = data.parent.parent
    assert not (root / "outside.jpg").exists() and not (data.parent / "outside.jpg").exists()
    assert all(p.is_relative_to(data) for p in at.session_state["photos_batch"].images.values())


def test_a_zip_bomb_is_refused_with_the_reason(data, model_env):
    blob = zip_of({"big.jpg": bytes(4 << 20)}, zipfile.ZIP_DEFLATED)
    at = upload(open_page(data), ("bomb.zip", blob))
    assert "could not be imported" in at.error[0].value and "times" in at.error[0].value
    assert "photos_batch" not in at.session_state and not list((data / ".uploads").rglob("*.jpg"))


def test_no_gps_broken_exif_and_a_corrupt_file(data, model_env):
    v = heldout_views(3)
    broken = photo(v.path[1], gps_ifd={1: "N", 2: (1, 2, 3, 4), 3: "Q"})
    at = upload(open_page(data), ("a.jpg", photo(v.path[0])), ("b.jpg", broken), ("c.jpg", b"\xff\xd8 not really"))
    assert not at.error and "None of these photos has a GPS position" in at.info[-1].value
    assert {m.label: m.value for m in at.metric}["With GPS"] == "0"
    body = " ".join(e.label for e in at.expander)
    assert "skipped" in body  # c.jpg is named with its reason
    assert not at.slider  # no error range without GPS



def test_not_a_photo_is_named_on_the_page(data, model_env):
    at = upload(open_page(data), ("notes.txt", b"hello"), ("a.jpg", b"x"))
    assert "Not a photo or a zip: notes.txt" in at.error[0].value and "photos_batch" not in at.session_state


def test_images_under_this_checkouts_data_photos_carry_no_exif():
    """Whatever the app or the importer left under data/photos and data/.uploads of this checkout: no image
    there carries EXIF, XMP or any other metadata segment (skipped when there is none)."""
    from tests.shared import REPO

    images = [p for d in ("photos", ".uploads") for p in (REPO / "data" / d).rglob("*")
              if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file()]
    if not images:
        pytest.skip("no images under data/photos or data/.uploads here")
    assert [p for p in images if metadata_found(p.read_bytes())] == []


@pytest.mark.parametrize("heif", [True, False])
def test_the_upload_names_heic_only_as_far_as_this_machine_reads_it(data, monkeypatch, heif):
    """HEIC is read through pi-heif: where it is missing the label says so (the walk found the page promising
    HEIC on a machine that refused it)."""
    from model.data import photofiles

    monkeypatch.setattr(photofiles, "heif_available", lambda: heif)
    label = open_page(data).file_uploader(key="photos_upload").label
    assert ("HEIC with pi-heif installed" in label) != heif and "HEIC" in label
