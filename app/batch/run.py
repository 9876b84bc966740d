"""Import and predict one upload (no Streamlit): the work behind the "Your photos" page's button.

:func:`import_and_predict` stages the uploaded files in a temporary folder (:mod:`app.batch.uploads`),
imports them with :func:`model.collect.photos.import_photos` into this session's import folder (copies
without any EXIF), predicts every photo with :func:`model.export.collection.predict_collection` (the
originals, for their EXIF GPS), deletes the originals and returns a :class:`Batch`. Errors that refuse the
upload as a whole (:data:`REFUSALS`) propagate with their reasons; single bad photos are named in the
import's skips and the result's failed answers.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from app.batch import uploads
from model.collect.lock import FolderBusy
from model.collect.outdir import OutFolderError
from model.collect.photos import PhotoImportError, import_photos
from model.data.archives import ArchiveError
from model.export.collection import CollectionResult, predict_collection
from model.locks import model_lock

Progress = Callable[[int, int, str], None]
REFUSALS = (uploads.UploadError, ArchiveError, PhotoImportError, OutFolderError, FolderBusy, FileNotFoundError)


class LockedPredictor:
    """A shared predictor used one photo at a time under its lock (``model.locks.model_lock``), so that a
    long batch does not hold the model against every other visitor for its whole length."""

    def __init__(self, predictor):
        self._p = predictor
        self.path = getattr(predictor, "path", "")

    def predict(self, image):
        with model_lock(self._p):
            return self._p.predict(image)


@dataclass
class Batch:
    """One imported and predicted upload: ``result`` (answers per photo name), the import ``summary`` text,
    ``skipped`` (name, reason, detail) rows, ``folder`` (this session's import: images/ and manifest.csv),
    ``images`` (photo name -> its EXIF-free copy), ``key``/``label`` (the session's data-set entry)."""

    name: str
    result: CollectionResult
    summary: str
    folder: Path
    key: str
    label: str
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    images: dict[str, Path] = field(default_factory=dict)
    with_gps: int = 0

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.csv"


def import_and_predict(files: list[tuple[str, bytes]], data: Path, session_id: str, predictor, *,
                       on_import: Progress | None = None, on_predict: Progress | None = None) -> Batch:
    """Import and predict uploaded ``(name, bytes)`` files for session ``session_id`` under ``data``
    (module doc). Raises one of :data:`REFUSALS` (nothing is left behind then)."""
    uploads.prune(data)
    name = uploads.upload_name([n for n, _ in files])
    out = uploads.new_import_folder(data, session_id, name)
    try:
        with tempfile.TemporaryDirectory(prefix="geoloc-upload-") as tmp:
            src = uploads.stage(files, Path(tmp))
            imp = import_photos(src, out, progress=on_import, log=None)
            res = predict_collection(src, LockedPredictor(predictor), progress=on_predict)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    res.source = name
    man = imp.manifest
    images = {str(s): out / str(i) for s, i in zip(man.get("sample_id", pd.Series(dtype=str)), man["image"])}
    key = f"upload:{out.parent.name}/{out.name}"
    label = f"This session's upload: {name} ({len(man):,} photos, {imp.with_gps:,} with GPS)"
    summary = imp.text().replace(str(out / "manifest.csv"), "this session's import")
    return Batch(name, res, summary, out, key, label, list(imp.skips.rows), images, imp.with_gps)
