"""Your own photos as a data set: ``python -m model.collect photos SRC --out DIR``.

``SRC`` is a folder (read recursively) or a ``.zip`` of photos: JPEG, PNG, WebP, and HEIC/HEIF (through
``pi-heif``, :mod:`model.data.photofiles`). One manifest row per photo:

* ``lat``/``lon`` from its EXIF GPS tags, ``date`` when it was taken (EXIF DateTimeOriginal, ISO 8601),
  ``country_code``/``country``/``admin1`` by offline reverse geocoding, ``gps`` how the position was
  found (``exif``, ``none``, ``unusable: <why>``), ``sample_id`` its path inside SRC;
* a photo without a usable position is kept **unlabelled** (no lat/lon/country: predict and map only),
  named when its GPS is broken, and counted in the summary;
* each photo is its own location; photos within 1 km share a ``group_id`` (:mod:`.groups`);
* ``split`` is ``test`` unless ``--split`` says otherwise (a name or grouped fractions, as the other
  importers take it): these are places to play and evaluate on, not to train on.

**What is served gives nothing away**: every photo is decoded, turned upright by its EXIF orientation,
converted to sRGB by its ICC profile, and re-encoded as a new JPEG (quality 95) without any EXIF, XMP,
IPTC, ICC or comment segment, which is checked on the written bytes (:mod:`model.data.metadata`). PNG
and WebP become JPEG too: one format means one completeness check on resume and byte-for-byte shard
storage, and no format-specific metadata chunk (PNG ``eXIf``/``iTXt``, WebP ``EXIF``/``XMP``) can survive.

Files are ``images/<SHA-256 of the original bytes>.jpg`` (``location_id`` = the hash's first 16 digits),
so the same bytes twice are one photo (the repeat is named and skipped) and a re-run reuses every
complete file (resume: an interrupted import loses nothing, the same command goes on). Unreadable,
oversized, unsupported and corrupt files are named and skipped (:mod:`.skips`, ``skipped.csv``); a zip
is checked against zip-slip and zip bombs first (:mod:`model.data.archives`). The folder is locked
(:mod:`.lock`) and stamped ``import.json`` (:mod:`.outdir`): one writer, no mixing with another data set.
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from model.data.archives import Entry, open_files
from model.data.images import MAX_BYTES, ImageLoadError, open_image
from model.data.manifest import COLUMNS, write_manifest
from model.data.metadata import metadata_found
from model.data.photofiles import HEIF_HINT, heif_available, image_kind, is_photo_name, read_photo_exif
from model.parallel import ordered_map

from .groups import group_ids, grouped_split
from .hf_samples import fill_labels
from .huggingface import split_setting
from .journal import atomic_write_bytes, is_complete_jpeg
from .lock import hold
from .outdir import prepare_import, write_import_stamp
from .skips import Skips, stderr_line

QUALITY = 95
Progress = Callable[[int, int, str], None]  # (photos done, photos in all, the photo's name)


class PhotoImportError(ValueError):
    """A photo source that cannot be imported at all, with the reason."""


@dataclass
class PhotoImport:
    """What an import did. ``manifest``: the rows written; counts are photos (files)."""

    out: Path
    manifest: pd.DataFrame
    found: int                      # photo files in SRC (by extension)
    with_gps: int
    unlabelled: int
    skips: Skips
    ignored: dict[str, int] = field(default_factory=dict)   # files that are not photos, by extension
    notes: list[str] = field(default_factory=list)          # zip names made safe, ...

    @property
    def countries(self) -> int:
        return int(self.manifest["country_code"].replace("", None).nunique())

    def text(self) -> str:
        """The summary a person reads: counts, what unlabelled means, skips, what was ignored."""
        lines = [(f"{len(self.manifest):,} photos -> {self.out / 'manifest.csv'}: {self.with_gps:,} with GPS "
                  f"({self.countries} countries), {self.unlabelled:,} unlabelled.")]
        if self.unlabelled:
            none = int((self.manifest["gps"] == "none").sum())
            lines.append(f"Unlabelled photos ({none:,} without GPS in EXIF, {self.unlabelled - none:,} with unusable "
                         "GPS) have no position or country: they can be predicted and mapped, not played or scored.")
        if not self.with_gps:
            lines.append("No photo has a usable GPS position: Play and evaluation need positions (phones record "
                         "them when location is on for the camera).")
        if len(self.skips):
            lines.append(f"{self.skips.summary(self.found)} Listed in skipped.csv beside the manifest.")
        if self.ignored:
            lines.append(f"Ignored {sum(self.ignored.values()):,} files that are not photos ("
                         + ", ".join(f"{n:,} {ext}" for ext, n in sorted(self.ignored.items(), key=lambda x: -x[1])) + ").")
        return "\n".join(lines)


def import_photos(src: str | os.PathLike, out: str | os.PathLike, *, split: str | tuple[float, float, float] | None = None,
                  seed: int = 0, source: str | None = None, max_side: int | None = None, workers: int | None = None,
                  progress: Progress | None = None, log: Callable[[str], None] | None = stderr_line) -> PhotoImport:
    """Import the photos of folder or zip ``src`` into ``out`` (see the module doc) and return the summary.

    ``split``: a split name for every row or (train, val, test) fractions; None keeps the folder's
    recorded split, else ``test``. ``max_side``: shrink photos whose longer side exceeds it (pixels;
    None keeps the size). ``workers``: threads decoding and encoding (default: up to 4 cores).
    ``progress(done, total, name)`` is called after each photo. Raises :class:`PhotoImportError`,
    :class:`~model.data.archives.ArchiveError`, :class:`~.outdir.OutFolderError`, :class:`~.lock.FolderBusy`."""
    src_path, out = Path(src).expanduser().resolve(), Path(out).expanduser()
    if out.resolve() == src_path:
        raise PhotoImportError(f"--out {out} is the photo folder itself: choose a separate folder for the data set")
    with open_files(src_path, is_photo_name, exclude=out) as files:  # every check on SRC before the folder is touched
        if not files.entries:
            raise PhotoImportError(f"no photos in {src_path} (looked for {', '.join(_EXTS)} files"
                                   + (f"; found {len(files.ignored):,} other files" if files.ignored else "") + ")")
        with hold(out):
            fixed = prepare_import(out, "photos", {"src": str(src_path), "split": split_setting(split) if split else None,
                                                   "max_side": max_side})
            if fixed["split"] is None:
                fixed["split"] = "test"
            write_import_stamp(out, "photos", fixed)
            for note in files.notes if log else ():
                log(f"note: {note}")
            rows, skips = _import_all(files.entries, out, max_side, workers, progress, Skips(log))
            skips.write(out)
            if not rows:
                raise PhotoImportError(f"none of the {len(files.entries):,} photos in {src_path} could be imported "
                                       f"({skips.summary(len(files.entries))})")
            df = _manifest(rows, source or "photos", fixed["split"], seed)
            write_manifest(df, out / "manifest.csv")
        ignored: dict[str, int] = {}
        for name, why in files.ignored:
            if why == "not wanted":
                ext = Path(name).suffix.lower() or "(no extension)"
                ignored[ext] = ignored.get(ext, 0) + 1
        with_gps = int(df["lat"].notna().sum())
        return PhotoImport(out, df, len(files.entries), with_gps, len(df) - with_gps, skips, ignored, files.notes)


_EXTS = ("JPEG", "PNG", "WebP", "HEIC")


def _import_all(entries: list[Entry], out: Path, max_side: int | None, workers: int | None,
                progress: Progress | None, skips: Skips) -> tuple[list[dict], Skips]:
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    seen: dict[str, str] = {}  # SHA-256 -> the photo that had it first
    rows: list[dict] = []
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    for k, (entry, res) in enumerate(ordered_map(lambda e: _one(e, images, max_side), entries, workers), start=1):
        if isinstance(res, tuple):
            skips.add(entry.name, *res)
        elif res["digest"] in seen:
            skips.add(entry.name, "duplicate image", f"same bytes as {seen[res['digest']]}")
        else:
            seen[res["digest"]] = entry.name
            if res["gps"].startswith("unusable") and skips.log:
                skips.log(f"{entry.name}: GPS {res['gps']}: imported unlabelled")
            rows.append(res)
        if progress:
            progress(k, len(entries), entry.name)
    return rows, skips


def _one(entry: Entry, images: Path, max_side: int | None) -> dict | tuple[str, str]:
    """One photo: its manifest row (image written or reused), or ``(reason, detail)`` to skip it."""
    if entry.size > MAX_BYTES:
        return "too large", f"{entry.size / 2**20:,.0f} MB; the limit is {MAX_BYTES // 2**20} MB"
    try:
        data = entry.read()
    except (OSError, ValueError) as e:
        return "unreadable file", str(e).split(": ", 1)[-1]
    kind = image_kind(data)
    if kind not in ("JPEG", "PNG", "WebP", "HEIF"):
        return "not JPEG, PNG, WebP or HEIC", kind
    if kind == "HEIF" and not heif_available():
        return "HEIC needs a HEIF decoder", HEIF_HINT
    digest = hashlib.sha256(data).hexdigest()
    exif = read_photo_exif(data)
    rel = f"images/{digest[:24]}.jpg"
    if not is_complete_jpeg(images.parent / rel):  # new, or torn by a power cut: (re)write
        try:
            clean = clean_jpeg(open_image(data, name=entry.name), max_side)
        except ImageLoadError as e:
            return "unreadable image", str(e).split(": ", 1)[-1]
        atomic_write_bytes(images.parent / rel, clean, durable=False)  # checked on reuse instead
    return {"image": rel, "location_id": digest[:16], "digest": digest, "sample_id": entry.name,
            "lat": exif.lat if exif.has_position else float("nan"),
            "lon": exif.lon if exif.has_position else float("nan"),
            "date": exif.date or "", "gps": exif.gps, "format": kind}


def clean_jpeg(img, max_side: int | None = None) -> bytes:
    """A PIL image (upright, from :func:`~model.data.images.open_image`) as new JPEG bytes in sRGB with no
    metadata at all (quality 95); ``max_side`` shrinks it to at most that many pixels on its longer side.
    Raises RuntimeError if a metadata segment is found in the result (never expected)."""
    from PIL import Image

    icc = img.info.get("icc_profile")
    if icc:
        img = _to_srgb(img, icc)
    img = img.convert("RGB") if img.mode != "RGB" else img.copy()
    img.info = {}  # Pillow would copy a "comment" (or other info) into the new file
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=QUALITY)
    data = buf.getvalue()
    left = metadata_found(data)
    if left:
        raise RuntimeError(f"re-encoded photo still holds {', '.join(left)}")
    return data


def _to_srgb(img, icc: bytes):
    """``img`` converted from its embedded ICC profile to sRGB (unchanged if the profile is unusable)."""
    from PIL import ImageCms

    try:
        return ImageCms.profileToProfile(img, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                         ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img


def _manifest(rows: list[dict], source: str, split, seed: int) -> pd.DataFrame:
    df = pd.DataFrame(rows).drop(columns=["digest"])
    df["country_code"], df["admin1"], df["view"], df["source"] = "", "", 0, source
    fill_labels(df)
    df["group_id"] = group_ids(list(df["location_id"]), df["lat"], df["lon"])
    if isinstance(split, str):
        df["split"] = split
    else:
        df["split"] = grouped_split(df, tuple(split), seed=seed)
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
    return df
