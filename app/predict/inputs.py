"""Input widgets of the Predict page: upload, camera, test-set image, Street View pull.

Each returns a :class:`PageInput` (the decoded views of one place, the actual location if known)
or None. Decoding errors and Street View failures are shown as messages; the page keeps working.
The Street View key is read from the password field, Streamlit secrets or the environment, used
for one request and never stored by this module, logged, cached or shown.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path

import streamlit as st

from app.common.photos import LoadedViews
from app.common.results import Truth
from app.predict.logic import OutOfRange, parse_latlon, testset_label, views_key
from app.predict.prepare import MODE_LABELS, needs_split_choice, prepare_views
from app.predict.session import session_store
from app.predict.sources import StreetViewRequest, error_message, fetch_streetview, find_api_key, request_from_link
from app.predict.upload import decoded, upload_input

SOURCES = ["Upload", "Camera", "Test set", "Street View"]


@dataclass
class PageInput:
    """What to predict: views of one place, its actual location if known, and a stable id."""

    key: str
    views: LoadedViews
    truth: Truth | None
    label: str
    from_exif: bool = False
    hidden_truth: Truth | None = None  # a known location kept from the page until the user reveals it


def _from_files(files: list[tuple[str, bytes]], label: str, tag: str) -> PageInput | None:
    lv = decoded(files, tag)
    truth = Truth(lv.gps[0], lv.gps[1], f"EXIF GPS of {lv.gps_from}") if lv.gps else None
    return PageInput(key=views_key(lv.blobs, tag), views=lv, truth=truth, label=label, from_exif=lv.gps is not None)


def camera_input() -> PageInput | None:
    shot = st.camera_input("Take a photo", key="camera_shot")
    if shot is None:
        return None
    return _from_files([("camera.jpg", shot.getvalue())], "camera photo", "camera")


def _random_test() -> None:
    n = st.session_state.get("_test_n", 0)
    if n:
        st.session_state["test_idx"] = random.randrange(n)


def test_input() -> PageInput | None:
    from app.common.resources import get_predictor, get_test_locations

    try:
        locs = get_test_locations()
    except Exception as e:  # noqa: BLE001 - no data is a message, not a crash
        st.warning(f"No test set available: {e}")
        return None
    seen = getattr(get_predictor(), "train_groups", set())
    if seen:  # never offer a place the model was trained or selected on
        locs = locs[~locs["group_id"].isin(seen)].reset_index(drop=True)
    if locs.empty:
        st.warning("The test set has no images with known coordinates on this machine.")
        return None
    st.session_state["_test_n"] = len(locs)
    if st.session_state.get("test_idx", 0) >= len(locs):
        st.session_state["test_idx"] = 0
    blind = st.toggle("Hide the answers", key="test_blind",
                      help="Pick a place without being told where it is, as in a game: the list shows numbers only, "
                           "and the map, distances and scores leave the actual location out until you reveal it.")
    c1, c2, c3 = st.columns([3, 1, 2], vertical_alignment="bottom")
    i = c1.selectbox("Test-set location (held out from training; " + ("answers hidden)" if blind else
                                                                     "the map shows the answer)"), range(len(locs)),
                     format_func=lambda j: testset_label(j, locs.iloc[j], hidden=blind), key="test_idx")
    c2.button("Random", icon=":material/casino:", on_click=_random_test, width="stretch")
    row = locs.iloc[int(i)]
    paths = list(row["paths"])
    if len(paths) > 1 and not c3.checkbox(f"Use all {len(paths)} views (fused)", value=True, key="test_all_views"):
        paths = paths[:1]
    files, missing = [], []
    for path in paths:
        try:
            files.append((Path(path).name, Path(path).read_bytes()))
        except OSError:
            missing.append(f"{Path(path).name}: cannot read the test image")
    lv = decoded(files, "test")
    lv.errors = missing + [e for e in lv.errors if e not in missing]
    truth = Truth(float(row["lat"]), float(row["lon"]), "test set")
    shown = not blind or st.toggle("Reveal the actual location", key=f"test_reveal_{int(i)}",
                                   help="Shows where this place is: on the map, with distances and scores.")
    return PageInput(key=views_key(lv.blobs, "test"), views=lv, truth=truth if shown else None,
                     label=f"test-set location #{int(i) + 1}", hidden_truth=None if shown else truth)


def _secrets():
    try:
        return st.secrets if st.secrets.load_if_toml_exists() else None
    except Exception:  # noqa: BLE001 - an unreadable secrets file means "no secrets"
        return None


STREETVIEW_KEY_DOC = "https://developers.google.com/maps/documentation/streetview/get-api-key"


def streetview_input() -> PageInput | None:
    st.info("Pulling a Street View image needs **your own Google Maps Platform API key** with the Street View "
            "Static API enabled; Google bills each image request to that key's project (a free monthly allowance "
            f"applies). [How to get a key]({STREETVIEW_KEY_DOC}). The key is used for one request at a time and is "
            "never shown, logged, cached or saved.", icon=":material/key:")
    with st.form("sv_form", border=True):
        place = st.text_input("Google Maps / Street View link, or coordinates 'lat, lon'",
                              placeholder="https://www.google.com/maps/@45.8150,15.9819,3a,75y,90h,90t/… or 45.815, 15.982",
                              key="sv_place")
        c1, c2, c3 = st.columns(3)
        heading = c1.slider("Heading (°, 0 = north)", 0, 359, 0, key="sv_heading")
        pitch = c2.slider("Pitch (°)", -90, 90, 0, key="sv_pitch")
        fov = c3.slider("Field of view (°)", 10, 120, 90, key="sv_fov")
        if find_api_key(None, _secrets()):
            st.caption("An API key from the environment or Streamlit secrets is available: leave the field empty to "
                       "use it.")
        typed = st.text_input("Your Street View Static API key", type="password", key="sv_key",
                              help="Used for this request only. Leave empty to use GOOGLE_MAPS_API_KEY from the "
                                   "environment or .streamlit/secrets.toml. Never shown, logged or saved.")
        go = st.form_submit_button("Fetch the Street View image")
    if go:
        _fetch(place, float(heading), float(pitch), float(fov), typed)
    got = st.session_state.get("sv_result")
    if not got:
        return None
    lv = decoded([("streetview.jpg", got["bytes"])], "streetview")
    st.caption(f"Street View panorama {got['pano']} ({got['date'] or 'date unknown'}), heading {got['heading']:g}°, "
               f"pitch {got['pitch']:g}°, fov {got['fov']:g}°. {got['copyright']}")
    return PageInput(key=views_key(lv.blobs, "streetview"), views=lv,
                     truth=Truth(got["lat"], got["lon"], "Street View panorama location"), label="Street View image")


def _fetch(place: str, heading: float, pitch: float, fov: float, typed: str) -> None:
    """Validate, then pull one image; on success store it (never the key) in session state. A failed
    request clears the previous image, so no stale picture or prediction stays under the error."""
    from model.collect.streetview import LinkError

    st.session_state.pop("sv_result", None)

    try:
        try:
            lat, lon = parse_latlon(place)
            req = StreetViewRequest(lat=lat, lon=lon, heading=heading, pitch=pitch, fov=fov)
        except OutOfRange:
            raise  # coordinates, but not on Earth: its own message
        except ValueError as not_latlon:
            if "/" not in place and "google." not in place.lower():  # not a link: say what a place can be
                raise LinkError(f"{not_latlon}, or a Google Maps / Street View link (place names are not "
                                "looked up)") from None
            req = request_from_link(place, heading, pitch, fov)
    except (LinkError, ValueError) as e:
        st.error(error_message(LinkError(str(e))))
        return
    key = find_api_key(typed, _secrets())
    if not key:
        from model.collect.streetview import MissingKeyError

        st.error(error_message(MissingKeyError("no key")))
        return
    try:
        with st.spinner("Fetching from Street View…"):
            data, meta = fetch_streetview(key, req)
    except Exception as e:  # noqa: BLE001 - every failure becomes a key-free message
        st.error(error_message(e))
        return
    finally:
        del key
    st.session_state["sv_result"] = {"bytes": data, "lat": meta.lat, "lon": meta.lon, "pano": meta.pano_id,
                                     "date": meta.date, "copyright": meta.copyright, "heading": req.heading,
                                     "pitch": req.pitch, "fov": req.fov}


def choose_input() -> PageInput | None:
    """The source picker and its widgets; the chosen source's input, or None."""
    src = st.segmented_control("Photo source", SOURCES, default="Upload", key="source")
    if src == "Camera":
        return camera_input()
    if src == "Test set":
        return test_input()
    if src == "Street View":
        return streetview_input()
    return upload_input(_from_files)


