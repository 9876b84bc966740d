"""A predicted photo collection as GeoJSON, KML or CSV (:data:`FORMATS`, chosen by the file's extension).

* **GeoJSON** (RFC 7946): a FeatureCollection with one Feature per predicted photo, Point geometry = the
  best guess E in ``[lon, lat]`` order, every answer field in ``properties``; photos that failed are
  listed in the collection's ``failed`` member (name and error) since they have no point.
* **KML 2.2** (Google Earth, QGIS, Google My Maps): a Document with a folder "Best guesses" holding one
  Placemark per predicted photo (Point = E, the fields as ExtendedData, the EXIF time as a TimeStamp) and
  a folder "Photo GPS and errors" with, per photo with GPS, its EXIF position and the line to E.
* **CSV**: one row per photo, failed ones included (their ``error`` column says why).

Field names are :class:`~.collection.PhotoAnswer`'s: ``photo, pred_lat, pred_lon, best_lat, best_lon,
country_code, country, country_prob, expected_km, exif_lat, exif_lon, error_km, date, error`` (degrees,
km, probability 0..1; ``error_km`` is EXIF GPS to the best guess). Writers return text; :func:`write_collection`
writes it atomically.
"""
from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import fields
from pathlib import Path

from .collection import CollectionResult, PhotoAnswer

KML_NS = "http://www.opengis.net/kml/2.2"
FIELDS = [f.name for f in fields(PhotoAnswer)]
_ROUND = {"pred_lat": 6, "pred_lon": 6, "best_lat": 6, "best_lon": 6, "exif_lat": 6, "exif_lon": 6,
          "country_prob": 4, "expected_km": 1, "error_km": 2}


def _props(a: PhotoAnswer) -> dict:
    d = a.to_dict()
    return {k: (round(v, _ROUND[k]) if k in _ROUND and v is not None else v) for k, v in d.items()}


def to_geojson(res: CollectionResult) -> str:
    """The GeoJSON FeatureCollection of ``res`` (see the module doc)."""
    feats = []
    for a in res.predicted:
        p = _props(a)
        p.pop("error")
        feats.append({"type": "Feature", "id": a.photo,
                      "geometry": {"type": "Point", "coordinates": [p["best_lon"], p["best_lat"]]}, "properties": p})
    doc = {"type": "FeatureCollection", "name": Path(res.source).name, "source": res.source,
           "checkpoint": res.checkpoint, "features": feats,
           "failed": [{"photo": a.photo, "error": a.error} for a in res.failed]}
    return json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def to_csv(res: CollectionResult) -> str:
    """One CSV row per photo (failed ones included), columns :data:`FIELDS`."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    w.writeheader()
    for a in res.answers:
        w.writerow({k: ("" if v is None else v) for k, v in _props(a).items()})
    return buf.getvalue()


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    e = ET.SubElement(parent, f"{{{KML_NS}}}{tag}")
    if text is not None:
        e.text = text
    return e


def _style(doc: ET.Element, sid: str, color: str, line: bool = False) -> None:
    st = _sub(doc, "Style")
    st.set("id", sid)
    _sub(_sub(st, "IconStyle"), "color", color)
    if line:
        ls = _sub(st, "LineStyle")
        _sub(ls, "color", color)
        _sub(ls, "width", "2")


def _describe(a: PhotoAnswer) -> str:
    s = f"{a.country or '?'} ({(a.country_prob or 0) * 100:.0f}%), expected error {a.expected_km or 0:,.0f} km"
    if a.error_km is not None:
        s += f"; {a.error_km:,.1f} km from the photo's GPS"
    return s


def to_kml(res: CollectionResult) -> str:
    """A KML 2.2 document of ``res`` (see the module doc): opens in Google Earth."""
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = _sub(root, "Document")
    _sub(doc, "name", f"Where is this? {Path(res.source).name}")
    desc = f"{res.summary()} Pins: the best guess for each photo. Model: {Path(res.checkpoint).name or '?'}."
    if res.failed:
        desc += " Failed: " + "; ".join(f"{a.photo} ({a.error})" for a in res.failed[:50])
    _sub(doc, "description", desc)
    _style(doc, "guess", "ff1e1ee6")
    _style(doc, "gps", "ff2eb82e", line=True)
    guesses = _sub(doc, "Folder")
    _sub(guesses, "name", "Best guesses")
    truths = None
    for a in res.predicted:
        pm = _sub(guesses, "Placemark")
        _sub(pm, "name", a.photo)
        _sub(pm, "description", _describe(a))
        if a.date:
            _sub(_sub(pm, "TimeStamp"), "when", a.date)
        _sub(pm, "styleUrl", "#guess")
        ext = _sub(pm, "ExtendedData")
        for k, v in _props(a).items():
            if k not in ("photo", "error") and v not in (None, ""):
                d = _sub(ext, "Data")
                d.set("name", k)
                _sub(d, "value", str(v))
        _sub(_sub(pm, "Point"), "coordinates", f"{a.best_lon:.6f},{a.best_lat:.6f},0")
        if a.exif_lat is not None:
            if truths is None:
                truths = _sub(doc, "Folder")
                _sub(truths, "name", "Photo GPS and errors")
            t = _sub(truths, "Placemark")
            _sub(t, "name", f"{a.photo} (GPS)")
            _sub(t, "description", f"{a.error_km:,.1f} km to the best guess")
            _sub(t, "styleUrl", "#gps")
            mg = _sub(t, "MultiGeometry")
            _sub(_sub(mg, "Point"), "coordinates", f"{a.exif_lon:.6f},{a.exif_lat:.6f},0")
            ls = _sub(mg, "LineString")
            _sub(ls, "tessellate", "1")
            _sub(ls, "coordinates", f"{a.exif_lon:.6f},{a.exif_lat:.6f},0 {a.best_lon:.6f},{a.best_lat:.6f},0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


FORMATS = {".geojson": to_geojson, ".kml": to_kml, ".csv": to_csv}


def format_of(path: str | os.PathLike) -> str:
    """The format (extension) of an output file; ValueError naming the choices otherwise."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ValueError(f"{path}: the output file must end in {', '.join(FORMATS)} (got {ext or 'no extension'!r})")
    return ext


def write_collection(res: CollectionResult, path: str | os.PathLike) -> Path:
    """Write ``res`` to ``path`` in the format its extension names, atomically (temp file + rename)."""
    from model.collect.journal import atomic_write_text

    p = Path(path).expanduser()
    text = FORMATS[format_of(p)](res)
    atomic_write_text(p, text)
    return p
