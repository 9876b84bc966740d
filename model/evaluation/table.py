"""The evaluation's tables: one row per image with its own and its place's answer, and the metrics of them.

Both answers come from :func:`model.net.answer.answer_place` (an image is a one-view place whose best guess
is not refined; a place fuses its views). Units: degrees, km, GeoGuessr points, probabilities 0..1.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from model.geo import geoscore, haversine_km
from model.net.answer import answer_place
from model.net.inference import cell_country_index

from .metrics import TOPK, summarize


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
    keys = [k for k in out if k != "ok"]
    loc_cache = {loc: answer_place({k: out[k][g.index.to_numpy()] for k in keys}, t, cidx, gallery, map_size_km)
                 for loc, g in df[ok].groupby("location_id", sort=False)}
    rows = []
    for i in np.flatnonzero(ok):
        r = df.iloc[i]
        d = answer_place({k: out[k][i:i + 1] for k in keys}, t, cidx, gallery, map_size_km, refine_guess=False)
        p = d.probs
        L = loc_cache[r["location_id"]]
        has = not np.isnan(r["lat"])
        dist = haversine_km(r["lat"], r["lon"], d.lat, d.lon) if has else np.nan
        ldist = haversine_km(r["lat"], r["lon"], L.lat, L.lon) if has else np.nan
        bdist = haversine_km(r["lat"], r["lon"], L.best_lat, L.best_lon) if has else np.nan
        top = d.order[:top_k]
        row = {
            "image": r["image"], "location_id": r["location_id"], "source": r.get("source", ""),
            "split": r.get("split", ""), "true_lat": r["lat"], "true_lon": r["lon"],
            "true_country": r["country_code"], "true_admin1": r["admin1"], "true_cell": int(true_cell[i]),
            "pred_lat": d.lat, "pred_lon": d.lon, "pred_country": d.country_probs.index[0],
            "pred_cell": int(top[0]), "confidence": float(p[top[0]]),
            "country_confidence": float(d.country_probs.iloc[0]),
            "distance_km": dist, "score": geoscore(dist) if has else np.nan,
            "entropy": d.entropy, "expected_km": d.expected_km,
            "loc_pred_lat": L.lat, "loc_pred_lon": L.lon, "loc_pred_country": L.country_probs.index[0],
            "loc_pred_cell": int(L.order[0]), "loc_confidence": float(L.probs[L.order[0]]),
            "loc_country_confidence": float(L.country_probs.iloc[0]),
            "loc_distance_km": ldist, "loc_score": geoscore(ldist) if has else np.nan,
            "loc_best_lat": L.best_lat, "loc_best_lon": L.best_lon, "loc_best_distance_km": bdist,
            "loc_best_score": geoscore(bdist) if has else np.nan,
            "loc_best_expected_score": L.best_expected_score,
            "loc_expected_score": L.expected_score, "loc_expected_km": L.expected_km,  # M's, views fused
            "cell_rank": [int(c) for c in top], "country_rank": list(d.country_probs.index[:top_k]),
            "loc_cell_rank": [int(c) for c in L.order[:top_k]],
            "loc_country_rank": list(L.country_probs.index[:top_k]),
        }
        for k, c in enumerate(top[:5], 1):
            row[f"top{k}_cell"] = t["name"].iloc[c]
            row[f"top{k}_country"] = cc[c]
            row[f"top{k}_lat"] = float(d.pos_lat[c])
            row[f"top{k}_lon"] = float(d.pos_lon[c])
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
