"""Post-processing of collected images, as in the reference projects: crop the bottom band that
carries the "Google" watermark (and often the capture car), so a model cannot learn from it.

``bottom`` is a fraction of the height (``0.06``) or pixels (``"24px"`` or an int >= 1).
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd
from PIL import Image

from model.data.manifest import read_manifest, resolve_manifest, write_manifest

from .journal import atomic_write_bytes, atomic_write_text, is_complete_jpeg
from .lock import hold
from .outdir import check_out


def parse_bottom(spec: str | float | int | None) -> float | int | None:
    """``"0.06"`` -> 0.06 (fraction of the height), ``"24px"``/``"24"``/``24`` -> 24 (pixels),
    ``None``/``0`` -> None (no crop)."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    s = str(spec).strip().lower()
    try:
        v = float(s[:-2]) if s.endswith("px") else float(s)
    except ValueError:
        raise ValueError(f"bottom crop {spec!r}: use a fraction like 0.06 or pixels like 24px") from None
    if v == 0:
        return None
    if v < 0 or (v < 1 and (s.endswith("px") or v > 0.5)) or (v >= 1 and v != int(v)):
        raise ValueError(f"bottom crop {spec!r}: use a fraction up to 0.5 or a whole number of pixels")
    return v if v < 1 else int(v)


def bottom_pixels(height: int, bottom: float | int) -> int:
    """Rows to remove from an image ``height`` pixels tall."""
    px = round(height * bottom) if isinstance(bottom, float) else int(bottom)
    if not 0 <= px < height:
        raise ValueError(f"cannot crop {px} px from an image {height} px tall")
    return px


def crop_bottom(data: bytes, bottom: float | int, quality: int = 95) -> bytes:
    """JPEG bytes with the bottom band removed (re-encoded at ``quality``)."""
    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        px = bottom_pixels(im.height, bottom)
        if px == 0:
            return data
        out = io.BytesIO()
        im.crop((0, 0, im.width, im.height - px)).save(out, "JPEG", quality=quality)
        return out.getvalue()


def crop_manifest(manifest: str | Path, out_dir: str | Path, bottom: float | int) -> Path:
    """Copy every image of a manifest into ``out_dir/images`` with the bottom band cropped, and write
    ``out_dir/manifest.csv`` (same rows, new paths). The sources are never written; re-running with the
    same ``bottom`` keeps finished outputs (resumable); another ``bottom`` or another source manifest into
    the same folder, or a folder holding another data set, is refused; one run at a time writes it.

    Images under the manifest's folder keep their relative path; others (absolute paths, ``..``) get
    ``images/ext/<hash of the source path>_<name>``, so two sources never share an output file.
    """
    df = read_manifest(manifest)
    out_dir = Path(out_dir)
    source = str(resolve_manifest(manifest))
    if out_dir.resolve() == Path(source).parent:
        raise ValueError(f"--out {out_dir} is the manifest's own folder: choose a new folder for the cropped copy")
    with hold(out_dir):
        saved = check_out(out_dir, "crop")
        if saved is not None and saved.get("bottom") != bottom:
            raise ValueError(f"{out_dir} holds a copy cropped by {saved.get('bottom')}; "
                             f"use another --out for --bottom {bottom}")
        if saved is not None and saved.get("source") not in (None, source):
            raise ValueError(f"{out_dir} holds a cropped copy of {saved['source']}, not of {source}; "
                             "use another --out")
        atomic_write_text(out_dir / "crop.json", json.dumps({"bottom": bottom, "source": source}))
        return _crop_all(df, out_dir, bottom)


def _crop_all(df: pd.DataFrame, out_dir: Path, bottom: float | int) -> Path:
    images = (out_dir / "images").resolve()
    new_paths = []
    for src, rel in zip(df["path"], df["image"]):
        rel_p = Path(rel)
        if rel_p.is_absolute() or ".." in rel_p.parts:
            tag = hashlib.sha1(str(Path(src).resolve()).encode()).hexdigest()[:10]
            dst_rel = Path("images") / "ext" / f"{tag}_{rel_p.name}"
        else:
            dst_rel = Path("images") / (Path(*rel_p.parts[1:]) if rel_p.parts[0] == "images" else rel_p)
        dst = out_dir / dst_rel
        if not dst.resolve().is_relative_to(images) or dst.resolve() == Path(src).resolve():
            raise ValueError(f"{rel}: its cropped copy would not land inside {images}")
        if not is_complete_jpeg(dst):  # a whole copy from an earlier run is kept; a torn one is redone
            try:
                data = crop_bottom(Path(src).read_bytes(), bottom)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
                why = "not a readable image" if isinstance(e, Image.UnidentifiedImageError) else \
                    getattr(e, "strerror", None) or str(e)
                raise ValueError(f"{src}: cannot crop it ({why}); fix or remove its row ({rel}) in the manifest, then "
                                 "run the same command again (finished copies are kept)") from None
            atomic_write_bytes(dst, data, durable=False)
        new_paths.append(dst_rel.as_posix())
    out = df.drop(columns=["path"]).assign(image=new_paths)
    return write_manifest(pd.DataFrame(out), out_dir / "manifest.csv")
