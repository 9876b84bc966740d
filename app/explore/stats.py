"""Aggregations of the Explore page (no Streamlit): error buckets, filters, per-country accuracy,
confusion matrices and calibration, all on the per-location table of ``app.explore.data``.

Units: distances in km, scores in GeoGuessr points, confidences and accuracies in 0..1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from app.common.uncertainty import wilson

# Error buckets: upper edges in km (the thresholds of model.evaluation.metrics) and how a player reads them.
BUCKET_EDGES_KM = (1.0, 25.0, 200.0, 750.0, 2500.0)
BUCKET_LABELS = ("≤ 1 km (street)", "1–25 km (city)", "25–200 km (region)", "200–750 km (country)",
                 "750–2,500 km (continent)", "> 2,500 km")
BUCKET_SHORT = ("≤ 1 km", "≤ 25 km", "≤ 200 km", "≤ 750 km", "≤ 2,500 km", "> 2,500 km")
BUCKET_COLORS = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027")
UNKNOWN_COLOR = "#9e9e9e"
RIGHT_WRONG = ("All", "Right country", "Wrong country")
SOURCE_LABELS = {  # the shared data's source folders as a newcomer reads them
    "gsv_strips": "Street View, 4 views", "gsv_strips2": "Street View, 4 views (2nd set)",
    "gsv_random": "Street View, random rural point", "gsv_croatia": "Street View, Croatia",
    "gsv_small": "Street View, small single view", "screenshots": "GeoGuessr screenshot",
    "screenshots_ui": "GeoGuessr screenshot with game UI"}
ERROR_STOPS = ("0 km", "1 km", "25 km", "200 km", "750 km", "2,500 km", "any")  # error-range slider stops


def source_label(source: str) -> str:
    """Readable name of a data source (the folder name itself when unknown)."""
    return SOURCE_LABELS.get(str(source), str(source))


def error_range(lo: str, hi: str) -> tuple[float, float | None]:
    """(min_km, max_km) of two :data:`ERROR_STOPS` labels: "any" as the upper end means no bound, as
    the lower end "beyond the last stop" (2,500 km)."""
    def km(s: str) -> float | None:
        if s not in ERROR_STOPS:
            raise ValueError(f"unknown error stop {s!r}")
        return None if s == "any" else float(s.replace(",", "").split()[0])

    a, b = km(lo), km(hi)
    return (km(ERROR_STOPS[-2]) if a is None else a), b


def bucket_index(d_km: np.ndarray | Sequence[float]) -> np.ndarray:
    """Bucket of each error (0 = within 1 km ... 5 = beyond 2,500 km); -1 where the distance is NaN.
    An error equal to an edge falls in the lower bucket (1 km is "≤ 1 km")."""
    d = np.asarray(d_km, dtype=float)
    out = np.searchsorted(np.asarray(BUCKET_EDGES_KM), d, side="left").astype(int)
    out[np.isnan(d)] = -1
    return out


def bucket_color(i: int) -> str:
    """Colour of bucket ``i`` (grey for -1, unknown distance)."""
    return BUCKET_COLORS[i] if 0 <= i < len(BUCKET_COLORS) else UNKNOWN_COLOR


def bucket_counts(locs: pd.DataFrame) -> pd.DataFrame:
    """Locations per error bucket: columns bucket, label, short (label), color, n, share (of located rows)."""
    b = locs["bucket"].to_numpy(int) if len(locs) else np.zeros(0, int)
    n = np.array([(b == i).sum() for i in range(len(BUCKET_LABELS))])
    tot = max(int(n.sum()), 1)
    return pd.DataFrame({"bucket": range(len(BUCKET_LABELS)), "label": BUCKET_LABELS, "short": BUCKET_SHORT,
                         "color": BUCKET_COLORS,
                         "n": n, "share": n / tot})


@dataclass(frozen=True)
class Filters:
    """What the user narrowed the table to. Empty tuples mean "all"; ``max_km`` None = no upper bound."""

    countries: tuple[str, ...] = ()     # true country codes
    sources: tuple[str, ...] = ()
    right_wrong: str = "All"            # one of RIGHT_WRONG
    min_km: float = 0.0
    max_km: float | None = None
    min_conf: float = 0.0
    max_conf: float = 1.0


def apply_filters(locs: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Rows of ``locs`` that pass ``f``. The error range keeps rows without coordinates only when it is
    the full range; the confidence range is inclusive at both ends."""
    m = pd.Series(True, index=locs.index)
    if f.countries:
        m &= locs["true_country"].isin(f.countries)
    if f.sources:
        m &= locs["source"].isin(f.sources)
    if f.right_wrong == "Right country":
        m &= locs["correct"].astype(bool)
    elif f.right_wrong == "Wrong country":
        m &= ~locs["correct"].astype(bool)
    elif f.right_wrong != "All":
        raise ValueError(f"right_wrong must be one of {RIGHT_WRONG}")
    d = locs["distance_km"].astype(float)
    if f.min_km > 0 or f.max_km is not None:
        m &= d.notna() & (d >= f.min_km)
        if f.max_km is not None:
            m &= d <= f.max_km
    c = locs["confidence"].astype(float).fillna(0.0)
    if f.min_conf > 0 or f.max_conf < 1:
        m &= (c >= f.min_conf - 1e-9) & (c <= f.max_conf + 1e-9)
    return locs[m]


