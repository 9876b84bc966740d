"""Data collection: a Street View sampler and dataset importers, all writing the project manifest.

Command line (``python -m model.collect --help``)::

    python -m model.collect streetview --countries HR,SI --per-region 50 --out data/my_set \\
        --headings 0,90,180,270 --size 640x640 --fov 90 --pitch 0 --radius 1000 --key-file ~/.gsv_key --dry-run
    python -m model.collect streetview --regions US,CA --per-region 325 --out data/us_ca
    python -m model.collect streetview --grid IN --cell-km 50 --per-cell 2 --out data/india
    python -m model.collect streetview --world 1000 --headings 0 --out data/world
    python -m model.collect imagefolder DIR --out data/x/manifest.csv
    python -m model.collect hf NAME --n 1000 --out data/osv
    python -m model.collect hf osv5m/osv5m-wds --hf-split test --shards --split test --out data/osv5m_test
    python -m model.collect photos ~/Pictures/holiday --out data/holiday      # or a .zip; EXIF GPS
    python -m model.collect demo --n 300 --out data/demo                     # OpenStreetView-5M, CC BY-SA 4.0
    python -m model.collect crop data/my_set/manifest.csv --bottom 0.06 --out data/my_set_cropped
    python -m model.collect im2gps3k --csv im2gps3k_places365.csv --images im2gps3k/images --out data/im2gps3k

Modules, one concept each: :mod:`.regions` (country polygons, equal-area sampling), :mod:`.plans`
(sampling plans), :mod:`.cost` (request counts and price), :mod:`.journal` (append-only journal,
durable atomic writes: resume), :mod:`.ratelimit` (adaptive token bucket), :mod:`.settings` (the
collector's settings, their checks and comparison), :mod:`.runner` (the concurrent collector),
:mod:`.summary` (what a run did, failures by kind), :mod:`.collection_manifest` (manifest from the
journal), :mod:`.groups` (location/group ids, grouped splits), :mod:`.postprocess` (watermark crop),
:mod:`.lock` (one writer per folder), :mod:`.outdir` (what a folder holds: no mixing of data sets),
:mod:`.skips` (skipped samples by reason), :mod:`.imagefolder`, :mod:`.huggingface` and
:mod:`.benchmarks` (importers), :mod:`.photos` (your photos: EXIF GPS, copies without metadata),
:mod:`.demo` (the open demo set, with :mod:`.demo_plan`, :mod:`.hub_zip` partial Hub reads and
:mod:`.attribution`), :mod:`.hf_shards` (a Hugging Face stream straight into WebDataset shards,
with :mod:`.decode` for its worker processes), :mod:`.parser` (the command line). The HTTP client is
:mod:`model.collect.streetview`. Guarantees: ``data/README.md`` and ``docs/data.md``.
"""
