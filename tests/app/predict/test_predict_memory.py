"""Issue 22 item 12: uploads are decoded only as large as the page needs, no full-size decoded image is kept
in session state or caches, a session's large values are bounded and dropped when its tab is gone.
(The server's RSS under large uploads is a benchmark: ``benchmarks/bench_memory.py``.)"""
from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import MAIN, TIMEOUT, FakePredictor


def big_jpeg(w: int = 6000, h: int = 6000) -> bytes:
    """A large photo-like JPEG (a smooth gradient with some blocks), made at run time."""
    small = np.zeros((60, 60, 3), np.uint8)
    small[..., 0] = np.linspace(0, 255, 60)[None]
    small[..., 1] = np.linspace(255, 0, 60)[:, None]
    small[20:40, 20:40] = (250, 250, 30)
    buf = io.BytesIO()
    Image.fromarray(small).resize((w, h), Image.BILINEAR).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def test_large_photos_are_decoded_reduced_and_small_ones_as_they_are():
    from model.data.images import ORIGINAL_SIZE, open_image, reduce_factor

    assert [reduce_factor(6000, 6000, 1024), reduce_factor(4000, 3000, 1024), reduce_factor(2000, 2047, 1024),
            reduce_factor(9000, 9000, 1024), reduce_factor(640, 640, 1024), reduce_factor(6000, 6000, None)] == \
        [4, 2, 1, 8, 1, 1]
    data = big_jpeg(6000, 4000)
    img = open_image(data, "big.jpg", min_side=1024)
    assert img.size == (3000, 2000) and img.info[ORIGINAL_SIZE] == (6000, 4000) and img.mode == "RGB"
    assert open_image(big_jpeg(6000, 6000), min_side=1024).size == (1500, 1500)
    full = open_image(data, "big.jpg")  # what training and the CLI do: unchanged
    assert full.size == (6000, 4000) and ORIGINAL_SIZE not in full.info
    buf = io.BytesIO()
    Image.new("RGB", (4200, 2400), (10, 120, 200)).save(buf, "PNG")
    png = open_image(buf.getvalue(), "big.png", min_side=1024)  # no draft mode: decoded, then reduced
    assert png.size == (2100, 1200) and png.info[ORIGINAL_SIZE] == (4200, 2400)
    small = open_image(buf.getvalue(), min_side=4096)
    assert small.size == (4200, 2400)


def test_the_answer_on_a_reduced_photo_is_the_answer_on_the_full_one(shared_test_image):
    """The model sees a 260-px square: decoding a 6000-px photo at 1500 px does not change its answer."""
    from model.data.images import open_image
    from model.net.checkpoint import DEFAULT_CHECKPOINT
    from model.predict import Predictor

    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("needs the shipped model")
    p = Predictor.load()
    buf = io.BytesIO()
    Image.open(shared_test_image[0]).convert("RGB").resize((6000, 6000), Image.BICUBIC).save(buf, "JPEG", quality=92)
    full = p.predict(open_image(buf.getvalue()), top_k=5)
    reduced = p.predict(open_image(buf.getvalue(), min_side=1024), top_k=5)
    assert [g.cell_id for g in reduced.top[:3]] == [g.cell_id for g in full.top[:3]]
    assert np.abs(reduced.cell_probs - full.cell_probs).max() < 0.02
    assert reduced.country_code == full.country_code


def test_messages_state_the_files_own_size():
    from app.common.photos import load_uploads
    from app.predict.prepare import prepare_views

    buf = io.BytesIO()
    Image.new("RGB", (9000, 3000), (90, 120, 60)).save(buf, "JPEG")
    lv = load_uploads([("wide.jpg", buf.getvalue())])
    assert lv.images[0].size == (4500, 1500) and lv.sizes == [(9000, 3000)]
    prep = prepare_views(lv, 260)
    assert any("wide.jpg (9000x3000" in n and "3000x3000 px" in n for n in prep.notes), prep.notes


def test_a_place_has_a_bounded_number_of_photos():
    from app.common.photos import MAX_FILES, load_uploads

    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (90, 120, 60)).save(buf, "PNG")
    lv = load_uploads([(f"v{i}.png", buf.getvalue()) for i in range(MAX_FILES + 3)])
    assert len(lv.images) == MAX_FILES and any(f"At most {MAX_FILES} photos" in e for e in lv.errors)


def test_a_session_store_keeps_within_its_budget_and_goes_with_its_session():
    from app.predict import store as sm

    s = sm.SessionStores(budget=3 * 10**6)
    a = s.of("a/1")
    a.put("x", "k", Image.new("RGB", (1000, 500)))  # 1.5 MB
    a.put("y", "k", b"0" * 10**6)
    assert a.get("x", "k") is not None and a.get("x", "other") is None
    a.put("z", "k", Image.new("RGB", (1000, 400)))  # 1.2 MB: over 3 MB in all, the oldest ("y", used last but one) goes
    assert a.held <= 3 * 10**6 and a.get("z", "k") is not None and len(a.names()) == 2
    s.of("b/1").put("x", "k", b"1" * 100)
    expired = []
    assert s.prune(lambda sid: sid == "b/1", expired.append, now=0.0) == 1
    assert s.sessions() == ["b/1", "a/1"] and s.held == 100
    s.prune(lambda sid: sid == "b/1", expired.append, now=sm.EXPIRED_AFTER_S + 1)
    assert expired == ["a/1"] and s.sessions() == ["b/1"]
    assert sm.nbytes([Image.new("L", (10, 10)), {"b": b"12"}]) == 102


def test_large_blocks_are_given_back_when_freed():
    import platform

    from app.predict import store as sm

    ok = sm.tune_malloc()
    assert ok == (platform.libc_ver()[0] == "glibc")
    sm.release_memory()  # gc and malloc_trim: no error wherever it runs


def _images(obj, seen=None) -> list[Image.Image]:
    """Every PIL image reachable from ``obj`` (containers and dataclasses)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, Image.Image):
        return [obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [i for f in dataclasses.fields(obj) for i in _images(getattr(obj, f.name), seen)]
    if isinstance(obj, dict):
        return [i for v in obj.values() for i in _images(v, seen)]
    if isinstance(obj, (list, tuple)):
        return [i for v in obj for i in _images(v, seen)]
    return []


def test_no_full_size_decoded_image_is_kept(monkeypatch):
    """A 6000x6000 upload, answered, Grad-CAM on, shortcut test: what session state and the session's store
    keep is at most 1500 px a side (before: the 6000x6000 decoded image itself, 108 MB, twice)."""
    fake = FakePredictor()
    monkeypatch.setattr("app.common.resources.get_predictor", lambda model=None: fake)
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    at.file_uploader(key="upload_files").set_value([("big.jpg", big_jpeg(), "image/jpeg")]).run()
    assert not at.exception, at.exception
    assert any(m.label == "Country confidence" for m in at.metric)
    at.toggle(key="cam_on").set_value(True).run()
    at.button(key="hide_go").click().run()
    assert not at.exception, at.exception
    state = at.session_state.to_dict()
    held = _images(state)
    try:
        from app.predict.store import STORES

        token = at.session_state["_predict_store"]
        held += _images([STORES.of(sid)._items for sid in STORES.sessions() if sid.endswith("/" + token)])
    except ImportError:
        pass
    assert held, "the page keeps its views somewhere"
    assert max(max(im.size) for im in held) <= 1500, sorted({im.size for im in held})
