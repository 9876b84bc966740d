"""Which data set the pages use (app.common.datasets): what exists, the session's choice, the server's
remembered default, custom paths checked with clear messages; all in temporary folders, no GEOLOC_* set."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.common import datasets as ds
from model.data.manifest import ManifestError


def manifest(folder: Path, rows: int = 2, header: str = "image,lat,lon") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "manifest.csv"
    p.write_text(header + "\n" + "".join(f"images/{k}.jpg,45.0,16.0\n" for k in range(rows)))
    return p


def test_nothing_on_the_machine_names_the_three_routes(where):
    s: dict = {}
    assert ds.available_datasets(s) == [] and ds.active_dataset(s) is None
    with pytest.raises(ManifestError) as e:
        ds.active_manifest(s)
    msg = str(e.value)
    assert "Your photos" in msg and "python -m model.collect photos" in msg  # 1. your photos
    assert "make demo-data" in msg and "Download the demo set" in msg      # 2. the demo set
    assert "GEOLOC_DATA" in msg and "picker" in msg                        # 3. a manifest or shard folder


def test_everything_found_in_order_with_the_demo_credit(where, monkeypatch):
    data = ds.DATA
    env = manifest(where / "elsewhere")
    monkeypatch.setenv("GEOLOC_DATA", str(env.parent))
    manifest(data)
    manifest(ds.SHARED)
    manifest(data / "photos")
    manifest(data / "photos" / "holiday", rows=3)
    manifest(data / "photos" / ".hidden")
    (data / "photos" / "empty").mkdir()
    manifest(data / "demo", rows=5)
    found = ds.available_datasets({})
    assert [d.key for d in found] == ["env", "data", "shared", "photos", "photos:holiday", "demo"]
    assert [d.kind for d in found] == ["env", "data", "shared", "photos", "photos", "demo"]
    by = {d.key: d for d in found}
    assert by["env"].manifest == env.resolve() and all(d.manifest.is_absolute() for d in found)
    assert "3 photos" in by["photos:holiday"].label and "5 photos" in by["demo"].label
    assert "CC BY-SA 4.0" in by["demo"].attribution and "Mapillary" in by["demo"].attribution
    assert by["shared"].attribution is None
    assert ds.active_dataset({}).key == "env"  # model.data.manifest.default_manifest_path's order
    monkeypatch.delenv("GEOLOC_DATA")
    assert ds.active_dataset({}).key == "data"


def test_a_newcomer_with_only_photos_or_the_demo_gets_them(where):
    manifest(ds.DATA / "demo")
    assert ds.active_dataset({}).key == "demo"
    manifest(ds.DATA / "photos" / "trip")
    assert ds.active_dataset({}).key == "photos:trip"  # your photos before the demo set


def test_geoloc_data_naming_a_listed_folder_is_listed_once(where, monkeypatch):
    demo = manifest(ds.DATA / "demo")
    monkeypatch.setenv("GEOLOC_DATA", str(demo))
    assert [d.key for d in ds.available_datasets({})] == ["env"]


def test_session_choice_then_remembered_default_then_fallback(where):
    manifest(ds.DATA)
    manifest(ds.DATA / "demo")
    a, b = {}, {}
    assert ds.active_dataset(a).key == "data"
    ds.choose("demo", a)
    assert a[ds.SESSION_KEY] == "demo" and ds.active_dataset(a).key == "demo"
    assert ds.active_dataset(b).key == "data"  # one visitor's choice is theirs
    assert not ds.SETTINGS.exists()  # nothing written without the explicit tick
    ds.remember_default("demo")
    assert json.loads(ds.SETTINGS.read_text())["dataset"] == "demo"
    assert ds.active_dataset(b).key == "demo" and ds.active_manifest(b) == (ds.DATA / "demo" / "manifest.csv").resolve()
    ds.choose("data", b)
    assert ds.active_dataset(b).key == "data"
    ds.remember_default(None)
    assert ds.remembered_default() is None and ds.active_dataset({}).key == "data"


def test_a_vanished_choice_falls_back(where):
    manifest(ds.DATA)
    gone = manifest(ds.DATA / "demo")
    s: dict = {}
    ds.choose("demo", s)
    ds.remember_default("demo")
    gone.unlink()
    assert ds.active_dataset(s).key == "data"
    with pytest.raises(ManifestError, match="No data set 'demo'"):
        ds.choose("demo", s)


def test_unreadable_settings_are_ignored(where):
    ds.SETTINGS.write_text("{not json")
    assert ds.read_settings() == {} and ds.remembered_default() is None
    ds.remember_default("data")
    assert ds.remembered_default() == "data"


@pytest.mark.parametrize("text,why", [("", "Nothing named"), ("nowhere/x.csv", "no such file or folder"),
                                      ("folder", "holds no manifest.csv"), ("notes.txt", "not a manifest"),
                                      ("bad.csv", "no `image` column")])
def test_custom_paths_are_checked_with_a_clear_message(where, text, why):
    root = ds.DATA.parent
    (root / "folder").mkdir()
    (root / "notes.txt").write_text("hello\n")
    manifest(root / "b", header="file,lat,lon").rename(root / "bad.csv")
    with pytest.raises(ManifestError, match=why):
        ds.custom_dataset(text)


def test_custom_paths_csv_folder_and_shards(where):
    m = manifest(where / "mine")
    d = ds.custom_dataset(str(m))
    assert d.key == f"manifest:{m.resolve()}" and d.kind == "manifest" and "2 photos" in d.label
    assert ds.custom_dataset(str(m.parent)).manifest == m.resolve()
    rel = manifest(ds.DATA / "x")
    assert ds.custom_dataset("data/x").manifest == rel.resolve()  # relative to the checkout
    shards = where / "shards"
    shards.mkdir()
    (shards / "index.json").write_text("{}")
    assert ds.custom_dataset(str(shards)).manifest == shards.resolve()


def test_named_paths_and_uploads_belong_to_their_session(where):
    m = manifest(where / "mine")
    up = manifest(ds.DATA / ".uploads" / "abc" / "001-trip")
    a, b = {}, {}
    d = ds.choose(f"manifest:{m}", a)
    ds.add_upload("upload:abc/001-trip", "This session's upload: trip", up, a)
    assert [x.key for x in ds.available_datasets(a)] == ["upload:abc/001-trip", d.key]
    assert ds.available_datasets(b) == [] and ds.active_dataset(b) is None
    assert ds.active_dataset(a) == d
    ds.choose("upload:abc/001-trip", a)
    assert ds.active_manifest(a) == up.resolve()


def test_a_path_to_a_listed_set_is_that_set(where):
    demo = manifest(ds.DATA / "demo")
    s: dict = {}
    d = ds.choose(ds.custom_dataset(str(demo)).key, s)
    assert d.key == "demo" and d.attribution


def test_remembered_custom_path_is_offered_to_everyone(where):
    m = manifest(where / "mine")
    ds.remember_default(f"manifest:{m.resolve()}")
    assert [d.kind for d in ds.available_datasets({})] == ["manifest"]
    assert ds.active_manifest({}) == m.resolve()


def test_a_copy_of_the_demo_folder_keeps_its_credit(where):
    m = manifest(where / "copy")
    (m.parent / "import.json").write_text(json.dumps({"collector": "demo", "settings": {}}))
    assert "CC BY-SA" in ds.custom_dataset(str(m)).attribution
