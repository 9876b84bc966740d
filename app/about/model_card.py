"""Model-card content for the About page (no Streamlit): facts from the checkpoint's metadata.

``meta`` is ``Predictor.meta`` (backbone, cell scheme, crop, training config, metrics, versions);
missing fields are reported as unknown rather than guessed. The page shows :func:`headline_table`
(curated metrics with plain names, n, intervals and explanations: ``app.about.metrics_card``, re-exported
here) and :func:`training_recipe`; :func:`metrics_table` (every scalar, dotted keys) stays for scripts that
want the raw dump.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from app.about.metrics_card import CURATED, Row, headline_table, heldout_metrics, shipped_intervals  # noqa: F401 - re-exported: the page reads the card here

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
    get = lambda *ks: next((m[k] for k in ks if k in m and m[k] not in (None, "")), None)
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
                 f"they vote on the country (weight {gal.get('country_weight', '?')}); each of the "
                 f"{gal.get('top_cells', '?')} likeliest cells spreads its probability over its look-alike places, "
                 "and the best guess E is the point (a look-alike, a cell's position, M or a top-N guess) with the "
                 "highest expected score under that distribution"
                 if gal else "none (the best guess is chosen among the cells' positions)")
    return {
        "Backbone": str(get("backbone", "config.backbone") or "unknown"),
        "Cells": f"{n_cells} ({get('cell_scheme', 'cells.scheme', 'config.cells', 'config.scheme') or 'scheme unknown'})",
        "Input": input_words(size, get("resize", "preprocess.resize")),
        "Bottom crop": f"{float(crop):.0%} of the height removed before the model looks" if crop else "none",
        "Training": ", ".join(train_bits) or "see the checkpoint's config",
        "Retrieval": retrieval,
        "Versions": ", ".join(f"{k} {v}" for k, v in vers.items()) or "unknown",
    }


def input_words(size: Any, resize: Any = None) -> str:
    """What part of a photo the model looks at: '260 × 260 px: each view's centre square (its shorter side
    scaled to 260 px; the sides of a wide view are cut off)', or the squash of the whole view."""
    if not size:
        return "unknown"
    if str(resize or "shortest") == "squash":
        return f"{size} × {size} px: the whole view squashed to a square (its proportions are not kept)"
    return (f"{size} × {size} px: each view's centre square (its shorter side scaled to {size} px; the left and "
            "right sides of a wide view are cut off)")


def crop_note(meta: dict | None) -> str:
    """One sentence on what of a photo the model sees (from the checkpoint's bottom crop and resize mode):
    never "the whole picture" when it looks at a centre square."""
    if not meta:
        return ""
    m = flatten(meta)
    crop = m.get("crop", m.get("preprocess.crop"))
    squash = str(m.get("resize", m.get("preprocess.resize")) or "shortest") == "squash"
    sides = "" if squash else " (as it sees every photo: the centre square, so the sides of a wide view are cut off)"
    if crop:
        return (f"This model never sees the bottom {float(crop):.0%} of a photo (cropped in training and "
                f"prediction){sides}.")
    return f"Nothing is cropped off the bottom: this model sees the bottom band{sides}."


# ----------------------------------------------------------------------------- curated card
BACKBONES = {"efficientnet_lite0": "EfficientNet-Lite0", "efficientnet_lite1": "EfficientNet-Lite1",
             "efficientnet_lite2": "EfficientNet-Lite2", "geocnn": "a small CNN trained from scratch",
             "resnet34": "ResNet-34", "resnet50": "ResNet-50", "resnet101": "ResNet-101", "resnet152": "ResNet-152",
             "alexnet": "AlexNet", "vit_b16_in21k": "ViT-B/16 (ImageNet-21k)"}
CELL_SCHEMES = {"geocells": "geocells (first-level regions merged below {min_cell} and split above {max_cell} "
                            "training locations)",
                "country": "one cell per country", "admin1": "one cell per first-level region",
                "grid": "hexagonal grid cells"}


def training_recipe(meta: dict) -> str:
    """The checkpoint's training set-up as a sentence a person reads (not an argument string), from
    ``meta["config"]`` and the validation history in ``meta["metrics"]``; unknown parts are left out."""
    cfg = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    if not cfg:
        return "unknown (the checkpoint records no training configuration)"
    bb = str(meta.get("backbone") or cfg.get("backbone") or "")
    name = BACKBONES.get(bb, bb or "an unknown backbone")
    pretrained = cfg.get("pretrained", not cfg.get("no_pretrained", False)) and bb != "geocnn"
    pre = " with ImageNet weights" if pretrained else ""
    mode = cfg.get("mode")
    if mode == "finetune":
        what = f"its last {cfg.get('finetune_blocks', '?')} blocks fine-tuned together with the head"
    elif mode == "frozen":
        what = "frozen; only the head trained on its features"
    elif mode == "full":
        what = "trained end to end"
    else:
        what = f"mode {mode}" if mode else ""
    parts = [f"{name}{pre}" + (f", {what}" if what else "")]
    scheme = cfg.get("cells")
    if scheme:
        n = meta.get("n_cells")
        parts.append((f"{n} " if n else "") + CELL_SCHEMES.get(scheme, scheme).format(
            min_cell=cfg.get("min_cell", "?"), max_cell=cfg.get("max_cell", "?")))
    if cfg.get("tau"):
        parts.append(f"labels smoothed over neighbouring cells by distance (τ = {float(cfg['tau']):.0f} km)")
    if cfg.get("regression") == "offset":
        parts.append("an offset regressed inside the predicted cell")
    opt = str(cfg.get("optimizer", "")).replace("adamw", "AdamW").replace("adam", "Adam")
    lr = [f"learning rate {cfg['lr']:g}" + (f" (backbone {cfg['backbone_lr']:g})" if cfg.get("backbone_lr") else "")
          ] if cfg.get("lr") else []
    extra = [f"weight decay {cfg['weight_decay']:g}"] if cfg.get("weight_decay") else []
    extra += [f"dropout {cfg['dropout']:g}"] if cfg.get("dropout") else []
    extra += [f"batch {cfg['batch_size']}"] if cfg.get("batch_size") else []
    if opt or lr or extra:
        parts.append(" ".join(x for x in [opt, ", ".join(lr + extra)] if x))
    hist = (meta.get("metrics") or {}).get("history") if isinstance(meta.get("metrics"), dict) else None
    epochs = f"up to {cfg['epochs']} epochs" if cfg.get("epochs") else ""
    if cfg.get("patience"):
        epochs += f", stopped once the validation loss had not improved for {cfg['patience']} epochs"
    if isinstance(hist, list) and hist and all(isinstance(h, dict) and "val" in h for h in hist):
        best = min(hist, key=lambda h: h["val"].get("loss", math.inf))
        epochs += f" (kept epoch {best.get('epoch', '?')} of {len(hist)}, the lowest validation loss)"
    if epochs:
        parts.append(epochs)
    if cfg.get("seed") is not None:
        parts.append(f"seed {cfg['seed']}")
    if isinstance(cfg.get("train_seconds"), (int, float)):
        parts.append(f"{cfg['train_seconds'] / 60:.0f} min of training")
    return "; ".join(parts) + "."

