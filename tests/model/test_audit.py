"""Shortcut audit (model.audit): sampling, summaries, a planted bottom-band shortcut that the audit must
catch, real images through a tiny model, and the CLI with the real model."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from model import audit as au
from tests.app.apphelpers import CELLS, FakePredictor


def test_sample_locations_spreads_over_sources():
    df = pd.DataFrame({"location_id": [f"s{i}" for i in range(10)] + ["u0", "u1"] + ["c0"],
                       "source": ["gsv_strips"] * 10 + ["screenshots_ui"] * 2 + ["gsv_croatia"]})
    three = au.sample_locations(df, 3, seed=1)
    assert {x[0] for x in three} == {"s", "u", "c"}  # one per source before a second from any
    assert au.sample_locations(df, 3, seed=1) == three
    five = au.sample_locations(df, 5, seed=1)
    assert five[:3] == three and sum(x.startswith("u") for x in five) == 2
    assert sorted(au.sample_locations(df)) == sorted(df["location_id"]) and len(au.sample_locations(df, 99)) == 13


def _row(src, bottom, edge, country, shown, no_bottom, no_edges, km=(100.0, 900.0, 100.0)):
    r = {"location_id": f"{src}-{bottom}", "source": src, "true_country": country, "bottom_share": bottom,
         "edge_share": edge, "bottom_area": 0.15, "edge_area": 0.25}
    for v, c, d in zip(au.VARIANTS, (shown, no_bottom, no_edges), km):
        r.update({f"{v}_country": c, f"{v}_correct": c == country, f"{v}_km": d,
                  f"{v}_score": 5000 * math.exp(-d / 1492.7)})
    return r


def test_summaries_and_verdicts():
    rows = pd.DataFrame([_row("gsv", 0.45, 0.10, "HR", "HR", "US", "HR"),
                         _row("gsv", 0.35, 0.20, "NO", "NO", "NO", "NO"),
                         _row("ui", 0.05, 0.60, "FR", "FR", "FR", "ES")])
    s = au.summarize(rows)
    o = s["overall"]
    assert o["n"] == 3 and o["bottom_share"] == pytest.approx(0.85 / 3) and o["edge_ratio"] == pytest.approx(0.3 / 0.25)
    assert o["acc_shown"] == 1.0
    assert o["acc_no_bottom"] == pytest.approx(2 / 3) and o["acc_no_edges"] == pytest.approx(2 / 3)
    assert o["changed_no_bottom"] == pytest.approx(1 / 3) and o["median_km_no_bottom"] == 900.0
    g = s["by_source"]["gsv"]
    assert g["n"] == 2 and g["bottom_ratio"] == pytest.approx(0.4 / 0.15) and g["acc_no_edges"] == 1.0
    found = " ".join(au.verdicts(g))
    assert "bottom band draws 40%" in found and "Hiding the bottom band costs 50 points" in found
    assert "game UI" in " ".join(au.verdicts(s["by_source"]["ui"]))
    calm = au.verdicts(au.summarize_group(pd.DataFrame([_row("x", 0.15, 0.25, "HR", "HR", "HR", "HR")])))
    assert len(calm) == 1 and calm[0].startswith("No region")
    assert au.summarize(rows.iloc[0:0]) == {"overall": {"n": 0}, "by_source": {}}
    per_source = au.source_verdicts(s, min_n=2)
    assert per_source and all(v.startswith("gsv (n=2): ") for v in per_source)  # "ui" has one location only
    assert any("game UI" in v for v in au.source_verdicts(s, min_n=1))


class BottomBandNet(nn.Module):
    """Reads only the mean colour of the bottom 15 % of its view: red -> Zagreb, blue -> Paris, nothing
    (grey) -> Denver. A model that has learnt nothing but a shortcut."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 3, 1))
        with torch.no_grad():
            self.body[0].weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.body[0].bias.zero_()
        for p in self.body.parameters():
            p.requires_grad_(False)
        self.fc = nn.Linear(3, len(CELLS))
        with torch.no_grad():
            self.fc.weight.zero_()
            self.fc.bias.zero_()
            self.fc.weight[0] = torch.tensor([3.0, -1.0, -1.0])  # Zagreb (HR)
            self.fc.weight[2] = torch.tensor([-1.0, -1.0, 3.0])  # Paris (FR)
            self.fc.bias[4] = 2.0                                # Denver (US) when the band is grey

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.body(x)
        nb = max(1, round(f.shape[2] * 0.15))
        return self.fc(f[:, :, -nb:, :].mean(dim=(2, 3)))


