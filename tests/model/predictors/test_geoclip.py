"""GeoCLIP through its real loading code: the wheel's MLP, location encoder, logit scale and 100k GPS
gallery, on a tiny random CLIP tower of the same interface (projection 768) in the hub's cache layout."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from model.net.answer import answer_place, to_prediction
from model.net.inference import cell_country_index
from tests.numeric import max_diff_to_scale, rel_norm_diff


def _img(seed: int, size=(80, 60)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def test_geoclip_runs_on_the_wheels_weights_and_its_100k_gallery(geoclip_predictor):
    from model.predictors.geoclip import wheel

    p, files = geoclip_predictor, wheel()
    mlp = torch.load(files["mlp"], map_location="cpu", weights_only=True)
    assert all(torch.equal(mlp[k], v) for k, v in p.net.mlp.state_dict().items())
    scale = torch.load(files["logit_scale"], map_location="cpu", weights_only=True)
    assert float(p.net.scale) == float(scale.exp())  # 39.7: GeoCLIP's trained temperature
    t = p.cells.table
    assert len(t) == 100_000 and p.net.gallery.shape == (100_000, 512)
    assert t["country_code"].nunique() > 200 and (t["name"] != "").all()
    assert p.net.tower.output_dim == 768 and p.meta["gallery_points"] == 100_000
    assert "MIT" in p.licence and p.name == "geoclip"


def test_geoclip_gallery_cache_holds_the_wheels_encoding(geoclip_predictor):
    """The cached gallery vectors are the wheel's location encoder's, in float32 (a fresh encoding of a
    spread of 3,000 of the 100k points, in any batch split, agrees to float32 rounding)."""
    from geoclip.model.location_encoder import LocationEncoder
    from geoclip.model.misc import load_gps_data

    from model.predictors.geoclip import wheel

    gps = load_gps_data(str(wheel()["gallery"]))
    idx = torch.as_tensor(np.r_[np.arange(1000), np.random.default_rng(0).choice(100_000, 2000, replace=False)])
    enc = LocationEncoder(from_pretrained=True).eval()
    with torch.inference_mode():
        fresh = torch.nn.functional.normalize(enc(gps[idx]), dim=1)
    cached = geoclip_predictor.net.gallery[idx]
    assert cached.dtype == torch.float32
    assert rel_norm_diff(fresh, cached) < 1e-5
    np.testing.assert_array_equal(geoclip_predictor.cells.table[["lat", "lon"]].to_numpy(np.float32), gps.numpy())


def test_geoclip_logits_are_the_reference_implementations(geoclip_predictor, tiny_home, monkeypatch):
    """Our outputs equal ``geoclip.GeoCLIP.forward``'s ``logits_per_image`` (same tower, same input) on a
    sample of gallery points: the project's loader and the library compute the same function."""
    from geoclip import GeoCLIP

    from model.predictors.tiny import REVISION

    snap = tiny_home / "hub" / "models--openai--clip-vit-large-patch14" / "snapshots" / REVISION
    ref = GeoCLIP(clip_path=str(snap)).eval()
    x = torch.stack([geoclip_predictor.preprocess(_img(s)) for s in range(2)])
    idx = torch.arange(0, 100_000, 97)
    with torch.inference_mode():
        want = ref(x, ref.gps_gallery[idx])
    got = geoclip_predictor.outputs(x)["logits"][:, idx.numpy()]
    assert max_diff_to_scale(want, got) < 1e-4


def test_geoclip_predict_fuses_views_through_the_shared_answer(geoclip_predictor):
    p = geoclip_predictor
    a, b = _img(1), _img(2, (60, 90))
    fused = p.predict([a, b], top_k=5)
    x = torch.stack([p.preprocess(a), p.preprocess(b)])
    want = to_prediction(answer_place(p.outputs(x), p.cells.table, cell_country_index(p.cells.table)[1]),
                         p.cells.table, 5, 2)
    assert fused.n_views == 2 and len(fused.top) == 5
    np.testing.assert_allclose(fused.cell_probs, want.cell_probs, rtol=1e-6)
    assert (fused.lat, fused.lon, fused.country_code) == (want.lat, want.lon, want.country_code)
    assert abs(fused.cell_probs.sum() - 1) < 1e-9
    single = p.predict(a)
    assert not np.allclose(single.cell_probs, fused.cell_probs)  # the second view changed the answer
    g = fused.top[0]
    row = p.cells.table.iloc[g.cell_id]
    assert (g.lat, g.lon, g.country_code) == (float(row["lat"]), float(row["lon"]), row["country_code"])
    assert fused.best_expected_score >= fused.expected_score - 1e-9  # E is never worse than M in expectation
    assert sum(c[2] for c in fused.country_probs) == np.float64(1.0) or \
        abs(sum(c[2] for c in fused.country_probs) - 1) < 1e-9


def test_geoclip_accepts_paths_bytes_and_pil(geoclip_predictor, tmp_path):
    img = _img(3)
    path = tmp_path / "a.jpg"
    img.save(path, quality=95)
    by_path = geoclip_predictor.predict(str(path))
    by_bytes = geoclip_predictor.predict(path.read_bytes())
    assert by_path.top[0].cell_id == by_bytes.top[0].cell_id
    np.testing.assert_allclose(by_path.cell_probs, by_bytes.cell_probs, rtol=1e-6)
