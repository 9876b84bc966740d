"""Checkpoints: plain tensors and Python values only, so ``torch.load(weights_only=True)`` reads them.

A checkpoint holds everything needed to predict: backbone name and the block where its trainable
tail starts, the tail's and the head's weights (the frozen trunk comes from the backbone's own
pretrained weights), the cell table, preprocessing (input size, mean/std, bottom crop), the
training config, metrics and library versions.
"""
from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from .backbones import create_model, preprocess_of, set_preprocess
from .cells import CellSet
from .heads import build_head
from .network import GeoNet
from model.paths import DEFAULT_CHECKPOINT  # noqa: F401  (callers import it from here)

FORMAT_VERSION = 1


def plain(x):
    """Recursively convert numpy scalars/arrays and Paths into JSON/torch-safe Python values."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    return x


def json_text(obj, indent: int | None = 2) -> str:
    """Strict JSON of :func:`plain` values: NaN and infinities (e.g. an accuracy with nothing to count)
    become null, which every JSON reader accepts."""
    def clean(x):
        if isinstance(x, float) and not np.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x
    return json.dumps(clean(plain(obj)), indent=indent, allow_nan=False)


def versions() -> dict:
    import sklearn

    return {"torch": str(torch.__version__), "numpy": str(np.__version__), "sklearn": str(sklearn.__version__),
            "python": platform.python_version()}


def save_checkpoint(path: str | os.PathLike, net: GeoNet, cells: CellSet, config: dict, metrics: dict | None = None,
                    extra: dict | None = None, gallery=None) -> Path:
    """Write a checkpoint atomically. Of a pretrained backbone only the tail (fine-tuned blocks) is stored
    (the rest comes from its pretrained weights); of a random (``--no-pretrained``) or fully trained one
    every weight. Plus the head, the backbone's preprocessing and architecture overrides
    (``backbone_config``), and the retrieval gallery (:class:`model.net.retrieval.Gallery`) when given.
    Tensors are stored on the CPU, so a checkpoint loads on any device."""
    bb = net.backbone
    pretrained = bool(getattr(bb, "pretrained", config.get("pretrained", True)))
    full = config.get("mode") == "full" or not pretrained
    tail = {}
    if full:
        tail = {k: _cpu(v) for k, v in bb.state_dict().items()}
    elif config.get("mode") == "finetune" and hasattr(bb, "tail_modules"):
        names = {id(m): n for n, m in bb.named_modules()}
        for m in bb.tail_modules(net.start_block):
            for k, v in m.state_dict().items():
                tail[f"{names[id(m)]}.{k}" if names[id(m)] else k] = _cpu(v)
    ck = {
        "format_version": FORMAT_VERSION,
        "backbone": bb.name, "start_block": int(net.start_block),
        "preprocess": {**preprocess_of(bb), "crop": float(config.get("crop", 0.0))},
        "backbone_config": plain(getattr(bb, "backbone_config", None) or config.get("backbone_config")),
        "backbone_full": bool(full),
        "head": {"in_dim": int(bb.feature_dim), "n_cells": len(cells), "hidden": int(config["hidden"]),
                 "dropout": float(config["dropout"]), "regression": config["regression"],
                 "kind": config.get("head", "mlp"),
                 "n_countries": int(net.head.country.out_features) if getattr(net.head, "country", None) else 0},
        "head_state": {k: _cpu(v) for k, v in net.head.state_dict().items()},
        "backbone_state": tail,
        "pretrained": pretrained,
        "cells": cells.to_state(),
        "config": plain(config), "metrics": plain(metrics or {}), "versions": versions(),
        "extra": plain(extra or {}),
    }
    if gallery is not None:
        ck["gallery"] = gallery.to_state()
    return write_checkpoint(ck, path)


def _cpu(t: torch.Tensor) -> torch.Tensor:
    """A CPU copy of a tensor, detached from autograd (checkpoints never hold device tensors)."""
    return t.detach().cpu().clone()


def write_checkpoint(ck: dict, path: str | os.PathLike) -> Path:
    """Save a checkpoint dict atomically (temporary file + rename, mode 0644)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".pt.tmp")
    os.close(fd)
    torch.save(ck, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, p)
    return p


def load_checkpoint(path: str | os.PathLike | None = None) -> tuple[GeoNet, CellSet, dict]:
    """Rebuild (net in eval mode, cells, checkpoint dict) from a file written by :func:`save_checkpoint`."""
    p = Path(path) if path else DEFAULT_CHECKPOINT
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint not found: {p} (train one with: python -m model.train)")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # not a torch file, a truncated download, or pickled objects we refuse to run
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ValueError(f"{p}: not a checkpoint of this project ({type(e).__name__}: {first})") from e
    version = ck.get("format_version") if isinstance(ck, dict) else None
    if version != FORMAT_VERSION:
        raise ValueError(f"{p}: unsupported checkpoint format {version!r}")
    cfg = ck["config"]
    full = ck.get("backbone_full", cfg.get("mode") == "full")  # every backbone weight stored: build a random one
    bb = create_model(ck["backbone"], pretrained=ck.get("pretrained", True) and not full,
                      config=ck.get("backbone_config"))
    if ck["backbone_state"]:
        missing, unexpected = bb.load_state_dict(ck["backbone_state"], strict=False)
        if unexpected or (full and missing):
            raise ValueError(f"{p}: backbone weights do not match {ck['backbone']}: {(unexpected or missing)[:3]}")
    pp = ck["preprocess"]  # older checkpoints: short side + centre crop, bilinear (what they were trained with)
    set_preprocess(bb, int(pp["input_size"]), pp.get("mean", bb.mean), pp.get("std", bb.std),
                   pp.get("resize", "shortest"), pp.get("interpolation", "bilinear"), pp.get("crop_pct", 1.0))
    h = ck["head"]
    head = build_head(h.get("kind", "mlp"), h["in_dim"], h["n_cells"], h["hidden"], h["dropout"], h["regression"],
                      h.get("n_countries", 0))
    head.load_state_dict(ck["head_state"])
    net = GeoNet(bb, head, ck["start_block"]).eval()
    return net, CellSet.from_state(ck["cells"]), ck


def load_gallery(ck: dict):
    """The checkpoint's retrieval gallery (:class:`model.net.retrieval.Gallery`) or None.

    A gallery this version cannot read (an older layout) is ignored with a warning: the model still
    answers from its classifier, and ``python -m model.gallery --checkpoint C`` rebuilds the gallery.
    """
    from .retrieval import Gallery

    if not ck.get("gallery"):
        return None
    try:
        return Gallery.from_state(ck["gallery"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        logging.getLogger("model.net.checkpoint").warning(
            "ignoring the checkpoint's retrieval gallery, an older layout (missing or bad field %s); "
            "rebuild it with: python -m model.gallery --checkpoint CHECKPOINT", e)
        return None


def write_json(path: str | os.PathLike, obj) -> None:
    """Write JSON atomically (used for config.json and metrics.json in run directories)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json_text(obj))
    os.replace(tmp, p)
