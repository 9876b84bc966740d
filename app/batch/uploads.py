"""Uploaded photos -> a source for the importer, and where a visitor's imports live (no Streamlit).

A visitor's upload is theirs: it is imported into a folder of its own session,
``data/.uploads/<session>/<n>-<name>/`` (git-ignored like all of ``data/``), offered to that session only,
and copied into ``data/photos/<name>/`` (every visitor's "Your photos: <name>") only when the visitor
saves it explicitly. The uploaded originals (with their EXIF) live in a temporary folder only while they
are imported and predicted. Session folders untouched for :data:`KEEP_S` seconds are removed.
"""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from model.data.archives import extract_zip, is_zip, safe_name
from model.data.photofiles import is_photo_name

KEEP_S = 24 * 3600
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


class UploadError(ValueError):
    """Uploads that cannot be used as they are, with the reason and what to do."""


def stage(files: list[tuple[str, bytes]], folder: Path) -> Path:
    """Write uploaded ``(name, bytes)`` files where the importer reads them; returns its source: the zip
    itself when one zip is uploaded alone, else ``folder`` holding the photos (names made safe; a repeated
    name gets ``-2``, ``-3``) and each zip's photos under ``<zip name>/`` (read by
    :func:`model.data.archives.extract_zip`: no member lands outside, bombs are refused with the reason:
    ``ArchiveError``). Files that are neither photos nor zips are refused here (:class:`UploadError`)."""
    if not files:
        raise UploadError("Nothing uploaded: choose photos (JPEG, PNG, WebP or HEIC) or a zip of photos.")
    odd = [n for n, _ in files if not (is_photo_name(Path(n).name) or n.lower().endswith(".zip"))]
    if odd:
        raise UploadError(f"Not a photo or a zip: {', '.join(odd[:5])}. Upload JPEG, PNG, WebP or HEIC photos "
                          "or a .zip of them.")
    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    if len(files) == 1 and files[0][0].lower().endswith(".zip"):
        p = folder / _unique(safe_name(Path(files[0][0]).name) or "photos.zip", used)
        p.write_bytes(files[0][1])
        if not is_zip(p):
            raise UploadError(f"{files[0][0]} is not a readable zip file.")
        return p
    src = folder / "photos"
    src.mkdir()
    zips = folder / "zips"
    for name, data in files:
        base = safe_name(Path(name).name) or "photo"
        if name.lower().endswith(".zip"):
            zips.mkdir(exist_ok=True)
            z = zips / _unique(base, used)
            z.write_bytes(data)
            if not is_zip(z):
                raise UploadError(f"{name} is not a readable zip file.")
            extract_zip(z, src / _unique(Path(base).stem or "zip", used), is_photo_name)
            z.unlink()
        else:
            (src / _unique(base, used)).write_bytes(data)
    return src


def _unique(name: str, used: set[str]) -> str:
    stem, suf, k, out = Path(name).stem, Path(name).suffix, 1, name
    while out.lower() in used:
        k += 1
        out = f"{stem}-{k}{suf}"
    used.add(out.lower())
    return out


def upload_name(files: list[str]) -> str:
    """A short name for an upload: the zip's name, else the first photo's and how many (safe characters)."""
    first = Path(files[0]).stem if files else "photos"
    base = first if len(files) == 1 else f"{first}-and-{len(files) - 1}-more"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.")[:40] or "photos"


def session_folder(data: Path, session_id: str) -> Path:
    """``data/.uploads/<session_id>`` (the id made safe)."""
    return data / ".uploads" / (re.sub(r"[^A-Za-z0-9_-]", "", session_id)[:64] or "session")


def new_import_folder(data: Path, session_id: str, name: str) -> Path:
    """A fresh folder for one import of this session: ``<session folder>/<n>-<name>`` (not created)."""
    root = session_folder(data, session_id)
    n = 1 + sum(1 for _ in root.iterdir()) if root.is_dir() else 1
    return root / f"{n:03d}-{name}"


def prune(data: Path, keep_s: float = KEEP_S, now: float | None = None) -> list[Path]:
    """Remove session folders under ``data/.uploads`` untouched for ``keep_s`` seconds; returns them."""
    root, now, gone = data / ".uploads", time.time() if now is None else now, []
    if not root.is_dir():
        return gone
    for d in root.iterdir():
        try:
            newest = max([d.stat().st_mtime] + [p.stat().st_mtime for p in d.iterdir()])
        except OSError:
            continue
        if now - newest > keep_s:
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d)
    return gone


def check_name(name: str) -> str:
    """A data-set name for data/photos/<name>: letters, digits, space, ``_ . -``; raises :class:`UploadError`."""
    name = name.strip()
    if not NAME_RE.match(name) or name in (".", "..") or name.startswith("."):
        raise UploadError(f"{name!r} cannot name a folder here: use 1-64 letters, digits, spaces, _ . or - "
                          "(starting with a letter or digit).")
    return name


def save_to_photos(imported: Path, data: Path, name: str) -> Path:
    """Copy an import folder to ``data/photos/<name>`` for every visitor; returns its manifest. An existing
    name is refused (nothing is overwritten: :class:`UploadError`)."""
    target = data / "photos" / check_name(name)
    if target.exists():
        raise UploadError(f"data/photos/{target.name} exists already: choose another name (nothing was changed).")
    if not (imported / "manifest.csv").is_file():
        raise UploadError(f"{imported} holds no imported photos any more (an import folder is kept {KEEP_S // 3600} h).")
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(imported, tmp, ignore=shutil.ignore_patterns(".collect.lock", ".tmp-*"))
    tmp.rename(target)
    return target / "manifest.csv"
