""""Why this answer" on the Predict page: the look-alike training places that moved the answer
(:mod:`app.predict.lookalikes`), with their pictures where they are on this machine; their places are on the
result map (the layer "Look-alike training places")."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app.common import formatting as fm
from app.common import photos
from app.predict import lookalikes as la
from app.common.stamps import file_stamp_or_none
from app.predict.session import session_store

K = 6  # look-alikes shown


@st.cache_data(show_spinner=False, max_entries=2)
def _training_places(manifest: str, stamp: str | None = None) -> pd.DataFrame:
    from model.data.manifest import read_manifest

    return la.training_places(read_manifest(manifest))


def get_training_places() -> pd.DataFrame:
    """Training and validation locations with coordinates (:func:`app.predict.lookalikes.training_places`)
    of the data found here, read again when the manifest changes: where "Why this answer" finds the images
    of the look-alike training places; raises ``model.data.manifest.ManifestError`` when no data is found."""
    from model.data.manifest import resolve_manifest

    p = resolve_manifest(None)
    return _training_places(str(p), file_stamp_or_none(p))


def find(p: Any, place: Any, pred: Any, truth: Any) -> list[la.LookAlike]:
    """The answer's look-alikes with their images' paths (empty without a gallery)."""
    items = la.look_alikes(place, getattr(p, "gallery", None), p.cells.table, (pred.best_lat, pred.best_lon), K,
                           (truth.lat, truth.lon) if truth is not None else None)
    if items:
        try:
            la.attach_paths(items, get_training_places())
        except Exception:  # noqa: BLE001 - no manifest here: the places, without pictures
            pass
    return items


def _thumbs(key: str, items: list[la.LookAlike]) -> list[Any]:
    """One small picture per look-alike (None where its images are not here), kept in the session's store."""
    store = session_store()
    got = store.get("look_alike_thumbs", key)
    if got is None:
        got = []
        for it in items:
            lv = photos.load_paths(it.paths[:1]) if it.paths else None
            got.append(photos.thumbnail(lv.images[0], 320) if lv is not None and lv.images else None)
        store.put("look_alike_thumbs", key, got)
    return got


def section(p: Any, place: Any, items: list[la.LookAlike], key: str) -> None:
    """The "Why this answer" block under the table."""
    st.subheader("Why this answer")
    if getattr(p, "gallery", None) is None:
        st.caption("This model has no gallery of training places: its answer comes from its classifier alone "
                   "(the cell probabilities above), with no look-alike places behind it.")
        return
    if not items:
        st.caption("No look-alike training place weighed in: the likeliest cells hold no training place with "
                   "coordinates, so the answer is the classifier's alone.")
        return
    total = sum(it.weight for it in items)
    st.markdown(f"The answer's likeliest cells spread their probability over the **training places that look most "
                f"like this photo**; these {len(items)} carry {total:.0%} of it, and E, the expected-score guess, is "
                "placed among them. They are on the map as purple points.")
    thumbs = _thumbs(key, items)
    cols = st.columns(3)
    for i, (it, th) in enumerate(zip(items, thumbs)):
        with cols[i % 3]:
            where = fm.place_label(it.place, it.region, it.country)
            line = (f"**{where}**: {it.weight:.1%} of the answer, similarity {it.similarity:.2f}, "
                    f"{fm.fmt_km(it.km_from_e)} from E"
                    + (f", {fm.fmt_km(it.km_to_truth)} from the actual location" if it.km_to_truth is not None else ""))
            if th is not None:
                st.image(th, caption=f"Look-alike #{i + 1}: {where}", width="stretch")
            else:
                st.caption(f"Look-alike #{i + 1}: its images are not on this machine.")
            st.markdown(line)
    st.caption("Similarity: cosine of the model's embeddings of this photo and of the training place (1: the "
               "same). A look-alike is a training place the model finds similar, not proof: similar roads, "
               "light or camera can make places far apart look alike.")
