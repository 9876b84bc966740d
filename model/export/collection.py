"""Predict every photo of a folder (recursive) or a zip, each photo on its own (one photo = one place).

:func:`predict_collection` reads the photos with :func:`model.data.archives.open_files` (zip-slip and
zip-bomb safe; the same files the photo importer takes), decodes them and reads their EXIF GPS and date in
``workers`` threads, and asks the predictor for each in turn (``Predictor.predict``: one forward pass at a
time). A photo that cannot be read (corrupt, truncated, HEIC without a HEIF decoder, too large) becomes a
failed :class:`PhotoAnswer` with its error; the rest go on.

Units: degrees (WGS-84), km, probabilities 0..1. ``error_km`` is the great-circle distance from the photo's
EXIF GPS position to the **best guess E** (``best_lat``/``best_lon``: the point the map shows and the
GeoGuessr-optimal guess), not to the predicted point M (``pred_lat``/``pred_lon``).
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from model.data.archives import Entry, open_files
from model.data.images import MAX_BYTES, open_image
from model.data.photofiles import HEIF_HINT, heif_available, image_kind, is_photo_name, read_photo_exif
from model.geo import haversine_km
from model.parallel import ordered_map

Progress = Callable[[int, int, str], None]  # (photos done, photos in all, the photo's name)


@dataclass
class PhotoAnswer:
    """One photo's answer. ``pred_lat``/``pred_lon``: predicted point M; ``best_lat``/``best_lon``: best guess E;
    ``country_prob``: the predicted country's probability; ``expected_km``: the model's expected error of M;
    ``exif_lat``/``exif_lon``: the photo's GPS (None without); ``error_km``: EXIF GPS to E; ``date``: EXIF
    time taken; ``error``: why it failed (then the answer fields are None)."""

    photo: str
    pred_lat: float | None = None
    pred_lon: float | None = None
    best_lat: float | None = None
    best_lon: float | None = None
    country_code: str = ""
    country: str = ""
    country_prob: float | None = None
    expected_km: float | None = None
    exif_lat: float | None = None
    exif_lon: float | None = None
    error_km: float | None = None
    date: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CollectionResult:
    """All answers of a collection (``answers``, in name order, failed ones included), its source and the
    checkpoint that answered; ``ignored``: files that are not photos; ``notes``: zip names made safe."""

    source: str
    checkpoint: str
    answers: list[PhotoAnswer]
    ignored: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def predicted(self) -> list[PhotoAnswer]:
        return [a for a in self.answers if a.ok]

    @property
    def failed(self) -> list[PhotoAnswer]:
        return [a for a in self.answers if not a.ok]

    def summary(self) -> str:
        with_gps = [a for a in self.predicted if a.error_km is not None]
        s = f"{len(self.predicted):,} of {len(self.answers):,} photos predicted"
        if with_gps:
            errs = sorted(a.error_km for a in with_gps)
            s += f"; {len(with_gps):,} with GPS: median error {errs[len(errs) // 2]:,.0f} km (EXIF GPS to the best guess)"
        if self.failed:
            s += f"; {len(self.failed):,} failed"
        return s + "."


def predict_collection(src: str | os.PathLike, predictor, *, workers: int = 0, progress: Progress | None = None
                       ) -> CollectionResult:
    """Answer every photo of folder or zip ``src`` with ``predictor`` (a :class:`model.predict.Predictor` or
    anything with its ``predict(image)``); ``workers`` threads decode ahead (0: none). ``progress(done,
    total, name)`` after each photo. Raises :class:`~model.data.archives.ArchiveError` (a refused zip),
    FileNotFoundError, or ValueError when ``src`` holds no photo."""
    with open_files(src, is_photo_name) as files:
        if not files.entries:
            raise ValueError(f"no photos in {src} (JPEG, PNG, WebP or HEIC files)")
        answers = []
        n = len(files.entries)
        for k, (entry, loaded) in enumerate(ordered_map(_load, files.entries, workers), start=1):
            answers.append(_answer(entry, loaded, predictor))
            if progress:
                progress(k, n, entry.name)
        ignored = sum(1 for _, why in files.ignored if why == "not wanted")
        return CollectionResult(str(Path(src)), str(getattr(predictor, "path", "")), answers, ignored, files.notes)


def _load(entry: Entry):
    """(image, exif) of a photo, or the error message saying why it cannot be read."""
    if entry.size > MAX_BYTES:
        return f"{entry.size / 2**20:,.0f} MB; the limit is {MAX_BYTES // 2**20} MB"
    try:
        data = entry.read()
        kind = image_kind(data)
        if kind == "HEIF" and not heif_available():
            return HEIF_HINT
        if kind not in ("JPEG", "PNG", "WebP", "HEIF"):
            return f"not JPEG, PNG, WebP or HEIC ({kind})"
        return open_image(data, name=entry.name), read_photo_exif(data)
    except (OSError, ValueError) as e:
        return str(e).split(": ", 1)[-1] if str(e).startswith(entry.name) else str(e)


def _answer(entry: Entry, loaded, predictor) -> PhotoAnswer:
    if isinstance(loaded, str):
        return PhotoAnswer(entry.name, error=loaded)
    img, exif = loaded
    try:
        p = predictor.predict(img)
    except (OSError, ValueError, RuntimeError) as e:
        return PhotoAnswer(entry.name, error=f"prediction failed ({e})", exif_lat=exif.lat, exif_lon=exif.lon,
                           date=exif.date or "")
    prob = p.country_probs[0][2] if p.country_probs else None
    err = None
    if exif.has_position:
        err = float(haversine_km(exif.lat, exif.lon, p.best_lat, p.best_lon))
    return PhotoAnswer(entry.name, _f(p.lat), _f(p.lon), _f(p.best_lat), _f(p.best_lon), p.country_code, p.country,
                       _f(prob), _f(p.expected_km), exif.lat, exif.lon, err, exif.date or "")


def _f(v) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else float(v)
