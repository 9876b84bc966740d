"""The public benchmarks' own formats (im2gps3k, yfcc4k): a CSV of ids and coordinates beside an image folder.

The CSVs are written here in the published layouts (GeoEstimation's im2gps3k_places365.csv, the
yfcc4k CSVs used by Img2Loc/G3); the images are shared Street View JPEGs under Flickr-style names,
never the benchmark images themselves.
"""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from model.data.manifest import read_manifest
from tests.model.collect.helpers import hold_in_subprocess, run_main
from tests.model.collect.fakes.streetview_server import shared_images

PLACES365 = ["S3_Label", "S16_Label", "S365_Label", "Prob_indoor", "Prob_natural", "Prob_urban"]
# id, author, lat, lon: Zagreb, Paris, New York, Sydney, then a missing, a corrupt and a misplaced image
ROWS = [("1000269685_e60e9cdfb4_1125_78841376@N00.jpg", "78841376@N00", 45.8150, 15.9819),
        ("103442236_09c8d53dbc_37_73293249@N00.jpg", "73293249@N00", 48.8584, 2.2945),
        ("1023756068_20c3ffc329_1039_70323761@N00.jpg", "70323761@N00", 40.7577, -73.9857),
        ("104132709_97b998c989_41_19355699@N00.jpg", "19355699@N00", -33.8568, 151.2153),
        ("1099044629_a345ba7db8_1115_70323761@N00.jpg", "70323761@N00", 40.7427, -74.0064),
        ("1105517140_f7dc56cff4_1162_78247883@N00.jpg", "78247883@N00", 43.5103, 16.4401),
        ("109444677_b9311d353a_51_44972214@N00.jpg", "44972214@N00", 132.7, -117.18)]


@pytest.fixture(scope="module")
def jpegs() -> list[Path]:
    imgs = shared_images()
    if len(imgs) < 8:
        pytest.skip("shared images not available")
    return imgs[:8]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def benchmark_files(tmp: Path, jpegs: list[Path], *, old_header: bool = False) -> tuple[Path, Path]:
    images = tmp / "im2gps3k" / "images"
    images.mkdir(parents=True)
    for (name, *_), src in zip(ROWS[:4], jpegs):
        shutil.copy(src, images / name)
    (images / ROWS[5][0]).write_bytes(jpegs[5].read_bytes()[:3000])  # cut short: corrupt
    shutil.copy(jpegs[6], images / ROWS[6][0])
    header = ["IMG_ID", "AUTHOR", "LON" if old_header else "LAT", "LAT" if old_header else "LON", *PLACES365]
    rows = [[i, a, lat, lon, 2, 12, 353, 0.27, 0.05, 0.68] for i, a, lat, lon in ROWS] + [list(ROWS[0]) + [0] * 6]
    return write_csv(tmp / "im2gps3k" / "im2gps3k_places365.csv", header, rows), images


