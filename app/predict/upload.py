"""The Predict page's uploader: which photos make the place answered (:mod:`app.predict.places`), the
upload kept while another photo source is open, and decoding once per input into the session's store
(:mod:`app.predict.session`; no decoded image in ``st.session_state``)."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from app.common.photos import FORMATS_TEXT, MAX_FILES, LoadedViews, load_uploads
from app.predict import places as pp
from app.predict.logic import views_key
from app.predict.session import session_store

KEPT = "kept_upload"  # store: the place's files (name, bytes), kept while another photo source is open
PLACE = "_upload_place"  # session_state: the PlaceState (file ids only)
ADD_VIEWS = "upload_add_views"  # the toggle: photos added next are more views of this place


def decoded(files: list[tuple[str, bytes]], tag: str) -> LoadedViews:
    """Decode once per distinct input (kept in the session's store; reruns reuse it, a miss decodes again)."""
    k = views_key([b for _, b in files], tag + "|".join(n for n, _ in files))
    store = session_store()
    lv = store.get("decoded", k)
    if lv is None:
        lv = store.put("decoded", k, load_uploads(files))
    return lv


def _on_upload_change() -> None:
    """The uploader emptied by the user: forget the kept place."""
    if not st.session_state.get("upload_files"):
        session_store().pop(KEPT)
        st.session_state.pop(PLACE, None)


def _forget_upload() -> None:
    session_store().pop(KEPT)
    st.session_state.pop(PLACE, None)


def _fuse_all() -> None:
    st.session_state[PLACE] = pp.fuse_all(st.session_state.get(PLACE, pp.PlaceState()))


def _names(ids: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"**{pp.name_of(i)}**" for i in ids)


def _say(state: pp.PlaceState) -> None:
    """What the place is, when the uploader holds more than it, or views were just added."""
    unused = pp.unused(state)
    if unused:
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.info(f"Answering {_names(state.place)} as a new place. Also in the uploader, not used for this answer: "
                f"{_names(unused)} (remove them there, or answer them all together as views of one place).",
                icon=":material/add_location_alt:")
        c2.button(f"Fuse all {len(state.seen)} as one place", key="upload_fuse_all", on_click=_fuse_all,
                  icon=":material/join:", width="stretch",
                  help="Only if every photo shows the same place: the model then answers them as views of it.")
    elif state.event == pp.ADDED and len(state.place) > 1:
        st.caption(f"Fused as {len(state.place)} views of one place: {', '.join(pp.name_of(i) for i in state.place)}.")


def upload_input(from_files: Callable[[list[tuple[str, bytes]], str, str], object]):
    """The uploader and its place; ``from_files(files, label, tag)`` makes the page's input of the files."""
    files = st.file_uploader(f"Photo of a place, or several views of the same place chosen together (fused into "
                             f"one prediction): {FORMATS_TEXT}; 360° panoramas and wide photos are split into views",
                             accept_multiple_files=True, key="upload_files", max_upload_size=50,
                             on_change=_on_upload_change,
                             help=f"Up to 50 MB and 60 megapixels each, {MAX_FILES} photos per place. Photos "
                                  "chosen later start a new place unless 'Add the next photos as more views' is on. "
                                  "Photos stay on this machine.")
    store = session_store()
    if files:
        named = [(f.name, f.getvalue()) for f in files]  # the uploader's own bytes, read once per run
        byid = {pp.file_id(n, b): (n, b) for n, b in named}
        state = pp.update(st.session_state.get(PLACE, pp.PlaceState()), list(byid),
                          add_views=bool(st.session_state.get(ADD_VIEWS, False)))
        st.session_state[PLACE] = state
        got = [byid[i] for i in state.place if i in byid]
        store.put(KEPT, "kept", got)
        _say(state)
        st.toggle("Add the next photos as more views of this place", key=ADD_VIEWS,
                  help="Off: a photo you add later is a new place, answered on its own. On: it joins this place "
                       "as another view (the same spot seen in another direction).")
    else:
        got = store.get(KEPT, "kept")
        if not got:
            return None
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.caption(f"Still using what you uploaded before: {', '.join(n for n, _ in got)}.")
        c2.button("Remove", key="upload_forget", on_click=_forget_upload, icon=":material/close:")
    return from_files(got, f"{len(got)} uploaded file(s)", "upload")
