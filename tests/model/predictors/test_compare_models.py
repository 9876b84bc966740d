"""``benchmarks/compare_models.py`` on a handful of real places: a row per available predictor with its
intervals and latency, the evaluation's own figures, and the unavailable ones with their command."""
from __future__ import annotations

import json

import pytest


def test_compare_models_rows_match_the_evaluation(places, tiny_env, tmp_path, capsys):
    from benchmarks.compare_models import main

    out = tmp_path / "cmp"
    assert main(["--data", str(places), "--split", "all", "--models", "clip-zeroshot", "clip-zeroshot:clip_vit_b32",
                 "--latency", "3", "--devices", "cpu", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    res = json.loads((out / "compare_models.json").read_text())
    (row,) = res["rows"]
    assert row["model"] == "clip-zeroshot" and row["places"] == res["meta"]["places"] == 5
    m = json.loads((out / "clip-zeroshot-cpu" / "metrics.json").read_text())["per_location"]
    f = row["figures"]
    assert f["country_top1"]["value"] == pytest.approx(m["country_top1"])
    assert f["median_km"]["value"] == pytest.approx(m["median_km"])
    assert f["geoscore"]["value"] == pytest.approx(m["geoscore_mean"])
    assert f["geoscore_rounded"]["value"] == pytest.approx(m["geoscore_rounded_mean"])
    assert 0 <= f["country_top1"]["lo"] <= f["country_top1"]["value"] <= f["country_top1"]["hi"] <= 1
    assert row["latency_ms"]["n"] == 3 and 0 < row["latency_ms"]["p50"] <= row["latency_ms"]["p95"]
    assert res["missing"][0]["model"] == "clip-zeroshot:clip_vit_b32"
    assert "| clip-zeroshot | cpu |" in text and "hf download openai/clip-vit-base-patch32" in text
