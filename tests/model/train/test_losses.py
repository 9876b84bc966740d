"""The branch-free loss equals the per-branch definition (kept here as the reference), its gradients
stay finite on mixed batches, and it never reads a value off the device (no .item())."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from model.train.losses import geo_loss, smoothed_targets


def reference_loss(out, batch, cells, tau_km, reg_weight, country_weight=1.0):
    """The loss as first written: one branch per kind of row."""
    logp = F.log_softmax(out["logits"], dim=1)
    has = ~torch.isnan(batch["lat"])
    n, total, parts = logp.shape[0], logp.new_zeros(()), {}
    if has.any():
        q = smoothed_targets(batch["lat"][has], batch["lon"][has], cells["lat"], cells["lon"], tau_km)
        ce = -(q * logp[has]).sum(1).sum() / n
        total, parts["cls"] = total + ce, float(ce.detach())
        idx = torch.nonzero(has).squeeze(1)
        pred = out["offset"][idx, batch["cell"][idx]]
        reg = F.smooth_l1_loss(pred, batch["offset"][idx], beta=0.1, reduction="sum") / n
        total, parts["reg"] = total + reg_weight * reg, float(reg)
    ok = batch["country_idx"] >= 0
    if ok.any():
        cl = F.cross_entropy(out["country_logits"][ok], batch["country_idx"][ok], reduction="sum") / n
        total, parts["country_head"] = total + country_weight * cl, float(cl)
    lab = ~has & batch["country_mask"].any(1)
    if lab.any():
        m = batch["country_mask"][lab]
        nll = -(torch.logsumexp(logp[lab].masked_fill(~m, float("-inf")), dim=1)).sum() / n
        total, parts["country"] = total + nll, float(nll)
    parts["loss"] = float(total)
    return total, parts


def _mixed_batch(b: int = 12, c: int = 6, k: int = 3):
    g = torch.Generator().manual_seed(0)
    lat = torch.rand(b, generator=g) * 120 - 60
    lon = torch.rand(b, generator=g) * 340 - 170
    lat[[1, 4, 7]] = float("nan")  # label-only rows
    lon[[1, 4, 7]] = float("nan")
    mask = torch.zeros(b, c, dtype=torch.bool)
    mask[1, :2] = True
    mask[4, 3] = True  # row 7: a country without cells (all False)
    cidx = torch.randint(0, k, (b,), generator=g)
    cidx[[2, 7]] = -1
    batch = {"lat": lat, "lon": lon, "cell": torch.randint(0, c, (b,), generator=g),
             "offset": torch.randn(b, 2, generator=g) * 0.1, "country_mask": mask, "country_idx": cidx}
    batch["offset"][[1, 4, 7]] = 0.0
    cells = {"lat": torch.linspace(-50, 60, c), "lon": torch.linspace(-150, 160, c)}
    out = {"logits": torch.randn(b, c, generator=g, requires_grad=True),
           "offset": torch.randn(b, c, 2, generator=g, requires_grad=True),
           "country_logits": torch.randn(b, k, generator=g, requires_grad=True)}
    return out, batch, cells


def test_equals_the_reference_definition_and_gradients_are_finite():
    out, batch, cells = _mixed_batch()
    loss, parts = geo_loss(out, batch, cells, tau_km=300.0, reg_weight=0.7, country_weight=0.5)
    ref, ref_parts = reference_loss(out, batch, cells, 300.0, 0.7, 0.5)
    assert torch.allclose(loss, ref, atol=1e-5)
    for k, v in ref_parts.items():
        assert abs(float(parts[k]) - v) < 1e-5, k
    grads = torch.autograd.grad(loss, list(out.values()))
    ref_grads = torch.autograd.grad(ref, list(out.values()))
    for g, r in zip(grads, ref_grads):
        assert torch.isfinite(g).all() and torch.allclose(g, r, atol=1e-6)


def test_parts_stay_tensors_without_a_sync():
    out, batch, cells = _mixed_batch()
    _, parts = geo_loss(out, batch, cells, tau_km=0.0, reg_weight=1.0)
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad for v in parts.values())


def test_an_empty_batch_has_loss_zero():
    """A rank's share of a global batch can be empty under DDP: its loss and parts are 0, not NaN (a NaN
    validation loss on one rank made the whole job's early stopping and LR schedule differ)."""
    out, batch, cells = _mixed_batch()
    empty = {k: v[:0] for k, v in out.items()}
    loss, parts = geo_loss(empty, {k: v[:0] for k, v in batch.items()}, cells, tau_km=300.0, reg_weight=1.0)
    assert float(loss) == 0.0 and all(float(v) == 0.0 for v in parts.values())