def prepared_input(inp: PageInput, input_size: int) -> PageInput | None:
    """The views the model will see (``app.predict.prepare``), with the messages said above the answer:
    refused tiny photos (errors), small ones (warnings), how wide photos and panoramas were split (info,
    with a choice of split mode when one of them is wide). None when no view is left."""
    mode = "auto"
    if needs_split_choice(inp.views):
        mode = st.segmented_control("Wide photos and 360° panoramas", list(MODE_LABELS), format_func=MODE_LABELS.get,
                                    default="auto", key="split_mode",
                                    help="Automatic: a 2:1 photo (or one tagged as a photo sphere) is a 360° panorama and "
                                         "becomes 4 perspective views; a photo wider than 1.6:1 becomes square tiles; "
                                         "the model otherwise sees only the centre square.") or "auto"
    k = f"{inp.key}|{mode}|{input_size}"
    store = session_store()
    prep = store.get("prepared", k)
    if prep is None:
        prep = store.put("prepared", k, prepare_views(inp.views, input_size, mode))
    for msg in prep.refused:
        st.error(msg, icon=":material/photo_size_select_small:")
    for msg in prep.warnings:
        st.warning(msg, icon=":material/photo_size_select_small:")
    for msg in prep.notes:
        st.info(msg + " The views are shown below, under 'What did the model look at?'.", icon=":material/panorama:")
    if not prep.images:
        return None
    lv = replace(inp.views, images=prep.images, names=prep.names)
    return replace(inp, key=views_key(inp.views.blobs, k), views=lv)
