"""About: the model card (backbone, cells, data and caveats, metrics, Grad-CAM, privacy)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.about import model_card
from model.net.checkpoint import DEFAULT_CHECKPOINT

st.title(":material/info: About this model")
st.markdown("A PyTorch model that guesses where a street-level photo was taken: it scores a set of geographic "
            "**cells** (regions of the world built from the training locations), then reads off the most likely "
            "country, region and coordinates, and the point that maximises the expected GeoGuessr score.")

predictor = None
try:
    from app.common.resources import get_predictor

    predictor = get_predictor()
except Exception as e:  # noqa: BLE001 - the card still shows what it can
    st.warning(f"No model is loaded ({type(e).__name__}: {e}); the facts below that come from it are missing.")

st.header("Model")
if predictor is not None:
    facts = model_card.describe(predictor.meta or {}, len(predictor.cells.table))
    facts["Training"] = model_card.training_recipe(predictor.meta or {})  # a sentence, not the argument string
    facts["Backbone"] = model_card.BACKBONES.get(facts["Backbone"], facts["Backbone"])
    st.table({"": list(facts.keys()), "Value": list(facts.values())})
    cells = predictor.cells.table
    st.caption(f"{len(cells)} cells in {cells['country_code'].nunique()} countries.")

st.header("Training data and its caveats")
try:
    from app.common.resources import manifest_stats

    s = manifest_stats()
    st.markdown(f"{s['images']:,} images of {s['locations']:,} places in {s['countries']} countries "
                f"({s['with_coords']:,} places with coordinates); places per split: "
                + ", ".join(f"{k or 'none'} {v:,}" for k, v in sorted(s["splits"].items())) + ".")
    from app.explore.stats import source_label

    by = s["by_source"].rename(columns={"source": "Source", "locations": "Places", "countries": "Countries"})
    by.insert(1, "What", [source_label(x) for x in by["Source"]])
    st.dataframe(by, hide_index=True)
except Exception as e:  # noqa: BLE001
    st.caption(f"(Training data statistics unavailable here: {e})")
_held = None
try:
    from app.common.heldout import explain, heldout_for

    _held = heldout_for(None, getattr(predictor, "train_groups", ()))
    st.markdown(f"**Why the pages count the test places differently.** {explain(_held)}")
except Exception:  # noqa: BLE001 - no data on this machine: the card still shows the rest
    pass
st.markdown("""
- **Street View imagery, mostly.** The model learnt from Google Street View views and GeoGuessr screenshots.
  It knows what *Street View* looks like: the camera generation, the capture car, the watermark. Photos from a
  phone, indoors or off-road are out of its experience.
- **Uneven coverage.** Many places are in the United States, Europe and a dense Croatian set; large parts of
  Africa and Asia have few or no training images, so the model rarely guesses them and its confidence there means
  little. Countries without Street View coverage are almost absent.
- **Labels from reverse geocoding.** Country and region labels come from the nearest GeoNames place, so a few
  points near borders carry the neighbour's label.
- **Shortcuts.** A "Google" watermark and the blurred capture car sit in the bottom band of every view, and the
  game UI at the edges of screenshots: cues that identify the *source* rather than the place. {crop_note} Use
  Grad-CAM and the shortcut test on the Predict page to check what it uses.
- **Splits by place.** Train, validation and test sets never share a group of places within 1 km of each other.
""".format(crop_note=model_card.crop_note(predictor.meta if predictor is not None else None)))

_path = getattr(predictor, "path", None)
_shipped = _path is None or Path(_path).resolve() == DEFAULT_CHECKPOINT.resolve()
st.header("Test metrics of the shipped model" if _shipped else f"Test metrics of `{Path(_path).name}`")
if predictor is not None:
    table = model_card.headline_table((predictor.meta or {}).get("metrics"), model_card.shipped_intervals(_path))
    if table.empty:
        st.caption("The checkpoint carries no test metrics.")
    else:
        t = model_card.heldout_metrics((predictor.meta or {}).get("metrics"))
        loc, img = t.get("per_location", {}), t.get("per_image", {})
        if loc.get("n"):
            n_img = img.get("n", t.get("n_images", 0))
            st.markdown(f"Measured on the held-out test split: **{loc['n']:,} places** "
                        f"({loc.get('n_with_coords', 0):,} with coordinates) and their **{n_img:,} photos**.")
        st.table(table.set_index("Metric"))  # static: the explanations wrap instead of hiding off to the right
        st.caption("**95% interval**: Wilson for shares; for medians and means a bootstrap over the places of the "
                   "evaluation shipped with the model (when it matches the loaded checkpoint). **n**: the places a "
                   "figure is over (distances need coordinates). **Per place** is the headline: the app answers for a "
                   "place (Predict fuses the views you give it, "
                   "Play and Explore show every view of a place), and the four views of a Street View place are not "
                   "four independent tests. **Per photo** counts each photo on its own; its country accuracy is "
                   "higher mainly because the four-view Street View places, where the model does best, count four "
                   "times. With about 240 places, differences of 2-3 points between models are within the noise "
                   "(one place = 0.4 point).")
        if _held is not None and _held.label_only:
            st.caption(f"The {_held.label_only} screenshots without coordinates count for the country figures only; "
                       "distances, scores and the cell accuracy are over the places with coordinates.")

st.header("What Grad-CAM can and cannot tell")
st.markdown("""
- **Can:** show which parts of the picture raised the score of the chosen target (a cell, a country, any top-N
  guess), so you can spot a model leaning on the watermark, the capture car, the sky or the game UI. The
  *shortcut test* hides those parts and predicts again: if the answer moves, they mattered.
- **Cannot:** say *why* a region matters (a road line and its colour look the same to it), resolve details
  finer than the last convolution's grid (about 32 pixels of the model's input), or prove that the model would
  be right without a cue. It is one explanation method among many and can miss evidence spread over the image.
""")

st.header("Privacy")
st.markdown("Photos never leave this machine: the model runs locally, nothing is uploaded to a third party, and "
            "uploads are kept in memory for your session only. Street View images are fetched from Google with "
            "**your own** API key only when you ask; the key is used for that request and never shown, logged or "
            "saved. The map works offline; the optional OpenStreetMap layer loads tiles from the internet only if "
            "you switch it on. Note that a photo's own EXIF GPS data gives its location away: the app tells you when "
            "it finds some.")
