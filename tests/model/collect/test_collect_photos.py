"""Your own photos as a data set (``python -m model.collect photos``): positions from EXIF, served copies
without any metadata, unlabelled photos kept, bad files named, zips read safely, resume."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from model.collect.photos import import_photos
from model.data.archives import ArchiveError, ZipLimits, extract_zip, open_files
from model.data.manifest import read_manifest
from model.data.metadata import metadata_found
from model.data.photofiles import heif_available
from model.geo import haversine_km
from tests.model.collect.helpers import run_main
from tests.model.export.photo_helpers import gps_folder, photo


def pixels(w: int = 64, h: int = 48, seed: int = 0) -> Image.Image:
    """A generated test picture (no shared image needed)."""
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def assert_clean(path: Path) -> None:
    """A served copy: a JPEG with no EXIF, XMP, ICC, IPTC or comment, nothing of the original's text."""
    data = path.read_bytes()
    with Image.open(path) as im:
        assert im.format == "JPEG" and len(im.getexif()) == 0 and "exif" not in im.info
    assert metadata_found(data) == []
    for needle in (b"Exif\0", b"xmpmeta", b"http://ns.adobe.com", b"GPS", b"taken at home"):
        assert needle not in data


def test_twelve_photos_positions_equal_exif_and_copies_carry_nothing(tmp_path, capsys):
    views = gps_folder(tmp_path / "src")  # held-out shared views with GPS, a date, XMP and a comment
    code, out, err = run_main(["photos", str(tmp_path / "src"), "--out", str(tmp_path / "set"), "--no-progress"], capsys)
    assert code == 0, err
    assert "12 photos" in out and "12 with GPS" in out and "0 unlabelled" in out
    m = read_manifest(tmp_path / "set" / "manifest.csv").set_index("sample_id").loc[views["name"]]
    assert np.abs(m["lat"].to_numpy() - views["lat"].to_numpy()).max() < 1e-4
    assert np.abs(m["lon"].to_numpy() - views["lon"].to_numpy()).max() < 1e-4
    assert (m["split"] == "test").all() and (m["gps"] == "exif").all() and (m["source"] == "photos").all()
    assert (m["country_code"] != "").all()
    assert (m["country_code"].to_numpy() == views["country_code"].to_numpy()).mean() >= 0.8  # revgeo vs. shared labels
    assert list(m["date"]) == [f"2024-05-{k + 1:02d}T12:34:56" for k in range(12)]
    assert m["location_id"].is_unique and m["group_id"].is_unique  # the places are far apart
    for p in m["path"]:
        assert_clean(Path(p))
    assert not (tmp_path / "set" / "skipped.csv").exists()


def test_orientation_applied_formats_and_one_km_groups(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "rotated.jpg").write_bytes(photo(pixels(60, 40), 45.8150, 15.9819, orientation=6))
    (src / "near.png").write_bytes(photo(pixels(seed=1), 45.8170, 15.9850, fmt="PNG"))        # ~0.3 km away
    (src / "far.webp").write_bytes(photo(pixels(seed=2), -33.8568, 151.2153, fmt="WEBP"))
    (src / "sub").mkdir()
    (src / "sub" / "UPPER.JPG").write_bytes(photo(pixels(seed=3), 40.7128, -74.0060))          # recursive, any case
    (src / "clip.mov").write_bytes(b"not a photo")
    r = import_photos(src, tmp_path / "set", log=None)
    m = r.manifest.set_index("sample_id")
    assert sorted(m.index) == ["far.webp", "near.png", "rotated.jpg", "sub/UPPER.JPG"]
    assert Image.open(tmp_path / "set" / m.loc["rotated.jpg", "image"]).size == (40, 60)  # upright
    assert dict(m["format"]) == {"rotated.jpg": "JPEG", "near.png": "PNG", "far.webp": "WebP", "sub/UPPER.JPG": "JPEG"}
    assert m.loc["rotated.jpg", "group_id"] == m.loc["near.png", "group_id"] != m.loc["far.webp", "group_id"]
    assert haversine_km(m.loc["far.webp", "lat"], m.loc["far.webp", "lon"], -33.8568, 151.2153) < 0.01
    assert dict(m["country_code"]) == {"far.webp": "AU", "near.png": "HR", "rotated.jpg": "HR", "sub/UPPER.JPG": "US"}
    for p in m["image"]:
        assert_clean(tmp_path / "set" / p)
    assert r.ignored == {".mov": 1} and "Ignored 1 files that are not photos" in r.text()


