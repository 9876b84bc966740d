"""A local fake of the Street View Static API (metadata + image endpoints) on 127.0.0.1.

Real HTTP (``ThreadingHTTPServer``, HTTP/1.1 keep-alive, port 0), the real JSON shape, and real JPEGs
read at run time from ``<repo>/../shared/geodata/images`` (never copied into the repository)::

    from tests.model.collect.fakes.streetview_server import FakeStreetView

    with FakeStreetView(key="test-key") as fake:          # starts on 127.0.0.1:<free port>
        client = StreetViewClient("test-key", base_url=fake.base_url)
        fake.settings.delay_s = 0.05                     # every answer 50 ms late
        fake.fail_next("429", count=2)                   # next two requests get HTTP 429
        fake.fail_next("ZERO_RESULTS", endpoint="metadata")
        ...
        fake.requests                                    # log: list of LoggedRequest
        fake.count("image")                              # image requests answered so far
        fake.wait_idle(); fake.reset_log()               # e.g. between a killed run and its resume

The fake world: panoramas sit on a lat/lon grid of ``grid_deg`` degrees (with a small deterministic
offset); a grid point has one with probability ``coverage`` (a hash, so the same everywhere and every
run). Metadata for a location answers the nearest panorama within ``radius`` metres or ZERO_RESULTS;
image requests answer a JPEG chosen by hash of (pano, heading), or 404 with ``return_error_code``.

Faults: ``settings.metadata_status`` / ``settings.image_status`` force every answer; ``fail_next``
queues one-shot faults; ``settings.fault_rates`` injects random ones (seeded). Fault kinds: any
metadata status (``ZERO_RESULTS``, ``NOT_FOUND``, ``OVER_QUERY_LIMIT``, ``REQUEST_DENIED``,
``INVALID_REQUEST``, ``UNKNOWN_ERROR``), an HTTP code (``"429"``, ``"500"``, ``"503"``...), ``"drop"``
(connection closed without an answer), ``"slow"`` (answer after ``settings.slow_s`` seconds) and
``"garbage"`` (HTTP 200 whose body is not an image).
A wrong or missing key gets REQUEST_DENIED (metadata) / HTTP 403 (image), as Google does.
"""
from __future__ import annotations

import base64
import collections
import functools
import hashlib
import io
import json
import math
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from tests.shared import REPO
SHARED_IMAGES = REPO.parent / "shared" / "geodata" / "images"
STATUSES = ("OK", "ZERO_RESULTS", "NOT_FOUND", "OVER_QUERY_LIMIT", "REQUEST_DENIED", "INVALID_REQUEST",
            "UNKNOWN_ERROR")
PATH_PREFIX = "/maps/api/streetview"


