"""Build (or rebuild) a checkpoint's retrieval gallery:
``python -m model.gallery --checkpoint C [--data MANIFEST] [--out C2]``.

The gallery holds one head embedding per *training* location of the checkpoint (the location groups
recorded at training time, else the manifest's ``train`` split). When the manifest has a held-out
``val`` split the model was not trained on, the settings are chosen there: the country vote's
temperature and weight by country accuracy, then the candidate cells and similarity temperature by
mean per-location GeoScore; otherwise the defaults (or ``--settings``) are kept. Once the settings are
fixed, the val places join the gallery (``--train-only`` keeps them out); test places never do.
``model.train`` calls :func:`add_gallery` after training, so new checkpoints carry one.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .net.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, write_checkpoint
from .cli import USER_ERRORS
from .device import CPU, Runtime, add_runtime_args, runtime_from_args
from .data.features import DEFAULT_CACHE
from .geo import geoscore, haversine_km
from .evaluation.outputs import network_outputs
from .net.answer import answer_place, place_probs
from .net.inference import cell_country_index
from .data.manifest import read_manifest
from .net.retrieval import Gallery, build_gallery, reweight

log = logging.getLogger("model.gallery")
TOP_CELLS_GRID = (5, 10, 20)
TEMPERATURE_GRID = (0.01, 0.02, 0.03, 0.05, 0.1)
COUNTRY_TEMPERATURE_GRID = (0.01, 0.02, 0.03, 0.05)
COUNTRY_WEIGHT_GRID = (0.3, 0.5, 0.7)  # kept only if it beats the classifier alone (weight 0)


@dataclass
class HeldOut:
    """One held-out location: cell probabilities before the gallery (C,), mean embedding (H,), true country,
    lat/lon (NaN: label only) and its views' network outputs (for the whole answer under trial settings)."""

    probs: np.ndarray
    embed: np.ndarray
    country: str
    lat: float
    lon: float
    views: dict = field(default_factory=dict, repr=False)


def location_inputs(out: dict[str, np.ndarray], rows: pd.DataFrame, cells) -> list[HeldOut]:
    """Per location of ``rows`` (views fused): the classifier's cell probabilities and the mean embedding."""
    _, cidx = cell_country_index(cells.table)
    keys = [k for k in out if k != "ok"]
    rows = rows.reset_index(drop=True)
    res = []
    for _, g in rows.groupby("location_id", sort=False):
        i = g.index.to_numpy()
        views = {k: out[k][i] for k in keys}
        res.append(HeldOut(place_probs(views, cidx), views["embed"].mean(0), str(g["country_code"].iloc[0]),
                           float(g["lat"].iloc[0]), float(g["lon"].iloc[0]), views))
    return res


def choose_settings(gallery: Gallery, held_out: list[HeldOut], cells) -> dict:
    """Grid search on held-out locations: the country vote (temperature, weight) by country top-1
    accuracy, then the in-cell refinement (top cells, temperature) by mean GeoScore of the refined
    guess E (the answer's own rule, :func:`model.net.answer.answer_place`). Sets the winners on ``gallery``;
    returns them with the held-out figures."""
    codes, cidx = cell_country_index(cells.table)
    codes = np.asarray(codes)

    def country_acc() -> float:
        hits = [codes[np.bincount(cidx, weights=reweight(h.probs, h.embed, gallery, cidx), minlength=len(codes))
                      .argmax()] == h.country for h in held_out if h.country]
        return float(np.mean(hits)) if hits else 0.0

    gallery.country_weight = 0.0
    base_acc = country_acc()
    acc = {}
    for t, w in itertools.product(COUNTRY_TEMPERATURE_GRID, COUNTRY_WEIGHT_GRID):
        gallery.country_temperature, gallery.country_weight = t, w
        acc[(t, w)] = country_acc()
    (gallery.country_temperature, gallery.country_weight), best_acc = max(acc.items(), key=lambda kv: kv[1])
    if best_acc <= base_acc:
        gallery.country_weight = 0.0
    located = [(reweight(h.probs, h.embed, gallery, cidx), h) for h in held_out if not np.isnan(h.lat)]
    base_score = float(np.mean([geoscore(haversine_km(h.lat, h.lon, *_top_centroid(p, cells))) for p, h in located])) \
        if located else 0.0
    scores = {}
    for k, t in itertools.product(TOP_CELLS_GRID, TEMPERATURE_GRID):
        gallery.top_cells, gallery.temperature = k, t
        s = [geoscore(haversine_km(h.lat, h.lon, a.best_lat, a.best_lon))
             for _, h in located for a in [answer_place(h.views, cells.table, cidx, gallery)]]
        scores[(k, t)] = float(np.mean(s)) if s else 0.0
    (gallery.top_cells, gallery.temperature), best_score = max(scores.items(), key=lambda kv: kv[1])
    return {**gallery.settings, "val_locations": len(held_out), "val_country_top1_classifier": base_acc,
            "val_country_top1_with_vote": max(best_acc, base_acc),
            "val_geoscore_top_cell_centroid": base_score if located else None,  # None: no held-out coordinates
            "val_geoscore_refined": best_score if located else None}


