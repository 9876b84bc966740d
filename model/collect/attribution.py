"""The attribution CC BY-SA 4.0 asks for, stored beside the demo images (OpenStreetView-5M, from Mapillary).

CC BY-SA 4.0 section 3(a) asks for the creator, a link to the material, the licence with its link, and a
note of any changes; Mapillary suggests "Photos from Mapillary, CC BY-SA, by @username" with a visible link
to mapillary.com or the photo's page. So the demo folder holds:

* ``ATTRIBUTION.md``: the data set, its Hub revision, the licence, the changes made, the citation;
* ``attribution.csv``: per image ``image, id, creator_username, mapillary_url, license, changes, attribution``;
* the same in the manifest's extra columns ``author``, ``license``, ``source_url`` and ``attribution`` (one
  line to show under an image). ``source_url`` (the Mapillary photo page) shows where the photo was taken:
  a page may link it only once the answer is revealed (Play) or where the answer is shown anyway.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .journal import atomic_write_text

LICENSE = "CC BY-SA 4.0"
LICENSE_URL = "https://creativecommons.org/licenses/by-sa/4.0/"
DATASET_URL = "https://huggingface.co/datasets/osv5m/osv5m"
CITATION = """@article{osv5m,
  title   = {{OpenStreetView-5M}: {T}he Many Roads to Global Visual Geolocation},
  author  = {Astruc, Guillaume and Dufour, Nicolas and Siglidis, Ioannis and Aronssohn, Constantin and
             Bouia, Nacim and Fu, Stephanie and Loiseau, Romain and Nguyen, Van Nguyen and Raude, Charles and
             Vincent, Elliot and Xu, Lintao and Zhou, Hongyu and Landrieu, Loic},
  journal = {CVPR},
  year    = {2024}
}"""


def mapillary_url(image_id: str) -> str:
    """The Mapillary photo page of an OpenStreetView-5M ``id`` (a Mapillary image id)."""
    return f"https://www.mapillary.com/app/?pKey={image_id}"


def credit_line(username: str) -> str:
    """One line to show under an image: Mapillary's suggested text."""
    who = f"@{username}" if username else "a Mapillary contributor"
    return f"Photo from Mapillary, {LICENSE}, by {who} (via OpenStreetView-5M)"


def attribution_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per image attribution from plan rows (``image``, ``id``, ``creator_username``, ``changes``)."""
    return pd.DataFrame({"image": rows["image"], "id": rows["id"], "creator_username": rows["creator_username"],
                         "mapillary_url": [mapillary_url(i) for i in rows["id"]], "license": LICENSE,
                         "changes": rows["changes"], "attribution": [credit_line(u) for u in rows["creator_username"]]})


def write_attribution(out: Path, table: pd.DataFrame, revision: str | None, where: str) -> None:
    """``out/attribution.csv`` and ``out/ATTRIBUTION.md`` for the images in ``table``."""
    atomic_write_text(out / "attribution.csv", table.to_csv(index=False))
    changed = table[table["changes"] != ""]
    users = sorted({u for u in table["creator_username"] if u})
    changes = ("None: the files are the data set's bytes, renamed `images/<hash>.jpg` (attribution.csv maps each "
               "to its Mapillary id)." if changed.empty else
               f"{len(changed):,} of {len(table):,} files changed: {', '.join(sorted(set(changed['changes'])))} "
               "(so that no served image carries its position); pixels otherwise unchanged. Files renamed "
               "`images/<hash>.jpg` (attribution.csv maps each to its Mapillary id and lists the change).")
    rev = f"revision `{revision}`" if revision else f"a local copy ({where})"
    text = f"""# Attribution: OpenStreetView-5M demo images

The {len(table):,} images in `images/` are photos from **Mapillary** (https://www.mapillary.com), licensed under
**{LICENSE}** ({LICENSE_URL}), taken from the test split of **OpenStreetView-5M**
({DATASET_URL}, {rev}), which was made with the support of the Mapillary team.

**Photographers.** Each image's Mapillary user and photo page are in `attribution.csv` (columns `image, id,
creator_username, mapillary_url, license, changes, attribution`), as Mapillary asks: "Photos from Mapillary,
CC BY-SA, by @username". {len(users):,} contributors: {', '.join('@' + u for u in users[:200]) or 'not listed in the CSV'}{' ...' if len(users) > 200 else ''}.

**Changes.** {changes}

**ShareAlike.** Copies and adaptations of these images (for example `python -m model.collect crop`) must carry
{LICENSE} too, with this attribution.

**Citation.**
```bibtex
{CITATION}
```
"""
    atomic_write_text(out / "ATTRIBUTION.md", text)
