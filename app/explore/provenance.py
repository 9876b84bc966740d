"""What the Explore page says about its evaluation (no Streamlit): where it comes from, how many places it
holds and why the pages count them differently (``app.common.heldout``), and whether it is the loaded
model's."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from app.common import shipped
from app.common.heldout import HeldOut, count_heldout, explain, heldout_for, page_line
from app.explore import data as xd

NOT_HELD_OUT = {
    "val": "The val split chose the training epoch and the retrieval settings, and its places are in the "
           "retrieval gallery (the best guess can land on the place itself): these numbers flatter the model. "
           "Use test for honest figures.",
    "train": "The model was trained on these places: these numbers measure memorisation, not geolocation.",
    "all": "Most of these places were used for training or model selection: these numbers flatter the model.",
}


def short(path: str | os.PathLike) -> str:
    """'geodata/manifest.csv': enough of a path to recognise it, nothing of the machine's layout."""
    return "/".join(Path(path).parts[-2:])


def same_model(evaluated: str, loaded: str | os.PathLike) -> bool:
    """True when an evaluation's checkpoint (``evaluated``, "" if unknown) is the loaded model: the same
    file when both are files here, else the same name (a shipped evaluation names its checkpoint only)."""
    if not evaluated:
        return True
    a, b = Path(evaluated), Path(str(loaded))
    if a.is_file() and b.is_file():
        return a.resolve() == b.resolve()
    return a.name == b.name


def shipped_note(side: Path, manifest: Path | None) -> str:
    """The caption under the shipped source: what it is and whether its images are here."""
    info = shipped.read_info(side)
    what = (f"The evaluation shipped with `{info.get('checkpoint', '?')}`: the {info.get('split', '?')} split of its "
            f"data set ({info.get('n_locations', '?')} places, {info.get('n_images', '?')} images), made "
            f"{info.get('created', '?')}; predictions and figures only, no pixels.")
    if manifest is not None:
        return what + f" Its images are on this machine (`{short(manifest)}`, same bytes)."
    return what + " Its images are not on this machine."


def provenance(ev: xd.Evaluation, mode: str = "dataset", side: Path | None = None) -> str:
    """'Model `default.pt` on the test split of `geodata/manifest.csv` (evaluation shipped with the model)'."""
    if mode == "shipped" and side is not None:
        info = shipped.read_info(side)
        return (f"Model `{info.get('checkpoint', '?')}` on the {info.get('split', '?')} split of its data set "
                "(the evaluation shipped with the model, read as it is)")
    what = f"the {ev.info['split']} split of `{short(ev.info['manifest'])}`" if ev.info.get("manifest") else \
        f"the evaluation in `{short(ev.folder)}`"
    ship = " (evaluation shipped with the model: same checkpoint and data, checked by their hashes)" \
        if ev.info.get("shipped") else ""
    return f"Model `{Path(ev.checkpoint).name or '?'}` on {what}{ship}"


def heldout(ev: xd.Evaluation, predictor: Any) -> HeldOut:
    """The held-out breakdown of the evaluated places: from the manifest for an evaluation of a split, else
    from the predictions themselves."""
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


def counts_line(ev: xd.Evaluation, predictor: Any) -> str:
    """'241 test places: 195 with coordinates ... , 673 images' (or the plain counts of other data)."""
    h = heldout(ev, predictor)
    if h.locations != len(ev.locations) or not ev.info.get("manifest"):
        n_xy = int(ev.locations["true_lat"].notna().sum())
        return f"{len(ev.locations):,} places ({n_xy:,} with coordinates), {len(ev.images):,} images"
    return page_line(h, "explore").replace("test place", f"{h.split} place") + f", {h.images:,} images"


def counts_help(ev: xd.Evaluation, predictor: Any) -> str:
    """The held-out explanation (``app.common.heldout.explain``) when it describes these places, else ""."""
    h = heldout(ev, predictor)
    return explain(h) if h.locations == len(ev.locations) and ev.info.get("manifest") else ""


def describe_folder(folder: str | os.PathLike, code: bool = True) -> str:
    """'`runs/eval-x` · `default.pt` · test split of `geodata/manifest.csv`' for an evaluation folder (its
    source.json, shipped.json or metrics.json); ``code=False`` without the backticks (for a selectbox)."""
    import json

    f = Path(folder)
    doc: dict = {}
    for name in ("source.json", shipped.INFO, "metrics.json"):
        try:
            doc = {**json.loads((f / name).read_text()), **doc}
        except (OSError, ValueError):
            continue
    q = (lambda t: f"`{t}`") if code else (lambda t: t)  # noqa: E731
    ck = Path(str(doc.get("checkpoint") or "")).name or str(doc.get("model") or "")
    man = doc.get("manifest") or doc.get("data") or ""
    split = doc.get("split") or ""
    where = f"{split} split of {q(short(man))}" if split and man else (q(short(man)) if man else "")
    where += " (shipped)" if (f / shipped.INFO).is_file() else ""
    return " · ".join(b for b in (q(short(f)), q(ck) if ck else "", where) if b)


def predictions_digest(folder: str | os.PathLike) -> str | None:
    """SHA-1 of an evaluation folder's predictions as text (``predictions.csv.gz`` decompressed), so a copy
    installed from the shipped sidecar and the sidecar itself have the same digest; None without one."""
    import gzip
    import hashlib

    p = xd.predictions_file(folder)
    if p is None:
        return None
    data = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
    return hashlib.sha1(data).hexdigest()


def other_evaluations(exclude: str | os.PathLike | None = None) -> list[Path]:
    """Evaluation folders on this machine another can be compared with: the sidecars beside the shipped
    checkpoints (``assets/models/*.eval``), the page's cached evaluations and the runs under ``runs/`` (two
    levels), newest first; ``exclude`` (the evaluation explored) left out, and so is every folder holding
    the same predictions (a copy of it: comparing it with itself says nothing)."""
    from model.paths import MODELS

    roots = [(MODELS, "*.eval"), (xd.cache_root() / "eval", "*"), (xd.ROOT / "runs", "*"), (xd.ROOT / "runs", "*/*")]
    found: dict[Path, float] = {}
    skip = Path(exclude).resolve() if exclude else None
    same = predictions_digest(exclude) if exclude else None
    for root, pattern in roots:
        if not root.is_dir():
            continue
        for f in root.glob(pattern):
            p = xd.predictions_file(f) if f.is_dir() else None
            if p is not None and f.resolve() != skip and (same is None or predictions_digest(f) != same):
                found[f.resolve()] = p.stat().st_mtime
    return sorted(found, key=lambda f: -found[f])
