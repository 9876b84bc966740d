"""The project's own checkpoints answering photos: :class:`Predictor` (``from model.predict import Predictor``
keeps working; ``python -m model.predict`` is the command). It lives with the other predictors so that the
registry (:mod:`model.predictors.registry`) and the command both import it without a circle."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from model.data.images import open_image
from model.data.loader import transform_for
from model.data.transforms import check_crop, crop_bottom
from model.device import CPU, Runtime, app_device, resolve_device
from model.net.answer import PlaceAnswer, Prediction, answer_place, to_prediction
from model.net.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, load_gallery
from model.net.inference import cell_country_index


class Predictor:
    """A loaded checkpoint ready to answer. Thread-safe: one forward pass at a time per predictor.

    ``runtime``: the device and precision it runs on (:mod:`model.device`); the answers' arrays are
    float32 NumPy on the CPU whatever the device."""

    def __init__(self, net, cells, ck: dict, path: Path, runtime: Runtime = CPU):
        self.net, self.cells, self.ck, self.path, self.runtime = net, cells, ck, path, runtime
        runtime.place(net)
        pp = ck["preprocess"]
        self.input_size, self.mean, self.std, self.crop = pp["input_size"], tuple(pp["mean"]), tuple(pp["std"]), pp["crop"]
        self._tf = transform_for(net.backbone, train=False)  # the backbone's own resize mode and interpolation
        self.lock = threading.RLock()
        self._cidx = cell_country_index(cells.table)[1]
        self.gallery = load_gallery(ck)
        self.net.eval()

    @property
    def device(self) -> torch.device:
        return self.runtime.device

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | None = None, precision: str = "fp32") -> "Predictor":
        """Load a checkpoint (default: ``assets/models/default.pt``) onto ``device`` (auto|cpu|cuda|mps;
        default ``$GEOLOC_DEVICE``, else the CPU: the app stays on the CPU unless told otherwise), running
        in ``precision`` (fp32 by default; bf16/fp16 autocast)."""
        p = Path(path) if path else DEFAULT_CHECKPOINT
        dev = resolve_device(device) if device else app_device()
        rt = Runtime(dev, precision)
        net, cells, ck = load_checkpoint(p)
        return cls(net, cells, ck, p, rt)

    @property
    def meta(self) -> dict:
        """Backbone, cells, preprocessing, training config, metrics and versions of the checkpoint."""
        return {"backbone": self.ck["backbone"], "cell_scheme": self.cells.scheme, "n_cells": len(self.cells),
                "crop": self.crop, "input_size": self.input_size, "config": self.ck["config"],
                "metrics": self.ck["metrics"], "versions": self.ck["versions"], "path": str(self.path),
                "gallery": self.ck.get("extra", {}).get("gallery") if self.gallery is not None else None}

    @property
    def train_groups(self) -> set[str]:
        """Location groups the model was trained or selected on (never show them as held-out)."""
        ex = self.ck.get("extra", {})
        return set(ex.get("train_groups", [])) | set(ex.get("val_groups", []))

    def preprocess(self, img: Image.Image, crop: float | None = None) -> torch.Tensor:
        """PIL image -> model input (3, S, S), with the bottom band cropped (``crop`` None: the model's own)."""
        return self._tf(crop_bottom(img.convert("RGB"), self.crop if crop is None else crop))

    def outputs(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        """Network outputs for a batch (B, 3, S, S): logits (B, C), offset (B, C, 2) | xyz (B, 3), embed (B, H)
        (float32 NumPy arrays on the CPU)."""
        rt = self.runtime
        with self.lock, torch.inference_mode(), rt.autocast():
            o = self.net(rt.to_device(x.contiguous(memory_format=torch.channels_last)))
        return {k: v.float().cpu().numpy() for k, v in o.items()}

    def predict(self, images, top_k: int = 5, crop: float | None = None) -> Prediction:
        """Answer for one image or a list of views of one place (paths, bytes or PIL images)."""
        imgs = images if isinstance(images, (list, tuple)) else [images]
        if not imgs:
            raise ValueError("no image given")
        pil = [im if isinstance(im, Image.Image) else open_image(im) for im in imgs]
        c = self.crop if crop is None else check_crop(crop)
        x = torch.stack([self.preprocess(im, c) for im in pil])
        a = answer_place(self.outputs(x), self.cells.table, self._cidx, self.gallery)
        return self.prediction(a, top_k, len(pil), c)

    def prediction(self, a: PlaceAnswer, top_k: int = 5, n_views: int = 1, crop: float = 0.0) -> Prediction:
        """The :class:`Prediction` of a per-place answer (:func:`model.net.answer.answer_place`)."""
        return to_prediction(a, self.cells.table, top_k, n_views, crop)

    # -- for explanations ------------------------------------------------------------------
    def cell_logits_model(self) -> torch.nn.Module:
        """A module mapping images (B, 3, S, S) to cell logits (B, C) (for Grad-CAM)."""
        return _LogitsOnly(self.net)

    def gradcam_layer(self) -> torch.nn.Module:
        """Grad-CAM's target layer: the backbone's own choice (the last map of a CNN, the last block's
        first norm of a ViT), else its last convolutional layer."""
        bb = self.net.backbone
        if hasattr(bb, "gradcam_layer"):
            return bb.gradcam_layer()
        if hasattr(bb, "net") and hasattr(bb.net, "_conv_head"):
            return bb.net._bn1
        convs = [m for m in bb.modules() if isinstance(m, torch.nn.Conv2d)]
        return convs[-1]

    def gradcam_reshape(self):
        """Grad-CAM's ``reshape_transform`` for :meth:`gradcam_layer` (ViT tokens -> map), None for CNNs."""
        fn = getattr(self.net.backbone, "gradcam_reshape", None)
        return fn() if fn is not None else None


class _LogitsOnly(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)["logits"]


