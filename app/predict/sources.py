"""Street View pulls of the Predict page (no Streamlit): the user's key, a link or coordinates, the
image and a message for every failure. Uploads and test-set files are loaded by ``app.common.photos``.

Images are pulled with the user's own key through :class:`model.collect.streetview.StreetViewClient`;
the key is never logged, stored or shown, and errors are turned into messages that say what to do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

SECRET_NAMES = ("GOOGLE_MAPS_API_KEY", "GSV_API_KEY", "GOOGLE_API_KEY")


def find_api_key(typed: str | None, secrets: Mapping[str, Any] | None = None) -> str | None:
    """The key to use: the one typed by the user, else Streamlit secrets, else the environment; None
    if there is none. Never logs or returns anything but the key itself."""
    if typed and typed.strip():
        return typed.strip()
    for name in SECRET_NAMES:
        try:
            v = secrets.get(name) if secrets is not None else None
        except Exception:  # noqa: BLE001 - a missing/broken secrets file means "no secret"
            v = None
        if v and str(v).strip():
            return str(v).strip()
    from model.collect.streetview import MissingKeyError, get_api_key

    try:
        return get_api_key()
    except MissingKeyError:
        return None


@dataclass(frozen=True)
class StreetViewRequest:
    """Camera of a Street View pull: location in degrees, heading 0..360, pitch -90..90, fov 10..120."""

    lat: float | None
    lon: float | None
    heading: float = 0.0
    pitch: float = 0.0
    fov: float = 90.0
    pano: str | None = None


def request_from_link(link: str, heading: float, pitch: float, fov: float) -> StreetViewRequest:
    """A request from a Google Maps / Street View link or a bare 'lat, lon'; the link's own heading,
    pitch and fov win over the given defaults. Raises ``model.collect.streetview.LinkError`` if unusable."""
    from model.collect.streetview import parse_maps_link

    v = parse_maps_link(link)
    fov_v = float(v.get("fov", fov))
    return StreetViewRequest(lat=v.get("lat"), lon=v.get("lon"), heading=float(v.get("heading", heading)),
                             pitch=float(v.get("pitch", pitch)), fov=min(120.0, max(10.0, fov_v)), pano=v.get("pano"))


def fetch_streetview(key: str, req: StreetViewRequest, *, base_url: str | None = None, radius: int = 50,
                     timeout: float = 10.0) -> tuple[bytes, Any]:
    """Metadata then image of the nearest outdoor panorama: (JPEG bytes, ``PanoMeta``).

    Raises the typed ``model.collect.streetview`` errors (messages are key-free); see :func:`error_message`.
    """
    from model.collect.streetview import StreetViewClient

    client = StreetViewClient(key, base_url=base_url, timeout=timeout, user_agent="geoloc-app/1")
    if req.pano:
        meta = client.metadata(pano=req.pano)
    else:
        meta = client.metadata(req.lat, req.lon, radius=radius)
    data = client.image(pano=meta.pano_id, heading=req.heading, pitch=req.pitch, fov=req.fov, size=(640, 640))
    return data, meta


def error_message(exc: BaseException) -> str:
    """A user-facing message for a Street View or link failure (never contains the key)."""
    from model.collect import streetview as sv

    if isinstance(exc, sv.LinkError):
        return f"That link or those coordinates could not be used: {exc}"
    if isinstance(exc, sv.MissingKeyError):
        return ("No Street View API key: type yours in the password field, or set GOOGLE_MAPS_API_KEY in "
                "the environment or in .streamlit/secrets.toml.")
    if isinstance(exc, sv.RequestDenied):
        return ("Google refused the request: the API key is wrong or restricted, the Street View Static API is "
                "not enabled for its project, or billing is off.")
    if isinstance(exc, sv.QuotaExceeded):
        return "Street View quota or rate limit exceeded: wait a little and try again, or raise your quota."
    if isinstance(exc, (sv.NoCoverage, sv.NotFound)):
        return "No Street View coverage within 50 m of that place: try a point on a road, or another place."
    if isinstance(exc, sv.InvalidRequest):
        return f"Street View rejected the request as malformed: {exc}"
    if isinstance(exc, sv.NetworkError):
        return "Could not reach Street View (no internet connection, or it timed out). Other inputs still work."
    if isinstance(exc, sv.StreetViewError):
        return f"Street View failed ({exc.status}); try again later."
    if isinstance(exc, ValueError):
        return f"Invalid request: {exc}"
    return f"Street View failed: {type(exc).__name__}"
