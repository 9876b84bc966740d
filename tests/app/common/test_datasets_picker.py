"""The data-set widgets (app.common.dataset_picker) in AppTest: choose a set, name a path (bad ones get a
clear message, nothing changes), remember the server's default only on the explicit tick, and the
no-data help with its three routes and a demo download that fails at once offline."""
from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from app.common import datasets as ds


def manifest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.csv").write_text("image,lat,lon\nimages/a.jpg,45.0,16.0\n")
    return folder / "manifest.csv"


def picker_page() -> None:
    import streamlit as st

    from app.common.dataset_picker import dataset_picker

    d = dataset_picker("t")
    st.markdown(f"ACTIVE={d.key if d else None}")


def help_page() -> None:
    from app.common.dataset_picker import no_data_help

    no_data_help()


def active(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("ACTIVE="))[len("ACTIVE="):]


def test_choose_name_a_path_and_remember(where):
    manifest(ds.DATA)
    manifest(ds.DATA / "demo")
    at = AppTest.from_function(picker_page).run()
    assert not at.exception and active(at) == "data"
    sel = at.selectbox(key="t_dataset_select")
    assert sel.options[-1] == "Other manifest or shard folder…" and len(sel.options) == 3
    sel.set_value("demo").run()
    assert active(at) == "demo" and any("CC BY-SA" in c.value for c in at.caption)
    assert at.session_state[ds.SESSION_KEY] == "demo" and not ds.SETTINGS.exists()

    at.selectbox(key="t_dataset_select").set_value("__other__").run()
    at.text_input(key="t_dataset_path").input(str(where / "nowhere.csv")).run()
    assert "no such file or folder" in at.error[0].value and active(at) == "demo"  # nothing changed
    mine = manifest(where / "mine")
    at.text_input(key="t_dataset_path").input(str(mine.parent)).run()
    assert not at.error and active(at) == f"manifest:{mine.resolve()}"
    assert at.selectbox(key="t_dataset_select").value == f"manifest:{mine.resolve()}"

    box = at.checkbox(key="t_dataset_remember")
    assert box.value is False and "every visitor" in box.help
    box.check().run()
    assert ds.remembered_default() == f"manifest:{mine.resolve()}"
    other = AppTest.from_function(picker_page).run()  # a second visitor opens the remembered default
    assert active(other) == f"manifest:{mine.resolve()}" and other.checkbox(key="t_dataset_remember").value
    other.checkbox(key="t_dataset_remember").uncheck().run()
    assert ds.remembered_default() is None


def test_no_data_help_names_three_routes_and_fails_offline_at_once(where, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = AppTest.from_function(help_page).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.code)
    assert "Your own photos" in text and ds.PHOTOS_COMMAND in text
    assert "make demo-data" in text and "GEOLOC_DATA=" in text
    assert at.text_input(key="nodata_picker_dataset_path")  # name a manifest right there
    t = time.monotonic()
    at.button(key="nodata_demo").click().run()
    assert time.monotonic() - t < 10
    assert "could not be downloaded" in at.error[0].value and "offline" in at.error[0].value
    assert not (ds.DATA / "demo" / "manifest.csv").exists()


def test_demo_button_from_a_local_copy_uses_it(where, monkeypatch):
    """The button's success path (the download itself is model.collect.demo's, tested there): the session
    switches to the demo set and its credit is shown."""
    from model.collect import demo

    def fake(out, n, progress, log):
        manifest(Path(out))
        progress(1, 1, "x")
        return demo.DemoResult(Path(out), 1, 1, 1, "abc", "a local copy")

    monkeypatch.setattr(demo, "download_demo", fake)
    at = AppTest.from_function(help_page).run()
    at.button(key="nodata_demo").click().run()
    assert not at.exception and not at.error
    assert at.session_state[ds.SESSION_KEY] == "demo" and "CC BY-SA" in at.caption[-1].value
