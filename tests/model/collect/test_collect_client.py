"""The Street View client against the fake server (real HTTP on 127.0.0.1), links and keys."""
from __future__ import annotations

import io
import logging
import time
import traceback

import pytest
from PIL import Image

from model.collect.streetview import (DEFAULT_BASE_URL, InvalidRequest, LinkError, MissingKeyError, NetworkError,
                              NoCoverage, NotFound, PanoMeta, QuotaExceeded, RequestDenied, ServerError,
                              StreetViewClient, StreetViewError, UnknownError, get_api_key, parse_maps_link,
                              parse_size, redact, retry_call)
from tests.model.collect.helpers import KEY


def client(fake, **kw) -> StreetViewClient:
    return StreetViewClient(KEY, base_url=fake.base_url, **kw)


def test_metadata_and_image_real_http(fake):
    c = client(fake)
    meta = c.metadata(45.8150, 15.9819, radius=1000)
    assert isinstance(meta, PanoMeta) and len(meta.pano_id) == 22
    assert abs(meta.lat - 45.815) < 0.02 and abs(meta.lon - 15.982) < 0.02
    assert meta.date[:2] == "20" and meta.date[4] == "-"
    assert c.metadata(pano=meta.pano_id) == meta
    jpeg = c.image(meta.pano_id, heading=90, pitch=0, fov=90, size="640x640")
    with Image.open(io.BytesIO(jpeg)) as im:
        assert im.format == "JPEG" and min(im.size) >= 200
    assert jpeg == fake.image_for(meta.pano_id, "90").read_bytes()  # the real shared JPEG
    by_loc = c.image(lat=45.8150, lon=15.9819, heading=90, radius=1000)
    assert by_loc == jpeg
    sent = [r.params for r in fake.requests]
    assert all(p["source"] == "outdoor" and p["key"] == KEY for p in sent)
    assert sent[0]["location"] == "45.815000,15.981900" and sent[0]["radius"] == "1000"
    assert sent[2]["return_error_code"] == "true" and sent[2]["size"] == "640x640"


@pytest.mark.parametrize("status, exc", [("ZERO_RESULTS", NoCoverage), ("NOT_FOUND", NotFound),
                                         ("OVER_QUERY_LIMIT", QuotaExceeded), ("REQUEST_DENIED", RequestDenied),
                                         ("INVALID_REQUEST", InvalidRequest), ("UNKNOWN_ERROR", UnknownError),
                                         ("429", QuotaExceeded), ("500", ServerError), ("503", ServerError),
                                         ("drop", NetworkError)])
def test_every_failure_is_typed_and_keyless(fake, status, exc):
    fake.fail_next(status)
    with pytest.raises(exc) as ei:
        client(fake).metadata(45.8, 15.9)
    text = str(ei.value) + repr(ei.value) + "".join(traceback.format_exception(ei.value))
    assert KEY not in text
    assert ei.value.retryable == (exc in (QuotaExceeded, UnknownError, ServerError, NetworkError))


@pytest.mark.parametrize("code, exc", [(400, InvalidRequest), (403, RequestDenied), (404, NoCoverage),
                                       (429, QuotaExceeded), (500, ServerError)])
def test_image_http_errors(fake, code, exc):
    meta = client(fake).metadata(45.8, 15.9, radius=1000)
    fake.settings.image_status = code
    with pytest.raises(exc) as ei:
        client(fake).image(meta.pano_id)
    assert KEY not in str(ei.value)


def test_no_coverage_and_bad_key(fake):
    fake.settings.no_coverage = lambda lat, lon: lat < 0
    with pytest.raises(NoCoverage):
        client(fake).metadata(-33.9, 18.4)
    bad = StreetViewClient("wrong-key-77", base_url=fake.base_url)
    with pytest.raises(RequestDenied, match="API key") as ei:
        bad.metadata(45.8, 15.9)
    assert "wrong-key-77" not in str(ei.value)
    with pytest.raises(RequestDenied):
        bad.image(lat=45.8, lon=15.9)


