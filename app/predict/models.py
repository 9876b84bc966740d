"""The models Predict can put beside the app's own (no Streamlit): the project's other checkpoints and the
registered predictors of ``model.predictors`` (GeoCLIP, StreetCLIP / CLIP zero-shot), each with whether it
can run on this machine now (``model.predictors.availability``: files only, nothing loaded, no network)
and, if not, what would be downloaded (name, size, licence, the exact command).

Checkpoints offered: ``assets/models/*.pt`` (the shipped one too when the app serves another), the training
runs' ``runs/NAME/model.pt`` (and their folds) and the paths in ``$GEOLOC_COMPARE_MODELS`` (separated by
``os.pathsep``). A page can only pick among these; it never takes a path from the browser.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from model.paths import DEFAULT_CHECKPOINT, MODELS, ROOT

EXTRA_ENV = "GEOLOC_COMPARE_MODELS"
RUNS_GLOBS = ("runs/*/model.pt", "runs/*/*/model.pt")


@dataclass(frozen=True)
class Choice:
    """A model on offer: ``model`` is what ``app.common.resources.get_predictor`` takes; ``available`` False
    means it cannot run offline here, ``missing`` the weights (``model.predictors.WeightsInfo``) it needs and
    ``reason`` the loader's words; ``licence`` and ``description`` as the registry states them ("" for a
    checkpoint, whose licence is known once loaded)."""

    model: str
    label: str
    kind: str  # "checkpoint" | "predictor"
    available: bool = True
    reason: str = ""
    licence: str = ""
    description: str = ""
    missing: tuple = ()


def checkpoint_files(root: Path = ROOT, extra: str | None = None) -> list[Path]:
    """Checkpoints on this machine: ``assets/models/*.pt``, ``runs/*/model.pt``, ``runs/*/*/model.pt`` and the
    existing files of ``extra`` (``os.pathsep``-separated), resolved, each once, sorted (the extra ones last)."""
    found = {p.resolve() for p in (root / MODELS.relative_to(ROOT)).glob("*.pt")}
    for pattern in RUNS_GLOBS:
        found |= {p.resolve() for p in root.glob(pattern) if p.is_file()}
    extras = [Path(x).expanduser().resolve() for x in (extra or "").split(os.pathsep) if x.strip()]
    out = sorted(found)
    return out + [p for p in extras if p.is_file() and p not in found]


def _label(p: Path, root: Path) -> str:
    try:
        rel = p.relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = str(p)
    return "The shipped model" if p == DEFAULT_CHECKPOINT.resolve() else f"Checkpoint {rel}"


def choices(app_model: str | None, *, root: Path = ROOT, extra: str | None = None,
            names: Iterable[str] | None = None, check: Callable[[str], Any] | None = None,
            spec: Callable[[str], Any] | None = None) -> list[Choice]:
    """Every model that could stand beside ``app_model`` (what the app serves: None for the shipped model, a
    predictor name or a checkpoint path), never itself: checkpoints first, then the registered predictors
    with their availability (``names``/``check``/``spec`` default to ``model.predictors``)."""
    from model import predictors as mp

    extra = os.environ.get(EXTRA_ENV, "") if extra is None else extra
    names = mp.predictor_names() if names is None else list(names)
    check = mp.availability if check is None else check
    spec = mp.get_spec if spec is None else spec
    own = None if app_model is not None and mp.is_predictor_name(app_model) else \
        Path(app_model or DEFAULT_CHECKPOINT).expanduser().resolve()
    out = [Choice(str(p), _label(p, root), "checkpoint") for p in checkpoint_files(root, extra) if p != own]
    for name in names:
        if name == app_model:
            continue
        try:
            a, s = check(name), spec(name)
            out.append(Choice(name, name, "predictor", bool(a.available), str(a.reason or ""), str(s.licence),
                              str(s.description), tuple(a.missing or ())))
        except Exception as e:  # noqa: BLE001 - a broken registry entry is listed as unavailable, not a crash
            out.append(Choice(name, name, "predictor", False, f"{type(e).__name__}: {e}"))
    return out


def option_label(c: Choice) -> str:
    """How a choice reads in the picker: its name, and what is missing when it cannot run here."""
    if c.available:
        return c.label + (f": {c.description.split(':')[0]}" if c.description else "")
    return f"{c.label} (not on this machine: needs a download)"


def licence_of(p: Any) -> str:
    """The licence words of a loaded predictor: its own ``licence``, else (a plain checkpoint ``Predictor``) its
    backbone weights' (``model.predictors.checkpoint.checkpoint_licence``)."""
    got = getattr(p, "licence", None)
    if got:
        return str(got)
    ck = getattr(p, "ck", None) or {}
    from model.predictors.checkpoint import checkpoint_licence

    cfg = ck.get("config", {}) or {}
    return checkpoint_licence(str(ck.get("backbone", "")), bool(ck.get("pretrained", cfg.get("pretrained", True))))


def name_of(p: Any, fallback: str = "") -> str:
    """A short name of a loaded predictor: ``name``, else its checkpoint file's stem."""
    got = getattr(p, "name", None)
    if got:
        return str(got)
    path = getattr(p, "path", None)
    return Path(str(path)).stem if path else fallback
