"""Files of a Hugging Face dataset read in pieces: a source (the Hub or a local copy), the offline check,
and zip members fetched by byte range, so that a few hundred images of a 9 GB split cost megabytes.

* :class:`HubSource` reads ``datasets/<repo>/<path>`` at a pinned revision through
  ``huggingface_hub.HfFileSystem``: every ``read`` is one HTTP range request (``cache_type="none"``), a
  CSV is one streaming GET read only as far as needed (``block_size=0``).
* :class:`LocalSource` reads the same relative paths under a folder: a copy in the Hub's layout
  (``test.csv``, ``images/test/00.zip``, ...) or a Hub cache snapshot (``.../snapshots/<sha>/``). Tests
  use it; so can a user without the internet (``--from DIR``).
* :func:`hub_source` fails at once when offline (``HF_HUB_OFFLINE=1``: no request at all; no network:
  one request without retries, the HTTP client's own timeout), naming what it tried and what to do.
* :func:`zip_index` reads a zip's central directory (``zipfile``: the end record, then the directory in one
  read); :func:`read_member` fetches one member with one range read and checks its size and CRC-32.
"""
from __future__ import annotations

import os
import re
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature, version, flags, method, time, date, crc, sizes, name/extra lengths
_SLACK = 512  # bytes read past a member's expected end, so that a longer local "extra" field needs no second request


class DemoDataError(ValueError):
    """The demo data cannot be fetched (offline, unreachable, not the expected layout), with what to do."""


class LocalSource:
    """A dataset's files under ``root`` (a copy in the Hub's layout, or a Hub cache snapshot folder)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DemoDataError(f"--from {self.root}: not a folder (expected test.csv and images/test/NN.zip)")
        self.revision = self.root.name if re.fullmatch(r"[0-9a-f]{40}", self.root.name) else None
        self.where = str(self.root)

    def open(self, rel: str) -> BinaryIO:
        """A seekable file (each read a plain file read)."""
        try:
            return open(self.root / rel, "rb")
        except FileNotFoundError:
            raise DemoDataError(f"{self.root / rel}: not found (a copy of osv5m/osv5m holds test.csv and "
                                "images/test/00.zip ..)") from None

    open_stream = open

    def zips(self, split: str = "test") -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in (self.root / "images" / split).glob("*.zip"))


class HubSource:
    """A Hub dataset's files at ``revision`` (a commit sha), read by range through ``HfFileSystem``."""

    def __init__(self, repo: str, revision: str, endpoint: str | None = None):
        from huggingface_hub import HfFileSystem

        self.repo, self.revision = repo, revision
        self.fs = HfFileSystem(endpoint=endpoint)
        self.where = f"huggingface.co/datasets/{repo} (revision {revision[:12]})"

    def _path(self, rel: str) -> str:
        return f"datasets/{self.repo}/{rel}"

    def open(self, rel: str) -> BinaryIO:
        """A seekable remote file: each ``read(n)`` is one range request, nothing cached."""
        return self.fs.open(self._path(rel), "rb", revision=self.revision, block_size=1 << 16, cache_type="none")

    def open_stream(self, rel: str) -> BinaryIO:
        """A forward-only stream of the file (one GET, read as far as the caller reads)."""
        return self.fs.open(self._path(rel), "rb", revision=self.revision, block_size=0)

    def zips(self, split: str = "test") -> list[str]:
        found = self.fs.glob(self._path(f"images/{split}/*.zip"), revision=self.revision)
        key = f"/images/{split}/"  # found paths may carry the revision: datasets/<repo>@<sha>/images/...
        return sorted(key[1:] + p.split(key, 1)[1] for p in found if key in p)


def is_offline() -> bool:
    """Hugging Face offline mode (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` set, now or at import)."""
    from huggingface_hub import constants

    env = any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
              for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return env or bool(constants.HF_HUB_OFFLINE)


def hub_source(repo: str, revision: str | None = None, *, timeout: float = 10.0) -> HubSource:
    """A :class:`HubSource` pinned to ``revision`` (None: the newest commit, asked once). Raises
    :class:`DemoDataError` at once when offline or when the Hub cannot be reached."""
    url = f"https://huggingface.co/datasets/{repo}"
    local = ("or pass --from DIR with a local copy (test.csv and images/test/NN.zip, e.g. a Hub cache snapshot "
             f"folder .../datasets--{repo.replace('/', '--')}/snapshots/<sha>/)")
    if is_offline():
        raise DemoDataError(f"offline mode (HF_HUB_OFFLINE=1): the demo set is downloaded from {url}, so nothing "
                            f"was tried. Unset HF_HUB_OFFLINE and run again with the internet, {local}")
    endpoint = os.environ.get("HF_ENDPOINT") or None
    from huggingface_hub import HfApi

    tried = f"GET {(endpoint or 'https://huggingface.co').rstrip('/')}/api/datasets/{repo}" + (f" at {revision}" if revision else "")
    try:
        info = HfApi(endpoint=endpoint).dataset_info(repo, revision=revision, timeout=timeout)
    except Exception as e:  # noqa: BLE001 - httpx2/requests errors are not OSErrors; any failure means "cannot reach"
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise DemoDataError(f"cannot reach the Hugging Face Hub ({type(e).__name__}: {first}); tried {tried}. "
                            f"Check the internet connection or proxy (HTTPS_PROXY) and run again, {local}") from None
    return HubSource(repo, info.sha, endpoint)


def zip_index(f: BinaryIO, where: str) -> dict[str, zipfile.ZipInfo]:
    """Members of the zip in seekable ``f`` by file-name stem (``00/123.jpg`` -> ``123``); JPEG members only."""
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise DemoDataError(f"{where}: not a readable zip ({e})") from None
    return {PurePosixPath(i.filename).stem: i for i in zf.infolist()
            if not i.is_dir() and i.filename.lower().endswith((".jpg", ".jpeg"))}


def read_member(f: BinaryIO, info: zipfile.ZipInfo, where: str) -> bytes:
    """The bytes of zip member ``info`` from seekable ``f``: one range read (two if its local header is
    unusually long), decompressed (stored or deflated) and checked against the declared size and CRC-32."""
    name_len = len(info.filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", errors="replace"))
    want = _LOCAL_HEADER.size + name_len + len(info.extra) + info.compress_size + _SLACK
    f.seek(info.header_offset)
    buf = f.read(want)
    if len(buf) < _LOCAL_HEADER.size or buf[:4] != b"PK\x03\x04":
        raise DemoDataError(f"{where}#{info.filename}: no local file header at byte {info.header_offset}")
    fields = _LOCAL_HEADER.unpack(buf[:_LOCAL_HEADER.size])
    start = _LOCAL_HEADER.size + fields[9] + fields[10]
    end = start + info.compress_size
    if len(buf) < end:
        buf += f.read(end - len(buf))
    raw = buf[start:end]
    if info.compress_type == zipfile.ZIP_STORED:
        data = raw
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        try:
            data = zlib.decompressobj(-15).decompress(raw, info.file_size + 1)  # bounded by the declared size
        except zlib.error as e:
            raise DemoDataError(f"{where}#{info.filename}: corrupt deflate data ({e})") from None
    else:
        raise DemoDataError(f"{where}#{info.filename}: compression method {info.compress_type} not supported")
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise DemoDataError(f"{where}#{info.filename}: corrupt member ({len(data)} of {info.file_size} bytes, "
                            "or a CRC mismatch)")
    return data
