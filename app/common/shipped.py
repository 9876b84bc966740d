"""The evaluation shipped with a checkpoint, so Explore opens in seconds (no Streamlit).

Beside a checkpoint ``NAME.pt`` a folder ``NAME.eval/`` may hold its evaluation on one split of one
manifest, made by ``python -m model.evaluate`` (and optionally ``python -m model.audit``), without
any pixels: ``predictions.csv.gz``, ``metrics.json``, ``classification_report_country.csv``,
``confusion_country.csv``, ``audit.csv``/``audit.json`` and ``shipped.json``, which records the
SHA-256 of the checkpoint and of the manifest file, the split and the commands that made it.

When Explore needs an evaluation it has not cached yet, :func:`install_matching` copies the shipped
one into the page's cache folder (``app.explore.data.eval_dir_for``) if and only if both hashes and
the split match; any other checkpoint or data set is evaluated afresh, with the progress bar. A copy
installed earlier is replaced when the sidecar has been regenerated since (:func:`refresh_install`).
On a machine without any data,
Explore opens the sidecar itself, read in place and never written (:func:`shipped_folder`: only when it
was made with these checkpoint bytes); :func:`matching_manifest` finds a local manifest with the bytes it
was made from, whose folder then holds its images. The About page reads the same sidecar for the intervals of its model card.

Regenerate the shipped files (``make shipped-eval``)::

    python -m model.evaluate --checkpoint assets/models/default.pt --split test --cache '' --out runs/shipped-eval
    python -m model.audit --checkpoint assets/models/default.pt --split test --out runs/shipped-eval
    python -m app.common.shipped --checkpoint assets/models/default.pt --split test --from runs/shipped-eval
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from app.common.stamps import file_stamp

EVAL_FORMAT = 1  # format of an evaluation folder's source.json: Explore's own evaluations and installed shipped ones
SHIPPED_FORMAT = 1
INFO = "shipped.json"
PLAIN = ("metrics.json", "classification_report_country.csv", "confusion_country.csv")
AUDIT = ("audit.csv", "audit.json")
COMMANDS = (
    "python -m model.evaluate --checkpoint {ck} --split {split} --cache '' --out {src}",
    "python -m model.audit --checkpoint {ck} --split {split} --out {src}",
    "python -m app.common.shipped --checkpoint {ck} --split {split} --from {src}",
)


def sidecar_dir(checkpoint: str | os.PathLike) -> Path:
    """``NAME.eval/`` beside checkpoint ``NAME.pt``."""
    p = Path(checkpoint)
    return p.with_name(p.stem + ".eval")


@lru_cache(maxsize=16)
def _sha256(path: str, _stamp: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (cached per :func:`app.common.stamps.file_stamp`)."""
    p = Path(path).expanduser().resolve()
    return _sha256(str(p), file_stamp(p))


def read_info(folder: str | os.PathLike) -> dict:
    """``shipped.json`` of a sidecar folder ({} if absent or unreadable)."""
    try:
        return json.loads((Path(folder) / INFO).read_text())
    except (OSError, ValueError):
        return {}


def _sidecar(checkpoint: str | os.PathLike) -> tuple[dict, str | None]:
    """The shipped evaluation's source.json beside ``checkpoint`` and why it cannot be used at all (none
    shipped, incomplete or of another format), or None."""
    folder = sidecar_dir(checkpoint)
    info = read_info(folder)
    if not info:
        return info, "no evaluation is shipped with this checkpoint"
    if info.get("format") != SHIPPED_FORMAT or not (folder / "predictions.csv.gz").is_file():
        return info, "the shipped evaluation is incomplete or of another format"
    return info, None


def mismatch(checkpoint: str | os.PathLike, manifest: str | os.PathLike, split: str) -> str | None:
    """Why the checkpoint's shipped evaluation does not apply to (``manifest``, ``split``), or None
    when it does (same checkpoint bytes, same manifest bytes, same split)."""
    info, why = _sidecar(checkpoint)
    if why:
        return why
    if info.get("split") != split:
        return f"the shipped evaluation is of the {info.get('split')!r} split"
    if not Path(manifest).is_file():
        return "the manifest is not a single file"
    if info.get("checkpoint_sha256") != content_hash(checkpoint):
        return "the checkpoint changed since its evaluation was shipped"
    if info.get("manifest_sha256") != content_hash(manifest):
        return "the data set (manifest) differs from the one the shipped evaluation used"
    return None


