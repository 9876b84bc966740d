"""GeoCLIP-sized predict latency on random weights: ``python benchmarks/device/geoclip_latency.py [--n 30]
[--tiny] --json OUT.json``.

The GeoCLIP predictor's own network and answer (:class:`model.predictors.geoclip.GeoCLIPNet` in a
:class:`model.predictors.base.NetPredictor`): a random CLIP ViT-L/14 image tower at 224 px with its
768-d projection, GeoCLIP's MLP (768 -> 768 -> 512), a gallery of 100,000 unit vectors (512) and
100,000 candidate places (random points on the sphere, labelled with 200 ISO country codes by
longitude and latitude band, so the country decoding has a realistic size). It needs neither the
geoclip package nor downloaded weights, so it runs on a bare device machine. One timed call is
``predict(PIL image 640x480)``: resize, crop, normalise, forward, the 100k similarities, the per-place
answer (M, E, top-5, country probabilities) on the CPU. p50/p95 over ``--n`` calls after 3 warm-ups,
in fp32 and under bf16 autocast (the similarities stay float32). ``--tiny``: a 2-block tower (CPU check).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

L14 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, patch_size=14,
           image_size=224, projection_dim=768, hidden_act="quick_gelu")
TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, patch_size=8,
            image_size=32, projection_dim=768)
N_GALLERY = 100_000


def candidates(n: int, seed: int = 0):
    """``n`` random places on the sphere as a :class:`model.net.cells.CellSet` (200 country codes by band)."""
    import pandas as pd
    import pycountry

    from model.predictors.candidates import cell_set

    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    codes = sorted(c.alpha_2 for c in pycountry.countries)[:200]
    band = (((lat + 90) // 18).astype(int) * 20 + ((lon + 180) // 18).astype(int)) % len(codes)
    cc = np.asarray(codes)[band]
    t = pd.DataFrame({"key": [f"g/{i}" for i in range(n)], "name": [f"place {i}" for i in range(n)],
                      "country_code": cc, "country": cc, "admin1": "", "lat": lat, "lon": lon, "n_train": 0})
    return cell_set(t, "gallery")


def build(tiny: bool, device: str, precision: str):
    """The GeoCLIP-sized predictor on ``device`` in ``precision``."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    from model.device import Runtime
    from model.net.backbones.clip import CLIP_MEAN, CLIP_STD
    from model.net.backbones.hf import processor_preprocess
    from model.predictors.base import NetPredictor
    from model.predictors.clip_tower import ClipImageTower
    from model.predictors.geoclip import GeoCLIPNet

    torch.manual_seed(0)
    cfg = TINY if tiny else L14
    vm = CLIPVisionModelWithProjection(CLIPVisionConfig(**cfg)).float().eval()
    s = cfg["image_size"]
    pp = processor_preprocess(CLIPImageProcessor(size={"shortest_edge": s}, crop_size={"height": s, "width": s},
                                                 resample=3, image_mean=CLIP_MEAN, image_std=CLIP_STD))
    tower = ClipImageTower(vm.vision_model, vm.visual_projection, pp).eval()
    mlp = nn.Sequential(nn.Linear(768, 768), nn.ReLU(), nn.Linear(768, 512)).eval()
    gallery = F.normalize(torch.randn(N_GALLERY, 512), dim=1)
    net = GeoCLIPNet(tower, mlp, gallery, torch.tensor(math.log(39.69)))
    return NetPredictor("geoclip-sized", "random weights", net, tower.backbone, candidates(N_GALLERY),
                        Runtime(torch.device(device), precision), 0.0, {})


def timed(p, n: int, warmup: int = 3) -> dict:
    """p50/p95 (ms) of ``p.predict(img)`` over ``n`` calls; CUDA synchronised around each."""
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8))
    cuda = p.device.type == "cuda"
    out = []
    for i in range(warmup + n):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        pred = p.predict(img)
        if cuda:
            torch.cuda.synchronize()
        if i >= warmup:
            out.append(1000 * (time.perf_counter() - t0))
    assert len(pred.top) == 5 and abs(pred.cell_probs.sum() - 1) < 1e-6
    return {"p50_ms": float(np.percentile(out, 50)), "p95_ms": float(np.percentile(out, 95)), "n": n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--json", required=True)
    args = ap.parse_args(argv)
    dev = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    res = {"what": "tiny tower (code path)" if args.tiny else "GeoCLIP-sized (ViT-L/14 224 + 100k gallery), random",
           "device": dev}
    for precision in args.precisions:
        t0 = time.perf_counter()
        p = build(args.tiny, dev, precision)
        res[precision] = dict(timed(p, args.n), build_s=time.perf_counter() - t0)
        del p
    Path(args.json).write_text(json.dumps(res, indent=2))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
