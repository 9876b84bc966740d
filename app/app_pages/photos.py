"""Your photos: upload many photos or a zip, see every one on one map, download GeoJSON / KML / CSV.

Thin page: staging and the import + prediction are ``app.batch.run``, where uploads live
``app.batch.uploads``, the table and filters ``app.batch.table``, the map ``app.batch.maps``, the files
``model.export.formats``. An upload is this visitor's (``data/.uploads/<session>/``, offered in this
session's data-set picker); "Save into data/photos" makes it every visitor's data set.
"""
from __future__ import annotations

import uuid

import streamlit as st

from app.batch import maps as bmaps
from app.batch import table as bt
from app.batch import uploads
from app.batch.run import REFUSALS, Batch, import_and_predict
from app.common import datasets as ds
from app.common.widgets import predictor_or_stop, show_map
from model.data.photofiles import HEIF_HINT, heif_available
from model.export.formats import to_csv, to_geojson, to_kml

BATCH, SID = "photos_batch", "geoloc_session_id"
MIME = {"geojson": "application/geo+json", "kml": "application/vnd.google-earth.kml+xml", "csv": "text/csv"}

st.title(":material/photo_library: Your photos")
st.markdown("Upload photos (or a zip of them): the model places every one, and all of them appear on one map. "
            "Where a photo has GPS in its EXIF (phones record it when location is on for the camera) the map "
            "draws the line from its real position to the model's guess. Download the answers as GeoJSON, KML "
            "(Google Earth) or CSV. The copies kept for Play and Explore have **all metadata removed**, so nothing "
            "they show gives the place away; the originals are deleted once read.")
st.caption(f"The same from a terminal: `{ds.PHOTOS_COMMAND}` (import) and "
           "`python -m model.predict --batch SRC --out photos.geojson` (one map file).")


def _session_id() -> str:
    if SID not in st.session_state:
        st.session_state[SID] = uuid.uuid4().hex
    return st.session_state[SID]


def _run(files) -> None:
    predictor = predictor_or_stop()
    data = [(f.name, f.getvalue()) for f in files]
    bar = st.progress(0.0, text="Reading the photos…")

    def on_import(done: int, total: int, name: str) -> None:
        bar.progress(0.5 * done / max(total, 1), text=f"Importing {done:,} of {total:,}: {name}")

    def on_predict(done: int, total: int, name: str) -> None:
        bar.progress(0.5 + 0.5 * done / max(total, 1), text=f"Predicting {done:,} of {total:,}: {name}")

    try:
        batch = import_and_predict(data, ds.DATA, _session_id(), predictor, on_import=on_import, on_predict=on_predict)
    except REFUSALS as e:
        bar.empty()
        st.error(f"This upload could not be imported: {e}")
        return
    bar.empty()
    ds.add_upload(batch.key, batch.label, batch.manifest)
    st.session_state[BATCH] = batch
    for k in ("photos_f_country", "photos_f_gps", "photos_f_err"):
        st.session_state.pop(k, None)


_heic = "HEIC" if heif_available() else "HEIC with pi-heif installed"
files = st.file_uploader(f"Photos (JPEG, PNG, WebP, {_heic}) or a zip of photos", accept_multiple_files=True,
                         key="photos_upload", help="Any file is taken: one that is not a photo or a zip is named "
                         "on the page with the reason." + ("" if heif_available() else f" {HEIF_HINT}."))  # no type filter: the browser would refuse in a tooltip only
if st.button("Import and place them", type="primary", disabled=not files, icon=":material/upload:"):
    _run(files)

batch: Batch | None = st.session_state.get(BATCH)
if batch is None:
    st.info("Nothing uploaded in this session yet.")
    st.stop()

st.subheader(f"{batch.name}: every photo on one map")
st.success(batch.summary.replace("\n", "  \n"))
if batch.skipped:
    with st.expander(f"{len(batch.skipped):,} file(s) skipped, with the reason"):
        st.dataframe([{"File": n, "Reason": r, "Detail": d} for n, r, d in batch.skipped], hide_index=True)
res = batch.result
if res.failed:
    st.warning(f"{len(res.failed):,} photo(s) could not be predicted: "
               + "; ".join(f"{a.photo} ({a.error})" for a in res.failed[:5]) + ("…" if len(res.failed) > 5 else ""))
for note in res.notes[:5]:
    st.caption(f"Note: {note}")

df = bt.answers_frame(res)
cols = st.columns(4)
for col, (k, v) in zip(cols, bt.headline(df).items()):
    col.metric(k, v)

f1, f2, f3 = st.columns([2, 1, 2])
countries = sorted(c for c in df["country"].dropna().unique() if c)
chosen = f1.multiselect("Predicted country", countries, key="photos_f_country", placeholder="All countries")
gps = f2.radio("GPS in EXIF", bt.GPS_CHOICES, key="photos_f_gps", horizontal=False)
bounds = bt.error_bounds(df)
err = None
if bounds is not None and bounds[1] > bounds[0]:
    err = f3.slider("Error (km, photos with GPS)", bounds[0], bounds[1], bounds, step=1.0, key="photos_f_err",
                    help="Narrowing it keeps only photos with GPS whose error lies in the range.")
shown = bt.apply_filter(df, bt.BatchFilter(tuple(chosen), gps, err))
st.caption(f"Showing {len(shown):,} of {len(df):,} photos. The map and the downloads follow the filters.")

show_map(bmaps.collection_map(shown), key="photos_map", height=520, legend=bmaps.LEGEND)
st.dataframe(bt.display_table(shown), hide_index=True, width="stretch")

sub = bt.subset(res, shown["photo"])
d1, d2, d3 = st.columns(3)
stem = uploads.upload_name([batch.name])
for col, (ext, text) in zip((d1, d2, d3), (("geojson", to_geojson(sub)), ("kml", to_kml(sub)), ("csv", to_csv(sub)))):
    col.download_button(f"Download {ext.upper()} ({len(sub.answers):,} photos)", text, file_name=f"{stem}.{ext}",
                        mime=MIME[ext], key=f"photos_dl_{ext}", icon=":material/download:")

with st.expander("Look at one photo (its copy without metadata)"):
    names = [n for n in shown["photo"] if n in batch.images]
    pick = st.selectbox("Photo", names, key="photos_pick") if names else None
    if pick:
        row = shown[shown["photo"] == pick].iloc[0]
        st.image(str(batch.images[pick]), caption=bmaps.photo_tooltip(row), width=480)

st.subheader("Play and explore these photos")
if batch.with_gps:
    c1, c2 = st.columns(2)
    if c1.button("Use them in Play and Explore (this session)", key="photos_use"):
        ds.choose(batch.key)
        st.success("Play and Explore now use this upload, for you only.")
    name = c2.text_input("Save into data/photos as (every visitor can then choose it)", value=batch.name,
                         key="photos_save_name")
    if c2.button("Save for everyone", key="photos_save"):
        try:
            man = uploads.save_to_photos(batch.folder, ds.DATA, name)
        except uploads.UploadError as e:
            st.error(str(e))
        else:
            d = ds.choose(f"photos:{man.parent.name}")
            st.success(f"Saved as {d.label} (data/photos/{man.parent.name}, git-ignored); this session uses it.")
else:
    st.info("None of these photos has a GPS position: they can be placed and mapped, not played or scored.")
