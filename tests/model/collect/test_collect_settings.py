"""Settings: every check before anything is written (hole 5); --split recorded and settings normalised (hole 6)."""
from __future__ import annotations

from pathlib import Path

import pytest

from model.data.manifest import read_manifest
from tests.model.collect.helpers import KEY, hf_dataset, run_main, sv_args
from tests.model.collect.fakes.streetview_server import shared_images

SMALL = ["--countries", "HR", "--per-region", "2", "--headings", "0", "--seed", "1", "--radius", "2000"]


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", KEY)


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


# ------------------------------------------------------------------------------ hole 5: check, then write
@pytest.mark.parametrize("bad, good, words", [
    (["--fov", "200"], ["--fov", "90"], "--fov 200"),
    (["--pitch", "-100"], ["--pitch", "-10"], "--pitch -100"),
    (["--radius", "0"], ["--radius", "2000"], "--radius 0"),
    # more rows than the image has: every image was billed, then dropped as unreadable, on every re-run
    (["--size", "320x200", "--crop-bottom", "200px"], ["--size", "320x200", "--crop-bottom", "20px"], "--crop-bottom 200"),
    (["--headings", "0,90,0.0"], ["--headings", "0,90"], "each heading once"),  # billed the same image twice
])
def test_a_bad_setting_is_refused_before_anything_is_written(fake, tmp_path, capsys, bad, good, words):
    out = tmp_path / "c"
    code, _, err = run_main(sv_args(fake, out, *bad, plan=SMALL), capsys)
    assert code == 2 and tree(out) == [] and fake.count() == 0  # no collection.json, no request
    assert words in err and "Traceback" not in err, err
    code, _, err = run_main(sv_args(fake, out, *good, plan=SMALL), capsys)  # the corrected command just works
    assert code == 0, err
    assert "other settings" not in err and len(read_manifest(out / "manifest.csv")) >= 1


def test_an_unusable_signing_secret_file_is_refused_before_anything_is_written(fake, tmp_path, capsys):
    out = tmp_path / "c"
    bad = tmp_path / "secret.txt"
    bad.write_text("my secret is: hunter2!\n")  # not URL-safe base64: every signed request would be denied
    for path, words in ((bad, "not a URL-signing secret"), (tmp_path, "cannot be read"),
                        (tmp_path / "none.txt", "cannot be read")):
        code, stdout, err = run_main(sv_args(fake, out, "--signing-secret-file", str(path), plan=SMALL), capsys)
        assert code == 2 and tree(out) == [] and fake.count() == 0
        assert f"--signing-secret-file {path}" in err and words in err and "hunter2" not in stdout + err, err
    good = tmp_path / "good.txt"
    good.write_text("vNIXE0xscrmjlyV-12Nj_BvUPaw=\n")
    code, _, err = run_main(sv_args(fake, out, "--signing-secret-file", str(good), plan=SMALL), capsys)
    assert code == 0, err
    assert all("signature" in r.params for r in fake.requests)


def test_a_max_cost_refusal_writes_nothing_and_a_smaller_plan_then_runs(fake, tmp_path, capsys):
    out = tmp_path / "c"
    code, stdout, err = run_main(sv_args(fake, out, "--max-cost", "0.01"), capsys)  # 40 points x 4 = 1.12 USD
    assert code == 2 and "> --max-cost 0.01" in err and "Plan: 40 points" in stdout
    assert tree(out) == [] and fake.count() == 0
    code, _, err = run_main(sv_args(fake, out, "--max-cost", "0.01", plan=SMALL), capsys)  # 2 images: 0.014 USD
    assert code == 2 and tree(out) == []
    code, _, err = run_main(sv_args(fake, out, "--max-cost", "0.02", plan=SMALL), capsys)
    assert code == 0, err


# ------------------------------------------------------------------------------ hole 6: fixed and normalised
def test_split_is_recorded_with_the_collection(fake, tmp_path, capsys):
    out = tmp_path / "c"
    plan = ["--countries", "HR,SI", "--per-region", "6", "--headings", "0", "--seed", "2", "--radius", "2000"]
    code, _, err = run_main(sv_args(fake, out, plan=plan), capsys)  # collected without a split...
    assert code == 0, err
    assert (read_manifest(out / "manifest.csv")["split"] == "").all()
    fake.reset_log()
    code, _, err = run_main(sv_args(fake, out, "--split", "0.5,0.25,0.25", plan=plan), capsys)  # ...one is added
    assert code == 0 and fake.count() == 0, err
    first = read_manifest(out / "manifest.csv")
    assert (first["split"] != "").all() and "train" in set(first["split"])
    code, _, err = run_main(sv_args(fake, out, plan=plan), capsys)  # a re-run without --split keeps it
    assert code == 0, err
    assert list(read_manifest(out / "manifest.csv")["split"]) == list(first["split"])
    code, _, err = run_main(sv_args(fake, out, "--split", "0.8,0.1,0.1", plan=plan), capsys)  # another is refused
    assert code == 2 and "split was [0.5, 0.25, 0.25], now [0.8, 0.1, 0.1]" in err, err
    assert list(read_manifest(out / "manifest.csv")["split"]) == list(first["split"])


