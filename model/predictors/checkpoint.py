"""The project's own checkpoints as predictors: :class:`model.predict.Predictor` (unchanged) with the
protocol's name, licence and ``file_outputs``."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.evaluation.outputs import network_outputs
from .predictor import Predictor

# backbone entry (prefix) -> the licence of its pretrained weights, which a checkpoint inherits
_BACKBONE_LICENCES = {
    "streetclip": "CC BY-NC 4.0 (StreetCLIP backbone): non-commercial use only",
    "clip_": "MIT (OpenAI CLIP backbone weights)",
    "dinov2": "Apache-2.0 (DINOv2 backbone weights)",
    "siglip": "Apache-2.0 (SigLIP backbone weights)",
    "efficientnet": "Apache-2.0 (EfficientNet-Lite ImageNet weights)",
    "lite": "Apache-2.0 (EfficientNet-Lite ImageNet weights)",
}


def checkpoint_licence(backbone: str, pretrained: bool = True) -> str:
    """The licence words of a checkpoint on ``backbone``: its pretrained weights' terms (random weights: none),
    and a reminder that the training data's terms apply too."""
    tail = "; the terms of the data it was trained on apply too"
    if not pretrained:
        return "no third-party weights (random start)" + tail
    for k, v in _BACKBONE_LICENCES.items():
        if backbone.lower().startswith(k) or k in backbone.lower():
            return v + tail
    return f"the licence of the {backbone} weights" + tail


class CheckpointPredictor(Predictor):
    """A :class:`model.predict.Predictor` that also states ``name`` and ``licence`` (the protocol of
    :mod:`model.predictors.base`); answers, outputs and Grad-CAM are the Predictor's own."""

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def licence(self) -> str:
        cfg = self.ck.get("config", {})
        return checkpoint_licence(str(self.ck.get("backbone", "")),
                                  bool(self.ck.get("pretrained", cfg.get("pretrained", True))))

    def file_outputs(self, paths: Sequence[str]) -> dict[str, np.ndarray]:
        """Network outputs of image files with ``ok`` (N,) (what the evaluation runs, no feature cache)."""
        return network_outputs(self.net, self.ck, list(paths), cache=None, runtime=self.runtime)
