"""Issue 21 items 3-4 (Predict): a second model side by side on the same photo (maps, top-N, distances,
scores, each with its licence), chosen among the project's checkpoints and ``model.predictors``; a model
whose weights are missing says what would be downloaded (name, size, licence, the exact ``hf download``
command) and downloads only when its button is clicked, with a progress bar. Real shipped model, a second
real checkpoint (``make_dev_checkpoint``) and real shared images."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import MAIN, TIMEOUT, jpeg_with_gps, make_dev_checkpoint


@pytest.fixture(scope="module")
def second_checkpoint(tmp_path_factory) -> Path:
    return make_dev_checkpoint(tmp_path_factory.mktemp("second") / "second.pt")


def test_choices_list_checkpoints_and_predictors_with_what_they_need(tmp_path):
    from app.predict import models as pm

    (tmp_path / "assets" / "models").mkdir(parents=True)
    (tmp_path / "assets" / "models" / "other.pt").write_bytes(b"x")
    (tmp_path / "runs" / "exp1").mkdir(parents=True)
    (tmp_path / "runs" / "exp1" / "model.pt").write_bytes(b"x")
    extra = tmp_path / "elsewhere.pt"
    extra.write_bytes(b"x")
    w = SimpleNamespace(what="StreetCLIP", repo="geolocal/StreetCLIP", size="about 1.7 GB", licence="CC BY-NC 4.0",
                        command="hf download geolocal/StreetCLIP")
    avail = {"geoclip": SimpleNamespace(available=True, reason="", missing=()),
             "streetclip-zeroshot": SimpleNamespace(available=False, reason="not in the cache", missing=(w,))}
    spec = {n: SimpleNamespace(licence=f"{n} licence", description=f"{n}: what it is") for n in avail}
    got = pm.choices(None, root=tmp_path, extra=f"{extra}{__import__('os').pathsep}/no/such.pt", names=list(avail),
                     check=avail.__getitem__, spec=spec.__getitem__)
    labels = [c.label for c in got]
    assert labels[:3] == ["Checkpoint assets/models/other.pt", "Checkpoint runs/exp1/model.pt", "Checkpoint elsewhere.pt"]
    assert labels[3:] == ["geoclip", "streetclip-zeroshot"]
    sc = got[-1]
    assert not sc.available and sc.missing == (w,) and sc.licence == "streetclip-zeroshot licence"
    assert "needs a download" in pm.option_label(sc) and pm.option_label(got[3]) == "geoclip: geoclip"
    assert [c.label for c in pm.choices("geoclip", root=tmp_path, extra="", names=list(avail),
                                        check=avail.__getitem__, spec=spec.__getitem__)][-1] == "streetclip-zeroshot"


def test_pair_words_compare_two_answers():
    from app.common.results import Truth
    from app.predict.result_view import pair_words

    a = SimpleNamespace(lat=45.8, lon=16.0, country_code="HR", country="Croatia")
    b = SimpleNamespace(lat=46.05, lon=14.5, country_code="SI", country="Slovenia")
    s = pair_words(a, b, ("shipped", "geoclip"), Truth(45.8, 16.0, "t"))
    assert "**shipped** says **Croatia**, **geoclip** says **Slovenia**" in s and "shipped's guess is" in s
    assert pair_words(a, a, ("x", "y"), None).startswith("Both say **Croatia**")


def _app(shared_test_image) -> AppTest:
    path, lat, lon = shared_test_image
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    at.file_uploader(key="upload_files").set_value([("street.jpg", jpeg_with_gps(path, lat, lon), "image/jpeg")]).run()
    assert not at.exception, at.exception
    return at


def test_two_models_side_by_side_on_the_same_photo(model_env, has_real_model, second_checkpoint, shared_test_image,
                                                    monkeypatch):
    monkeypatch.setenv("GEOLOC_COMPARE_MODELS", str(second_checkpoint))
    at = _app(shared_test_image)
    at.toggle(key="cmp_on").set_value(True).run()
    sel = at.selectbox(key="cmp_model")
    assert f"Checkpoint {second_checkpoint}" in sel.options
    sel.set_value(str(second_checkpoint)).run()
    assert not at.exception, at.exception
    tables = [d.value for d in at.dataframe if "Place" in d.value.columns]
    assert len(tables) == 2 and all({"Probability", "Distance (km)", "Score"} <= set(t.columns) for t in tables)
    assert [m.label for m in at.metric].count("Distance (M)") == 2
    assert [m.label for m in at.metric].count("Score (E)") == 2
    heads = [m.value for m in at.markdown if m.value.startswith("##### ")]
    assert heads == ["##### default" if has_real_model else heads[0], "##### second"]
    lic = [c.value for c in at.caption if "Licence:" in c.value]
    assert len(lic) == 2 and all("EfficientNet" in c for c in lic)
    assert any("their guesses (M) are" in m.value for m in at.markdown)
    assert any(c.value.startswith("Both answered the same 1 view(s)") for c in at.caption)


def test_missing_weights_are_described_and_downloaded_only_on_request(model_env, shared_test_image, tmp_path,
                                                                      monkeypatch):
    import model.predictors as mp

    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    calls = []

    def fake_download(name, progress=None):
        calls.append(name)
        for done in (0, 5 * 2**20, 10 * 2**20):
            progress(done, 10 * 2**20)
        return ["snapshot"]

    monkeypatch.setattr(mp, "download", fake_download)
    at = _app(shared_test_image)
    at.toggle(key="cmp_on").set_value(True).run()
    at.selectbox(key="cmp_model").set_value("streetclip-zeroshot").run()
    assert not at.exception, at.exception
    assert any("cannot run on this machine yet" in w.value for w in at.warning)
    code = " ".join(c.value for c in at.code)
    assert "hf download geolocal/StreetCLIP" in code
    said = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "CC BY-NC 4.0" in said and "non-commercial" in said and "GB" in said
    assert calls == []  # nothing downloaded by looking
    assert len([d for d in at.dataframe if "Place" in d.value.columns]) == 1  # the app's own answer stays
    at.button(key="cmp_download_streetclip-zeroshot").click().run()
    assert not at.exception, at.exception
    assert calls == ["streetclip-zeroshot"]
    assert any("is now on this machine" in s.value for s in at.success)
