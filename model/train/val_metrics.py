"""Per-image validation metrics computed during training (for the logs, not for model selection).

Decoded like the Predictor, without retrieval: the country head (if any) re-weights the cells, the
predicted country is the one with the most cell probability, the predicted point is its likeliest
cell's centroid moved by that cell's offset (or the direct regression). Views are not fused here:
these are per-image figures; ``python -m model.evaluate`` gives the per-location ones.
"""
from __future__ import annotations

import numpy as np
import torch

from model.geo import geoscore, haversine_km
from model.net.inference import cell_country_index
from model.net.network import offset_to_latlon, xyz_to_latlon


class ValMeter:
    """Collects, batch by batch, each row's country hit and distance; :meth:`result` summarises them."""

    def __init__(self, table, device: torch.device):
        codes, cidx = cell_country_index(table)
        self.cidx = torch.as_tensor(cidx, device=device)
        self.onehot = torch.nn.functional.one_hot(self.cidx, len(codes)).float()  # (C, K)
        self.c_lat, self.c_lon = table["lat"].to_numpy(float), table["lon"].to_numpy(float)
        self.hits: list[np.ndarray] = []
        self.cell_hits: list[np.ndarray] = []
        self.km: list[np.ndarray] = []

    @torch.no_grad()
    def add(self, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> None:
        """``out``: head outputs of a batch (B rows); ``batch``: its targets (:func:`model.train.inputs.row_targets`)."""
        p = out["logits"].float().softmax(1)  # (B, C)
        if "country_logits" in out:  # p(cell) = p_head(country) * p(cell) / p_cells(country)
            q = out["country_logits"].float().softmax(1)
            mass = p @ self.onehot
            p = p * (q / mass.clamp_min(1e-12))[:, self.cidx]
            p = p / p.sum(1, keepdim=True)
        k = (p @ self.onehot).argmax(1)  # (B,) predicted country
        top = p.masked_fill(self.cidx[None, :] != k[:, None], -1.0).argmax(1)  # its likeliest cell
        has_c = batch["has_country"]
        hit = (batch["country_idx"] == k).float()
        self.hits.append(torch.where(has_c, hit, torch.full_like(hit, float("nan"))).cpu().numpy())
        top_np = top.cpu().numpy()
        if "xyz" in out:
            lat, lon = xyz_to_latlon(out["xyz"].float().cpu().numpy())
        elif "offset" in out:
            off = out["offset"].float()[torch.arange(len(top), device=top.device), top].cpu().numpy()
            lat, lon = offset_to_latlon(self.c_lat[top_np], self.c_lon[top_np], off)
        else:
            lat, lon = self.c_lat[top_np], self.c_lon[top_np]
        tl, tn = batch["lat"].cpu().numpy(), batch["lon"].cpu().numpy()
        known = ~np.isnan(tl)
        d = np.full(len(tl), np.nan)
        d[known] = haversine_km(tl[known], tn[known], np.asarray(lat)[known], np.asarray(lon)[known])
        self.km.append(d)
        ch = (batch["cell"].cpu().numpy() == top_np).astype(float)
        ch[~known] = np.nan
        self.cell_hits.append(ch)

    def result(self, dist=None) -> dict[str, float]:
        """``n`` images; ``country_top1`` (over rows with a country label), ``cell_top1``, ``median_km``,
        ``geoscore_mean`` (world scale) and ``acc_750km`` (over rows with coordinates); NaN when none.
        Under torchrun every rank's rows are pooled first."""
        parts = [np.concatenate(v) if v else np.zeros(0) for v in (self.hits, self.cell_hits, self.km)]
        if dist is not None:
            parts = dist.gather_objects(parts)
            parts = [np.concatenate([p[i] for p in parts]) for i in range(3)]
        hits, cells, km = parts
        hits, cells, km = hits[~np.isnan(hits)], cells[~np.isnan(cells)], km[~np.isnan(km)]
        nan = float("nan")
        return {"n": int(len(parts[0])),
                "country_top1": float(hits.mean()) if len(hits) else nan,
                "cell_top1": float(cells.mean()) if len(cells) else nan,
                "median_km": float(np.median(km)) if len(km) else nan,
                "geoscore_mean": float(geoscore(km).mean()) if len(km) else nan,
                "acc_750km": float((km <= 750).mean()) if len(km) else nan}
