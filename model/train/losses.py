"""Training targets and losses: haversine-smoothed cell targets, country marginals, offsets.

Shapes: B = batch, C = cells. Distances in km.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from model.geo import EARTH_RADIUS_KM


def haversine_torch(lat1: torch.Tensor, lon1: torch.Tensor, lat2: torch.Tensor, lon2: torch.Tensor) -> torch.Tensor:
    """Great-circle km, broadcasting torch tensors in degrees."""
    p1, p2 = torch.deg2rad(lat1), torch.deg2rad(lat2)
    a = torch.sin((p2 - p1) / 2) ** 2 + torch.cos(p1) * torch.cos(p2) * torch.sin(torch.deg2rad(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * torch.asin(torch.sqrt(a.clamp(0, 1)))


def smoothed_targets(lat: torch.Tensor, lon: torch.Tensor, c_lat: torch.Tensor, c_lon: torch.Tensor,
                     tau_km: float) -> torch.Tensor:
    """PIGEON haversine label smoothing: q_i ∝ exp(-(d_i - d_min)/tau). (B,) points -> (B, C).

    ``tau_km <= 0`` gives one-hot targets on the nearest centroid.
    """
    d = haversine_torch(lat[:, None], lon[:, None], c_lat[None, :], c_lon[None, :])
    if tau_km <= 0:
        return F.one_hot(d.argmin(1), d.shape[1]).float()
    q = torch.exp(-(d - d.min(1, keepdim=True).values) / tau_km)
    return q / q.sum(1, keepdim=True)


def geo_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], cells: dict[str, torch.Tensor],
             tau_km: float, reg_weight: float, country_weight: float = 1.0
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Combined loss over a batch, and its parts (detached 0-d tensors, summed over the batch / B).

    ``batch``: ``lat``/``lon`` (B,) with NaN for label-only rows, ``cell`` (B,) true cell id (any valid
    id on label-only rows), ``offset`` (B, 2) target offset from the true cell's centroid,
    ``country_mask`` (B, C) bool. Rows with coordinates: soft cross-entropy on smoothed targets
    (+ offset/direct regression); label-only rows: negative log of the predicted probability mass of
    their country. With a country head (``country_logits`` (B, K), targets ``country_idx`` (B,),
    -1 = unknown), its cross-entropy is added with ``country_weight``.

    Branch-free (masks instead of ``if any()``) and without ``.item()``, so a training step never
    waits for the GPU: the caller reads the parts when it reports them.
    """
    logp = F.log_softmax(out["logits"], dim=1)
    n = max(1, logp.shape[0])  # an empty batch (a rank's empty share of a global batch) has loss 0, not NaN
    has = ~torch.isnan(batch["lat"])
    w = has.to(logp.dtype)
    lat, lon = torch.where(has, batch["lat"], 0.0), torch.where(has, batch["lon"], 0.0)
    q = smoothed_targets(lat, lon, cells["lat"], cells["lon"], tau_km)
    ce = -(w * (q * logp).sum(1)).sum() / n
    total = ce
    parts: dict[str, torch.Tensor] = {"cls": ce}
    if "offset" in out and reg_weight > 0:
        pred = out["offset"][torch.arange(logp.shape[0], device=logp.device), batch["cell"]]
        err = F.smooth_l1_loss(pred, batch["offset"], beta=0.1, reduction="none").sum(1)
        reg = (w * torch.nan_to_num(err)).sum() / n
        total = total + reg_weight * reg
        parts["reg"] = reg
    elif "xyz" in out and reg_weight > 0:
        la, lo = torch.deg2rad(lat), torch.deg2rad(lon)
        tgt = torch.stack([torch.cos(la) * torch.cos(lo), torch.cos(la) * torch.sin(lo), torch.sin(la)], 1)
        reg = (w * (1 - F.cosine_similarity(out["xyz"], tgt, dim=1))).sum() / n
        total = total + reg_weight * reg
        parts["reg"] = reg
    if "country_logits" in out and "country_idx" in batch:
        cl = F.cross_entropy(out["country_logits"], batch["country_idx"], ignore_index=-1, reduction="sum") / n
        total = total + country_weight * cl
        parts["country_head"] = cl
    m = batch["country_mask"]
    lab = ~has & m.any(1)
    safe = torch.where(lab[:, None], m, torch.ones_like(m))  # other rows: a finite mass (no NaN gradient)
    mass = torch.logsumexp(logp.masked_fill(~safe, float("-inf")), dim=1)
    nll = -torch.where(lab, mass, torch.zeros_like(mass)).sum() / n
    total = total + nll
    parts["country"] = nll
    parts["loss"] = total
    return total, {k: v.detach() for k, v in parts.items()}
