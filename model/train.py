"""Train a geolocation model: ``python -m model.train --data MANIFEST --out runs/NAME``.

Modes: ``frozen`` trains the head on cached pooled features (seconds to minutes); ``finetune``
caches the frozen trunk's feature maps once (clean + ``--aug-rounds`` augmented copies per training
image) and fine-tunes the last ``--finetune-blocks`` blocks with the head; ``full`` trains a
from-scratch backbone (e.g. ``geocnn``) end to end on images. A run directory gets
``config.json``, per-epoch ``metrics.json`` and ``model.pt``; test metrics are added at the end.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from .backbones import PretrainedWeightsMissing, backbone_arg, backbone_config_arg, create_model, known_names
from .cells import SCHEMES, CellSet, build_cells
from .checkpoint import plain, save_checkpoint, write_checkpoint, write_json
from .cli import USER_ERRORS
from .features import DEFAULT_CACHE, extract, pooled
from .losses import geo_loss
from .manifest import read_manifest
from .inference import cell_country_index
from .heads import HEAD_REGRESSIONS, HEADS, build_head
from .network import GeoNet, latlon_to_offset
from .splits import ensure_split, kfold
from .transforms import crop_arg

log = logging.getLogger("model.train")


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except for on/off flags (their "default: True" on a --no-X flag misleads)."""

    def _get_help_string(self, action):
        return action.help if action.nargs == 0 else super()._get_help_string(action)


def parse_args(argv=None) -> argparse.Namespace:
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
                    help="head (model/heads.py); linear with --mode frozen retrains only the final layer")
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
                    help="do not store the retrieval gallery of training places (model.retrieval)")
    ap.add_argument("--gallery-settings", type=json.loads, default=None,
                    help='retrieval settings as JSON (default: tuned on val), e.g. \'{"top_cells": 20, "temperature": 0.01}\'')
    ap.add_argument("--train-on-val", action="store_true",
                    help="fold the val split into training and train exactly --epochs epochs (no model selection:"
                         " take the epoch count from a run with a val split)")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="feature cache folder ('' = no cache)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    return ap.parse_args(argv)


def row_targets(df: pd.DataFrame, cells: CellSet) -> dict[str, torch.Tensor]:
    """Per-row tensors: lat/lon (NaN if unknown), cell id, offset from its centroid, country mask (N, C)."""
    cell = cells.assign(df["lat"], df["lon"], df["country_code"], df["admin1"])
    t = cells.table
    c = np.clip(cell, 0, None)
    off = latlon_to_offset(t["lat"].to_numpy()[c], t["lon"].to_numpy()[c], df["lat"].to_numpy(), df["lon"].to_numpy())
    off = np.nan_to_num(off)
    codes, _ = cell_country_index(t)
    cpos = {c: i for i, c in enumerate(codes)}
    cidx = np.array([cpos.get(c, -1) for c in df["country_code"]])
    return {"country_idx": torch.tensor(cidx, dtype=torch.long),
            "lat": torch.tensor(df["lat"].to_numpy(), dtype=torch.float32),
            "lon": torch.tensor(df["lon"].to_numpy(), dtype=torch.float32),
            "cell": torch.tensor(c, dtype=torch.long),
            "offset": torch.tensor(off, dtype=torch.float32),
            "country_mask": torch.tensor(cells.country_mask(df["country_code"].tolist()))}


def usable(df: pd.DataFrame, cells: CellSet) -> np.ndarray:
    """Rows that can supervise: coordinates, or a country that has cells."""
    ccs = set(cells.table["country_code"])
    return (df["lat"].notna() | df["country_code"].isin(ccs)).to_numpy()


