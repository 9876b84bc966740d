"""The one place with ``st.cache_resource`` / ``st.cache_data``: the model and data tables.

The model loads once per process and is shared by all sessions; every use of it must hold
``model.locks.model_lock(predictor)`` (Grad-CAM hooks the shared model). Nothing here is cached
to disk, and nothing that holds an API key is cached at all.
"""
from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from app.common.stamps import file_stamp_or_none

MODEL_ENV = "GEOLOC_MODEL"  # a predictor name (geoclip, ...) or a checkpoint path to serve instead of default.pt
THREADS_ENV = "GEOLOC_THREADS"  # torch CPU threads for the model (default: all cores but one)


def model_threads() -> int:
    """Torch CPU threads for the app's model: ``$GEOLOC_THREADS``, else all cores but one, so the
    server (decoding uploads, building maps, sending pages) keeps a core: on 2 cores upload -> markers
    drawn went from 1.59 s to 1.11 s p50 with 1 thread instead of 2 (benchmarks/bench_app.py --ab)."""
    text = os.environ.get(THREADS_ENV, "").strip()
    if text:
        try:
            return max(1, int(text))
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a whole number of threads, got {text!r}") from None
    return max(1, (os.cpu_count() or 2) - 1)


def model_path() -> str | None:
    """What the app serves: ``$GEOLOC_MODEL`` (a predictor name or a checkpoint path) or None (default.pt)."""
    p = os.environ.get(MODEL_ENV, "").strip()
    return p or None


@st.cache_resource(show_spinner="Loading the model…", max_entries=3)
def _load_predictor(model: str | None):
    import torch

    from model.explain import warm_up
    from model.predictors import is_predictor_name, load_predictor

    torch.set_num_threads(model_threads())
    if model and is_predictor_name(model):
        p = load_predictor(model)  # a published predictor; WeightsMissing says what to download
    else:
        from model.predict import Predictor

        p = Predictor.load(path=model)
        warm_up(p)
    return p


def get_predictor(model: str | None = None):
    """The shared predictor (loaded once per process and name): ``model`` a registered predictor name
    (``model.predictors``: geoclip, streetclip-zeroshot, clip-zeroshot) or a checkpoint path; None serves
    ``$GEOLOC_MODEL``, else the shipped ``assets/models/default.pt``.

    Raises FileNotFoundError (no checkpoint), ``model.predictors.WeightsMissing`` (weights not on this
    machine: its message names the download) or another exception with the loader's message.
    """
    return _load_predictor(model if model is not None else model_path())


@st.cache_data(show_spinner=False, max_entries=4)
def _test_locations(manifest: str | None, stamp: str | None = None) -> pd.DataFrame:
    """``stamp`` (``app.common.stamps``) is part of the cache key: an edited manifest is read again, as
    ``app.common.heldout`` does for the counts the pages show beside the picker."""
    from app.common.testset import test_locations
    from model.data.manifest import read_manifest

    return test_locations(read_manifest(manifest))


def get_test_locations() -> pd.DataFrame:
    """Test-set locations with known coordinates (see ``app.common.testset.test_locations``); raises
    ``model.data.manifest.ManifestError`` when no data is found."""
    from model.data.manifest import resolve_manifest

    p = resolve_manifest(None)
    return _test_locations(str(p), file_stamp_or_none(p))


def manifest_stats(manifest: str | None = None) -> dict:
    """Counts of the training data for the model card: images, locations, countries, per source
    (read again when the manifest is edited)."""
    from model.data.manifest import resolve_manifest

    p = resolve_manifest(manifest)
    return _manifest_stats(str(p), file_stamp_or_none(p))


@st.cache_data(show_spinner=False, max_entries=2)
def _manifest_stats(manifest: str, stamp: str | None) -> dict:
    from model.data.manifest import read_manifest

    df = read_manifest(manifest)
    loc = df.drop_duplicates("location_id")
    by_source = loc.groupby("source").agg(locations=("location_id", "size"),
                                          countries=("country_code", "nunique")).reset_index()
    return {"images": int(len(df)), "locations": int(len(loc)), "countries": int(loc["country_code"].nunique()),
            "with_coords": int(loc["lat"].notna().sum()),
            "splits": {k: int(v) for k, v in loc["split"].value_counts().items()},
            "by_source": by_source}


def clear_all() -> None:
    """Drop every cached resource and table (tests)."""
    st.cache_resource.clear()
    st.cache_data.clear()

