"""Which data set the app's pages use: what exists on this machine, the visitor's choice, the default.

**API** (Play and Explore call these instead of ``resolve_manifest(None)``):
:class:`DataSet` ``(key, label, manifest, kind, attribution)`` is one usable data set: ``manifest`` is what
``model.data.manifest.read_manifest`` accepts (a CSV file or a shard folder), ``attribution`` the words to
show wherever its images are shown (the demo set's CC BY-SA credit; None when nothing is asked).
:func:`available_datasets` lists what exists here, in this order: ``env`` ($GEOLOC_DATA), ``data``
(data/manifest.csv), ``shared`` (../shared/geodata), ``photos`` (data/photos/manifest.csv) and
``photos:<name>`` (each data/photos/<name>/ saved from the "Your photos" page), ``demo`` (data/demo),
then this session's own uploads (``upload:<id>``) and the paths it named (``manifest:<abs path>``).
:func:`active_dataset` is the session's choice (``st.session_state["geoloc_dataset"]``, a key), else the
server's remembered default (data/app_settings.json, written only by :func:`remember_default`, i.e. when a
visitor ticks "remember as this server's default"), else the first that exists of $GEOLOC_DATA,
data/manifest.csv, ../shared/geodata (``model.data.manifest.default_manifest_path``'s order), your photos,
the demo set; None when there is nothing. :func:`active_manifest` is its manifest path or raises
``ManifestError`` with :data:`NO_DATA` (the three routes: your photos, the demo set, a manifest or shard
folder). The widgets are in :mod:`app.common.dataset_picker`: ``dataset_picker(key_prefix)`` and
``no_data_help()``. Every function takes the session's state as ``session`` (any mutable mapping); None
reads ``st.session_state`` lazily when a Streamlit script is running, else an empty dict.

Pure logic: Streamlit is imported only to find the session state. Paths are read at call time from the
module globals ``DATA``, ``SHARED`` and ``SETTINGS`` (tests point them at temporary folders).
"""
from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.common import manifest_paths as mp
from model.data.manifest import ENV_VAR, ManifestError
from model.paths import DATA, SHARED_DATA

SHARED = SHARED_DATA
SETTINGS = DATA / "app_settings.json"
SESSION_KEY = "geoloc_dataset"            # the chosen DataSet's key
CUSTOM_KEY = "geoloc_custom_datasets"      # {key: manifest path} the session named ("manifest:<abs>")
UPLOADS_KEY = "geoloc_uploads"             # {key: (label, manifest path)} this session's imported uploads
KINDS = ("env", "data", "shared", "photos", "demo", "upload", "manifest")
DEMO_COMMAND = "make demo-data"
PHOTOS_COMMAND = "python -m model.collect photos SRC --out data/photos"
NO_DATA = ("No data set on this machine. Three ways to get one: "
           f"(1) your own photos with GPS: the \"Your photos\" page, or `{PHOTOS_COMMAND}`; "
           f"(2) the open demo set (OpenStreetView-5M, CC BY-SA 4.0, needs the internet once): `{DEMO_COMMAND}` "
           "or the \"Download the demo set\" button; "
           f"(3) a manifest CSV or shard folder you have: `{ENV_VAR}=PATH make run`, or name it in the data-set "
           "picker (\"Other manifest or shard folder\").")


@dataclass(frozen=True)
class DataSet:
    """One data set the app can use. ``key``: stable id (see the module doc); ``label``: human words;
    ``manifest``: absolute path of a manifest CSV or a shard folder; ``kind``: one of :data:`KINDS`;
    ``attribution``: what must be shown beside its images, or None."""

    key: str
    label: str
    manifest: Path
    kind: str
    attribution: str | None = None