class CachedInputs:
    """Inputs for cached training: clean maps for every row, augmented rounds for training rows."""

    def __init__(self, net: GeoNet, df: pd.DataFrame, train_idx: np.ndarray, args, pool: bool, dist=None):
        bb, sb, cache = net.backbone, net.start_block, (args.cache or None)
        extract_fn, pooled_fn = (dist.extract, dist.pooled) if dist is not None else (extract, pooled)
        self.clean, self.ok = extract_fn(bb, df["path"].tolist(), start_block=sb, crop=args.crop, cache_root=cache,
                                         desc="features (clean)")
        self.rounds = [extract_fn(bb, df["path"].iloc[train_idx].tolist(), start_block=sb, crop=args.crop,
                                  variant=f"aug{k}", seed=args.seed, cache_root=cache, desc=f"features (aug{k})")[0]
                       for k in range(1, args.aug_rounds + 1)]
        self.pos = {int(i): j for j, i in enumerate(train_idx)}
        self.pool = pool
        if pool:  # frozen mode: run the (frozen) tail once, keep pooled vectors
            self.clean = pooled_fn(bb, self.clean, sb,
                                   getattr(self.clean, "filename", None) and Path(self.clean.filename))
            self.rounds = [pooled_fn(bb, r, sb, getattr(r, "filename", None) and Path(r.filename)) for r in self.rounds]

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None) -> torch.Tensor:
        """Inputs for rows ``idx``; with ``rng``, each training row takes a random round (clean or augmented)."""
        xs = []
        for i in idx:
            r = rng.integers(0, len(self.rounds) + 1) if (rng is not None and self.rounds) else 0
            xs.append(self.clean[i] if r == 0 else self.rounds[r - 1][self.pos[int(i)]])
        x = np.asarray(np.stack(xs), np.float32)
        if rng is not None and not self.pool and x.ndim == 4 and x.shape[-1] >= 6:
            x = _random_map_crop(x, rng)
        return torch.from_numpy(x)

    def fwd(self, net: GeoNet):
        """The network entry point matching these inputs (pooled features or trunk maps)."""
        return net.forward_features if self.pool else net.forward_cached


def _random_map_crop(x: np.ndarray, rng: np.random.Generator, min_frac: float = 0.75) -> np.ndarray:
    """Feature-space random crop: a random window of the trunk maps (B, C, h, w), one size per batch,
    one position per sample (about a random crop of 56-100% of the image area, then resize)."""
    h, w = x.shape[-2:]
    s = int(rng.integers(int(np.ceil(h * min_frac)), h + 1))
    if s == h:
        return x
    oy = rng.integers(0, h - s + 1, len(x))
    ox = rng.integers(0, w - s + 1, len(x))
    return np.stack([m[:, a:a + s, b:b + s] for m, a, b in zip(x, oy, ox)])


def build_net(args, n_cells: int, n_countries: int = 0) -> GeoNet:
    bb = create_model(args.backbone, pretrained=not args.no_pretrained, config=getattr(args, "backbone_config", None))
    if getattr(args, "input_size", 0):
        bb.input_size = args.input_size
    if args.mode == "full" or not hasattr(bb, "forward_trunk"):
        args.mode = "full" if args.mode != "frozen" else "frozen"
        sb = 0
    else:
        sb = max(0, bb.num_blocks - args.finetune_blocks)
    head = build_head(getattr(args, "head", "mlp"), bb.feature_dim, n_cells, args.hidden, args.dropout,
                      args.regression, n_countries)
    net = GeoNet(bb, head, sb)
    for p in bb.parameters():
        p.requires_grad = args.mode == "full"
    if args.mode == "finetune":
        for m in bb.tail_modules(sb):
            for p in m.parameters():
                p.requires_grad = True
    return net


def _set_train(net: GeoNet, mode: str) -> None:
    net.train()
    if mode != "full":  # keep BatchNorm statistics of the pretrained backbone (small batches, small data)
        for m in net.backbone.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


def run_epoch(net: GeoNet, inputs, idx: np.ndarray, tg: dict, cells_t: dict, args, opt=None,
              rng: np.random.Generator | None = None, fwd=None, dist=None) -> dict[str, float]:
    """One pass over rows ``idx`` (training if ``opt`` is given); returns mean loss parts.

    ``fwd`` replaces the network entry point (the DDP wrapper); with ``dist`` this process takes its
    slice of every global batch and the loss parts are summed over the processes.
    """
    training = opt is not None
    _set_train(net, args.mode) if training else net.eval()
    order = rng.permutation(idx) if training else idx
    sums: dict[str, float] = {}
    n = 0
    fwd = fwd or inputs.fwd(net)
    dev = next(net.parameters()).device
    bar = tqdm(range(0, len(order), args.batch_size), desc="train" if training else "val", leave=False, unit="batch",
               disable=True if dist is not None and not dist.is_main else None)
    for s in bar:
        b = order[s:s + args.batch_size]
        if dist is None:
            x = inputs.batch(b, rng if training else None)
        else:  # cached inputs draw a random round per row of the global batch: draw all, keep this slice
            part, n_global = dist.shard(len(b)), len(b)
            x = inputs.batch(b, rng if training else None)[part] if isinstance(inputs, CachedInputs) \
                else inputs.batch(b[part], rng if training else None)
            b = b[part]
        x = x.to(dev)
        batch = {k: v[b].to(dev) for k, v in tg.items()}
        with torch.set_grad_enabled(training):
            out = fwd(x)
            loss, parts = geo_loss(out, batch, cells_t, args.tau, args.reg_weight, args.country_weight)
        if training:
            if dist is not None:  # DDP averages gradients over processes: make it the global-batch mean
                loss = loss * (len(b) * dist.world / n_global) + 0.0 * sum(v.sum() for v in out.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v * len(b)
        n += len(b)
        bar.set_postfix(loss=f"{sums['loss'] / max(n, 1):.3f}")
    if dist is not None:
        sums, n = dist.sum_parts(sums, n)
    return {k: v / max(n, 1) for k, v in sums.items()}


def make_scheduler(opt: torch.optim.Optimizer, args):
    """``--scheduler``: ReduceLROnPlateau (factor 0.3, patience 1) on val loss, cosine over the epochs, or None."""
    kind = getattr(args, "scheduler", "plateau")
    if kind == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=1)
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, args.epochs))
    return None


