"""Grad-CAM explanations (pytorch-grad-cam) and a shortcut readout; no Streamlit.

What the model looked at, for a chosen target: a geographic cell (the predicted one or any top-N
guess) or a whole country (logsumexp of the logits of that country's cells). The readout measures
the share of the heat in the bottom band of the model's view (capture car, "Google" watermark) and
along its other edges (game UI: compass, score box, minimap), next to the share of the area those
regions cover, so "twice its area" reads as "the model leans on it".

Thread safety: Grad-CAM hooks the shared model's target layer, so every use of a shared model (this
module's :func:`explain` and the app's predictions) must hold :func:`model.locks.model_lock` of that model.

Gradients: a hook on the target layer returns its output detached and marked ``requires_grad``, so
the backward pass stops there: Grad-CAM works through a frozen backbone (no input gradient needed)
and costs little more than one forward pass.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from .locks import model_lock
from .data.transforms import crop_bottom, eval_transform

BOTTOM_BAND = 0.15   # fraction of the view's height treated as the bottom band
EDGE_BAND = 0.10     # fraction of the view's width/height treated as the edge frame (top, left, right)
HIDE_BOTTOM = 0.25   # bottom fraction of the photo hidden by "hide the bottom band and predict again"
HIDE_EDGES = 0.12    # frame fraction greyed out by "hide the UI and predict again"

class CountryTarget:
    """Grad-CAM target: logsumexp of the logits of a set of cells (e.g. all cells of one country)."""

    def __init__(self, cell_ids: Sequence[int]):
        if len(cell_ids) == 0:
            raise ValueError("CountryTarget needs at least one cell")
        self.idx = torch.as_tensor(list(cell_ids), dtype=torch.long)

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(model_output[..., self.idx], dim=-1)


class CellTarget:
    """Grad-CAM target: the logit of one cell."""

    def __init__(self, cell_id: int):
        self.cell_id = int(cell_id)

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        return model_output[..., self.cell_id]


@dataclass(frozen=True)
class ShortcutReadout:
    """Share of the Grad-CAM heat (0..1) in the bottom band and in the edge frame of the model's view,
    and the share of the view's area they cover (what uniform heat would give)."""

    bottom_share: float
    edge_share: float
    bottom_area: float
    edge_area: float

    @property
    def bottom_ratio(self) -> float:
        """Heat share over area share of the bottom band (1 = no preference, 2 = twice its share)."""
        return self.bottom_share / max(self.bottom_area, 1e-9)

    @property
    def edge_ratio(self) -> float:
        """Heat share over area share of the edge frame."""
        return self.edge_share / max(self.edge_area, 1e-9)

    def flags(self, ratio: float = 1.5, min_share: float = 0.25) -> list[str]:
        """Plain-language warnings where a region draws ``ratio`` times its area share and at least
        ``min_share`` of the heat."""
        out = []
        if self.bottom_ratio >= ratio and self.bottom_share >= min_share:
            out.append(f"{self.bottom_share:.0%} of the heat sits in the bottom band ({self.bottom_area:.0%} of "
                       "the picture): the capture car or the watermark may be doing the work.")
        if self.edge_ratio >= ratio and self.edge_share >= min_share:
            out.append(f"{self.edge_share:.0%} of the heat sits at the edges ({self.edge_area:.0%} of the "
                       "picture): game UI (compass, minimap, score box) may be doing the work.")
        return out


