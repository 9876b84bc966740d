"""Uploads -> the importer's source, session folders, pruning and the explicit save (app.batch.uploads)."""
from __future__ import annotations

import os
import time

import pytest

from app.batch import uploads as up
from model.data.archives import ArchiveError
from tests.app.batch.batch_helpers import zip_of

JPEG = b"\xff\xd8\xff\xe0 fake"


def test_one_zip_is_read_as_it_is(tmp_path):
    blob = zip_of({"a.jpg": JPEG})
    src = up.stage([("my trip.zip", blob)], tmp_path)
    assert src == tmp_path / "my trip.zip" and src.read_bytes() == blob


def test_photos_and_zips_go_into_one_folder_with_unique_names(tmp_path):
    z1 = zip_of({"x/a.jpg": JPEG, "../up.jpg": JPEG, "readme.txt": b"no"})
    z2 = zip_of({"a.jpg": JPEG})
    src = up.stage([("a.jpg", JPEG), ("A.jpg", JPEG), ("dir/../../b.png", JPEG), ("one.zip", z1), ("two.zip", z2)],
                   tmp_path / "stage")
    got = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    assert got == ["A-2.jpg", "a.jpg", "b.png", "one/up.jpg", "one/x/a.jpg", "two/a.jpg"]
    assert all(p.resolve().is_relative_to(tmp_path / "stage") for p in src.rglob("*"))


def test_refusals_say_why(tmp_path):
    with pytest.raises(up.UploadError, match="Nothing uploaded"):
        up.stage([], tmp_path)
    with pytest.raises(up.UploadError, match="Not a photo or a zip: notes.txt"):
        up.stage([("a.jpg", JPEG), ("notes.txt", b"x")], tmp_path)
    with pytest.raises(up.UploadError, match="not a readable zip"):
        up.stage([("fake.zip", b"PK but not")], tmp_path / "a")
    with pytest.raises(up.UploadError, match="not a readable zip"):
        up.stage([("a.jpg", JPEG), ("fake.zip", b"nope")], tmp_path / "b")
    import zipfile
    bomb = zip_of({"big.jpg": bytes(4 << 20)}, zipfile.ZIP_DEFLATED)
    with pytest.raises(ArchiveError, match="times"):
        up.stage([("a.jpg", JPEG), ("bomb.zip", bomb)], tmp_path / "c")


def test_names_and_folders(tmp_path):
    assert up.upload_name(["holiday.zip"]) == "holiday"
    assert up.upload_name(["IMG 1.jpg", "b.jpg", "c.jpg"]) == "IMG-1-and-2-more"
    assert up.upload_name(["../../..zip"]) == "photos"
    f1 = up.new_import_folder(tmp_path, "abc/../x", "trip")
    assert f1 == tmp_path / ".uploads" / "abcx" / "001-trip"
    f1.mkdir(parents=True)
    assert up.new_import_folder(tmp_path, "abc/../x", "trip").name == "002-trip"
    for bad in ("", ".hidden", "../x", "a/b", "x" * 65):
        with pytest.raises(up.UploadError, match="cannot name a folder"):
            up.check_name(bad)
    assert up.check_name(" Holiday 2024 ") == "Holiday 2024"


def test_prune_removes_only_old_sessions(tmp_path):
    old, new = up.session_folder(tmp_path, "old") / "001-a", up.session_folder(tmp_path, "new") / "001-a"
    old.mkdir(parents=True)
    new.mkdir(parents=True)
    t = time.time() - up.KEEP_S - 60
    os.utime(old, (t, t))
    os.utime(old.parent, (t, t))
    assert up.prune(tmp_path) == [old.parent] and new.exists() and not old.exists()
    assert up.prune(tmp_path / "nowhere") == []


def test_save_copies_and_never_overwrites(tmp_path):
    imp = tmp_path / ".uploads" / "s" / "001-trip"
    (imp / "images").mkdir(parents=True)
    (imp / "manifest.csv").write_text("image\nimages/a.jpg\n")
    (imp / "images" / "a.jpg").write_bytes(JPEG)
    (imp / ".collect.lock").write_text("")
    man = up.save_to_photos(imp, tmp_path, "trip")
    assert man == tmp_path / "photos" / "trip" / "manifest.csv" and (man.parent / "images" / "a.jpg").is_file()
    assert not (man.parent / ".collect.lock").exists()
    with pytest.raises(up.UploadError, match="exists already"):
        up.save_to_photos(imp, tmp_path, "trip")
    with pytest.raises(up.UploadError, match="no imported photos"):
        up.save_to_photos(tmp_path / "gone", tmp_path, "other")
