"""Model-card content for the About page (no Streamlit): facts from the checkpoint's metadata.

``meta`` is ``Predictor.meta`` (backbone, cell scheme, crop, training config, metrics, versions);
missing fields are reported as unknown rather than guessed.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

# Friendly names and units of well-known metric keys (the last dotted part); others are shown as is.
METRIC_LABELS = {
    "country_top1": ("Country accuracy (top-1)", "%"),
    "country_top3": ("Country accuracy (top-3)", "%"),
    "country_top5": ("Country accuracy (top-5)", "%"),
    "cell_top1": ("Cell accuracy (top-1)", "%"),
    "cell_top3": ("Cell accuracy (top-3)", "%"),
    "cell_top5": ("Cell accuracy (top-5)", "%"),
    "cell_top10": ("Cell accuracy (top-10)", "%"),
    "country_top10": ("Country accuracy (top-10)", "%"),
    "geoscore_median": ("Median GeoGuessr score", "pts"),
    "geoscore_scaled_mean": ("Mean score, map scaled to the test area", "pts"),
    "map_size_km": ("Test area diagonal", "km"),
    "n_with_coords": ("Test examples with coordinates", ""),
    "median_km": ("Median error", "km"),
    "mean_km": ("Mean error", "km"),
    "geoscore_mean": ("Mean GeoGuessr score", "pts"),
    "best_geoscore_mean": ("Mean score of the expected-score guess", "pts"),
    "acc_1km": ("Within 1 km (street)", "%"),
    "acc_25km": ("Within 25 km (city)", "%"),
    "acc_200km": ("Within 200 km (region)", "%"),
    "acc_750km": ("Within 750 km (country)", "%"),
    "acc_2500km": ("Within 2500 km (continent)", "%"),
    "n": ("Test examples", ""),
}


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> {"a.b.c": value} (already dotted keys are kept)."""
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                out.update(flatten(v, key))
            else:
                out[key] = v
    return out


def _fmt(v: Any, unit: str) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if unit == "%":
        return f"{v * 100:.1f} %" if abs(v) <= 1.0 else f"{v:.1f} %"
    if unit == "km":
        return f"{v:,.0f} km"
    if unit == "pts":
        return f"{v:,.0f}"
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:.4g}"


def metrics_table(metrics: dict | None) -> pd.DataFrame:
    """Scalar test metrics as a table: one row per metric, one column per group (``per location``:
    views of one place fused; ``per image``; ``all`` for ungrouped keys), values formatted."""
    if isinstance(metrics, dict) and isinstance(metrics.get("test"), dict):
        metrics = metrics["test"]  # training checkpoints keep history, val and test blocks
    rows: dict[str, dict[str, str]] = {}
    groups: list[str] = []
    for key, v in flatten(metrics or {}).items():
        if not isinstance(v, (int, float, str)) or isinstance(v, bool):
            continue
        group, _, name = key.rpartition(".")
        group = group.replace("_", " ") or "all"
        label, unit = METRIC_LABELS.get(name, (name.replace("_", " "), ""))
        rows.setdefault(label, {})[group] = _fmt(v, unit)
        if group not in groups:
            groups.append(group)
    groups.sort(key=lambda g: (g != "per location", g))
    return pd.DataFrame([{"Metric": k, **{g: r.get(g, "") for g in groups}} for k, r in rows.items()],
                        columns=["Metric", *groups])


def describe(meta: dict, n_cells: int) -> dict[str, str]:
    """Headline facts: backbone, cells, input, bottom crop, training set-up, library versions."""
    m = flatten(meta)
    get = lambda *ks: next((m[k] for k in ks if k in m and m[k] not in (None, "")), None)  # noqa: E731
    crop = get("crop", "preprocess.crop")
    size = get("input_size", "preprocess.input_size")
    cfg = {k.split(".", 1)[1]: v for k, v in m.items() if k.startswith("config.")}
    train_bits = [f"{k}={cfg[k]}" for k in ("mode", "finetune_blocks", "epochs", "lr", "batch_size", "tau",
                                             "label_smoothing_km", "regression", "aug_rounds", "seed") if k in cfg]
    if isinstance(cfg.get("train_seconds"), (int, float)):
        train_bits.append(f"{cfg['train_seconds'] / 60:.0f} min on CPU")
    vers = {k.split(".", 1)[1]: v for k, v in m.items() if k.startswith("versions.")}
    gal = meta.get("gallery") if isinstance(meta.get("gallery"), dict) else None
    retrieval = (f"{gal.get('locations', '?')} training places ({gal.get('with_coordinates', '?')} with coordinates): "
                 f"they vote on the country (weight {gal.get('country_weight', '?')}) and the best guess is the "
                 f"look-alike that maximises the expected score among the {gal.get('top_cells', '?')} likeliest cells"
                 if gal else "none (the best guess is chosen among the cells' positions)")
    return {
        "Backbone": str(get("backbone", "config.backbone") or "unknown"),
        "Cells": f"{n_cells} ({get('cell_scheme', 'cells.scheme', 'config.cells', 'config.scheme') or 'scheme unknown'})",
        "Input": f"{size} × {size} px centre square" if size else "unknown",
        "Bottom crop": f"{float(crop):.0%} of the height removed before the model looks" if crop else "none",
        "Training": ", ".join(train_bits) or "see the checkpoint's config",
        "Retrieval": retrieval,
        "Versions": ", ".join(f"{k} {v}" for k, v in vers.items()) or "unknown",
    }


def crop_note(meta: dict | None) -> str:
    """One sentence on whether the model sees the bottom band (from the checkpoint's crop)."""
    if not meta:
        return ""
    crop = flatten(meta).get("crop", flatten(meta).get("preprocess.crop"))
    if crop:
        return f"This model never sees the bottom {float(crop):.0%} of a photo (cropped in training and prediction)."
    return "This model sees the whole picture, bottom band included."
