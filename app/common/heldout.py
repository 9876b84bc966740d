"""How many held-out places each page counts, and why the numbers differ (no Streamlit).

The test split of the shared data holds 241 places, but the pages show different numbers because
each needs something more of a place:

- **Explore and About** count every test *location* (a camera position, or a screenshot): 241;
- **Predict**'s test-set picker needs coordinates to draw the answer on the map: 195, because 46
  places are GeoGuessr screenshots labelled with a country only (they count for country accuracy,
  never for a distance);
- **Play** needs coordinates too, and plays one place per *group* (places within 1 km of each other
  share a group, so two rounds never show the same street): 182.

Both Predict and Play also drop places whose image files are missing on this machine and places whose
group the model was trained or selected on (none for the shipped model). :func:`count_heldout` computes
the whole chain from manifest rows, and :func:`explain` / :func:`page_line` word it for the pages.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from app.common.stamps import file_stamp


@dataclass(frozen=True)
class HeldOut:
    """Counts of one split's places (see the module docstring). ``pickable`` is what Predict offers,
    ``playable`` what Play plays; every field counts locations unless named otherwise."""

    split: str
    locations: int            # every location of the split (Explore, About)
    images: int               # their image rows
    with_coords: int          # of the locations, those with coordinates
    label_only: int           # country label only (no coordinates): screenshots
    missing_files: int        # with coordinates, but no image file of theirs exists here
    in_training_groups: int   # with coordinates and files, but their group was used in training / selection
    pickable: int             # with coordinates, files and an unseen group (Predict's test-set picker)
    playable: int             # pickable, one per group of places within 1 km (Play)

    @property
    def same_group(self) -> int:
        """Pickable places left out of Play because another place of their group (within 1 km) plays."""
        return self.pickable - self.playable


def count_heldout(rows: pd.DataFrame, split: str = "test", train_groups: Iterable[str] = (),
                  check_files: bool = True) -> HeldOut:
    """Counts of the places of ``split`` among manifest ``rows`` (``model.data.manifest.read_manifest``
    columns: ``location_id``; optional ``split`` (without it every row counts), ``group_id`` (default:
    the location), ``lat``/``lon`` (degrees, NaN = unknown) and ``path`` (absolute image path; files
    are checked when ``check_files``))."""
    df = rows
    if "split" in df and split != "all" and (df["split"].astype(str) != "").any():
        df = df[df["split"].astype(str) == split]
    n_images = len(df)
    if df.empty:
        return HeldOut(split, 0, 0, 0, 0, 0, 0, 0, 0)
    loc_ids = df["location_id"].astype(str)
    has = pd.Series(True, index=df.index)
    for c in ("lat", "lon"):
        has &= pd.to_numeric(df[c], errors="coerce").notna() if c in df else False
    located_ids = set(loc_ids[has])
    readable = df[has]
    if check_files and "path" in df:
        # a numpy mask selects rows even when empty (an empty list would select no columns)
        readable = readable[np.array([Path(str(p)).is_file() for p in readable["path"]], dtype=bool)]
    readable_ids = set(readable["location_id"].astype(str))
    groups = (readable["group_id"].astype(str) if "group_id" in readable else readable["location_id"].astype(str))
    groups = groups.where(groups != "", readable["location_id"].astype(str))
    seen = {str(g) for g in train_groups}
    first_group = dict(zip(readable["location_id"].astype(str), groups))
    pickable = {loc for loc in readable_ids if first_group[loc] not in seen}
    n_loc = loc_ids.nunique()
    return HeldOut(split=split, locations=int(n_loc), images=int(n_images), with_coords=len(located_ids),
                   label_only=int(n_loc - len(located_ids)), missing_files=len(located_ids - readable_ids),
                   in_training_groups=len(readable_ids - pickable), pickable=len(pickable),
                   playable=len({first_group[loc] for loc in pickable}))


def _n(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def explain(h: HeldOut) -> str:
    """The whole chain in plain words, e.g. "The test split holds 241 places (673 images) that were
    never used for training. 195 of them have coordinates; the other 46 are screenshots labelled with
    a country only, so they count for country accuracy but have no distance or score. Predict's
    test-set picker offers those 195, and Play plays 182 of them: one per group of places within 1 km
    of each other (13 places share a group with another), so two rounds never show the same street."""
    if h.locations == 0:
        return f"The {h.split} split holds no place."
    held = "that were never used for training" if h.split == "test" else "(not held out: see the warning)"
    s = f"The {h.split} split holds {_n(h.locations, 'place')} ({h.images:,} images) {held}. "
    if h.label_only:
        s += (f"{h.with_coords:,} of them have coordinates; the other {h.label_only:,} are labelled with a country "
              "only (GeoGuessr screenshots), so they count for country accuracy but have no distance or score. ")
    else:
        s += "All of them have coordinates. "
    if h.split != "test":
        return s.strip()
    drops = []
    if h.missing_files:
        drops.append(f"{h.missing_files:,} whose images are missing on this machine")
    if h.in_training_groups:
        drops.append(f"{h.in_training_groups:,} within 1 km of a place the model was trained or selected on")
    offered = f"those {h.pickable:,}" if not drops else f"{h.pickable:,} of them (not the {' or the '.join(drops)})"
    s += f"Predict's test-set picker offers {offered}, and Play plays {h.playable:,}"
    if h.same_group:
        s += (f": one per group of places within 1 km of each other ({h.same_group:,} places share a group with "
              "another), so two rounds never show the same street.")
    else:
        s += "."
    return s


def page_line(h: HeldOut, page: str) -> str:
    """The short count each page shows ("explore", "about", "predict" or "play"), pointing at the others."""
    if page in ("explore", "about"):
        if not h.label_only:
            return f"{_n(h.locations, 'test place')}, all with coordinates"
        return (f"{_n(h.locations, 'test place')}: {h.with_coords:,} with coordinates (distances and scores) and "
                f"{h.label_only:,} screenshots labelled with a country only (country accuracy only)")
    if page == "predict":
        return (f"{_n(h.pickable, 'held-out test place')} with coordinates ({h.locations:,} in the test split)"
                if h.pickable != h.locations else f"{_n(h.pickable, 'held-out test place')}")
    if page == "play":
        if h.same_group:
            return (f"{_n(h.playable, 'held-out place')} to play: one per group of places within 1 km among the "
                    f"{h.pickable:,} test places with coordinates ({h.locations:,} in the test split)")
        return (f"{_n(h.playable, 'held-out place')} to play: the test places with coordinates "
                f"({h.locations:,} in the test split)")
    raise ValueError(f"unknown page {page!r}")


@lru_cache(maxsize=8)
def _cached(manifest: str, _stamp: str, split: str, train_groups: frozenset[str]) -> HeldOut:
    from model.data.manifest import read_manifest

    return count_heldout(read_manifest(manifest), split, train_groups)


def heldout_for(manifest: str | os.PathLike | None = None, train_groups: Iterable[str] = (),
                split: str = "test") -> HeldOut:
    """:func:`count_heldout` of a manifest (default: ``model.data.manifest.resolve_manifest``), cached per
    process by path, file stamp (``app.common.stamps``), split and training groups. Raises ``ManifestError``."""
    from model.data.manifest import resolve_manifest

    p = resolve_manifest(manifest)
    return _cached(str(p), file_stamp(p), split, frozenset(str(g) for g in train_groups))