def fit(df: pd.DataFrame, args, out_dir: Path, on_epoch=None, dist=None) -> tuple[GeoNet, CellSet, dict]:
    """Train on ``df[split == train]``, select on ``val``; returns (best net, cells, history).

    ``on_epoch(record, net, cells, inputs, val_rows)`` runs after every epoch (e.g. Optuna pruning);
    a true return value stops training. ``dist`` (:class:`model.distributed.DistContext`) makes
    this process one of a data-parallel job (only its rank 0 writes files).
    """
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_df = df[df["split"] == "train"]
    if train_df.empty:
        raise ValueError("no training rows (split=train) in the manifest")
    cells = build_cells(train_df, args.cells, min_size=args.min_cell, max_size=args.max_cell,
                        resolution=args.grid_res, seed=args.seed)
    log.info("%d cells (%s) from %d training locations", len(cells), args.cells, train_df["location_id"].nunique())
    net = build_net(args, len(cells), len(cell_country_index(cells.table)[0]) if args.country_head else 0)
    if dist is not None:
        torch.manual_seed(args.seed + dist.rank)  # each process draws its own dropout/augmentations
        net.to(dist.device)
    tg = row_targets(df, cells)
    ok_rows = usable(df, cells)
    if args.mode == "full":
        from .train_images import ImageInputs

        inputs = ImageInputs(net, df, args)
    else:
        tr_all = np.flatnonzero((df["split"] == "train").to_numpy())
        inputs = CachedInputs(net, df, tr_all, args, pool=(args.mode == "frozen"), dist=dist)
        ok_rows = ok_rows & np.asarray(inputs.ok, bool)
    tr = np.flatnonzero((df["split"] == "train").to_numpy() & ok_rows)
    va = np.flatnonzero((df["split"] == "val").to_numpy() & ok_rows)
    if len(va) == 0:
        va = tr[: max(1, len(tr) // 10)]
    cells_t = {"lat": torch.tensor(cells.table["lat"].to_numpy(), dtype=torch.float32),
               "lon": torch.tensor(cells.table["lon"].to_numpy(), dtype=torch.float32)}
    if dist is not None:
        cells_t = {k: v.to(dist.device) for k, v in cells_t.items()}
    groups = [{"params": [p for p in net.head.parameters()], "lr": args.lr}]
    bb_params = [p for p in net.backbone.parameters() if p.requires_grad]
    if bb_params:
        groups.append({"params": bb_params, "lr": args.backbone_lr if args.mode == "finetune" else args.lr})
    Opt = torch.optim.AdamW if args.optimizer == "adamw" else torch.optim.Adam
    opt = Opt(groups, weight_decay=args.weight_decay)
    sched = make_scheduler(opt, args)
    fwd = dist.wrap(net, inputs.fwd(net).__name__) if dist is not None else None
    best, best_state, bad, history, t_start = float("inf"), None, 0, [], time.time()
    for ep in range(1, args.epochs + 1):
        t0 = time.time()
        trm = run_epoch(net, inputs, tr, tg, cells_t, args, opt, rng, fwd=fwd, dist=dist)
        vam = run_epoch(net, inputs, va, tg, cells_t, args, dist=dist)
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(vam["loss"])
        elif sched is not None:
            sched.step()
        rec = {"epoch": ep, "train": trm, "val": vam, "lr": opt.param_groups[0]["lr"], "seconds": time.time() - t0}
        history.append(rec)
        if dist is None or dist.is_main:
            write_json(out_dir / "metrics.json", {"epochs": history})
        log.info("epoch %d: train %.4f  val %.4f  (%.0fs)", ep, trm["loss"], vam["loss"], rec["seconds"])
        if vam["loss"] < best - 1e-4:
            best, bad = vam["loss"], 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            bad += 1
        if on_epoch is not None and on_epoch(rec, net, cells, inputs, va):
            log.info("stopped by the epoch callback")
            break
        if bad >= args.patience and not getattr(args, "train_on_val", False):
            log.info("early stopping after %d epochs without improvement", bad)
            break
        if getattr(args, "time_limit", 0) and time.time() - t_start > args.time_limit * 60:
            log.info("time limit of %g min reached after %d epochs", args.time_limit, ep)
            break
    if best_state is not None and not getattr(args, "train_on_val", False):  # else: the last epoch
        net.load_state_dict(best_state)
    return net.eval(), cells, {"epochs": history, "best_val_loss": best}


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        return _run(args)
    except USER_ERRORS as e:
        log.debug("user error", exc_info=True)
        raise SystemExit(f"error: {e}") from None


def _run(args) -> dict:
    from .distributed import from_env, shutdown

    dist = from_env()  # a DistContext under torchrun with several processes, else None
    is_main = dist is None or dist.is_main
    logging.basicConfig(level=logging.INFO if is_main else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    df = ensure_split(read_manifest(args.data), seed=args.seed)
    if getattr(args, "train_on_val", False):
        log.info("--train-on-val: %d val rows join training; %d epochs, no model selection",
                 int((df["split"] == "val").sum()), args.epochs)
        df = df.assign(split=df["split"].replace("val", "train"))
    if args.max_locations:
        keep = pd.Series(df["location_id"].unique()).sample(min(args.max_locations, df["location_id"].nunique()),
                                                            random_state=args.seed)
        df = df[df["location_id"].isin(set(keep))].reset_index(drop=True)
    config = {k: v for k, v in vars(args).items()}
    config["pretrained"] = not args.no_pretrained
    if is_main:
        write_json(out / "config.json", config)
    if args.kfold:
        if dist is not None:
            raise SystemExit("--kfold runs in one process (not under torchrun)")
        return run_kfold(df, args, out)
    t0 = time.time()
    try:
        net, cells, hist = fit(df, args, out, dist=dist)
    except PretrainedWeightsMissing as e:
        raise SystemExit(f"PretrainedWeightsMissing: {e}") from None
    if not is_main:
        shutdown(dist)
        return {}
    config["mode"] = args.mode
    config["train_seconds"] = time.time() - t0
    extra = {"train_groups": sorted(set(df.loc[df["split"] == "train", "group_id"])),
             "val_groups": sorted(set(df.loc[df["split"] == "val", "group_id"]))}
    ck = save_checkpoint(out / "model.pt", net, cells, config, {"history": hist["epochs"]}, extra)
    result = {"checkpoint": str(ck), "train_seconds": config["train_seconds"], "epochs": hist["epochs"]}
    if getattr(args, "gallery", True):
        from .gallery import add_gallery

        result["gallery"] = add_gallery(ck, df, cache=args.cache or None,
                                        settings=getattr(args, "gallery_settings", None))
    if not args.no_eval and (df["split"] == "test").any():
        from .evaluate import evaluate_checkpoint

        m = evaluate_checkpoint(ck, df[df["split"] == "test"], out / "eval_test", cache=args.cache or None)
        saved = torch.load(ck, map_location="cpu", weights_only=True)
        saved["metrics"] = plain({"history": hist["epochs"], "test": m})
        write_checkpoint(saved, ck)
        result["test"] = m
    write_json(out / "metrics.json", result)
    print(f"saved {ck}")
    shutdown(dist)
    return result


def run_kfold(df: pd.DataFrame, args, out: Path) -> dict:
    """Grouped K-fold over train+val (the test split stays untouched); prints mean ± std."""
    from .evaluate import evaluate_checkpoint

    pool = df[df["split"] != "test"].reset_index(drop=True)
    scores = []
    for i, tr, va in kfold(pool, args.kfold, seed=args.seed):
        d = pool.copy()
        d["split"] = "train"
        d.loc[va.index, "split"] = "val"
        net, cells, hist = fit(d, args, out / f"fold{i}")
        ck = save_checkpoint(out / f"fold{i}" / "model.pt", net, cells, dict(vars(args)), {"history": hist["epochs"]})
        m = evaluate_checkpoint(ck, d[d["split"] == "val"], out / f"fold{i}" / "eval", cache=args.cache or None)
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
