"""Google Street View Static API client, Maps-link parser and API-key loader.

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

import base64
import hashlib
import hmac
import logging
import os
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import requests

DEFAULT_BASE_URL = "https://maps.googleapis.com/maps/api/streetview"
KEY_ENV_VARS = ("GOOGLE_MAPS_API_KEY", "GSV_API_KEY", "GOOGLE_API_KEY")
BASE_URL_ENV = "GSV_BASE_URL"  # endpoint root override (tests); https, or http to this machine only
MAX_SIZE = 640  # pixels, per side (Street View Static API limit)
log = logging.getLogger(__name__)
T = TypeVar("T")


# --------------------------------------------------------------------------------------- errors
class StreetViewError(Exception):
    """Base class: a Street View request failed. ``retryable``: trying again later may succeed."""

    retryable = False
    status = "ERROR"

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said


class NoCoverage(StreetViewError):
    """ZERO_RESULTS (or image HTTP 404): no panorama near the location / no such pano id."""
    status = "ZERO_RESULTS"


class NotFound(StreetViewError):
    """NOT_FOUND: the location (an address string) could not be found."""
    status = "NOT_FOUND"


class RequestDenied(StreetViewError):
    """REQUEST_DENIED / HTTP 403: bad or restricted key, API not enabled, billing off. Stop."""
    status = "REQUEST_DENIED"


class QuotaExceeded(StreetViewError):
    """OVER_QUERY_LIMIT / HTTP 429: too many requests; slow down and retry later."""
    status = "OVER_QUERY_LIMIT"
    retryable = True


class InvalidRequest(StreetViewError):
    """INVALID_REQUEST / HTTP 400: malformed parameters (size, fov, location...). Fix the request."""
    status = "INVALID_REQUEST"


class UnknownError(StreetViewError):
    """UNKNOWN_ERROR: a server-side error that is often temporary."""
    status = "UNKNOWN_ERROR"
    retryable = True


class ServerError(StreetViewError):
    """HTTP 5xx or an unreadable answer."""
    status = "SERVER_ERROR"
    retryable = True


class NetworkError(StreetViewError):
    """Timeout, refused or dropped connection."""
    status = "NETWORK_ERROR"
    retryable = True


class MissingKeyError(StreetViewError):
    """No API key could be found (environment variable or key file)."""
    status = "NO_KEY"


_STATUS_ERRORS: dict[str, type[StreetViewError]] = {
    c.status: c for c in (NoCoverage, NotFound, RequestDenied, QuotaExceeded, InvalidRequest, UnknownError)}


# ------------------------------------------------------------------------------------ redaction
_SECRET_PARAM = re.compile(r"((?:key|signature|client)=)[^&\s'\"#]+", re.IGNORECASE)


def redact(text: object, *secrets: str | None) -> str:
    """``str(text)`` with each secret and every ``key=``/``signature=`` URL value replaced by ``***``."""
    s = str(text)
    for secret in secrets:
        if secret:
            s = s.replace(secret, "***")
    return _SECRET_PARAM.sub(r"\1***", s)


class _RedactFilter(logging.Filter):
    """Logging filter that masks ``key=...`` in records (urllib3 logs request URLs at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            if "key=" in str(record.msg) or any("key=" in str(a) for a in args if a is not None):
                record.msg = redact(record.getMessage())
                record.args = None
        except Exception:  # never break logging; drop the suspicious record's arguments instead
            record.msg, record.args = redact(record.msg), None
        return True


for _name in ("urllib3.connectionpool", "requests"):
    if not any(isinstance(f, _RedactFilter) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_RedactFilter())


# -------------------------------------------------------------------------------------- API key
def get_api_key(key: str | None = None, *, key_file: str | os.PathLike | None = None,
                env_vars: tuple[str, ...] = KEY_ENV_VARS) -> str:
    """The API key: ``key`` if given, else the first line of ``key_file``, else the first set env var.

    Raises :class:`MissingKeyError` naming where it looked (never echoing file content).
    """
    if key and key.strip():
        return key.strip()
    if key_file:
        p = Path(key_file).expanduser()
        if not p.is_file():
            raise MissingKeyError(f"API key file not found: {p}")
        lines = [ln.strip() for ln in p.read_text(encoding="utf-8", errors="replace").splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        if not lines:
            raise MissingKeyError(f"API key file is empty: {p}")
        return lines[0]
    for name in env_vars:
        v = os.environ.get(name, "").strip()
        if v:
            return v
    raise MissingKeyError("No Street View API key: set " + " or ".join(env_vars)
                          + ", or pass a key file (--key-file PATH, first line = the key).")


# ------------------------------------------------------------------------------------- metadata
@dataclass(frozen=True)
class PanoMeta:
    """A panorama found by the metadata endpoint (lat/lon in degrees; date ``YYYY-MM`` or '')."""

    pano_id: str
    lat: float
    lon: float
    date: str = ""
    copyright: str = ""


def parse_size(size: str | tuple[int, int] | int) -> tuple[int, int]:
    """``"640x480"``, ``(640, 480)`` or ``640`` -> ``(640, 480)``; each side 1..640 px."""
    if isinstance(size, int):
        w = h = size
    elif isinstance(size, str):
        m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", size)
        if not m:
            raise ValueError(f"size must look like 640x640, got {size!r}")
        w, h = int(m.group(1)), int(m.group(2))
    else:
        w, h = (int(v) for v in size)
    if not (1 <= w <= MAX_SIZE and 1 <= h <= MAX_SIZE):
        raise ValueError(f"size {w}x{h} out of range: each side must be 1..{MAX_SIZE} px")
    return w, h


def _check_view(heading: float, pitch: float, fov: float) -> None:
    if not (-360 <= heading <= 360):
        raise ValueError(f"heading {heading} out of range (degrees, 0..360)")
    if not (-90 <= pitch <= 90):
        raise ValueError(f"pitch {pitch} out of range (degrees, -90..90)")
    if not (10 <= fov <= 120):
        raise ValueError(f"fov {fov} out of range (degrees, 10..120)")


def _check_latlon(lat: float, lon: float) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"coordinates out of range: lat={lat} (-90..90), lon={lon} (-180..180)")


def retry_call(fn: Callable[[], T], *, retries: int = 3, base_delay: float = 0.5, max_delay: float = 30.0,
               on_retry: Callable[[StreetViewError, int, float], None] | None = None,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn``; on a retryable :class:`StreetViewError` wait and try again, up to ``retries`` times.

    Waits ``base_delay * 2**attempt`` seconds with full jitter (at least the server's Retry-After),
    capped at ``max_delay``. ``on_retry(error, attempt, delay)`` is called before each wait.
    Non-retryable errors and the last failure are raised.
    """
    attempt = 0
    while True:
        try:
            return fn()
        except StreetViewError as e:
            if not e.retryable or attempt >= retries:
                raise
            delay = min(max_delay, base_delay * (2 ** attempt))
            delay = random.uniform(delay / 2, delay)
            if e.retry_after:
                delay = max(delay, min(e.retry_after, max_delay))
            if on_retry:
                on_retry(e, attempt, delay)
            sleep(delay)
            attempt += 1


class StreetViewClient:
    """Thin client for the metadata and image endpoints (thread-safe: one HTTP session per thread).

    ``key``: the API key. ``signing_secret``: optional URL-signing secret (needed past 25,000
    requests a day). ``base_url``: endpoint root (Google's by default). ``timeout``: seconds per
    request (connect and read). ``retries``: automatic retries of retryable errors with exponential
    backoff (0 = single attempt; the collector does its own retrying).
    """

    def __init__(self, key: str, *, base_url: str | None = None, timeout: float = 10.0,
                 retries: int = 0, signing_secret: str | None = None, user_agent: str = "geoloc-collect/1"):
        if not key or not str(key).strip():
            raise MissingKeyError("An API key is required.")
        self._key = str(key).strip()
        self._secret = signing_secret.strip() if signing_secret else None
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" and (parts.hostname or "") not in ("localhost", "::1") \
                and not (parts.hostname or "").startswith("127."):
            raise ValueError("base_url must use https (plain http only to this machine, for tests): "
                             "the API key travels in the query string")
        self.timeout = float(timeout)
        self.retries = int(retries)
        self._ua = user_agent
        self._local = threading.local()

    def __repr__(self) -> str:  # never show the key
        return f"StreetViewClient(base_url={self.base_url!r}, timeout={self.timeout}, key=***)"

    # -- plumbing
    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = self._ua
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=4, max_retries=0)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            self._local.session = s
        return s

    def _redact(self, text: object) -> str:
        return redact(text, self._key, self._secret)

    def _url(self, endpoint: str, params: dict[str, Any]) -> str:
        query = urlencode({**params, "key": self._key})
        url = self.base_url + ("/metadata" if endpoint == "metadata" else "")
        if self._secret:
            path = urlsplit(url).path + "?" + query
            raw = base64.urlsafe_b64decode(self._secret + "=" * (-len(self._secret) % 4))
            sig = base64.urlsafe_b64encode(hmac.new(raw, path.encode(), hashlib.sha1).digest()).decode()
            query += "&signature=" + sig
        return url + "?" + query

    def _get(self, endpoint: str, params: dict[str, Any]) -> requests.Response:
        err: StreetViewError | None = None
        try:
            resp = self._session().get(self._url(endpoint, params), timeout=self.timeout)
        except requests.Timeout:
            err = NetworkError(f"Street View {endpoint} request timed out after {self.timeout:g} s")
        except requests.RequestException as e:
            # requests' messages embed the full URL (with the key): keep only the redacted text.
            err = NetworkError(f"Street View {endpoint} request failed: {type(e).__name__}: "
                               f"{self._redact(e)[:300]}")
        if err is not None:
            raise err  # raised outside the except block: no chained exception carries the URL
        code = resp.status_code
        if code == 429:
            raise QuotaExceeded(f"Street View {endpoint}: HTTP 429 Too Many Requests",
                                retry_after=_retry_after(resp))
        if code >= 500:
            raise ServerError(f"Street View {endpoint}: HTTP {code}", retry_after=_retry_after(resp))
        return resp

    def _call(self, fn: Callable[[], T]) -> T:
        return retry_call(fn, retries=self.retries) if self.retries else fn()

    # -- public API
    def metadata(self, lat: float | None = None, lon: float | None = None, *, pano: str | None = None,
                 radius: int = 50, source: str = "outdoor") -> PanoMeta:
        """Nearest panorama to (lat, lon) within ``radius`` metres, or the panorama ``pano``.

        ``source="outdoor"`` excludes indoor/business imagery (``"default"`` includes it). Free of
        charge. Raises :class:`NoCoverage` when there is none, other errors as in the module doc.
        """
        params: dict[str, Any]
        if pano:
            params = {"pano": pano}
        else:
            if lat is None or lon is None:
                raise ValueError("metadata() needs lat and lon, or pano")
            _check_latlon(lat, lon)
            params = {"location": f"{lat:.6f},{lon:.6f}", "radius": int(radius)}
        if source:
            params["source"] = source
        return self._call(lambda: self._metadata(params))

    def _metadata(self, params: dict[str, Any]) -> PanoMeta:
        resp = self._get("metadata", params)
        try:
            data = resp.json()
        except ValueError:
            raise ServerError(f"Street View metadata: HTTP {resp.status_code}, answer is not JSON") from None
        status = str(data.get("status", ""))
        if status == "OK":
            try:
                loc = data["location"]
                return PanoMeta(pano_id=str(data["pano_id"]), lat=float(loc["lat"]), lon=float(loc["lng"]),
                                date=str(data.get("date", "") or ""), copyright=str(data.get("copyright", "") or ""))
            except (KeyError, TypeError, ValueError):
                raise ServerError("Street View metadata: status OK but no pano_id/location") from None
        cls = _STATUS_ERRORS.get(status)
        detail = self._redact(data.get("error_message", "") or "")[:300]
        if cls is None:
            if resp.status_code == 403:
                cls = RequestDenied
            elif resp.status_code == 400:
                cls = InvalidRequest
            else:
                raise ServerError(f"Street View metadata: HTTP {resp.status_code}, unexpected status "
                                  f"{self._redact(status)[:40]!r}")
        raise cls(f"Street View metadata: {cls.status}" + (f" ({detail})" if detail else "")
                  + _HINTS.get(cls.status, ""))

    def image(self, pano: str | None = None, *, lat: float | None = None, lon: float | None = None,
              heading: float = 0.0, pitch: float = 0.0, fov: float = 90.0,
              size: str | tuple[int, int] | int = (640, 640), radius: int = 50,
              source: str = "outdoor") -> bytes:
        """JPEG bytes of one view: of panorama ``pano``, or of the nearest one to (lat, lon).

        heading/pitch/fov in degrees, size in pixels (<= 640x640). Billed per request.
        """
        w, h = parse_size(size)
        _check_view(heading, pitch, fov)
        params: dict[str, Any] = {"size": f"{w}x{h}", "heading": f"{heading:g}", "pitch": f"{pitch:g}",
                                  "fov": f"{fov:g}", "return_error_code": "true"}
        if pano:
            params["pano"] = pano
        else:
            if lat is None or lon is None:
                raise ValueError("image() needs pano, or lat and lon")
            _check_latlon(lat, lon)
            params.update(location=f"{lat:.6f},{lon:.6f}", radius=int(radius))
        if source:
            params["source"] = source
        return self._call(lambda: self._image(params))

    def _image(self, params: dict[str, Any]) -> bytes:
        resp = self._get("image", params)
        code = resp.status_code
        if code == 200:
            ctype = resp.headers.get("Content-Type", "")
            if not ctype.startswith("image/") or not resp.content:
                raise ServerError(f"Street View image: HTTP 200 but not an image ({ctype[:40]})")
            return resp.content
        body = self._redact(resp.text[:200]).strip()
        cls = {400: InvalidRequest, 403: RequestDenied, 404: NoCoverage}.get(code, ServerError)
        raise cls(f"Street View image: HTTP {code} {cls.status}" + (f" ({body})" if body else "")
                  + _HINTS.get(cls.status, ""))


_HINTS = {
    "REQUEST_DENIED": ": check the API key, that the Street View Static API is enabled for its project, "
                      "that billing is on and that key restrictions allow this use.",
    "OVER_QUERY_LIMIT": ": quota or rate limit exceeded; slow down or raise the quota.",
    "INVALID_REQUEST": ": a parameter is malformed (size <= 640x640, fov 10..120, pitch -90..90).",
}


def _retry_after(resp: requests.Response) -> float | None:
    try:
        v = float(resp.headers.get("Retry-After", ""))
        return v if v >= 0 else None
    except ValueError:
        return None


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
