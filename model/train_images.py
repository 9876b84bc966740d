"""Image-level training inputs for backbones trained end to end (``--mode full``, e.g. ``geocnn``).

Each batch decodes its images and applies the training augmentations (or the evaluation
transform for validation), so every epoch sees new crops, colours and perspectives.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from .images import ImageLoadError, open_image
from .transforms import crop_bottom, eval_transform, train_transform

log = logging.getLogger(__name__)


class ImageInputs:
    """Batches of image tensors ``(B, 3, S, S)`` for rows of a manifest; ``ok`` marks loadable rows."""

    pool = False

    def __init__(self, net, df: pd.DataFrame, args):
        bb = net.backbone
        self.paths = df["path"].tolist()
        self.crop = args.crop
        self.train_tf = train_transform(bb.input_size, bb.mean, bb.std)
        self.eval_tf = eval_transform(bb.input_size, bb.mean, bb.std)
        self.ok = np.ones(len(df), bool)
        for i, p in enumerate(self.paths):  # check every file once, report and skip bad ones
            try:
                open_image(p)
            except ImageLoadError as e:
                log.warning("skipping bad image: %s", e)
                self.ok[i] = False

    def fwd(self, net):
        return net.forward

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None) -> torch.Tensor:
        tf = self.train_tf if rng is not None else self.eval_tf
        return torch.stack([tf(crop_bottom(open_image(self.paths[i]), self.crop)) for i in idx])
