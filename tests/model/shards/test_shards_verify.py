"""verify names corrupt and truncated shards and bad samples; the stream skips them with a message."""
from __future__ import annotations

import logging

import pytest

from model.data.images import ImageLoadError, open_image
from model.shards import ShardStream, info, read_table, verify
from model.shards.__main__ import main


def _ids(img):
    return img.size


def test_sound_folder_verifies_and_info_counts(shard_dir, capsys):
    assert verify(shard_dir) == []
    assert main(["verify", str(shard_dir)]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")
    text = info(shard_dir, shards=True)
    assert "42 samples in 6 shard(s)" in text and "train 30, val 3, test 9" in text
    assert "shard-000005.tar: 2 samples" in text


def test_truncated_shard_is_named_and_the_stream_goes_on(shard_copy, capsys, caplog):
    p = shard_copy / "shard-000002.tar"
    p.write_bytes(p.read_bytes()[:20000])  # cut inside its 3rd sample
    problems = verify(shard_copy)
    assert problems and all(x.startswith("shard-000002.tar") for x in problems)
    assert any("truncated" in x for x in problems) and any("unreadable tar after" in x for x in problems)
    assert main(["verify", str(shard_copy), "--no-decode"]) == 1
    assert "shard-000002.tar" in capsys.readouterr().out
    with caplog.at_level(logging.WARNING, logger="model.shards"):
        rows = [r for _, r in ShardStream(shard_copy, transform=_ids)]
    assert "shard-000002.tar: corrupt or truncated shard" in caplog.text
    assert set(range(42)) - set(rows) <= set(range(16, 24)) and len(rows) >= 42 - 8  # only that shard lost
    assert set(range(16)) | set(range(24, 42)) <= set(rows)


def test_corrupt_image_inside_a_shard_is_named_by_sample(shard_copy, caplog):
    tab = read_table(shard_copy)
    r = 11  # shard 1
    off = int(tab["byte_offset"][r])
    p = shard_copy / "shard-000001.tar"
    data = bytearray(p.read_bytes())
    data[off:off + 64] = b"\0" * 64  # the JPEG header of sample 11 is gone
    p.write_bytes(bytes(data))
    problems = verify(shard_copy)
    assert any(x.startswith("shard-000001.tar: checksum differs") for x in problems)
    assert any(x.startswith("shard-000001.tar#000000011: not a recognised image") for x in problems)
    with caplog.at_level(logging.WARNING, logger="model.shards"):
        rows = [r for _, r in ShardStream(shard_copy, transform=_ids)]
    assert rows == [i for i in range(42) if i != 11]
    assert "skipped shard-000001.tar#000000011: not a recognised image" in caplog.text
    with pytest.raises(ImageLoadError, match="shard-000001.tar#000000011"):
        open_image(tab["path"][r])


def test_missing_shard_and_stray_file_are_named(shard_copy, caplog):
    (shard_copy / "shard-000004.tar").unlink()
    (shard_copy / "shard-000009.tar").write_bytes(b"")
    problems = verify(shard_copy, decode=False)
    assert "shard-000004.tar: missing" in problems
    assert "shard-000009.tar: a shard file the index does not list" in problems
    with caplog.at_level(logging.WARNING, logger="model.shards"):
        rows = [r for _, r in ShardStream(shard_copy, transform=_ids)]
    assert len(rows) == 42 - 8 and "shard-000004.tar" in caplog.text
