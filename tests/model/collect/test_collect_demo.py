"""The demo-set downloader (``python -m model.collect demo``), offline against a local copy of osv5m/osv5m in
the Hub's layout (tests/collect/osv5m_fake.py: pixels generated here): partial reads, attribution,
metadata-free served images, resume, and failing at once without the network."""
from __future__ import annotations

import io
import json
import socket
import zipfile

import pandas as pd
import pytest
from PIL import Image

from model.collect.demo import download_demo
from model.collect.hub_zip import DemoDataError
from model.data.images import exif_gps
from model.data.manifest import read_manifest
from model.data.metadata import metadata_found
from tests.model.collect.helpers import run_main
from tests.model.collect.osv5m_fake import CountingSource, fake_osv5m


@pytest.fixture
def hub(tmp_path):
    return fake_osv5m(tmp_path / "osv5m")


def test_demo_reads_only_what_it_needs_and_stores_attribution(hub, tmp_path):
    src, out, calls = CountingSource(hub), tmp_path / "demo", []
    r = download_demo(out, n=12, source=src, progress=lambda done, total, what: calls.append((done, total)))
    assert r.complete and r.have == r.fetched == 12 and calls[-1] == (12, 12)
    zips = sum(p.stat().st_size for p in (hub / "images" / "test").glob("*.zip"))
    assert src.bytes_read < 0.25 * (zips + (hub / "test.csv").stat().st_size)  # directories + 12 members, no more
    assert set(src.opened) == {"test.csv", "images/test/00.zip"}  # the first zip held enough places
    m = read_manifest(out / "manifest.csv")
    assert len(m) == 12 and (m["split"] == "test").all() and (m["source"] == "osv5m").all()
    assert set(m["country_code"]) == {"HR", "NA", "JP", "BR", "US", "FR"}  # round-robin; Namibia is not NaN
    assert set(m.loc[m["country_code"] == "NA", "country"]) == {"Namibia"}
    ids = m["sample_id"].astype(str)
    assert ids.str.fullmatch(r"\d{16}").all() and m["lat"].notna().all()
    assert all(i not in p for i, p in zip(ids, m["image"]))  # served names do not reveal the id
    assert m["date"].str.match(r"2017-\d\d-\d\dT").all()
    att = pd.read_csv(out / "attribution.csv", dtype=str, keep_default_na=False)
    assert list(att["image"]) == list(m["image"]) and (att["license"] == "CC BY-SA 4.0").all()
    assert (att["mapillary_url"] == "https://www.mapillary.com/app/?pKey=" + att["id"]).all()
    assert set(att["creator_username"]) - {""} and (m["author"] == att["creator_username"]).all()
    assert m["attribution"].str.contains("Photo from Mapillary, CC BY-SA 4.0, by ").all()
    text = (out / "ATTRIBUTION.md").read_text()
    for words in ("Mapillary", "CC BY-SA 4.0", "creativecommons.org/licenses/by-sa/4.0", "OpenStreetView-5M",
                  "huggingface.co/datasets/osv5m/osv5m", "@article{osv5m", "Changes", "ShareAlike"):
        assert words in text
    assert json.loads((out / "import.json").read_text())["collector"] == "demo"


def test_served_demo_images_carry_no_position_and_stand_upright(hub, tmp_path):
    out = tmp_path / "demo"
    r = download_demo(out, n=200, source=CountingSource(hub), log=None)
    assert r.planned == r.have == 119  # every place with an image (the CSV's last row has none)
    plan = pd.read_csv(out / "plan.csv", dtype=str, keep_default_na=False)
    assert set(plan["zip"]) == {"images/test/00.zip", "images/test/01.zip"}  # stored and deflated members
    for p in (out / "images").iterdir():
        data = p.read_bytes()
        assert metadata_found(data) == [] and exif_gps(data) is None and not Image.open(p).getexif()
    by_id = dict(zip(plan["id"], plan["image"]))
    first = [str(1000000000000000 + 7919 * k) for k in (1, 2)]  # the fake's EXIF GPS and rotated images
    assert Image.open(out / by_id[first[1]]).size == (48, 64)  # EXIF orientation 6 applied
    att = pd.read_csv(out / "attribution.csv", dtype=str, keep_default_na=False).set_index("id")
    assert att.loc[first[0], "changes"] == "EXIF metadata removed" and "re-encoded" in att.loc[first[1], "changes"]
    assert "2 of 119 files changed" in (out / "ATTRIBUTION.md").read_text()


