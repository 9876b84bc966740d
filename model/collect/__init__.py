"""Data collection: a Street View sampler and dataset importers, all writing the project manifest.

Command line (``python -m model.collect --help``)::

    python -m model.collect streetview --countries HR,SI --per-region 50 --out data/my_set \\
        --headings 0,90,180,270 --size 640x640 --fov 90 --pitch 0 --radius 1000 --key-file ~/.gsv_key --dry-run
    python -m model.collect streetview --regions US,CA --per-region 325 --out data/us_ca
    python -m model.collect streetview --grid IN --cell-km 50 --per-cell 2 --out data/india
    python -m model.collect streetview --world 1000 --headings 0 --out data/world
    python -m model.collect imagefolder DIR --out data/x/manifest.csv
    python -m model.collect hf NAME --n 1000 --out data/osv
    python -m model.collect crop data/my_set/manifest.csv --bottom 0.06 --out data/my_set_cropped

Modules, one concept each: :mod:`.regions` (country polygons, equal-area sampling), :mod:`.plans`
(sampling plans), :mod:`.cost` (request counts and price), :mod:`.journal` (append-only journal,
atomic writes: resume), :mod:`.ratelimit` (adaptive token bucket), :mod:`.runner` (the concurrent
collector), :mod:`.groups` (location/group ids, grouped splits), :mod:`.postprocess` (watermark
crop), :mod:`.imagefolder` and :mod:`.huggingface` (importers). The HTTP client is
:mod:`model.streetview`.
"""