def unusable(checkpoint: str | os.PathLike) -> str | None:
    """Why the evaluation shipped beside ``checkpoint`` cannot be opened as that checkpoint's (none, of
    another format, or made with other checkpoint bytes), or None when it can. A predictor name (no file)
    has none."""
    if not Path(checkpoint).is_file():
        return "this model is not a checkpoint file, and no evaluation is shipped with it"
    info, why = _sidecar(checkpoint)
    if why:
        return why
    if info.get("checkpoint_sha256") != content_hash(checkpoint):
        return "the checkpoint changed since its evaluation was shipped"
    return None


def shipped_folder(checkpoint: str | os.PathLike) -> Path | None:
    """The sidecar folder of ``checkpoint`` when it can be opened in place, read-only, as the checkpoint's
    own evaluation (:func:`unusable` is None): what Explore shows on a machine without any data."""
    return sidecar_dir(checkpoint) if unusable(checkpoint) is None else None


def matching_manifest(folder: str | os.PathLike, candidates: Sequence[str | os.PathLike]) -> Path | None:
    """The first of ``candidates`` (manifest paths) whose bytes are the manifest the sidecar ``folder`` was
    made from (its ``manifest_sha256``): the images of the shipped evaluation are then on this machine,
    relative to that manifest's folder. None when no candidate is that file."""
    want = read_info(folder).get("manifest_sha256")
    for c in candidates:
        p = Path(c)
        p = p / "manifest.csv" if p.is_dir() else p
        try:
            if want and p.is_file() and content_hash(p) == want:
                return p.resolve()
        except OSError:
            continue
    return None


def fingerprint(folder: str | os.PathLike) -> str:
    """SHA-256 over the names and bytes of a sidecar's files: changes whenever the sidecar is regenerated
    (re-evaluated, or its audit added), even for the same checkpoint and manifest."""
    h = hashlib.sha256()
    for p in sorted(Path(folder).iterdir()):
        if p.is_file():
            h.update(f"{p.name}\n{content_hash(p)}\n".encode())
    return h.hexdigest()


def _localise_audit(doc_path: Path, checkpoint: Path, manifest: Path) -> None:
    doc = json.loads(doc_path.read_text())
    doc.update({"checkpoint": str(checkpoint), "data": str(manifest)})
    doc_path.write_text(json.dumps(doc, indent=2))


def install_matching(checkpoint: str | os.PathLike, manifest: str | os.PathLike, split: str,
                     out_dir: str | os.PathLike) -> bool:
    """Copy the checkpoint's shipped evaluation into ``out_dir`` (the page's evaluation folder, written
    atomically with a ``source.json`` naming the local checkpoint and manifest) when it matches
    (:func:`mismatch`); returns whether it did."""
    if mismatch(checkpoint, manifest, split) is not None:
        return False
    src, out = sidecar_dir(checkpoint), Path(out_dir)
    ck, man = Path(checkpoint).resolve(), Path(manifest).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    with gzip.open(src / "predictions.csv.gz", "rb") as f, open(tmp / "predictions.csv", "wb") as g:
        shutil.copyfileobj(f, g)
    for name in PLAIN + AUDIT:
        if (src / name).is_file():
            shutil.copyfile(src / name, tmp / name)
    if (tmp / "audit.json").is_file():
        _localise_audit(tmp / "audit.json", ck, man)
    info = read_info(src)
    source = {"format": EVAL_FORMAT, "checkpoint": str(ck), "manifest": str(man), "split": split,
              "n_images": info.get("n_images"), "shipped": {k: info.get(k) for k in ("created", "commands", "seconds")}
              | {"sidecar_sha256": fingerprint(src)}}
    (tmp / "source.json").write_text(json.dumps(source, indent=2))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return True


def refresh_install(checkpoint: str | os.PathLike, manifest: str | os.PathLike, split: str,
                    out_dir: str | os.PathLike) -> bool:
    """Install the shipped evaluation again when ``out_dir`` holds an earlier install of it (``source.json``
    with ``shipped``) and the sidecar has changed since (:func:`fingerprint`; installs that predate the
    fingerprint count as changed). The page's cache folder is keyed by the checkpoint and manifest files,
    which a regenerated sidecar leaves as they are. An evaluation the page computed itself is never
    replaced. Returns whether it installed."""
    try:
        got = json.loads((Path(out_dir) / "source.json").read_text()).get("shipped")
    except (OSError, ValueError, AttributeError):
        return False
    if not isinstance(got, dict) or mismatch(checkpoint, manifest, split) is not None:
        return False
    if got.get("sidecar_sha256") == fingerprint(sidecar_dir(checkpoint)):
        return False
    return install_matching(checkpoint, manifest, split, out_dir)


