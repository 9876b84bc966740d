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

    @property
    def nbytes(self) -> int:
        """Bytes of the views' pixels."""
        return sum(im.width * im.height * len(im.getbands()) for im in self.images)


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
        w, h = lv.sizes[i] if i < len(lv.sizes) else img.size  # the file's own size (it may be decoded reduced)
        scale = w / max(img.width, 1)
        first = size_problem(min(img.size) * scale, input_size, f"{name} ({w}x{h} px)")
        if first and first[0] == "refuse":
            out.refused.append(first[1])
            continue
        g = _gpano(blob)
        s = split_photo(img, name, mode=mode, gpano=g)
        detail = round(s.detail_px * scale)  # in the file's own pixels
        what = {"panorama": f"{name}: each of its perspective views (the panorama holds {detail} px across one)",
                "tiles": f"{name}: each of its {detail}x{detail}-px tiles",
                "whole": f"{name} ({w}x{h} px)"}[s.kind]
        prob = size_problem(detail, input_size, what)
        if prob and prob[0] == "refuse":
            out.refused.append(prob[1])
            continue
        if prob:
            out.warnings.append(prob[1])
        if s.note:
            out.notes.append(_own_size(s.note, img.size, (w, h)))
        out.images += s.views
        out.names += s.labels
        out.kinds.append(s.kind)
    return out


def _own_size(note: str, decoded: tuple[int, int], own: tuple[int, int]) -> str:
    """A split note that states the file's own size, not the reduced size it was decoded at."""
    if decoded == own:
        return note
    dw, dh = decoded
    return note.replace(f"({dw}x{dh}", f"({own[0]}x{own[1]}", 1).replace(f"{dh}x{dh} px", f"{own[1]}x{own[1]} px")
