"""Paths that may hold a data set, checked (no Streamlit): helpers of :mod:`app.common.datasets`.

A data set is a manifest CSV (a column ``image``, one row per image), a folder holding ``manifest.csv``,
or a folder of WebDataset shards (``index.json``, :mod:`model.shards`). Errors are
``model.data.manifest.ManifestError`` with what is wrong and what is accepted.
"""
from __future__ import annotations

import csv
from pathlib import Path

from model.data.manifest import ManifestError

ACCEPTED = ("Name a manifest CSV (a column `image`, one row per image), a folder holding manifest.csv, "
            "or a folder of shards (python -m model.shards).")


def is_shard_dir(p: Path) -> bool:
    from model.shards.format import is_shard_dir as shards

    return shards(p)


def manifest_in(p: Path) -> Path | None:
    """The absolute manifest CSV or shard folder at ``p`` (a CSV, a folder with manifest.csv, a shard
    folder), or None when there is none."""
    if p.is_dir() and is_shard_dir(p):
        return p.resolve()
    if p.is_dir():
        p = p / "manifest.csv"
    return p.resolve() if p.is_file() else None


def rows(p: Path) -> int | None:
    """Rows of a manifest CSV (header excluded), or None for a shard folder or an unreadable file."""
    if not p.is_file():
        return None
    try:
        with open(p, "rb") as f:
            return max(0, sum(1 for _ in f) - 1)
    except OSError:
        return None


def check_path(text: str, root: Path) -> Path:
    """The manifest (CSV or shard folder) a visitor names in ``text`` (relative paths are relative to
    ``root``, the checkout), checked: it exists, is one of the accepted forms, and a CSV has an ``image``
    column. Raises :class:`ManifestError`."""
    text = str(text).strip().strip('"').strip("'")
    if not text:
        raise ManifestError(f"Nothing named. {ACCEPTED}")
    p = Path(text).expanduser()
    if not p.is_absolute():
        p = root / p
    if not p.exists():
        raise ManifestError(f"{text}: no such file or folder on this machine (the server's disk: {p}).")
    m = manifest_in(p)
    if m is None:
        what = "folder holds no manifest.csv and no shards" if p.is_dir() else "is not a CSV file"
        raise ManifestError(f"{text}: this {what}. {ACCEPTED}")
    if m.is_file():
        check_header(m, text)
    return m


def check_header(m: Path, text: str) -> None:
    """Raise :class:`ManifestError` unless CSV ``m`` reads and its header has an ``image`` column."""
    try:
        with open(m, newline="", encoding="utf-8-sig") as f:
            header = [h.strip() for h in next(csv.reader(f), [])]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ManifestError(f"{text}: cannot be read as a CSV manifest ({type(e).__name__}: {e}).") from None
    if "image" not in header:
        raise ManifestError(f"{text}: not a manifest: its header has no `image` column "
                            f"(found: {', '.join(header[:8]) or 'nothing'}).")


def written_by(m: Path) -> str | None:
    """The collector that wrote the folder of manifest CSV ``m`` (its stamp: ``demo``, ``photos``, ...), or None."""
    try:
        from model.collect.outdir import read_stamp

        stamp = read_stamp(m.parent) if m.is_file() else None
    except Exception:  # noqa: BLE001 - an unreadable stamp just means an unknown writer
        stamp = None
    return stamp[0] if stamp else None