def package(eval_dir: str | os.PathLike, checkpoint: str | os.PathLike, manifest: str | os.PathLike, split: str,
            out: str | os.PathLike | None = None, audit_dir: str | os.PathLike | None = None) -> Path:
    """Write the sidecar of ``checkpoint`` (default ``NAME.eval/`` beside it) from the folder of a
    ``model.evaluate`` run (and of a ``model.audit`` run, default the same folder): predictions gzip'd
    (byte-stable), the small files copied, absolute paths replaced by file names, hashes recorded."""
    import pandas as pd

    src, ck, man = Path(eval_dir), Path(checkpoint), Path(manifest)
    audit_src = Path(audit_dir) if audit_dir else src
    dest = Path(out) if out else sidecar_dir(ck)
    if not (src / "predictions.csv").is_file():
        raise FileNotFoundError(f"{src}: no predictions.csv (run python -m model.evaluate --out {src} first)")
    pred = pd.read_csv(src / "predictions.csv", usecols=["image", "location_id"], dtype=str)
    if pred["image"].map(lambda s: Path(s).is_absolute()).any():
        raise ValueError(f"{src}/predictions.csv names images by absolute path: evaluate a manifest with "
                         "relative image paths so that nothing of this machine is shipped")
    dest.mkdir(parents=True, exist_ok=True)
    with open(src / "predictions.csv", "rb") as f, open(dest / "predictions.csv.gz", "wb") as raw:
        with gzip.GzipFile(filename="predictions.csv", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as g:
            shutil.copyfileobj(f, g)
    for name in PLAIN:
        if (src / name).is_file():
            shutil.copyfile(src / name, dest / name)
    m = json.loads((dest / "metrics.json").read_text())
    m["checkpoint"] = ck.name
    (dest / "metrics.json").write_text(json.dumps(m, indent=2))
    seconds = None
    if all((audit_src / n).is_file() for n in AUDIT):
        shutil.copyfile(audit_src / "audit.csv", dest / "audit.csv")
        doc = json.loads((audit_src / "audit.json").read_text())
        doc.update({"checkpoint": ck.name, "data": man.name})
        (dest / "audit.json").write_text(json.dumps(doc, indent=2))
        seconds = doc.get("seconds")
    else:
        for n in AUDIT:
            (dest / n).unlink(missing_ok=True)
    def shown(p: Path) -> str:  # relative to the working directory, never this machine's absolute layout
        rel = os.path.relpath(p.resolve())
        return Path(rel).as_posix() if not rel.startswith("..") else p.name

    info = {"format": SHIPPED_FORMAT, "checkpoint": ck.name, "checkpoint_sha256": content_hash(ck),
            "manifest": man.name, "manifest_sha256": content_hash(man), "split": split,
            "n_images": int(len(pred)), "n_locations": int(pred["location_id"].nunique()),
            "created": time.strftime("%Y-%m-%d"), "audit_seconds": seconds,
            "commands": [c.format(ck=shown(ck), split=split, src=shown(src)) for c in COMMANDS]}
    (dest / INFO).write_text(json.dumps(info, indent=2) + "\n")
    return dest


def main(argv: Sequence[str] | None = None) -> Path:
    from model.net.checkpoint import DEFAULT_CHECKPOINT
    from model.data.manifest import resolve_manifest

    ap = argparse.ArgumentParser(prog="python -m app.common.shipped", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--data", help="the manifest that was evaluated (default: $GEOLOC_DATA, data/manifest.csv, "
                                   "../shared/geodata)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--from", dest="src", required=True, help="folder of the model.evaluate (and model.audit) run")
    ap.add_argument("--audit", help="folder of the model.audit run (default: the --from folder)")
    ap.add_argument("--out", help="sidecar folder (default: NAME.eval beside the checkpoint)")
    a = ap.parse_args(argv)
    man = resolve_manifest(a.data)
    if man.is_dir():
        man = man / "manifest.csv"
    dest = package(a.src, a.checkpoint, man, a.split, a.out, a.audit)
    size = sum(f.stat().st_size for f in dest.iterdir())
    print(f"wrote {dest} ({size / 1024:.0f} KB): {', '.join(sorted(f.name for f in dest.iterdir()))}")
    return dest


if __name__ == "__main__":
    main()
