"""Zero-shot StreetCLIP / CLIP through their real loading code, on tiny random CLIP models in the hub's
cache layout (:mod:`model.predictors.tiny`): prompts, the country -> region hierarchy, fused views, the
text-embedding cache and the tokenizer traps."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.special import logsumexp

from model.net.answer import answer_place, to_prediction
from model.net.inference import cell_country_index
from tests.numeric import max_diff_to_scale

ZERO_SHOT = ("streetclip_predictor", "clip_predictor")


def _img(seed: int, size=(80, 60)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def test_streetclip_country_probabilities_are_clips_own(streetclip_predictor, tiny_home):
    """p(country) of the predictor (its region probabilities summed per country) equals the softmax of
    ``CLIPModel.logits_per_image`` over the country prompts, computed by transformers from the same files."""
    from transformers import CLIPModel, CLIPTokenizer

    from model.predictors.prompts import country_prompt

    p = streetclip_predictor
    codes, cidx = cell_country_index(p.cells.table)
    hub = str(tiny_home / "hub")
    ref = CLIPModel.from_pretrained("geolocal/StreetCLIP", cache_dir=hub, local_files_only=True).eval()
    tok = CLIPTokenizer.from_pretrained("geolocal/StreetCLIP", cache_dir=hub, local_files_only=True)
    x = torch.stack([p.preprocess(_img(s)) for s in range(2)])
    enc = tok([country_prompt(c) for c in codes], padding=True, truncation=True, max_length=77, return_tensors="pt")
    with torch.inference_mode():
        want = ref(pixel_values=x, **enc).logits_per_image.log_softmax(-1).numpy()  # (2, K)
    logits = p.outputs(x)["logits"]
    got = np.stack([[logsumexp(row[cidx == k]) for k in range(len(codes))] for row in logits])
    assert max_diff_to_scale(want, got) < 1e-4
    assert p.meta["weights"] == "geolocal/StreetCLIP" and p.meta["family"] == "zeroshot"
    assert "non-commercial" in p.licence and "CC BY-NC 4.0" in p.licence


@pytest.mark.parametrize("which", ZERO_SHOT)
def test_logits_are_log_probabilities_over_the_worlds_regions(which, request):
    p = request.getfixturevalue(which)
    t = p.cells.table
    assert len(t) > 3000 and t["country_code"].nunique() > 200
    assert not t[["lat", "lon"]].isna().any().any() and (t["lat"].abs() <= 90).all() and (t["lon"].abs() <= 180).all()
    out = p.outputs(torch.stack([p.preprocess(_img(s)) for s in range(3)]))
    assert out["logits"].shape == (3, len(t)) and out["embed"].shape[0] == 3
    np.testing.assert_allclose(logsumexp(out["logits"], axis=1), 0, atol=1e-4)  # a distribution per view
    np.testing.assert_allclose(np.linalg.norm(out["embed"], axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("which", ZERO_SHOT)
def test_views_fuse_through_the_shared_answer(which, request):
    p = request.getfixturevalue(which)
    a, b = _img(1), _img(2, (60, 90))
    fused = p.predict([a, b], top_k=3)
    x = torch.stack([p.preprocess(a), p.preprocess(b)])
    want = to_prediction(answer_place(p.outputs(x), p.cells.table, cell_country_index(p.cells.table)[1]),
                         p.cells.table, 3, 2)
    np.testing.assert_allclose(fused.cell_probs, want.cell_probs, rtol=1e-5, atol=1e-12)
    assert (fused.lat, fused.lon, fused.best_lat, fused.best_lon) == (want.lat, want.lon, want.best_lat, want.best_lon)
    assert fused.n_views == 2 and len(fused.top) == 3 and abs(fused.cell_probs.sum() - 1) < 1e-9
    assert not np.allclose(p.predict(a).cell_probs, fused.cell_probs)
    assert fused.best_expected_score >= fused.expected_score - 1e-9
    assert fused.top[0].country_code == fused.country_code  # M lies in the likeliest country
    assert fused.expected_km > 0 and 0 <= fused.best_expected_score <= 5000


def test_clip_zeroshot_defaults_to_vit_l14_336_and_takes_any_clip_entry(clip_predictor, tiny_env):
    from model.predictors import get_spec, is_predictor_name, load_predictor
    from model.predictors.zeroshot import backbone_of

    assert clip_predictor.meta["weights"] == "openai/clip-vit-large-patch14-336"
    assert backbone_of("clip-zeroshot:clip_vit_b32") == "clip_vit_b32"
    assert is_predictor_name("clip-zeroshot:clip_vit_l14") and not is_predictor_name("clip-zeroshot:nope")
    with pytest.raises(KeyError):
        get_spec("clip-zeroshot:nope")
    p = load_predictor("clip-zeroshot:clip_vit_l14", device="cpu")  # the tiny ViT-L/14 repo (projection 768)
    assert p.meta["weights"] == "openai/clip-vit-large-patch14" and p.name == "clip-zeroshot:clip_vit_l14"
    assert p.predict(_img(4)).country_code


def test_cached_prompts_load_only_the_vision_tower(tiny_env, monkeypatch, tmp_path):
    """A second process finds the prompts' embeddings on disk and never builds the text tower; its
    answers are the first's. Grad-CAM runs on freshly encoded prompts as on cached ones."""
    from model.explain import explain
    from model.predictors import cache, clip_tower, load_predictor, zeroshot

    monkeypatch.setenv("GEOLOC_CACHE", str(tmp_path))  # empty: the first load encodes the prompts
    first = load_predictor("streetclip-zeroshot", device="cpu")
    assert explain(first, _img(6), ("cell", 0)).cams[0].shape == (first.input_size,) * 2
    cache.forget()  # as a new process would start
    seen = []
    real = clip_tower.load_clip

    def spy(info, vision_only=False):
        seen.append(vision_only)
        return real(info, vision_only)

    monkeypatch.setattr(zeroshot, "load_clip", spy)
    second = load_predictor("streetclip-zeroshot", device="cpu")
    assert seen == [True]
    assert type(second.net.tower.backbone).__name__ == "TokenBackbone"
    x = torch.stack([first.preprocess(_img(5))])
    np.testing.assert_allclose(first.outputs(x)["logits"], second.outputs(x)["logits"], atol=1e-5)


def test_missing_tokenizer_is_missing_weights_not_a_stub(tmp_path, monkeypatch):
    """transformers 5 builds a 2-token stub tokenizer without raising when the files are missing
    (huggingface/transformers#45538): the predictor says what to download instead."""
    from model.predictors import WeightsMissing, availability, load_predictor
    from model.predictors.tiny import write_tiny_clip

    write_tiny_clip(tmp_path / "hub", "geolocal/StreetCLIP", weights="pytorch_model.bin", tokenizer=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("GEOLOC_CACHE", str(tmp_path / "cache"))
    a = availability("streetclip-zeroshot")
    assert not a.available and "tokenizer" in a.reason and "hf download geolocal/StreetCLIP" in a.reason
    with pytest.raises(WeightsMissing, match="hf download geolocal/StreetCLIP"):
        load_predictor("streetclip-zeroshot", device="cpu")


def test_tokenizer_of_another_size_is_refused(tiny_env):
    from model.predictors import WeightsMissing
    from model.predictors.zeroshot import _tokenizer, weights_info

    with pytest.raises(WeightsMissing, match="a tokenizer of 999 tokens"):
        _tokenizer(weights_info("streetclip-zeroshot"), 999)
