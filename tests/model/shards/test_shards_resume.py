"""An interrupted write resumes to the same result; another data set or other settings are refused."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pandas as pd
import pytest
import webdataset

import model.shards.writer as writer_mod
from model.shards import ShardError, ShardSetWriter, load_index, read_table, write_manifest_shards
from model.shards.__main__ import main

from tests.shared import REPO as ROOT


class _Crash(Exception):
    pass


def _crashing_tarwriter(after: int):
    """A TarWriter that fails on its ``after``-th sample (counted over all shards): mid-shard, with a
    partial ``.tmp`` file on disk, as a crash or Ctrl-C leaves it."""
    count = [0]

    class Crashing(webdataset.TarWriter):
        def write(self, obj):
            count[0] += 1
            if count[0] > after:
                raise _Crash(f"simulated crash at sample {count[0]}")
            return super().write(obj)
    return Crashing


def test_interrupted_write_resumes_to_the_same_index(manifest, shard_dir, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    monkeypatch.setattr(writer_mod, "TarWriter", _crashing_tarwriter(after=8 * 3 + 5))  # during the 4th shard
    with pytest.raises(_Crash):
        write_manifest_shards(manifest, out, shard_size=8, progress=False)
    ix = load_index(out, complete=False)
    assert not ix["complete"] and [e["file"] for e in ix["shards"]] == [f"shard-00000{i}.tar" for i in range(3)]
    assert (out / "shard-000003.tar.tmp").is_file() and not (out / "samples.parquet").exists()
    with pytest.raises(ShardError, match="has not finished"):
        read_table(out)
    kept = {e["file"]: (out / e["file"]).stat().st_mtime_ns for e in ix["shards"]}
    monkeypatch.setattr(writer_mod, "TarWriter", webdataset.TarWriter)
    final = write_manifest_shards(manifest, out, shard_size=8, progress=False)
    reference = load_index(shard_dir)
    assert final == reference  # same shards, same checksums, same counts (same manifest, same settings)
    assert {f: (out / f).stat().st_mtime_ns for f in kept} == kept  # complete shards were not rewritten
    assert not list(out.glob("*.tmp")) and not (out / ".parts").exists()
    pd.testing.assert_frame_equal(read_table(out).drop(columns="path"), read_table(shard_dir).drop(columns="path"))


def test_a_damaged_complete_shard_is_rewritten_on_resume(manifest, tmp_path, monkeypatch, caplog):
    out = tmp_path / "d"
    monkeypatch.setattr(writer_mod, "TarWriter", _crashing_tarwriter(after=8 * 3))
    with pytest.raises(_Crash):
        write_manifest_shards(manifest, out, shard_size=8, progress=False)
    data = bytearray((out / "shard-000001.tar").read_bytes())
    data[3000] ^= 0xFF
    (out / "shard-000001.tar").write_bytes(bytes(data))
    monkeypatch.setattr(writer_mod, "TarWriter", webdataset.TarWriter)
    ix = write_manifest_shards(manifest, out, shard_size=8, progress=False)
    assert "shard-000001.tar: checksum differs" in caplog.text
    assert ix["complete"] and ix["samples"] == 42


def test_killed_writer_process_resumes(manifest, shard_dir, tmp_path):
    """A real ``kill -9`` of ``python -m model.shards write`` mid-way, then the same command again."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "model.shards", "write", "--data", str(manifest), "--out", str(out),
           "--shard-size", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        ix = out / "index.json"
        if ix.is_file() and len(json.loads(ix.read_text())["shards"]) >= 3:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert not load_index(out, complete=False)["complete"], "the writer finished before it was killed"
    ix = write_manifest_shards(manifest, out, shard_size=2, progress=False)  # the same write, resumed
    assert ix["samples"] == 42 and len(ix["shards"]) == 21
    ref = read_table(shard_dir)
    pd.testing.assert_frame_equal(read_table(out).drop(columns=["path", "shard", "byte_offset"]),
                                  ref.drop(columns=["path", "shard", "byte_offset"]))


def test_complete_folder_is_left_alone(manifest, shard_dir, capsys):
    before = (shard_dir / "index.json").read_text()
    assert main(["write", "--data", str(manifest), "--out", str(shard_dir), "--shard-size", "8"]) == 0
    assert (shard_dir / "index.json").read_text() == before


def test_another_data_set_or_other_settings_are_refused(manifest, shard_dir, tmp_path, capsys):
    other = tmp_path / "other.csv"
    df = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    df.head(10).to_csv(other, index=False)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in shard_dir.iterdir())
    assert main(["write", "--data", str(other), "--out", str(shard_dir), "--shard-size", "8"]) == 2
    err = capsys.readouterr().err
    assert "already holds a different data set" in err and "new or empty folder" in err
    assert main(["write", "--data", str(manifest), "--out", str(shard_dir), "--shard-size", "10"]) == 2
    assert "settings" in capsys.readouterr().err
    assert sorted((p.name, p.stat().st_mtime_ns) for p in shard_dir.iterdir()) == before  # nothing touched
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    assert main(["write", "--data", str(manifest), "--out", str(tmp_path / "full")]) == 2
    assert "not empty" in capsys.readouterr().err


def test_streaming_writer_api(manifest, tmp_path):
    """An importer's use: rows and image bytes straight in, no manifest; resume_at on reopening."""
    df = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    out = tmp_path / "hf"
    rows = [{"lat": r.lat, "lon": r.lon, "country_code": r.country_code, "split": r.split, "source": "hf:test"}
            for r in df.itertuples()]
    blobs = [open(p, "rb").read() for p in df["image"]]
    w = ShardSetWriter(out, identity="hf:test/set:train", source={"kind": "hf", "name": "test/set"}, shard_size=5)
    assert w.resume_at == 0
    for i in range(12):
        w.add(rows[i], blobs[i])
    assert not w.add({"lat": "95", "lon": "0"}, blobs[12], name="input 12")  # impossible latitude: skipped
    assert not w.add(rows[13], b"not an image", name="input 13")
    del w  # "crash": two complete shards (10 samples) are on disk
    w = ShardSetWriter(out, identity="hf:test/set:train", source={"kind": "hf", "name": "test/set"}, shard_size=5)
    assert w.resume_at == 10
    with w:
        for i in range(w.resume_at, len(rows)):
            if i == 12:
                w.add({"lat": "95", "lon": "0"}, blobs[12], name="input 12")
            elif i == 13:
                w.add(rows[13], b"not an image", name="input 13")
            else:
                w.add(rows[i], blobs[i])
    ix = load_index(out)
    assert ix["samples"] == 40 and ix["skipped"] == 2
    assert [s["input"] for s in ix["skipped_samples"]] == [12, 13]
    assert "out of range" in ix["skipped_samples"][0]["reason"]
    tab = read_table(out)
    assert tab["image"][0] == "000000000.jpg" and tab["country_code"].tolist()[:12] == df["country_code"].tolist()[:12]
    assert (tab["location_id"] == tab["image"]).all()  # defaults as in a manifest
    with pytest.raises(ShardError, match="different data set"):
        ShardSetWriter(out, identity="hf:other", shard_size=5)
