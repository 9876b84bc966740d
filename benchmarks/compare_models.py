"""Every predictor under one protocol: ``python benchmarks/compare_models.py --data DATA [--models ...] [--limit N]``.

For each available predictor (the shipped checkpoint, ``geoclip``, ``streetclip-zeroshot``,
``clip-zeroshot``, or any name/checkpoint given to ``--models``) on the same places of ``DATA``'s
``--split``: the evaluation of ``python -m model.evaluate --model NAME`` (:func:`model.evaluate.evaluate_predictor`,
per place, views fused), its headline figures with 95 % intervals over places (country top-1 with a
Wilson interval; median km and mean GeoGuessr score of M with percentile bootstrap intervals; the score
rounded per guess; the expected-score guess E's mean score), and the latency of one photo
(``predict(path)``: decode, preprocess, forward, answer) as p50/p95 over ``--latency`` photos, on the
CPU and, when PyTorch sees one, on the GPU. Unavailable predictors are listed with what to download.

``--tiny-hub DIR`` writes tiny random CLIP models in the hub's layout into DIR and uses them
(``HF_HOME=DIR``): the published predictors' real code on meaningless weights, to check the pipeline
offline (their rows are marked). Writes ``--out``/compare_models.json and .md; prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from model.paths import ROOT  # (pip install -e .)

TINY_NOTE = "tiny random CLIP weights (code path only, not a result)"


def places_subset(df: pd.DataFrame, split: str, limit: int, seed: int = 0) -> pd.DataFrame:
    """The rows of ``split`` ('all' = every row), at most ``limit`` places (all their views; 0 = all),
    chosen at random with ``seed`` so every predictor sees the same places."""
    if split != "all" and (df["split"] != "").any():
        df = df[df["split"] == split]
    locs = df["location_id"].drop_duplicates()
    if limit and len(locs) > limit:
        locs = locs.sample(limit, random_state=seed)
    return df[df["location_id"].isin(set(locs))].reset_index(drop=True)


def headline(pred: pd.DataFrame) -> dict:
    """Per place (first row of each location in ``predictions.csv``): country top-1 (Wilson 95 %), median
    km and mean score of M and mean score of E (bootstrap 95 %), the score rounded per guess. Each figure
    is ``{"value", "lo", "hi", "n"}``."""
    from app.common.uncertainty import bootstrap, rate

    from model.geo import geoscore

    loc = pred.drop_duplicates("location_id")
    lab = loc[loc["true_country"].fillna("") != ""]
    d = loc["loc_distance_km"].to_numpy(float)
    db = loc["loc_best_distance_km"].to_numpy(float)
    known = ~np.isnan(d)
    figs = {"country_top1": rate(lab["loc_pred_country"] == lab["true_country"]),
            "median_km": bootstrap(d[known], np.median),
            "geoscore": bootstrap(geoscore(d[known]), np.mean) if known.any() else bootstrap([], np.mean),
            "geoscore_rounded": bootstrap(np.floor(geoscore(d[known]) + 0.5), np.mean) if known.any()
            else bootstrap([], np.mean),
            "best_geoscore": bootstrap(geoscore(db[known]), np.mean) if known.any() else bootstrap([], np.mean)}
    return {k: {"value": e.value, "lo": e.lo, "hi": e.hi, "n": e.n} for k, e in figs.items()}


def latency_ms(predictor, paths: list[str], warmup: int = 2) -> dict:
    """Wall time of ``predictor.predict(path)`` per photo (ms): p50, p95 and the count (after ``warmup``
    calls; CUDA synchronised)."""
    cuda = str(getattr(predictor, "device", "cpu")).startswith("cuda")
    for p in paths[:warmup]:
        predictor.predict(p)
    times = []
    for p in paths:
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        predictor.predict(p)
        if cuda:
            torch.cuda.synchronize()
        times.append(1000 * (time.perf_counter() - t0))
    return {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)), "n": len(times)}


def run_one(name: str, df: pd.DataFrame, device: str, out: Path, n_latency: int, tiny: bool) -> dict:
    """Load ``name`` on ``device``, evaluate it on ``df`` and time it; one result row (a dict)."""
    from model.evaluate import evaluate_predictor
    from model.predictors import load_predictor

    t0 = time.perf_counter()
    p = load_predictor(name, device=device)
    load_s = time.perf_counter() - t0
    slug = Path(name).stem if name.endswith(".pt") else name.replace(":", "_")
    ev_dir = out / f"{slug}-{device}"
    t0 = time.perf_counter()
    m = evaluate_predictor(p, df, ev_dir, top_k=10, chunk=16, plot=False)
    eval_s = time.perf_counter() - t0
    pred = pd.read_csv(ev_dir / "predictions.csv", keep_default_na=False, na_values=[""])
    paths = df["path"].drop_duplicates().tolist()[:n_latency]
    row = {"model": name, "device": device, "licence": getattr(p, "licence", ""), "load_s": load_s,
           "eval_s": eval_s, "images": int(m["n_images"]), "places": int(m["n_locations"]),
           "figures": headline(pred), "latency_ms": latency_ms(p, paths),
           "note": TINY_NOTE if tiny and not name.endswith(".pt") else "", "eval_dir": str(ev_dir)}
    meta = getattr(p, "meta", {}) or {}
    row["params_m"] = meta.get("tower_params", sum(q.numel() for q in p.net.parameters())) / 1e6
    return row


def _ci(f: dict, fmt) -> str:
    if not np.isfinite(f["value"]):
        return "–"
    if np.isfinite(f["lo"]) and np.isfinite(f["hi"]):
        return f"{fmt(f['value'])} [{fmt(f['lo'])}–{fmt(f['hi'])}]"
    return fmt(f["value"])


def markdown(rows: list[dict], missing: list[dict], meta: dict) -> str:
    """The table (one line per predictor and device) and the unavailable predictors with their commands."""
    pct, km, pts = (lambda v: f"{100 * v:.1f}%"), (lambda v: f"{v:,.0f}"), (lambda v: f"{v:,.0f}")
    lines = [f"Data: {meta['data']} ({meta['split']}), {meta['places']} places / {meta['images']} images; "
             f"CPU: {meta['cpu']}; torch threads {meta['threads']}; {meta['gpu'] or 'no GPU'}.", "",
             "| model | device | country top-1 [95% CI] | median km [95% CI] | GeoScore M [95% CI] | "
             "GeoScore M unrounded / rounded | GeoScore E [95% CI] | latency p50 / p95 (ms) | params (M) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        f = r["figures"]
        name = r["model"] + (" *" if r["note"] else "")
        lines.append(f"| {name} | {r['device']} | {_ci(f['country_top1'], pct)} | {_ci(f['median_km'], km)} | "
                     f"{_ci(f['geoscore'], pts)} | {f['geoscore']['value']:,.1f} / {f['geoscore_rounded']['value']:,.1f} | "
                     f"{_ci(f['best_geoscore'], pts)} | {r['latency_ms']['p50']:,.0f} / {r['latency_ms']['p95']:,.0f} | "
                     f"{r['params_m']:.2f} |")
    if any(r["note"] for r in rows):
        lines += ["", f"\\* {TINY_NOTE}."]
    if not meta["gpu"]:
        lines += ["", "GPU: not measured (no GPU on this machine)."]
    if missing:
        lines += ["", "Not available here:"]
        lines += [f"- **{m['model']}**: {m['reason']}" for m in missing]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from model.data.manifest import read_manifest
    from model.net.checkpoint import DEFAULT_CHECKPOINT
    from model.predictors import availability, predictor_names

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="manifest CSV or shard folder (default as model.evaluate)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--models", nargs="+", default=None,
                    help=f"predictor names or checkpoints (default: {DEFAULT_CHECKPOINT.name}, {', '.join(predictor_names())})")
    ap.add_argument("--limit", type=int, default=0, help="at most N places (random, seed 0; 0 = all)")
    ap.add_argument("--latency", type=int, default=20, help="photos timed per predictor and device")
    ap.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when available")
    ap.add_argument("--tiny-hub", default=None, help="write/use tiny random CLIP repos in DIR (HF_HOME=DIR)")
    ap.add_argument("--out", default="runs/compare_models")
    args = ap.parse_args(argv)
    if args.tiny_hub:
        from model.predictors.tiny import write_tiny_hub

        if not (Path(args.tiny_hub) / "hub").is_dir():
            write_tiny_hub(Path(args.tiny_hub))
        os.environ["HF_HOME"] = str(Path(args.tiny_hub).resolve())
        os.environ.pop("HF_HUB_CACHE", None)
    models = args.models or [str(DEFAULT_CHECKPOINT.relative_to(ROOT))] + predictor_names()
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    df = places_subset(read_manifest(args.data), args.split, args.limit)
    if df.empty:
        raise SystemExit(f"error: no rows of split {args.split!r} in {args.data or 'the default data'}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, missing = [], []
    for name in models:
        a = availability(name)
        if not a.available:
            missing.append({"model": name, "reason": a.reason})
            print(f"{name}: not available: {a.reason}", file=sys.stderr)
            continue
        for dev in devices:
            print(f"{name} on {dev} ...", file=sys.stderr)
            rows.append(run_one(name, df, dev, out, args.latency, bool(args.tiny_hub)))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    meta = {"data": args.data or "default", "split": args.split, "places": int(df["location_id"].nunique()),
            "images": len(df), "cpu": f"{os.cpu_count()} cores, 1-min load {os.getloadavg()[0]:.1f} at the end", "threads": torch.get_num_threads(), "gpu": gpu,
            "hf_home": os.environ.get("HF_HOME", "")}
    text = markdown(rows, missing, meta)
    (out / "compare_models.json").write_text(json.dumps({"meta": meta, "rows": rows, "missing": missing}, indent=2))
    (out / "compare_models.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
