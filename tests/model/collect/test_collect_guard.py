"""One writer per output folder (real subprocesses) and no writing into a folder that holds another data set."""
from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest

from model.data.manifest import read_manifest
from tests.model.collect.helpers import (KEY, cli, cli_env, hf_dataset, hold_in_subprocess, image_folder, popen_cli,
                                   run_main, sv_args, wait_for_images)
from tests.model.collect.fakes.streetview_server import shared_images

LOCK_NAME = ".collect.lock"  # (model.collect.lock.LOCK_NAME: a literal, so this file also runs on older code)
SMALL = ["--countries", "HR", "--per-region", "2", "--headings", "0", "--seed", "1", "--radius", "2000"]


@pytest.fixture(scope="module")
def jpegs() -> list[Path]:
    imgs = shared_images()
    if not imgs:
        pytest.skip("shared images not available")
    return imgs[:12]


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------ hole 1: one writer
def test_second_collector_refused_at_once_and_a_kill_9_leaves_no_blocking_lock(fake, tmp_path, capsys, monkeypatch):
    fake.settings.delay_s = 0.2  # the first run would take ~10 s: it is still running when the second starts
    out = tmp_path / "c"
    first = popen_cli(sv_args(fake, out), env=cli_env(GOOGLE_MAPS_API_KEY=KEY))
    wait_for_images(out / "journal.jsonl", 8, first)
    t = time.monotonic()
    second = cli(sv_args(fake, out), env=cli_env(GOOGLE_MAPS_API_KEY=KEY))
    assert second.returncode == 2, second.stdout + second.stderr
    lock_info = (out / LOCK_NAME).read_text()
    assert time.monotonic() - t < 30 and "Plan:" not in second.stdout  # refused before planning or requesting
    err = second.stderr
    assert f"pid {first.pid}" in err and f"host {socket.gethostname()}" in err and "started 20" in err
    assert "python -m model.collect streetview --countries SI" in err and str(out) in err
    assert KEY not in err + lock_info and json.loads(lock_info)["pid"] == first.pid
    assert first.poll() is None  # the first run goes on undisturbed

    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    assert (out / LOCK_NAME).exists()  # a killed run leaves its lock file behind...
    fake.wait_idle()
    fake.settings.delay_s = 0
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", KEY)
    code, stdout, err = run_main(sv_args(fake, out), capsys)  # ...which does not block the resume
    assert code == 0, err
    assert "Already done" in stdout and not (out / LOCK_NAME).exists()
    events = [json.loads(x) for x in (out / "journal.jsonl").read_text().splitlines()]
    views = [(e["pano"], e["view"]) for e in events if e["e"] == "image"]
    assert len(views) == len(set(views)) == len(read_manifest(out / "manifest.csv"))


@pytest.mark.parametrize("command", ["hf", "imagefolder", "crop", "photos", "demo"])
def test_importers_refuse_a_folder_another_process_writes(tmp_path, jpegs, capsys, command):
    src = {"hf": lambda: hf_dataset(tmp_path / "ds", [p.read_bytes() for p in jpegs[:3]]),
           "imagefolder": lambda: image_folder(tmp_path / "gg", {"HR": 2}, jpegs)}
    if command == "photos":
        image_folder(tmp_path / "mine", {"trip": 2}, jpegs)  # photos without GPS: imported unlabelled
        argv = ["photos", str(tmp_path / "mine"), "--no-progress"]
    elif command == "demo":
        from tests.model.collect.osv5m_fake import fake_osv5m

        argv = ["demo", "--from", str(fake_osv5m(tmp_path / "osv5m")), "--n", "3", "--no-progress"]
    elif command == "crop":
        image_folder(tmp_path / "gg", {"HR": 2}, jpegs)
        assert run_main(["imagefolder", str(tmp_path / "gg"), "--out", str(tmp_path / "set")], capsys)[0] == 0
        argv = ["crop", str(tmp_path / "set" / "manifest.csv"), "--bottom", "16px"]
    elif command == "hf":
        argv = ["hf", str(src["hf"]()), "--n", "3"]
    else:
        argv = ["imagefolder", str(src["imagefolder"]())]
    out = tmp_path / "out"
    holder = hold_in_subprocess(out)
    try:
        code, _, err = run_main(argv + ["--out", str(out)], capsys)
        assert code == 2 and f"pid {holder.pid}" in err and "holder-command --out" in err, err
        assert not (out / "manifest.csv").exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    code, _, err = run_main(argv + ["--out", str(out)], capsys)  # the killed holder's lock is no obstacle
    assert code == 0, err
    assert (out / "manifest.csv").exists() and not (out / LOCK_NAME).exists()