def summary(locs: pd.DataFrame) -> dict[str, float]:
    """Headline numbers: n, country accuracy, cell accuracy, median and mean error (km), mean score,
    share within 750 km (country scale)."""
    d = locs["distance_km"].astype(float).dropna()
    lab = locs["true_country"] != ""
    return {"n": int(len(locs)),
            "country_acc": float(locs.loc[lab, "correct"].mean()) if lab.any() else math.nan,
            "cell_acc": float(locs["cell_correct"].mean()) if len(locs) else math.nan,
            "median_km": float(d.median()) if len(d) else math.nan, "mean_km": float(d.mean()) if len(d) else math.nan,
            "mean_score": float(locs["score"].astype(float).dropna().mean()) if len(d) else math.nan,
            "acc_750km": float((d <= 750).mean()) if len(d) else math.nan}


def per_country(locs: pd.DataFrame) -> pd.DataFrame:
    """Per true country (locations with a known country): n, correct, accuracy (= recall) with its 95 %
    Wilson interval acc_lo / acc_hi, ``predicted`` (labelled locations the model sent to this country),
    precision (correct / predicted, NaN if never predicted), f1, median_km, mean_score, and the most
    frequent wrong guess (``top_confusion`` code and ``top_confusion_n``). Sorted by n (desc), then code."""
    lab = locs[locs["true_country"] != ""]
    guessed = lab["pred_country"].value_counts()
    rows = []
    for code, g in lab.groupby("true_country"):
        wrong = g.loc[~g["correct"], "pred_country"].value_counts()
        d = g["distance_km"].astype(float).dropna()
        k, n = int(g["correct"].sum()), len(g)
        ci, npred = wilson(k, n), int(guessed.get(code, 0))
        prec = k / npred if npred else math.nan
        rec = k / n
        f1 = 2 * prec * rec / (prec + rec) if npred and prec + rec > 0 else 0.0
        rows.append({"country": code, "n": n, "correct": k, "accuracy": rec, "acc_lo": ci.lo, "acc_hi": ci.hi,
                     "predicted": npred, "precision": prec, "f1": f1,
                     "median_km": float(d.median()) if len(d) else math.nan,
                     "mean_score": float(g["score"].astype(float).mean()) if len(d) else math.nan,
                     "top_confusion": wrong.index[0] if len(wrong) else "",
                     "top_confusion_n": int(wrong.iloc[0]) if len(wrong) else 0})
    cols = ["country", "n", "correct", "accuracy", "acc_lo", "acc_hi", "predicted", "precision", "f1", "median_km",
            "mean_score", "top_confusion", "top_confusion_n"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["n", "country"], ascending=[False, True]).reset_index(drop=True)


