"""GeoCLIP (Vivanco et al., NeurIPS 2023; ``pip install geoclip``, MIT) as a predictor.

GeoCLIP matches an image embedding against a location encoder's embeddings of 100,000 GPS points (its
gallery): a frozen CLIP ViT-L/14 image tower (``openai/clip-vit-large-patch14``, 224 px), its projection
(768) and GeoCLIP's MLP (768 -> 768 -> 512); the location encoder (Equal Earth projection, random
Fourier features at 3 scales, MLPs, summed: (N, 2) degrees -> (N, 512)). The MLP, the location encoder,
the logit scale (exp 39.7) and the gallery ship inside the wheel; only the CLIP tower is downloaded.

Here: the candidates are the 100k gallery points (reverse-geocoded offline, :func:`.candidates.gallery_cells`),
``logits = logit_scale * cos(image, location)`` (V, 100000), exactly ``GeoCLIP.forward``'s
``logits_per_image``; the answer is the project's (:func:`model.net.answer.answer_place`). The gallery's
embeddings are computed once (about 30 s on 2 CPU cores, in float32: the sigma-256 Fourier features are
useless in bfloat16) and cached on disk, keyed by the sha256 of the location encoder's weights and the
gallery file and geoclip's version; unlike ``GeoCLIP.predict``, nothing is re-encoded per photo.
"""
from __future__ import annotations

import hashlib
import logging
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from model.device import CPU, Runtime
from model.net.backbones.clip import _FILES
from model.net.backbones.hf import fetch_command

from .base import NetPredictor
from .cache import cached_tensors
from .candidates import gallery_cells
from .clip_tower import ClipImageTower, load_clip
from .weights import WeightsInfo, WeightsMissing, snapshot_revision, weights_sha256

log = logging.getLogger("model.predictors")

OPENAI_CLIP_LICENCE = ("MIT (OpenAI's CLIP code and weights, github.com/openai/CLIP); OpenAI's model card calls "
                       "it a research output and puts deployed use out of scope")
TOWER_REPO = "openai/clip-vit-large-patch14"
TOWER = WeightsInfo("The CLIP ViT-L/14 image tower GeoCLIP runs on", TOWER_REPO, "about 1.7 GB (float32)",
                    OPENAI_CLIP_LICENCE, fetch_command(TOWER_REPO, _FILES), _FILES,
                    ("config.json", "model.safetensors|pytorch_model.bin"))
PACKAGE = WeightsInfo("The geoclip package (GeoCLIP's MLP, location encoder and 100k GPS gallery)", "",
                      "a 40 MB wheel", "MIT", "pip install --no-deps geoclip==1.3.0 geopy geographiclib")
LICENCE = ("MIT (GeoCLIP's MLP, location encoder and GPS gallery, (c) 2024 Vicente Vivanco) on OpenAI's CLIP "
           f"ViT-L/14 image tower: {OPENAI_CLIP_LICENCE}")
GALLERY_DTYPE = torch.float32  # on disk and in memory (never bfloat16: see the module docstring)
CHUNK = 10_000  # gallery points per location-encoder batch


def wheel() -> dict:
    """The installed geoclip's files, found without importing it (its import pulls in half of transformers):
    ``dir`` (its ``model`` folder), ``version``, ``mlp``, ``location``, ``logit_scale`` (weight files) and
    ``gallery`` (the GPS CSV). WeightsMissing (with the pip command) when it or geopy is not installed."""
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    spec = find_spec("geoclip")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissing(PACKAGE, ["the geoclip package"])
    if find_spec("geopy") is None:  # geoclip/__init__ imports geopy (its training helpers)
        raise WeightsMissing(PACKAGE, ["geopy, which import geoclip needs"])
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    files = {"dir": d, "mlp": d / "weights" / "image_encoder_mlp_weights.pth",
             "location": d / "weights" / "location_encoder_weights.pth",
             "logit_scale": d / "weights" / "logit_scale_weights.pth",
             "gallery": d / "gps_gallery" / "coordinates_100K.csv"}
    gone = [str(p) for k, p in files.items() if k != "dir" and not p.is_file()]
    if gone:
        raise WeightsMissing(PACKAGE, gone)
    try:
        files["version"] = version("geoclip")
    except PackageNotFoundError:
        files["version"] = "unknown"
    return files