# ------------------------------------------------------------------------------ hole 2: another data set
def test_streetview_refuses_a_folder_with_another_data_set_or_foreign_files(fake, tmp_path, jpegs, capsys, monkeypatch):
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", KEY)
    hf_out = tmp_path / "osv"
    assert run_main(["hf", str(hf_dataset(tmp_path / "ds", [p.read_bytes() for p in jpegs[:3]])), "--n", "3",
                     "--out", str(hf_out)], capsys)[0] == 0
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(jpegs[0].read_bytes())
    (photos / "notes.txt").write_text("mine")
    for out, words in ((hf_out, ["a hf data set", "python -m model.collect hf", "another --out"]),
                       (photos, ["holiday.jpg, notes.txt", "no data set written by this tool", "new or empty"])):
        before = files(out)
        code, stdout, err = run_main(sv_args(fake, out, plan=SMALL), capsys)
        assert code == 2 and all(w in err for w in words), err
        assert files(out) == before and fake.count() == 0  # nothing written, nothing requested
        assert run_main(sv_args(fake, out, "--dry-run", plan=SMALL), capsys)[0] == 2  # the estimate says so too
    code, _, err = run_main(sv_args(fake, tmp_path / "empty", plan=SMALL), capsys)  # an empty folder is fine
    assert code == 0, err


def test_importers_refuse_another_data_set_but_resume_their_own(fake, tmp_path, jpegs, capsys, monkeypatch):
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", KEY)
    sv = tmp_path / "sv"
    assert run_main(sv_args(fake, sv, plan=SMALL), capsys)[0] == 0
    ds = hf_dataset(tmp_path / "ds", [p.read_bytes() for p in jpegs[:4]])
    gg = image_folder(tmp_path / "gg", {"HR": 2, "SI": 1}, jpegs)
    before = files(sv)
    for argv in (["hf", str(ds), "--n", "2"], ["imagefolder", str(gg)],
                 ["crop", str(sv / "manifest.csv"), "--bottom", "8px"]):
        out = sv if argv[0] != "crop" else tmp_path / "osv"
        if argv[0] == "crop":
            assert run_main(["hf", str(ds), "--n", "2", "--out", str(out)], capsys)[0] == 0
            before_crop = files(out)
        code, _, err = run_main(argv + ["--out", str(out)], capsys)
        assert code == 2 and "made by `python -m model.collect" in err and "another --out" in err, err
        assert files(out) == (before if argv[0] != "crop" else before_crop)
    # the documented imagefolder form, --out DIR/manifest.csv, is guarded the same way
    code, _, err = run_main(["imagefolder", str(gg), "--out", str(sv / "manifest.csv")], capsys)
    assert code == 2 and "streetview data set" in err and files(sv) == before
    # the same data set again is a resume / re-import, not a refusal
    assert run_main(["hf", str(ds), "--n", "4", "--out", str(tmp_path / "osv")], capsys)[0] == 0
    assert len(read_manifest(tmp_path / "osv" / "manifest.csv")) == 4
    assert run_main(["imagefolder", str(gg), "--out", str(tmp_path / "g")], capsys)[0] == 0
    assert run_main(["imagefolder", str(gg), "--out", str(tmp_path / "g" / "manifest.csv")], capsys)[0] == 0
    other = image_folder(tmp_path / "gg2", {"AT": 1}, jpegs)
    code, _, err = run_main(["imagefolder", str(other), "--out", str(tmp_path / "g")], capsys)
    assert code == 2 and "other settings" in err and str(gg) in err
