"""The training loop: :func:`fit` (cells, network, inputs, optimiser, epochs, early stopping) and
:func:`run_epoch` (one pass over rows, training or validation), on any device and precision.

One code path for the CPU and GPUs: batches go to ``runtime.device`` (channels-last), forward passes
run under ``runtime.autocast()`` (a no-op in fp32), the loss is computed in fp32 from the outputs,
and the backward pass goes through ``runtime.scaler()`` (a pass-through unless fp16 on a GPU).
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from model.net.cells import CellSet, build_cells
from model.net.checkpoint import write_json
from model.device import CPU, Runtime, runtime_for
from model.net.inference import cell_country_index
from .logs import RunLog, batch_bar, epoch_bar, log_dir_for
from .losses import geo_loss

REPORT_EVERY = 20  # batches between progress-bar loss readings (each one waits for the device)
from model.net.build import build_net, trainable_mode
from model.net.network import GeoNet
from .images import ImageInputs, shard_source
from .inputs import CachedInputs, batch_targets, row_targets, usable
from .config import TrainConfig
from .val_metrics import ValMeter

log = logging.getLogger("model.train")
RECORD_ROWS = "GEOLOC_RECORD_ROWS"  # debug hook: "1" writes each rank's training rows per epoch to the run


def _set_train(net: GeoNet, mode: str) -> None:
    net.train()
    if mode != "full":  # keep BatchNorm statistics of the pretrained backbone (small batches, small data)
        for m in net.backbone.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


def _join(fwd):
    """DDP's ``join()`` when ``fwd`` is (a compiled) DistributedDataParallel: ranks that run out of
    batches early shadow the others' gradient all-reduces instead of hanging."""
    ddp = getattr(fwd, "_orig_mod", fwd)
    return ddp.join() if isinstance(ddp, torch.nn.parallel.DistributedDataParallel) else contextlib.nullcontext()


def run_epoch(net: GeoNet, inputs, idx: np.ndarray, tg: dict, cells_t: dict, cfg: TrainConfig, opt=None,
              rng: np.random.Generator | None = None, fwd=None, dist=None, *, runtime: Runtime = CPU,
              epoch: int = 1, scaler=None, stats: dict | None = None, record: list | None = None) -> dict[str, float]:
    """One pass over rows ``idx`` (training if ``opt`` is given); returns mean loss parts.

    ``fwd`` replaces the network entry point (the DDP wrapper, a compiled module); with ``dist`` this
    process takes its share of the rows and the loss parts are summed over the processes. ``stats``
    receives ``images`` (all ranks), ``seconds`` and, for validation, ``metrics`` (per image, see
    :mod:`model.train.val_metrics`); ``record`` receives the row ids this process trained on.
    """
    training = opt is not None
    _set_train(net, cfg.mode) if training else net.eval()
    fwd = fwd if fwd is not None else inputs.fwd(net)
    scaler = scaler if scaler is not None else runtime.scaler()
    meter = None if training else ValMeter(cells_t["table"], runtime.device)
    sums: dict = {}
    n = steps = 0
    main = dist is None or dist.is_main
    t0 = time.perf_counter()
    bar = batch_bar(inputs.count(idx, dist), f"epoch {epoch} {'train' if training else 'val'}", main)
    with bar, (_join(fwd) if training else contextlib.nullcontext()), torch.set_grad_enabled(training):
        for x, rows, scale in inputs.batches(idx, rng if training else None, training, epoch, dist, cfg.batch_size):
            x = runtime.to_device(x)
            r = runtime.to_device(torch.as_tensor(rows, dtype=torch.long))  # non-blocking (a blocking copy syncs)
            batch = batch_targets(tg, r, cells_t["cidx"])
            with runtime.autocast():
                out = fwd(x)
            out = {k: v.float() for k, v in out.items()}  # the loss in fp32, whatever the forward's precision
            loss, parts = geo_loss(out, batch, cells_t, cfg.tau, cfg.reg_weight, cfg.country_weight)
            if training:
                if scale is not None:  # cached inputs under DDP: make the average the global batch's mean
                    loss = loss * scale
                if dist is not None:  # every output enters the loss: every trainable parameter gets a gradient
                    loss = loss + 0.0 * sum(v.sum() for v in out.values())
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                if record is not None:
                    record.extend(int(i) for i in rows)
            else:
                meter.add(out, batch)
            for k, v in parts.items():  # device tensors: no GPU sync per step
                sums[k] = sums.get(k, 0.0) + v * len(rows)
            n += len(rows)
            steps += 1
            bar.update(len(rows))
            if steps % REPORT_EVERY == 1:  # reading the loss waits for the device: now and then only
                bar.set_postfix(loss=f"{float(sums['loss']) / max(n, 1):.3f}")
    sums = {k: float(v) for k, v in sums.items()}
    if dist is not None:
        sums, n = dist.sum_parts(sums, n)
    if stats is not None:
        stats.update(images=n, seconds=time.perf_counter() - t0)
        if meter is not None:
            stats["metrics"] = meter.result(dist)
    return {k: v / max(n, 1) for k, v in sums.items()}


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig):
    """``--scheduler``: ReduceLROnPlateau (factor 0.3, patience 1) on val loss, cosine over the epochs, or None."""
    kind = cfg.scheduler
    if kind == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=1)
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs))
    return None


