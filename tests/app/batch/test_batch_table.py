"""The batch view's table, filters and download subset (app.batch.table) on made-up answers."""
from __future__ import annotations

import json

import pytest

from app.batch import table as bt
from model.export.collection import CollectionResult, PhotoAnswer
from model.export.formats import to_geojson


def result() -> CollectionResult:
    a = [PhotoAnswer("a.jpg", 45.0, 16.0, 45.1, 16.1, "HR", "Croatia", 0.8, 120.0, 45.2, 16.2, 15.0, "2024-05-01"),
         PhotoAnswer("b.jpg", 48.0, 2.0, 48.1, 2.1, "FR", "France", 0.6, 300.0, 43.0, 5.0, 600.0),
         PhotoAnswer("c.jpg", 40.0, -100.0, 40.1, -100.1, "US", "United States", 0.4, 900.0),
         PhotoAnswer("d.jpg", error="not JPEG, PNG, WebP or HEIC (text)")]
    return CollectionResult("trip.zip", "default.pt", a)


def test_frame_has_one_row_per_photo_failed_ones_included():
    df = bt.answers_frame(result())
    assert list(df["photo"]) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    assert list(df["has_gps"]) == [True, True, False, False] and list(df["ok"]) == [True, True, True, False]
    assert bt.headline(df) == {"Photos": "4", "Predicted": "3", "With GPS": "2", "Median error (n=2)": "308 km"}
    assert bt.answers_frame(CollectionResult("x", "y", [])).empty


def test_filters():
    df = bt.answers_frame(result())
    assert bt.error_bounds(df) == (15.0, 601.0)
    pick = lambda **kw: list(bt.apply_filter(df, bt.BatchFilter(**kw))["photo"])  # noqa: E731
    assert pick() == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    assert pick(countries=("France", "United States")) == ["b.jpg", "c.jpg"]
    assert pick(gps="With GPS") == ["a.jpg", "b.jpg"] and pick(gps="Without GPS") == ["c.jpg", "d.jpg"]
    assert pick(error_range=(15.0, 601.0)) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]  # the full range filters nothing
    assert pick(error_range=(15.0, 100.0)) == ["a.jpg"]
    assert pick(error_range=(100.0, 601.0), countries=("Croatia",)) == []
    with pytest.raises(ValueError, match="gps must be one of"):
        pick(gps="maybe")
    assert bt.error_bounds(df[~df["has_gps"]]) is None


def test_subset_is_what_the_downloads_hold():
    res = result()
    sub = bt.subset(res, ["c.jpg", "a.jpg", "d.jpg"])
    assert [a.photo for a in sub.answers] == ["a.jpg", "c.jpg", "d.jpg"] and len(res.answers) == 4
    gj = json.loads(to_geojson(sub))
    assert [f["id"] for f in gj["features"]] == ["a.jpg", "c.jpg"] and gj["failed"][0]["photo"] == "d.jpg"


def test_display_table_key_columns_first_in_percent():
    t = bt.display_table(bt.answers_frame(result()))
    assert list(t.columns[:4]) == ["Photo", "Predicted country", "P(country) %", "Error (km)"]
    assert t["P(country) %"].iloc[0] == 80.0