def macro_scores(locs: pd.DataFrame) -> dict[str, float | int]:
    """Macro averages over every country that is a truth or a guess among the labelled locations (each
    country counts once, whatever its size; a country never guessed has precision 0): precision,
    recall, f1, and ``classes``, the number of countries averaged."""
    from sklearn.metrics import precision_recall_fscore_support

    lab = locs[locs["true_country"] != ""]
    if lab.empty:
        return {"precision": math.nan, "recall": math.nan, "f1": math.nan, "classes": 0}
    classes = sorted(set(lab["true_country"]) | set(lab["pred_country"]))
    p, r, f, _ = precision_recall_fscore_support(lab["true_country"], lab["pred_country"], labels=classes,
                                                 average="macro", zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f), "classes": len(classes)}


# ------------------------------------------------------------------------------- confusion
def class_labels(locs: pd.DataFrame, level: str = "country", names: Sequence[str] | None = None,
                 max_classes: int | None = None) -> tuple[pd.Series, pd.Series]:
    """(true, pred) labels of each row: country codes (``level`` "country") or cell names (``"cell"``,
    ``names[id]`` if given, else "cell <id>"); "" where the truth is unknown. With ``max_classes``,
    only the true classes with most locations keep their label; all others become "other"."""
    if level == "country":
        t, p = locs["true_country"].astype(str), locs["pred_country"].astype(str)
    elif level == "cell":
        def name(i: int) -> str:
            if i < 0:
                return ""
            return str(names[i]) if names is not None and i < len(names) else f"cell {i}"

        t, p = locs["true_cell"].astype(int).map(name), locs["pred_cell"].astype(int).map(name)
    else:
        raise ValueError("level must be 'country' or 'cell'")
    if max_classes is not None:
        vc = t[t != ""].value_counts()
        top = set(sorted(vc.index, key=lambda k: (-vc[k], k))[:max_classes])  # ties by name: deterministic
        t = t.where(t.isin(top) | (t == ""), "other")
        p = p.where(p.isin(top), "other")
    return t, p


def confusion_counts(locs: pd.DataFrame, level: str = "country", max_classes: int | None = None,
                     names: Sequence[str] | None = None) -> pd.DataFrame:
    """Confusion counts in long form: columns ``true``, ``pred``, ``n``, ``row_share`` (n over the true
    class's total) for every pair that occurs among rows with a known truth (see :func:`class_labels`)."""
    t, p = class_labels(locs, level, names, max_classes)
    keep = t != ""
    df = pd.DataFrame({"true": t[keep].to_numpy(), "pred": p[keep].to_numpy()})
    if df.empty:
        return pd.DataFrame(columns=["true", "pred", "n", "row_share"])
    c = df.groupby(["true", "pred"]).size().rename("n").reset_index()
    c["row_share"] = c["n"] / c.groupby("true")["n"].transform("sum")
    return c.sort_values(["true", "pred"]).reset_index(drop=True)


def top_confusions(counts: pd.DataFrame, k: int = 30) -> pd.DataFrame:
    """The ``k`` most frequent wrong pairs (true != pred) of :func:`confusion_counts`, by n (desc)."""
    w = counts[counts["true"] != counts["pred"]]
    return w.sort_values(["n", "true", "pred"], ascending=[False, True, True]).head(k).reset_index(drop=True)


def confusion_members(locs: pd.DataFrame, true: str, pred: str, level: str = "country",
                      names: Sequence[str] | None = None, max_classes: int | None = None) -> pd.DataFrame:
    """Locations of one cell of the confusion matrix (same labels as :func:`confusion_counts`): true
    class ``true`` predicted as ``pred``."""
    t, p = class_labels(locs, level, names, max_classes)
    return locs[(t == true) & (p == pred)]


