"""The data source of the Explore page (Streamlit): which evaluation to explore and the line that says what
it holds. Three sources:

- **a data set** (the session's, ``app.common.datasets``): the loaded model evaluated on one split of it,
  the shipped evaluation installed when its checkpoint and manifest hashes match (seconds), else computed
  once with a progress bar and cached on disk per model, data set and split;
- **the shipped evaluation** (``assets/models/NAME.eval/``, ``app.common.shipped``), read in place: what
  a machine without any data opens (predictions and metrics, no pixels);
- **an evaluation folder** (the output of ``python -m model.evaluate``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from app.common import datasets as ds
from app.common import shipped
from app.common.dataset_picker import dataset_picker, no_data_help
from app.explore import data as xd
from app.explore import provenance as pv
from app.explore.ui import progress_callback

MODES = {"dataset": "Data set", "shipped": "Shipped evaluation", "folder": "Evaluation folder"}
MODE_HELP = ("Data set: the loaded model evaluated on a data set of this machine (once, then cached). "
             "Shipped evaluation: the evaluation that comes with the model (predictions only, no images). "
             "Evaluation folder: the output of `python -m model.evaluate --out DIR`.")
SPLITS = ("test", "val", "train", "all")
CONFIRM_IMAGES = 1500  # a first evaluation larger than this waits for a click (val: 704 images, 2 min)
SECONDS_PER_IMAGE = 0.17  # measured: the val split's 704 images in 118 s on 2 cores


@dataclass(frozen=True)
class Source:
    """The evaluation the page explores and what the page may do with it: ``mode`` (a key of
    :data:`MODES`), ``attribution`` (to show beside its images), ``pixels`` (its images are on this
    machine), ``writable`` (``ev.folder`` is the page's own cache folder, where a server-wide audit may be
    written on an explicit choice; never the shipped sidecar or a user's folder)."""

    ev: xd.Evaluation
    mode: str
    attribution: str | None = None
    pixels: bool = True
    writable: bool = False


def _computed(predictor: Any) -> tuple[Path, Path, str, ds.DataSet]:
    """Data-set and split widgets: (evaluation folder, manifest, split, data set) of the loaded model."""
    c1, c2 = st.columns([4, 1])
    with c1:
        active = dataset_picker("ex")
    split = c2.selectbox("Split", SPLITS, key="ex_split")
    if active is None:
        no_data_help("ex_nodata")
        st.stop()
    return xd.eval_dir_for(predictor.path, active.manifest, split), active.manifest, split, active


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
        st.error(f"`{pv.short(man)}` has no images in the {split} split.")
        st.stop()
    why = shipped.mismatch(predictor.path, man, split) if Path(predictor.path).is_file() else \
        "this model is not a checkpoint file"
    minutes = f"about {max(1, round(n * SECONDS_PER_IMAGE / 60))} min on 2 CPU cores"
    if n > CONFIRM_IMAGES and not st.button(f"Evaluate {n:,} images ({minutes})", key="ex_eval_go",
                                            icon=":material/play_arrow:"):
        st.info(f"The {split} split of `{pv.short(man)}` has not been evaluated with this model yet.")
        st.stop()
    note = st.info(f"First use of this model on the {split} split of `{pv.short(man)}`: evaluating its {n:,} images "
                   f"once ({minutes}; no shipped evaluation applies: {why}). The result is cached on this "
                   "machine for every later visit.", icon=":material/hourglass_top:")
    bar = st.progress(0.0, text="Evaluating…")
    try:
        xd.run_evaluation(predictor, man, split, folder, progress=progress_callback(bar, "Images evaluated"))
    except (ValueError, ManifestError, OSError) as e:
        st.error(f"The evaluation failed: {e}")
        st.stop()
    bar.empty()
    note.empty()


def _from_folder() -> tuple[Path, str | None]:
    """Folder widgets: (evaluation folder, manifest its image paths are relative to, if any)."""
    c1, c2 = st.columns(2)
    folder = c1.text_input("Evaluation folder (holding predictions.csv and metrics.json)",
                           value="runs/eval-default", key="ex_folder",
                           help="The output folder of an evaluation run (see Reproduce below when it is missing)")
    active = ds.active_dataset()
    man = c2.text_input("Manifest the images' paths are relative to (optional)",
                        value=str(active.manifest) if active else "", key="ex_folder_manifest")
    f = Path(folder.strip()).expanduser()
    man_path = None
    if man.strip():
        try:
            man_path = str(ds.custom_dataset(man).manifest)
        except Exception as e:
            st.warning(f"{e} The images of this evaluation cannot be shown.")
    return (f if f.is_absolute() else xd.ROOT / f), man_path


def _modes(side: Path | None) -> list[str]:
    return [m for m in MODES if m != "shipped" or side is not None]


def choose_evaluation(predictor: Any) -> Source:
    """The evaluation to explore (source widgets in an expander); stops the page when there is none. With no
    data set on this machine the shipped evaluation opens (if the loaded checkpoint ships one)."""
    side = shipped.shipped_folder(predictor.path)
    active = ds.active_dataset()
    modes = _modes(side)
    if st.session_state.get("ex_mode") not in modes:
        st.session_state["ex_mode"] = "dataset" if active is not None or side is None else "shipped"
    with st.expander("Data: which evaluation to explore", icon=":material/dataset:",
                     expanded=active is None and side is None):
        mode = st.radio("Source", modes, format_func=MODES.get, horizontal=True, key="ex_mode", help=MODE_HELP)
        if mode == "dataset":
            folder, man, split, active = _computed(predictor)
        elif mode == "shipped":
            folder, split = side, str(shipped.read_info(side).get("split", ""))
            man = shipped.matching_manifest(side, [d.manifest for d in ds.available_datasets()])
            st.caption(pv.shipped_note(side, man))
        else:
            (folder, man), split = _from_folder(), ""
    if mode == "shipped" and active is None:
        st.info("No data set on this machine: this is the evaluation shipped with the model (its predictions "
                "and figures, not its images). Views that need the photos say so; to explore photos of your own "
                "or the open demo set, see *Get a data set* below.", icon=":material/inventory_2:")
        with st.expander("Get a data set: your photos, the open demo set, or a manifest",
                         icon=":material/add_photo_alternate:"):
            no_data_help("ex_shipped_nodata")
    if not xd.has_evaluation(folder):
        if mode == "folder":
            st.error(f"No predictions.csv in `{folder}`: pick a data set or the shipped evaluation instead (Data, "
                     "above), or make one with the command under Reproduce.")
            with st.expander("Reproduce"):
                st.code(f"python -m model.evaluate --checkpoint {predictor.path} --split test --out {folder}",
                        language="bash")
            st.stop()
        if not (Path(predictor.path).is_file() and shipped.install_matching(predictor.path, man, split, folder)):
            _evaluate(predictor, folder, man, split)
    elif mode == "dataset" and Path(predictor.path).is_file():  # an earlier install of a since regenerated sidecar
        shipped.refresh_install(predictor.path, man, split, folder)
    ev = xd.load_evaluation(folder, man)
    if split in pv.NOT_HELD_OUT:
        st.warning(pv.NOT_HELD_OUT[split], icon=":material/warning:")
    if ev.locations.empty:
        st.warning("The evaluation holds no location.")
        st.stop()
    pixels = any(xd.pixels_here(p) for p in ev.locations["paths"].head(20))
    st.caption(f"{pv.provenance(ev, mode, side)}: {pv.counts_line(ev, predictor)}. Each location's views are fused "
               "into one prediction." + ("" if pixels else " Its images are not on this machine."),
               help=pv.counts_help(ev, predictor))
    ck = ev.checkpoint
    if not pv.same_model(ck, predictor.path):
        st.warning(f"This evaluation was made with `{Path(ck).name}`, not the loaded model "
                   f"(`{Path(str(predictor.path)).name}`): the detail panel, Grad-CAM and the audit use the loaded "
                   "model.")
    attribution = active.attribution if mode == "dataset" and active is not None else None
    return Source(ev, mode, attribution, pixels, writable=mode == "dataset" and _under(folder, xd.cache_root()))


def _under(p: Path, root: Path) -> bool:
    try:
        Path(p).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False