def test_demo_resumes_without_the_csv_and_a_complete_set_needs_no_network(hub, tmp_path, capsys, monkeypatch):
    out = tmp_path / "demo"
    download_demo(out, n=12, source=CountingSource(hub), log=None)
    before = read_manifest(out / "manifest.csv")
    images = sorted((out / "images").iterdir())
    images[0].unlink()                                           # lost
    images[1].write_bytes(images[1].read_bytes()[:200])          # torn by a power cut
    mtimes = {p.name: p.stat().st_mtime_ns for p in images[2:]}
    src = CountingSource(hub)
    r = download_demo(out, n=12, source=src, log=None)
    assert r.fetched == 2 and r.complete and set(src.opened) == {"images/test/00.zip"}  # no CSV, no directory read
    assert {p.name: p.stat().st_mtime_ns for p in images[2:]} == mtimes
    assert read_manifest(out / "manifest.csv").equals(before)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # complete: the same command offline just rewrites the manifest
    code, stdout, err = run_main(["demo", "--n", "12", "--out", str(out), "--no-progress"], capsys)
    assert code == 0 and "12 of 12 demo images" in stdout, err
    code, _, err = run_main(["demo", "--n", "20", "--out", str(out), "--from", str(hub)], capsys)
    assert code == 2 and "n was 12, now 20" in err  # a different demo set needs another folder


def test_demo_offline_fails_at_once_naming_what_to_do_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "data" / "demo"
    code, _, err = run_main(["demo", "--out", str(out)], capsys)
    assert code == 2 and not (tmp_path / "data").exists(), err
    for words in ("offline", "HF_HUB_OFFLINE", "huggingface.co/datasets/osv5m/osv5m", "--from DIR"):
        assert words in err


def test_demo_without_a_reachable_hub_fails_at_once(tmp_path, monkeypatch):
    import huggingface_hub.constants as hc

    with socket.socket() as s:  # a local port nothing listens on: refused at once, no network touched
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")  # the root conftest sets every offline switch
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(DemoDataError, match=rf"cannot reach the Hugging Face Hub .*tried GET http://127.0.0.1:{port}/api/datasets/osv5m/osv5m.*--from DIR"):
        download_demo(tmp_path / "demo", n=5)
    assert not (tmp_path / "demo").exists()


def test_demo_cli_from_a_local_copy_and_bad_input(hub, tmp_path, capsys):
    out = tmp_path / "demo"
    code, stdout, err = run_main(["demo", "--from", str(hub), "--n", "5", "--out", str(out), "--no-progress"], capsys)
    assert code == 0 and "5 of 5 demo images" in stdout and "ATTRIBUTION.md" in stdout, err
    assert len(read_manifest(out)) == 5
    for argv, words in ((["--n", "0"], "at least 1"), (["--n", "5000", "--from", str(hub)], "--n must be 1..2,000"),
                        (["--from", str(tmp_path / "nope")], "not a folder")):
        code, _, err = run_main(["demo", "--out", str(tmp_path / "other"), *argv], capsys)
        assert code == 2 and words in err, err
        assert not (tmp_path / "other").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "holiday.jpg").write_bytes(b"x")
    code, _, err = run_main(["demo", "--from", str(hub), "--out", str(tmp_path / "mine")], capsys)
    assert code == 2 and "no data set written by this tool" in err


def test_demo_names_a_corrupt_member_and_gets_the_rest(hub, tmp_path):
    out = tmp_path / "demo"
    download_demo(out, n=6, source=CountingSource(hub), log=None)
    plan = pd.read_csv(out / "plan.csv", dtype=str, keep_default_na=False)
    victim = plan.iloc[0]
    for p in (out / "images").iterdir():
        p.unlink()
    z = hub / victim["zip"]
    data = bytearray(z.read_bytes())  # flip bytes inside the first member's data: its CRC no longer matches
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(victim["member"])
    start = info.header_offset + 30 + len(info.filename) + 200
    data[start:start + 8] = b"\0" * 8
    z.write_bytes(bytes(data))
    r = download_demo(out, n=6, source=CountingSource(hub), log=None)
    assert not r.complete and r.have == 5 and [f[0] for f in r.failed] == [victim["id"]]
    assert "CRC" in r.failed[0][1] and "run the same command again" in r.text()
    assert len(read_manifest(out)) == 5


def test_over_http_range_reads_the_directory_costs_three_requests_and_a_member_one(hub):
    """The Hub source opens files as fsspec buffered files with ``cache_type="none"`` (one HTTP range request
    per read): the same kind of file here, over the fake's zip, counting its range requests."""
    from fsspec.spec import AbstractBufferedFile

    from model.collect.hub_zip import read_member, zip_index

    data = (hub / "images" / "test" / "01.zip").read_bytes()
    calls: list[tuple[int, int]] = []

    class RangeFile(AbstractBufferedFile):
        def _fetch_range(self, start: int, end: int) -> bytes:
            calls.append((start, end))
            return data[start:end]

    class FS:
        def info(self, path, **kw):
            return {"name": path, "size": len(data)}

    f = RangeFile(FS(), "01.zip", mode="rb", size=len(data), block_size=1 << 16, cache_type="none")
    index = zip_index(f, "hub")
    assert len(index) == 59 and len(calls) == 3 and sum(e - s for s, e in calls) < 0.05 * len(data)
    calls.clear()
    info = index[sorted(index)[10]]
    member = read_member(f, info, "hub")
    assert len(calls) == 1 and calls[0][1] - calls[0][0] < info.compress_size + 1024
    with zipfile.ZipFile(hub / "images" / "test" / "01.zip") as zf:
        assert member == zf.read(info.filename)
