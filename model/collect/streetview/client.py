"""The Street View Static API client: metadata (free) and images (billed), retries, typed errors."""
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
from typing import Any, Callable, TypeVar
from urllib.parse import urlencode, urlsplit

import requests

from .errors import (_STATUS_ERRORS, InvalidRequest, MissingKeyError, NetworkError, NoCoverage, QuotaExceeded, RequestDenied,
                     ServerError, StreetViewError, redact)

DEFAULT_BASE_URL = "https://maps.googleapis.com/maps/api/streetview"
BASE_URL_ENV = "GSV_BASE_URL"  # endpoint root override (tests); https, or http to this machine only
MAX_SIZE = 640  # pixels, per side (Street View Static API limit)
log = logging.getLogger(__name__)
T = TypeVar("T")


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
