"""Image preprocessing and training augmentations (PIL -> normalised tensors).

Geolocation-aware: no horizontal flips (they swap the driving side, a real cue). The optional
bottom crop removes the band where the capture car and the "Google" watermark sit.
"""
from __future__ import annotations

import math

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


RESIZE_MODES = ("shortest", "squash")
_INTERP = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
           "nearest": T.InterpolationMode.NEAREST}


def _interp(name: str) -> T.InterpolationMode:
    if name not in _INTERP:
        raise ValueError(f"interpolation must be one of {sorted(_INTERP)}, got {name!r}")
    return _INTERP[name]


def eval_transform(size: int, mean, std, *, resize: str = "shortest", interpolation: str = "bilinear",
                   crop_pct: float = 1.0) -> T.Compose:
    """Model input (3, size, size) of a PIL image.

    ``resize="shortest"``: the short side to ``size / crop_pct``, then the centre ``size`` x ``size``
    (CLIP, DINOv2, timm's ``center``); ``"squash"``: the whole image to a ``size / crop_pct`` square
    (aspect ratio not kept), then the centre square (SigLIP, timm's ``squash``). ``interpolation``:
    bilinear (today's default), bicubic or nearest; antialiased.
    """
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    scaled = int(math.floor(size / float(crop_pct) + 1e-6))
    target = scaled if resize == "shortest" else (scaled, scaled)
    return T.Compose([T.ToImage(), T.Resize(target, interpolation=_interp(interpolation), antialias=True),
                      T.CenterCrop(size), T.ToDtype(torch.float32, scale=True), T.Normalize(mean, std)])


class SquashRandomResizedCrop(torch.nn.Module):
    """RandomResizedCrop for squash-resize models: the crop's aspect ratio is the image's times a
    random ``ratio``, so after squashing to ``size`` x ``size`` the picture is as distorted as at
    evaluation (where the whole image is squashed). PIL image -> PIL image."""

    def __init__(self, size: int, scale: tuple[float, float], ratio: tuple[float, float], interpolation: str):
        super().__init__()
        self.size, self.scale, self.ratio, self.interpolation = size, scale, ratio, _interp(interpolation)

    def forward(self, img: Image.Image) -> Image.Image:
        from torchvision.transforms import RandomResizedCrop
        from torchvision.transforms.functional import resized_crop

        aspect = img.width / max(1, img.height)
        top, left, h, w = RandomResizedCrop.get_params(img, list(self.scale),
                                                       [r * aspect for r in self.ratio])
        return resized_crop(img, top, left, h, w, [self.size, self.size], self.interpolation, antialias=True)


def train_transform(size: int, mean, std, strength: float = 1.0, *, resize: str = "shortest",
                    interpolation: str = "bilinear") -> T.Compose:
    """Augmentations of the reference projects: random crop of a larger patch then resize,
    colour jitter, greyscale, random perspective and rotation. Output (3, size, size).
    ``resize="squash"`` keeps the squash of the evaluation transform (:class:`SquashRandomResizedCrop`)."""
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    s = strength
    scale, ratio = (max(0.35, 1 - 0.55 * s), 1.0), (0.8, 1.25)
    crop = SquashRandomResizedCrop(size, scale, ratio, interpolation) if resize == "squash" else \
        T.RandomResizedCrop(size, scale=scale, ratio=ratio, interpolation=_interp(interpolation), antialias=True)
    return T.Compose([
        *([crop] if resize == "squash" else []),
        T.ToImage(),
        *([] if resize == "squash" else [crop]),
        T.RandomApply([T.ColorJitter(0.3 * s, 0.3 * s, 0.25 * s, 0.03 * s)], p=0.8),
        T.RandomGrayscale(p=0.1 * s),
        T.RandomPerspective(distortion_scale=0.15 * s, p=0.3),
        T.RandomRotation(degrees=5 * s),
        T.ToDtype(torch.float32, scale=True), T.Normalize(mean, std),
    ])


def for_backbone(bb, train: bool = False, strength: float = 1.0) -> T.Compose:
    """The transform of backbone ``bb`` (PIL image -> tensor (3, S, S)) from its preprocessing
    attributes (``input_size``, ``mean``, ``std``, ``resize``, ``interpolation``, ``crop_pct``; set by
    ``model.net.backbones.create_model`` and restored by ``load_checkpoint``); missing ones take today's
    defaults. ``train``: the training augmentations at ``strength``."""
    kw = {"resize": getattr(bb, "resize", "shortest"), "interpolation": getattr(bb, "interpolation", "bilinear")}
    if train:
        return train_transform(bb.input_size, bb.mean, bb.std, strength, **kw)
    return eval_transform(bb.input_size, bb.mean, bb.std, crop_pct=getattr(bb, "crop_pct", 1.0), **kw)
