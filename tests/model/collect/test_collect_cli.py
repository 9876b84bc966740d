"""The collector's command line: kill -9 and resume, Ctrl-C (real subprocesses), cost, key hygiene.

Runs that need a process of their own (killed, interrupted, key in its environment) are
subprocesses; the rest call the same ``main()`` in process, which is much faster.
"""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from model.collect.journal import Journal
from model.data.manifest import read_manifest
from tests.model.collect.helpers import KEY, cli, cli_env, popen_cli, run_main, sv_args, wait_for_images


SECRET = "c2VjcmV0LXNpZ25pbmctdGVzdA=="  # URL-safe base64, distinctive


def args(fake, out: Path, *extra: str) -> list[str]:
    return sv_args(fake, out, *extra)


def snapshot(out: Path) -> tuple[str, dict[str, bytes]]:
    return ((out / "manifest.csv").read_text(),
            {p.name: p.read_bytes() for p in sorted((out / "images").iterdir())})


def test_killed_halfway_then_resumed_equals_uninterrupted(fake, tmp_path, monkeypatch, capsys):
    fake.settings.delay_s = 0.02  # slow enough to kill it in the middle
    env = cli_env(GOOGLE_MAPS_API_KEY=KEY)
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", KEY)
    code, _, err = run_main(args(fake, tmp_path / "ref"), capsys)  # the uninterrupted reference
    assert code == 0, err
    fake.reset_log()
    total_images = len(list((tmp_path / "ref" / "images").iterdir()))
    assert total_images >= 100

    out = tmp_path / "killed"
    proc = popen_cli(args(fake, out), env=env)
    wait_for_images(out / "journal.jsonl", 30, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    on_disk = [p for p in (out / "images").iterdir() if not p.name.startswith(".")]
    state = Journal.read_state(out / "journal.jsonl")
    assert 30 <= len(on_disk) < total_images  # really interrupted halfway

    fake.wait_idle()  # requests the killed process left in flight are not the next run's
    fake.reset_log()
    code, stdout, err = run_main(args(fake, out), capsys)
    assert code == 0, err
    assert snapshot(out) == snapshot(tmp_path / "ref")  # nothing lost, nothing duplicated
    assert not [p for p in (out / "images").iterdir() if p.name.startswith(".")]  # temp files cleaned
    # nothing fetched twice: exactly the missing images and the unanswered points were requested
    assert fake.count("image") == total_images - len(on_disk)
    assert fake.count("metadata") == 40 - len(state.points)
    events = [json.loads(x) for x in (out / "journal.jsonl").read_text().splitlines()]
    views = [(e["pano"], e["view"]) for e in events if e["e"] == "image"]
    assert len(views) == len(set(views)) == total_images
    assert "Already done" in stdout


def test_ctrl_c_stops_cleanly_and_resumes(fake, tmp_path, monkeypatch, capsys):
    fake.settings.delay_s = 0.1  # >= 4 s for the whole run: the interrupt always lands halfway
    env = cli_env(GOOGLE_MAPS_API_KEY=KEY)
    out = tmp_path / "c"
    proc = popen_cli(args(fake, out), env=env)
    wait_for_images(out / "journal.jsonl", 20, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    partial = read_manifest(out / "manifest.csv")  # the manifest is written on interruption too
    assert 20 <= len(partial) < 160 and all(Path(p).is_file() for p in partial["path"])
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", KEY)
    code, _, err = run_main(args(fake, out), capsys)
    assert code == 0, err
    final = read_manifest(out / "manifest.csv")
    assert set(partial["image"]) < set(final["image"]) and final["image"].is_unique


def test_dry_run_prints_cost_and_requests_nothing(fake, tmp_path, capsys):
    out = tmp_path / "d"
    code, stdout, err = run_main(["streetview", "--countries", "HR,SI", "--per-region", "5", "--headings", "0,90",
                                  "--out", str(out), "--price-per-1000", "10", "--base-url", fake.base_url,
                                  "--dry-run"], capsys)
    assert code == 0, err
    assert "10 points x 2 heading(s) = at most 20 images" in stdout
    assert "10 metadata requests (free)" in stdout
    assert "at most 20 image requests at 10.00 USD/1000 = at most 0.20 USD" in stdout
    assert "Prices change" in stdout and "Dry run" in stdout
    assert fake.count() == 0 and not out.exists()  # no request, no file, no key needed


def test_cost_limit_and_missing_key(fake, tmp_path, monkeypatch, capsys):
    base = ["streetview", "--world", "200", "--out", str(tmp_path / "w"), "--base-url", fake.base_url]
    code, _, err = run_main(base, capsys)
    assert code == 2 and "GOOGLE_MAPS_API_KEY" in err and "--key-file" in err
    monkeypatch.setenv("GSV_API_KEY", KEY)
    code, _, err = run_main(base + ["--max-cost", "1"], capsys)
    assert code == 2 and "5.60 USD > --max-cost 1.00" in err
    assert fake.count() == 0


def test_help_mentions_prices_change(capsys):
    code, out, _ = run_main(["streetview", "--help"], capsys)
    assert code == 0 and "prices change" in out and "--dry-run" in out


def all_output(printed: str, out: Path) -> bytes:
    """What a run printed plus every file (name and bytes) it left in its folder."""
    blob = printed.encode()
    for p in out.rglob("*"):
        if p.is_file():
            blob += p.name.encode() + p.read_bytes()
    return blob


def test_key_never_reaches_the_output(fake, tmp_path, capsys):
    key_file, secret_file = tmp_path / "gsv_key", tmp_path / "gsv_secret"
    key_file.write_text(KEY + "\n")
    secret_file.write_text(SECRET + "\n")
    fake.settings.fault_rates = {"drop": 0.1, "500": 0.1, "429": 0.05}
    for kind in ("drop", "500", "429", "garbage"):
        fake.fail_next(kind)
    out = tmp_path / "c"
    small = ["streetview", "--countries", "SI", "--per-region", "6", "--out", str(out), "--base-url", fake.base_url,
             "--key-file", str(key_file), "--signing-secret-file", str(secret_file), "--retries", "4",
             "--backoff", "0.02", "--workers", "2", "--rate", "0"]
    res = cli(small)
    assert res.returncode in (0, 3), res.stderr  # 3: some request failed even after its retries
    assert fake.count() > 0 and all(r.params["key"] == KEY for r in fake.requests)  # it was used...
    printed = all_output(res.stdout + res.stderr, out)
    assert KEY.encode() not in printed and SECRET.encode() not in printed           # ...and never shown
    code, stdout, stderr = run_main(small, capsys)  # in process too (the lock records this command line)
    assert code in (0, 3) and KEY.encode() not in all_output(stdout + stderr, out)
    fake.settings.fault_rates = {}
    fake.settings.key = "another-key"  # now the key is rejected: the run stops with the API's reason
    out2 = tmp_path / "c2"
    code, stdout, stderr = run_main([str(out2) if a == str(out) else a for a in small], capsys)
    assert code == 2 and "REQUEST_DENIED" in stderr and "API key" in stderr
    assert KEY.encode() not in all_output(stdout + stderr, out2)


@pytest.mark.parametrize("bad, msg", [(["--size", "900x900"], "640"), (["--headings", "0,400"], "0..360"),
                                      (["--countries", "Atlantis"], "unknown country")])
def test_bad_arguments_give_clear_errors(tmp_path, capsys, bad, msg):
    base = {"--countries": "HR", "--out": str(tmp_path / "x")}
    for k, v in zip(bad[::2], bad[1::2]):
        base[k] = v
    code, _, err = run_main(["streetview", *[x for kv in base.items() for x in kv], "--dry-run"], capsys)
    assert code == 2 and msg in err and "Traceback" not in err
