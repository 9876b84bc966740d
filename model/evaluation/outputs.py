"""The network's raw outputs for image files (through the feature cache, or streamed), in chunks with
progress for callers that share the model (the app)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from model.data.features import DEFAULT_CACHE, extract
from model.data.images import ImageLoadError
from model.data.loader import path_loader, shard_members, transform_for
from model.device import Runtime
from model.locks import model_lock

OUTPUTS = ("logits", "offset", "xyz", "country_logits", "embed")
Progress = Callable[[int, int, str], None]  # (done, total, what)


def network_outputs(net, ck: dict, paths: list[str], cache: str | Path | None = DEFAULT_CACHE,
                    batch_size: int = 128, runtime: Runtime | None = None) -> dict[str, np.ndarray]:
    """Raw outputs for image files: ``logits`` (N, C), ``offset`` (N, C, 2) or ``xyz`` (N, 3),
    ``country_logits`` (N, K) with a country head, ``embed`` (N, H), ``ok`` (N,).

    Runs on ``runtime``'s device (the network is moved there; default: where the network is, in fp32)
    under its autocast; the outputs are float32 on the CPU. With a ``cache`` folder the frozen trunk's maps go through the feature cache
    (a checkpoint trained ``--mode full`` has its own trunk, and shard members are never cached: data
    that large is streamed); otherwise every batch runs the whole network, nothing is kept but the outputs.
    """
    use_cache = cache if ck["config"].get("mode") != "full" and shard_members(paths) is None else None
    crop = ck["preprocess"]["crop"]
    runtime = runtime or Runtime(next(net.parameters()).device)
    runtime.place(net).eval()
    if use_cache is None:
        return _streamed_outputs(net, paths, crop, runtime)
    maps, ok = extract(net.backbone, paths, start_block=net.start_block, crop=crop, cache_root=use_cache,
                       desc="evaluate", runtime=runtime)
    outs: dict[str, list] = {}
    with torch.inference_mode(), runtime.autocast():
        for s in tqdm(range(0, len(paths), batch_size), desc="heads", leave=False, disable=None):
            h = runtime.to_device(torch.from_numpy(np.asarray(maps[s:s + batch_size], np.float32)))
            o = net.forward_cached(h) if net.start_block else net.forward_features(h)
            for k in OUTPUTS:
                if k in o:
                    outs.setdefault(k, []).append(o[k].float().cpu().numpy())
    res = {k: np.concatenate(v) for k, v in outs.items()}
    res["ok"] = np.asarray(ok)
    return res


def _streamed_outputs(net, paths: list[str], crop: float, runtime: Runtime) -> dict[str, np.ndarray]:
    """:func:`network_outputs` without a cache: images through the DataLoader, the whole network per batch.
    The trunk's output is rounded to float16 as the feature cache stores it, so the figures are the same
    with or without a cache."""
    loader = path_loader(paths, transform_for(net.backbone, False), 32 if runtime.device.type == "cpu" else 128,
                         runtime, crop=crop)
    res: dict[str, np.ndarray] = {}
    ok = np.zeros(len(paths), bool)
    sb = net.start_block
    with torch.inference_mode(), tqdm(total=len(paths), desc="evaluate", unit="img", leave=False,
                                       disable=None) as bar:
        for x, idx in loader:
            with runtime.autocast():
                x = runtime.to_device(x)
                h = net.backbone(x) if sb == 0 else net.backbone.forward_trunk(x, sb)
                o = net.forward_cached(h.half().float())
            idx = idx.numpy()
            for k in OUTPUTS:
                if k in o:
                    v = o[k].float().cpu().numpy()
                    if k not in res:
                        res[k] = np.zeros((len(paths),) + v.shape[1:], np.float32)
                    res[k][idx] = v
            ok[idx] = True
            bar.update(len(idx))
    if not ok.any():
        raise ImageLoadError(f"none of the {len(paths)} images could be loaded")
    res["ok"] = ok
    return res


def outputs_in_chunks(predictor: Any, paths: list[str], chunk: int = 16,
                      progress: Progress | None = None) -> dict[str, np.ndarray]:
    """:func:`network_outputs` of a loaded :class:`model.predict.Predictor` (or ``file_outputs`` of another
    predictor of :mod:`model.predictors`), ``chunk`` images at a time
    (one ``progress`` step each), holding the model's lock per chunk so other users of the shared model
    interleave. A chunk none of whose images loads gives "not ok" rows."""
    parts: list[dict | int] = []
    for s in range(0, len(paths), chunk):
        sub = paths[s:s + chunk]
        try:
            with model_lock(predictor):
                if hasattr(predictor, "ck"):  # a checkpoint (model.predict.Predictor)
                    parts.append(network_outputs(predictor.net, predictor.ck, sub, cache=None, runtime=predictor.runtime))
                else:  # another predictor of model.predictors (GeoCLIP, zero-shot CLIP): its own outputs
                    parts.append(predictor.file_outputs(sub))
        except ImageLoadError:
            parts.append(len(sub))
        if progress:
            progress(min(s + chunk, len(paths)), len(paths), "images")
    good = [p for p in parts if isinstance(p, dict)]
    if not good:
        raise ImageLoadError(f"none of the {len(paths)} images could be loaded")
    out: dict[str, np.ndarray] = {}
    for k in good[0]:
        arrays = [p[k] if isinstance(p, dict) else np.zeros((p,) + good[0][k].shape[1:], good[0][k].dtype)
                  for p in parts]
        out[k] = np.concatenate(arrays)
    return out
