"""What a predictor's weights are, whether they are in the local cache, and how to get them.

Nothing is ever downloaded without asking: a predictor checks its files in the Hugging Face hub cache
(``$HF_HUB_CACHE`` or ``$HF_HOME/hub``, read at call time; no network access, so nothing hangs retrying
offline) before loading, and a miss raises :class:`WeightsMissing` whose message says what would be
downloaded (repository, approximate size, licence) and the exact command. ``GEOLOC_DOWNLOAD_WEIGHTS=1``
(and ``HF_HUB_OFFLINE`` unset) lets the loader download instead;
:func:`model.predictors.download.download` is what an app's "download" button calls, only when the user asks.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from model.net.backbones.hf import hf_cache_dir
from model.net.backbones.registry import DOWNLOAD_ENV, PretrainedWeightsMissing, downloads_allowed


@dataclass(frozen=True)
class WeightsInfo:
    """One set of files a predictor needs.

    ``repo``: a Hugging Face model repository ("" for a Python package); ``include``: the file patterns
    fetched (``hf download --include``); ``required``: the files that must be cached, each entry
    ``"a|b+c"`` = file ``a``, or both ``b`` and ``c``; ``size``: in words ("about 1.7 GB");
    ``command``: the exact shell command that fetches them."""

    what: str
    repo: str
    size: str
    licence: str
    command: str
    include: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line: what, where from, how big, under which licence."""
        src = f"Hugging Face repo {self.repo}" if self.repo else "a Python package"
        return f"{self.what} ({src}, {self.size}; licence: {self.licence})"


class WeightsMissing(PretrainedWeightsMissing):
    """A predictor's weights (or its package) are not available offline. ``info`` says what is missing
    and ``missing`` which files; the message names the command that fetches them."""

    def __init__(self, info: WeightsInfo, missing: list[str] | None = None, where: str | None = None):
        self.info, self.missing = info, list(missing or [])
        where = where or (f"the local Hugging Face cache {hf_cache_dir()}" if info.repo else "this environment")
        files = f" (missing: {', '.join(self.missing[:4])}{' ...' if len(self.missing) > 4 else ''})" \
            if self.missing else ""
        opt_in = f" (or set {DOWNLOAD_ENV}=1 to let this command download them)" if info.repo else ""
        super().__init__(f"{info.describe()} is not in {where}{files}. Nothing is downloaded without asking. "
                         f"To get it, on a machine with internet run: {info.command}{opt_in}")


def cached_file(repo: str, filename: str) -> str | None:
    """The local path of ``filename`` of ``repo``'s ``main`` revision in the hub cache, None if absent
    (no network access)."""
    from huggingface_hub import try_to_load_from_cache

    p = try_to_load_from_cache(repo, filename, cache_dir=hf_cache_dir())
    return p if isinstance(p, str) and os.path.exists(p) else None


def missing_files(info: WeightsInfo) -> list[str]:
    """The entries of ``info.required`` that the hub cache cannot satisfy (empty: all there)."""
    out = []
    for entry in info.required:
        alts = [a.split("+") for a in entry.split("|")]
        if not any(all(cached_file(info.repo, f) for f in alt) for alt in alts):
            out.append(entry.replace("|", " or ").replace("+", " and "))
    return out


def require(info: WeightsInfo) -> None:
    """Raise :class:`WeightsMissing` unless every required file is cached (or downloads are allowed)."""
    miss = missing_files(info)
    if miss and not downloads_allowed():
        raise WeightsMissing(info, miss)


def snapshot_revision(repo: str) -> str:
    """The cached snapshot's revision (commit hash folder) of ``repo``, "" if not cached."""
    p = cached_file(repo, "config.json")
    return Path(p).parent.name if p else ""


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes. A hub-cache file is a link to a blob named by its sha256 (large
    files), which is used without reading the file; other files are hashed."""
    real = Path(os.path.realpath(path))
    if _HEX64.match(real.name):
        return real.name
    h = hashlib.sha256()
    with open(real, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weights_sha256(repo: str) -> str:
    """sha256 of ``repo``'s cached weights file (safetensors, else the PyTorch pickle); "" if none."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        p = cached_file(repo, name)
        if p:
            return file_sha256(p)
    return ""


def local_files_only() -> bool:
    """What loaders pass to ``from_pretrained``: True unless downloads are allowed."""
    return not downloads_allowed()
