"""The data source of the Explore page (Streamlit): which evaluation to explore, the loaded model's
(the shipped one installed when its hashes match, else computed once with a progress bar and cached
on disk) or one read from an evaluation folder, and the line that says what it holds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app.common import shipped
from app.common.heldout import count_heldout, heldout_for, page_line
from app.explore import data as xd
from app.explore.ui import progress_callback

MODES = ("Evaluate the loaded model", "Open an evaluation folder")
SPLITS = ("test", "val", "train", "all")
CONFIRM_IMAGES = 1500  # a first evaluation larger than this waits for a click (val: 704 images, 2 min)
SECONDS_PER_IMAGE = 0.17  # measured: the val split's 704 images in 118 s on 2 cores
NOT_HELD_OUT = {
    "val": "The val split chose the training epoch and the retrieval settings, and its places are in the "
           "retrieval gallery (the best guess can land on the place itself): these numbers flatter the model. "
           "Use test for honest figures.",
    "train": "The model was trained on these places: these numbers measure memorisation, not geolocation.",
    "all": "Most of these places were used for training or model selection: these numbers flatter the model.",
}


def _default_manifest() -> str:
    from model.data.manifest import default_manifest_path

    p = default_manifest_path()
    return str(p) if p else ""


def _computed(predictor: Any) -> tuple[Path, Path, str]:
    """Manifest and split widgets: (evaluation folder, manifest, split) of the loaded model."""
    from model.data.manifest import ManifestError, resolve_manifest

    c1, c2 = st.columns([4, 1])
    text = c1.text_input("Manifest (CSV, or a folder with manifest.csv)", value=_default_manifest(), key="ex_manifest")
    split = c2.selectbox("Split", SPLITS, key="ex_split")
    try:
        man = resolve_manifest(text.strip() or None)
    except ManifestError as e:
        st.error(str(e))
        st.stop()
    return xd.eval_dir_for(predictor.path, man, split), man, split


def _short(path: str | Path) -> str:
    """'geodata/manifest.csv': enough of a path to recognise it, nothing of the machine's layout."""
    p = Path(path)
    return "/".join(p.parts[-2:])


def _evaluate(predictor: Any, folder: Path, man: Path, split: str) -> None:
    """First use of a model on a split: evaluate it with a progress bar (the result is cached on disk)."""
    from model.data.manifest import ManifestError, read_manifest

    try:
        rows = xd.select_split(read_manifest(man), split)
    except ManifestError as e:  # malformed CSV: say why (line and reason), keep the page
        st.error(f"This manifest cannot be used: {e}")
        st.stop()
    n = len(rows)
    if n == 0:
        st.error(f"`{_short(man)}` has no images in the {split} split.")
        st.stop()
    why = shipped.mismatch(predictor.path, man, split)
    if n > CONFIRM_IMAGES and not st.button(f"Evaluate {n:,} images (about {n * SECONDS_PER_IMAGE / 60:.0f} min "
                                            "on 2 CPU cores)", key="ex_eval_go", icon=":material/play_arrow:"):
        st.info(f"The {split} split of `{_short(man)}` has not been evaluated with this model yet.")
        st.stop()
    note = st.info(f"First use of this model on the {split} split of `{_short(man)}`: evaluating its {n:,} images "
                   f"once (about {n * SECONDS_PER_IMAGE / 60:.0f} min on 2 CPU cores; no shipped evaluation applies: "
                   f"{why}). The result is cached on disk for every later visit and every user.",
                   icon=":material/hourglass_top:")
    bar = st.progress(0.0, text="Evaluating…")
    try:
        xd.run_evaluation(predictor, man, split, folder, progress=progress_callback(bar, "Images evaluated"))
    except (ValueError, ManifestError) as e:
        st.error(f"The evaluation failed: {e}")
        st.stop()
    bar.empty()
    note.empty()


def _from_folder() -> tuple[Path, str | None]:
    """Folder widgets: (evaluation folder, manifest its image paths are relative to)."""
    c1, c2 = st.columns(2)
    folder = c1.text_input("Evaluation folder (holding predictions.csv and metrics.json)",
                           value="runs/eval-default", key="ex_folder",
                           help="The output folder of an evaluation run (see Reproduce below when it is missing)")
    man = c2.text_input("Manifest the images' paths are relative to", value=_default_manifest(),
                        key="ex_folder_manifest")
    f = Path(folder.strip()).expanduser()
    from model.data.manifest import ManifestError, resolve_manifest

    try:  # a folder holding manifest.csv is accepted, as everywhere else
        man_path = str(resolve_manifest(man.strip() or None))
    except ManifestError as e:
        st.warning(f"{e} Images of this evaluation cannot be shown.")
        man_path = None
    return (f if f.is_absolute() else xd.ROOT / f), man_path


