"""The command lines with a predictor name: an answer offline from the tiny hub, and (in subprocesses, as a
user runs them) missing weights stopping with what to download (name, size, licence, the exact
``hf download`` command) and no traceback."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def _photos(d, n=2) -> list[str]:
    out = []
    for i in range(n):
        a = np.random.default_rng(i).integers(0, 255, (60, 80, 3), dtype=np.uint8)
        Image.fromarray(a).save(d / f"v{i}.jpg", quality=90)
        out.append(str(d / f"v{i}.jpg"))
    return out


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True, timeout=240)


def test_predict_cli_answers_with_geoclip_and_names_its_licence(tiny_env, tmp_path, capsys):
    """``python -m model.predict --model geoclip A B`` fuses the two views."""
    from model.predict import main

    assert main(["--model", "geoclip", "--top-k", "3", *_photos(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "geoclip" and "MIT" in out["licence"] and out["n_views"] == 2
    assert len(out["top"]) == 3 and -90 <= out["best_lat"] <= 90 and out["country_code"]
    assert {"best_expected_score", "expected_score", "expected_km", "country_probs"} <= set(out)


@pytest.fixture
def empty_env(env, tmp_path) -> dict:
    """The subprocess environment with an empty hub cache (the weights were never downloaded)."""
    return dict(env, HF_HOME=str(tmp_path / "empty-hf"), GEOLOC_CACHE=str(tmp_path / "cache"))


def test_predict_cli_without_the_clip_tower_says_what_to_download(empty_env, tmp_path):
    r = _run(["model.predict", "--model", "geoclip", *_photos(tmp_path, 1)], empty_env)
    assert r.returncode != 0 and r.stdout == ""
    err = r.stderr
    assert "Traceback" not in err
    assert 'hf download openai/clip-vit-large-patch14 --include "*.json" "*.txt" "model.safetensors"' in err
    assert "1.7 GB" in err and "MIT" in err and "Nothing is downloaded without asking" in err


def test_evaluate_cli_without_streetclip_says_what_to_download(empty_env, places, tmp_path):
    r = _run(["model.evaluate", "--model", "streetclip-zeroshot", "--data", str(places), "--split", "all",
              "--out", str(tmp_path / "ev")], empty_env)
    assert r.returncode != 0
    err = r.stderr
    assert "Traceback" not in err and "hf download geolocal/StreetCLIP" in err
    assert "CC BY-NC 4.0" in err and "non-commercial" in err and "GEOLOC_DOWNLOAD_WEIGHTS=1" in err
    assert not (tmp_path / "ev" / "metrics.json").exists()
