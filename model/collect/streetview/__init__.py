"""Google Street View Static API client (:mod:`.client`), Maps-link parser (:mod:`.links`), API-key loader
(:mod:`.keys`) and typed errors with redaction (:mod:`.errors`).

Small, dependency-light API (``requests`` only) shared by the collector (``python -m model.collect``)
and the app (pull one image with the user's own key)::

    from model.streetview import StreetViewClient, get_api_key, parse_maps_link

    client = StreetViewClient(get_api_key(key_file="~/.gsv_key"))    # or $GOOGLE_MAPS_API_KEY
    meta = client.metadata(45.81, 15.97, radius=50)                  # PanoMeta; free, no quota
    jpeg = client.image(pano=meta.pano_id, heading=90, pitch=0, fov=90, size=(640, 640))
    view = parse_maps_link("https://www.google.com/maps/@45.81,15.97,3a,75y,90h,95t/data=...")
    # -> {"lat": 45.81, "lon": 15.97, "heading": 90.0, "pitch": 5.0, "fov": 75.0}

Endpoints: ``{base_url}/metadata`` (JSON ``{"status", "pano_id", "location": {"lat", "lng"}, "date",
"copyright"}``) and ``{base_url}`` (a JPEG; requested with ``return_error_code=true`` so "no imagery"
is an HTTP 404, not a grey placeholder). ``base_url`` (or ``$GSV_BASE_URL``) defaults to Google's and is
overridable, which is how the tests point the client at a fake server on 127.0.0.1; plain http is
refused for any other host, since the key travels in the query string.

Units: lat/lon in WGS-84 degrees, heading in degrees clockwise from north (0-360), pitch in degrees
(-90 down .. 90 up), fov in degrees (10-120), radius in metres, size in pixels (at most 640x640).

Errors are typed (:class:`NoCoverage` for ZERO_RESULTS, :class:`NotFound`, :class:`RequestDenied`,
:class:`QuotaExceeded` for OVER_QUERY_LIMIT/HTTP 429, :class:`InvalidRequest`, :class:`UnknownError`,
:class:`ServerError` for HTTP 5xx, :class:`NetworkError` for timeouts and dropped connections), each
with ``retryable`` telling whether trying again may help. **The key (and an optional URL-signing
secret) never appears in an exception message, a log record or a repr**: messages are built from the
endpoint name and redacted text, and no library exception that could hold the request URL is chained.
"""
from __future__ import annotations

from .client import BASE_URL_ENV, DEFAULT_BASE_URL, MAX_SIZE, PanoMeta, StreetViewClient, parse_size, retry_call
from .errors import (InvalidRequest, MissingKeyError, NetworkError, NoCoverage, NotFound, QuotaExceeded, RequestDenied,
                     ServerError, StreetViewError, UnknownError, redact)
from .keys import KEY_ENV_VARS, get_api_key
from .links import LinkError, parse_maps_link

__all__ = ["BASE_URL_ENV", "DEFAULT_BASE_URL", "KEY_ENV_VARS", "MAX_SIZE", "InvalidRequest", "LinkError",
           "MissingKeyError", "NetworkError", "NoCoverage", "NotFound", "PanoMeta", "QuotaExceeded", "RequestDenied",
           "ServerError", "StreetViewClient", "StreetViewError", "UnknownError", "get_api_key", "parse_maps_link",
           "parse_size", "redact", "retry_call"]
