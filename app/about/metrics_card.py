"""The curated test metrics of the About page's model card (no Streamlit): one row per metric with a plain
name, its value per place and per photo, n, a 95 % interval and what it means; the bootstrap intervals of
the errors and scores come from the evaluation shipped with the checkpoint when it matches its bytes."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Row:
    """One line of the curated metrics table: where its value sits in ``metrics.json`` and what it means."""

    label: str
    key: str                 # key inside per_location / per_image (dotted for nested blocks)
    unit: str                # "%", "km", "pts", "x" (a 0..1 score shown with 2 decimals)
    means: str
    image_key: str | None = None   # the per-image twin, if meaningful
    n_key: str = "n"         # which count the value is over


CURATED = (
    Row("Country accuracy", "country_top1", "%", "Share of places whose most likely country is right.",
        "country_top1"),
    Row("Country in the top 3", "country_top3", "%", "The right country is among the model's three likeliest.",
        "country_top3"),
    Row("Median error (predicted place)", "median_km", "km", "Half the places are closer than this to the predicted "
        "place (the likeliest region of the likeliest country).", "median_km", "n_with_coords"),
    Row("Mean GeoGuessr score (predicted place)", "geoscore_mean", "pts", "Points on the world map, "
        "5000·exp(−d / 1,492.7 km): 5,000 on the spot, about 2,600 at 1,000 km.", "geoscore_mean", "n_with_coords"),
    Row("Median error (best guess)", "best_guess.median_km", "km", "The guess that maximises the expected score "
        "(what the Predict map's E pin and Play's model use).", None, "n_with_coords"),
    Row("Mean GeoGuessr score (best guess)", "best_guess.geoscore_mean", "pts", "The same, for the best guess.",
        None, "n_with_coords"),
    Row("Within 25 km (city)", "acc_25km", "%", "Share of places whose predicted place is this close.",
        "acc_25km", "n_with_coords"),
    Row("Within 200 km (region)", "acc_200km", "%", "", "acc_200km", "n_with_coords"),
    Row("Within 750 km (country)", "acc_750km", "%", "", "acc_750km", "n_with_coords"),
    Row("Within 2,500 km (continent)", "acc_2500km", "%", "", "acc_2500km", "n_with_coords"),
    Row("Region (cell) accuracy", "cell_top1", "%", "Share of places whose likeliest cell (one of the model's "
        "geographic regions) is the right one.", "cell_top1", "n_with_coords"),
    Row("Reference accuracy", "ref_accuracy_mean", "x", "A soft accuracy, the mean of exp(−d / 1,160 km): 1 on the "
        "spot, 0.42 at 1,000 km, 0.05 at 3,500 km. One of the geolocators this project was compared with (trained on "
        "street views of the US and Canada) reports its accuracy this way; the figure is here so that the two can "
        "be read side by side, not as a measure of its own.", "ref_accuracy_mean", "n_with_coords"),
    Row("Macro F1 (countries)", "country_f1_macro", "x", "F1 (the balance of precision and recall) averaged over "
        "countries, each counting once however few its places: low because the model rarely names small countries.",
        "country_f1_macro"),
)


def _get(block: dict, key: str):
    v: object = block
    for part in key.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _show(v, unit: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if unit == "%":
        return f"{100 * v:.1f}%"
    if unit == "km":
        return f"{v:,.0f} km"
    if unit == "pts":
        return f"{v:,.0f}"
    return f"{v:.2f}"


def heldout_metrics(metrics: dict | None) -> dict:
    """The test block of a checkpoint's metrics (``metrics["test"]`` of a training run, or the
    evaluation's own ``{"per_location": ..., "per_image": ...}``); {} if none."""
    if not isinstance(metrics, dict):
        return {}
    return metrics["test"] if isinstance(metrics.get("test"), dict) else metrics


def headline_table(metrics: dict | None, intervals: dict[str, str] | None = None) -> pd.DataFrame:
    """The curated test metrics: one row per :data:`CURATED` metric with a value, columns "Metric",
    "Per place" (the headline: a place's views fused, each place once), "95% interval" (Wilson for
    shares from n; ``intervals`` {key: text} for the others, e.g. bootstrap intervals of the errors),
    "n" (places the figure is over), "Per photo" (each photo on its own) and "What it means"."""
    t = heldout_metrics(metrics)
    loc = t.get("per_location") if isinstance(t.get("per_location"), dict) else {}
    img = t.get("per_image") if isinstance(t.get("per_image"), dict) else {}
    intervals = intervals or {}
    rows = []
    for r in CURATED:
        v = _get(loc, r.key)
        if v is None:
            continue
        n = _get(loc, r.n_key) or _get(loc, "n")
        ci = intervals.get(r.key, "")
        if not ci and r.unit == "%" and n:
            from app.common.uncertainty import wilson

            e = wilson(round(v * n), int(n))
            ci = f"{100 * e.lo:.1f}–{100 * e.hi:.1f}%"
        rows.append({"Metric": r.label, "Per place": _show(v, r.unit), "95% interval": ci,
                     "n": f"{int(n):,}" if n else "", "Per photo": _show(_get(img, r.image_key), r.unit)
                     if r.image_key else "", "What it means": r.means})
    return pd.DataFrame(rows, columns=["Metric", "Per place", "95% interval", "n", "Per photo", "What it means"])


def shipped_intervals(checkpoint: str | os.PathLike) -> dict[str, str]:
    """Bootstrap 95 % intervals (text, keyed like :data:`CURATED`) of the median errors and mean scores,
    from the evaluation shipped beside ``checkpoint`` (``app.common.shipped``) when it was made with
    these very checkpoint bytes; {} otherwise (the table then shows intervals for shares only)."""
    import gzip

    import numpy as np

    from app.common import shipped
    from app.common import uncertainty as un

    folder = shipped.sidecar_dir(checkpoint)
    info = shipped.read_info(folder)
    try:
        if not info or info.get("checkpoint_sha256") != shipped.content_hash(checkpoint):
            return {}
        with gzip.open(folder / "predictions.csv.gz", "rt") as f:
            pred = pd.read_csv(f, usecols=["location_id", "loc_distance_km", "loc_score", "loc_best_distance_km",
                                           "loc_best_score"])
    except (OSError, ValueError, KeyError):
        return {}
    loc = pred.drop_duplicates("location_id")
    km = lambda v: f"{v:,.0f} km"
    pts = lambda v: f"{v:,.0f}"
    out = {}
    for key, col, stat, fmt in (("median_km", "loc_distance_km", np.median, km),
                                ("geoscore_mean", "loc_score", np.mean, pts),
                                ("best_guess.median_km", "loc_best_distance_km", np.median, km),
                                ("best_guess.geoscore_mean", "loc_best_score", np.mean, pts)):
        e = un.bootstrap(loc[col].to_numpy(float), stat)
        out[key] = un.interval_text(e, fmt).replace("95% CI ", "")
    from model.geo import reference_accuracy

    e = un.bootstrap(reference_accuracy(loc["loc_distance_km"].dropna().to_numpy(float)))
    out["ref_accuracy_mean"] = un.interval_text(e, lambda v: f"{v:.2f}").replace("95% CI ", "")
    return out
