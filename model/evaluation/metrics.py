"""Metric computations on arrays (accuracies as fractions in 0..1, distances in km)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from model.geo import bbox_diagonal_km, geoscore, reference_accuracy

TOPK = (1, 3, 5, 10)
THRESHOLDS_KM = (1, 25, 200, 750, 2500)


def topk_accuracy(ranked: list[list], truth: list, ks=TOPK) -> dict[str, float]:
    """Share of rows whose ``truth`` is among the first k of ``ranked``. Rows without a truth are skipped:
    empty or None, NaN, or a negative cell id (-1: a label-only place has no cell)."""
    rows = [(r, t) for r, t in zip(ranked, truth) if _known(t)]
    if not rows:
        return {f"top{k}": float("nan") for k in ks}
    return {f"top{k}": float(np.mean([t in list(r[:k]) for r, t in rows])) for k in ks}


def _known(t) -> bool:
    if t is None or (isinstance(t, str) and t == ""):
        return False
    if isinstance(t, (float, np.floating)):
        return not np.isnan(t)
    if isinstance(t, (int, np.integer)):
        return t >= 0
    return True


def distance_metrics(d_km: np.ndarray, map_size_km: float | None = None) -> dict[str, float]:
    """Median/mean error, share within each threshold, GeoGuessr scores (world and map-scaled)."""
    d = np.asarray(d_km, float)
    d = d[~np.isnan(d)]
    if len(d) == 0:
        return {"n_with_coords": 0}
    out = {"n_with_coords": int(len(d)), "median_km": float(np.median(d)), "mean_km": float(np.mean(d))}
    for t in THRESHOLDS_KM:
        out[f"acc_{t}km"] = float(np.mean(d <= t))
    out["geoscore_mean"] = float(np.mean(geoscore(d)))  # 5000*exp(-d/1492.7) unrounded (PIGEON's figures)
    out["geoscore_rounded_mean"] = float(np.mean(np.floor(geoscore(d) + 0.5)))  # rounded per guess, as the game shows
    out["geoscore_median"] = float(np.median(geoscore(d)))
    if map_size_km:
        out["map_size_km"] = float(map_size_km)
        out["geoscore_scaled_mean"] = float(np.mean(geoscore(d, map_size_km)))
    out["ref_accuracy_mean"] = float(np.mean(reference_accuracy(d)))
    return out


def summarize(frame: pd.DataFrame, map_size_km: float | None) -> dict[str, float]:
    """Metrics of one prediction table: columns true_cell, cell_rank (list), true_country,
    country_rank (list), distance_km."""
    out: dict[str, float] = {"n": int(len(frame))}
    for k, v in topk_accuracy(frame["cell_rank"].tolist(), frame["true_cell"].tolist()).items():
        out[f"cell_{k}"] = v
    for k, v in topk_accuracy(frame["country_rank"].tolist(), frame["true_country"].tolist()).items():
        out[f"country_{k}"] = v
    out.update(distance_metrics(frame["distance_km"].to_numpy(), map_size_km))
    return out


def map_size_for(lats, lons) -> float | None:
    """The map-size S (km) of a set of true coordinates, for the scaled score; None if < 2 points."""
    la, lo = np.asarray(lats, float), np.asarray(lons, float)
    m = ~np.isnan(la)
    return bbox_diagonal_km(la[m], lo[m]) if m.sum() >= 2 else None


def classification_report_frame(y_true: list[str], y_pred: list[str]) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support (scikit-learn), plus accuracy/macro/weighted rows."""
    from sklearn.metrics import classification_report

    labels = sorted(set(y_true) | set(y_pred))  # explicit, so a one-country evaluation needs no guessing
    rep = classification_report(y_true, y_pred, labels=labels, output_dict=True, zero_division=0)
    return pd.DataFrame(rep).T.rename_axis("class").reset_index()


def confusion_frame(y_true: list[str], y_pred: list[str]) -> pd.DataFrame:
    """Confusion matrix as a DataFrame (rows: true, columns: predicted) over the labels seen."""
    from sklearn.metrics import confusion_matrix

    labels = sorted(set(y_true) | set(y_pred))
    with warnings.catch_warnings():  # one label (a one-country evaluation): a 1x1 matrix is the right answer
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
        cm = confusion_matrix(y_true, y_pred, labels=labels)
    return pd.DataFrame(cm, index=labels, columns=labels)
