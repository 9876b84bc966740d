"""Issue 22.11 (Explore): one name per country ("Türkiye" on the map and in the table), the pooled class
named "Other countries", a precision never measured shown as "–" (n = 0), legends that never break inside a
term, and the stored answer of a place whose images are not here."""
from __future__ import annotations

import pandas as pd

from app.explore import guesses as gs
from app.explore import maps as xm
from app.explore import names as nm
from tests.app.explore.pages import open_explore


def test_one_name_per_country_and_the_pooled_class_in_words():
    assert nm.class_name("TR") == "Türkiye" and nm.class_name("other") == "Other countries"
    assert nm.class_name("other", "cell") == "Other cells" and nm.precision_text(float("nan"), 0) == "–"
    pc = pd.DataFrame({"country": ["TR", "HR"], "n": [3, 21], "accuracy": [0.0, 0.95]})
    shading = xm.accuracy_shading(pc)
    assert shading["TR"]["tip"].startswith("Türkiye:") and "(n=3)" in shading["TR"]["tip"]  # not the map's "Turkey"
    legend = xm.bucket_legend()
    assert legend.count("white-space:nowrap") == 6  # an item never breaks inside "750–2,500 km (continent)"


def test_countries_and_confusion_tabs_say_it_in_words(no_data):
    at = open_explore("Countries")
    table = next(d.value for d in at.dataframe if "Precision" in d.value.columns)
    never = table[table["Guessed as this"] == 0]
    assert len(never) and (never["Precision"] == "–").all() and "None" not in set(table["Precision"].astype(str))
    assert not table["Most often taken for"].str.contains("OTHER").any()
    at = open_explore("Confusion", ex_cm_max=5)
    labels = at.selectbox(key="ex_pair").options
    assert not any("OTHER" in x for x in labels) and any(x.startswith("Other countries taken for") for x in labels)


def test_the_stored_answer_of_a_place_without_images():
    row = pd.Series({"country_rank": ["TR", "GR", "BG"], "cell_rank": ["2", "0", "9"], "confidence": 0.61})
    cells = pd.DataFrame({"name": ["Athens", "Sofia", "Istanbul and around"], "country_code": ["GR", "BG", "TR"]})
    t = gs.stored_guesses(row, cells, 2)
    assert t["Likeliest countries"].tolist() == ["Türkiye (61%)", "Greece"]
    assert t["Likeliest cells"].tolist() == ["Istanbul and around, Türkiye", "Athens, Greece"]  # each its own country
    assert "Likeliest cells" not in gs.stored_guesses(row, None, 3).columns  # another model's cell ids: not named
