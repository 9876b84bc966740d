"""Decode, check and (re-)encode one image for a shard, in a worker process of ``hf --shards --workers N``.

Kept apart from :mod:`.hf_shards` so that a worker imports only PIL and :mod:`model.shards.encode`
(about 0.6 s) and not ``datasets``, ``webdataset`` and ``torch`` (about 10 s on a busy machine).
"""
from __future__ import annotations

from model.data.images import ImageLoadError
from model.shards.encode import prepare_image


def prepare(job: tuple[bytes, str, int | None, int]) -> tuple[bytes | None, str | None]:
    """``(image file bytes, name, max_side, quality) -> (jpeg bytes, None)`` or ``(None, why)``; the
    bytes to store are :func:`model.shards.encode.prepare_image`'s (JPEG unchanged unless resized)."""
    data, who, max_side, quality = job
    try:
        return prepare_image(data, who, max_side, quality)[0], None
    except ImageLoadError as e:
        return None, str(e)
