"""A small TopoJSON writer and reader for the static map layers (no Streamlit, no folium).

The layers under ``app/static/geo/`` are TopoJSON topologies (https://github.com/topojson/topojson-specification)
with a quantization ``transform`` and delta-encoded arcs, which keeps them about 3x smaller than GeoJSON. Arcs
are not shared between features (each ring or line is its own arc): simpler to write, and the browser decoder in
``app/static/geo/geolayers.js`` is ten lines. Coordinates are WGS-84 degrees ``[lon, lat]``; longitudes of rings
unwrapped across the antimeridian may lie a little outside -180..180.
"""
from __future__ import annotations

from typing import Iterable, Sequence

Point = Sequence[float]


def _quantize(coords: Iterable[Point], tx: float, ty: float, s: float) -> list[list[int]]:
    """Absolute integer grid positions of ``coords`` (consecutive duplicates dropped)."""
    out: list[list[int]] = []
    for c in coords:
        q = [round((float(c[0]) - tx) / s), round((float(c[1]) - ty) / s)]
        if not out or q != out[-1]:
            out.append(q)
    return out


def _delta(q: list[list[int]]) -> list[list[int]]:
    return [q[0]] + [[b[0] - a[0], b[1] - a[1]] for a, b in zip(q, q[1:])]


def _all_points(geom: dict) -> Iterable[Point]:
    t, c = geom["type"], geom["coordinates"]
    if t == "LineString":
        yield from c
    elif t in ("MultiLineString", "Polygon"):
        for part in c:
            yield from part
    elif t == "MultiPolygon":
        for poly in c:
            for ring in poly:
                yield from ring
    else:
        raise ValueError(f"unsupported geometry type {t!r}")


def encode(objects: dict[str, list[dict]], scale: float) -> dict:
    """A Topology of GeoJSON features (LineString, MultiLineString, Polygon, MultiPolygon).

    ``objects`` maps an object name to its features; ``scale`` is the grid step in degrees (e.g. 0.01).
    Rings left with fewer than 4 grid points and lines with fewer than 2 are dropped, and so are
    features left with no geometry; ``properties`` are copied as they are.
    """
    pts = [p for feats in objects.values() for f in feats for p in _all_points(f["geometry"])]
    if not pts:
        raise ValueError("no coordinates to encode")
    tx, ty = min(float(p[0]) for p in pts), min(float(p[1]) for p in pts)
    arcs: list[list[list[int]]] = []

    def arc(coords, ring: bool) -> int | None:
        q = _quantize(coords, tx, ty, scale)
        if ring and (len(q) < 4 or q[0] != q[-1]):
            if len(q) >= 3 and q[0] != q[-1]:
                q.append(q[0])
            if len(q) < 4:
                return None
        if len(q) < 2:
            return None
        arcs.append(_delta(q))
        return len(arcs) - 1

    out_objects = {}
    for name, feats in objects.items():
        geoms = []
        for f in feats:
            g, t = f["geometry"], f["geometry"]["type"]
            if t == "LineString":
                a = arc(g["coordinates"], False)
                geo = None if a is None else {"type": "LineString", "arcs": [a]}
            elif t == "MultiLineString":
                parts = [[a] for a in (arc(p, False) for p in g["coordinates"]) if a is not None]
                geo = {"type": "MultiLineString", "arcs": parts} if parts else None
            elif t in ("Polygon", "MultiPolygon"):
                polys = [g["coordinates"]] if t == "Polygon" else g["coordinates"]
                enc = []
                for poly in polys:
                    rings = [arc(r, True) for r in poly]
                    if rings and rings[0] is not None:  # an outer ring that vanished drops its holes too
                        enc.append([[a] for a in rings if a is not None])
                geo = {"type": "MultiPolygon", "arcs": enc} if enc else None
            else:
                raise ValueError(f"unsupported geometry type {t!r}")
            if geo is not None:
                if f.get("properties"):
                    geo["properties"] = f["properties"]
                geoms.append(geo)
        out_objects[name] = {"type": "GeometryCollection", "geometries": geoms}
    return {"type": "Topology", "transform": {"scale": [scale, scale], "translate": [round(tx, 6), round(ty, 6)]},
            "objects": out_objects, "arcs": arcs}


def decode_arc(topo: dict, i: int) -> list[list[float]]:
    """Arc ``i`` of a quantized topology as ``[lon, lat]`` degrees (``~i`` reverses it)."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    x = y = 0
    pts = []
    for dx, dy in topo["arcs"][i if i >= 0 else ~i]:
        x, y = x + dx, y + dy
        pts.append([x * sx + tx, y * sy + ty])
    return pts if i >= 0 else pts[::-1]


def decode(topo: dict, name: str) -> list[dict]:
    """The GeoJSON features of object ``name`` (coordinates in degrees)."""
    feats = []
    for g in topo["objects"][name]["geometries"]:
        t = g["type"]
        if t == "LineString":
            coords = [p for a in g["arcs"] for p in decode_arc(topo, a)]
        elif t == "MultiLineString":
            coords = [[p for a in part for p in decode_arc(topo, a)] for part in g["arcs"]]
        elif t == "Polygon":
            coords = [[p for a in ring for p in decode_arc(topo, a)] for ring in g["arcs"]]
        elif t == "MultiPolygon":
            coords = [[[p for a in ring for p in decode_arc(topo, a)] for ring in poly] for poly in g["arcs"]]
        else:
            raise ValueError(f"unsupported geometry type {t!r}")
        feats.append({"type": "Feature", "properties": g.get("properties", {}),
                      "geometry": {"type": t, "coordinates": coords}})
    return feats