def make_inputs(net: GeoNet, df: pd.DataFrame, cfg: TrainConfig, runtime: Runtime, dist=None):
    """Image inputs (``full``; ``finetune`` streamed with ``--no-cache`` or shard data) or cached features."""
    streamed = cfg.mode == "full" or (cfg.mode == "finetune" and net.start_block > 0 and
                                       (cfg.no_cache or shard_source(df) is not None))
    if streamed:
        if cfg.mode == "finetune":
            log.info("finetune without a trunk cache: the frozen trunk runs on the fly every epoch")
        return ImageInputs(net, df, cfg, runtime, dist)
    tr_all = np.flatnonzero((df["split"] == "train").to_numpy())
    return CachedInputs(net, df, tr_all, cfg, pool=(cfg.mode == "frozen"), dist=dist, runtime=runtime)


def fit(df: pd.DataFrame, cfg: TrainConfig, out_dir: Path, on_epoch=None, dist=None,
        runtime: Runtime | None = None) -> tuple[GeoNet, CellSet, dict]:
    """Train on ``df[split == train]``, select on ``val``; returns (best net on the CPU, cells, history:
    ``epochs`` records, ``best_val_loss``, ``mode`` the backbone trained in).

    ``on_epoch(record, net, cells, inputs, val_rows)`` runs after every epoch (e.g. Optuna pruning);
    a true return value stops training. ``dist`` (:class:`model.distributed.DistContext`) makes
    this process one of a data-parallel job (only its rank 0 writes files). ``runtime``: device and
    precision (default: from ``cfg``, the process's GPU under torchrun).
    """
    runtime = runtime or runtime_for(cfg, dist)
    out_dir = Path(out_dir)
    main = dist is None or dist.is_main
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    train_df = df[df["split"] == "train"]
    if train_df.empty:
        raise ValueError("no training rows (split=train) in the manifest")
    cells = build_cells(train_df, cfg.cells, min_size=cfg.min_cell, max_size=cfg.max_cell,
                        resolution=cfg.grid_res, seed=cfg.seed)
    log.info("%d cells (%s) from %d training locations", len(cells), cfg.cells, train_df["location_id"].nunique())
    net = build_net(cfg, len(cells), len(cell_country_index(cells.table)[0]) if cfg.country_head else 0)
    cfg = cfg.replace(mode=trainable_mode(cfg.mode, net.backbone))  # finetune without a trunk split: full
    if dist is not None:
        torch.manual_seed(cfg.seed + dist.rank)  # each process draws its own dropout/augmentations
    runtime.place(net)
    log.info("running on %s", runtime.describe())
    tg = {k: v.to(runtime.device) for k, v in row_targets(df, cells).items()}
    inputs = make_inputs(net, df, cfg, runtime, dist)
    ok_rows = usable(df, cells) & np.asarray(inputs.ok, bool)
    tr = np.flatnonzero((df["split"] == "train").to_numpy() & ok_rows)
    va = np.flatnonzero((df["split"] == "val").to_numpy() & ok_rows)
    if len(va) == 0:
        va = tr[: max(1, len(tr) // 10)]
    cells_t = {"lat": torch.tensor(cells.table["lat"].to_numpy(), dtype=torch.float32, device=runtime.device),
               "lon": torch.tensor(cells.table["lon"].to_numpy(), dtype=torch.float32, device=runtime.device),
               "cidx": torch.as_tensor(cell_country_index(cells.table)[1], device=runtime.device),
               "table": cells.table}
    groups = [{"params": [p for p in net.head.parameters()], "lr": cfg.lr}]
    bb_params = [p for p in net.backbone.parameters() if p.requires_grad]
    if bb_params:
        groups.append({"params": bb_params, "lr": cfg.backbone_lr if cfg.mode == "finetune" else cfg.lr})
    Opt = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    opt = Opt(groups, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, cfg)
    scaler = runtime.scaler()
    entry = inputs.fwd(net)
    even = isinstance(inputs, CachedInputs)  # every rank steps through the same global batches (else join())
    fwd = runtime.compiled(dist.wrap(entry, net, even_batches=even) if dist is not None else entry)
    tb = RunLog(log_dir_for(cfg.log_dir, out_dir), enabled=main)
    record = os.environ.get(RECORD_ROWS, "") not in ("", "0")
    best, best_state, bad, history, t_start = float("inf"), None, 0, [], time.time()
    with epoch_bar(cfg.epochs, main) as bar:
        for ep in range(1, cfg.epochs + 1):
            t0, st_tr, st_va, seen = time.time(), {}, {}, ([] if record else None)
            trm = run_epoch(net, inputs, tr, tg, cells_t, cfg, opt, rng, fwd=fwd, dist=dist, runtime=runtime,
                            epoch=ep, scaler=scaler, stats=st_tr, record=seen)
            vam = run_epoch(net, inputs, va, tg, cells_t, cfg, dist=dist, runtime=runtime, epoch=ep, stats=st_va)
            if record:
                _write_rows(out_dir, df, seen, ep, dist)
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(vam["loss"])
            elif sched is not None:
                sched.step()
            rec = {"epoch": ep, "train": trm, "val": vam, "val_metrics": st_va["metrics"],
                   "lr": opt.param_groups[0]["lr"], "seconds": time.time() - t0,
                   "train_images": st_tr["images"],
                   "train_images_per_s": st_tr["images"] / max(st_tr["seconds"], 1e-9),
                   "val_images_per_s": st_va["images"] / max(st_va["seconds"], 1e-9)}
            history.append(rec)
            if main:
                write_json(out_dir / "metrics.json", {"epochs": history})
                tb.epoch(rec, [g["lr"] for g in opt.param_groups])
            bar.update(1)
            bar.set_postfix(train=f"{trm['loss']:.3f}", val=f"{vam['loss']:.3f}",
                            img_s=f"{rec['train_images_per_s']:.0f}")
            log.info("epoch %d: train %.4f  val %.4f  val country %.1f%% (per image)  %.0f img/s  (%.0fs)", ep,
                     trm["loss"], vam["loss"], 100 * rec["val_metrics"]["country_top1"], rec["train_images_per_s"],
                     rec["seconds"])
            if vam["loss"] < best - 1e-4:
                best, bad = vam["loss"], 0
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}
            else:
                bad += 1
            if on_epoch is not None and on_epoch(rec, net, cells, inputs, va):
                log.info("stopped by the epoch callback")
                break
            if bad >= cfg.patience and not cfg.train_on_val:
                log.info("early stopping after %d epochs without improvement", bad)
                break
            if cfg.time_limit and time.time() - t_start > cfg.time_limit * 60:
                log.info("time limit of %g min reached after %d epochs", cfg.time_limit, ep)
                break
    tb.close()
    if best_state is not None and not cfg.train_on_val:  # else: the last epoch
        net.load_state_dict(best_state)
    return net.cpu().eval(), cells, {"epochs": history, "best_val_loss": best, "mode": cfg.mode}


def _write_rows(out_dir: Path, df: pd.DataFrame, rows: list, epoch: int, dist) -> None:
    """``$GEOLOC_RECORD_ROWS``: this rank's training rows of the epoch, as shard-table row ids (``row``
    column) for shard data, else positions in the manifest, to ``<run>/consumed_rows/epoch<E>-rank<R>.npy``."""
    ids = np.asarray(rows, np.int64)
    if "row" in df.columns:
        ids = df["row"].to_numpy(np.int64)[ids]
    d = out_dir / "consumed_rows"
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / f"epoch{epoch}-rank{dist.rank if dist is not None else 0}.npy", ids)
