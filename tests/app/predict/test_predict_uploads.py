"""Issue 22 item 6: a second upload is no longer fused silently with the first as views of one place. Photos
chosen together are one place; photos added later start a new place unless the user adds views on purpose
(the toggle), and the page offers to fuse what the uploader holds."""
from __future__ import annotations

import io

from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import FakePredictor


def png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(buf, "PNG")
    return buf.getvalue()


A, B, C = ("a.png", png((200, 30, 30))), ("b.png", png((30, 200, 30))), ("c.png", png((30, 30, 200)))


def ids(*files):
    from app.predict import places as pp

    return [pp.file_id(n, b) for n, b in files]


def test_files_chosen_later_start_a_new_place_unless_added_on_purpose():
    from app.predict import places as pp

    s = pp.update(pp.PlaceState(), ids(A))
    assert s.place == tuple(ids(A)) and s.event == pp.NEW
    both = pp.update(s, ids(A, B))
    assert both.place == tuple(ids(B)) and both.event == pp.NEW_PLACE and pp.unused(both) == ids(A)
    assert pp.fuse_all(both).place == tuple(ids(A, B))
    added = pp.update(s, ids(A, B), add_views=True)
    assert added.place == tuple(ids(A, B)) and added.event == pp.ADDED
    together = pp.update(pp.PlaceState(), ids(A, B))  # one pick of two files: views of one place
    assert together.place == tuple(ids(A, B))
    gone = pp.update(both, ids(A))  # the new place removed: what is left is the place
    assert gone.place == tuple(ids(A)) and gone.event == pp.REMOVED
    assert pp.update(both, ids(A, B)) is both  # a rerun with the same files changes nothing
    assert pp.update(both, []) == pp.PlaceState()
    assert pp.name_of(ids(A)[0]) == "a.png" and ids(A) != ids(("a.png", B[1]))  # same name, other bytes


def upload(at: AppTest, *files) -> AppTest:
    at.file_uploader(key="upload_files").set_value([(n, b, "image/png") for n, b in files]).run()
    assert not at.exception, at.exception
    return at


def views_said(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Predicted from"))


def test_a_second_upload_is_a_new_place_and_can_be_fused_on_request(at):
    upload(at, A)
    assert "Predicted from 1 view(s)" in views_said(at)
    alone = next(m.value for m in at.metric if m.label == "Country confidence")
    upload(at, A, B)  # the uploader now holds both: before, they were fused silently
    assert "Predicted from 1 view(s)" in views_said(at)
    said = " ".join(i.value for i in at.info)
    assert "Answering **b.png** as a new place" in said and "not used for this answer: **a.png**" in said
    b_alone = FakePredictor().predict(Image.open(io.BytesIO(B[1])).convert("RGB"), top_k=10)
    assert next(m.value for m in at.metric if m.label == "Country confidence") == f"{b_alone.country_probs[0][2]:.0%}"
    at.button(key="upload_fuse_all").click().run()
    assert "Predicted from 2 view(s)" in views_said(at)
    assert any("Fused as 2 views of one place: a.png, b.png" in c.value for c in at.caption)
    assert alone  # the first answer was shown


def test_views_added_on_purpose_join_the_place(at):
    upload(at, A)
    at.toggle(key="upload_add_views").set_value(True).run()
    upload(at, A, B)
    assert "Predicted from 2 view(s)" in views_said(at)
    assert not any("as a new place" in i.value for i in at.info)


def test_the_new_place_is_answered_from_its_own_photo(at):
    upload(at, A, B)  # chosen together: one place of two views
    assert "Predicted from 2 view(s)" in views_said(at)
    upload(at, A, B, C)
    assert "Predicted from 1 view(s)" in views_said(at)
    assert "Answering **c.png** as a new place" in " ".join(i.value for i in at.info)
