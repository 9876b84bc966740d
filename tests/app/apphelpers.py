"""Helpers for the app tests: a tiny fake predictor with the API of ``model.predict.Predictor``,
and JPEGs with EXIF GPS made at run time from shared images (never stored in the repository)."""
from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import torch
from PIL import Image
from torch import nn

from model.net.answer import Prediction, answer_place, to_prediction
from model.net.inference import cell_country_index
from model.data.transforms import crop_bottom, eval_transform

from tests.shared import REPO
SHARED = REPO.parent / "shared" / "geodata"
DEFAULT_MODEL = REPO / "assets" / "models" / "default.pt"
MAIN = str(REPO / "app" / "main.py")
TIMEOUT = 120  # seconds per AppTest run (the first one loads the model)


CELLS = pd.DataFrame({
    "key": ["HR/a", "HR/b", "FR/a", "FR/b", "US/a", "JP/a"],
    "name": ["Zagreb", "Split", "Paris", "Lyon", "Denver", "Tokyo"],
    "country_code": ["HR", "HR", "FR", "FR", "US", "JP"],
    "country": ["Croatia", "Croatia", "France", "France", "United States", "Japan"],
    "admin1": ["Grad Zagreb", "Splitsko-Dalmatinska", "Ile-de-France", "Auvergne-Rhone-Alpes", "Colorado", "Tokyo"],
    "lat": [45.81, 43.51, 48.86, 45.76, 39.74, 35.68],
    "lon": [15.98, 16.44, 2.35, 4.84, -104.99, 139.69],
    "n_train": [10, 8, 12, 5, 20, 9],
})


class TinyNet(nn.Module):
    """Two convolutions, global pooling, a linear layer: (B, 3, 64, 64) -> (B, 6) cell logits."""

    def __init__(self, n_cells: int = len(CELLS)):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                                  nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(16, n_cells)
        for p in self.body.parameters():  # a frozen backbone, like the shipped model may have
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x).mean(dim=(2, 3)))


class FakePredictor:
    """Same public surface as ``model.predict.Predictor``; tiny and deterministic."""

    input_size = 64
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)

    def __init__(self):
        self.net = TinyNet().eval()
        self.cells = SimpleNamespace(table=CELLS.copy())
        self.meta = {"backbone": "tiny-cnn", "cell_scheme": "geocells", "crop": 0.1,
                     "config": {"mode": "head", "epochs": 3, "seed": 0},
                     "metrics": {"per_location": {"country_top1": 0.5, "median_km": 812.3, "geoscore_mean": 2100.0},
                                 "per_image": {"country_top1": 0.45, "n": 100}},
                     "versions": {"torch": torch.__version__}}
        self.calls = 0

    def preprocess(self, img: Image.Image, crop: float | None = None) -> torch.Tensor:
        c = self.meta["crop"] if crop is None else crop
        return eval_transform(self.input_size, self.mean, self.std)(crop_bottom(img, c))

    def predict(self, images, top_k: int = 5, crop: float | None = None) -> Prediction:
        self.calls += 1
        views = [images] if isinstance(images, Image.Image) else list(images)
        x = torch.stack([self.preprocess(v, crop) for v in views])
        with torch.no_grad():
            logits = self.net(x).numpy()
        a = answer_place({"logits": logits}, CELLS, cell_country_index(CELLS)[1])
        return to_prediction(a, CELLS, top_k, len(views), self.meta["crop"] if crop is None else crop)

    def cell_logits_model(self) -> nn.Module:
        return self.net

    def gradcam_layer(self) -> nn.Module:
        return self.net.body[2]


def jpeg_with_gps(src: Path, lat: float, lon: float) -> bytes:
    """JPEG bytes of ``src`` carrying EXIF GPS (lat, lon in degrees)."""
    img = Image.open(src).convert("RGB")
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)

    def dms(v: float):
        v = abs(v)
        d = int(v)
        m = int((v - d) * 60)
        s = round(((v - d) * 60 - m) * 60, 4)
        return (d, m, s)

    gps[1], gps[2] = ("N" if lat >= 0 else "S"), dms(lat)
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), dms(lon)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def make_dev_checkpoint(path: Path) -> Path:
    """A real checkpoint (pretrained EfficientNet-Lite2, untrained head, geocells of the shared train
    split) for tests on machines where assets/models/default.pt is not there yet (about 10 s)."""
    import torch

    from model.net.backbones import create_model
    from model.net.cells import build_cells
    from model.net.checkpoint import save_checkpoint
    from model.data.manifest import read_manifest
    from model.net.heads import GeoHead
    from model.net.network import GeoNet

    df = read_manifest()
    cells = build_cells(df[df["split"] == "train"], "geocells")
    bb = create_model("efficientnet_lite2", pretrained=True)
    torch.manual_seed(0)
    net = GeoNet(bb, GeoHead(bb.feature_dim, len(cells), 256, 0.3, "offset"), bb.num_blocks - 1)
    cfg = {"mode": "frozen", "crop": 0.12, "hidden": 256, "dropout": 0.3, "regression": "offset",
           "backbone": "efficientnet_lite2"}
    return save_checkpoint(path, net, cells, cfg, metrics={"per_location": {"country_top1": 0.1, "median_km": 3000.0}})


def metric(at, label: str) -> str:
    """The value of the first ``st.metric`` with this label in an AppTest."""
    return next(m.value for m in at.metric if m.label == label)
