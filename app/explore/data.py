"""Data of the Explore page (no Streamlit): evaluations of a checkpoint on a manifest split, cached
on disk, and the per-location table every view of the page works on.

An *evaluation folder* holds the files of ``python -m model.evaluate`` (``predictions.csv``,
``metrics.json``, ``classification_report_country.csv``, ``confusion_country.csv``) and, when it
was made here, ``source.json`` (checkpoint, manifest, split). Evaluations computed by the page live
in ``<cache>/eval/<key>/`` where the key hashes the checkpoint's and the manifest's file stamps (path,
size, mtime: ``app.common.stamps``) and the split; ``<cache>`` is ``$GEOLOC_EXPLORE_CACHE`` or ``data/cache``. A first
use copies the evaluation shipped beside the checkpoint there instead of computing it when the checkpoint's
and the manifest's bytes match (``app.common.shipped``).

Units: coordinates in degrees, distances in km, scores in GeoGuessr points (0..5000),
confidences and accuracies in 0..1.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.common.shipped import EVAL_FORMAT
from app.common.stamps import file_stamp
from model.evaluation.outputs import Progress
from model.evaluation.report import RANK_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "GEOLOC_EXPLORE_CACHE"


def cache_root() -> Path:
    """Disk cache of the page (evaluations, audits, thumbnails): ``$GEOLOC_EXPLORE_CACHE`` or ``data/cache``."""
    env = os.environ.get(CACHE_ENV, "").strip()
    return Path(env).expanduser() if env else ROOT / "data" / "cache"


def _model_stamp(model: str | os.PathLike) -> str:
    """The file stamp of a checkpoint, or the name itself of a predictor that is no file (``geoclip``)."""
    return file_stamp(model) if Path(model).is_file() else f"predictor:{model}"


def eval_key(checkpoint: str | os.PathLike, manifest: str | os.PathLike, split: str) -> str:
    """Cache key of an evaluation: hash of the checkpoint's (or predictor name's) and the manifest's stamps
    and the split: one cached evaluation per model, data set and split."""
    text = f"v{EVAL_FORMAT}\n{_model_stamp(checkpoint)}\n{file_stamp(manifest)}\n{split}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def eval_dir_for(checkpoint: str | os.PathLike, manifest: str | os.PathLike, split: str) -> Path:
    """Where the evaluation of ``checkpoint`` on ``split`` of ``manifest`` is (or will be) cached."""
    return cache_root() / "eval" / eval_key(checkpoint, manifest, split)


PREDICTIONS = ("predictions.csv", "predictions.csv.gz")  # an evaluation run's, the shipped sidecar's


def predictions_file(folder: str | os.PathLike) -> Path | None:
    """The predictions of an evaluation folder: ``predictions.csv``, else ``predictions.csv.gz`` (the
    evaluation shipped beside a checkpoint, read in place); None if neither."""
    return next((Path(folder) / n for n in PREDICTIONS if (Path(folder) / n).is_file()), None)


def has_evaluation(folder: str | os.PathLike | None) -> bool:
    """True if ``folder`` holds a ``predictions.csv`` (or ``predictions.csv.gz``)."""
    return folder is not None and predictions_file(folder) is not None


def select_split(df: pd.DataFrame, split: str) -> pd.DataFrame:
    """Rows of a manifest in ``split`` ("all" = every row; a manifest without splits is used whole)."""
    if split == "all" or not (df["split"] != "").any():
        return df.reset_index(drop=True)
    return df[df["split"] == split].reset_index(drop=True)


def run_evaluation(predictor: Any, manifest: str | os.PathLike, split: str, out_dir: str | os.PathLike,
                   progress: Progress | None = None, chunk: int = 16, top_k: int = 10) -> dict:
    """``model.evaluate.evaluate_predictor`` of a loaded Predictor on ``split`` of ``manifest``, written
    atomically into ``out_dir`` with ``source.json``. Returns the metrics."""
    from model.data.manifest import read_manifest
    from model.evaluate import evaluate_predictor

    df = select_split(read_manifest(manifest), split)
    if df.empty:
        raise ValueError(f"no rows with split={split!r} in {manifest}")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-"))
    try:
        m = evaluate_predictor(predictor, df, tmp, top_k, chunk, progress)
        info = {"format": EVAL_FORMAT, "checkpoint": str(Path(predictor.path).resolve()),
                "manifest": str(Path(manifest).resolve()), "split": split, "n_images": int(len(df))}
        (tmp / "source.json").write_text(json.dumps(info, indent=2))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return m


def _ranks(v: Any) -> list[str]:
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    return str(v).split() if isinstance(v, str) and v.strip() else []


@dataclass
class Evaluation:
    """One evaluation, loaded: ``images`` (one row per image, predictions.csv), ``locations`` (one
    row per location, see :func:`location_table`), ``metrics`` (metrics.json), ``report`` (the
    per-country classification report or None) and ``info`` (source.json, empty if absent)."""

    folder: Path
    images: pd.DataFrame
    locations: pd.DataFrame
    metrics: dict = field(default_factory=dict)
    report: pd.DataFrame | None = None
    info: dict = field(default_factory=dict)

    @property
    def checkpoint(self) -> str:
        """The checkpoint the evaluation was made with ("" if unknown)."""
        return str(self.info.get("checkpoint") or self.metrics.get("checkpoint") or "")


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """``predictions.csv`` (or ``.csv.gz``) with rank columns as lists of strings and text columns as strings."""
    df = pd.read_csv(path, dtype={"image": str, "location_id": str, "source": str, "split": str,
                                  "true_country": str, "true_admin1": str, "pred_country": str,
                                  "loc_pred_country": str}, keep_default_na=False,
                     na_values={c: [""] for c in ("true_lat", "true_lon", "distance_km", "loc_distance_km", "score",
                                                  "loc_score", "loc_best_distance_km", "loc_best_score",
                                                  "expected_km", "loc_expected_km", "loc_best_expected_score")})
    for c in RANK_COLUMNS:
        if c in df:
            df[c] = df[c].map(_ranks)
    for c in ("source", "split", "true_country", "true_admin1"):
        if c not in df:
            df[c] = ""
    return df


def resolve_image(image: str, base: Path | None) -> str:
    """Absolute path of a manifest ``image`` entry (relative to the manifest's folder ``base``)."""
    p = Path(image)
    return str(p if p.is_absolute() or base is None else base / p)


def location_table(images: pd.DataFrame, base: Path | None = None) -> pd.DataFrame:
    """One row per location from a predictions table (fused views, the ``loc_*`` columns).

    Columns: location_id, source, split, n_views, images / paths (lists, paths absolute via the
    manifest folder ``base``), true_lat/lon/country/admin1/cell, pred_lat/lon/country/cell,
    best_lat/lon (expected-score guess), distance_km, best_distance_km, score, best_score, confidence (top
    country, 0..1), cell_confidence (top cell), country_rank / cell_rank (lists), correct (country right),
    cell_correct, bucket (error bucket index, -1 without coordinates), expected_km (the model's expected
    error of M: ``loc_expected_km``; a file without it gives the per-image figure of one-view places only,
    NaN for the others) and expected_score (E's expected score, ``loc_best_expected_score``).
    """
    from app.explore.stats import bucket_index

    if images.empty:
        return pd.DataFrame(columns=["location_id", "source", "paths", "distance_km", "correct", "bucket"])
    g = images.groupby("location_id", sort=False)
    first = g.head(1).set_index("location_id")

    def col(name: str, fallback: str | None = None, default: Any = np.nan) -> pd.Series:
        for c in (name, fallback):
            if c and c in first:
                return first[c]
        return pd.Series(default, index=first.index)

    out = pd.DataFrame({
        "source": col("source", default=""), "split": col("split", default=""),
        "n_views": g.size(), "images": g["image"].agg(list),
        "true_lat": col("true_lat"), "true_lon": col("true_lon"), "true_country": col("true_country", default=""),
        "true_admin1": col("true_admin1", default=""), "true_cell": col("true_cell", default=-1),
        "pred_lat": col("loc_pred_lat", "pred_lat"), "pred_lon": col("loc_pred_lon", "pred_lon"),
        "pred_country": col("loc_pred_country", "pred_country", ""),
        "pred_cell": col("loc_pred_cell", "pred_cell", -1),
        "best_lat": col("loc_best_lat", "loc_pred_lat"), "best_lon": col("loc_best_lon", "loc_pred_lon"),
        "distance_km": col("loc_distance_km", "distance_km"), "best_distance_km": col("loc_best_distance_km"),
        "score": col("loc_score", "score"), "best_score": col("loc_best_score"),
        "expected_score": col("loc_best_expected_score"),
        "confidence": col("loc_country_confidence", "country_confidence"),
        "cell_confidence": col("loc_confidence", "confidence"),
        "country_rank": col("loc_country_rank", "country_rank", None),
        "cell_rank": col("loc_cell_rank", "cell_rank", None),
    }).reset_index()
    out["expected_km"] = _expected_km(first, g.size()).to_numpy()
    out["paths"] = [[resolve_image(i, base) for i in ims] for ims in out["images"]]
    for c in ("country_rank", "cell_rank"):
        out[c] = [v if isinstance(v, list) else [] for v in out[c]]
    out["correct"] = (out["true_country"] != "") & (out["pred_country"] == out["true_country"])
    out["cell_correct"] = out["true_cell"].astype(int) == out["pred_cell"].astype(int)
    out["bucket"] = bucket_index(out["distance_km"].to_numpy(float))
    return out


def _expected_km(first: pd.DataFrame, n_views: pd.Series) -> pd.Series:
    """Per place (index of ``first``): ``loc_expected_km``, else the image's own ``expected_km`` where the
    place has one view (the same answer), else NaN: a fused place's expected error is not in older files."""
    if "loc_expected_km" in first:
        return pd.to_numeric(first["loc_expected_km"], errors="coerce")
    if "expected_km" not in first:
        return pd.Series(np.nan, index=first.index)
    e = pd.to_numeric(first["expected_km"], errors="coerce")
    return e.where(n_views.reindex(first.index).to_numpy() == 1)


def pixels_here(paths: list[str] | tuple[str, ...]) -> bool:
    """True when every image of a place (absolute paths) is a file on this machine."""
    return bool(paths) and all(Path(p).is_absolute() and Path(p).is_file() for p in paths)


def _read_json(p: Path) -> dict:
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return {}


def folder_stamp(folder: str | os.PathLike) -> str:
    """Stamp of an evaluation folder (its predictions, source.json and metrics.json): the loading cache key."""
    f = Path(folder)
    return "|".join(file_stamp(f / n) for n in (*PREDICTIONS, "source.json", "metrics.json") if (f / n).is_file())


def load_evaluation(folder: str | os.PathLike, manifest: str | os.PathLike | None = None) -> Evaluation:
    """Load an evaluation folder; image paths resolve against ``manifest``'s folder (default: the
    manifest named in source.json). Cached in memory per folder stamp and shared by every session: never
    modify what it returns."""
    return _load(str(Path(folder).resolve()), folder_stamp(folder), str(manifest) if manifest else "")


@lru_cache(maxsize=8)
def _load(folder: str, _stamp: str, manifest: str) -> Evaluation:
    f = Path(folder)
    pred = predictions_file(f)
    if pred is None:
        raise FileNotFoundError(f"no predictions.csv in {f}")
    info = _read_json(f / "source.json")
    man = manifest or info.get("manifest", "")
    base = Path(man).parent if man else None
    images = read_predictions(pred)
    rep_p = f / "classification_report_country.csv"
    report = pd.read_csv(rep_p, keep_default_na=False) if rep_p.is_file() else None
    return Evaluation(folder=f, images=images, locations=location_table(images, base),
                      metrics=_read_json(f / "metrics.json"), report=report, info=info)
