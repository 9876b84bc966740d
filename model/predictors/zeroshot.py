"""Zero-shot StreetCLIP / CLIP as a predictor: text prompts per country and per first-level region, no training.

Candidates: the world's admin-1 regions (:func:`.candidates.admin1_regions`). For an image embedding
``f`` (unit) and unit text embeddings ``t`` of the prompts (:mod:`.prompts`), with ``s`` the checkpoint's
trained logit scale (``exp(logit_scale)``; 100 for OpenAI's weights)::

    p(country)          = softmax_k  s * f . t_country[k]
    p(region | country) = softmax over the country's regions of  s * f . t_region[r]
    logits[r]           = log p(country(r)) + log p(region r | country(r))       (V, R) log-probabilities

so the views fuse and the answer decodes like a checkpoint's (:func:`model.net.answer.answer_place`):
M in the likeliest region of the likeliest country, E maximising the expected score. This is StreetCLIP's
"hierarchical" zero-shot protocol (country, then a place within the country) with regions for cities.
The text embeddings are computed once per model and prompt set and cached on disk (keyed by the
weights' sha256 and the prompts); a cached model then loads only its vision tower.

Names: ``streetclip-zeroshot`` (``geolocal/StreetCLIP``, CC BY-NC 4.0), ``clip-zeroshot`` (OpenAI's
ViT-L/14 at 336 px, StreetCLIP's baseline) and ``clip-zeroshot:<clip backbone>`` for any CLIP entry of
:data:`model.net.backbones.clip.CLIPS` (``clip_vit_b32``, ``clip_vit_l14``, ...).
"""
from __future__ import annotations

import hashlib
import logging
import time

import torch
import torch.nn.functional as F
from torch import nn

from model.device import CPU, Runtime
from model.net.backbones.clip import _FILES, CLIPS
from model.net.backbones.hf import fetch_command, hf_cache_dir
from model.net.inference import cell_country_index

from .base import NetPredictor
from .cache import cached_tensors, is_cached
from .candidates import admin1_regions
from .clip_tower import ClipImageTower, load_clip
from .geoclip import OPENAI_CLIP_LICENCE
from .prompts import PROMPT_VERSION, country_prompt, region_prompt
from .weights import WeightsInfo, WeightsMissing, local_files_only, require, snapshot_revision, weights_sha256

log = logging.getLogger("model.predictors")
STREETCLIP_LICENCE = "CC BY-NC 4.0 (StreetCLIP, geolocal/StreetCLIP): non-commercial use only"
DEFAULT_CLIP = "clip_vit_l14_336"
_SIZES = {"clip_vit_b32": "about 0.6 GB (float32)"}
_REQUIRED = ("config.json", "model.safetensors|pytorch_model.bin", "tokenizer.json|vocab.json+merges.txt")


def backbone_of(name: str) -> str:
    """The CLIP entry of a zero-shot predictor name: ``streetclip-zeroshot`` -> ``streetclip``,
    ``clip-zeroshot`` -> ``clip_vit_l14_336``, ``clip-zeroshot:<entry>`` -> entry. KeyError otherwise."""
    if name == "streetclip-zeroshot":
        return "streetclip"
    if name == "clip-zeroshot":
        return DEFAULT_CLIP
    head, sep, rest = name.partition(":")
    if head == "clip-zeroshot" and sep and rest in CLIPS:
        return rest
    raise KeyError(f"unknown zero-shot predictor {name!r}; use streetclip-zeroshot, clip-zeroshot or "
                   f"clip-zeroshot:<{'|'.join(CLIPS)}>")


def weights_info(name: str) -> WeightsInfo:
    """What zero-shot predictor ``name`` needs: the whole CLIP model (text tower and tokenizer too)."""
    bb = backbone_of(name)
    repo = CLIPS[bb][0]
    if bb == "streetclip":  # the repo's main holds pytorch_model.bin (no safetensors) and sample images
        return WeightsInfo("StreetCLIP (CLIP ViT-L/14-336 pretrained for geolocation)", repo,
                           "about 1.7 GB (pytorch_model.bin, float32)", STREETCLIP_LICENCE, fetch_command(repo),
                           (), _REQUIRED)
    return WeightsInfo(f"OpenAI CLIP ({bb})", repo, _SIZES.get(bb, "about 1.7 GB (float32)"), OPENAI_CLIP_LICENCE,
                       fetch_command(repo, _FILES), _FILES, _REQUIRED)


def licence_of(name: str) -> str:
    return STREETCLIP_LICENCE if backbone_of(name) == "streetclip" else OPENAI_CLIP_LICENCE


def _tokenizer(info: WeightsInfo, vocab_size: int):
    """The repo's tokenizer, checked against the text tower: transformers 5 builds a 2-token stub
    without raising when the files are missing (huggingface/transformers#45538)."""
    from transformers import CLIPTokenizer

    try:
        tok = CLIPTokenizer.from_pretrained(info.repo, cache_dir=hf_cache_dir(), local_files_only=local_files_only())
    except OSError as e:
        raise WeightsMissing(info, ["tokenizer.json or vocab.json and merges.txt"]) from e
    if len(tok) != vocab_size:
        raise WeightsMissing(info, [f"a tokenizer of {vocab_size} tokens (the cache's has {len(tok)})"])
    return tok


