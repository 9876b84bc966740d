"""Issue 22 item 10 (Predict): "Why this answer" shows the look-alike training places that moved the answer,
with their pictures where the images are on this machine, and their places on the result map. The real
model (its retrieval gallery) and real shared images."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import MAIN, TIMEOUT, jpeg_with_gps


@pytest.fixture(scope="module")
def shipped():
    from model.net.checkpoint import DEFAULT_CHECKPOINT
    from model.predict import Predictor

    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("the shipped model (with its gallery) is not here")
    return Predictor.load()


def test_the_page_answer_is_the_predictors_own(shipped, shared_test_image):
    """The page computes the answer with its PlaceAnswer (for the look-alikes): the same Prediction as
    ``Predictor.predict`` (the shipped model's outputs unchanged)."""
    from app.predict.answering import answer, predict_place

    img = Image.open(shared_test_image[0]).convert("RGB")
    views = [img, img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    want = shipped.predict(views, top_k=10)
    got, place = predict_place(shipped, views, top_k=10)
    assert got.to_dict() == want.to_dict()
    np.testing.assert_array_equal(got.cell_probs, want.cell_probs)
    assert place is not None and place.refined
    a = answer(shipped, views, 10)
    assert a.pred.to_dict() == want.to_dict() and a.place is not None and a.secs > 0


def test_look_alikes_are_the_answers_heaviest_with_their_images(shipped, shared_test_image):
    from app.predict.why_view import get_training_places
    from app.predict import lookalikes as la
    from app.predict.answering import predict_place
    from model.geo import haversine_km

    path, lat, lon = shared_test_image
    pred, place = predict_place(shipped, [Image.open(path).convert("RGB")], top_k=10)
    items = la.look_alikes(place, shipped.gallery, shipped.cells.table, (pred.best_lat, pred.best_lon), 6, (lat, lon))
    assert len(items) == 6
    w = [it.weight for it in items]
    assert w == sorted(w, reverse=True) and 0 < sum(w) <= 1
    assert [it.index for it in items] == [i for i, _ in place.look_alikes(6)]
    for it in items:
        assert it.place and it.country and -1 <= it.similarity <= 1
        assert it.km_from_e == pytest.approx(haversine_km(it.lat, it.lon, pred.best_lat, pred.best_lon))
        assert it.km_to_truth == pytest.approx(haversine_km(it.lat, it.lon, lat, lon))
    la.attach_paths(items, get_training_places())
    found = [it for it in items if it.paths]
    assert found, "the shared training images should be on this machine"
    places = get_training_places()
    for it in found:  # the matched location is the gallery place itself: same coordinates
        row = places[places["paths"].apply(lambda ps, p=it.paths[0]: p in ps)].iloc[0]
        assert abs(row["lat"] - it.lat) < 1e-3 and abs(row["lon"] - it.lon) < 1e-3
    no_gallery = la.look_alikes(place, None, shipped.cells.table, (0.0, 0.0))
    assert no_gallery == []


def test_the_result_map_draws_the_look_alikes():
    from app.common import result_map as rmap
    from app.maps.builders import map_html
    from types import SimpleNamespace

    top = [SimpleNamespace(name=f"P{i}", country_code="HR", country="Croatia", admin1="", lat=a, lon=b,
                           prob=0.3 / (i + 1), cell_id=i) for i, (a, b) in enumerate([(45.8, 16.0), (43.5, 16.4)])]
    p = SimpleNamespace(top=top, lat=45.8, lon=16.0, best_lat=45.5, best_lon=15.5, country_code="HR",
                        country="Croatia", country_probs=[("HR", "Croatia", 0.7)], expected_km=100.0, refined=True)
    html = map_html(rmap.prediction_map(p, None, 2, look_alikes=[(44.1, 15.2, "Look-alike training place: Zadar")]))
    assert "Look-alike training places" in html and "Zadar" in html
    assert "Look-alike" not in map_html(rmap.prediction_map(p, None, 2))


def test_why_this_answer_on_the_page(model_env, has_real_model, shared_test_image):
    if not has_real_model:
        pytest.skip("the dev checkpoint has no gallery")
    path, lat, lon = shared_test_image
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    at.file_uploader(key="upload_files").set_value([("street.jpg", jpeg_with_gps(path, lat, lon), "image/jpeg")]).run()
    assert not at.exception, at.exception
    assert "Why this answer" in [s.value for s in at.subheader]
    caps = [c for im in at.get("image") for c in im.captions]
    looks = [c for c in caps if c.startswith("Look-alike #")]
    assert looks and "Look-alike #1: " in looks[0], caps
    said = " ".join(m.value for m in at.markdown)
    assert "of the answer, similarity" in said and "from the actual location" in said
    assert any("look-alike training places (purple)" in c.value for c in at.caption)
