"""Train a geolocation model: ``python -m model.train --data DATA --out runs/NAME``.

``DATA`` is a manifest CSV or a shard folder (``python -m model.shards write``). Modes: ``frozen``
trains the head on cached pooled features (seconds to minutes); ``finetune`` caches the frozen trunk's
feature maps once (clean + ``--aug-rounds`` augmented copies per training image) and fine-tunes the last
``--finetune-blocks`` blocks with the head, or, with ``--no-cache`` and always on shard data, runs the
frozen trunk on the fly every epoch (no cache: data of any size); ``full`` trains end to end on images
(e.g. the from-scratch ``geocnn``). Any device and precision: ``--device auto|cpu|cuda|mps``,
``--precision fp32|bf16|fp16``, ``--compile``, ``--workers N``; ``torchrun`` for several GPUs or nodes
(docs/training.md). A run directory gets ``config.json``, per-epoch ``metrics.json``, TensorBoard
logs in ``tb/`` and ``model.pt``; test metrics are added at the end.

The epoch loop lives in :mod:`model.train.loop` (``fit``, ``run_epoch``), the inputs in
:mod:`model.train.inputs` (targets, cached features) and :mod:`model.train.images` (images).
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from model.net.backbones import PretrainedWeightsMissing, backbone_arg, backbone_config_arg, known_names
from model.net.cells import SCHEMES
from model.net.checkpoint import plain, save_checkpoint, write_checkpoint, write_json
from model.cli import USER_ERRORS
from model.device import add_runtime_args, runtime_for
from model.data.features import DEFAULT_CACHE
from model.net.heads import HEAD_REGRESSIONS, HEADS
from model.data.manifest import read_manifest
from model.data.splits import ensure_split, kfold
from .config import TrainConfig
from .loop import fit
from model.data.transforms import crop_arg

log = logging.getLogger("model.train")


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except for on/off flags (their "default: True" on a --no-X flag misleads)."""

    def _get_help_string(self, action):
        return action.help if action.nargs == 0 else super()._get_help_string(action)


