"""Build (or rebuild) a checkpoint's retrieval gallery:
``python -m model.gallery --checkpoint C [--data MANIFEST] [--out C2]``.

The gallery holds one head embedding per *training* location of the checkpoint (the location groups
recorded at training time, else the manifest's ``train`` split). When the manifest has a held-out
``val`` split the model was not trained on, the number of candidate cells and the similarity
temperature are chosen there by mean per-location GeoScore; otherwise the defaults are kept.
``model.train`` calls :func:`add_gallery` after training, so new checkpoints carry one.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, write_checkpoint
from .features import DEFAULT_CACHE
from .geo import geoscore, haversine_km
from .inference import cell_country_index, combine_country, fuse_views
from .manifest import read_manifest
from .retrieval import DEFAULT_TEMPERATURE, DEFAULT_TOP_CELLS, Gallery, build_gallery, refine

log = logging.getLogger("model.gallery")
TOP_CELLS_GRID = (5, 10, 20)
TEMPERATURE_GRID = (0.01, 0.02, 0.03, 0.05, 0.1)


def location_inputs(out: dict[str, np.ndarray], rows: pd.DataFrame, cells) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
    """Per location with coordinates: (cell probabilities (C,), mean embedding (H,), true lat, lon)."""
    _, cidx = cell_country_index(cells.table)
    cl = out.get("country_logits")
    rows = rows.reset_index(drop=True)
    res = []
    for _, g in rows[rows["lat"].notna()].groupby("location_id", sort=False):
        i = g.index.to_numpy()
        p = combine_country(fuse_views(out["logits"][i]), fuse_views(cl[i]) if cl is not None else None, cidx)
        res.append((p, out["embed"][i].mean(0), float(g["lat"].iloc[0]), float(g["lon"].iloc[0])))
    return res


def choose_settings(gallery: Gallery, held_out: list, grid_cells=TOP_CELLS_GRID,
                    grid_temp=TEMPERATURE_GRID) -> tuple[int, float, dict]:
    """Grid search of (top_cells, temperature) by mean GeoScore of the refined guess on ``held_out``
    (from :func:`location_inputs`). Returns the best pair and every pair's score."""
    scores = {}
    for k, t in itertools.product(grid_cells, grid_temp):
        gallery.top_cells, gallery.temperature = k, t
        s = []
        for p, e, lat, lon in held_out:
            r = refine(p, e, gallery)
            if r is not None:
                s.append(geoscore(haversine_km(lat, lon, r["lat"], r["lon"])))
        scores[f"{k}/{t:g}"] = float(np.mean(s)) if s else 0.0
    best = max(scores, key=scores.get)
    k, t = best.split("/")
    return int(k), float(t), scores


def add_gallery(ck_path: str | Path, df: pd.DataFrame, out_path: str | Path | None = None,
                cache: str | Path | None = DEFAULT_CACHE, outputs: dict | None = None,
                top_cells: int | None = None, temperature: float | None = None) -> dict:
    """Compute embeddings for ``df`` (a manifest with ``split``), build the gallery from the
    checkpoint's training locations, tune it on held-out ``val`` rows when there are any (unless
    ``top_cells`` and ``temperature`` are given), and save the checkpoint (in place unless
    ``out_path``). ``outputs``: precomputed :func:`model.evaluate.network_outputs` for ``df``.
    Returns a summary dict."""
    from .evaluate import network_outputs

    net, cells, ck = load_checkpoint(ck_path)
    df = df.reset_index(drop=True)
    out = outputs if outputs is not None else network_outputs(net, ck, df["path"].tolist(), cache)
    if "embed" not in out:
        raise ValueError("this network has no embedding output; no gallery can be built")
    ok = np.asarray(out["ok"], bool)
    groups = set(ck.get("extra", {}).get("train_groups", []))
    split = df["split"] if "split" in df else pd.Series("", index=df.index)
    train = (df["group_id"].astype(str).isin(groups) if groups else split == "train").to_numpy() & ok
    val = (split == "val").to_numpy() & ok & ~train
    if not train.any():
        raise ValueError("none of the manifest's rows is a training location of this checkpoint")
    given = top_cells is not None and temperature is not None
    gal = build_gallery(out["embed"][train], df[train], cells, top_cells or DEFAULT_TOP_CELLS,
                        temperature or DEFAULT_TEMPERATURE)
    summary = {"locations": len(gal), "top_cells": gal.top_cells, "temperature": gal.temperature}
    if val.any() and len(gal) and not given:
        held = location_inputs({k: v[val] for k, v in out.items() if k != "ok"}, df[val], cells)
        base = float(np.mean([geoscore(haversine_km(la, lo, *_top_position(p, cells))) for p, _, la, lo in held])) \
            if held else 0.0
        k, t, scores = choose_settings(gal, held)
        gal.top_cells, gal.temperature = k, t
        summary.update(top_cells=k, temperature=t, val_locations=len(held), val_geoscore_refined=scores[f"{k}/{t:g}"],
                       val_geoscore_top_cell_centroid=base)
    ck["gallery"] = gal.to_state()
    ck.setdefault("extra", {})["gallery"] = summary
    write_checkpoint(ck, out_path or ck_path)
    log.info("gallery: %s", summary)
    return summary


def _top_position(p: np.ndarray, cells) -> tuple[float, float]:
    """The most probable cell's centroid (lat, lon), the no-retrieval reference on the val split."""
    j = int(p.argmax())
    return float(cells.table["lat"].iloc[j]), float(cells.table["lon"].iloc[j])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m model.gallery", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--data", help="manifest CSV (default: $GEOLOC_DATA, data/manifest.csv, ../shared/geodata)")
    ap.add_argument("--out", help="write the checkpoint here (default: in place)")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="feature cache folder ('' = no cache)")
    ap.add_argument("--top-cells", type=int, help="candidate cells (with --temperature: no tuning on val)")
    ap.add_argument("--temperature", type=float, help="cosine-similarity temperature")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    df = read_manifest(args.data)
    try:
        summary = add_gallery(args.checkpoint, df, args.out, args.cache or None, top_cells=args.top_cells,
                              temperature=args.temperature)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
