"""From loaded photos to the views the model sees (no Streamlit): refuse tiny photos, warn about
small ones, split 360-degree panoramas and wide photos (``model.data.views``), and say what was done.

Sizes are in pixels; the model's input side (``input_size``, 260 for the shipped model) sets how
much a view is enlarged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from app.common.photos import LoadedViews
from model.data.views import WIDE_ASPECT, GPano, read_gpano, size_problem, split_photo

MODE_LABELS = {"auto": "Automatic", "panorama": "360° panorama: 4 perspective views", "tiles": "Square tiles",
               "whole": "As is (centre square)"}


@dataclass
class Prepared:
    """The views given to the model (``images``, ``names``), with ``refused`` (a photo too small to
    predict: one message each), ``warnings`` (small views), ``notes`` (how photos were split) and
    ``kinds``, what was done to each photo kept."""

    images: list[Image.Image] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # per source photo: whole | tiles | panorama


def needs_split_choice(lv: LoadedViews) -> bool:
    """True when a photo is wide or tagged as a panorama: the page then offers the split modes."""
    for i, img in enumerate(lv.images):
        g = _gpano(lv.blobs[i] if i < len(lv.blobs) else None)
        if img.width / max(img.height, 1) > WIDE_ASPECT or (g is not None and g.equirectangular):
            return True
    return False


def _gpano(blob: bytes | None) -> GPano | None:
    try:
        return read_gpano(blob) if blob else None
    except Exception:  # noqa: BLE001 - metadata is optional; unreadable means absent
        return None


def prepare_views(lv: LoadedViews, input_size: int, mode: str = "auto") -> Prepared:
    """Views for the model from decoded photos ``lv`` (see :func:`model.data.views.split_photo` for ``mode``).

    A photo is refused when its short side (or, for a panorama, the detail across one view) is under
    ``model.data.views.MIN_SIDE`` px or would be enlarged more than ``REFUSE_UPSCALE`` times; the others
    are kept, with a warning when enlarged more than ``WARN_UPSCALE`` times.
    """
    out = Prepared()
    for i, (img, name) in enumerate(zip(lv.images, lv.names)):
        blob = lv.blobs[i] if i < len(lv.blobs) else None
        w, h = img.size
        first = size_problem(min(w, h), input_size, f"{name} ({w}x{h} px)")
        if first and first[0] == "refuse":
            out.refused.append(first[1])
            continue
        g = _gpano(blob)
        s = split_photo(img, name, mode=mode, gpano=g)
        what = {"panorama": f"{name}: each of its perspective views (the panorama holds {s.detail_px} px across one)",
                "tiles": f"{name}: each of its {s.detail_px}x{s.detail_px}-px tiles",
                "whole": f"{name} ({w}x{h} px)"}[s.kind]
        prob = size_problem(s.detail_px, input_size, what)
        if prob and prob[0] == "refuse":
            out.refused.append(prob[1])
            continue
        if prob:
            out.warnings.append(prob[1])
        if s.note:
            out.notes.append(s.note)
        out.images += s.views
        out.names += s.labels
        out.kinds.append(s.kind)
    return out
