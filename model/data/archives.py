"""Files from a folder (recursive) or a zip, read safely: no zip-slip, no zip bomb, no symlinks.

:func:`open_files` lists the files a reader wants (``want(name)``, e.g. photo extensions) as
:class:`Entry` objects that are read one at a time, so nothing is extracted to disk and memory holds one
file at a time. For a zip, everything is checked from its central directory *before* a byte is
decompressed, and the whole archive is refused (:class:`ArchiveError`, with the reason) when:

* it has more than ``max_entries`` entries;
* a wanted member is larger than ``max_member_bytes`` uncompressed, or the wanted members together
  are larger than ``max_total_bytes`` (overlapping-entry bombs included: each entry counts);
* a wanted member of at least ``ratio_floor`` bytes decompresses more than ``max_ratio`` times its
  compressed size (photos barely compress: 1.0-1.2).

Reading is bounded too: a member never yields more than its declared size (``zipfile`` stops there and
checks the CRC, so a forged size fails as a corrupt member). Entry names are made safe: ``..``
components, leading slashes and drive letters are dropped (``../x.jpg`` -> ``x.jpg``, noted), so a name
never points outside a destination; symlink, encrypted and directory entries are ignored (noted).
:func:`extract_zip` writes wanted members under a folder with those names, checked again on disk.
"""
from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from .images import MAX_BYTES


class ArchiveError(ValueError):
    """An archive refused as a whole (too many entries, too large, a zip bomb, not a zip), with the reason."""


@dataclass(frozen=True)
class ZipLimits:
    """Bounds checked on a zip's central directory before anything is decompressed (bytes, counts)."""

    max_entries: int = 50_000
    max_member_bytes: int = MAX_BYTES
    max_total_bytes: int = 8 * 2**30
    max_ratio: float = 100.0
    ratio_floor: int = 1 << 20


@dataclass(frozen=True)
class Entry:
    """One file of a source: ``name`` (relative POSIX path, safe), ``size`` (bytes, uncompressed)."""

    name: str
    size: int
    _read: Callable[[], bytes] = field(repr=False, compare=False)

    def read(self) -> bytes:
        """The file's bytes (a zip member is decompressed here, bounded by its declared size)."""
        return self._read()


@dataclass
class FileSource:
    """The wanted files of a folder or zip (``entries``, in name order), what was left out and why
    (``ignored``: ``(name, reason)``), and names that had to be made safe (``notes``)."""

    path: Path
    kind: str  # "folder" or "zip"
    entries: list[Entry]
    ignored: list[tuple[str, str]]
    notes: list[str]
    _zip: zipfile.ZipFile | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> "FileSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def safe_name(name: str) -> str:
    """A member name as a relative POSIX path that stays inside any folder it is joined to: backslashes
    become slashes; drive letters, leading slashes, ``.`` and ``..`` components are dropped ('' if none left)."""
    n = re.sub(r"^[A-Za-z]:", "", name.replace("\\", "/"))
    return "/".join(p for p in n.split("/") if p not in ("", ".", ".."))


def is_zip(path: str | os.PathLike) -> bool:
    """``path`` is a file that looks like a zip (by its bytes, not its name)."""
    p = Path(path)
    return p.is_file() and zipfile.is_zipfile(p)


def open_files(src: str | os.PathLike, want: Callable[[str], bool] = lambda n: True, *,
               limits: ZipLimits = ZipLimits(), exclude: str | os.PathLike | None = None) -> FileSource:
    """The files of folder or zip ``src`` whose (safe) name ``want`` accepts. ``exclude``: a folder under
    ``src`` left out (an output folder inside the input). Raises :class:`ArchiveError` or FileNotFoundError."""
    p = Path(src).expanduser()
    if p.is_dir():
        return _folder(p, want, Path(exclude).expanduser().resolve() if exclude else None)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    if not is_zip(p):
        raise ArchiveError(f"{p}: not a folder or a zip file")
    return _zip(p, want, limits)