def band_masks(h: int, w: int, bottom: float = BOTTOM_BAND, edge: float = EDGE_BAND) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (h, w): the bottom band, and the edge frame (top, left, right) outside it."""
    b = np.zeros((h, w), bool)
    nb = int(round(h * bottom))
    if nb > 0:
        b[h - nb:, :] = True
    e = np.zeros((h, w), bool)
    ne_y, ne_x = int(round(h * edge)), int(round(w * edge))
    if ne_y > 0:
        e[:ne_y, :] = True
    if ne_x > 0:
        e[:, :ne_x] = True
        e[:, w - ne_x:] = True
    e &= ~b
    return b, e


def shortcut_readout(cam: np.ndarray, bottom: float = BOTTOM_BAND, edge: float = EDGE_BAND) -> ShortcutReadout:
    """Heat shares of a non-negative CAM (h, w) in the bottom band and the edge frame (see
    :func:`band_masks`). An all-zero CAM counts as uniform."""
    cam = np.asarray(cam, dtype=np.float64)
    if cam.ndim != 2:
        raise ValueError(f"cam must be 2-D, got shape {cam.shape}")
    cam = np.clip(np.nan_to_num(cam), 0, None)
    b, e = band_masks(*cam.shape, bottom=bottom, edge=edge)
    total = cam.sum()
    if total <= 0:
        cam, total = np.ones_like(cam), float(cam.size)
    return ShortcutReadout(bottom_share=float(cam[b].sum() / total), edge_share=float(cam[e].sum() / total),
                           bottom_area=float(b.mean()), edge_area=float(e.mean()))


def view_box(width: int, height: int, crop: float) -> tuple[int, int, int, int]:
    """Region (left, top, right, bottom) in pixels of a ``width`` x ``height`` photo that the model
    sees: the bottom ``crop`` fraction is removed, then the centre square is taken."""
    h = max(1, int(round(height * (1.0 - crop)))) if crop > 0 else height
    s = min(width, h)
    left = (width - s) // 2
    top = (h - s) // 2
    return left, top, left + s, top + s


def hide_edges(img: Image.Image, crop: float, frac: float = HIDE_EDGES) -> Image.Image:
    """Copy of ``img`` with a frame of ``frac`` of the model's view (top, left, right and bottom edges)
    painted in the photo's mean colour: hides game UI before predicting again."""
    out = img.copy()
    left, top, right, bottom = view_box(img.width, img.height, crop)
    s = right - left
    d = max(1, int(round(s * frac)))
    mean = tuple(int(v) for v in np.asarray(img).reshape(-1, 3).mean(0))
    for box in ((left, top, right, top + d), (left, bottom - d, right, bottom),
                (left, top, left + d, bottom), (right - d, top, right, bottom)):
        out.paste(mean, box)
    return out


@dataclass
class Explanation:
    """Grad-CAM result for one or more views of one place."""

    cams: list[np.ndarray]                      # per view: (S, S) float32 in 0..1 over the model's view
    boxes: list[tuple[int, int, int, int]]      # per view: the photo region the model saw (pixels)
    readouts: list[ShortcutReadout]             # per view
    target: str                                 # what was explained, in words
    seconds: float = 0.0                        # wall time of the Grad-CAM call
    extra: dict = field(default_factory=dict)


def default_crop(predictor: Any) -> float:
    """The bottom-crop fraction the checkpoint was trained with (0 if it does not say)."""
    meta = getattr(predictor, "meta", {}) or {}
    for k in ("crop",):
        if k in meta and meta[k] is not None:
            return float(meta[k])
    pre = meta.get("preprocess", {}) if isinstance(meta.get("preprocess"), dict) else {}
    return float(pre.get("crop", 0.0) or 0.0)


def model_inputs(images: Sequence[Image.Image], size: int, mean, std, crop: float) -> torch.Tensor:
    """Batch (B, 3, size, size): bottom ``crop`` removed, short side resized, centre square, normalised."""
    tf = eval_transform(size, mean, std)
    return torch.stack([tf(crop_bottom(im, crop)) for im in images])


def gradcam(model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor, targets: list,
            reshape_transform=None) -> np.ndarray:
    """Grad-CAM maps (B, H, W) in 0..1 for input ``x`` (B, 3, H, W) and one target callable per row.

    ``model`` must return a tensor of logits. ``reshape_transform`` maps the layer's output to
    ``(B, C, h, w)`` (ViT tokens, see ``model.net.backbones.blocks.TokenReshape``; None for a CNN map).
    The caller holds the model's lock.
    """
    from pytorch_grad_cam import GradCAM

    def _grad_entry(_m, _inp, out):
        return out.detach().requires_grad_(True)

    handle = layer.register_forward_hook(_grad_entry)  # registered first: GradCAM's hooks see its output
    try:
        with torch.enable_grad(), GradCAM(model=model, target_layers=[layer],
                                          reshape_transform=reshape_transform) as cam:
            maps = cam(input_tensor=x, targets=targets)
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    return np.asarray(maps, dtype=np.float32)


def _country_cells(predictor: Any, code: str) -> list[int]:
    table = predictor.cells.table
    ids = np.flatnonzero(table["country_code"].astype(str).str.upper().to_numpy() == code.upper())
    return [int(i) for i in ids]


