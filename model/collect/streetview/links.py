"""Google Maps / Street View links -> camera (lat, lon, heading, pitch, fov, pano)."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


# ------------------------------------------------------------------------------ maps-link parser
class LinkError(ValueError):
    """A Google Maps / Street View link that cannot be understood, with the reason."""


_NUM = r"[-+]?\d+(?:\.\d+)?"


def _latlon(text: str, what: str) -> tuple[float, float]:
    m = re.fullmatch(rf"\s*({_NUM})\s*,\s*({_NUM})\s*", unquote(text))
    if not m:
        raise LinkError(f"{what}={text!r} is not 'lat,lon' in degrees")
    lat, lon = float(m.group(1)), float(m.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise LinkError(f"coordinates out of range in {what}: lat={lat} (-90..90), lon={lon} (-180..180)")
    return lat, lon


def parse_maps_link(url: str) -> dict[str, Any]:
    """Camera of a Google Maps / Street View link: ``{"lat", "lon"}`` plus ``heading``, ``pitch``,
    ``fov`` (degrees) and ``pano`` where the link has them.

    Understands ``/maps/@lat,lon,3a,75y,90h,95t/data=...!1s<pano>!2e0`` (``y`` = fov, ``h`` =
    heading, ``t`` = tilt with 90 = horizon, so pitch = t - 90), ``/maps/@?api=1&map_action=pano&
    viewpoint=lat,lon&heading=..&pitch=..&fov=..&pano=..``, ``...?cbll=lat,lon&cbp=12,heading,,zoom,
    pitch`` (cbp pitch is positive downward, so it is negated), ``ll=``/``q=`` and ``/@lat,lon,15z``
    map links, and a bare ``lat,lon``. Raises :class:`LinkError` with the reason otherwise.
    """
    if not isinstance(url, str) or not url.strip():
        raise LinkError("empty link")
    s = url.strip()
    if re.fullmatch(rf"\s*{_NUM}\s*,\s*{_NUM}\s*", s):
        lat, lon = _latlon(s, "coordinates")
        return {"lat": lat, "lon": lon}
    if not re.match(r"^https?://", s, re.I):
        s = "https://" + s
    parts = urlsplit(s)
    host = (parts.hostname or "").lower()
    if host in ("goo.gl", "maps.app.goo.gl") or host.endswith(".goo.gl"):
        raise LinkError("short links (goo.gl) cannot be resolved offline: open the link in a browser "
                        "and paste the full address from the address bar")
    if "google." not in host:
        raise LinkError(f"not a Google Maps link (host {host or '?'})")
    q = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    out: dict[str, Any] = {}

    def num(name: str, value: str) -> float:
        try:
            return float(value)
        except ValueError:
            raise LinkError(f"{name}={value!r} is not a number") from None

    if "viewpoint" in q or q.get("map_action") == "pano":
        if "viewpoint" in q:
            out["lat"], out["lon"] = _latlon(q["viewpoint"], "viewpoint")
        for name in ("heading", "pitch", "fov"):
            if q.get(name, "") != "":
                out[name] = num(name, q[name])
        if q.get("pano"):
            out["pano"] = q["pano"]
        if "lat" not in out and "pano" not in out:
            raise LinkError("map_action=pano link without viewpoint=lat,lon or pano=")
    elif "cbll" in q:
        out["lat"], out["lon"] = _latlon(q["cbll"], "cbll")
        cbp = q.get("cbp", "").split(",")
        if len(cbp) > 1 and cbp[1].strip():
            out["heading"] = num("cbp heading", cbp[1])
        if len(cbp) > 4 and cbp[4].strip():
            out["pitch"] = -num("cbp pitch", cbp[4])
        if q.get("panoid"):
            out["pano"] = q["panoid"]
    else:
        m = re.search(rf"/@({_NUM}),({_NUM})((?:,[^/?]*)?)", parts.path + ("?" + parts.query if parts.query else ""))
        if m:
            out["lat"], out["lon"] = _latlon(f"{m.group(1)},{m.group(2)}", "@")
            for tok in filter(None, m.group(3).split(",")):
                tm = re.fullmatch(rf"({_NUM})([a-z])", tok.strip())
                if not tm:
                    continue
                v, unit = float(tm.group(1)), tm.group(2)
                if unit == "h":
                    out["heading"] = v
                elif unit == "t":
                    out["pitch"] = v - 90.0
                elif unit == "y":
                    out["fov"] = v
            pm = re.search(r"!1s([A-Za-z0-9_\-]{10,})!2e", unquote(parts.path))
            if pm:
                out["pano"] = pm.group(1)
        else:
            for name in ("ll", "q", "query", "center", "destination"):
                if name in q and re.fullmatch(rf"\s*{_NUM}\s*,\s*{_NUM}\s*", unquote(q[name])):
                    out["lat"], out["lon"] = _latlon(q[name], name)
                    break
            else:
                raise LinkError("no coordinates found in the link (expected /@lat,lon,..., "
                                "viewpoint=, cbll= or ll=)")
    if "heading" in out:
        out["heading"] = out["heading"] % 360.0
    if "pitch" in out and not (-90 <= out["pitch"] <= 90):
        raise LinkError(f"pitch {out['pitch']:g} out of range (-90..90 degrees)")
    if "fov" in out and not (0 < out["fov"] <= 180):
        raise LinkError(f"fov {out['fov']:g} out of range (degrees)")
    return out