def parse_args(argv=None) -> TrainConfig:
    """``python -m model.train``'s command line -> the run's :class:`TrainConfig`."""
    ap = argparse.ArgumentParser(prog="python -m model.train", description=__doc__,
                                 formatter_class=_DefaultsFormatter)
    ap.add_argument("--data", help="manifest CSV (default: $GEOLOC_DATA, data/manifest.csv, ../shared/geodata)")
    ap.add_argument("--out", default="runs/latest", help="run directory")
    ap.add_argument("--backbone", default="efficientnet_lite2", type=backbone_arg,
                    help=f"backbone (docs/backbones.md): {known_names()}")
    ap.add_argument("--backbone-config", type=backbone_config_arg, default=None,
                    help='architecture overrides as JSON, random weights only (with --no-pretrained), e.g. '
                         '\'{"num_hidden_layers": 2, "hidden_size": 32}\'; stored in the checkpoint')
    ap.add_argument("--no-pretrained", action="store_true", help="random backbone weights")
    ap.add_argument("--input-size", type=int, default=0, help="input px (0 = the backbone's own size)")
    ap.add_argument("--mode", default="finetune", choices=["frozen", "finetune", "full"],
                    help="frozen: heads on cached features; finetune: also the last blocks; full: end to end")
    ap.add_argument("--finetune-blocks", type=int, default=5, help="last N backbone blocks trained (finetune)")
    ap.add_argument("--aug-rounds", type=int, default=2, help="augmented copies cached per training image")
    ap.add_argument("--crop", type=crop_arg, default=0.0, help="fraction of the image bottom to hide (0..0.5)")
    ap.add_argument("--cells", default="geocells", choices=SCHEMES,
                    help="label scheme (country works with label-only data, the others need coordinates)")
    ap.add_argument("--min-cell", type=int, default=8, help="geocells: min training locations per cell")
    ap.add_argument("--max-cell", type=int, default=40, help="geocells: max training locations per cell")
    ap.add_argument("--grid-res", type=int, default=2, help="grid: H3 resolution")
    ap.add_argument("--regression", default="offset", choices=HEAD_REGRESSIONS,
                    help="latlon = the references' 2-output regressor (reference heads only)")
    ap.add_argument("--head", default="mlp", choices=sorted(HEADS),
                    help="head (model/net/heads.py); linear with --mode frozen retrains only the final layer")
    ap.add_argument("--reg-weight", type=float, default=1.0, help="loss weight of the coordinate regressor")
    ap.add_argument("--tau", type=float, default=300.0, help="haversine label smoothing (km); 0 = one-hot")
    ap.add_argument("--no-country-head", dest="country_head", action="store_false",
                    help="no direct country classifier beside the cell classifier")
    ap.add_argument("--country-weight", type=float, default=1.0, help="loss weight of the country head")
    ap.add_argument("--hidden", type=int, default=512, help="width of the head's hidden layer")
    ap.add_argument("--dropout", type=float, default=0.3, help="head dropout")
    ap.add_argument("--optimizer", default="adamw", choices=["adam", "adamw"], help="optimizer")
    ap.add_argument("--lr", type=float, default=1e-3, help="head learning rate")
    ap.add_argument("--backbone-lr", type=float, default=2e-4, help="fine-tuned blocks' learning rate")
    ap.add_argument("--weight-decay", type=float, default=1e-2, help="weight decay")
    ap.add_argument("--epochs", type=int, default=15, help="maximum epochs (early stopping may end sooner)")
    ap.add_argument("--batch-size", type=int, default=64, help="batch size")
    ap.add_argument("--patience", type=int, default=3, help="early stopping: epochs without val-loss gain")
    ap.add_argument("--scheduler", default="plateau", choices=["plateau", "cosine", "none"],
                    help="LR schedule: ReduceLROnPlateau on val loss, cosine over --epochs, or constant")
    ap.add_argument("--time-limit", type=float, default=0.0, help="minutes; stop after the epoch past it (0 = none)")
    ap.add_argument("--seed", type=int, default=0, help="seed of cells, initialisation and sampling")
    ap.add_argument("--max-locations", type=int, default=0, help="use a random subset of locations (0 = all)")
    ap.add_argument("--kfold", type=int, default=0, help="grouped K-fold cross-validation; report mean ± std")
    ap.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation at the end")
    ap.add_argument("--no-gallery", dest="gallery", action="store_false",
                    help="do not store the retrieval gallery of training places (model.net.retrieval)")
    ap.add_argument("--gallery-settings", type=json.loads, default=None,
                    help='retrieval settings as JSON (default: tuned on val), e.g. \'{"top_cells": 20, "temperature": 0.01}\'')
    ap.add_argument("--train-on-val", action="store_true",
                    help="fold the val split into training and train exactly --epochs epochs (no model selection:"
                         " take the epoch count from a run with a val split)")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="feature cache folder ('' = in memory only)")
    ap.add_argument("--no-cache", action="store_true",
                    help="finetune: run the frozen trunk on the fly every epoch instead of caching its maps (for "
                         "data too large to cache; the default with shard data)")
    ap.add_argument("--log-dir", default=None, help="TensorBoard logs (default: <out>/tb; 'none' = off)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    add_runtime_args(ap)
    return TrainConfig.from_namespace(ap.parse_args(argv))


def main(argv=None) -> dict:
    cfg = parse_args(argv)
    try:
        return _run(cfg)
    except USER_ERRORS as e:
        log.debug("user error", exc_info=True)
        raise SystemExit(f"error: {e}") from None


def _run(cfg) -> dict:
    from model.distributed import from_env, shutdown

    dist = from_env(cfg.device)  # a DistContext under torchrun with several processes, else None
    is_main = dist is None or dist.is_main
    logging.basicConfig(level=logging.INFO if is_main else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    rt = runtime_for(cfg, dist)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    df = ensure_split(read_manifest(cfg.data), seed=cfg.seed)
    if cfg.train_on_val:
        log.info("--train-on-val: %d val rows join training; %d epochs, no model selection",
                 int((df["split"] == "val").sum()), cfg.epochs)
        df = df.assign(split=df["split"].replace("val", "train"))
    if cfg.max_locations:
        keep = pd.Series(df["location_id"].unique()).sample(min(cfg.max_locations, df["location_id"].nunique()),
                                                            random_state=cfg.seed)
        df = df[df["location_id"].isin(set(keep))].reset_index(drop=True)
    if is_main:
        cfg.save(out / "config.json")
    if cfg.kfold:
        if dist is not None:
            raise SystemExit("--kfold runs in one process (not under torchrun)")
        return run_kfold(df, cfg, out, rt)
    t0 = time.time()
    try:
        net, cells, hist = fit(df, cfg, out, dist=dist, runtime=rt)
    except PretrainedWeightsMissing as e:
        raise SystemExit(f"PretrainedWeightsMissing: {e}") from None
    if not is_main:
        shutdown(dist)
        return {}
    config = cfg.replace(mode=hist["mode"]).to_dict()  # as trained (finetune without a trunk split: full)
    config["train_seconds"] = time.time() - t0
    config["runtime"] = rt.describe()
    cache = None if cfg.no_cache else (cfg.cache or None)  # --no-cache: nothing of the trunk is kept
    extra = {"train_groups": sorted(set(df.loc[df["split"] == "train", "group_id"])),
             "val_groups": sorted(set(df.loc[df["split"] == "val", "group_id"]))}
    ck = save_checkpoint(out / "model.pt", net, cells, config, {"history": hist["epochs"]}, extra)
    result = {"checkpoint": str(ck), "train_seconds": config["train_seconds"], "epochs": hist["epochs"]}
    if cfg.gallery:
        from model.gallery import add_gallery

        result["gallery"] = add_gallery(ck, df, cache=cache,
                                        settings=cfg.gallery_settings, runtime=rt)
    if not cfg.no_eval and (df["split"] == "test").any():
        from model.evaluate import evaluate_checkpoint

        m = evaluate_checkpoint(ck, df[df["split"] == "test"], out / "eval_test", cache=cache, runtime=rt)
        saved = torch.load(ck, map_location="cpu", weights_only=True)
        saved["metrics"] = plain({"history": hist["epochs"], "test": m})
        write_checkpoint(saved, ck)
        result["test"] = m
    write_json(out / "metrics.json", result)
    print(f"saved {ck}")
    shutdown(dist)
    return result


def run_kfold(df: pd.DataFrame, cfg, out: Path, runtime=None) -> dict:
    """Grouped K-fold over train+val (the test split stays untouched); prints mean ± std."""
    from model.evaluate import evaluate_checkpoint

    pool = df[df["split"] != "test"].reset_index(drop=True)
    scores = []
    for i, tr, va in kfold(pool, cfg.kfold, seed=cfg.seed):
        d = pool.copy()
        d["split"] = "train"
        d.loc[va.index, "split"] = "val"
        net, cells, hist = fit(d, cfg, out / f"fold{i}", runtime=runtime)
        ck = save_checkpoint(out / f"fold{i}" / "model.pt", net, cells, cfg.to_dict(), {"history": hist["epochs"]})
        m = evaluate_checkpoint(ck, d[d["split"] == "val"], out / f"fold{i}" / "eval", cache=cfg.cache or None,
                                runtime=runtime)
        scores.append(m["per_location"])
    keys = ["country_top1", "median_km", "geoscore_mean", "acc_750km"]
    summary = {k: {"mean": float(np.mean([s[k] for s in scores])), "std": float(np.std([s[k] for s in scores]))}
               for k in keys}
    for k, v in summary.items():
        print(f"{k}: {v['mean']:.4f} ± {v['std']:.4f}")
    write_json(out / "kfold.json", {"folds": scores, "summary": summary})
    return summary


if __name__ == "__main__":
    main()
