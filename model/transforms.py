"""Image preprocessing and training augmentations (PIL -> normalised tensors).

Geolocation-aware: no horizontal flips (they swap the driving side, a real cue). The optional
bottom crop removes the band where the capture car and the "Google" watermark sit.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2 as T


MAX_CROP = 0.5


def check_crop(fraction: float) -> float:
    """``fraction`` as a float if it is a valid bottom crop (0 <= f <= 0.5), else ValueError."""
    f = float(fraction)
    if not 0.0 <= f <= MAX_CROP:  # also rejects NaN
        raise ValueError(f"bottom crop must be between 0 and {MAX_CROP} of the image height, got {fraction}")
    return f


def crop_arg(text: str) -> float:
    """argparse type for ``--crop``: a fraction 0..0.5 with a clear message otherwise."""
    import argparse

    try:
        return check_crop(float(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def crop_bottom(img: Image.Image, fraction: float) -> Image.Image:
    """Remove the bottom ``fraction`` (0..0.5, else ValueError) of the image height."""
    if check_crop(fraction) == 0:
        return img
    w, h = img.size
    return img.crop((0, 0, w, max(1, int(round(h * (1.0 - fraction))))))


def eval_transform(size: int, mean, std) -> T.Compose:
    """Resize the short side to ``size`` and centre-crop ``size`` x ``size``; tensor (3, size, size)."""
    return T.Compose([T.ToImage(), T.Resize(size, antialias=True), T.CenterCrop(size),
                      T.ToDtype(torch.float32, scale=True), T.Normalize(mean, std)])


def train_transform(size: int, mean, std, strength: float = 1.0) -> T.Compose:
    """Augmentations of the reference projects: random crop of a larger patch then resize,
    colour jitter, greyscale, random perspective and rotation. Output (3, size, size)."""
    s = strength
    return T.Compose([
        T.ToImage(),
        T.RandomResizedCrop(size, scale=(max(0.35, 1 - 0.55 * s), 1.0), ratio=(0.8, 1.25), antialias=True),
        T.RandomApply([T.ColorJitter(0.3 * s, 0.3 * s, 0.25 * s, 0.03 * s)], p=0.8),
        T.RandomGrayscale(p=0.1 * s),
        T.RandomPerspective(distortion_scale=0.15 * s, p=0.3),
        T.RandomRotation(degrees=5 * s),
        T.ToDtype(torch.float32, scale=True), T.Normalize(mean, std),
    ])


def to_numpy_image(t: torch.Tensor, mean, std) -> np.ndarray:
    """Undo normalisation: tensor (3, H, W) -> float RGB array (H, W, 3) in 0..1 (for overlays)."""
    m = torch.tensor(mean).view(3, 1, 1)
    s = torch.tensor(std).view(3, 1, 1)
    return (t * s + m).clamp(0, 1).permute(1, 2, 0).numpy()
