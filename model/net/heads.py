"""Head registry: pooled backbone features ``(B, D)`` -> cell logits and a coordinate regression.

Every head is a hidden trunk ``(B, D) -> (B, H)`` followed by the same output layers,
:class:`CellOutputs`, which return one dict: ``logits`` (B, C), ``embed`` (B, H) (the last hidden
layer) and, depending on ``regression``:

- ``offset``: per-cell in-cell offsets ``offset`` (B, C, 2), units of 1000 km (east, north);
- ``direct``: unit-vector regression ``xyz`` (B, 3);
- ``latlon`` (reference heads only): the references' 2-output regressor, ``latlon`` (B, 2) in
  degrees; it is also exposed as the unit vector ``xyz`` (B, 3) so the loss and the decoding of
  ``direct`` apply unchanged (cosine loss on the sphere: no wrap-around problem at ±180°);
- ``none``: classification only.

With ``n_countries`` K > 0 every head also has a country classifier ``head.country`` on the same
hidden vector: ``country_logits`` (B, K) (see :func:`model.net.inference.combine_country`).
The classifier is always ``head.cls`` (the app reads ``net.head.cls.weight``). ``HEADS``:

- ``mlp``: the project's default :class:`GeoHead` (Linear + LayerNorm + GELU);
- ``linear``: final layer only (features -> cells), the "retrain only the last layer" recipe of
  the ResNet-50 city-classifier reference when used with ``--mode frozen``;
- ``alexnet``: the AlexNet reference head, one FC layer ``D (=256*6*6) -> 244`` + ReLU, then
  classifier and regressor;
- ``vit_mlp``: the ViT reference head, ``D (=768) -> 512 -> 256 -> 128 -> 64`` with BatchNorm1d
  and ReLU after every layer, then classifier and regressor.

State-dict keys (checkpoints store ``net.head.state_dict()``): ``GeoHead`` is itself a
:class:`CellOutputs` with its trunk (``trunk.*``, ``cls.*``, ``reg.*``, ``country.*``); the reference
heads hold theirs as ``out`` (``trunk.*``, ``out.cls.*``...). Both layouts load as they always have.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

HEAD_REGRESSIONS = ("offset", "direct", "latlon", "none")
MLP_REGRESSIONS = ("offset", "direct", "none")  # GeoHead's: "latlon" is the reference heads' regressor
ALEXNET_HIDDEN = 244
VIT_MLP_WIDTHS = (512, 256, 128, 64)


def latlon_to_unit(latlon: torch.Tensor) -> torch.Tensor:
    """Differentiable (B, 2) degrees (lat, lon) -> (B, 3) unit vectors (x, y, z)."""
    la, lo = torch.deg2rad(latlon[:, 0]), torch.deg2rad(latlon[:, 1])
    return torch.stack([torch.cos(la) * torch.cos(lo), torch.cos(la) * torch.sin(lo), torch.sin(la)], 1)


class CellOutputs(nn.Module):
    """Classifier ``cls`` + regressor ``reg`` (+ country classifier ``country`` when ``n_countries``) on
    a hidden vector ``(B, H)`` -> the head output dict.

    With a ``trunk`` ((B, D) -> (B, H)) it is a whole head: ``forward`` takes features (B, D) and runs
    the trunk first. The trunk is registered before the output layers and built before them by the
    caller, so parameter order and seeded initialisation are those of the construction order."""

    def __init__(self, hidden: int, n_cells: int, regression: str, n_countries: int = 0,
                 trunk: nn.Module | None = None):
        super().__init__()
        if regression not in HEAD_REGRESSIONS:
            raise ValueError(f"regression must be one of {HEAD_REGRESSIONS}, got {regression!r}")
        self.trunk = trunk
        self.regression, self.n_cells = regression, n_cells
        self.cls = nn.Linear(hidden, n_cells)
        self.reg: nn.Linear | None = None
        if regression == "offset":
            self.reg = nn.Linear(hidden, n_cells * 2)
            nn.init.zeros_(self.reg.weight)
            nn.init.zeros_(self.reg.bias)
        elif regression == "direct":
            self.reg = nn.Linear(hidden, 3)
        elif regression == "latlon":
            self.reg = nn.Linear(hidden, 2)
        # Optional country classifier (K countries of the cell table, sorted): a direct country signal
        # that re-weights the cells' country marginals at inference (see inference.combine_country).
        self.country = nn.Linear(hidden, n_countries) if n_countries else None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = x if self.trunk is None else self.trunk(x)
        out = {"logits": self.cls(h), "embed": h}
        if self.regression == "offset":
            out["offset"] = self.reg(h).view(-1, self.n_cells, 2)
        elif self.regression == "direct":
            out["xyz"] = self.reg(h)
        elif self.regression == "latlon":
            # outputs are (lat/90, lon/180): unit-scale targets for a linear layer
            out["latlon"] = self.reg(h) * h.new_tensor([90.0, 180.0])
            out["xyz"] = latlon_to_unit(out["latlon"])
        if self.country is not None:
            out["country_logits"] = self.country(h)
        return out


class GeoHead(CellOutputs):
    """The default MLP head: features (B, D) -> dropout, Linear, LayerNorm, GELU, dropout (B, H) ->
    dict(logits (B, C), offset (B, C, 2) | xyz (B, 3), embed (B, H), country_logits (B, K) when ``n_countries``)."""

    def __init__(self, in_dim: int, n_cells: int, hidden: int = 512, dropout: float = 0.3,
                 regression: str = "offset", n_countries: int = 0):
        if regression not in MLP_REGRESSIONS:
            raise ValueError(f"regression must be one of {MLP_REGRESSIONS}")
        trunk = nn.Sequential(nn.Dropout(dropout / 2), nn.Linear(in_dim, hidden), nn.LayerNorm(hidden),
                              nn.GELU(), nn.Dropout(dropout))
        super().__init__(hidden, n_cells, regression, n_countries, trunk=trunk)


class _OutputsHead(nn.Module):
    """A hidden trunk (B, D) -> (B, H) followed by :class:`CellOutputs`; ``cls`` is the classifier."""

    def __init__(self, trunk: nn.Module, hidden: int, n_cells: int, regression: str, n_countries: int = 0):
        super().__init__()
        self.trunk = trunk
        self.out = CellOutputs(hidden, n_cells, regression, n_countries)
        self.regression, self.n_cells = regression, n_cells

    @property
    def cls(self) -> nn.Linear:
        return self.out.cls

    @property
    def country(self) -> nn.Linear | None:
        return self.out.country

    def forward(self, f: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.out(self.trunk(f))


class LinearHead(_OutputsHead):
    """Final layer only: dropout on the features, then one linear classifier (+ regressor)."""

    def __init__(self, in_dim: int, n_cells: int, hidden: int = 0, dropout: float = 0.0,
                 regression: str = "offset", n_countries: int = 0):
        super().__init__(nn.Dropout(dropout), in_dim, n_cells, regression, n_countries)


class AlexNetHead(_OutputsHead):
    """The AlexNet reference head: ``(B, D)`` -> FC 244 -> ReLU -> dropout -> classifier/regressor."""

    def __init__(self, in_dim: int, n_cells: int, hidden: int = ALEXNET_HIDDEN, dropout: float = 0.3,
                 regression: str = "latlon", n_countries: int = 0):
        trunk = nn.Sequential(nn.Linear(in_dim, ALEXNET_HIDDEN), nn.ReLU(), nn.Dropout(dropout))
        super().__init__(trunk, ALEXNET_HIDDEN, n_cells, regression, n_countries)


class ViTMLPHead(_OutputsHead):
    """The ViT reference head: ``(B, D)`` -> 512 -> 256 -> 128 -> 64, each Linear + BatchNorm1d +
    ReLU + dropout, then classifier/regressor on the 64-d vector."""

    def __init__(self, in_dim: int, n_cells: int, hidden: int = 64, dropout: float = 0.3,
                 regression: str = "latlon", n_countries: int = 0):
        layers: list[nn.Module] = []
        d = in_dim
        for w in VIT_MLP_WIDTHS:
            layers += [nn.Linear(d, w), nn.BatchNorm1d(w), nn.ReLU(), nn.Dropout(dropout)]
            d = w
        super().__init__(nn.Sequential(*layers), d, n_cells, regression, n_countries)


def _mlp(in_dim: int, n_cells: int, hidden: int = 512, dropout: float = 0.3, regression: str = "offset",
         n_countries: int = 0) -> GeoHead:
    return GeoHead(in_dim, n_cells, hidden, dropout, regression, n_countries)


HEADS: dict[str, Callable[..., nn.Module]] = {
    "mlp": _mlp,
    "linear": LinearHead,
    "alexnet": AlexNetHead,
    "vit_mlp": ViTMLPHead,
}


def build_head(kind: str, in_dim: int, n_cells: int, hidden: int = 512, dropout: float = 0.3,
               regression: str = "offset", n_countries: int = 0) -> nn.Module:
    """Build a registered head. ``hidden`` is used by ``mlp`` only (the reference heads have fixed widths)."""
    if kind not in HEADS:
        raise KeyError(f"unknown head {kind!r}; available: {', '.join(sorted(HEADS))}")
    if kind == "mlp" and regression == "latlon":
        raise ValueError("regression 'latlon' needs a reference head (--head alexnet|vit_mlp|linear)")
    return HEADS[kind](in_dim, n_cells, hidden=hidden, dropout=dropout, regression=regression, n_countries=n_countries)