def choose_evaluation(predictor: Any) -> xd.Evaluation:
    """The evaluation to explore (data source widgets in an expander). A first use of the loaded model on a
    split installs the evaluation shipped with the checkpoint when its checkpoint and manifest hashes
    match (seconds), else evaluates with a progress bar; stops the page if there is none."""
    with st.expander("Data: which evaluation to explore", icon=":material/dataset:"):
        mode = st.radio("Source", MODES, horizontal=True, key="ex_mode", label_visibility="collapsed")
        if mode == MODES[0]:
            folder, man, split = _computed(predictor)
        else:
            (folder, man), split = _from_folder(), ""
    if not xd.has_evaluation(folder):
        if mode != MODES[0]:
            st.error(f"No predictions.csv in `{folder}`: evaluate the loaded model instead (Data, above), or make "
                     "one with the command under Reproduce.")
            with st.expander("Reproduce"):
                st.code(f"python -m model.evaluate --checkpoint {predictor.path} --split test --out {folder}",
                        language="bash")
            st.stop()
        if not shipped.install_matching(predictor.path, man, split, folder):
            _evaluate(predictor, folder, man, split)
    elif mode == MODES[0]:  # an earlier install of a since regenerated shipped evaluation: the new one
        shipped.refresh_install(predictor.path, man, split, folder)
    ev = xd.load_evaluation(folder, man)
    if split in NOT_HELD_OUT:
        st.warning(NOT_HELD_OUT[split], icon=":material/warning:")
    locs = ev.locations
    if locs.empty:
        st.warning("The evaluation holds no location.")
        st.stop()
    st.caption(f"{_provenance(ev)}: {_counts_line(ev, predictor)}. Each location's views are fused into one "
               "prediction.", help=_counts_help(ev, predictor))
    if ev.checkpoint and Path(ev.checkpoint).resolve() != Path(predictor.path).resolve():
        st.warning(f"This evaluation was made with `{Path(ev.checkpoint).name}`, not the loaded model "
                   f"(`{Path(predictor.path).name}`): the detail panel, Grad-CAM and the audit use the loaded model.")
    return ev


def _provenance(ev: xd.Evaluation) -> str:
    """'Model default.pt on the test split of geodata/manifest.csv (evaluation shipped with the model)'."""
    what = f"the {ev.info['split']} split of `{_short(ev.info['manifest'])}`" if ev.info.get("manifest") else \
        f"the evaluation in `{_short(ev.folder)}`"
    ship = " (evaluation shipped with the model: same checkpoint and data, checked by their hashes)" \
        if ev.info.get("shipped") else ""
    return f"Model `{Path(ev.checkpoint).name or '?'}` on {what}{ship}"


def _heldout(ev: xd.Evaluation, predictor: Any):
    """The held-out breakdown (``app.common.heldout``) of the evaluated places: from the manifest for an
    evaluation of a split, else from the predictions themselves."""
    from model.data.manifest import ManifestError

    split = ev.info.get("split") or "all"
    if ev.info.get("manifest"):
        try:
            return heldout_for(ev.info["manifest"], getattr(predictor, "train_groups", ()), split)
        except (ManifestError, OSError):
            pass
    first = ev.images.drop_duplicates("location_id")
    rows = pd.DataFrame({"location_id": first["location_id"], "lat": first.get("true_lat"),
                         "lon": first.get("true_lon")})
    return count_heldout(rows.assign(split="all"), "all", check_files=False)


def _counts_line(ev: xd.Evaluation, predictor: Any) -> str:
    h = _heldout(ev, predictor)
    if h.locations != len(ev.locations):  # an evaluation folder of other data: count what it holds
        return f"{len(ev.locations):,} locations, {len(ev.images):,} images"
    return page_line(h, "explore").replace("test place", f"{h.split} place") + f", {h.images:,} images"


def _counts_help(ev: xd.Evaluation, predictor: Any) -> str:
    from app.common.heldout import explain

    h = _heldout(ev, predictor)
    return explain(h) if h.locations == len(ev.locations) else ""
