"""A whole collection on one map: ``python -m model.predict --batch SRC --out FILE`` on twelve held-out photos with
EXIF GPS (made in tmp_path from shared views), in GeoJSON, KML and CSV; a corrupt photo is reported, the rest
predicted; a zip reads the same as a folder."""
from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest

from model.export import predict_collection, to_csv, to_geojson, to_kml
from model.geo import haversine_km
from model.predict import Predictor, main
from tests.model.export.photo_helpers import gps_folder

KML = "{http://www.opengis.net/kml/2.2}"


@pytest.fixture(scope="module")
def twelve(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("batch") / "photos"
    views = gps_folder(folder)
    return folder, {r.name: (r.lat, r.lon) for r in views.itertuples()}


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.load()


@pytest.fixture(scope="module")
def result(twelve, predictor):
    calls: list = []
    res = predict_collection(twelve[0], predictor, workers=2, progress=lambda *a: calls.append(a))
    assert [c[:2] for c in calls] == [(k, 12) for k in range(1, 13)]
    return res


def test_geojson_has_one_feature_per_photo_with_exif_and_error(result, twelve):
    doc = json.loads(to_geojson(result))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 12 and doc["failed"] == []
    for f in doc["features"]:
        p = f["properties"]
        lat, lon = twelve[1][p["photo"]]
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        assert f["geometry"]["coordinates"] == [p["best_lon"], p["best_lat"]]  # [lon, lat]: the best guess E
        assert abs(p["exif_lat"] - lat) < 1e-4 and abs(p["exif_lon"] - lon) < 1e-4
        want = float(haversine_km(p["exif_lat"], p["exif_lon"], p["best_lat"], p["best_lon"]))
        assert p["error_km"] == pytest.approx(want, rel=1e-3, abs=0.01)
        assert len(p["country_code"]) == 2 and 0 < p["country_prob"] <= 1 and p["expected_km"] > 0
        assert -90 <= p["pred_lat"] <= 90 and p["date"].startswith("2024-05-")


def test_kml_is_kml_2_2_with_a_placemark_per_photo(result):
    root = ET.fromstring(to_kml(result).encode())
    assert root.tag == f"{KML}kml"
    folders = {f.findtext(f"{KML}name"): f for f in root.iter(f"{KML}Folder")}
    guesses = folders["Best guesses"].findall(f"{KML}Placemark")
    assert len(guesses) == 12 and len(folders["Photo GPS and errors"].findall(f"{KML}Placemark")) == 12
    by_name = {a.photo: a for a in result.answers}
    for pm in guesses:
        a = by_name[pm.findtext(f"{KML}name")]
        lon, lat, _ = (float(x) for x in pm.find(f"{KML}Point/{KML}coordinates").text.split(","))
        assert abs(lon - a.best_lon) < 1e-5 and abs(lat - a.best_lat) < 1e-5
        data = {d.get("name"): d.findtext(f"{KML}value") for d in pm.iter(f"{KML}Data")}
        assert {"exif_lat", "exif_lon", "error_km", "country", "country_prob"} <= set(data)
        assert pm.find(f"{KML}TimeStamp/{KML}when").text == a.date


def test_csv_has_one_row_per_photo(result, twelve):
    rows = list(csv.DictReader(to_csv(result).splitlines()))
    assert len(rows) == 12 and {r["photo"] for r in rows} == set(twelve[1])
    assert all(r["error"] == "" and float(r["error_km"]) >= 0 and r["exif_lat"] for r in rows)


def test_cli_reports_a_corrupt_photo_and_predicts_the_rest(twelve, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in twelve[0].iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    good = (folder / "00_HR.jpg").read_bytes()
    (folder / "zz_corrupt.jpg").write_bytes(good[: len(good) // 4])
    (folder / "notes.txt").write_text("not a photo")
    outs = {ext: tmp_path / f"map{ext}" for ext in (".geojson", ".kml", ".csv")}
    for out in outs.values():
        code = main(["--batch", str(folder), "--out", str(out), "--workers", "1"])
        _, err = capsys.readouterr()
        assert code == 3 and "zz_corrupt.jpg" in err and "1 photo(s) failed" in err, err
    doc = json.loads(outs[".geojson"].read_text())
    assert len(doc["features"]) == 12 and [f["photo"] for f in doc["failed"]] == ["zz_corrupt.jpg"]
    rows = list(csv.DictReader(outs[".csv"].read_text().splitlines()))
    assert len(rows) == 13 and [r["photo"] for r in rows if r["error"]] == ["zz_corrupt.jpg"]
    assert len(ET.parse(outs[".kml"]).getroot().findall(f".//{KML}Folder/{KML}Placemark")) == 24  # guesses + GPS


def test_a_zip_reads_as_the_folder_does(twelve, result, predictor, tmp_path):
    z = tmp_path / "photos.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(twelve[0].iterdir()):
            zf.write(p, f"trip/{p.name}")
    res = predict_collection(z, predictor)
    assert [a.photo for a in res.answers] == [f"trip/{a.photo}" for a in result.answers]
    assert np.allclose([a.best_lat for a in res.answers], [a.best_lat for a in result.answers])


def test_bad_arguments_are_refused_before_the_model_loads(tmp_path, capsys):
    for argv, words in ((["--batch", str(tmp_path), "--out", str(tmp_path / "x.txt")], "must end in .geojson"),
                        (["--batch", str(tmp_path)], "--batch needs --out"),
                        (["--out", str(tmp_path / "x.csv")], "--out needs --batch"),
                        ([], "give image files, or --batch")):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2 and words in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["--batch", str(tmp_path / "empty"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "no photos in" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()
