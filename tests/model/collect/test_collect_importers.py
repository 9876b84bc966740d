"""Importers (ImageFolder, Hugging Face datasets offline on local folders) and the watermark crop."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.collect.huggingface import HFImportError, import_hf
from model.collect.imagefolder import FolderImportError, import_imagefolder
from model.collect.postprocess import crop_bottom, crop_manifest, parse_bottom
from model.data.manifest import read_manifest
from tests.model.collect.helpers import run_main
from tests.model.collect.fakes.streetview_server import shared_images

@pytest.fixture(scope="module")
def jpegs() -> list[Path]:
    imgs = shared_images()
    if not imgs:
        pytest.skip("shared images not available")
    return imgs[:12]


def make_folder(root: Path, labels: dict[str, int], jpegs: list[Path]) -> Path:
    k = 0
    for label, n in labels.items():
        (root / label).mkdir(parents=True)
        for i in range(n):
            shutil.copy(jpegs[k % len(jpegs)], root / label / f"img{i}.jpg")
            k += 1
    return root


def test_imagefolder_to_manifest(tmp_path, jpegs):
    src = make_folder(tmp_path / "geoguessr", {"HR": 3, "Slovenia": 2, "AUT": 2, "united_states": 3}, jpegs)
    (src / "HR" / "nested").mkdir()
    shutil.copy(jpegs[0], src / "HR" / "nested" / "x.jpg")
    (src / "HR" / "notes.txt").write_text("not an image")
    out = tmp_path / "data" / "gg" / "manifest.csv"
    import_imagefolder(src, out, split=(0.5, 0.25, 0.25))
    df = read_manifest(out)
    assert len(df) == 11 and df["lat"].isna().all() and df["lon"].isna().all()
    assert df.groupby("country_code").size().to_dict() == {"AT": 2, "HR": 4, "SI": 2, "US": 3}
    assert set(df.loc[df.country_code == "US", "country"]) == {"United States"}
    assert all(Path(p).is_file() for p in df["path"]) and not any(Path(i).is_absolute() for i in df["image"])
    assert (df["source"] == "geoguessr").all() and df["location_id"].is_unique
    assert set(df["split"]) <= {"train", "val", "test"} and (df["split"] == "train").sum() >= 4


def test_imagefolder_unknown_labels(tmp_path, jpegs):
    src = make_folder(tmp_path / "f", {"HR": 1, "Narnia": 2, "Mordor": 1}, jpegs)
    with pytest.raises(FolderImportError, match="Mordor, Narnia"):
        import_imagefolder(src, tmp_path / "m.csv")
    df = import_imagefolder(src, tmp_path / "m.csv", unknown="skip")
    assert list(df["country_code"]) == ["HR"]
    (tmp_path / "empty" / "HR").mkdir(parents=True)
    with pytest.raises(FolderImportError, match="no images"):
        import_imagefolder(tmp_path / "empty", tmp_path / "m.csv")


def test_imagefolder_cli(tmp_path, jpegs, capsys):
    src = make_folder(tmp_path / "f", {"Croatia": 2, "SI": 1}, jpegs)
    code, out, err = run_main(["imagefolder", str(src), "--out", str(tmp_path / "x")], capsys)
    assert code == 0, err
    assert "3 images, 2 countries" in out
    assert len(read_manifest(tmp_path / "x" / "manifest.csv")) == 3


def osv_like(tmp_path: Path, jpegs: list[Path]) -> Path:
    """A local dataset with OpenStreetView-5M's columns, as Parquet shards."""
    import datasets

    feats = datasets.Features({"image": datasets.Image(), "id": datasets.Value("string"),
                               "latitude": datasets.Value("float64"), "longitude": datasets.Value("float64"),
                               "country": datasets.Value("string"), "region": datasets.Value("string"),
                               "sequence": datasets.Value("string"), "captured_at": datasets.Value("string")})
    rng = np.random.default_rng(0)
    root = tmp_path / "osv5m_local"
    (root / "data").mkdir(parents=True)
    for shard in range(2):
        rows = [k for k in range(shard * 6, shard * 6 + 6)]
        d = datasets.Dataset.from_dict({
            "image": [{"bytes": jpegs[k].read_bytes(), "path": None} for k in rows],
            "id": [f"osv{k}" for k in rows],
            "latitude": [45.0 + rng.uniform(0, 1) for _ in rows], "longitude": [16.0 + rng.uniform(0, 1) for _ in rows],
            "country": ["HR"] * 5 + [""] if shard == 0 else ["SI"] * 6,
            "region": ["Grad Zagreb"] * 3 + [""] * 3 if shard == 0 else [""] * 6,
            "sequence": ["s1"] * 6, "captured_at": ["2019-05-01"] * 6}, features=feats)
        d.to_parquet(str(root / "data" / f"train-{shard:05d}-of-00002.parquet"))
    return root


