"""Issue 22 item 2: the top-N list is sorted by probability, shows each place's country and its probability,
and marks M (the likeliest cell of the likeliest country) where it is not the likeliest cell; item 5's phone
table puts the numbers first. A rigged predictor gives the Isle-of-Man case: the likeliest single cell (US,
30%) lies outside the likeliest country (Croatia, 26% + 24%)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app.common import results as rs
from model.net.answer import answer_place, to_prediction
from model.net.inference import cell_country_index
from tests.app.apphelpers import CELLS, MAIN, TIMEOUT, FakePredictor

PROBS = np.array([0.26, 0.24, 0.10, 0.06, 0.30, 0.04])  # Zagreb, Split, Paris, Lyon, Denver, Tokyo


class Rigged(FakePredictor):
    """The fake predictor with fixed cell probabilities :data:`PROBS`, whatever the photo."""

    def predict(self, images, top_k: int = 5, crop: float | None = None):
        self.calls += 1
        views = [images] if isinstance(images, Image.Image) else list(images)
        logits = np.log(PROBS)[None].repeat(len(views), 0)
        a = answer_place({"logits": logits}, CELLS, cell_country_index(CELLS)[1])
        return to_prediction(a, CELLS, top_k, len(views), self.meta["crop"] if crop is None else crop)


@pytest.fixture
def rigged():
    return Rigged().predict(Image.new("RGB", (64, 64)), top_k=6)


def test_prediction_says_which_cell_is_m_and_ranks_by_probability(rigged):
    p = rigged
    assert p.m_guess.name == "Zagreb" and p.top[0] is p.m_guess  # M first in `top`, as every caller expects
    assert not p.m_is_likeliest and p.prob_rank(p.m_guess.cell_id) == 2
    assert [g.name for g in p.by_probability(3)] == ["Denver", "Zagreb", "Split"]
    assert p.prob_rank(4) == 1 and p.prob_rank(5) == 6


def test_rows_are_sorted_by_probability_with_m_marked_and_each_country(rigged):
    rows = rs.guess_rows(rigged, None, 3)
    assert [r["place"] for r in rows] == ["Denver", "Zagreb", "Split"]
    assert [r["rank"] for r in rows] == [1, 2, 3] and [r["is_m"] for r in rows] == [False, True, False]
    assert rows[1]["country_prob"] == pytest.approx(0.50) and rows[0]["country_prob"] == pytest.approx(0.30)
    table = rs.guess_table(rows)
    assert list(table["#"]) == ["1", "2 · M", "3"]
    assert (table["Probability"].diff().dropna() <= 0).all()
    assert list(table["Country"]) == ["United States (30%)", "Croatia (50%)", "Croatia (50%)"]
    assert list(table.columns)[:2] == ["#", "Probability"]  # the numbers first: a phone shows them


def test_m_is_listed_even_when_outside_the_top_n(rigged):
    rows = rs.guess_rows(rigged, rs.Truth(45.8, 16.0, "t"), 1)
    assert [(r["place"], r["rank"], r["is_m"]) for r in rows] == [("Denver", 1, False), ("Zagreb", 2, True)]
    assert rows[1]["km"] < 50 and rows[1]["score"] > 4900


def test_the_page_says_why_m_is_not_first(rigged):
    why = rs.m_note(rigged)
    assert "#2" in why and "Croatia (50%" in why and "#1 Denver" in why and "30.0%" in why
    names = [label for label, _t in rs.target_options(rigged, 3)]
    assert names[0].startswith("Predicted cell (M): Zagreb") and "Guess #1: Denver" in names[2]
    assert "Guess #3: Split" in names[3] and not any("Zagreb" in n for n in names[2:])
    plain = Rigged()
    plain_pred = FakePredictor().predict(Image.new("RGB", (64, 64), (90, 120, 60)), top_k=6)
    assert plain_pred.m_is_likeliest == (rs.m_note(plain_pred) is None) and plain.calls == 0


def test_the_predict_page_table_is_sorted_and_marks_m(monkeypatch):
    """AppTest of the page with the rigged predictor: the old table began with M (26%) above Denver (30%)."""
    rig = Rigged()
    monkeypatch.setattr("app.common.resources.get_predictor", lambda model=None: rig)
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    img = Image.new("RGB", (320, 240), (90, 120, 60))
    import io

    buf = io.BytesIO()
    img.save(buf, "PNG")
    at.file_uploader(key="upload_files").set_value([("a.png", buf.getvalue(), "image/png")]).run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "Place" in d.value.columns)
    assert (table["Probability"].diff().dropna() <= 0).all()  # before: M (26%) above Denver (30%)
    assert list(table["#"][:3]) == ["1", "2 · M", "3"]
    assert list(table["Place"][:2]) == ["Denver, Colorado", "Zagreb"]
    assert any("M, the model's guess, is #2" in c.value for c in at.caption)
    assert any(m.value.startswith("#### Croatia") for m in at.markdown)  # the headline stays M's country
