"""Shortcut audit over a test set: how much does the model lean on the bottom band (capture car,
"Google" watermark) and on the edges (game UI: compass, minimap, score box)?

For each sampled location (all its views):

- Grad-CAM of the predicted cell on every view, read out by ``model.explain.shortcut_readout``: the
  share of the heat in the bottom band and in the edge frame (mean over views), next to the share
  of the area they cover (what uniform heat would give);
- three predictions: the views as shown; with the bottom band hidden (a bottom crop of
  ``max(model's crop, model.explain.HIDE_BOTTOM)``); with the edges hidden (a frame of
  ``HIDE_EDGES`` of the view painted in the photo's mean colour, ``model.explain.hide_edges``).

A model that leans on a shortcut draws more heat there than the area share and loses accuracy
when it is hidden. CLI::

    python -m model.audit --checkpoint C --data MANIFEST --split test --out DIR [--limit N] [--seed S]

writes ``DIR/audit.csv`` (one row per location) and ``DIR/audit.json`` (summary overall and per
source). Distances in km, scores in GeoGuessr points, shares and accuracies in 0..1.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .explain import HIDE_BOTTOM, default_crop, explain, hide_edges
from .locks import model_lock
from .geo import geoscore, haversine_km
from .data.images import ImageLoadError, open_image

log = logging.getLogger("model.audit")
VARIANTS = ("shown", "no_bottom", "no_edges")
VARIANT_LABELS = {"shown": "As shown", "no_bottom": "Bottom band hidden", "no_edges": "Edges hidden"}
Progress = Callable[[int, int, str], None]  # (done, total, message)


def sample_locations(df: pd.DataFrame, limit: int | None = None, seed: int = 0) -> list[str]:
    """Location ids to audit: all of them, or ``limit`` taken round-robin across sources (each source's
    locations in a seeded random order), so a small sample still covers every source (e.g. the few
    ``screenshots_ui`` locations)."""
    rng = np.random.default_rng(seed)
    firsts = df.drop_duplicates("location_id")
    by_src = {s: list(rng.permutation(g["location_id"].to_numpy()))
              for s, g in sorted(firsts.groupby("source", sort=True), key=lambda t: str(t[0]))}
    n = len(firsts) if limit is None else min(int(limit), len(firsts))
    out: list[str] = []
    while len(out) < n:
        for s in list(by_src):
            if by_src[s] and len(out) < n:
                out.append(str(by_src[s].pop(0)))
    return out


def _outcome(pred: Any, lat: float, lon: float, country: str) -> dict:
    d = float(haversine_km(lat, lon, pred.lat, pred.lon)) if not math.isnan(lat) else math.nan
    conf = float(pred.country_probs[0][2]) if len(pred.country_probs) else float("nan")
    return {"country": pred.country_code, "lat": float(pred.lat), "lon": float(pred.lon), "km": d,
            "score": float(geoscore(d)) if not math.isnan(d) else math.nan, "conf": conf,
            "correct": bool(country) and pred.country_code == country}


def audit_location(predictor: Any, views: Sequence[Any], lat: float = math.nan, lon: float = math.nan,
                   country: str = "") -> dict:
    """Audit one place (PIL views): heat shares (Grad-CAM of the predicted cell) and the outcome
    (``{variant}_country/lat/lon/km/score/conf/correct``) for each of :data:`VARIANTS`."""
    crop = default_crop(predictor)
    hid = max(crop, HIDE_BOTTOM)
    t0 = time.perf_counter()
    with model_lock(predictor):
        shown = predictor.predict(list(views), top_k=1)
        no_bottom = predictor.predict(list(views), top_k=1, crop=hid)
        no_edges = predictor.predict([hide_edges(v, crop) for v in views], top_k=1)
    exp = explain(predictor, list(views), ("cell", int(shown.top[0].cell_id)))
    r = exp.readouts
    row = {"n_views": len(views), "bottom_share": float(np.mean([x.bottom_share for x in r])),
           "edge_share": float(np.mean([x.edge_share for x in r])), "bottom_area": float(r[0].bottom_area),
           "edge_area": float(r[0].edge_area), "hide_crop": hid}
    for name, p in zip(VARIANTS, (shown, no_bottom, no_edges)):
        row.update({f"{name}_{k}": v for k, v in _outcome(p, lat, lon, country).items()})
    row["seconds"] = time.perf_counter() - t0
    return row


def run_audit(predictor: Any, df: pd.DataFrame, limit: int | None = None, seed: int = 0,
              progress: Progress | None = None) -> pd.DataFrame:
    """Audit the locations of manifest rows ``df`` (a sample of ``limit``, see :func:`sample_locations`).
    Views that cannot be loaded are skipped (a location without any is left out). One row per location."""
    ids = sample_locations(df, limit, seed)
    groups = {k: g.sort_values("view") for k, g in df.groupby("location_id", sort=False)}
    rows = []
    for i, loc in enumerate(ids):
        g = groups[loc]
        views = []
        for p in g["path"]:
            try:
                views.append(open_image(p))
            except ImageLoadError as e:
                log.warning("skipping bad image: %s", e)
        if views:
            r0 = g.iloc[0]
            row = {"location_id": loc, "source": r0.get("source", ""), "true_country": r0.get("country_code", ""),
                   "true_lat": float(r0["lat"]), "true_lon": float(r0["lon"])}
            row.update(audit_location(predictor, views, row["true_lat"], row["true_lon"], row["true_country"]))
            rows.append(row)
        if progress:
            progress(i + 1, len(ids), str(loc))
    return pd.DataFrame(rows)


def summarize_group(rows: pd.DataFrame) -> dict:
    """Means of one group of audit rows: heat shares and area shares (ratio = share / area), and per
    variant the country accuracy, median error (km) and mean score; ``changed_*`` is the share of
    locations whose predicted country changed when that part was hidden."""
    out: dict[str, Any] = {"n": int(len(rows))}
    if rows.empty:
        return out
    for k in ("bottom_share", "edge_share", "bottom_area", "edge_area"):
        out[k] = float(rows[k].mean())
    out["bottom_ratio"] = out["bottom_share"] / max(out["bottom_area"], 1e-9)
    out["edge_ratio"] = out["edge_share"] / max(out["edge_area"], 1e-9)
    lab = rows["true_country"].astype(str) != ""
    for v in VARIANTS:
        d = rows[f"{v}_km"].astype(float).dropna()
        out[f"acc_{v}"] = float(rows.loc[lab, f"{v}_correct"].astype(bool).mean()) if lab.any() else math.nan
        out[f"median_km_{v}"] = float(d.median()) if len(d) else math.nan
        out[f"score_{v}"] = float(rows[f"{v}_score"].astype(float).dropna().mean()) if len(d) else math.nan
        if v != "shown":
            out[f"changed_{v}"] = float((rows[f"{v}_country"] != rows["shown_country"]).mean())
    return out


def summarize(rows: pd.DataFrame) -> dict:
    """``{"overall": ..., "by_source": {source: ...}}`` of :func:`summarize_group`."""
    by = {str(s): summarize_group(g) for s, g in rows.groupby("source", sort=True)} if len(rows) else {}
    return {"overall": summarize_group(rows), "by_source": by}


SMALL_N = 30  # below this many places a summary's verdict says it is indicative (as app.common.uncertainty)
NOTICE = 0.02  # a change of accuracy this large is named, even below ``drop`` (one place in 50)


def verdicts(s: dict, ratio: float = 1.5, drop: float = 0.10) -> list[str]:
    """Plain-language findings of a :func:`summarize_group` block: a region drawing ``ratio`` times its
    area share of the heat, accuracy falling by ``drop`` (absolute) or more when a part is hidden, and any
    smaller move of :data:`NOTICE` or more named with its size (never called "no change": these means carry
    no interval; the paired intervals are in Explore's audit tab, ``app.explore.audit_view``). "No sign of
    these shortcuts" is said only when nothing moved; a sample under :data:`SMALL_N` places says that it
    is too small to rule them out."""
    out: list[str] = []
    n = int(s.get("n", 0) or 0)
    if n == 0:
        return out
    for region, what in (("bottom", "the capture car or the watermark"), ("edge", "game UI (compass, minimap)")):
        r = s.get(f"{region}_ratio", 0.0)
        if r >= ratio:
            part = "bottom band" if region == "bottom" else "edge frame"
            out.append(f"The {part} draws {s[f'{region}_share']:.0%} of the heat for {s[f'{region}_area']:.0%} of the "
                       f"picture ({r:.1f}×): {what} may be doing the work.")
    moved = False
    for v, what in (("no_bottom", "the bottom band"), ("no_edges", "the edges")):
        a, b = s.get("acc_shown", math.nan), s.get(f"acc_{v}", math.nan)
        if math.isnan(a) or math.isnan(b):
            continue
        if a - b >= drop:
            out.append(f"Hiding {what} costs {100 * (a - b):.0f} points of country accuracy ({a:.0%} → {b:.0%}).")
        elif abs(a - b) >= NOTICE:
            moved = True
            out.append(f"Hiding {what} moves country accuracy by {100 * (b - a):+.0f} points ({a:.0%} → {b:.0%}, "
                       f"n = {n}): less than {100 * drop:.0f}, but not nothing; read its paired interval before "
                       "calling it noise.")
    small = f" With {n} places this is indicative: too few to rule them out." if n < SMALL_N else ""
    if not out:
        out.append("No region draws much more heat than its area, and hiding the bottom band or the edges moves "
                   f"country accuracy by less than {100 * NOTICE:.0f} points: no sign of these shortcuts in this "
                   f"sample.{small}")
    elif small and not moved:
        out[-1] += small
    return out


def source_verdicts(doc: dict, min_n: int = 3) -> list[str]:
    """Findings of :func:`verdicts` for each source with at least ``min_n`` audited locations (the
    overall mean can hide a source that leans on a shortcut), as "source (n=..): finding"."""
    out = []
    for src, g in sorted(doc.get("by_source", {}).items()):
        if g.get("n", 0) >= min_n:
            out += [f"{src} (n={g['n']}): {v}" for v in verdicts(g) if not v.startswith("No region")]
    return out


def audit_doc(rows: pd.DataFrame, meta: dict) -> dict:
    """The summary document of an audit (what ``audit.json`` holds): ``meta`` and :func:`summarize`, as plain
    JSON values. The app keeps a visitor's own runs as (rows, this document) in their session."""
    from .net.checkpoint import plain

    return plain({**meta, **summarize(rows)})


def write_audit(out_dir: str | os.PathLike, rows: pd.DataFrame, meta: dict) -> dict:
    """Write ``audit.csv`` and ``audit.json`` (:func:`audit_doc`) into ``out_dir``, each atomically; returns
    the JSON. It replaces the audit of that folder, which every reader of the folder then sees: the app
    writes only on a visitor's explicit choice."""
    from .net.checkpoint import write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"audit.csv.{os.getpid()}.tmp"
    rows.to_csv(tmp, index=False, float_format="%.6f")
    os.replace(tmp, out / "audit.csv")
    doc = audit_doc(rows, meta)
    write_json(out / "audit.json", doc)
    return doc


def read_audit(folder: str | os.PathLike) -> tuple[pd.DataFrame, dict] | None:
    """(rows, summary JSON) of an audit written by :func:`write_audit`, or None if there is none."""
    f = Path(folder)
    if not ((f / "audit.csv").is_file() and (f / "audit.json").is_file()):
        return None
    rows = pd.read_csv(f / "audit.csv", dtype={"location_id": str, "source": str, "true_country": str,
                                               "shown_country": str, "no_bottom_country": str,
                                               "no_edges_country": str}, keep_default_na=False,
                       na_values={c: [""] for c in ("true_lat", "true_lon", "shown_km", "no_bottom_km", "no_edges_km",
                                                    "shown_score", "no_bottom_score", "no_edges_score")})
    doc = json.loads((f / "audit.json").read_text())
    for block in [doc.get("overall", {}), *doc.get("by_source", {}).values()]:  # JSON null = not measurable
        for k, v in block.items():
            if v is None:
                block[k] = math.nan
    return rows, doc


def main(argv: Sequence[str] | None = None) -> dict:
    from .net.checkpoint import DEFAULT_CHECKPOINT
    from .device import add_runtime_args
    from .data.manifest import read_manifest
    from .predict import Predictor

    ap = argparse.ArgumentParser(prog="python -m model.audit", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--data", help="manifest CSV or shard folder (default: $GEOLOC_DATA, data/manifest.csv, "
                                   "../shared/geodata)")
    ap.add_argument("--split", default="test", help="split to audit ('all' = every row)")
    ap.add_argument("--out", default="runs/audit", help="folder for audit.csv and audit.json")
    ap.add_argument("--limit", type=int, default=None, help="audit this many locations (spread over sources)")
    ap.add_argument("--seed", type=int, default=0)
    add_runtime_args(ap, workers=False, compile_=False, device_default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    df = read_manifest(args.data)
    if args.split != "all" and (df["split"] != "").any():
        df = df[df["split"] == args.split]
    if df.empty:
        raise SystemExit(f"no rows with split={args.split!r} in the manifest")
    try:
        predictor = Predictor.load(args.checkpoint, args.device, args.precision)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    t0 = time.perf_counter()

    def tick(done: int, total: int, what: str) -> None:
        log.info("%d/%d locations (%s)", done, total, what)

    rows = run_audit(predictor, df, args.limit, args.seed, tick)
    meta = {"checkpoint": str(Path(args.checkpoint).resolve()), "data": str(args.data or ""), "split": args.split,
            "limit": args.limit, "seed": args.seed, "seconds": time.perf_counter() - t0,
            "hide_crop": max(default_crop(predictor), HIDE_BOTTOM)}
    doc = write_audit(args.out, rows, meta)
    o = doc["overall"]
    print(json.dumps({k: o.get(k) for k in ("n", "bottom_share", "bottom_area", "edge_share", "edge_area", "acc_shown",
                                            "acc_no_bottom", "acc_no_edges", "changed_no_bottom", "changed_no_edges")},
                     indent=2))
    print(f"wrote {args.out}/audit.csv and audit.json")
    return doc


if __name__ == "__main__":
    main()
