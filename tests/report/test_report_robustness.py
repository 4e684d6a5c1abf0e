"""``noai-guard report`` on hostile trails: lone surrogates, corrupt and cut ``.jsonl.gz``.

The trails are written by a real ``noai-guard audit`` run (a JSON-lines feed
judged against a ``--robots-from`` folder), then damaged.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from noai_guard.auditlog import TrailReadError, read_audit, summary_record
from noai_guard.cli import main
from noai_guard.report.inputs import LAZY_LINE

LONE = "http://x.example/private/\ud800"  # a lone surrogate: no UTF-8 form
ESCAPED = "http://x.example/private/\\ud800"  # what every output shows instead (backslashreplace)
OUTPUTS = ("report.html", "report.md", "report.json", "domains.csv", "samples.csv", "manifest.json")


def robots_folder(tmp_path: Path) -> Path:
    root = tmp_path / "robots"
    (root / "x.example").mkdir(parents=True)
    (root / "x.example" / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    return root


def audited_feed(tmp_path: Path, urls: list[str], name: str = "trail.jsonl", rc: int = 1) -> Path:
    """Audit a JSON-lines feed of ``urls`` (JSON escapes kept as written) and return the trail."""
    feed = tmp_path / f"{name}.feed.jsonl"
    feed.write_text("".join(json.dumps({"url": u}) + "\n" for u in urls), encoding="ascii")
    trail = tmp_path / name
    removals = tmp_path / f"{name}.removals"
    got = main(
        [
            "audit",
            str(feed),
            "--robots-from",
            str(robots_folder(tmp_path)),
            "--out",
            str(trail),
            "--removals",
            str(removals),
            "--no-progress",
        ]
    )
    assert got == rc
    return trail


def report(trail: Path | str, out: Path, *extra: str) -> int:
    return main(["report", str(trail), "--out", str(out), "--seed", "1", *extra])


def texts(out: Path) -> dict[str, str]:
    """Every output file, decoded as strict UTF-8 (raises if one is not)."""
    return {name: (out / name).read_bytes().decode("utf-8") for name in OUTPUTS}


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("noai_guard.data").joinpath("report.schema.json").read_text("utf-8")
    )
    return data


# -- item 13: lone surrogates --------------------------------------------------------------------


def test_lone_surrogate_url_end_to_end(tmp_path: Path) -> None:
    trail = audited_feed(tmp_path, [LONE, "http://x.example/private/ok", "http://x.example/open"])
    # The audit itself: the removal list is UTF-8, with the same escape.
    removals = (tmp_path / "trail.jsonl.removals").read_bytes().decode("utf-8").split()
    assert removals == [ESCAPED, "http://x.example/private/ok"]
    out = tmp_path / "report"
    assert report(trail, out) == 0
    got = texts(out)
    # Every format shows the same six-character escape, never the raw surrogate.
    assert ESCAPED in got["report.html"]
    assert ESCAPED.replace("\\", "\\\\") in got["report.md"]  # Markdown escapes the backslash
    doc = json.loads(got["report.json"])
    urls = {it["url"] for g in doc["samples"]["by_signal"] for it in g["items"]}
    assert ESCAPED in urls
    rows = list(csv.DictReader(got["samples.csv"].splitlines()))
    assert ESCAPED in {r["url"] for r in rows}
    assert doc["exceptions"]["trail"]["escaped_records"] == 1
    assert doc["inputs"][0]["escaped_records"] == 1
    assert "lone surrogates" in got["report.html"] and "lone surrogates" in got["report.md"]
    jsonschema.Draft202012Validator(schema()).validate(doc)
    json.loads(got["manifest.json"])


@pytest.mark.parametrize("fmt", ["html", "md", "json", "csv"])
def test_lone_surrogate_in_each_format_alone(tmp_path: Path, fmt: str) -> None:
    # No robots.txt for y.example: "unknown", recorded in the trail (and not in the removal list).
    trail = audited_feed(tmp_path, ["http://y.example/\ud800"], rc=0)
    out = tmp_path / fmt
    assert report(trail, out, "--format", fmt) == 0
    for f in out.iterdir():
        f.read_bytes().decode("utf-8")  # strict


def test_lone_surrogates_in_a_long_summary_line(tmp_path: Path) -> None:
    """A summary line over LAZY_LINE bytes is decoded lazily: its origins are escaped too."""
    trail = audited_feed(tmp_path, [LONE])
    origins = {f"http://h{i}.example": {"judged": 1, "reserved": 0, "unknown": 0} for i in range(30000)}
    origins["http://\udc80bad.example"] = {"judged": 2, "reserved": 1, "unknown": 0}
    rec = summary_record(run_id="r" * 32, mode="audit", policy={}, origins=origins)
    line = json.dumps(rec, ensure_ascii=True) + "\n"  # "\udc80" written as a JSON escape
    assert len(line) > LAZY_LINE
    with open(trail, "a", encoding="ascii") as fh:
        fh.write(line)
    out = tmp_path / "report"
    assert report(trail, out) == 0
    got = texts(out)
    assert "\\udc80bad.example" in got["domains.csv"]


def test_surrogate_in_a_trail_file_name(tmp_path: Path) -> None:
    trail = audited_feed(tmp_path, ["http://x.example/private/a"])
    odd = tmp_path / "caf\udce9.jsonl"  # a non-UTF-8 byte in the name, as os.fsdecode gives it
    trail.rename(odd)  # POSIX file names are bytes: the surrogate is the byte 0xE9
    out = tmp_path / "report"
    assert report(odd, out) == 0
    got = texts(out)
    assert json.loads(got["manifest.json"])["inputs"][0]["path"].endswith("caf\\udce9.jsonl")


# -- item 14: corrupt and cut gzip trails ---------------------------------------------------------


def many_urls(n: int) -> list[str]:
    return [f"http://x.example/private/{i:05d}" for i in range(n)]


def test_corrupt_gzip_trail_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trail = audited_feed(tmp_path, many_urls(50))
    data = trail.read_bytes()
    half = data.index(b"\n", len(data) // 2) + 1
    # A good first member, then a member whose deflate data has an invalid block type (zlib.error).
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(
        gzip.compress(data[:half]) + b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x07" + b"\x00" * 64
    )
    capsys.readouterr()
    assert report(bad, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{bad}: corrupt gzip data" in err
    # A bad CRC at the end: the same, one line.
    crc = bytearray(gzip.compress(data))
    crc[-8] ^= 0xFF
    badcrc = tmp_path / "crc.jsonl.gz"
    badcrc.write_bytes(bytes(crc))
    assert report(badcrc, tmp_path / "out2") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "corrupt gzip" in err and "CRC" in err


def test_cut_gzip_trail_is_read_as_far_as_it_goes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trail = audited_feed(tmp_path, many_urls(400))
    total = sum(1 for _ in read_audit(trail))
    whole = gzip.compress(trail.read_bytes())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) * 3 // 5])
    capsys.readouterr()
    out = tmp_path / "report"
    assert report(cut, out) == 0
    err = capsys.readouterr().err
    warning = [ln for ln in err.splitlines() if ln.startswith("noai-guard: warning:")]
    assert len(warning) == 1 and str(cut) in warning[0] and "cut" in warning[0]
    got = texts(out)
    doc = json.loads(got["report.json"])
    (inp,) = doc["inputs"]
    assert inp["cut"] and "cut" in inp["cut"]
    assert 0 < inp["records"] < total
    assert doc["exceptions"]["trail"]["cut_files"] == [str(cut)]
    assert "Incomplete input" in got["report.html"] and "cut mid-stream" in got["report.html"]
    assert "Warning: incomplete input" in got["report.md"]
    assert inp["sha256"] and inp["bytes"] == cut.stat().st_size  # the whole file was hashed
    jsonschema.Draft202012Validator(schema()).validate(doc)
    # The same trail whole: no warning.
    ok = tmp_path / "ok.jsonl.gz"
    ok.write_bytes(whole)
    assert report(ok, tmp_path / "report-ok") == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads((tmp_path / "report-ok" / "report.json").read_text("utf-8"))["inputs"][0]["cut"] is None


def test_read_audit_gzip_cut_and_corrupt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trail = audited_feed(tmp_path, many_urls(200))
    plain = list(read_audit(trail))
    whole = gzip.compress(trail.read_bytes())
    gz = tmp_path / "t.jsonl.gz"
    gz.write_bytes(whole)
    assert list(read_audit(gz, strict=True)) == plain
    gz.write_bytes(whole[: len(whole) // 2])
    with caplog.at_level(logging.WARNING, logger="noai_guard.auditlog"):
        part = list(read_audit(gz, strict=True))
    assert 0 < len(part) < len(plain) and part == plain[: len(part)]
    assert any("cut" in r.getMessage() for r in caplog.records)
    gz.write_bytes(
        gzip.compress(trail.read_bytes()[:300]) + b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x07\x00"
    )
    with pytest.raises(TrailReadError, match="corrupt gzip data"):
        list(read_audit(gz))
