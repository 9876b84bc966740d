"""Hyper-parameter search with Optuna:
``python -m model.tune --study NAME --trials N [--data M] [--max-locations K] [TRAIN OPTIONS]``.

Searches learning rate, dropout, weight decay, LR scheduler, haversine label smoothing ``tau``
(km) and geocell sizes (``--min-cell``/``--max-cell``) with TPE; every trial trains with
:func:`model.train.loop.fit` (early stopping after ``--patience`` = 3 epochs without val-loss gain) and
reports the validation per-location GeoScore (world scale, 0..5000) after each epoch, so the
median pruner stops poor trials early. The objective is that GeoScore, not the val loss: the loss
is not comparable across trials that change ``tau`` or the cells. The test split is never used.

The study lives in SQLite (default ``sqlite:///runs/tune/<study>.db``): rerunning the same
command resumes it (``--trials`` is the total wanted; trials of a killed run are retried), and
``--show`` prints the best trials. Options not listed here are passed to ``model.train``
(e.g. ``--backbone efficientnet_lite0 --mode frozen --epochs 12``).
"""
from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import torch

from .geo import geoscore, haversine_km
from .net.answer import answer_place
from .net.inference import cell_country_index
from .data.manifest import read_manifest
from .data.splits import ensure_split
from .net.checkpoint import save_checkpoint
from .train import fit, parse_args
from .train.config import TrainConfig

log = logging.getLogger("model.tune")
SCHEDULERS = ("plateau", "cosine", "none")


def suggest(trial: optuna.Trial, base: TrainConfig) -> TrainConfig:
    """Training configuration of one trial: ``base`` with the searched hyper-parameters replaced."""
    return base.replace(
        lr=trial.suggest_float("lr", 1e-4, 5e-3, log=True),
        dropout=trial.suggest_float("dropout", 0.0, 0.6),
        weight_decay=trial.suggest_float("weight_decay", 1e-5, 1e-1, log=True),
        scheduler=trial.suggest_categorical("scheduler", list(SCHEDULERS)),
        tau=trial.suggest_float("tau", 25.0, 1500.0, log=True),
        min_cell=trial.suggest_int("min_cell", 3, 20),
        max_cell=trial.suggest_int("max_cell", 20, 150, log=True))


def location_metrics(out: dict[str, np.ndarray], rows: pd.DataFrame, cells) -> dict[str, float]:
    """Per-location metrics of raw head outputs for manifest ``rows`` (views of a location fused).

    ``out``: ``logits`` (N, C) and optionally ``offset`` (N, C, 2) / ``xyz`` (N, 3) /
    ``country_logits`` (N, K), aligned with ``rows``; answered by :func:`model.net.answer.answer_place`
    (no gallery during training: the predicted point M). Returns ``geoscore_mean`` (world scale,
    points), ``median_km`` and ``country_top1``.
    """
    _, cidx = cell_country_index(cells.table)
    rows = rows.reset_index(drop=True)
    scores, dists, hits = [], [], []
    for _, g in rows.groupby("location_id", sort=False):
        idx = g.index.to_numpy()
        a = answer_place({k: v[idx] for k, v in out.items()}, cells.table, cidx)
        if g["country_code"].iloc[0]:
            hits.append(a.country_probs.index[0] == g["country_code"].iloc[0])
        if np.isnan(g["lat"].iloc[0]):
            continue
        d = haversine_km(g["lat"].iloc[0], g["lon"].iloc[0], a.lat, a.lon)
        dists.append(d)
        scores.append(geoscore(d))
    return {"geoscore_mean": float(np.mean(scores)) if scores else 0.0,
            "median_km": float(np.median(dists)) if dists else float("nan"),
            "country_top1": float(np.mean(hits)) if hits else float("nan")}