def test_no_gps_broken_exif_duplicates_and_bad_files(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    ok = photo(pixels(seed=1), 48.8566, 2.3522)
    (src / "a_ok.jpg").write_bytes(ok)
    (src / "b_copy.jpg").write_bytes(ok)                                               # the same bytes again
    (src / "c_nogps.jpg").write_bytes(photo(pixels(seed=2)))
    plain = photo(pixels(seed=3))
    app1 = b"Exif\0\0" + b"\x13\x37 not a TIFF header " * 4
    (src / "d_garbage_exif.jpg").write_bytes(plain[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + plain[2:])
    (src / "e_null_island.jpg").write_bytes(photo(pixels(seed=4), gps_ifd={1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)}))
    (src / "f_lat_95.jpg").write_bytes(photo(pixels(seed=5), gps_ifd={1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (10.0, 0.0, 0.0)}))
    (src / "g_truncated.jpg").write_bytes(ok[: len(ok) // 3])
    (src / "h_html.jpg").write_bytes(b"<html>404 not found</html>")
    (src / "i.heic").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)
    code, out, err = run_main(["photos", str(src), "--out", str(tmp_path / "set"), "--no-progress"], capsys)
    assert code == 0, err
    m = read_manifest(tmp_path / "set" / "manifest.csv").set_index("sample_id")
    assert sorted(m.index) == ["a_ok.jpg", "c_nogps.jpg", "d_garbage_exif.jpg", "e_null_island.jpg", "f_lat_95.jpg"]
    unl = m.drop(index="a_ok.jpg")
    assert unl["lat"].isna().all() and (unl["country_code"] == "").all() and (unl["split"] == "test").all()
    assert m.loc["c_nogps.jpg", "gps"] == "none"
    assert m.loc["d_garbage_exif.jpg", "gps"] == "unusable: EXIF unreadable (corrupt)"
    assert "0, 0" in m.loc["e_null_island.jpg", "gps"] and "out of range" in m.loc["f_lat_95.jpg", "gps"]
    for name in ("d_garbage_exif.jpg", "e_null_island.jpg", "f_lat_95.jpg"):  # broken GPS is named
        assert f"{name}: GPS unusable" in err
    assert "1 with GPS" in out and "4 unlabelled" in out and "predicted and mapped, not played" in out
    skipped = pd.read_csv(tmp_path / "set" / "skipped.csv", keep_default_na=False).set_index("sample")
    assert skipped.loc["b_copy.jpg", "reason"] == "duplicate image" and "a_ok.jpg" in skipped.loc["b_copy.jpg", "detail"]
    assert skipped.loc["g_truncated.jpg", "reason"] == "unreadable image"
    assert skipped.loc["h_html.jpg", "reason"] == "not JPEG, PNG, WebP or HEIC"
    assert skipped.loc["i.heic", "reason"] == ("unreadable image" if heif_available() else "HEIC needs a HEIF decoder")
    assert "Skipped 4 of 9 samples" in out


def test_zero_photos_with_gps_import_as_unlabelled(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for k in range(3):
        (src / f"p{k}.jpg").write_bytes(photo(pixels(seed=k), date="2023:01:02 03:04:05"))
    r = import_photos(src, tmp_path / "set", log=None)
    assert len(r.manifest) == 3 and r.with_gps == 0 and r.unlabelled == 3
    assert "No photo has a usable GPS position" in r.text()
    m = read_manifest(tmp_path / "set")
    assert m["lat"].isna().all() and m["group_id"].is_unique and (m["date"] == "2023-01-02T03:04:05").all()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no photos here")
    with pytest.raises(ValueError, match=r"no photos in .*found 1 other files"):
        import_photos(tmp_path / "empty", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_resume_rewrites_only_lost_or_torn_files_and_split_is_fixed(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for k in range(5):
        (src / f"p{k}.jpg").write_bytes(photo(pixels(seed=k), 10.0 + k, 20.0 + k))
    calls: list = []
    first = import_photos(src, tmp_path / "set", log=None, progress=lambda *a: calls.append(a))
    assert calls[-1][:2] == (5, 5) and len(calls) == 5
    imgs = sorted((tmp_path / "set" / "images").iterdir())
    imgs[0].unlink()
    imgs[1].write_bytes(imgs[1].read_bytes()[:100])
    mtimes = {p.name: p.stat().st_mtime_ns for p in imgs[2:]}
    again = import_photos(src, tmp_path / "set", log=None)
    assert list(again.manifest["image"]) == list(first.manifest["image"])
    assert all(Image.open(p).size == (64, 48) for p in imgs)
    assert {p.name: p.stat().st_mtime_ns for p in imgs[2:]} == mtimes
    code, _, err = run_main(["photos", str(src), "--out", str(tmp_path / "set"), "--split", "train"], capsys)
    assert code == 2 and 'split was "test", now "train"' in err
    code, _, err = run_main(["photos", str(src), "--out", str(tmp_path / "tr"), "--split", "train", "--no-progress"], capsys)
    assert code == 0 and (read_manifest(tmp_path / "tr")["split"] == "train").all(), err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.jpg").write_bytes(photo(pixels()))
    code, _, err = run_main(["photos", str(tmp_path / "other"), "--out", str(tmp_path / "set")], capsys)
    assert code == 2 and "other settings" in err  # another source into the same data set is refused


def _zip(path: Path, members: list[tuple[str, bytes]], *, symlink: str | None = None, method=zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members:
            zi = zipfile.ZipInfo(name)
            zi.compress_type = method
            zf.writestr(zi, data)
        if symlink:
            zi = zipfile.ZipInfo(symlink)
            zi.external_attr = (0o120777 << 16)
            zf.writestr(zi, "/etc/passwd")
    return path


def test_zip_paths_never_leave_the_data_folder(tmp_path, capsys):
    jpg = photo(pixels(seed=1), 45.0, 16.0)
    members = [("../x.jpg", jpg), ("/abs/y.jpg", photo(pixels(seed=2), 46.0, 16.0)),
               ("C:\\Users\\me\\z.jpg", photo(pixels(seed=3), 47.0, 16.0)), ("ok/w.jpg", photo(pixels(seed=4), 48.0, 16.0)),
               ("__MACOSX/ok/._w.jpg", b"resource fork")]
    (tmp_path / "up").mkdir()
    z = _zip(tmp_path / "up" / "photos.zip", members, symlink="link.jpg")
    before = files_under(tmp_path)
    code, _, err = run_main(["photos", str(z), "--out", str(tmp_path / "data" / "set"), "--no-progress"], capsys)
    assert code == 0, err
    new = files_under(tmp_path) - before
    assert all(p.startswith("data/set/") for p in new) and not Path("/abs/y.jpg").exists()
    m = read_manifest(tmp_path / "data" / "set").set_index("sample_id")
    assert sorted(m.index) == ["Users/me/z.jpg", "abs/y.jpg", "ok/w.jpg", "x.jpg"] and m["lat"].notna().all()
    assert "'../x.jpg': a path that leaves the archive's folder; read as 'x.jpg'" in err
    with open_files(z) as src:  # the symlink and the resource fork are ignored, named
        assert ("link.jpg", "symbolic link (ignored)") in src.ignored
        assert any(n.startswith("__MACOSX") for n, _ in src.ignored)
    written = extract_zip(z, tmp_path / "ex")
    assert {p.relative_to(tmp_path / "ex").as_posix() for p in written} == {"x.jpg", "abs/y.jpg", "Users/me/z.jpg",
                                                                           "ok/w.jpg"}
    assert files_under(tmp_path) - before - new == {f"ex/{p.relative_to(tmp_path / 'ex').as_posix()}" for p in written}


def test_zip_bombs_are_refused_before_anything_is_decompressed(tmp_path, capsys, monkeypatch):
    bomb = _zip(tmp_path / "bomb.zip", [("ok.jpg", photo(pixels(), 1.0, 1.0)), ("big.jpg", bytes(40 * 2**20))],
                method=zipfile.ZIP_DEFLATED)  # 40 MiB of zeros in ~40 KiB
    assert bomb.stat().st_size < 2**20
    with monkeypatch.context() as mp:
        mp.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("decompressed before refusing"))
        code, _, err = run_main(["photos", str(bomb), "--out", str(tmp_path / "set")], capsys)
    assert code == 2 and "refused" in err and "zip bomb" in err and "big.jpg" in err, err
    assert not (tmp_path / "set").exists()
    many = _zip(tmp_path / "many.zip", [(f"p{k}.jpg", b"x") for k in range(30)])
    with pytest.raises(ArchiveError, match="30 entries, more than the limit of 20"):
        open_files(many, limits=ZipLimits(max_entries=20))
    big = _zip(tmp_path / "total.zip", [(f"p{k}.jpg", bytes(1000)) for k in range(5)])
    with pytest.raises(ArchiveError, match="more than .* GiB uncompressed"):
        open_files(big, limits=ZipLimits(max_total_bytes=3000))
    with pytest.raises(ArchiveError, match="is 60 MiB uncompressed, more than the limit of 50 MiB"):
        from model.data.archives import _check_member

        zi = zipfile.ZipInfo("huge.jpg")
        zi.file_size, zi.compress_size = 60 * 2**20, 60 * 2**20
        _check_member(tmp_path / "x.zip", zi, ZipLimits())


def test_forged_sizes_fail_as_a_corrupt_member_not_a_flood(tmp_path):
    data = photo(pixels(), 1.0, 1.0)
    z = _zip(tmp_path / "forged.zip", [("a.jpg", data)])
    raw = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        cd = zf.infolist()[0]
    pos = raw.rfind(b"PK\x01\x02")  # the central directory entry: declare 100 bytes where there are thousands
    raw[pos + 24:pos + 28] = (100).to_bytes(4, "little")
    z.write_bytes(bytes(raw))
    with open_files(z) as src:
        assert src.entries[0].size == 100 < cd.file_size
        with pytest.raises(ArchiveError, match="corrupt zip member"):
            src.entries[0].read()


HEIC = Path(__file__).parent / "data" / "sydney_gps.heic"  # made here: 64x48 synthetic pixels, EXIF GPS and time


def test_heic_photos_import(tmp_path):
    """An iPhone-style HEIC (pi-heif, a dependency, decodes it): position and time from its EXIF, the copy
    clean."""
    assert heif_available(), "pi-heif is a dependency (pyproject.toml): make install"
    src = tmp_path / "src"
    src.mkdir()
    (src / "iphone.heic").write_bytes(HEIC.read_bytes())
    m = import_photos(src, tmp_path / "set", log=None).manifest
    assert abs(m["lat"][0] + 33.8568) < 1e-4 and abs(m["lon"][0] - 151.2153) < 1e-4
    assert m["format"][0] == "HEIF" and m["date"][0] == "2024-05-01T12:34:56"
    assert_clean(tmp_path / "set" / m["image"][0])


def test_without_a_heif_decoder_heic_is_named_with_the_command(tmp_path, monkeypatch, capsys):
    from model.collect import photos as photos_mod

    monkeypatch.setattr(photos_mod, "heif_available", lambda: False)
    src = tmp_path / "src"
    src.mkdir()
    (src / "iphone.heic").write_bytes(HEIC.read_bytes())
    (src / "ok.jpg").write_bytes(photo(pixels(seed=1), 48.8566, 2.3522))
    code, out, err = run_main(["photos", str(src), "--out", str(tmp_path / "set"), "--no-progress"], capsys)
    assert code == 0, err
    skipped = pd.read_csv(tmp_path / "set" / "skipped.csv", keep_default_na=False).set_index("sample")
    assert skipped.loc["iphone.heic", "reason"] == "HEIC needs a HEIF decoder" and "pip install pi-heif" in err
