"""Which uploaded photos make the place being answered (no Streamlit).

The uploader keeps every file chosen until the user removes it, so a second upload used to be fused with
the first as another view of the same place, silently. Now the photos chosen together (one pick or drop)
are one place; photos added later start a *new* place unless the user asked to add views on purpose
(``add_views``), and the page offers to fuse them afterwards (:func:`fuse_all`).

Files are named by :func:`file_id` (name and content hash), so renaming or re-adding the same bytes is
seen for what it is.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Sequence

NEW, NEW_PLACE, ADDED, REMOVED = "new", "new place", "added", "removed"


def file_id(name: str, data: bytes) -> str:
    """A stable id of an uploaded file: its name and the SHA-1 of its bytes (12 hex digits)."""
    return f"{name}:{hashlib.sha1(data).hexdigest()[:12]}"


@dataclass(frozen=True)
class PlaceState:
    """``place``: the ids of the files answered together, in upload order; ``seen``: the uploader's ids at
    the last run; ``event``: what the last change did (:data:`NEW`, :data:`NEW_PLACE` (files added later
    started a new place), :data:`ADDED` (added as views), :data:`REMOVED`) or None."""

    place: tuple[str, ...] = ()
    seen: tuple[str, ...] = ()
    event: str | None = None
    earlier: tuple[str, ...] = field(default=())  # with NEW_PLACE: the place before (still in the uploader)


def update(state: PlaceState, now: Sequence[str], add_views: bool = False) -> PlaceState:
    """The place after the uploader went from ``state.seen`` to ``now`` (ids, in the uploader's order).

    - first files, or the uploader was empty: they are the place (chosen together: views of one place);
    - files added to a non-empty uploader: a new place of just those, unless ``add_views`` (then they join
      the place as more views);
    - files removed: they leave the place; if it empties, what is left in the uploader is the place;
    - nothing changed: the state as it was (its event kept, so a message stays until the next change).
    """
    now = tuple(dict.fromkeys(now))
    if now == state.seen:
        return state
    if not now:
        return PlaceState()
    if not state.seen:
        return PlaceState(now, now, NEW)
    seen = set(state.seen)
    place = [i for i in state.place if i in now]
    added = [i for i in now if i not in seen]
    if added:
        if add_views and place:
            return PlaceState(tuple(place + added), now, ADDED)
        return PlaceState(tuple(added), now, NEW_PLACE if place else NEW, tuple(place))
    if not place:  # the place's files were removed: what is left is the place
        return PlaceState(now, now, REMOVED)
    return PlaceState(tuple(place), now, REMOVED if len(now) < len(state.seen) else state.event, state.earlier)


def fuse_all(state: PlaceState) -> PlaceState:
    """Every photo in the uploader as views of one place (the user's explicit choice)."""
    return PlaceState(state.seen, state.seen, ADDED)


def unused(state: PlaceState) -> list[str]:
    """Ids in the uploader that are not part of the place answered."""
    return [i for i in state.seen if i not in state.place]


def name_of(fid: str) -> str:
    """The file name of an id of :func:`file_id`."""
    return fid.rsplit(":", 1)[0]