def demo_attribution() -> str:
    """The demo set's credit line (CC BY-SA 4.0 asks for creator, licence and source; per-image credit is
    in data/demo/attribution.csv and the manifest's ``attribution`` column)."""
    from model.collect.attribution import DATASET_URL, LICENSE, LICENSE_URL

    return (f"Photos from Mapillary via OpenStreetView-5M ({DATASET_URL}), {LICENSE} ({LICENSE_URL}); "
            "each image's author is in data/demo/attribution.csv; changes: metadata removed (data/demo/ATTRIBUTION.md).")


def _session(session: MutableMapping | None) -> MutableMapping:
    """``session`` itself, else ``st.session_state`` inside a running script, else a throwaway dict."""
    if session is not None:
        return session
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        if get_script_run_ctx(suppress_warning=True) is not None:
            import streamlit as st

            return st.session_state
    except Exception:  # noqa: BLE001 - no Streamlit or no script: no session
        pass
    return {}


def _counted(label: str, p: Path) -> str:
    n = mp.rows(p)
    return f"{label} ({n:,} photos)" if n is not None else label


def _env_dataset() -> DataSet | None:
    text = os.environ.get(ENV_VAR, "").strip()
    p = mp.manifest_in(Path(text).expanduser()) if text else None
    return DataSet("env", f"{ENV_VAR} ({text})", p, "env") if p else None


def _photo_datasets() -> list[DataSet]:
    root = DATA / "photos"
    out = []
    top = mp.manifest_in(root) if root.is_dir() and (root / "manifest.csv").is_file() else None
    if top:
        out.append(DataSet("photos", _counted("Your photos (data/photos)", top), top, "photos"))
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if d.is_dir() and not d.name.startswith(".") and (d / "manifest.csv").is_file():
                m = (d / "manifest.csv").resolve()
                out.append(DataSet(f"photos:{d.name}", _counted(f"Your photos: {d.name}", m), m, "photos"))
    return out


def _demo_dataset() -> DataSet | None:
    p = DATA / "demo" / "manifest.csv"
    if not p.is_file():
        return None
    return DataSet("demo", _counted("Demo set: OpenStreetView-5M (CC BY-SA 4.0)", p), p.resolve(), "demo",
                   demo_attribution())


def custom_dataset(path: str | os.PathLike) -> DataSet:
    """The data set at a path a visitor names (a manifest CSV, a folder holding manifest.csv, or a shard
    folder; relative to the checkout), checked; raises :class:`ManifestError` saying what is wrong and
    what is accepted (:func:`app.common.manifest_paths.check_path`)."""
    text = str(path).strip().strip('"').strip("'")
    m = mp.check_path(text, DATA.parent)
    return DataSet(f"manifest:{m}", _counted(f"Manifest: {text}", m) if m.is_file() else f"Shards: {text}", m,
                   "manifest", _attribution_of(m))


def _attribution_of(m: Path) -> str | None:
    """A folder written by the demo importer keeps its credit: a custom path to a demo copy shows it too."""
    return demo_attribution() if mp.written_by(m) == "demo" else None


def available_datasets(session: MutableMapping | None = None) -> list[DataSet]:
    """Every data set that exists on this machine now (module doc for the order), plus this session's
    uploads and named paths. Nothing is read but file names and manifest line counts."""
    s = _session(session)
    found: list[DataSet] = []
    env = _env_dataset()
    if env:
        found.append(env)
    data = mp.manifest_in(DATA / "manifest.csv")
    if data:
        found.append(DataSet("data", _counted("data/manifest.csv", data), data, "data", _attribution_of(data)))
    shared = mp.manifest_in(SHARED)
    if shared:
        found.append(DataSet("shared", "Shared development set (../shared/geodata)", shared, "shared"))
    found += _photo_datasets()
    demo = _demo_dataset()
    if demo:
        found.append(demo)
    for key, (label, path) in dict(s.get(UPLOADS_KEY, {})).items():
        if Path(path).is_file():
            found.append(DataSet(key, label, Path(path), "upload"))
    saved = remembered_default()
    paths = [saved[len("manifest:"):]] if saved and saved.startswith("manifest:") else []
    for path in paths + list(dict(s.get(CUSTOM_KEY, {})).values()):
        _add_custom(found, path)
    return _unique(found)