@pytest.mark.parametrize("old_header", [False, True])
def test_im2gps3k_from_its_own_csv(tmp_path, jpegs, capsys, old_header):
    csv_path, images = benchmark_files(tmp_path, jpegs, old_header=old_header)
    out = tmp_path / "data" / "im2gps3k"
    code, stdout, err = run_main(["im2gps3k", "--csv", str(csv_path), "--images", str(images), "--out", str(out)],
                                 capsys)
    assert code == 0, err
    m = read_manifest(out / "manifest.csv")
    assert list(m["sample_id"]) == [r[0] for r in ROWS[:4]]
    assert list(m["country_code"]) == ["HR", "FR", "US", "AU"] and (m["country"] != "").all()
    assert (m["admin1"] != "").all() and (m["split"] == "test").all() and (m["source"] == "im2gps3k").all()
    assert m["lat"].round(4).tolist() == [r[2] for r in ROWS[:4]]  # latitude is latitude, whichever header
    assert m["location_id"].is_unique and (m["group_id"] == m["location_id"]).all()
    assert list(m["author"]) == [r[1] for r in ROWS[:4]]
    for p, src in zip(m["path"], jpegs):  # the images are referenced where they are, not copied
        assert Path(p).resolve().parent == images.resolve() and Path(p).read_bytes() == src.read_bytes()
    assert not (out / "images").exists()
    assert f"{ROWS[4][0]}: image missing (not in {images}): skipped" in err
    assert f"{ROWS[5][0]}: unreadable image (corrupt or truncated image" in err
    assert f"{ROWS[6][0]}: no valid coordinates (lat 132.7, lon -117.18): skipped" in err
    assert f"{ROWS[0][0]}: listed twice in the CSV: skipped" in err
    assert ("Skipped 4 of 8 samples: 1 x image missing, 1 x unreadable image, 1 x no valid coordinates, "
            "1 x listed twice in the CSV.") in err
    assert ("IMG_ID,AUTHOR,LON,LAT" in err) == old_header
    assert "4 of 8 images, 4 countries, split=test" in stdout
    with open(out / "skipped.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 4
    # the same import again is fine; another process writing the folder is not
    assert run_main(["im2gps3k", "--csv", str(csv_path), "--images", str(images), "--out", str(out)], capsys)[0] == 0
    holder = hold_in_subprocess(out)
    try:
        code, _, err = run_main(["im2gps3k", "--csv", str(csv_path), "--images", str(images), "--out", str(out)],
                                capsys)
        assert code == 2 and f"pid {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_yfcc4k_ids_without_extension_and_owner_column(tmp_path, jpegs, capsys):
    images = tmp_path / "yfcc4k" / "images"
    images.mkdir(parents=True)
    ids = ["10201275523", "8512390412", "4486431337"]
    for i, src in zip(ids, jpegs):
        shutil.copy(src, images / f"{i}.jpg")
    csv_path = write_csv(tmp_path / "yfcc4k" / "yfcc4k.csv", ["IMG_ID", "OwnerNSID", "LAT", "LON", "extra"],
                         [[ids[0], "1@N00", 35.6586, 139.7454, "x"], [ids[1], "2@N00", -22.9519, -43.2105, "y"],
                          [ids[2], "3@N00", 64.1466, -21.9426, "z"], ["999", "4@N00", 1.0, 1.0, "w"]])
    out = tmp_path / "yfcc"
    code, stdout, err = run_main(["yfcc4k", "--csv", str(csv_path), "--images", str(images), "--out", str(out)], capsys)
    assert code == 0, err
    m = read_manifest(out / "manifest.csv")
    assert list(m["country_code"]) == ["JP", "BR", "IS"] and (m["source"] == "yfcc4k").all()
    assert list(m["author"]) == ["1@N00", "2@N00", "3@N00"] and "999: image missing (not in" in err
    code, _, err = run_main(["im2gps3k", "--csv", str(csv_path), "--images", str(images), "--out", str(out)], capsys)
    assert code == 2 and "yfcc4k data set" in err  # another benchmark into the same folder is refused


def test_a_csv_without_coordinates_says_what_it_found(tmp_path, capsys):
    csv_path = write_csv(tmp_path / "x.csv", ["IMG_ID", "where"], [["a.jpg", "Paris"]])
    (tmp_path / "img").mkdir()
    code, _, err = run_main(["im2gps3k", "--csv", str(csv_path), "--images", str(tmp_path / "img"),
                             "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no lat/lon column found" in err and "['IMG_ID', 'where']" in err
    assert not (tmp_path / "o").exists()


def test_a_trailing_comma_on_the_data_lines_does_not_shift_the_columns(tmp_path, jpegs, capsys):
    images = tmp_path / "img"
    images.mkdir()
    shutil.copy(jpegs[0], images / "a.jpg")
    shutil.copy(jpegs[1], images / "b.jpg")
    csv_path = tmp_path / "x.csv"  # a field more than the header: pandas took the ids for its row index
    csv_path.write_text("IMG_ID,LAT,LON\na.jpg,45.815,15.9819,\nb.jpg,48.8584,2.2945,\n")
    out = tmp_path / "o"
    code, _, err = run_main(["im2gps3k", "--csv", str(csv_path), "--images", str(images), "--out", str(out)], capsys)
    assert code == 0, err
    m = read_manifest(out / "manifest.csv")
    assert list(m["sample_id"]) == ["a.jpg", "b.jpg"] and list(m["country_code"]) == ["HR", "FR"]


def test_a_few_bad_latitudes_do_not_turn_every_row_around(tmp_path, jpegs, capsys):
    images = tmp_path / "img"
    images.mkdir()
    names = [f"{k}.jpg" for k in range(12)]
    for name, src in zip(names, jpegs * 2):
        shutil.copy(src, images / name)
    # Zagreb ten times, then a latitude that is not a number and one typo; the longitudes are all below 90
    rows = [[n, 45.815 + 0.01 * k, 15.98] for k, n in enumerate(names[:10])]
    rows += [[names[10], "inf", 15.98], [names[11], 132.7, 15.98]]
    csv_path = write_csv(tmp_path / "x.csv", ["IMG_ID", "LAT", "LON"], rows)
    out = tmp_path / "o"
    code, _, err = run_main(["im2gps3k", "--csv", str(csv_path), "--images", str(images), "--out", str(out)], capsys)
    assert code == 0, err
    m = read_manifest(out / "manifest.csv")
    assert len(m) == 10 and (m["country_code"] == "HR").all() and (m["lat"].round(3) >= 45.815).all()
    assert "swapped" not in err and f"{names[10]}: no valid coordinates (lat inf" in err
    # a CSV whose LAT column really holds the longitudes is still read the other way round
    swapped = write_csv(tmp_path / "y.csv", ["IMG_ID", "LAT", "LON"],
                        [[names[0], 15.98, 45.815], [names[1], 151.2153, -33.8568]])
    code, _, err = run_main(["im2gps3k", "--csv", str(swapped), "--images", str(images), "--out", str(tmp_path / "p")],
                            capsys)
    assert code == 0 and "swapped" in err, err
    assert list(read_manifest(tmp_path / "p" / "manifest.csv")["country_code"]) == ["HR", "AU"]