def _geoclip_modules():
    """GeoCLIP's ``LocationEncoder`` and ``load_gps_data`` (importing geoclip, quietly)."""
    try:
        with warnings.catch_warnings():  # its random-Fourier-feature module uses the deprecated torch.jit.script
            warnings.simplefilter("ignore", FutureWarning)
            from geoclip.model.location_encoder import LocationEncoder
            from geoclip.model.misc import load_gps_data
    except ImportError as e:
        raise WeightsMissing(PACKAGE, [str(e)]) from e
    return LocationEncoder, load_gps_data


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def image_mlp(path: Path) -> nn.Sequential:
    """GeoCLIP's image MLP (``ImageEncoder.mlp``: 768 -> 768 -> ReLU -> 512) with the wheel's weights."""
    mlp = nn.Sequential(nn.Linear(768, 768), nn.ReLU(), nn.Linear(768, 512))
    mlp.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return mlp.eval()


def gallery_embeddings(files: dict, runtime: Runtime = CPU) -> dict[str, torch.Tensor]:
    """``{"feats": (N, 512) unit vectors, "gps": (N, 2) degrees}`` of the wheel's gallery, from the disk
    cache or computed once with the wheel's location encoder on ``runtime``'s device, in float32."""
    key = hashlib.sha256((_sha(files["location"]) + _sha(files["gallery"]) + files["version"]).encode())
    name = f"geoclip/gallery-{key.hexdigest()[:24]}-{str(GALLERY_DTYPE).split('.')[-1]}.pt"

    def build() -> dict[str, torch.Tensor]:
        LocationEncoder, load_gps_data = _geoclip_modules()
        t0 = time.perf_counter()
        enc = LocationEncoder(from_pretrained=True).eval().to(runtime.device)  # the wheel's weights
        gps = load_gps_data(str(files["gallery"]))
        log.info("encoding GeoCLIP's %d-point gallery once on %s (cached afterwards)", len(gps), runtime.device)
        with torch.no_grad(), torch.autocast(runtime.device.type, enabled=False):
            feats = torch.cat([F.normalize(enc(c.to(runtime.device)).float(), dim=1).cpu()
                               for c in gps.split(CHUNK)])
        log.info("gallery encoded in %.1f s", time.perf_counter() - t0)
        return {"feats": feats.to(GALLERY_DTYPE), "gps": gps}

    return cached_tensors(name, build)


class GeoCLIPNet(nn.Module):
    """Images ``(B, 3, 224, 224)`` -> ``logits`` (B, N) = scale * cos(MLP(tower(x)), gallery) and ``embed``
    (B, 512) the unit image embedding. The similarity runs in float32 whatever the autocast."""

    def __init__(self, tower: ClipImageTower, mlp: nn.Module, gallery: torch.Tensor, logit_scale: torch.Tensor):
        super().__init__()
        self.tower, self.mlp = tower, mlp
        self.register_buffer("gallery", gallery.float(), persistent=False)
        self.register_buffer("scale", logit_scale.detach().float().exp(), persistent=False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.mlp(self.tower(x))
        with torch.autocast(x.device.type, enabled=False):
            f = F.normalize(f.float(), dim=1)
            return {"logits": self.scale * f @ self.gallery.T, "embed": f}


def load_geoclip(runtime: Runtime = CPU) -> NetPredictor:
    """The GeoCLIP predictor on ``runtime``. WeightsMissing (with the command that fetches them) when
    the geoclip package or the CLIP tower's weights are not available offline."""
    files = wheel()
    _, tower = load_clip(TOWER, vision_only=True)
    if tower.output_dim != 768:
        raise ValueError(f"{TOWER_REPO} in the cache projects to {tower.output_dim}, not GeoCLIP's 768: "
                         "not the ViT-L/14 GeoCLIP was trained on")
    gal = gallery_embeddings(files, runtime)
    scale = torch.load(files["logit_scale"], map_location="cpu", weights_only=True)
    net = GeoCLIPNet(tower, image_mlp(files["mlp"]), gal["feats"], scale)
    info = {"family": "geoclip", "weights": TOWER_REPO, "revision": snapshot_revision(TOWER_REPO),
            "weights_sha256": weights_sha256(TOWER_REPO), "geoclip": files["version"],
            "gallery_points": len(gal["gps"]), "logit_scale": float(net.scale),
            "tower_params": int(sum(p.numel() for p in tower.parameters()))}
    return NetPredictor("geoclip", LICENCE, net, tower.backbone, gallery_cells(gal["gps"].numpy(), "geoclip"),
                        runtime, 0.0, info)
