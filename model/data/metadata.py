"""Metadata inside image files that could give a place away: find it, and remove it without touching pixels.

A phone photo carries its position in EXIF (GPS tags), often again in XMP, and more in IPTC, comments
and maker notes; a served copy with any of it hands the answer to whoever looks. The collectors write
JPEGs, so this reads the JPEG segment list (the markers before the image data):

* :func:`metadata_found` names what is there (``EXIF``, ``XMP``, ``IPTC``, ``comment``, ``ICC profile``,
  ``APPn``): an empty list means the file holds pixels and the JFIF header only;
* :func:`strip_jpeg_metadata` removes those segments losslessly (the entropy-coded data is copied byte
  for byte), for images that must stay unmodified otherwise (the demo set, whose licence asks that
  changes be noted: removing metadata is the only one).
"""
from __future__ import annotations

SOI, SOS, EOI = 0xD8, 0xDA, 0xD9
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0..7: no length field


class JpegSegmentError(ValueError):
    """Bytes that are not a well-formed JPEG header (what is wrong, at which offset)."""


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """The segments before the image data: ``(marker, start, end)`` byte offsets of each whole segment
    (marker included), ending with the SOS segment's header. Raises :class:`JpegSegmentError`."""
    if data[:2] != b"\xff\xd8":
        raise JpegSegmentError("not a JPEG (no SOI marker)")
    out, i, n = [], 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            raise JpegSegmentError(f"expected a marker at byte {i}")
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            break
        marker, start = data[i], i - 1
        i += 1
        if marker in _STANDALONE:
            out.append((marker, start, i))
            continue
        if marker == EOI:
            out.append((marker, start, i))
            break
        if i + 2 > n:
            raise JpegSegmentError(f"segment 0x{marker:02X} at byte {start} is cut off")
        length = int.from_bytes(data[i:i + 2], "big")
        if length < 2 or i + length > n:
            raise JpegSegmentError(f"segment 0x{marker:02X} at byte {start} has a bad length {length}")
        i += length
        out.append((marker, start, i))
        if marker == SOS:
            break
    return out


def _kind(marker: int, payload: bytes) -> str | None:
    """What a segment holds, if it is metadata (None: JFIF/JFXX header or image structure)."""
    if marker == 0xFE:
        return "comment"
    if not 0xE0 <= marker <= 0xEF:
        return None
    if marker == 0xE0 and payload[:5] in (b"JFIF\0", b"JFXX\0"):
        return None
    if marker == 0xE1:
        if payload.startswith(b"Exif\0"):
            return "EXIF"
        if payload.startswith((b"http://ns.adobe.com/xap/1.0/", b"http://ns.adobe.com/xmp/extension/")):
            return "XMP"
    if marker == 0xE2 and payload.startswith(b"ICC_PROFILE\0"):
        return "ICC profile"
    if marker == 0xED:
        return "IPTC"
    return f"APP{marker - 0xE0}"


def metadata_found(data: bytes) -> list[str]:
    """Kinds of metadata segments in JPEG ``data``, in file order without repeats ([] if none)."""
    found: list[str] = []
    for marker, start, end in jpeg_segments(data):
        kind = _kind(marker, data[start + 4:min(end, start + 40)])
        if kind and kind not in found:
            found.append(kind)
    return found


def strip_jpeg_metadata(data: bytes, keep_icc: bool = False) -> bytes:
    """``data`` without its metadata segments (EXIF, XMP, IPTC, comments, other APPn; the ICC colour profile
    too unless ``keep_icc``); pixels untouched. Returns ``data`` itself when there is nothing to remove."""
    segs = jpeg_segments(data)
    drop = [(s, e) for m, s, e in segs
            if (k := _kind(m, data[s + 4:min(e, s + 40)])) and not (keep_icc and k == "ICC profile")]
    if not drop:
        return data
    parts, pos = [], 0
    for s, e in drop:
        parts.append(data[pos:s])
        pos = e
    parts.append(data[pos:])
    return b"".join(parts)