def head_outputs(net, inputs, rows_idx: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Outputs of ``net`` (eval mode, on its device) for training-input rows ``rows_idx`` (no augmentation),
    in the order of ``rows_idx`` (image inputs may deliver them in another order: placed by row id)."""
    net.eval()
    fwd = inputs.fwd(net)
    dev = next(net.parameters()).device
    pos = {int(r): i for i, r in enumerate(rows_idx)}
    outs: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        for x, rows, _ in inputs.batches(np.asarray(rows_idx), None, False, batch_size=batch_size):
            o = fwd(x.to(dev))
            at = [pos[int(r)] for r in rows]
            for k in ("logits", "offset", "xyz", "country_logits"):
                if k in o:
                    v = o[k].float().cpu().numpy()
                    if k not in outs:
                        outs[k] = np.zeros((len(rows_idx),) + v.shape[1:], np.float32)
                    outs[k][at] = v
    return outs


class Objective:
    """Optuna objective: train one trial, report val GeoScore per epoch, return that of the kept epoch.

    :func:`model.train.loop.fit` keeps the weights of the epoch with the lowest val loss; the trial's
    value is the val GeoScore of that epoch. The best trial's model is saved to ``<root>/best.pt``.
    """

    def __init__(self, df: pd.DataFrame, base: TrainConfig, root: Path):
        self.df, self.base, self.root = df, base, root

    def __call__(self, trial: optuna.Trial) -> float:
        args = suggest(trial, self.base)
        t0 = time.time()
        per_epoch: dict[int, dict] = {}

        def on_epoch(rec: dict, net, cells, inputs, va: np.ndarray) -> None:
            m = location_metrics(head_outputs(net, inputs, va), self.df.iloc[va], cells)
            per_epoch[rec["epoch"]] = {"val_loss": rec["val"]["loss"], **m}
            trial.report(m["geoscore_mean"], rec["epoch"])
            if trial.should_prune():
                raise optuna.TrialPruned(f"epoch {rec['epoch']}: val GeoScore {m['geoscore_mean']:.0f}")

        net, cells, hist = fit(self.df, args, self.root / f"trial_{trial.number:04d}", on_epoch=on_epoch)
        kept = [e for e, r in per_epoch.items() if r["val_loss"] == hist["best_val_loss"]] or [max(per_epoch)]
        m = per_epoch[kept[0]]
        for k in ("geoscore_mean", "median_km", "country_top1"):
            trial.set_user_attr(f"val_{k}", m[k])
        trial.set_user_attr("epochs", len(hist["epochs"]))
        trial.set_user_attr("kept_epoch", kept[0])
        trial.set_user_attr("n_cells", len(cells))
        trial.set_user_attr("seconds", round(time.time() - t0, 1))
        done = [t.value for t in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
        if not done or m["geoscore_mean"] > max(done):
            save_checkpoint(self.root / "best.pt", net, cells, args.replace(mode=hist["mode"]).to_dict(),
                            {"val_location": m, "trial": trial.number})
        return m["geoscore_mean"]


def open_study(name: str, storage: str | None, seed: int = 0, root: Path = Path("runs/tune")) -> optuna.Study:
    """Create or resume study ``name`` (TPE sampler, median pruner) in SQLite ``storage``.

    Trials whose process died (no heartbeat for 2 minutes) are marked failed and retried once.
    """
    if storage is None:
        root.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{root / name}.db"
    with warnings.catch_warnings():  # heartbeats are flagged "experimental" by Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):  # optuna >= 4.9
            retry = {"heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)}
        else:
            retry = {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=1)}
        rdb = optuna.storages.RDBStorage(storage, heartbeat_interval=30, grace_period=120, **retry)
    return optuna.create_study(study_name=name, storage=rdb, direction="maximize", load_if_exists=True,
                               sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
                               pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2))


def finished(study: optuna.Study) -> int:
    """Trials that count towards ``--trials``: complete or pruned."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def show(study: optuna.Study, top: int = 10) -> pd.DataFrame:
    """Print and return the best ``top`` complete trials (value = val GeoScore, higher is better)."""
    df = study.trials_dataframe(attrs=("number", "value", "params", "user_attrs", "state", "duration"))
    counts = df["state"].value_counts().to_dict() if len(df) else {}
    print(f"study {study.study_name}: {len(df)} trials {counts}")
    df = df[df["state"] == "COMPLETE"].sort_values("value", ascending=False).head(top)
    if len(df):
        df = df.rename(columns=lambda c: c.replace("params_", "").replace("user_attrs_", ""))
        cols = ["number", "value", "val_median_km", "val_country_top1", "lr", "dropout", "weight_decay",
                "scheduler", "tau", "min_cell", "max_cell", "epochs", "seconds"]
        df = df[[c for c in cols if c in df.columns]]
        opts = ("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format)
        with pd.option_context(*opts):
            print(df.to_string(index=False))
        print(f"best trial #{study.best_trial.number}: " +
              " ".join(f"--{k.replace('_', '-')} {v:.4g}" if isinstance(v, float) else f"--{k.replace('_', '-')} {v}"
                       for k, v in study.best_params.items()))
    return df


def main(argv=None) -> optuna.Study:
    ap = argparse.ArgumentParser(prog="python -m model.tune", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", required=True, help="study name (also the SQLite file name)")
    ap.add_argument("--trials", type=int, default=20, help="total trials wanted in the study (resumes)")
    ap.add_argument("--storage", help="Optuna storage URL (default sqlite:///runs/tune/<study>.db)")
    ap.add_argument("--show", action="store_true", help="print the best trials and exit")
    ap.add_argument("--timeout", type=float, default=None, help="stop starting new trials after this many s")
    known, rest = ap.parse_known_args(argv)
    base = parse_args(rest)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(known.study, known.storage, base.seed)
    if known.show:
        show(study)
        return study
    if base.threads:
        torch.set_num_threads(base.threads)
    df = ensure_split(read_manifest(base.data), seed=base.seed)
    if base.max_locations:  # the same subset as `python -m model.train --max-locations K --seed S`
        keep = pd.Series(df["location_id"].unique()).sample(min(base.max_locations, df["location_id"].nunique()),
                                                            random_state=base.seed)
        df = df[df["location_id"].isin(set(keep))].reset_index(drop=True)
    base = base.replace(no_eval=True)
    root = Path(base.out if base.out != "runs/latest" else f"runs/tune/{known.study}")
    todo = max(0, known.trials - finished(study))
    log.info("study %s: %d trials done, running %d more", known.study, finished(study), todo)
    if todo:
        study.optimize(Objective(df, base, root), n_trials=todo, timeout=known.timeout)
    show(study)
    return study


if __name__ == "__main__":
    main()
