"""What an output folder holds, and whether a command may write there.

Every command that writes a folder records which data set it is in a small stamp file, written before
anything else: ``collection.json`` (Street View collector: its settings), ``crop.json`` (cropped copy)
or ``import.json`` (the importers: ``{"collector": ..., "settings": {...}}``). A command may write a
folder that does not exist, is empty (hidden files aside) or holds the same data set (a resume, or a
re-import with the same fixed settings). Anything else, another collector's data set, one made with
other fixed settings, or files this tool did not write, is refused with what is there and how to go on.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .journal import atomic_write_text

STAMPS = {"collection.json": "streetview", "crop.json": "crop", "import.json": None}
COMMANDS = {"streetview": "python -m model.collect streetview", "crop": "python -m model.collect crop",
            "hf": "python -m model.collect hf", "imagefolder": "python -m model.collect imagefolder",
            "im2gps3k": "python -m model.collect im2gps3k", "yfcc4k": "python -m model.collect yfcc4k",
            "photos": "python -m model.collect photos", "demo": "python -m model.collect demo"}


class OutFolderError(ValueError):
    """The output folder holds something else; the message says what and how to proceed."""


def read_stamp(folder: Path) -> tuple[str, dict[str, Any]] | None:
    """``(collector, settings)`` of the data set in ``folder``, or None if it has no stamp."""
    for name, collector in STAMPS.items():
        p = Path(folder) / name
        if p.is_file():
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise OutFolderError(f"{p} is unreadable ({type(e).__name__}): this folder's data set cannot be "
                                     "identified; choose another --out") from None
            if collector is None:
                return str(data.get("collector", "?")), dict(data.get("settings", {}))
            return collector, data
    return None


def _contents(folder: Path) -> list[str]:
    return sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if not p.name.startswith("."))


def describe(folder: Path) -> str:
    """One line on what ``folder`` holds, for messages."""
    folder = Path(folder)
    if not folder.is_dir():
        return "nothing (it does not exist)"
    stamp = read_stamp(folder)
    rows = ""
    if (folder / "manifest.csv").is_file():
        with open(folder / "manifest.csv", "rb") as f:
            rows = f"{max(0, sum(1 for _ in f) - 1):,} rows"
    if stamp:
        shown = {k: v for k, v in stamp[1].items() if v not in (None, "", [])}
        return (f"a {stamp[0]} data set ({json.dumps(shown, ensure_ascii=False)[:300]}"
                f"{'; manifest.csv: ' + rows if rows else ''})")
    names = [f"{n} ({rows})" if n == "manifest.csv" and rows else n for n in _contents(folder)]
    more = f", ... ({len(names)} entries)" if len(names) > 6 else ""
    return f"{', '.join(names[:6])}{more}"


def check_out(folder: str | os.PathLike, collector: str) -> dict[str, Any] | None:
    """May ``collector`` write ``folder``? Returns the recorded settings if the folder holds a data set
    of this collector (the caller compares them), None if it is new or empty; raises
    :class:`OutFolderError` otherwise. Reads only."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise OutFolderError(f"--out {folder} is a file, not a folder")
    if not folder.is_dir() or not _contents(folder):
        return None
    stamp = read_stamp(folder)
    if stamp is None:
        raise OutFolderError(
            f"--out {folder} is not empty and holds no data set written by this tool (it holds {describe(folder)}); "
            f"{collector} would mix its files into it. Choose a new or empty folder for --out"
            + (" (an hf or imagefolder import made by an older version of this tool has no stamp either: import "
               "it again into a new folder)." if (folder / "manifest.csv").is_file() else "."))
    if stamp[0] != collector:
        raise OutFolderError(
            f"--out {folder} holds {describe(folder)}, made by `{COMMANDS.get(stamp[0], stamp[0])}`; "
            f"{collector} must not write into it. Choose another --out (e.g. {folder}_{collector}), or delete "
            "that folder first if you no longer need it.")
    return stamp[1]


def refuse_changed(folder: Path, collector: str, saved: dict[str, Any], mine: dict[str, Any],
                   keys: tuple[str, ...] | None = None) -> None:
    """Raise :class:`OutFolderError` listing the fixed settings where ``mine`` differs from ``saved``
    (both already normalised; a key missing from ``saved``, from an older version, is not compared)."""
    keys = keys or tuple(mine)
    diff = [k for k in keys if k in saved and saved[k] != mine.get(k)]
    if diff:
        raise OutFolderError(
            f"{folder} holds a {collector} data set made with other settings ("
            + "; ".join(f"{k} was {json.dumps(saved.get(k))}, now {json.dumps(mine.get(k))}" for k in diff)
            + "). Use the same options to resume or re-import it, or choose another --out folder.")


def write_import_stamp(folder: Path, collector: str, settings: dict[str, Any]) -> None:
    """Record (atomically) which data set an importer writes into ``folder``."""
    atomic_write_text(Path(folder) / "import.json",
                      json.dumps({"collector": collector, "settings": settings}, indent=1, ensure_ascii=False))


def prepare_import(folder: Path, collector: str, settings: dict[str, Any],
                   adopt: tuple[str, ...] = ("split",)) -> dict[str, Any]:
    """For importers: check the folder (:func:`check_out`), refuse changed fixed settings, and return
    the settings to use. A setting of ``adopt`` left None takes the recorded value, and one given where
    none was recorded is added (never changed). Writes nothing."""
    saved = check_out(folder, collector)
    settings = dict(settings)
    if saved is not None:
        for k in adopt:
            if settings.get(k) is None and saved.get(k) is not None:
                settings[k] = saved[k]
        if _fractions(settings.get("split")) and _fractions(settings.get("split")) == _fractions(saved.get("split")):
            settings["split"] = saved["split"]  # 70,20,10 is 0.7,0.2,0.1: keep the recorded form
        refuse_changed(folder, collector, {k: v for k, v in saved.items() if not (k in adopt and v is None)},
                       settings)
    return settings


def _fractions(split: Any) -> list[float] | None:
    """Split fractions normalised and rounded (as the Street View collector compares them), else None."""
    if not isinstance(split, (list, tuple)) or not split:
        return None
    try:
        v = [float(x) for x in split]
        return [round(x / sum(v), 6) for x in v]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
