"""Evaluate a checkpoint on any manifest:
``python -m model.evaluate --checkpoint C --data MANIFEST [--split test] --out DIR``.

Writes ``DIR/predictions.csv`` (one row per image; per-location fused predictions repeated on
each of its rows), ``DIR/metrics.json`` (``per_image`` and ``per_location`` blocks),
``DIR/classification_report_country.csv``, ``DIR/confusion_country.csv`` and ``.png``.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from .net.checkpoint import DEFAULT_CHECKPOINT, json_text, load_checkpoint, load_gallery, write_json
from .cli import USER_ERRORS, positive_int
from .device import CPU, Runtime, add_runtime_args, runtime_from_args
from .data.features import DEFAULT_CACHE, extract
from .geo import geoscore, haversine_km
from .data.images import ImageLoadError
from .net.inference import cell_country_index, combine_country, decode, expected_score, fuse_views, softmax
from .data.loader import path_loader, shard_members, transform_for
from .data.manifest import read_manifest
from .evaluation.metrics import TOPK, classification_report_frame, confusion_frame, map_size_for, summarize
from .net.retrieval import refine, reweight

log = logging.getLogger("model.evaluate")
OUTPUTS = ("logits", "offset", "xyz", "country_logits", "embed")


def network_outputs(net, ck: dict, paths: list[str], cache: str | Path | None = DEFAULT_CACHE,
                    batch_size: int = 128, runtime: Runtime | None = None) -> dict[str, np.ndarray]:
    """Raw outputs for image files: ``logits`` (N, C), ``offset`` (N, C, 2) or ``xyz`` (N, 3),
    ``country_logits`` (N, K) with a country head, ``embed`` (N, H), ``ok`` (N,).

    Runs on ``runtime``'s device (the network is moved there; default: where the network is, in fp32)
    under its autocast; the outputs are float32 on the CPU. With a ``cache`` folder the frozen trunk's maps go through the feature cache
    (a checkpoint trained ``--mode full`` has its own trunk, and shard members are never cached: data
    that large is streamed); otherwise every batch runs the whole network, nothing is kept but the outputs.
    """
    use_cache = cache if ck["config"].get("mode") != "full" and shard_members(paths) is None else None
    crop = ck["preprocess"]["crop"]
    runtime = runtime or Runtime(next(net.parameters()).device)
    runtime.place(net).eval()
    if use_cache is None:
        return _streamed_outputs(net, paths, crop, runtime)
    maps, ok = extract(net.backbone, paths, start_block=net.start_block, crop=crop, cache_root=use_cache,
                       desc="evaluate", runtime=runtime)
    outs: dict[str, list] = {}
    with torch.inference_mode(), runtime.autocast():
        for s in tqdm(range(0, len(paths), batch_size), desc="heads", leave=False, disable=None):
            h = runtime.to_device(torch.from_numpy(np.asarray(maps[s:s + batch_size], np.float32)))
            o = net.forward_cached(h) if net.start_block else net.forward_features(h)
            for k in OUTPUTS:
                if k in o:
                    outs.setdefault(k, []).append(o[k].float().cpu().numpy())
    res = {k: np.concatenate(v) for k, v in outs.items()}
    res["ok"] = np.asarray(ok)
    return res


def _streamed_outputs(net, paths: list[str], crop: float, runtime: Runtime) -> dict[str, np.ndarray]:
    """:func:`network_outputs` without a cache: images through the DataLoader, the whole network per batch.
    The trunk's output is rounded to float16 as the feature cache stores it, so the figures are the same
    with or without a cache."""
    loader = path_loader(paths, transform_for(net.backbone, False), 32 if runtime.device.type == "cpu" else 128,
                         runtime, crop=crop)
    res: dict[str, np.ndarray] = {}
    ok = np.zeros(len(paths), bool)
    sb = net.start_block
    with torch.inference_mode(), tqdm(total=len(paths), desc="evaluate", unit="img", leave=False,
                                       disable=None) as bar:
        for x, idx in loader:
            with runtime.autocast():
                x = runtime.to_device(x)
                h = net.backbone(x) if sb == 0 else net.backbone.forward_trunk(x, sb)
                o = net.forward_cached(h.half().float())
            idx = idx.numpy()
            for k in OUTPUTS:
                if k in o:
                    v = o[k].float().cpu().numpy()
                    if k not in res:
                        res[k] = np.zeros((len(paths),) + v.shape[1:], np.float32)
                    res[k][idx] = v
            ok[idx] = True
            bar.update(len(idx))
    if not ok.any():
        raise ImageLoadError(f"none of the {len(paths)} images could be loaded")
    res["ok"] = ok
    return res


def predictions_table(df: pd.DataFrame, out: dict[str, np.ndarray], cells, top_k: int = 10,
                      map_size_km: float | None = None, gallery=None) -> pd.DataFrame:
    """One row per (loadable) image with per-image and per-location (fused views) predictions.

    The rank lists (``cell_rank``, ``country_rank`` and their ``loc_`` twins) hold at least 10 entries
    (what the top-10 metrics need) or ``top_k`` if larger.

    With a retrieval ``gallery`` (and ``embed`` in ``out``) the cell probabilities take the
    look-alike training places' country vote (:func:`model.net.retrieval.reweight`) and the
    per-location best guess (``loc_best_*``) is chosen among training places (:func:`model.net.retrieval.refine`).
    ``map_size_km``: the map the best guess plays on; None (the callers' choice) is the world map, which
    is what :class:`model.predict.Predictor` plays, so ``loc_best_*`` equals its ``best_lat/lon``
    (the scaled score of the evaluated area is still reported by :func:`compute_metrics`).
    """
    t = cells.table
    cc = t["country_code"].to_numpy()
    df = df.reset_index(drop=True)
    top_k = max(top_k, max(TOPK))  # the rank lists feed the top-1/3/5/10 metrics; callers may cut them
    ok = out["ok"]
    true_cell = cells.assign(df["lat"], df["lon"], df["country_code"], df["admin1"])
    _, cidx = cell_country_index(t)
    cl = out.get("country_logits")
    use_gallery = gallery is not None and "embed" in out
    rows = []
    loc_cache: dict[str, dict] = {}
    for loc, g in df[ok].groupby("location_id", sort=False):
        idx = g.index.to_numpy()
        p = combine_country(fuse_views(out["logits"][idx]), fuse_views(cl[idx]) if cl is not None else None, cidx)
        off = out["offset"][idx].mean(0) if "offset" in out else None
        xyz = out["xyz"][idx].mean(0) if "xyz" in out else None
        if use_gallery:
            p = reweight(p, out["embed"][idx].mean(0), gallery, cidx)
        L = loc_cache[loc] = decode(p, t, off, xyz, map_size_km)
        r = refine(p, out["embed"][idx].mean(0), gallery, map_size_km) if use_gallery else None
        if r is not None:
            L["best_lat"], L["best_lon"] = r["lat"], r["lon"]
            L["best_expected_score"] = expected_score(r["lat"], r["lon"], p, L["pos_lat"], L["pos_lon"], map_size_km)
    for i in np.flatnonzero(ok):
        r = df.iloc[i]
        p = combine_country(np.log(softmax(out["logits"][i].astype(np.float64)) + 1e-30),
                            np.log(softmax(cl[i].astype(np.float64)) + 1e-30) if cl is not None else None, cidx)
        if use_gallery:
            p = reweight(p, out["embed"][i], gallery, cidx)
        d = decode(p, t, out["offset"][i] if "offset" in out else None, out["xyz"][i] if "xyz" in out else None,
                   map_size_km)
        L = loc_cache[r["location_id"]]
        has = not np.isnan(r["lat"])
        dist = haversine_km(r["lat"], r["lon"], d["lat"], d["lon"]) if has else np.nan
        ldist = haversine_km(r["lat"], r["lon"], L["lat"], L["lon"]) if has else np.nan
        bdist = haversine_km(r["lat"], r["lon"], L["best_lat"], L["best_lon"]) if has else np.nan
        top = d["order"][:top_k]
        row = {
            "image": r["image"], "location_id": r["location_id"], "source": r.get("source", ""),
            "split": r.get("split", ""), "true_lat": r["lat"], "true_lon": r["lon"],
            "true_country": r["country_code"], "true_admin1": r["admin1"], "true_cell": int(true_cell[i]),
            "pred_lat": d["lat"], "pred_lon": d["lon"], "pred_country": d["country_probs"].index[0],
            "pred_cell": int(top[0]), "confidence": float(p[top[0]]),
            "country_confidence": float(d["country_probs"].iloc[0]),
            "distance_km": dist, "score": geoscore(dist) if has else np.nan,
            "entropy": d["entropy"], "expected_km": d["expected_km"],
            "loc_pred_lat": L["lat"], "loc_pred_lon": L["lon"], "loc_pred_country": L["country_probs"].index[0],
            "loc_pred_cell": int(L["order"][0]), "loc_confidence": float(L["probs"][L["order"][0]]),
            "loc_country_confidence": float(L["country_probs"].iloc[0]),
            "loc_distance_km": ldist, "loc_score": geoscore(ldist) if has else np.nan,
            "loc_best_lat": L["best_lat"], "loc_best_lon": L["best_lon"], "loc_best_distance_km": bdist,
            "loc_best_score": geoscore(bdist) if has else np.nan,
            "loc_best_expected_score": L["best_expected_score"],
            "cell_rank": [int(c) for c in top], "country_rank": list(d["country_probs"].index[:top_k]),
            "loc_cell_rank": [int(c) for c in L["order"][:top_k]],
            "loc_country_rank": list(L["country_probs"].index[:top_k]),
        }
        for k, c in enumerate(top[:5], 1):
            row[f"top{k}_cell"] = t["name"].iloc[c]
            row[f"top{k}_country"] = cc[c]
            row[f"top{k}_lat"] = float(d["pos_lat"][c])
            row[f"top{k}_lon"] = float(d["pos_lon"][c])
            row[f"top{k}_prob"] = float(p[c])
        rows.append(row)
    return pd.DataFrame(rows)


def compute_metrics(pred: pd.DataFrame, map_size_km: float | None) -> dict:
    """``per_image`` and ``per_location`` metric blocks from a :func:`predictions_table`."""
    per_image = summarize(pred, map_size_km)
    loc = pred.drop_duplicates("location_id")
    loc_frame = pd.DataFrame({"true_cell": loc["true_cell"], "cell_rank": loc["loc_cell_rank"],
                              "true_country": loc["true_country"], "country_rank": loc["loc_country_rank"],
                              "distance_km": loc["loc_distance_km"]})
    per_loc = summarize(loc_frame, map_size_km)
    best = summarize(loc_frame.assign(distance_km=loc["loc_best_distance_km"]), map_size_km)
    per_loc["best_guess"] = {k: v for k, v in best.items()
                             if k in ("median_km", "mean_km", "geoscore_mean") or k.startswith(("acc_", "geoscore"))}
    if "loc_best_expected_score" in loc:  # the model's own forecast of geoscore_mean (calibration check)
        known = loc["loc_best_distance_km"].notna()
        per_loc["best_guess"]["expected_score_mean"] = float(loc.loc[known, "loc_best_expected_score"].mean()) \
            if known.any() else float("nan")
    return {"per_image": per_image, "per_location": per_loc, "n_images": int(len(pred)),
            "n_locations": int(loc["location_id"].nunique())}


def evaluate_checkpoint(ck_path, df: pd.DataFrame, out_dir, cache=DEFAULT_CACHE, top_k: int = 10,
                        runtime: Runtime = CPU) -> dict:
    """Evaluate a checkpoint on manifest rows ``df`` (on ``runtime``'s device); write the report files into ``out_dir``."""
    net, cells, ck = load_checkpoint(ck_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = df.reset_index(drop=True)
    outs = network_outputs(net, ck, df["path"].tolist(), cache, runtime=runtime)
    n_bad = int((~outs["ok"]).sum())
    if n_bad:
        log.warning("%d image(s) could not be loaded and were skipped", n_bad)
    size = map_size_for(df["lat"], df["lon"])  # for the scaled score only: the guesses play the world map
    pred = predictions_table(df, outs, cells, top_k, None, gallery=load_gallery(ck))
    m = compute_metrics(pred, size)
    m["skipped_images"] = n_bad
    m["checkpoint"] = str(ck_path)
    csv = pred.copy()
    for c in ("cell_rank", "country_rank", "loc_cell_rank", "loc_country_rank"):
        csv[c] = csv[c].map(lambda v: " ".join(map(str, v[:top_k])))
    csv.to_csv(out_dir / "predictions.csv", index=False, float_format="%.6f")
    loc = pred.drop_duplicates("location_id")
    lab = loc["true_country"] != ""
    y_true, y_pred = loc.loc[lab, "true_country"].tolist(), loc.loc[lab, "loc_pred_country"].tolist()
    if y_true:
        classification_report_frame(y_true, y_pred).to_csv(out_dir / "classification_report_country.csv", index=False)
        cm = confusion_frame(y_true, y_pred)
        cm.to_csv(out_dir / "confusion_country.csv")
        _plot_confusion(cm, out_dir / "confusion_country.png")
        m["per_location"]["country_f1_macro"] = _macro_f1(y_true, y_pred)
    img = pred[pred["true_country"] != ""]
    if len(img):
        m["per_image"]["country_f1_macro"] = _macro_f1(img["true_country"].tolist(), img["pred_country"].tolist())
    write_json(out_dir / "metrics.json", m)
    return m


def _macro_f1(y_true: list[str], y_pred: list[str]) -> float:
    """Macro-averaged F1 over the countries seen (true or predicted)."""
    return float(classification_report_frame(y_true, y_pred).set_index("class").loc["macro avg", "f1-score"])


def _plot_confusion(cm: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(cm)
    fig, ax = plt.subplots(figsize=(max(6, n * 0.18), max(5, n * 0.18)))
    norm = cm.div(cm.sum(axis=1).replace(0, 1), axis=0)
    ax.imshow(norm.to_numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), cm.columns, rotation=90, fontsize=6)
    ax.set_yticks(range(n), cm.index, fontsize=6)
    ax.set_xlabel("predicted country")
    ax.set_ylabel("true country")
    ax.set_title("Country confusion (row-normalised, per location)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__)
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--data", help="manifest CSV or shard folder (default: $GEOLOC_DATA, data/manifest.csv, "
                                   "../shared/geodata)")
    ap.add_argument("--split", default="test", help="split to evaluate ('all' = every row); a manifest "
                                                   "without a split column is evaluated whole")
    ap.add_argument("--out", default="runs/eval")
    ap.add_argument("--top-k", type=positive_int, default=10,
                    help="cells and countries listed per row in predictions.csv (the metrics always use 10)")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="feature cache folder ('' = none)")
    add_runtime_args(ap, compile_=False)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        rt = runtime_from_args(args)
        df = read_manifest(args.data)
        if df.empty:
            raise SystemExit(f"error: the manifest {args.data or '(default)'} has no rows")
        if args.split != "all" and (df["split"] != "").any():
            df = df[df["split"] == args.split]
            if df.empty:
                raise SystemExit(f"error: no rows with split={args.split!r} in the manifest")
        m = evaluate_checkpoint(args.checkpoint, df, args.out, args.cache or None, args.top_k, runtime=rt)
    except USER_ERRORS as e:
        raise SystemExit(f"error: {e}") from None
    pl = m["per_location"]
    print(json_text({k: pl.get(k) for k in ("n", "country_top1", "country_top3", "cell_top1", "median_km",
                                            "geoscore_mean", "acc_750km")}))
    print(f"wrote {args.out}/predictions.csv and metrics.json")
    return m


if __name__ == "__main__":
    main()
