"""Evaluate a checkpoint or a predictor on any manifest:
``python -m model.evaluate --checkpoint C --data MANIFEST [--split test] --out DIR``, or
``--model NAME`` (``geoclip``, ``streetclip-zeroshot``, ``clip-zeroshot[:<clip backbone>]``, or a
checkpoint path; docs/predictors.md) with the same metrics and the same per-place answer.

Writes ``DIR/predictions.csv`` (one row per image; per-location fused predictions repeated on
each of its rows), ``DIR/metrics.json`` (``per_image`` and ``per_location`` blocks; GeoGuessr points
both as ``geoscore_mean``, 5000*exp(-d/1492.7) unrounded, and ``geoscore_rounded_mean``, rounded per
guess as the game shows them), ``DIR/classification_report_country.csv``, ``DIR/confusion_country.csv``
and ``.png``.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from .cli import USER_ERRORS, positive_int
from .data.features import DEFAULT_CACHE
from .data.manifest import read_manifest
from .device import CPU, Runtime, add_runtime_args, runtime_from_args
from .evaluation.metrics import map_size_for
from .evaluation.outputs import Progress, network_outputs, outputs_in_chunks
from .evaluation.report import write_report
from .evaluation.table import compute_metrics, predictions_table
from .net.backbones.registry import PretrainedWeightsMissing
from .net.checkpoint import DEFAULT_CHECKPOINT, json_text, load_checkpoint, load_gallery, write_json

log = logging.getLogger("model.evaluate")


def evaluate_outputs(df: pd.DataFrame, outs: dict, cells, gallery, out_dir: str | Path, top_k: int = 10,
                     checkpoint: str | Path = "", plot: bool = True) -> dict:
    """Tables, metrics and report files of the network outputs ``outs`` for manifest rows ``df``.
    The guesses play the world map; the area's own map size only scales the reported scaled score."""
    df = df.reset_index(drop=True)
    n_bad = int((~outs["ok"]).sum())
    if n_bad:
        log.warning("%d image(s) could not be loaded and were skipped", n_bad)
    pred = predictions_table(df, outs, cells, top_k, None, gallery=gallery)
    m = compute_metrics(pred, map_size_for(df["lat"], df["lon"]))
    m["skipped_images"] = n_bad
    m["checkpoint"] = str(checkpoint)
    return write_report(pred, m, out_dir, top_k, plot)


def evaluate_checkpoint(ck_path, df: pd.DataFrame, out_dir, cache=DEFAULT_CACHE, top_k: int = 10,
                        runtime: Runtime = CPU) -> dict:
    """Evaluate a checkpoint on manifest rows ``df`` (on ``runtime``'s device); write the report files into ``out_dir``."""
    net, cells, ck = load_checkpoint(ck_path)
    df = df.reset_index(drop=True)
    outs = network_outputs(net, ck, df["path"].tolist(), cache, runtime=runtime)
    return evaluate_outputs(df, outs, cells, load_gallery(ck), out_dir, top_k, ck_path)


def evaluate_predictor(predictor: Any, df: pd.DataFrame, out_dir, top_k: int = 10, chunk: int = 16,
                       progress: Progress | None = None, plot: bool = False) -> dict:
    """Evaluate a loaded :class:`model.predict.Predictor` or any predictor of :mod:`model.predictors`
    (shared with other users: its lock is held per ``chunk`` images, ``progress(done, total, what)`` after
    each) on manifest rows ``df``: the same tables, metrics and per-place answer for every predictor."""
    df = df.reset_index(drop=True)
    outs = outputs_in_chunks(predictor, df["path"].tolist(), chunk, progress)
    m = evaluate_outputs(df, outs, predictor.cells, predictor.gallery, out_dir, top_k, predictor.path, plot=plot)
    if hasattr(predictor, "name"):  # a predictor of model.predictors: say which, under which terms
        m["model"], m["licence"] = predictor.name, predictor.licence
        write_json(Path(out_dir) / "metrics.json", m)
    return m


def _evaluate(args, df: pd.DataFrame, rt: Runtime) -> dict:
    """``--model NAME`` through its predictor (model.predictors); a checkpoint (``--checkpoint`` or
    ``--model PATH``) through the feature cache, as before."""
    from .predictors import is_predictor_name, load_predictor

    if args.model and is_predictor_name(args.model):
        p = load_predictor(args.model, str(rt.device), rt.precision)
        return evaluate_predictor(p, df, args.out, args.top_k, chunk=32, plot=True)
    return evaluate_checkpoint(args.model or args.checkpoint, df, args.out, args.cache or None, args.top_k, runtime=rt)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__)
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--model", default=None, help="a predictor (geoclip, streetclip-zeroshot, clip-zeroshot"
                                                  "[:<clip backbone>]) or a checkpoint path, instead of --checkpoint")
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
        m = _evaluate(args, df, rt)
    except (*USER_ERRORS, PretrainedWeightsMissing) as e:  # missing weights: the message names the download
        raise SystemExit(f"error: {e}") from None
    pl = m["per_location"]
    print(json_text({k: pl.get(k) for k in ("n", "country_top1", "country_top3", "cell_top1", "median_km",
                                            "geoscore_mean", "geoscore_rounded_mean", "acc_750km")}))
    print(f"wrote {args.out}/predictions.csv and metrics.json")
    return m


if __name__ == "__main__":
    main()
