"""The collector end to end against the fake server (in process): results, faults, error statuses."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from model.collect.plans import PlanPoint, countries_plan
from model.collect.runner import CollectConfig, CollectionError, Collector
from model.data.manifest import read_manifest
from model.collect.streetview import StreetViewClient
from tests.model.collect.helpers import KEY

ZAGREB = (45.8150, 15.9819)


def line_plan(n: int, step_deg: float = 0.03, start=ZAGREB) -> list[PlanPoint]:
    """n points along a parallel (about 2.3 km apart), each near its own panorama."""
    return [PlanPoint(f"p{i:03d}", round(start[0], 6), round(start[1] + i * step_deg, 6), "line")
            for i in range(n)]


def make(fake, out: Path, plan, *, timeout=5.0, **kw) -> Collector:
    cfg = CollectConfig(out=out, plan={"kind": "test", "n": len(plan)}, headings=kw.pop("headings", [0, 90, 180, 270]),
                        radius=kw.pop("radius", 1000), workers=kw.pop("workers", 4), rate=kw.pop("rate", 0),
                        retries=kw.pop("retries", 4), backoff=kw.pop("backoff", 0.01), timeout=timeout,
                        progress=False, dataset_name="test", **kw)
    col = Collector(cfg, StreetViewClient(KEY, base_url=fake.base_url, timeout=timeout), log=lambda *a: None)
    col.prepare(lambda: plan)
    return col


def snapshot(out: Path) -> tuple[str, dict[str, bytes]]:
    return ((out / "manifest.csv").read_text(),
            {p.name: p.read_bytes() for p in sorted((out / "images").glob("*"))})


def test_full_small_collection(fake, tmp_path):
    fake.settings.no_coverage = lambda lat, lon: lon > 16.05  # the last points find nothing
    plan = line_plan(6) + [PlanPoint("dup", ZAGREB[0] + 0.0005, ZAGREB[1], "line")]  # same pano as p000
    col = make(fake, tmp_path / "c", plan)
    s = col.run()
    assert s.complete and not s.failed and s.fatal is None
    assert s.points_done == 7 and s.duplicates == 1 and s.no_coverage == 3 and s.panoramas == 3
    assert s.images == 12 and fake.count("image") == 12 and fake.count("metadata") == 7
    df = read_manifest(tmp_path / "c" / "manifest.csv")
    assert len(df) == 12 and df["location_id"].nunique() == 3
    assert sorted(df["heading"].unique()) == [0, 90, 180, 270] and sorted(df["view"].unique()) == [0, 1, 2, 3]
    assert (df["country_code"] == "HR").all() and (df["country"] == "Croatia").all() and (df["admin1"] != "").all()
    assert (df["source"] == "test").all() and df["pano_id"].str.len().eq(22).all()
    assert df["date"].str.match(r"^20\d\d-\d\d$").all()
    for _, r in df.iterrows():  # panorama's own coordinates, real JPEGs
        assert abs(r.lat - ZAGREB[0]) < 0.01
        assert Path(r.path).read_bytes() == fake.image_for(r.pano_id, f"{r.heading:g}").read_bytes()
    with Image.open(df["path"][0]) as im:
        assert im.format == "JPEG"
    # each panorama's views share a group; panoramas 2.3 km apart do not
    assert df.groupby("location_id")["group_id"].nunique().eq(1).all() and df["group_id"].nunique() == 3
    # a second run has nothing to do
    fake.reset_log()
    again = make(fake, tmp_path / "c", plan).run()
    assert again.complete and fake.count() == 0


def test_faults_are_survived_and_result_unchanged(fake, tmp_path):
    plan = line_plan(8)
    ref = make(fake, tmp_path / "ref", plan).run()
    assert ref.complete
    fake.reset_log()
    fake.settings.fault_rates = {"429": 0.12, "500": 0.08, "drop": 0.08, "UNKNOWN_ERROR": 0.05, "slow": 0.03}
    fake.settings.slow_s = 0.6
    for kind in ("429", "drop", "500", "slow"):  # at least one of each, whatever the dice say
        fake.fail_next(kind)
    s = make(fake, tmp_path / "faulty", plan, timeout=0.4, retries=12).run()
    assert s.complete, s.text()
    assert s.retries > 0 and fake.count(outcome="http-429") > 0 and fake.count(outcome="drop") > 0
    assert snapshot(tmp_path / "faulty") == snapshot(tmp_path / "ref")


def test_over_query_limit_slows_down_and_retries(fake, tmp_path):
    fake.fail_next("OVER_QUERY_LIMIT", count=2, endpoint="metadata")
    fake.fail_next("429", count=2, endpoint="image")
    col = make(fake, tmp_path / "c", line_plan(3), rate=50, workers=1)
    s = col.run()
    assert s.complete and s.retries == 4 and s.slowdowns == 4
    assert col.limiter.rate < 50  # still recovering from the halvings


def test_persistent_quota_stops_resumably(fake, tmp_path):
    fake.settings.metadata_status = "OVER_QUERY_LIMIT"
    s = make(fake, tmp_path / "c", line_plan(4), retries=2, workers=1).run()
    assert s.fatal and "quota" in s.fatal and "run the same command again" in s.fatal
    assert fake.count("metadata") == 3 and not s.complete  # 1 try + 2 retries, then stop
    fake.settings.metadata_status = None
    assert make(fake, tmp_path / "c", line_plan(4)).run().complete


@pytest.mark.parametrize("status, words", [("REQUEST_DENIED", "API key"), ("INVALID_REQUEST", "malformed")])
def test_fatal_statuses_stop_at_once(fake, tmp_path, status, words):
    fake.settings.metadata_status = status
    s = make(fake, tmp_path / "c", line_plan(30), workers=2).run()
    assert s.fatal and status in s.fatal and words in s.fatal and KEY not in s.fatal
    assert fake.count("metadata") <= 4 and s.points_done == 0  # stopped, nothing recorded as done
    assert (tmp_path / "c" / "manifest.csv").exists()


@pytest.mark.parametrize("status", ["ZERO_RESULTS", "NOT_FOUND"])
def test_no_result_statuses_skip_the_point(fake, tmp_path, status):
    fake.fail_next(status, endpoint="metadata")
    s = make(fake, tmp_path / "c", line_plan(3), workers=1).run()
    assert s.complete and s.no_coverage == 1 and s.panoramas == 2 and s.images == 8
    fake.reset_log()
    assert make(fake, tmp_path / "c", line_plan(3)).run().complete and fake.count() == 0  # not asked again


def test_unknown_error_is_retried(fake, tmp_path):
    fake.fail_next("UNKNOWN_ERROR", count=3, endpoint="metadata")
    s = make(fake, tmp_path / "c", line_plan(2), workers=1).run()
    assert s.complete and s.retries == 3 and s.panoramas == 2


def test_transient_failure_left_for_next_run(fake, tmp_path):
    fake.fail_next("500", count=3, endpoint="image")  # one image fails for good with retries=2
    s = make(fake, tmp_path / "c", line_plan(2), workers=1, retries=2).run()
    assert s.failed == 1 and s.images == 7 and not s.complete and "run the same command again" in s.text()
    fake.reset_log()
    s2 = make(fake, tmp_path / "c", line_plan(2)).run()
    assert s2.complete and s2.images == 8 and fake.count("image") == 1 and fake.count("metadata") == 0


def test_an_undecodable_image_with_cropping_is_a_failed_request_not_a_crash(fake, tmp_path):
    fake.fail_next("garbage", endpoint="image")
    s = make(fake, tmp_path / "c", line_plan(1), workers=1, retries=0, crop_bottom=0.1).run()
    assert s.failed == 1 and s.images == 3 and not s.complete
    s2 = make(fake, tmp_path / "c", line_plan(1), crop_bottom=0.1).run()  # the next run fetches it again
    assert s2.complete and s2.images == 4


def test_missing_view_is_recorded(fake, tmp_path):
    fake.fail_next("404", endpoint="image")
    s = make(fake, tmp_path / "c", line_plan(1), workers=1, retries=0).run()
    assert s.complete and s.images == 3 and s.images_missing == 1


def test_crop_and_split_and_settings_guard(fake, tmp_path):
    plan = countries_plan(["HR", "SI"], 6, seed=1)
    s = make(fake, tmp_path / "c", plan, headings=[0], crop_bottom=0.1, split=(0.6, 0.2, 0.2), radius=2000).run()
    assert s.complete
    df = read_manifest(tmp_path / "c" / "manifest.csv")
    assert set(df["split"]) <= {"train", "val", "test"} and "train" in set(df["split"])
    assert df.groupby("group_id")["split"].nunique().eq(1).all()
    for _, r in df.iterrows():
        src = Image.open(io.BytesIO(fake.image_for(r.pano_id, "0").read_bytes()))
        with Image.open(r.path) as im:
            assert im.size == (src.width, src.height - round(src.height * 0.1))
    with pytest.raises(CollectionError, match="headings"):
        make(fake, tmp_path / "c", plan, headings=[0, 180], crop_bottom=0.1)


def test_failures_say_why_grouped_by_status_and_what_a_rerun_retries(fake, tmp_path):
    fake.settings.slow_s = 0.6
    fake.fail_next("ZERO_RESULTS", endpoint="metadata")  # p000: no coverage, recorded, never asked again
    fake.fail_next("503", count=3, endpoint="image")      # p001 view 0: 503 three times (1 try + 2 retries)
    fake.fail_next("slow", count=3, endpoint="image")     # p001 view 1: no answer within the timeout, 3 times
    s = make(fake, tmp_path / "c", line_plan(3), workers=1, retries=2, timeout=0.2).run()
    assert s.failed == 2 and not s.complete
    text = s.text()
    assert "2 request(s) failed after retries: 1 x HTTP 503 (server error), 1 x timeout (no answer in time)" in text
    assert s.failures == {"HTTP 503 (server error)": 1, "timeout (no answer in time)": 1}
    assert "run the same command again to retry them" in text
    assert "Not requested again (recorded as answered): 1 point(s) without coverage (ZERO_RESULTS" in text
    fake.wait_idle()  # the timed-out requests are still being answered: not the re-run's
    fake.reset_log()
    s2 = make(fake, tmp_path / "c", line_plan(3)).run()  # the re-run retries exactly the two failed images
    assert s2.complete and fake.count("image") == 2 and fake.count("metadata") == 0

    fake.settings.image_status = 403  # a key problem: stops the run, not retried until fixed
    s3 = make(fake, tmp_path / "d", line_plan(2), workers=1).run()
    assert s3.stopped_by == {"HTTP 403 / REQUEST_DENIED (key, API or billing settings)": 1} and s3.failed == 0
    assert "Stopped by: 1 x HTTP 403 / REQUEST_DENIED" in s3.text() and "Not retried until the cause is fixed" in s3.text()


def test_a_torn_or_bogus_image_is_never_kept(fake, tmp_path):
    plan = line_plan(2)
    assert make(fake, tmp_path / "c", plan).run().complete
    journal = tmp_path / "c" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    last = max(i for i, x in enumerate(lines) if '"e":"image"' in x)
    rec = json.loads(lines[last])
    # a power cut: the last image's journal line never reached the disk and its file holds half its bytes
    journal.write_text("\n".join(lines[:last] + lines[last + 1:]) + "\n")
    img = tmp_path / "c" / rec["file"]
    good = img.read_bytes()
    img.write_bytes(good[: len(good) // 2])
    fake.reset_log()
    s = make(fake, tmp_path / "c", plan).run()
    assert s.complete and fake.count("image") == 1 and img.read_bytes() == good  # fetched again, whole

    fake.fail_next("garbage", endpoint="image")  # HTTP 200 "image/jpeg" whose body is an HTML page
    s = make(fake, tmp_path / "d", line_plan(1), workers=1, retries=0).run()
    assert s.failed == 1 and s.images == 3 and s.failures == {"HTTP 200 but not a readable image": 1}
    assert all(Image.open(p).format == "JPEG" for p in (tmp_path / "d" / "images").iterdir())