def selection_pair(event: dict | None, param: str = "pick") -> tuple[str, str] | None:
    """(true, pred) picked in an Altair point selection on the confusion heatmap
    (``{"selection": {param: [{"true": .., "pred": ..}]}}``), or None when nothing is picked."""
    try:
        picked = (event or {}).get("selection", {}).get(param) or []
    except AttributeError:
        return None
    for p in picked:
        if isinstance(p, dict) and "true" in p and "pred" in p:
            return str(p["true"]), str(p["pred"])
    return None


# ------------------------------------------------------------------------------ calibration
def reliability(conf: Iterable[float], correct: Iterable[bool], n_bins: int = 10) -> tuple[pd.DataFrame, float]:
    """Reliability diagram data and expected calibration error.

    Confidences in 0..1 go into ``n_bins`` equal-width bins (1.0 in the last). Returns a frame with
    bin, lo, hi, n, mean_conf, accuracy, gap (accuracy - mean_conf) and the accuracy's 95 % Wilson
    interval acc_lo / acc_hi for non-empty bins, and the ECE:
    sum over bins of n/N * |accuracy - mean_conf| (0 = perfectly calibrated).
    """
    c = np.clip(np.asarray(list(conf), float), 0.0, 1.0)
    y = np.asarray(list(correct), float)
    ok = ~np.isnan(c)
    c, y = c[ok], y[ok]
    idx = np.minimum((c * n_bins).astype(int), n_bins - 1)
    rows, ece = [], 0.0
    for b in range(n_bins):
        m = idx == b
        if not m.any():
            continue
        mc, acc = float(c[m].mean()), float(y[m].mean())
        ci = wilson(int(y[m].sum()), int(m.sum()))
        rows.append({"bin": b, "lo": b / n_bins, "hi": (b + 1) / n_bins, "n": int(m.sum()), "mean_conf": mc,
                     "accuracy": acc, "gap": acc - mc, "acc_lo": ci.lo, "acc_hi": ci.hi})
        ece += m.sum() / max(len(c), 1) * abs(acc - mc)
    cols = ["bin", "lo", "hi", "n", "mean_conf", "accuracy", "gap", "acc_lo", "acc_hi"]
    return pd.DataFrame(rows, columns=cols), float(ece)


def calibration_figures(conf: Iterable[float], correct: Iterable[bool]) -> dict[str, float | int]:
    """Mean confidence, accuracy and over-confidence as shown (percent with one decimal), so that the
    over-confidence is exactly the shown confidence minus the shown accuracy: ``conf_pct``,
    ``acc_pct`` (0..100, rounded to 0.1), ``gap_pts`` (= conf_pct - acc_pct, positive = over-confident),
    ``n``, and the accuracy's Wilson interval ``acc_lo``/``acc_hi`` (0..1)."""
    c = np.asarray(list(conf), float)
    y = np.asarray(list(correct), float)
    ok = ~np.isnan(c)
    c, y = c[ok], y[ok]
    if not len(c):
        return {"n": 0, "conf_pct": math.nan, "acc_pct": math.nan, "gap_pts": math.nan, "acc_lo": math.nan,
                "acc_hi": math.nan}
    cp, ap = round(100 * float(c.mean()), 1), round(100 * float(y.mean()), 1)
    ci = wilson(int(y.sum()), len(y))
    return {"n": int(len(c)), "conf_pct": cp, "acc_pct": ap, "gap_pts": round(cp - ap, 1), "acc_lo": ci.lo,
            "acc_hi": ci.hi}


def calibration_inputs(locs: pd.DataFrame, level: str = "country") -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) arrays of the located rows: top-country probability vs country right, or
    top-cell probability vs cell right."""
    if level == "country":
        lab = locs[locs["true_country"] != ""]
        return lab["confidence"].to_numpy(float), lab["correct"].to_numpy(bool)
    if level == "cell":
        return locs["cell_confidence"].to_numpy(float), locs["cell_correct"].to_numpy(bool)
    raise ValueError("level must be 'country' or 'cell'")
