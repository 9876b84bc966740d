"""A whole photo collection on one map: predict every photo of a folder or zip, write GeoJSON, KML or CSV.

``python -m model.predict --batch SRC --out FILE [--workers N]`` (:mod:`.batch`), or from Python::

    from model.export import predict_collection, write_collection
    res = predict_collection("photos.zip", Predictor.load(), progress=lambda done, total, name: ...)
    write_collection(res, "photos.geojson")          # or .kml / .csv; to_geojson(res) etc. give the text

Modules: :mod:`.collection` (photos -> one answer each, with their EXIF GPS), :mod:`.formats` (the three
writers), :mod:`.batch` (the command line's part).
"""
from .collection import CollectionResult, PhotoAnswer, predict_collection  # noqa: F401
from .formats import FORMATS, to_csv, to_geojson, to_kml, write_collection  # noqa: F401
