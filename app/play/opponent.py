"""The model as the player's opponent (no Streamlit): its pin for a round, told the region as the
player is, and kept inside that region's land in a regional game (``app.play.areas``).

Coordinates are WGS-84 degrees, distances km, scores GeoGuessr points.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from app.play import areas
from app.play.game import ModelMove
from app.play.regions import WORLD, in_region, parse_region
from model.geo import geoscore, pairwise_km

MAX_MOVED = 8  # outside candidates moved inside a region per move (each is a polygon search)


def model_move(pred: Any, region: str, map_size_km: float | None, top_n: int = 3, gallery: Any = None) -> ModelMove:
    """The model's pin for a round. World: its expected-score guess (``pred.best_lat/lon``).

    A region game tells the model the region, as the player knows it: cell probabilities are
    restricted to the cells of the region's countries and renormalised, and the pin is the candidate
    with the highest expected score on that map (size ``map_size_km``) among the candidates that lie
    inside the region's land (``app.play.areas``): the cells' positions, the ``gallery``'s training
    places in those cells (``model.net.retrieval.Gallery``, optional) and the model's own world answer.
    Without a candidate inside (or without a cell of the region), the best candidate is moved to the
    nearest point inside the region. The pin never leaves the region.

    ``pred.top`` should list all cells (``predict(..., top_k=n_cells)``)."""
    top = list(pred.top)
    world = parse_region(region)[0] == WORLD
    inside = [] if world else [g for g in top if in_region(g.country_code, region)]
    if not inside:
        lat, lon = float(pred.best_lat), float(pred.best_lon)
        if not world and areas.has_shape(region):
            lat, lon = areas.nearest_inside(region, lat, lon)
        near = min(top, key=lambda g: (g.lat - lat) ** 2 + (g.lon - lon) ** 2)
        return ModelMove(lat, lon, tuple((g.name, g.country, float(g.prob)) for g in top[:top_n]), int(near.cell_id))
    p = np.array([max(float(g.prob), 0.0) for g in inside])
    p = p / p.sum() if p.sum() > 0 else np.full(len(inside), 1.0 / len(inside))
    order = np.argsort(-p)
    keep = order[: max(1, int(np.searchsorted(np.cumsum(p[order]), 0.999)) + 1)][:1024]
    lat = np.array([inside[i].lat for i in keep])
    lon = np.array([inside[i].lon for i in keep])
    pk = p[keep] / p[keep].sum()
    cells = np.array([int(inside[i].cell_id) for i in keep])
    c_lat, c_lon, c_cell = [lat], [lon], [cells]
    if gallery is not None and len(gallery):  # real street places the model trained on, in the likely cells
        m = np.flatnonzero(np.isin(np.asarray(gallery.cell), cells) & np.isfinite(np.asarray(gallery.lat, float)))
        c_lat.append(np.asarray(gallery.lat, float)[m])
        c_lon.append(np.asarray(gallery.lon, float)[m])
        c_cell.append(np.asarray(gallery.cell, int)[m])
    c_lat.append(np.array([float(pred.best_lat)]))
    c_lon.append(np.array([float(pred.best_lon)]))
    c_cell.append(np.array([-1]))
    c_lat, c_lon, c_cell = np.concatenate(c_lat), np.concatenate(c_lon), np.concatenate(c_cell)
    expected = geoscore(pairwise_km(c_lat, c_lon, lat, lon), map_size_km) @ pk  # (candidates,) points
    if areas.has_shape(region):
        c_lat, c_lon, usable = _moved_inside(region, c_lat, c_lon, expected)
        expected = np.where(usable, geoscore(pairwise_km(c_lat, c_lon, lat, lon), map_size_km) @ pk, -np.inf)
    b = int(np.argmax(expected))
    blat, blon = float(c_lat[b]), float(c_lon[b])
    cell = int(c_cell[b]) if c_cell[b] >= 0 else int(cells[int(np.argmin((lat - blat) ** 2 + (lon - blon) ** 2))])
    best = [(inside[i].name, inside[i].country, float(p[i])) for i in order[:top_n]]
    return ModelMove(blat, blon, tuple(best), cell)


def _moved_inside(region: str, lats: np.ndarray, lons: np.ndarray, expected: np.ndarray,
                  n_moved: int = MAX_MOVED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates (degrees) with those outside the region's land moved to the nearest point inside,
    and a mask of the usable ones. Only the ``n_moved`` outside ones whose ``expected`` score beats
    every inside one are moved (each move is a polygon search); other outside ones are not usable."""
    ok = areas.contains(region, lats, lons)
    lats, lons = lats.copy(), lons.copy()
    floor = expected[ok].max() if ok.any() else -np.inf
    out = np.flatnonzero(~ok)
    out = out[np.argsort(-expected[out], kind="stable")]
    for i in [i for i in out if expected[i] > floor][:n_moved]:
        lats[i], lons[i] = areas.nearest_inside(region, lats[i], lons[i])
        ok[i] = True
    return lats, lons, ok


def play(predictor: Any, images: list, region: str, map_size_km: float | None) -> ModelMove:
    """Ask ``predictor`` (``model.predict.Predictor``) about a round's views (PIL images) and return
    its move (:func:`model_move` over all cells, with the checkpoint's gallery when it has one).
    Callers serialise calls on a shared predictor (``model.locks.model_lock``)."""
    pred = predictor.predict(images, top_k=len(predictor.cells.table))
    return model_move(pred, region, map_size_km, gallery=getattr(predictor, "gallery", None))