def test_slow_answer_times_out(fake):
    fake.settings.slow_s = 1.5
    fake.fail_next("slow")
    t = time.monotonic()
    with pytest.raises(NetworkError, match="timed out") as ei:
        client(fake, timeout=0.3).metadata(45.8, 15.9)
    assert time.monotonic() - t < 1.4 and KEY not in str(ei.value)


def test_refused_connection_never_shows_key(caplog):
    caplog.set_level(logging.DEBUG)
    c = StreetViewClient(KEY, base_url="http://127.0.0.1:9/maps/api/streetview", timeout=1)
    with pytest.raises(NetworkError) as ei:
        c.metadata(1.0, 2.0)
    text = str(ei.value) + "".join(traceback.format_exception(ei.value))
    assert "127.0.0.1" in text and KEY not in text
    assert ei.value.__cause__ is None and ei.value.__context__ is None
    assert KEY not in caplog.text and KEY not in repr(c)


def test_debug_logs_are_redacted(fake, caplog):
    caplog.set_level(logging.DEBUG)
    client(fake).metadata(45.8, 15.9, radius=1000)
    assert "metadata?" in caplog.text  # urllib3 logged the request line...
    assert KEY not in caplog.text      # ...without the key


def test_client_retries_with_backoff(fake):
    fake.fail_next("500")
    fake.fail_next("drop")
    meta = client(fake, retries=2).metadata(45.8, 15.9, radius=1000)
    assert meta.pano_id and fake.count("metadata") == 3
    fake.fail_next("REQUEST_DENIED")  # not retryable: one request only
    with pytest.raises(RequestDenied):
        client(fake, retries=3).metadata(45.8, 15.9, radius=1000)
    assert fake.count("metadata") == 4


def test_retry_call_backoff_schedule():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 4:
            raise ServerError("boom")
        return "ok"

    assert retry_call(flaky, retries=5, base_delay=1.0, max_delay=3.0, sleep=waits.append) == "ok"
    assert len(waits) == 3 and 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2 and 1.5 <= waits[2] <= 3
    with pytest.raises(QuotaExceeded):
        retry_call(lambda: (_ for _ in ()).throw(QuotaExceeded("q", retry_after=2.5)), retries=1,
                   base_delay=0.1, sleep=waits.append)
    assert waits[-1] == 2.5  # Retry-After honoured


def test_argument_validation():
    c = StreetViewClient("k", base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="640"):
        c.image("p", size="800x600")
    with pytest.raises(ValueError, match="fov"):
        c.image("p", fov=150)
    with pytest.raises(ValueError, match="out of range"):
        c.metadata(95, 10)
    assert parse_size("320x240") == (320, 240) and parse_size(128) == (128, 128)
    with pytest.raises(MissingKeyError):
        StreetViewClient("  ")
    assert StreetViewClient("k").base_url == DEFAULT_BASE_URL
    with pytest.raises(ValueError, match="https"):
        StreetViewClient("k", base_url="http://maps.example.org/streetview")  # key in clear text


def test_get_api_key(tmp_path, monkeypatch):
    f = tmp_path / "key"
    f.write_text("# my key\n  from-file-KEY \n")
    assert get_api_key(key_file=f) == "from-file-KEY"
    monkeypatch.setenv("GSV_API_KEY", "from-env-KEY")
    assert get_api_key() == "from-env-KEY"
    assert get_api_key(key_file=f) == "from-file-KEY"
    monkeypatch.delenv("GSV_API_KEY")
    with pytest.raises(MissingKeyError, match="GOOGLE_MAPS_API_KEY"):
        get_api_key()
    with pytest.raises(MissingKeyError, match="not found"):
        get_api_key(key_file=tmp_path / "nope")
    (tmp_path / "empty").write_text("\n# only a comment\n")
    with pytest.raises(MissingKeyError, match="empty"):
        get_api_key(key_file=tmp_path / "empty")