@torch.no_grad()  # not inference_mode: these become buffers that Grad-CAM differentiates through
def text_embeddings(model: nn.Module, tok, prompts: list[str], batch_size: int = 64) -> torch.Tensor:
    """Unit text embeddings (n, P) float32 of ``prompts`` through ``model`` (a ``CLIPModel``), in batches
    of similar length (less padding); truncated to the text tower's positions (77)."""
    n_pos = int(model.config.text_config.max_position_embeddings)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = torch.zeros(len(prompts), model.config.projection_dim)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        enc = tok([prompts[i] for i in idx], padding=True, truncation=True, max_length=n_pos, return_tensors="pt")
        t = model.get_text_features(**enc)
        t = getattr(t, "pooler_output", t)  # transformers 5: BaseModelOutputWithPooling; 4: a tensor
        out[idx] = F.normalize(t.float(), dim=-1)
    return out


class ZeroShotNet(nn.Module):
    """Images -> ``logits`` (B, R) = log p(country) + log p(region | country) (module docstring) and
    ``embed`` (B, P) the unit image embedding. ``region_cidx`` (R,): each region's country (row of
    ``country_text``). The products run in float32 whatever the autocast."""

    def __init__(self, tower: ClipImageTower, country_text: torch.Tensor, region_text: torch.Tensor,
                 region_cidx: torch.Tensor, scale: float):
        super().__init__()
        self.tower = tower
        self.register_buffer("country_text", country_text.float(), persistent=False)
        self.register_buffer("region_text", region_text.float(), persistent=False)
        self.register_buffer("region_cidx", region_cidx.long(), persistent=False)
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.tower(x)
        with torch.autocast(x.device.type, enabled=False):
            f = F.normalize(f.float(), dim=1)
            lc = torch.log_softmax(self.scale * f @ self.country_text.T, dim=1)  # (B, K)
            sr = self.scale * f @ self.region_text.T  # (B, R)
            idx = self.region_cidx
            b, k = lc.shape
            m = torch.full((b, k), -torch.inf, device=x.device).scatter_reduce(
                1, idx.expand(b, -1), sr.detach(), "amax")[:, idx]  # per-country max (a constant shift)
            s = torch.zeros(b, k, device=x.device).index_add(1, idx, (sr - m).exp())[:, idx]
            return {"logits": lc[:, idx] + sr - m - s.log(), "embed": f}


class _Stale(Exception):
    """A cache entry that was listed could not be read."""


def _stale() -> dict:
    raise _Stale


def load_zeroshot(name: str = "streetclip-zeroshot", runtime: Runtime = CPU,
                  countries: list[str] | None = None) -> NetPredictor:
    """Zero-shot predictor ``name`` (module docstring) on ``runtime``; ``countries`` (ISO codes) limits the
    candidates (default: the world). WeightsMissing with the fetch command when the model is not cached."""
    info = weights_info(name)
    cells = admin1_regions(countries)
    t = cells.table
    codes, cidx = cell_country_index(t)
    prompts = [country_prompt(c) for c in codes] + [region_prompt(c, a) for c, a in zip(t["country_code"], t["admin1"])]
    require(info)
    h = hashlib.sha256("\n".join(prompts).encode())
    h.update(f"{weights_sha256(info.repo)}|{snapshot_revision(info.repo)}|v{PROMPT_VERSION}".encode())
    entry = f"zeroshot/{info.repo.replace('/', '--')}-{h.hexdigest()[:24]}.pt"
    texts = None
    if is_cached(entry):  # the prompts are encoded: the vision tower is all that is needed
        model, tower = load_clip(info, vision_only=True)
        try:
            texts = cached_tensors(entry, _stale)
        except _Stale:
            texts = None
    if texts is None:
        model, tower = load_clip(info, vision_only=False)

        def build() -> dict[str, torch.Tensor]:
            tok = _tokenizer(info, int(model.config.text_config.vocab_size))
            t0 = time.perf_counter()
            log.info("%s: encoding %d prompts once (cached afterwards)", name, len(prompts))
            emb = text_embeddings(model, tok, prompts)
            log.info("prompts encoded in %.1f s", time.perf_counter() - t0)
            return {"text": emb, "logit_scale": model.logit_scale.detach().float().reshape(())}

        texts = cached_tensors(entry, build)
    model = None  # the text tower is no longer needed: freed
    k = len(codes)
    scale = float(texts["logit_scale"].exp())
    net = ZeroShotNet(tower, texts["text"][:k], texts["text"][k:], torch.as_tensor(cidx), scale)
    meta = {"family": "zeroshot", "weights": info.repo, "revision": snapshot_revision(info.repo),
            "weights_sha256": weights_sha256(info.repo), "logit_scale": scale, "n_countries": k,
            "prompt_version": PROMPT_VERSION, "tower_params": int(sum(p.numel() for p in tower.parameters()))}
    return NetPredictor(name, licence_of(name), net, tower.backbone, cells, runtime, 0.0, meta)
