"""Training logs people read: TensorBoard scalars and tqdm progress bars.

A run writes TensorBoard event files into ``--log-dir`` (default ``<run>/tb``; ``--log-dir none``
turns them off) beside its ``metrics.json``; ``tensorboard --logdir runs`` shows every run. Tags, one
point per epoch (x = epoch):

- ``loss/train``, ``loss/val`` and each loss part ``loss_<part>/train|val`` (``cls``: smoothed cell
  cross-entropy, ``reg``: coordinate regression, ``country``: label-only rows' country mass,
  ``country_head``: the country classifier);
- ``lr/group<i>`` (``group0`` is the head, ``group1`` the fine-tuned backbone blocks);
- ``val/country_top1``, ``val/cell_top1``, ``val/median_km``, ``val/geoscore_mean``, ``val/acc_750km``
  (per image, see :mod:`model.train.val_metrics`);
- ``speed/train_images_per_s``, ``speed/val_images_per_s`` and ``time/epoch_s``.

Only the main process (rank 0 under torchrun) writes; the other ranks' :class:`RunLog` does nothing.
"""
from __future__ import annotations

import math
from pathlib import Path

from tqdm import tqdm

NONE = ("", "none", "off")


def log_dir_for(arg: str | None, out_dir: Path) -> Path | None:
    """``--log-dir``: None -> ``<out_dir>/tb``; ``none``/``off``/'' -> no TensorBoard logs."""
    if arg is None:
        return Path(out_dir) / "tb"
    return None if str(arg).strip().lower() in NONE else Path(arg)


class RunLog:
    """TensorBoard writer of one training run (a no-op when ``log_dir`` is None or ``enabled`` is False)."""

    def __init__(self, log_dir: Path | None, enabled: bool = True):
        self.writer = None
        if log_dir is not None and enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(log_dir))

    def epoch(self, rec: dict, lrs: list[float]) -> None:
        """Write one epoch's record (:func:`model.train.loop.fit`'s history entry)."""
        if self.writer is None:
            return
        ep = int(rec["epoch"])
        scalars = {}
        for split in ("train", "val"):
            for k, v in rec.get(split, {}).items():
                scalars[f"loss/{split}" if k == "loss" else f"loss_{k}/{split}"] = v
        for k, v in rec.get("val_metrics", {}).items():
            if k != "n":
                scalars[f"val/{k}"] = v
        for i, lr in enumerate(lrs):
            scalars[f"lr/group{i}"] = lr
        for k in ("train_images_per_s", "val_images_per_s"):
            if k in rec:
                scalars[f"speed/{k}"] = rec[k]
        scalars["time/epoch_s"] = rec.get("seconds", float("nan"))
        for tag, v in scalars.items():
            if v is not None and math.isfinite(float(v)):
                self.writer.add_scalar(tag, float(v), ep)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def epoch_bar(epochs: int, enabled: bool = True) -> tqdm:
    """The outer bar: epochs done, seconds per epoch and the ETA of the run (``--epochs`` at most)."""
    return tqdm(total=epochs, desc="epochs", unit="epoch", disable=None if enabled else True, dynamic_ncols=True)


def batch_bar(total: int, desc: str, enabled: bool = True) -> tqdm:
    """The inner bar of one pass: images done, images/s and the pass's ETA."""
    return tqdm(total=total, desc=desc, unit="img", leave=False, disable=None if enabled else True,
                dynamic_ncols=True)