@functools.lru_cache(maxsize=8)
def shared_images(root: Path = SHARED_IMAGES, limit: int = 400) -> list[Path]:
    """Street View JPEGs of the shared set (``gsv_*`` sources only), sorted; [] if it is absent."""
    if not root.is_dir():
        return []
    files: list[Path] = []
    for d in sorted(root.glob("gsv_*")):
        files += sorted(d.glob("*.jpg"))[: max(1, limit // 4)]
    return files[:limit]


@dataclass
class FakeSettings:
    """Behaviour of the fake; change fields at any time (reads are per request)."""

    key: str | None = "test-key"        # the only accepted key (None accepts any non-empty key)
    grid_deg: float = 0.01              # panorama grid spacing, degrees
    coverage: float = 0.8               # fraction of grid points with a panorama
    delay_s: float = 0.0                # added before every answer, seconds
    slow_s: float = 2.0                 # delay of a "slow" fault, seconds
    metadata_status: str | None = None  # force this status on every metadata answer
    image_status: int | None = None     # force this HTTP code on every image answer
    fault_rates: dict[str, float] = field(default_factory=dict)  # e.g. {"429": .05, "drop": .02}
    retry_after: float | None = None    # Retry-After header (seconds) sent with 429s
    seed: int = 0
    no_coverage: Callable[[float, float], bool] | None = None  # extra holes: f(lat, lon) -> True


@dataclass
class LoggedRequest:
    endpoint: str            # "metadata" | "image" | "other"
    params: dict[str, str]   # query parameters as sent (including the key)
    code: int                # HTTP code answered (0 = dropped)
    outcome: str             # "OK", a status, "drop", "http-429"...
    t: float                 # time.monotonic() when answered


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha1("|".join(map(str, parts)).encode()).digest()[:8], "big")


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


class FakeStreetView:
    """The fake server. Use as a context manager (or ``start()``/``stop()``); ``base_url`` is the
    endpoint root to give ``StreetViewClient(base_url=...)``."""

    def __init__(self, key: str | None = "test-key", images: list[Path] | None = None, **settings):
        self.settings = FakeSettings(key=key, **settings)
        self.images = list(images) if images is not None else shared_images()
        if not self.images:
            raise FileNotFoundError(f"no Street View JPEGs under {SHARED_IMAGES}")
        self.requests: list[LoggedRequest] = []
        self._queue: collections.deque[tuple[str, str]] = collections.deque()
        self._lock = threading.Lock()
        self._rng = random.Random(self.settings.seed)
        self._panos: dict[str, tuple[float, float, str]] = {}
        self._inflight = 0
        self._last_seen = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle
    def start(self) -> "FakeStreetView":
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}{PATH_PREFIX}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-streetview", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeStreetView":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- test helpers
    def fail_next(self, kind: str, count: int = 1, endpoint: str = "any") -> None:
        """Queue ``count`` one-shot faults of ``kind`` for the next requests to ``endpoint``
        (``"metadata"``, ``"image"`` or ``"any"``)."""
        with self._lock:
            self._queue.extend([(endpoint, kind)] * count)

    def count(self, endpoint: str | None = None, outcome: str | None = None) -> int:
        """Requests logged so far, optionally only for one endpoint and/or outcome."""
        with self._lock:
            return sum(1 for r in self.requests if (endpoint is None or r.endpoint == endpoint)
                       and (outcome is None or r.outcome == outcome))

    def wait_idle(self, quiet_s: float = 0.2, timeout: float = 10.0) -> None:
        """Wait until no request is being handled and none has arrived for ``quiet_s`` seconds
        (e.g. after killing a client, before counting the next run's requests)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                busy = self._inflight > 0
                last = self._last_seen
            if not busy and time.monotonic() - last >= quiet_s:
                return
            time.sleep(0.02)
        raise TimeoutError("the fake server did not go idle")

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- the fake world
    def pano_near(self, lat: float, lon: float, radius_m: float) -> tuple[str, float, float, str] | None:
        """Nearest panorama (pano_id, lat, lon, date) within ``radius_m`` metres, or None."""
        s = self.settings
        g = s.grid_deg
        if s.no_coverage is not None and s.no_coverage(lat, lon):
            return None
        reach = min(3, max(1, math.ceil(radius_m / 111_000 / g)))
        i0, j0 = round(lat / g), round(lon / g)
        best = None
        for i in range(i0 - reach, i0 + reach + 1):
            for j in range(j0 - reach, j0 + reach + 1):
                h = _h("cov", i, j)
                if (h % 10_000) / 10_000 >= s.coverage:
                    continue
                plat = max(-89.9, min(89.9, i * g + ((h >> 16) % 1000 - 500) / 1000 * g * 0.2))
                plon = ((j * g + ((h >> 32) % 1000 - 500) / 1000 * g * 0.2) + 180) % 360 - 180
                d = _haversine_m(lat, lon, plat, plon)
                if d <= radius_m and (best is None or d < best[0]):
                    best = (d, i, j, plat, plon)
        if best is None:
            return None
        _, i, j, plat, plon = best
        pano = base64.urlsafe_b64encode(hashlib.sha1(f"pano|{i}|{j}".encode()).digest()).decode()[:22]
        h = _h("date", i, j)
        date = f"{2008 + h % 16}-{1 + (h >> 8) % 12:02d}"
        with self._lock:
            self._panos[pano] = (plat, plon, date)
        return pano, plat, plon, date

    def image_for(self, pano: str, heading: str) -> Path:
        """The shared JPEG served for (pano, heading)."""
        return self.images[_h("img", pano, heading) % len(self.images)]

    def _take_fault(self, endpoint: str) -> str | None:
        with self._lock:
            for idx, (ep, kind) in enumerate(self._queue):
                if ep in ("any", endpoint):
                    del self._queue[idx]
                    return kind
            for kind, p in self.settings.fault_rates.items():
                if self._rng.random() < p:
                    return kind
        return None

    def _log(self, endpoint: str, params: dict[str, str], code: int, outcome: str) -> None:
        """Record a request (called just before the answer is sent, so a client sees it logged)."""
        with self._lock:
            self.requests.append(LoggedRequest(endpoint, params, code, outcome, time.monotonic()))


class _QuietServer(ThreadingHTTPServer):
    """Ignores clients that vanish mid-request (killed collectors, timeouts); reports anything else."""

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server_fake: FakeStreetView

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: dict, code: int = 200) -> None:
        self._send(code, json.dumps(data).encode(), "application/json; charset=UTF-8")

    def do_GET(self) -> None:  # noqa: N802
        fake = self.server_fake
        with fake._lock:
            fake._inflight += 1
            fake._last_seen = time.monotonic()
        try:
            self._get()
        finally:
            with fake._lock:
                fake._inflight -= 1
                fake._last_seen = time.monotonic()

    def _get(self) -> None:
        fake = self.server_fake
        s = fake.settings
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = parts.path.rstrip("/")
        endpoint = {PATH_PREFIX + "/metadata": "metadata", PATH_PREFIX: "image"}.get(path, "other")
        if endpoint == "other":
            fake._log(endpoint, params, 404, "http-404")
            self._send(404, b"Not Found", "text/plain")
            return
        if s.delay_s:
            time.sleep(s.delay_s)
        fault = fake._take_fault(endpoint)
        if fault == "slow":
            time.sleep(s.slow_s)
            fault = None
        if fault == "drop":
            fake._log(endpoint, params, 0, "drop")
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if fault == "garbage":  # a 200 answer whose body is not an image (a broken proxy, a cut download)
            fake._log(endpoint, params, 200, "garbage")
            self._send(200, b"<html>not an image</html>", "image/jpeg")
            return
        if fault is not None and fault.isdigit():
            code = int(fault)
            extra = {"Retry-After": f"{s.retry_after:g}"} if code == 429 and s.retry_after is not None else None
            fake._log(endpoint, params, code, f"http-{code}")
            self._send(code, f"HTTP {code} from the fake".encode(), "text/plain", extra)
            return
        key_ok = bool(params.get("key")) and (s.key is None or params.get("key") == s.key)
        if endpoint == "metadata":
            self._metadata(params, fault if fault in STATUSES else s.metadata_status, key_ok)
        else:
            self._image(params, fault, key_ok)

    def _metadata(self, params: dict[str, str], forced: str | None, key_ok: bool) -> None:
        fake = self.server_fake
        status = "REQUEST_DENIED" if not key_ok else forced
        found = None
        if status is None:
            try:
                radius = float(params.get("radius", 50))
                if "pano" in params:
                    with fake._lock:
                        hit = fake._panos.get(params["pano"])
                    found = (params["pano"], *hit) if hit else None
                else:
                    lat, lon = (float(x) for x in params["location"].split(","))
                    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or radius < 0:
                        raise ValueError
                    found = fake.pano_near(lat, lon, radius)
                status = "OK" if found else "ZERO_RESULTS"
            except (KeyError, ValueError):
                status = "INVALID_REQUEST"
        if status == "OK" and found is None:  # forced OK without a panorama: invent one
            found = ("FAKEPANO" + "0" * 14, 0.0, 0.0, "2020-01")
        if status == "OK":
            pano, lat, lon, date = found
            body = {"copyright": "© Google", "date": date, "location": {"lat": lat, "lng": lon},
                    "pano_id": pano, "status": "OK"}
        else:
            body = {"status": status}
            if status == "REQUEST_DENIED":
                body["error_message"] = "The provided API key is invalid. "
        fake._log("metadata", params, 200, status)
        self._json(body)

    def _image(self, params: dict[str, str], fault: str | None, key_ok: bool) -> None:
        fake = self.server_fake
        s = fake.settings
        code, outcome = 200, "OK"
        forced = s.image_status
        if fault in STATUSES:  # a metadata status queued for "any": map it to the image's HTTP code
            forced = {"ZERO_RESULTS": 404, "NOT_FOUND": 404, "OVER_QUERY_LIMIT": 429, "REQUEST_DENIED": 403,
                      "INVALID_REQUEST": 400, "UNKNOWN_ERROR": 500, "OK": None}[fault]
        if not key_ok:
            code, outcome = 403, "REQUEST_DENIED"
        elif forced:
            code, outcome = forced, f"http-{forced}"
        else:
            try:
                w, h = (int(v) for v in params.get("size", "").lower().split("x"))
                fov = float(params.get("fov", 90))
                pitch = float(params.get("pitch", 0))
                if not (0 < w <= 640 and 0 < h <= 640 and 10 <= fov <= 120 and -90 <= pitch <= 90):
                    raise ValueError
                if "pano" in params:
                    with fake._lock:
                        pano = params["pano"] if params["pano"] in fake._panos else None
                else:
                    lat, lon = (float(x) for x in params["location"].split(","))
                    hit = fake.pano_near(lat, lon, float(params.get("radius", 50)))
                    pano = hit[0] if hit else None
                if pano is None:
                    code, outcome = 404, "ZERO_RESULTS"
                else:
                    body = fake.image_for(pano, params.get("heading", "0")).read_bytes()
                    fake._log("image", params, 200, "OK")
                    self._send(200, body, "image/jpeg")
                    return
            except (KeyError, ValueError):
                code, outcome = 400, "INVALID_REQUEST"
        if code == 404 and params.get("return_error_code") != "true":
            fake._log("image", params, 200, "no-imagery-placeholder")
            self._send(200, _grey_jpeg(), "image/jpeg")
            return
        text = {403: "The Google Maps Platform server rejected your request. The provided API key is invalid.",
                400: "Invalid request.", 404: "No imagery found."}.get(code, f"HTTP {code}")
        fake._log("image", params, code, outcome)
        self._send(code, text.encode(), "text/plain; charset=UTF-8")


_GREY: bytes | None = None


def _grey_jpeg() -> bytes:
    global _GREY
    if _GREY is None:
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (228, 227, 223)).save(buf, "JPEG")
        _GREY = buf.getvalue()
    return _GREY