def _shortcut_photos(tmp_path) -> pd.DataFrame:
    rows = []
    for i, (cc, lat, lon, color) in enumerate([("HR", 45.81, 15.98, (255, 0, 0)), ("FR", 48.86, 2.35, (0, 0, 255)),
                                               ("HR", 43.51, 16.44, (255, 0, 0))]):
        a = np.full((100, 100, 3), 128, np.uint8)
        a[85:] = color  # the bottom 15 % carries the label
        p = tmp_path / f"{i}.png"
        Image.fromarray(a).save(p)
        rows.append({"location_id": f"L{i}", "source": "planted", "country_code": cc, "lat": lat, "lon": lon,
                     "view": 0, "path": str(p)})
    return pd.DataFrame(rows)


def test_audit_catches_a_planted_bottom_band_shortcut(tmp_path):
    pred = FakePredictor()
    pred.net = BottomBandNet().eval()
    pred.gradcam_layer = lambda: pred.net.body[0]
    pred.meta["crop"] = 0.0
    rows = au.run_audit(pred, _shortcut_photos(tmp_path))
    o = au.summarize(rows)["overall"]
    assert o["n"] == 3 and o["acc_shown"] == 1.0 and o["acc_no_bottom"] == 0.0  # hidden band: it is lost
    assert (rows["no_bottom_country"] == "US").all() and o["changed_no_bottom"] == 1.0
    assert o["bottom_share"] > 0.9 and o["bottom_ratio"] > 5  # and Grad-CAM points at the band
    assert o["median_km_no_bottom"] > 7000 > o["median_km_shown"]
    assert any("bottom band" in v for v in au.verdicts(o))


def test_audit_on_real_images(shared_rows, tmp_path):
    """A few real test images (Street View and a game-UI screenshot) through a tiny CNN: every number
    is in range, every view is used, and the files round-trip."""
    seen = []
    rows = au.run_audit(FakePredictor(), shared_rows, progress=lambda d, t, _m: seen.append((d, t)))
    assert seen[-1] == (3, 3) and len(rows) == 3
    assert set(rows["source"]) == {"gsv_croatia", "screenshots_ui", "gsv_random"}
    views = shared_rows.groupby("location_id").size()
    assert (rows.set_index("location_id")["n_views"] == views.reindex(rows["location_id"]).to_numpy()).all()
    for c in ("bottom_share", "edge_share"):
        assert rows[c].between(0, 1).all()
    assert np.allclose(rows["bottom_area"], 0.15, atol=0.01) and np.allclose(rows["edge_area"], 0.25, atol=0.02)
    assert (rows["bottom_share"] + rows["edge_share"] <= 1 + 1e-6).all()
    assert rows["hide_crop"].iloc[0] == pytest.approx(0.25)
    doc = au.write_audit(tmp_path, rows, {"limit": None, "seed": 0})
    back, doc2 = au.read_audit(tmp_path)
    assert json.dumps(doc2, sort_keys=True) == json.dumps(doc, sort_keys=True)  # null in the file = NaN again
    assert len(back) == 3 and back["shown_correct"].dtype == bool
    assert au.read_audit(tmp_path / "none") is None


def test_cli_with_the_real_model(real_predictor, shared_manifest_path, tmp_path, monkeypatch, capsys):
    """``python -m model.audit`` on one real location with the shipped model (loaded once for the tests)."""
    from model import predict

    monkeypatch.setattr(predict.Predictor, "load", classmethod(lambda cls, *a, **k: real_predictor))
    doc = au.main(["--data", str(shared_manifest_path), "--split", "test", "--out", str(tmp_path), "--limit", "1"])
    assert doc["overall"]["n"] == 1 and doc["limit"] == 1 and doc["split"] == "test"
    assert (tmp_path / "audit.csv").is_file() and json.loads((tmp_path / "audit.json").read_text())["overall"]["n"] == 1
    out = capsys.readouterr().out
    assert '"bottom_share"' in out and "wrote" in out
    o = doc["overall"]
    assert 0 <= o["bottom_share"] <= 1 and 0 <= o["edge_share"] <= 1 and o["acc_shown"] in (0.0, 1.0)


def test_verdicts_name_a_ten_point_move_and_small_samples():
    """Issue 22.11: a move just under the 10-point line was summed up as no sign of a shortcut; a move of 9
    points is named with its size, and a 3-place sample says it is too small to rule anything out."""
    base = {"n": 241, "bottom_ratio": 0.9, "edge_ratio": 0.8, "acc_shown": 0.47}
    found = " ".join(au.verdicts({**base, "acc_no_bottom": 0.38, "acc_no_edges": 0.465}))
    assert "moves country accuracy by -9 points" in found and "no sign" not in found
    calm = au.verdicts({**base, "acc_no_bottom": 0.465, "acc_no_edges": 0.47})
    assert len(calm) == 1 and "no sign" in calm[0] and "indicative" not in calm[0]
    tiny = au.verdicts({**base, "n": 3, "acc_no_bottom": 0.47, "acc_no_edges": 0.47})
    assert "too few to rule them out" in tiny[0]
