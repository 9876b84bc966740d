"""Fetch a predictor's weights into the Hugging Face hub cache, only when the user asks.

:func:`download` is what the app's "download" button and a user's script call; loaders never call it
(they raise :class:`~model.predictors.weights.WeightsMissing` instead). It plans the download first
(``snapshot_download(..., dry_run=True)``: which files, how many bytes), then fetches the files one by
one, reporting ``progress(done_bytes, total_bytes)`` as bytes arrive (a Streamlit ``st.progress`` can be
driven from it). The file patterns are those of the command in the predictor's message
(``hf download REPO --include ...``), so the button and the command fetch the same files.
"""
from __future__ import annotations

from collections.abc import Callable

from tqdm.auto import tqdm

from model.net.backbones.hf import hf_cache_dir

from .weights import WeightsInfo, missing_files

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes in all); in all is 0 while unknown


def _error(what: str, e: Exception) -> OSError:
    first = (str(e).splitlines() or [""])[0][:200]
    return OSError(f"could not download {what}: {type(e).__name__}: {first}")


def _bar_class(on_bytes: Callable[[int], None]) -> type:
    """A silent tqdm class whose bars report their byte counts through ``on_bytes(n_so_far)``; each bar of
    one file (HTTP, or Xet's transfer and reconstruction bars) counts that file's bytes: the caller takes
    the largest."""

    class _Bar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            kwargs["disable"] = True  # nothing drawn: the callback is the display
            super().__init__(*args, **kwargs)
            self._seen = int(kwargs.get("initial") or 0)

        def update(self, n=1):
            self._seen += int(n or 0)
            on_bytes(self._seen)
            return super().update(n)

    return _Bar


def fetch(info: WeightsInfo, progress: ProgressFn | None = None) -> str:
    """Download ``info``'s files (its ``include`` patterns) into the hub cache and return the snapshot
    folder. ``progress(done, total)`` in bytes, from ``(0, total)`` to ``(total, total)``. OSError with
    the reason when the hub cannot be reached (no network, ``HF_HUB_OFFLINE=1``, HTTP errors)."""
    if not info.repo:
        raise OSError(f"{info.what} is a Python package, not a download: run {info.command}")
    import huggingface_hub as hub

    cache = hf_cache_dir()
    patterns = list(info.include) or None
    try:
        plan = hub.snapshot_download(info.repo, allow_patterns=patterns, cache_dir=cache, dry_run=True)
    except Exception as e:  # noqa: BLE001  (offline mode, DNS, HTTP: one clear message)
        raise _error(info.repo, e) from e
    todo = [f for f in plan if f.will_download]
    total = int(sum(f.file_size or 0 for f in todo))
    done, current = 0, [0]

    def report(n: int) -> None:
        current[0] = max(current[0], n)
        if progress:
            progress(min(done + current[0], total) if total else done + current[0], total)

    if progress:
        progress(0, total)
    rev = plan[0].commit_hash if plan else None
    for f in todo:
        current[0] = 0
        try:
            hub.hf_hub_download(info.repo, f.filename, revision=f.commit_hash, cache_dir=cache,
                                tqdm_class=_bar_class(report))
        except Exception as e:  # noqa: BLE001
            raise _error(f"{info.repo}/{f.filename}", e) from e
        done += int(f.file_size or current[0])
        if progress:
            progress(min(done, total) if total else done, total)
    try:  # the snapshot folder, now complete (no network: every file is cached)
        return hub.snapshot_download(info.repo, allow_patterns=patterns, cache_dir=cache, revision=rev,
                                     local_files_only=True)
    except Exception as e:  # noqa: BLE001
        raise _error(info.repo, e) from e


def download(name: str | WeightsInfo, progress: ProgressFn | None = None) -> list[str]:
    """Fetch what predictor ``name`` (a registered name, or one :class:`WeightsInfo`) lacks offline; returns
    the snapshot folders fetched (empty: nothing was missing). ``progress(done, total)`` in bytes, over all
    of its missing files. A missing Python package (geoclip) cannot be fetched this way: OSError naming its
    ``pip`` command. After it, :func:`model.predictors.availability` is True and the loader runs offline."""
    from .registry import get_spec
    from .geoclip import wheel
    from .weights import WeightsMissing

    infos = [name] if isinstance(name, WeightsInfo) else list(get_spec(str(name)).weights)
    for info in infos:
        if not info.repo:
            try:
                wheel()
            except WeightsMissing as e:
                raise OSError(f"{info.what} is a Python package, not a download: run {info.command}") from e
    # each registered predictor needs one repository at most (GeoCLIP's other part is its package)
    return [fetch(info, progress) for info in infos if info.repo and missing_files(info)]