def explain(predictor: Any, images: Image.Image | Sequence[Image.Image], target: tuple[str, Any],
            crop: float | None = None) -> Explanation:
    """Grad-CAM of ``predictor`` (a ``model.predict.Predictor``) on the views of one place.

    ``target``: ``("cell", cell_id)`` or ``("country", "FR")``. ``crop``: bottom fraction hidden
    (None = the checkpoint's own). Holds the predictor's lock for the whole call.
    """
    views = [images] if isinstance(images, Image.Image) else list(images)
    if not views:
        raise ValueError("no image to explain")
    crop = default_crop(predictor) if crop is None else float(crop)
    kind, value = target
    if kind == "cell":
        tgt: Any = CellTarget(int(value))
        row = predictor.cells.table.iloc[int(value)]
        words = f"cell {row.get('name', value)}"
    elif kind == "country":
        cells = _country_cells(predictor, str(value))
        if not cells:
            raise ValueError(f"the model has no cell in country {value!r}")
        tgt = CountryTarget(cells)
        words = f"country {value}"
    else:
        raise ValueError(f"target kind must be 'cell' or 'country', got {kind!r}")
    if hasattr(predictor, "preprocess"):
        x = torch.stack([predictor.preprocess(v, crop) for v in views])
    else:
        x = model_inputs(views, predictor.input_size, predictor.mean, predictor.std, crop)
    t0 = time.perf_counter()
    with model_lock(predictor):
        reshape = predictor.gradcam_reshape() if hasattr(predictor, "gradcam_reshape") else None
        maps = gradcam(predictor.cell_logits_model(), predictor.gradcam_layer(), x, [tgt] * len(views), reshape)
    secs = time.perf_counter() - t0
    boxes = [view_box(v.width, v.height, crop) for v in views]
    return Explanation(cams=list(maps), boxes=boxes, readouts=[shortcut_readout(m) for m in maps],
                       target=words, seconds=secs, extra={"crop": crop})


def _jet(v: np.ndarray) -> np.ndarray:
    """Jet colour map of values in 0..1 -> float RGB (..., 3) in 0..1."""
    v = np.clip(v, 0.0, 1.0)
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return np.stack([r, g, b], axis=-1)


def colour_scale_css(steps: int = 9) -> str:
    """The CSS ``linear-gradient`` of the overlay's colour map (:func:`_jet`), low (0, left) to high (1, right):
    the colour scale shown beside a Grad-CAM overlay."""
    stops = []
    for i in range(steps):
        v = i / (steps - 1)
        r, g, b = (int(round(c * 255)) for c in _jet(np.array([v]))[0])
        stops.append(f"rgb({r},{g},{b}) {v:.0%}")
    return "linear-gradient(to right, " + ", ".join(stops) + ")"


def overlay(img: Image.Image, cam: np.ndarray, box: tuple[int, int, int, int], opacity: float = 0.5,
            max_side: int = 900) -> Image.Image:
    """The photo with the CAM (over ``box``) blended in at ``opacity`` (0..1); the parts the model did
    not see are dimmed. The result's longer side is at most ``max_side`` pixels."""
    scale = min(1.0, max_side / max(img.size))
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    base = np.asarray(img.convert("RGB").resize((w, h), Image.BILINEAR), dtype=np.float32) / 255.0
    l, t, r, b = (int(round(c * scale)) for c in box)
    r, b = max(r, l + 1), max(b, t + 1)
    heat = np.asarray(Image.fromarray(np.uint8(np.clip(cam, 0, 1) * 255)).resize((r - l, b - t), Image.BILINEAR),
                      dtype=np.float32) / 255.0
    out = base * 0.35  # unseen parts dimmed
    a = float(np.clip(opacity, 0.0, 1.0))
    region = base[t:b, l:r]
    out[t:b, l:r] = (1 - a) * region + a * _jet(heat)[: region.shape[0], : region.shape[1]]
    return Image.fromarray(np.uint8(np.clip(out, 0, 1) * 255))


def warm_up(predictor: Any) -> float:
    """Run one prediction and one Grad-CAM on a blank image so the first user does not pay for
    imports and first-call set-up. Returns the seconds spent."""
    t0 = time.perf_counter()
    img = Image.new("RGB", (predictor.input_size, predictor.input_size), (128, 128, 128))
    pred = predictor.predict(img, top_k=1)
    explain(predictor, img, ("cell", int(pred.top[0].cell_id)))  # top[0]: M's cell
    return time.perf_counter() - t0
