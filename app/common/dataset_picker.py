"""The data-set widgets: :func:`dataset_picker` (which data set this visitor's Play and Explore use) and
:func:`no_data_help` (what to do when there is none: the three routes, with a demo download button).

The logic (what exists, the session's choice, the server's remembered default) is
:mod:`app.common.datasets`; this module only draws it. The choice is the session's
(``st.session_state["geoloc_dataset"]``); the server-wide default changes only when a visitor ticks
"Remember as this server's default".
"""
from __future__ import annotations

import streamlit as st

from app.common import datasets as ds
from model.data.manifest import ManifestError

OTHER = "__other__"
DEMO_N = 300


def _label(options: dict[str, ds.DataSet], key: str) -> str:
    return "Other manifest or shard folder…" if key == OTHER else options[key].label


def _on_select(sel_key: str) -> None:
    key = st.session_state.get(sel_key)
    if key and key != OTHER:
        ds.choose(key)


def _on_path(sel_key: str, path_key: str, msg_key: str) -> None:
    try:
        d = ds.choose(ds.custom_dataset(st.session_state.get(path_key, "")).key)
    except ManifestError as e:
        st.session_state[msg_key] = str(e)
    else:
        st.session_state[msg_key] = ""
        st.session_state[path_key] = ""
        st.session_state[sel_key] = d.key
        st.toast(f"Using {d.label}")


def _on_remember(box_key: str, key: str) -> None:
    ds.remember_default(key if st.session_state.get(box_key) else None)


def dataset_picker(key_prefix: str, *, label: str = "Data set") -> ds.DataSet | None:
    """A selectbox of the available data sets, an "Other manifest or shard folder" path box (checked,
    with a clear message) and the "Remember as this server's default" tick; returns the active data set
    (None when there is none). ``key_prefix`` keeps widget keys apart when two pages draw it."""
    sel_key, path_key, msg_key, box_key = (f"{key_prefix}_dataset_select", f"{key_prefix}_dataset_path",
                                           f"{key_prefix}_dataset_msg", f"{key_prefix}_dataset_remember")
    active = ds.active_dataset()
    options = {d.key: d for d in ds.available_datasets()}
    if active is not None:
        options.setdefault(active.key, active)
    keys = [*options, OTHER]
    if st.session_state.get(sel_key) != OTHER:
        st.session_state[sel_key] = active.key if active is not None else OTHER
    st.selectbox(label, keys, key=sel_key, format_func=lambda k: _label(options, k), on_change=_on_select,
                 args=(sel_key,), help="Which photos Play and Explore use. Your choice is yours: other visitors "
                 "keep theirs.")
    if st.session_state.get(sel_key) == OTHER:
        st.text_input("Manifest CSV, a folder holding manifest.csv, or a shard folder (a path on the server)",
                      key=path_key, on_change=_on_path, args=(sel_key, path_key, msg_key),
                      placeholder="data/my_set/manifest.csv", help="Press Enter to use it.")
        if st.session_state.get(msg_key):
            st.error(st.session_state[msg_key])
    elif active is not None:
        st.session_state[box_key] = ds.remembered_default() == active.key
        st.checkbox("Remember as this server's default", key=box_key, on_change=_on_remember,
                    args=(box_key, active.key),
                    help="Changes the data set every visitor of this server opens (kept in data/app_settings.json).")
        if active.attribution:
            st.caption(active.attribution)
    return active


def _page_link(page: str, label: str, icon: str) -> None:
    try:
        st.page_link(page, label=label, icon=icon)
    except Exception:  # noqa: BLE001 - a page run on its own (no navigation): say where instead
        st.markdown(f"Open **{label}** in the sidebar.")


def no_data_help(key_prefix: str = "nodata") -> None:
    """Say what to do when there is no data set: your photos, the demo set (command and button), or a
    manifest / shard folder (``GEOLOC_DATA`` or the picker), with the exact commands."""
    st.warning("There is no data set on this machine yet: Play and Explore need photos with known places. "
               "Three ways to get one:")
    c1, c2, c3 = st.columns(3)
    with c1:
        st.markdown("**1. Your own photos** (phones write GPS into each photo when location is on)")
        _page_link("app_pages/photos.py", "Your photos: upload photos or a zip", ":material/photo_library:")
        st.code(ds.PHOTOS_COMMAND, language="bash")
    with c2:
        st.markdown("**2. The open demo set**: 300 street-level photos of OpenStreetView-5M "
                    "(CC BY-SA 4.0, about 25 MB, needs the internet once)")
        st.code(ds.DEMO_COMMAND, language="bash")
        if st.button("Download the demo set", key=f"{key_prefix}_demo", icon=":material/download:"):
            download_demo_button()
    with c3:
        st.markdown("**3. A manifest CSV or shard folder you have**")
        st.code(f"{ds.ENV_VAR}=data/my_set/manifest.csv make run", language="bash")
        dataset_picker(f"{key_prefix}_picker", label="Or name it here")


def download_demo_button() -> None:
    """Download the demo set into data/demo with a progress bar (called on click only); offline it stops
    at once with the reason. On success the session uses it."""
    from model.collect.demo import download_demo
    from model.collect.hub_zip import DemoDataError
    from model.collect.lock import FolderBusy
    from model.collect.outdir import OutFolderError

    bar = st.progress(0.0, text="Asking the Hugging Face Hub for the demo set…")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(done / max(total, 1), text=f"Demo set: {done:,} of {total:,} images")

    try:
        res = download_demo(ds.DATA / "demo", n=DEMO_N, progress=progress, log=None)
    except (DemoDataError, OutFolderError, FolderBusy) as e:
        bar.empty()
        st.error(f"The demo set could not be downloaded: {e}")
        return
    bar.empty()
    if res.have:
        ds.choose("demo")
        st.success(f"{res.text()} Play and Explore now use it.")
        st.caption(ds.demo_attribution())
    else:
        st.error(f"No demo image could be downloaded: {res.text()}")