def test_equal_settings_written_differently_resume(fake, tmp_path, capsys):
    out = tmp_path / "c"
    plan = ["--per-region", "2", "--headings", "0,180", "--seed", "1", "--radius", "2000"]
    code, _, err = run_main(sv_args(fake, out, "--countries", "SI,HR", "--size", "640X640", "--fov", "90", plan=plan),
                            capsys)
    assert code == 0, err
    fake.reset_log()
    code, stdout, err = run_main(sv_args(fake, out, "--countries", " hr , si", "--size", "640x640", "--fov", "90.0",
                                         plan=plan), capsys)
    assert code == 0, err
    assert "Already done" in stdout and fake.count() == 0  # the same collection: nothing requested again
    code, _, err = run_main(sv_args(fake, out, "--countries", "HR,SI,AT", plan=plan), capsys)
    assert code == 2 and "plan" in err and "other settings" in err


def test_hf_split_is_recorded_too(tmp_path, capsys):
    imgs = shared_images()[:6]
    if not imgs:
        pytest.skip("shared images not available")
    ds = hf_dataset(tmp_path / "ds", [p.read_bytes() for p in imgs], countries=["HR", "SI"] * 3)
    out = tmp_path / "osv"
    assert run_main(["hf", str(ds), "--n", "6", "--split", "0.5,0.25,0.25", "--out", str(out)], capsys)[0] == 0
    first = list(read_manifest(out / "manifest.csv")["split"])
    assert "" not in first
    assert run_main(["hf", str(ds), "--n", "6", "--out", str(out)], capsys)[0] == 0
    assert list(read_manifest(out / "manifest.csv")["split"]) == first


def test_importers_compare_split_fractions_normalised(tmp_path, capsys):
    imgs = shared_images()[:4]
    if not imgs:
        pytest.skip("shared images not available")
    ds = hf_dataset(tmp_path / "ds", [p.read_bytes() for p in imgs], countries=["HR", "SI"] * 2)
    out = tmp_path / "osv"
    code, _, err = run_main(["hf", str(ds), "--n", "4", "--split", "0.7,0.2,0.1", "--out", str(out)], capsys)
    assert code == 0, err
    first = list(read_manifest(out / "manifest.csv")["split"])
    # 0.7+0.2+0.1 is 0.9999999999999999 in floats: the recorded fractions were 0.7000000000000001, ...
    code, _, err = run_main(["hf", str(ds), "--n", "4", "--split", "70,20,10", "--out", str(out)], capsys)
    assert code == 0 and "other settings" not in err, err
    assert list(read_manifest(out / "manifest.csv")["split"]) == first
    code, _, err = run_main(["hf", str(ds), "--n", "4", "--split", "0.6,0.2,0.2", "--out", str(out)], capsys)
    assert code == 2 and "other settings" in err


@pytest.mark.parametrize("shards", [False, True])
def test_an_hf_column_that_is_not_there_is_refused_before_anything_is_written(tmp_path, capsys, shards):
    imgs = shared_images()[:3]
    if not imgs:
        pytest.skip("shared images not available")
    ds = hf_dataset(tmp_path / "ds", [p.read_bytes() for p in imgs])
    out = tmp_path / "osv"
    mode = ["--shards"] if shards else []
    code, _, err = run_main(["hf", str(ds), "--n", "3", "--lat-column", "lattitude", "--out", str(out), *mode], capsys)
    assert code == 2 and "column 'lattitude' (for lat) not in the dataset" in err, err
    assert tree(out) == []  # no stamp: with --shards it recorded the misspelt column and refused the fix
    code, _, err = run_main(["hf", str(ds), "--n", "3", "--lat-column", "latitude", "--out", str(out), *mode], capsys)
    assert code == 0 and "other settings" not in err, err


@pytest.mark.parametrize("deg", ["0", "-1", "nan"])
def test_a_grid_cell_size_that_is_not_positive_is_refused(tmp_path, capsys, deg):
    # --grid-deg 0 was taken for 'not given' and silently collected the default H3 grid instead
    code, _, err = run_main(["streetview", "--grid", "SI", "--grid-deg", deg, "--out", str(tmp_path / "g"),
                             "--dry-run"], capsys)
    assert code == 2 and "--grid-deg" in err and "must be more than 0" in err, err
