"""Which best guess E scores best, and is it what the page says? ``python benchmarks/best_guess.py [--data M]``.

For every held-out place with coordinates (views fused, the shipped model by default), the answer's
point distribution is scored three ways, and the realised GeoGuessr score of each rule's guess is
printed with a 95% bootstrap interval over places, beside how often each rule's guess has a lower
*expected* score than M under the answer's own distribution (the issue: the page calls E "the point
that maximises the expected score", which a rule can only claim if that count is 0):

- ``M``: the predicted point (likeliest cell of the likeliest country, moved by its offset);
- ``E refine``: the look-alike training place that maximises the expected score under its own sharp
  look-alike weights (the rule before this benchmark was written);
- ``E cells``: the maximiser over cell positions and M under the cell probabilities (no retrieval);
- ``E mixture``: the maximiser of the expected score under the answer's final distribution (the cell
  probabilities, each top cell's mass spread over its look-alike training places), over a candidate set
  holding M, every support point and the top-N points (what :func:`model.net.answer.answer_place` reports).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from model.data.images import open_image
from model.data.manifest import read_manifest
from model.geo import geoscore, haversine_km
from model.net.answer import answer_place
from model.net.guess import best_guess, point_distribution
from model.net.inference import expected_score
from model.net.retrieval import refine
from model.predict import Predictor

RULES = ("M", "E refine", "E cells", "E mixture")


def bootstrap(x: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of ``x`` over ``n`` resamples."""
    rng = np.random.default_rng(seed)
    m = [x[rng.integers(0, len(x), len(x))].mean() for _ in range(n)]
    return float(np.percentile(m, 2.5)), float(np.percentile(m, 97.5))


def guesses(p: Predictor, views: dict, top_n: int = 5) -> tuple[dict, object, object]:
    """Each rule's guess (lat, lon) for one place, its answer and its point distribution."""
    a = answer_place(views, p.cells.table, p._cidx, p.gallery)
    r = refine(a.probs, a.embed, p.gallery) if p.gallery is not None and a.embed is not None else None
    dist = point_distribution(a.probs, a.pos_lat, a.pos_lon, a.embed, p.gallery)
    top = np.argsort(-a.probs)[:top_n]
    cand = [(a.lat, a.lon)] + [(float(a.pos_lat[i]), float(a.pos_lon[i])) for i in np.argsort(-a.probs)[:256]]
    cells = cand[int(np.argmax([expected_score(y, x, a.probs, a.pos_lat, a.pos_lon) for y, x in cand]))]
    mix = best_guess(dist, np.r_[a.lat, a.pos_lat[top]], np.r_[a.lon, a.pos_lon[top]])
    return {"M": (a.lat, a.lon), "E refine": (r["lat"], r["lon"]) if r else (a.lat, a.lon), "E cells": cells,
            "E mixture": mix[:2]}, a, dist


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--data", default=None, help="manifest (default: $GEOLOC_DATA, data/, ../shared/geodata)")
    ap.add_argument("--split", default="test")
    args = ap.parse_args(argv)
    p = Predictor.load(args.checkpoint)
    df = read_manifest(args.data)
    df = df[(df["split"] == args.split) & df["lat"].notna()]
    score = {r: [] for r in RULES}
    below_cells = {r: 0 for r in RULES}  # expected score under the cell probabilities below M's
    below_mix = {r: 0 for r in RULES}  # ... under the point distribution (retrieval included)
    for _, g in df.groupby("location_id", sort=True):
        x = torch.stack([p.preprocess(open_image(f)) for f in g["path"]])
        gs, a, dist = guesses(p, p.outputs(x))
        lat, lon = float(g["lat"].iloc[0]), float(g["lon"].iloc[0])
        m_cells = expected_score(a.lat, a.lon, a.probs, a.pos_lat, a.pos_lon)
        m_mix = float(dist.expected_scores(a.lat, a.lon)[0])
        for k, (y, x_) in gs.items():
            score[k].append(float(geoscore(haversine_km(lat, lon, y, x_))))
            below_cells[k] += expected_score(y, x_, a.probs, a.pos_lat, a.pos_lon) < m_cells - 1e-6
            below_mix[k] += float(dist.expected_scores(y, x_)[0]) < m_mix - 1e-6
    n = len(score["M"])
    print(f"{args.split}: {n} places with coordinates")
    print("| guess | mean GeoScore | 95% interval | expected score below M's: cells / cells + look-alikes |")
    print("|---|---|---|---|")
    for k in RULES:
        s_ = np.asarray(score[k])
        lo, hi = bootstrap(s_)
        print(f"| {k} | {s_.mean():,.0f} | {lo:,.0f}-{hi:,.0f} | {below_cells[k]} / {below_mix[k]} of {n} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
