"""Who the player plays against (no Streamlit): the shipped model, another of the project's checkpoints,
or a registered predictor of ``model.predictors`` (GeoCLIP, StreetCLIP / CLIP zero-shot).

Each choice has a stable ``key`` (stored with every saved game, carried in the "play this seed" link as
``&opponent=``): ``shipped`` (``assets/models/default.pt``), ``ckpt:<path>`` (a checkpoint, the path
relative to the checkout when inside it) or a predictor name. Only the choices this machine can run
offline are playable; the others are listed with what they need (``model.predictors.availability``,
which checks files and loads nothing). A URL can only pick among the listed choices, never name a file.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from app.play.game import APP_MODEL
from model.paths import DEFAULT_CHECKPOINT, MODELS, ROOT

CKPT = "ckpt:"
RUNS_GLOBS = ("runs/*/model.pt", "runs/*/*/model.pt")  # where ``python -m model.train --out runs/NAME`` writes
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Opponent:
    """One opponent on offer. ``model`` is what ``app.common.resources.get_predictor`` takes (None: the
    app's own model); ``available`` False means it cannot run here and ``note`` says what it needs."""

    key: str
    label: str
    model: str | None
    available: bool = True
    note: str = ""


def checkpoint_key(path: str | Path, root: Path = ROOT) -> str:
    """The key of a checkpoint file: ``shipped`` for the shipped one, else ``ckpt:<path>`` (relative to
    ``root`` when inside it, POSIX separators)."""
    p = Path(path).expanduser().resolve()
    if p == DEFAULT_CHECKPOINT.resolve():
        return APP_MODEL
    try:
        return CKPT + p.relative_to(root.resolve()).as_posix()
    except ValueError:
        return CKPT + str(p)


def find_checkpoints(root: Path = ROOT) -> list[Path]:
    """The project's checkpoints on this machine other than the shipped one: ``assets/models/*.pt`` and
    the training runs' ``runs/NAME/model.pt`` (and their folds), sorted."""
    found = {p.resolve() for p in (root / MODELS.relative_to(ROOT)).glob("*.pt")}
    for pattern in RUNS_GLOBS:
        found |= {p.resolve() for p in root.glob(pattern) if p.is_file()}
    found.discard(DEFAULT_CHECKPOINT.resolve())
    return sorted(found)


def _predictor_choices(names: Iterable[str], check: Callable) -> list[Opponent]:
    out = []
    for name in names:
        try:
            a = check(name)
            ok, note = bool(a.available), ("" if a.available else str(a.reason))
        except Exception as e:  # noqa: BLE001 - a broken registry entry is listed as unavailable, not a crash
            ok, note = False, f"{type(e).__name__}: {e}"
        out.append(Opponent(name, f"{name} (published predictor)", name, ok, note))
    return out


def opponent_choices(app_model: str | None, *, root: Path = ROOT, names: Iterable[str] | None = None,
                     check: Callable | None = None) -> list[Opponent]:
    """Every opponent, the app's own model first. ``app_model``: what the app serves (``$GEOLOC_MODEL``,
    a predictor name or a checkpoint path; None: the shipped model); ``names`` the registered predictors
    and ``check`` their availability (defaults: ``model.predictors``)."""
    from model import predictors as mp

    names = mp.predictor_names() if names is None else list(names)
    check = mp.availability if check is None else check
    out: list[Opponent] = []
    if app_model is None:
        out.append(Opponent(APP_MODEL, "The shipped model", None, DEFAULT_CHECKPOINT.is_file(),
                            "" if DEFAULT_CHECKPOINT.is_file() else f"no checkpoint at {DEFAULT_CHECKPOINT}"))
    elif mp.is_predictor_name(app_model):
        out.append(Opponent(app_model, f"The app's model: {app_model} (GEOLOC_MODEL)", None))
    else:
        out.append(Opponent(checkpoint_key(app_model, root), f"The app's model: {app_model} (GEOLOC_MODEL)", None))
        if DEFAULT_CHECKPOINT.is_file():
            out.append(Opponent(APP_MODEL, "The shipped model", str(DEFAULT_CHECKPOINT)))
    for p in find_checkpoints(root):
        key = checkpoint_key(p, root)
        out.append(Opponent(key, f"Checkpoint {key[len(CKPT):]}", str(p)))
    out += _predictor_choices(names, check)
    seen: set[str] = set()
    return [o for o in out if not (o.key in seen or seen.add(o.key))]  # the app's model listed once


def find_opponent(key: str | None, choices: Iterable[Opponent]) -> Opponent | None:
    """The playable choice with this key, else None (unknown here, or it cannot run offline)."""
    return next((o for o in choices if o.key == key and o.available), None)


def opponent_label(key: str, choices: Iterable[Opponent] = ()) -> str:
    """Short words for a stored opponent key (tables, board names): 'shipped model', a checkpoint's path,
    a predictor's name; :data:`NOT_RECORDED` for a game saved before opponents were stored."""
    if not key:
        return NOT_RECORDED
    if key == APP_MODEL:
        return "shipped model"
    for o in choices:
        if o.key == key and o.model is None and key != APP_MODEL:
            return f"{key.removeprefix(CKPT)} (app's model)"
    return key.removeprefix(CKPT)