def test_hf_streaming_import_of_osv5m_schema(tmp_path, jpegs):
    src = osv_like(tmp_path, jpegs)
    out = tmp_path / "osv"
    df = import_hf(str(src), out, n=8, source="osv5m")
    m = read_manifest(out / "manifest.csv")
    assert len(m) == 8 and m["lat"].notna().all() and (m["source"] == "osv5m").all()
    assert list(m["sample_id"]) == [f"osv{k}" for k in range(8)]  # streamed in order, only n samples
    for k, p in enumerate(m["path"]):  # bytes kept as they were
        assert Path(p).read_bytes() == jpegs[k].read_bytes()
    assert list(m["country_code"][:5]) == ["HR"] * 5 and m["country_code"][5] == "HR"  # filled by revgeo
    assert m["admin1"][0] == "Grad Zagreb" and m["admin1"][4] != ""                     # given, else revgeo
    assert m["country"][0] == "Croatia" and (m["date"] == "2019-05-01").all()
    assert len(list((out / "images").iterdir())) == 8
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    again = import_hf(str(src), out, n=8, source="osv5m")  # resumable: files kept, same manifest
    assert {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()} == mtimes
    assert list(again["image"]) == list(df["image"])


def test_hf_geoguessr_country_folders(tmp_path, jpegs):
    src = make_folder(tmp_path / "gg_hf", {"Croatia": 2, "Slovenia": 2, "Narnia": 1}, jpegs)
    out = tmp_path / "gg"
    df = import_hf(str(src), out, n=5)
    m = read_manifest(out / "manifest.csv")
    assert sorted(m["country_code"]) == ["HR", "HR", "SI", "SI"] and m["lat"].isna().all()  # Narnia skipped
    assert set(m["label"]) == {"Croatia", "Slovenia"} and len(df) == 4
    with Image.open(m["path"][0]) as im:
        assert im.format == "JPEG"


def test_hf_errors_and_cli(tmp_path, jpegs, capsys):
    with pytest.raises(HFImportError, match="cannot open"):
        import_hf(str(tmp_path / "does-not-exist"), tmp_path / "o", n=2)
    src = osv_like(tmp_path, jpegs)
    with pytest.raises(HFImportError, match="column 'nope'"):
        import_hf(str(src), tmp_path / "o", n=2, columns={"image": "nope"})
    code, out, err = run_main(["hf", str(src), "--n", "3", "--out", str(tmp_path / "cli"), "--name", "osv"], capsys)
    assert code == 0, err
    assert "3 images, 1 countries" in out
    assert len(read_manifest(tmp_path / "cli" / "manifest.csv")) == 3


