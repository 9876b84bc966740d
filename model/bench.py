"""Benchmarks (figures, not tests): ``python -m model.bench [--checkpoint C] [--n 50] [--train]``.

Prints: predict latency p50/p95 for one image vs the bare backbone forward at the same
resolution (the ratio is the figure; aim <= 1.3), evaluation throughput (images/s, uncached,
DataLoader with ``--workers``), and the default training recipe's time (recorded in the checkpoint,
or measured with ``--train``). ``--device``/``--precision`` as everywhere (default: ``$GEOLOC_DEVICE``,
else the CPU, like the app). The input pipeline's figures: ``python benchmarks/bench_pipeline.py``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .net.checkpoint import DEFAULT_CHECKPOINT
from .device import Runtime, add_runtime_args, runtime_from_args
from .evaluation.outputs import network_outputs
from .data.images import open_image
from .data.manifest import read_manifest
from .predict import Predictor


def _percentiles(ts: list[float]) -> tuple[float, float]:
    a = np.asarray(ts) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def bench_predict(p: Predictor, paths: list[str], repeats: int) -> dict:
    """Latency of Predictor.predict on one decoded image vs backbone(x) alone."""
    imgs = [open_image(x) for x in paths]
    rt = p.runtime
    x1 = rt.to_device(p.preprocess(imgs[0])[None])
    bb = p.net.backbone
    with torch.inference_mode(), rt.autocast():
        for _ in range(3):
            bb(x1)
            p.predict(imgs[0])
    t_bb, t_pred = [], []
    for i in range(repeats):
        im = imgs[i % len(imgs)]
        x = p.preprocess(im)[None]
        with torch.inference_mode(), rt.autocast():
            t0 = time.perf_counter()
            bb(rt.to_device(x)).float().cpu()  # back on the CPU: the GPU's work is done
            t_bb.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        p.predict(im)
        t_pred.append(time.perf_counter() - t0)
    b50, b95 = _percentiles(t_bb)
    p50, p95 = _percentiles(t_pred)
    return {"backbone_ms_p50": b50, "backbone_ms_p95": b95, "predict_ms_p50": p50, "predict_ms_p95": p95,
            "ratio_p50": p50 / b50}


def bench_eval(p: Predictor, paths: list[str], runtime: Runtime | None = None) -> dict:
    """Evaluation throughput (images/s) without the feature cache: DataLoader decoding + the whole network."""
    t0 = time.perf_counter()
    network_outputs(p.net, p.ck, paths, cache=None, runtime=runtime or p.runtime)
    dt = time.perf_counter() - t0
    return {"eval_images": len(paths), "eval_seconds": dt, "eval_images_per_s": len(paths) / dt}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m model.bench", description=__doc__)
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--data", default=None)
    ap.add_argument("--n", type=int, default=50, help="predict repeats")
    ap.add_argument("--eval-images", type=int, default=256)
    ap.add_argument("--train", action="store_true", help="also time the default training recipe (long)")
    add_runtime_args(ap, compile_=False, device_default=None)
    args = ap.parse_args(argv)
    try:
        p = Predictor.load(args.checkpoint, args.device, args.precision)
        rt = Runtime(p.device, args.precision, workers=runtime_from_args(args).workers)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    df = read_manifest(args.data)
    test = df[df["split"] == "test"] if (df["split"] == "test").any() else df
    paths = test["path"].tolist()
    res = {"threads": torch.get_num_threads(), "backbone": p.ck["backbone"], "input_size": p.input_size,
           "device": str(p.device), "precision": args.precision, "workers": rt.workers}
    res.update(bench_predict(p, paths[:20], args.n))
    res.update(bench_eval(p, paths[: args.eval_images], rt))
    res["train_seconds_recorded"] = p.ck["config"].get("train_seconds")
    if args.train:
        from .recipes import DEFAULT_RECIPE

        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "model.train", *DEFAULT_RECIPE, "--out", d, "--no-eval",
                            "--cache", str(Path(d) / "cache"), "--device", str(p.device), "--precision",
                            args.precision, "--workers", str(rt.workers)], check=True)
            res["train_seconds_measured"] = time.perf_counter() - t0
    print(f"predict one image: p50 {res['predict_ms_p50']:.1f} ms, p95 {res['predict_ms_p95']:.1f} ms")
    print(f"bare backbone forward: p50 {res['backbone_ms_p50']:.1f} ms, p95 {res['backbone_ms_p95']:.1f} ms")
    print(f"ratio predict/backbone (p50): {res['ratio_p50']:.2f}  (aim <= 1.3)")
    print(f"evaluation throughput: {res['eval_images_per_s']:.1f} images/s over {res['eval_images']} images "
          f"({res['device']}, {res['precision']}, {res['workers']} loader workers)")
    if res.get("train_seconds_recorded"):
        print(f"default recipe training time (recorded): {res['train_seconds_recorded'] / 60:.1f} min")
    if "train_seconds_measured" in res:
        print(f"default recipe training time (measured now): {res['train_seconds_measured'] / 60:.1f} min")
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