def test_redact():
    assert redact("GET /x?location=1,2&key=ABC123&signature=zz", None) == "GET /x?location=1,2&key=***&signature=***"
    assert redact("the key ABC123 leaked", "ABC123") == "the key *** leaked"


@pytest.mark.parametrize("url, want", [
    ("https://www.google.com/maps/@45.8150,15.9819,3a,75y,90h,95t/data=!3m6!1e1!3m4!1sAbCdEfGhIjKlMnOpQrStUv!2e0!7i16384!8i8192",
     {"lat": 45.815, "lon": 15.9819, "fov": 75.0, "heading": 90.0, "pitch": 5.0, "pano": "AbCdEfGhIjKlMnOpQrStUv"}),
    ("https://www.google.com/maps/@?api=1&map_action=pano&viewpoint=48.857832,2.295226&heading=-45&pitch=38&fov=80",
     {"lat": 48.857832, "lon": 2.295226, "heading": 315.0, "pitch": 38.0, "fov": 80.0}),
    ("http://maps.google.com/maps?layer=c&cbll=40.748817,-73.985428&cbp=12,235.5,,0,-5",
     {"lat": 40.748817, "lon": -73.985428, "heading": 235.5, "pitch": 5.0}),
    ("https://www.google.com/maps/place/Zagreb/@45.8401,15.8743,11z/data=!3m1!4b1", {"lat": 45.8401, "lon": 15.8743}),
    ("https://maps.google.com/?ll=-33.86,151.2", {"lat": -33.86, "lon": 151.2}),
    ("google.com/maps/@-22.95,-43.21,3a,90y,180h,90t", {"lat": -22.95, "lon": -43.21, "fov": 90.0,
                                                        "heading": 180.0, "pitch": 0.0}),
    (" 45.81, 15.97 ", {"lat": 45.81, "lon": 15.97}),
])
def test_parse_maps_link(url, want):
    assert parse_maps_link(url) == want


@pytest.mark.parametrize("url, msg", [
    ("", "empty"), ("https://example.com/@45,15", "not a Google Maps link"),
    ("https://maps.app.goo.gl/AbCd", "short links"), ("https://www.google.com/maps/search/pizza", "no coordinates"),
    ("https://www.google.com/maps/@95.1,15.9,3a", "out of range"),
    ("https://www.google.com/maps/@?api=1&map_action=pano&viewpoint=45.8,200", "out of range"),
    ("https://www.google.com/maps/@?api=1&map_action=pano&viewpoint=45.8,15&heading=east", "not a number"),
    ("https://www.google.com/maps/@?api=1&map_action=pano&viewpoint=nowhere", "lat,lon"),
])
def test_parse_maps_link_errors(url, msg):
    with pytest.raises(LinkError, match=msg):
        parse_maps_link(url)


def test_errors_form_a_hierarchy():
    for cls in (NoCoverage, NotFound, QuotaExceeded, RequestDenied, InvalidRequest, UnknownError, ServerError,
                NetworkError, MissingKeyError):
        assert issubclass(cls, StreetViewError)


def test_url_signing(fake):
    import base64
    import hashlib
    import hmac
    from urllib.parse import urlencode

    secret = base64.urlsafe_b64encode(b"0123456789abcdef0123").decode()
    c = StreetViewClient(KEY, base_url=fake.base_url, signing_secret=secret)
    c.metadata(45.8, 15.9, radius=1000)
    params = dict(fake.requests[-1].params)
    sig = params.pop("signature")
    signed = "/maps/api/streetview/metadata?" + urlencode(params)
    want = base64.urlsafe_b64encode(hmac.new(base64.urlsafe_b64decode(secret), signed.encode(),
                                             hashlib.sha1).digest()).decode()
    assert sig == want
    fake.fail_next("drop")
    with pytest.raises(NetworkError) as ei:
        c.metadata(45.8, 15.9)
    assert secret not in str(ei.value) and KEY not in str(ei.value) and secret not in repr(c)
