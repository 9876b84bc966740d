"""Append-only journal of a collection and atomic file writes: what makes a run resumable.

``journal.jsonl`` holds one JSON object per line, appended and flushed under a lock:

* ``{"e": "point", "point": ID, "status": "OK"|"DUPLICATE"|"ZERO_RESULTS"|"NOT_FOUND", "pano": ...,
  "lat": deg, "lon": deg, "date": "YYYY-MM", "copyright": ...}``: the metadata answer of a point.
  An ``OK`` line claims the panorama; a later point finding the same panorama is a ``DUPLICATE``.
* ``{"e": "image", "pano": ..., "view": i, "heading": deg, "file": "images/....jpg"}``: an image
  file is complete on disk (written to a temp file and renamed *before* this line is appended).
* ``{"e": "image_missing", "pano": ..., "view": i}``: the API had no image for that view (404).

A kill at any moment leaves at worst a partial last line (ignored and cut off on the next open), an
image renamed into place but not yet journaled (found on disk and adopted, not downloaded again) or a
temp file (deleted). Nothing is lost, duplicated or fetched twice.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_UMASK = os.umask(0o022)
os.umask(_UMASK)


@dataclass
class PanoRecord:
    """A claimed panorama: lat/lon in degrees, the point that found it first."""

    pano: str
    lat: float
    lon: float
    date: str
    copyright: str
    point: str


@dataclass
class JournalState:
    """What a journal says has been done."""

    points: dict[str, str] = field(default_factory=dict)             # point_id -> status
    panos: dict[str, PanoRecord] = field(default_factory=dict)       # claimed panoramas
    images: dict[tuple[str, int], str] = field(default_factory=dict)  # (pano, view) -> relative file
    missing: set[tuple[str, int]] = field(default_factory=set)       # (pano, view) with no imagery
    bad_lines: int = 0


class Journal:
    """The append-only journal of one collection folder (thread-safe)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.state = self._load()
        self._f = open(self.path, "a", encoding="utf-8")

    def _load(self) -> JournalState:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return JournalState()
        raw = self.path.read_bytes()
        end = raw.rfind(b"\n") + 1
        if end < len(raw):  # a partial last line from a kill: cut it off before appending more
            with open(self.path, "r+b") as f:
                f.truncate(end)
        return self._parse(raw)

    @classmethod
    def read_state(cls, path: Path) -> JournalState:
        """Parse a journal without opening it for writing (empty state if it does not exist)."""
        path = Path(path)
        return cls._parse(path.read_bytes()) if path.exists() else JournalState()

    @classmethod
    def _parse(cls, raw: bytes) -> JournalState:
        st = JournalState()
        end = raw.rfind(b"\n") + 1
        st.bad_lines += end < len(raw)
        for line in raw[:end].decode("utf-8", errors="replace").splitlines():
            try:
                cls._apply(st, json.loads(line))
            except (ValueError, KeyError, TypeError):
                st.bad_lines += 1
        return st

    @staticmethod
    def _apply(st: JournalState, r: dict[str, Any]) -> None:
        e = r["e"]
        if e == "point":
            st.points[r["point"]] = r["status"]
            if r["status"] == "OK" and r["pano"] not in st.panos:
                st.panos[r["pano"]] = PanoRecord(r["pano"], float(r["lat"]), float(r["lon"]),
                                                 r.get("date", ""), r.get("copyright", ""), r["point"])
        elif e == "image":
            st.images[(r["pano"], int(r["view"]))] = r["file"]
        elif e == "image_missing":
            st.missing.add((r["pano"], int(r["view"])))

    def append(self, record: dict[str, Any]) -> None:
        """Append one record (one line, flushed to the OS: survives kill -9) and apply it."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self._f.write(line)
            self._f.flush()
            self._apply(self.state, record)

    def claim(self, point: str, pano: str, lat: float, lon: float, date: str, copyright: str) -> bool:
        """Record a point's panorama: True if newly claimed, False (recorded DUPLICATE) if taken."""
        with self._lock:
            taken = pano in self.state.panos
        rec = {"e": "point", "point": point, "status": "DUPLICATE" if taken else "OK", "pano": pano,
               "lat": lat, "lon": lon, "date": date, "copyright": copyright}
        with self._lock:  # re-check under the lock that also writes, so two threads cannot both claim
            if not taken and pano in self.state.panos:
                rec["status"], taken = "DUPLICATE", True
            line = json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"
            self._f.write(line)
            self._f.flush()
            self._apply(self.state, rec)
        return not taken

    def close(self) -> None:
        with self._lock:
            if not self._f.closed:
                self._f.flush()
                os.fsync(self._f.fileno())
                self._f.close()


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and an atomic rename.

    ``durable``: the data is on disk (fsync) before the rename and the rename is on disk before
    returning, so after a power cut ``path`` is either absent or complete, never a torn file (about
    10 ms per file on this machine's disk; writers that check files on reuse pass False).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600 files: give the usual permissions (umask) instead
            os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def looks_like_jpeg(data: bytes) -> bool:
    """A whole JPEG: starts with the SOI marker and ends with EOI (a cut download or an HTML error
    page does not)."""
    return len(data) > 4 and data[:3] == b"\xff\xd8\xff" and data.rstrip(b"\0\r\n ")[-2:] == b"\xff\xd9"


def is_complete_jpeg(path: Path) -> bool:
    """``path`` exists and holds a whole JPEG (reads its first and last bytes only)."""
    try:
        with open(path, "rb") as f:
            head = f.read(3)
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64))
            tail = f.read()
    except OSError:
        return False
    return looks_like_jpeg(head + b"\0" + tail[-60:]) if size > 4 else False


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def clean_temp_files(folder: Path) -> int:
    """Delete temp files left by a killed run under ``folder``; returns how many."""
    n = 0
    for p in Path(folder).rglob(".tmp-*"):
        try:
            p.unlink()
            n += 1
        except OSError:
            pass
    return n