def _top_centroid(p: np.ndarray, cells) -> tuple[float, float]:
    """The most probable cell's centroid (lat, lon): the no-retrieval reference."""
    j = int(p.argmax())
    return float(cells.table["lat"].iloc[j]), float(cells.table["lon"].iloc[j])


def add_gallery(ck_path: str | Path, df: pd.DataFrame, out_path: str | Path | None = None,
                cache: str | Path | None = DEFAULT_CACHE, outputs: dict | None = None,
                settings: dict | None = None, include_val: bool = True, runtime: Runtime = CPU) -> dict:
    """Compute embeddings for ``df`` (a manifest), build the gallery from the checkpoint's training
    locations (its recorded training groups, else the ``train`` split), tune it on held-out ``val``
    rows when there are any and no ``settings`` (:class:`Gallery` fields) are given, then (with
    ``include_val``) add the val places to the gallery, and save the checkpoint (in place unless ``out_path``). ``outputs``: precomputed
    :func:`model.evaluation.outputs.network_outputs` for ``df``. Returns a summary dict."""
    net, cells, ck = load_checkpoint(ck_path)
    df = df.reset_index(drop=True)
    out = outputs if outputs is not None else network_outputs(net, ck, df["path"].tolist(), cache, runtime=runtime)
    if "embed" not in out:
        raise ValueError("this network has no embedding output; no gallery can be built")
    ok = np.asarray(out["ok"], bool)
    groups = set(ck.get("extra", {}).get("train_groups", []))
    split = df["split"] if "split" in df else pd.Series("", index=df.index)
    train = (df["group_id"].astype(str).isin(groups) if groups else split == "train").to_numpy() & ok
    val = (split == "val").to_numpy() & ok & ~train
    if not train.any():
        raise ValueError("none of the manifest's rows is a training location of this checkpoint")
    gal = build_gallery(out["embed"][train], df[train], cells, **(settings or {}))
    summary = {"locations": len(gal), "with_coordinates": int((gal.cell >= 0).sum()), **gal.settings}
    if val.any() and not settings:
        held = location_inputs({k: v[val] for k, v in out.items() if k != "ok"}, df[val], cells)
        summary.update(choose_settings(gal, held, cells))
    if val.any() and include_val:  # settings fixed: the held-out places join the gallery (never test ones)
        both = train | val
        gal = build_gallery(out["embed"][both], df[both], cells, **gal.settings)
        summary.update(locations=len(gal), with_coordinates=int((gal.cell >= 0).sum()), includes_val=True)
    ck["gallery"] = gal.to_state()
    ck.setdefault("extra", {})["gallery"] = summary
    write_checkpoint(ck, out_path or ck_path)
    log.info("gallery: %s", summary)
    return summary


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m model.gallery", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--data", help="manifest CSV or shard folder (default: $GEOLOC_DATA, data/manifest.csv, "
                                   "../shared/geodata)")
    ap.add_argument("--out", help="write the checkpoint here (default: in place)")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="feature cache folder ('' = no cache)")
    ap.add_argument("--train-only", action="store_true", help="keep the val places out of the gallery")
    ap.add_argument("--settings", type=json.loads, default=None,
                    help='fixed settings as JSON instead of tuning on val, e.g. \'{"top_cells": 20, "temperature": 0.01}\'')
    add_runtime_args(ap, compile_=False)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        rt = runtime_from_args(args)
        df = read_manifest(args.data)
        summary = add_gallery(args.checkpoint, df, args.out, args.cache or None, settings=args.settings,
                              include_val=not args.train_only, runtime=rt)
    except USER_ERRORS as e:
        raise SystemExit(f"error: {e}") from None
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
