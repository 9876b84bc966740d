"""About's model card (app.about.model_card and the page): curated metrics with plain names, n and
intervals instead of a dump of dotted keys; the training set-up as a sentence; the held-out counts
explained with the same numbers as the other pages."""
from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from app.about import model_card
from tests.app.apphelpers import DEFAULT_MODEL, MAIN

METRICS = {"history": [{"epoch": 1, "val": {"loss": 4.6}}, {"epoch": 2, "val": {"loss": 4.2}},
                       {"epoch": 3, "val": {"loss": 4.4}}],
           "test": {"per_image": {"n": 673, "country_top1": 0.519, "median_km": 1497.6, "n_with_coords": 627},
                    "per_location": {"n": 241, "n_with_coords": 195, "country_top1": 0.4689, "median_km": 1432.0,
                                     "geoscore_mean": 2135.6, "ref_accuracy_mean": 0.3806, "country_f1_macro": 0.109,
                                     "best_guess": {"median_km": 1199.2, "geoscore_mean": 2266.2}},
                    "n_images": 673, "skipped_images": 0, "checkpoint": "assets/models/default.pt"}}


def test_headline_table_is_curated():
    t = model_card.headline_table(METRICS, {"median_km": "1,000–1,700 km"})
    assert list(t.columns) == ["Metric", "Per place", "95% interval", "n", "Per photo", "What it means"]
    assert "all" not in t.columns and not t["Metric"].str.contains(r"\.|_").any()  # no dotted / raw keys
    row = t.set_index("Metric")
    assert row.loc["Country accuracy", "Per place"] == "46.9%" and row.loc["Country accuracy", "Per photo"] == "51.9%"
    assert row.loc["Country accuracy", "n"] == "241" and row.loc["Median error (predicted place)", "n"] == "195"
    lo, hi = re.findall(r"[\d.]+", row.loc["Country accuracy", "95% interval"])
    assert float(lo) < 46.9 < float(hi) and 5 < float(hi) - float(lo) < 15  # Wilson over 241 places
    assert row.loc["Median error (predicted place)", "95% interval"] == "1,000–1,700 km"
    assert row.loc["Median error (best guess)", "Per place"] == "1,199 km"
    assert "exp(−d / 1,160 km)" in row.loc["Reference accuracy", "What it means"]
    assert "each counting once" in row.loc["Macro F1 (countries)", "What it means"]
    assert t["Metric"].iloc[0] == "Country accuracy"  # the per-place headline first
    assert model_card.headline_table(None).empty


def test_training_recipe_reads_as_a_sentence():
    meta = {"backbone": "efficientnet_lite2", "n_cells": 149, "metrics": METRICS,
            "config": {"backbone": "efficientnet_lite2", "mode": "finetune", "finetune_blocks": 5, "cells": "geocells",
                       "min_cell": 8, "max_cell": 40, "tau": 300.0, "regression": "offset", "optimizer": "adamw",
                       "lr": 0.001, "backbone_lr": 0.0002, "weight_decay": 0.01, "dropout": 0.3, "batch_size": 64,
                       "epochs": 8, "patience": 2, "seed": 0, "pretrained": True, "train_seconds": 1124.0}}
    r = model_card.training_recipe(meta)
    assert not re.search(r"\w=\w", r) and "_" not in r  # no "key=value" argument dump
    for part in ("EfficientNet-Lite2 with ImageNet weights", "last 5 blocks fine-tuned", "149 geocells",
                 "merged below 8 and split above 40", "τ = 300 km", "AdamW", "learning rate 0.001 (backbone 0.0002)",
                 "up to 8 epochs", "kept epoch 2 of 3", "19 min"):
        assert part in r, part
    assert model_card.training_recipe({}).startswith("unknown")


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="the shipped model is missing")
def test_shipped_intervals_come_from_the_matching_shipped_evaluation(tmp_path):
    got = model_card.shipped_intervals(DEFAULT_MODEL)
    assert set(got) == {"median_km", "geoscore_mean", "best_guess.median_km", "best_guess.geoscore_mean",
                        "ref_accuracy_mean"}
    assert all("–" in v for v in got.values()) and got["median_km"].endswith("km")
    other = tmp_path / "default.pt"
    other.write_bytes(b"another model")
    assert model_card.shipped_intervals(other) == {}