def _folder(root: Path, want: Callable[[str], bool], exclude: Path | None) -> FileSource:
    entries, ignored = [], []
    for dirpath, dirs, files in os.walk(root):
        here = Path(dirpath)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (exclude is None or (here / d).resolve() != exclude))
        for f in sorted(files):
            path = here / f
            rel = path.relative_to(root).as_posix()
            if f.startswith("."):
                continue
            if not want(rel):
                ignored.append((rel, "not wanted"))
                continue
            try:
                size = path.stat().st_size
            except OSError as e:  # a dangling symlink, a file removed meanwhile
                ignored.append((rel, f"unreadable ({e.strerror or e})"))
                continue
            entries.append(Entry(rel, size, path.read_bytes))
    entries.sort(key=lambda e: e.name)
    return FileSource(root, "folder", entries, ignored, [])


def _zip(path: Path, want: Callable[[str], bool], limits: ZipLimits) -> FileSource:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ArchiveError(f"{path}: not a readable zip ({e})") from None
    try:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise ArchiveError(f"{path}: refused: {len(infos):,} entries, more than the limit of "
                               f"{limits.max_entries:,} (a zip bomb or too large a batch: split it)")
        entries, ignored, notes, total = [], [], [], 0
        for info in infos:
            raw = info.filename
            name = safe_name(raw)
            why = _unusable(info, name)
            if why:
                ignored.append((raw, why))
                continue
            if not want(name):
                ignored.append((raw, "not wanted"))
                continue
            _check_member(path, info, limits)
            total += info.file_size
            if total > limits.max_total_bytes:
                raise ArchiveError(f"{path}: refused: its files hold more than {limits.max_total_bytes / 2**30:.1f} GiB "
                                   "uncompressed (the limit; a zip bomb or too large a batch: split it)")
            if name != raw.replace("\\", "/"):
                notes.append(f"{raw!r}: a path that leaves the archive's folder; read as {name!r}")
            entries.append(Entry(name, info.file_size, _member_reader(zf, info, path)))
    except BaseException:
        zf.close()
        raise
    entries.sort(key=lambda e: e.name)
    return FileSource(path, "zip", entries, ignored, notes, zf)


def _unusable(info: zipfile.ZipInfo, name: str) -> str | None:
    if info.is_dir():
        return "folder"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link (ignored)"
    if info.flag_bits & 0x1:
        return "encrypted (ignored)"
    if not name:
        return "no usable name"
    if any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts):
        return "hidden or macOS resource file"
    return None


def _check_member(path: Path, info: zipfile.ZipInfo, limits: ZipLimits) -> None:
    if info.file_size > limits.max_member_bytes:
        raise ArchiveError(f"{path}: refused: member {info.filename!r} is {info.file_size / 2**20:,.0f} MiB "
                           f"uncompressed, more than the limit of {limits.max_member_bytes / 2**20:,.0f} MiB for one file")
    if info.file_size >= limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise ArchiveError(f"{path}: refused: member {info.filename!r} would expand {info.file_size / max(info.compress_size, 1):,.0f} "
                           f"times ({info.compress_size:,} -> {info.file_size:,} bytes; the limit is {limits.max_ratio:g}): "
                           "a zip bomb")


def _member_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            with zf.open(info) as f:
                data = f.read(info.file_size + 1)  # zipfile stops at the declared size and checks the CRC
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
            raise ArchiveError(f"{path}#{info.filename}: corrupt zip member ({e})") from None
        if len(data) != info.file_size:
            raise ArchiveError(f"{path}#{info.filename}: corrupt zip member ({len(data)} bytes, {info.file_size} declared)")
        return data
    return read


def extract_zip(src: str | os.PathLike, dest: str | os.PathLike, want: Callable[[str], bool] = lambda n: True, *,
                limits: ZipLimits = ZipLimits()) -> list[Path]:
    """Write the wanted members of zip ``src`` under folder ``dest`` by their safe names (a later member
    with a name already written is skipped); returns the files written. Nothing lands outside ``dest``."""
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written: list[Path] = []
    with _zip(Path(src).expanduser(), want, limits) as source:
        for e in source.entries:
            target = (root / e.name).resolve()
            if not target.is_relative_to(root) or target == root or target in written:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".tmp-{target.name}")
            tmp.write_bytes(e.read())
            os.replace(tmp, target)
            written.append(target)
    return written