def _add_custom(found: list[DataSet], path: str) -> None:
    try:
        found.append(custom_dataset(path))
    except ManifestError:
        pass  # gone since it was named: no longer offered


def _unique(found: list[DataSet]) -> list[DataSet]:
    """One entry per key and per manifest (GEOLOC_DATA naming data/demo is listed once, as ``env``)."""
    seen_keys, seen_paths, out = set(), set(), []
    for d in found:
        if d.key in seen_keys or d.manifest in seen_paths:
            continue
        seen_keys.add(d.key)
        seen_paths.add(d.manifest)
        out.append(d)
    return out


def find_dataset(key: str | None, session: MutableMapping | None = None) -> DataSet | None:
    """The available data set with this key (a ``manifest:<path>`` key is checked anew), else None."""
    if not key:
        return None
    found = available_datasets(session)
    for d in found:
        if d.key == key:
            return d
    if key.startswith("manifest:"):
        try:
            named = custom_dataset(key[len("manifest:"):])
        except ManifestError:
            return None
        return next((d for d in found if d.manifest == named.manifest), named)  # a path to a listed set is that set
    return None


def read_settings() -> dict[str, Any]:
    """The server's remembered settings (data/app_settings.json), {} when absent or unreadable."""
    try:
        data = json.loads(SETTINGS.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def remembered_default() -> str | None:
    """The key remembered as this server's default data set, or None."""
    key = read_settings().get("dataset")
    return key if isinstance(key, str) and key else None


def remember_default(key: str | None) -> None:
    """Remember ``key`` as every visitor's default data set (None forgets it); written atomically. Call it
    only on an explicit choice: it changes what every visitor of this server opens."""
    settings = read_settings()
    if key:
        settings["dataset"] = key
    else:
        settings.pop("dataset", None)
    SETTINGS.parent.mkdir(parents=True, exist_ok=True)
    tmp = SETTINGS.with_name(f".{SETTINGS.name}.tmp")
    tmp.write_text(json.dumps(settings, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, SETTINGS)


def choose(key: str, session: MutableMapping | None = None) -> DataSet:
    """Make ``key`` this session's data set; raises :class:`ManifestError` when it does not exist."""
    d = find_dataset(key, session)
    if d is None:
        raise ManifestError(f"No data set {key!r} on this machine. {NO_DATA}")
    s = _session(session)
    if d.kind == "manifest":
        s[CUSTOM_KEY] = {**dict(s.get(CUSTOM_KEY, {})), d.key: str(d.manifest)}
    s[SESSION_KEY] = d.key
    return d


def add_upload(key: str, label: str, manifest: Path, session: MutableMapping | None = None) -> DataSet:
    """Register an import of this session's uploads (``key`` ``upload:<id>``) so that the picker offers it."""
    s = _session(session)
    s[UPLOADS_KEY] = {**dict(s.get(UPLOADS_KEY, {})), key: (label, str(Path(manifest).resolve()))}
    return DataSet(key, label, Path(manifest).resolve(), "upload")


def active_dataset(session: MutableMapping | None = None) -> DataSet | None:
    """The session's choice, else the remembered default, else the first available (module doc)."""
    s = _session(session)
    for key in (s.get(SESSION_KEY), remembered_default()):
        d = find_dataset(key, s) if isinstance(key, str) else None
        if d is not None:
            return d
    found = available_datasets(s)
    for kind in ("env", "data", "shared", "photos", "demo"):
        for d in found:
            if d.kind == kind:
                return d
    return None


def active_manifest(session: MutableMapping | None = None) -> Path:
    """The active data set's manifest (CSV or shard folder); raises ``ManifestError`` (:data:`NO_DATA`)."""
    d = active_dataset(session)
    if d is None:
        raise ManifestError(NO_DATA)
    return d.manifest