def test_crop_bottom(jpegs, tmp_path, capsys):
    data = jpegs[0].read_bytes()
    h = Image.open(io.BytesIO(data)).height
    assert Image.open(io.BytesIO(crop_bottom(data, 0.1))).height == h - round(h * 0.1)
    assert Image.open(io.BytesIO(crop_bottom(data, 20))).height == h - 20
    assert parse_bottom("0.06") == 0.06 and parse_bottom("24px") == 24 and parse_bottom("24") == 24
    assert parse_bottom(None) is None and parse_bottom("0") is None
    for bad in ("0.9", "-3", "2.5px", "abc"):
        with pytest.raises(ValueError):
            parse_bottom(bad)
    src = make_folder(tmp_path / "f", {"HR": 2}, jpegs)
    import_imagefolder(src, tmp_path / "set" / "manifest.csv")
    code, _, err = run_main(["crop", str(tmp_path / "set" / "manifest.csv"), "--bottom", "16px",
                             "--out", str(tmp_path / "cropped")], capsys)
    assert code == 0, err
    m = read_manifest(tmp_path / "cropped" / "manifest.csv")
    assert len(m) == 2 and all(Image.open(p).height == h - 16 for p in m["path"])
    assert crop_manifest(tmp_path / "set" / "manifest.csv", tmp_path / "cropped", 16).exists()  # idempotent


def test_crop_never_writes_the_sources_and_keeps_outputs_apart(jpegs, tmp_path, capsys):
    # Sources outside the manifest's folder ("../..") and two absolute paths with the same file name.
    a, b = tmp_path / "x" / "1.jpg", tmp_path / "y" / "1.jpg"
    for p, src in ((a, jpegs[0]), (b, jpegs[1])):
        p.parent.mkdir(parents=True)
        shutil.copy(src, p)
    before = {p: p.read_bytes() for p in (a, b)}
    man = tmp_path / "m" / "n" / "manifest.csv"
    man.parent.mkdir(parents=True)
    man.write_text(f"image,country_code\n../../x/1.jpg,HR\n{b},SI\n")
    crop_manifest(man, tmp_path / "cropped", 16)
    assert {p: p.read_bytes() for p in (a, b)} == before  # the sources are untouched
    m = read_manifest(tmp_path / "cropped" / "manifest.csv")
    assert m["path"].nunique() == 2 and all(str(tmp_path / "cropped" / "images") in p for p in m["path"])
    assert [Image.open(p).height for p in m["path"]] == [Image.open(p).height - 16 for p in (a, b)]
    assert not np.array_equal(np.asarray(Image.open(m["path"][0])), np.asarray(Image.open(m["path"][1])))
    with pytest.raises(ValueError, match="cropped by 16"):  # another --bottom into the same folder
        crop_manifest(man, tmp_path / "cropped", 0.1)
    code, _, err = run_main(["crop", str(man), "--bottom", "0.1", "--out", str(man.parent)], capsys)
    assert code != 0 and "own folder" in err


def test_crop_redoes_a_torn_copy(jpegs, tmp_path):
    src = make_folder(tmp_path / "f", {"HR": 2}, jpegs)
    import_imagefolder(src, tmp_path / "set" / "manifest.csv")
    m = read_manifest(crop_manifest(tmp_path / "set" / "manifest.csv", tmp_path / "cropped", 16))
    first = Path(m["path"][0])
    whole = first.read_bytes()
    first.write_bytes(whole[: len(whole) // 3])  # a power cut in the middle of the copy
    crop_manifest(tmp_path / "set" / "manifest.csv", tmp_path / "cropped", 16)
    assert first.read_bytes() == whole


def test_crop_names_a_source_image_it_cannot_read(jpegs, tmp_path, capsys):
    src = make_folder(tmp_path / "f", {"HR": 3}, jpegs)
    (src / "HR" / "img1.jpg").write_bytes(b"<html>not an image</html>")
    import_imagefolder(src, tmp_path / "set" / "manifest.csv")
    code, _, err = run_main(["crop", str(tmp_path / "set" / "manifest.csv"), "--bottom", "16px",
                             "--out", str(tmp_path / "cropped")], capsys)  # said: cannot identify image file <_io.BytesIO ...>
    assert code == 2 and "img1.jpg: cannot crop it (not a readable image)" in err and "BytesIO" not in err, err