def test_about_page_shows_the_curated_card(real_predictor):
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.run()
    at.switch_page("app_pages/about.py").run()
    assert not at.exception, at.exception
    table = next(t.value for t in at.table if "Per place" in t.value.columns)
    assert "all" not in table.columns and not table.index.str.contains(r"\.|_").any()
    assert table.index[0] == "Country accuracy" and "What it means" in table.columns
    facts = dict(zip(at.table[0].value.iloc[:, 0], at.table[0].value.iloc[:, 1]))
    assert not re.search(r"\w=\w", facts["Training"]) and facts["Backbone"] == "EfficientNet-Lite2"
    # E as model.net.guess computes it (issue 22.1): the expected-score maximiser over the points, not a look-alike
    assert "highest expected score under that distribution" in facts["Retrieval"]
    assert "look-alike that maximises" not in facts["Retrieval"]
    body = "\n".join(m.value for m in at.markdown)
    from app.common.heldout import heldout_for

    try:
        h = heldout_for(None)
    except Exception:  # noqa: BLE001
        pytest.skip("no data on this machine")
    assert "Why the pages count the test places differently" in body
    assert f"{h.locations:,} places" in body and f"Play plays {h.playable:,}" in body


def test_data_statistics_follow_an_edited_manifest(tmp_path, monkeypatch):
    """About's training-data line is read again after the manifest is edited, like the held-out explanation
    under it (keyed by modification time); its cache was keyed by no argument at all and kept the first count."""
    import time

    import pandas as pd

    from tests.app.apphelpers import SHARED

    if not (SHARED / "manifest.csv").is_file():
        pytest.skip("shared data not found")
    df = pd.read_csv(SHARED / "manifest.csv", keep_default_na=False, dtype=str)
    df["image"] = [str(SHARED / i) for i in df["image"]]
    ids = df["location_id"].drop_duplicates().tolist()
    man = tmp_path / "manifest.csv"
    df[df["location_id"].isin(ids[:3])].to_csv(man, index=False)
    monkeypatch.setenv("GEOLOC_DATA", str(man))
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.switch_page("app_pages/about.py").run()
    assert any(" of 3 places in " in m.value for m in at.markdown)
    time.sleep(0.01)
    df[df["location_id"].isin(ids[:5])].to_csv(man, index=False)
    at.run()
    assert not at.exception, at.exception
    assert any(" of 5 places in " in m.value for m in at.markdown), [m.value[:80] for m in at.markdown]


def test_the_card_never_says_whole_picture_beside_its_centre_square():
    """Issue 22.11: the card said "sees the whole picture, bottom band included" next to its own "260 x 260 px
    centre square"; the model sees the centre square of each view (the sides of a wide view are cut off)."""
    meta = {"input_size": 260, "crop": 0.0}
    facts = model_card.describe(meta, 149)
    note = model_card.crop_note(meta)
    assert "whole picture" not in note and "centre square" in note and "bottom band" in note
    assert "centre square" in facts["Input"] and "cut off" in facts["Input"]
    assert "squashed" in model_card.describe({"input_size": 224, "resize": "squash"}, 1)["Input"]
    assert "never sees the bottom 25%" in model_card.crop_note({"crop": 0.25})


def test_reference_accuracy_says_what_it_is_for():
    means = model_card.headline_table(METRICS).set_index("Metric").loc["Reference accuracy", "What it means"]
    assert "US/Canada reference project" not in means and "side by side" in means and "US and Canada" in means


def test_the_about_page_wording(real_predictor):
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.switch_page("app_pages/about.py").run()
    assert not at.exception, at.exception
    body = "\n".join(m.value for m in at.markdown)
    assert "whole picture" not in body
