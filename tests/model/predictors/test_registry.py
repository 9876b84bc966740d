"""The registry the app and the CLIs use: names, specs (licence, description, weights), availability
without loading, ``$GEOLOC_MODEL``, and :func:`model.predictors.download` (only when asked, with byte
progress; offline it fails with the reason)."""
from __future__ import annotations

import sys

import pytest

from model.predictors import (
    Availability,
    WeightsInfo,
    WeightsMissing,
    app_model,
    availability,
    download,
    get_spec,
    load_app_predictor,
    load_predictor,
    predictor_names,
)


def test_names_specs_and_licences():
    assert predictor_names() == ["geoclip", "streetclip-zeroshot", "clip-zeroshot"]
    for n in predictor_names() + ["clip-zeroshot:clip_vit_b32"]:
        s = get_spec(n)
        assert s.name == n and s.description and s.licence and s.weights
        assert all(isinstance(w, WeightsInfo) and w.size and w.licence and w.command for w in s.weights)
    assert "non-commercial" in get_spec("streetclip-zeroshot").licence
    assert "MIT" in get_spec("geoclip").licence and "MIT" in get_spec("clip-zeroshot").licence
    pkg, tower = get_spec("geoclip").weights
    assert pkg.repo == "" and pkg.command == "pip install --no-deps geoclip==1.3.0 geopy geographiclib"
    assert tower.repo == "openai/clip-vit-large-patch14" and tower.command.startswith("hf download ")
    assert get_spec("clip-zeroshot").weights[0].repo == "openai/clip-vit-large-patch14-336"
    with pytest.raises(KeyError, match="unknown predictor"):
        get_spec("pigeon")


def test_availability_reads_files_only(tiny_env, tmp_path, monkeypatch):
    for n in predictor_names():
        assert availability(n) == Availability(n, True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    a = availability("clip-zeroshot")
    assert not a.available and a.missing[0].repo == "openai/clip-vit-large-patch14-336"
    assert 'hf download openai/clip-vit-large-patch14-336 --include "*.json" "*.txt" "model.safetensors"' in a.reason
    assert availability("assets/models/default.pt").available
    nope = availability(tmp_path / "none.pt")
    assert not nope.available and "no checkpoint file" in nope.reason


def test_geoclip_without_its_package_names_the_pip_command(tiny_env, monkeypatch):
    monkeypatch.setitem(sys.modules, "geoclip", None)  # import geoclip -> ImportError
    a = availability("geoclip")
    assert not a.available and "pip install --no-deps geoclip==1.3.0" in a.reason and a.missing[0].repo == ""
    with pytest.raises(WeightsMissing, match="pip install --no-deps geoclip==1.3.0"):
        load_predictor("geoclip", device="cpu")
    with pytest.raises(OSError, match="Python package"):
        download("geoclip")


def test_app_model_reads_geoloc_model(tiny_env, monkeypatch):
    monkeypatch.delenv("GEOLOC_MODEL", raising=False)
    assert app_model() is None
    monkeypatch.setenv("GEOLOC_MODEL", " clip-zeroshot ")
    assert app_model() == "clip-zeroshot"
    p = load_app_predictor(device="cpu")
    assert p.name == "clip-zeroshot" and p.licence == get_spec("clip-zeroshot").licence


def test_download_nothing_missing_fetches_nothing(tiny_env, monkeypatch):
    import huggingface_hub

    def boom(*a, **k):
        raise AssertionError("no download expected")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", boom)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", boom)
    assert download("streetclip-zeroshot") == []
    assert download("geoclip") == []


def test_download_offline_fails_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(OSError, match="could not download openai/clip-vit-large-patch14-336"):
        download("clip-zeroshot", progress=lambda done, total: None)
    assert not (tmp_path / "hub" / "models--openai--clip-vit-large-patch14-336" / "snapshots").exists()


def test_download_reports_byte_progress_and_fills_the_cache(tmp_path, monkeypatch):
    """The plan (a dry run) gives the total; each file's bars report bytes as they arrive (a Streamlit
    progress bar is driven from the callback); afterwards the predictor is available."""
    import huggingface_hub
    from huggingface_hub.file_download import DryRunFileInfo

    from model.predictors.tiny import REVISION, snapshot_dir, write_tiny_clip

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    src = tmp_path / "src"
    write_tiny_clip(src, "geolocal/StreetCLIP", 16, "pytorch_model.bin")
    files = {f.name: f for f in (src / "models--geolocal--StreetCLIP" / "snapshots" / REVISION).iterdir()}
    calls = []

    def fake_snapshot(repo, allow_patterns=None, cache_dir=None, dry_run=False, local_files_only=False, **k):
        assert repo == "geolocal/StreetCLIP" and cache_dir == str(tmp_path / "hf" / "hub")
        if dry_run:
            return [DryRunFileInfo(REVISION, f.stat().st_size, n, "", False, True) for n, f in files.items()]
        assert local_files_only
        return str(snapshot_dir(tmp_path / "hf" / "hub", repo))

    def fake_file(repo, filename, revision=None, cache_dir=None, tqdm_class=None, **k):
        data = files[filename].read_bytes()
        with tqdm_class(total=len(data), initial=0, desc=filename, name="huggingface_hub.http_get") as bar:
            for s in range(0, len(data), 4096):
                bar.update(len(data[s:s + 4096]))
        out = snapshot_dir(cache_dir, repo) / filename
        out.write_bytes(data)
        return str(out)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_file)
    assert not availability("streetclip-zeroshot").available
    got = download("streetclip-zeroshot", progress=lambda done, total: calls.append((done, total)))
    total = sum(f.stat().st_size for f in files.values())
    assert got == [str(snapshot_dir(tmp_path / "hf" / "hub", "geolocal/StreetCLIP"))]
    assert calls[0] == (0, total) and calls[-1] == (total, total) and len(calls) > len(files)
    assert all(b[0] >= a[0] and b[1] == total for a, b in zip(calls, calls[1:]))  # never goes back
    assert availability("streetclip-zeroshot").available
