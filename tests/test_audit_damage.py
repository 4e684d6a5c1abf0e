"""``noai-guard audit`` on damaged WARCs: nothing unread hides behind exit 0.

Each WARC is written with warcio at test time and then damaged: garbage between
gzip members or records, a record whose ``Content-Length`` claims 10 GB, a cut
file.  Reading must resume at the next gzip member / ``WARC/1.x`` line, so the
reserved records after the damage are still flagged; the damage must be listed
with its byte offset (stderr and the trail's summary record) and the exit status
must be 4 (part of an input not read), whatever else was found.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from noai_guard.archives import Damage, WarcPage, iter_warc
from noai_guard.cli import main
from noai_guard.commands.audit import EXIT_INCOMPLETE

ROBOTS = b"User-agent: *\nDisallow: /private/\n"
RESERVED = [f"http://shop.example/private/{i}" for i in range(3)]
BIG = 10_000_000_000  # a Content-Length of 10 GB


def page(title: str) -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body><p>{title}</p></body></html>".encode()
    )


def record(url: str, body: bytes, *, gz: bool, ctype: str = "text/html", minute: int = 1) -> bytes:
    """One response record as warcio writes it (one gzip member when ``gz``)."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz)
    http = StatusAndHeaders(
        "200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))], protocol="HTTP/1.1"
    )
    rec = w.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        http_headers=http,
        warc_headers_dict={"WARC-Date": f"2025-03-01T10:{minute:02d}:00Z"},
    )
    w.write_record(rec)
    return buf.getvalue()


def claim_length(raw: bytes, length: int) -> bytes:
    """An uncompressed record whose WARC header claims ``length`` bytes of block."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = [
        b"Content-Length: %d" % length if ln.lower().startswith(b"content-length:") else ln
        for ln in head.split(b"\r\n")
    ]
    return b"\r\n".join(lines) + sep + rest


def records(gz: bool) -> list[bytes]:
    """robots.txt, an allowed page, three reserved pages, another allowed page."""
    out = [record("http://shop.example/robots.txt", ROBOTS, gz=gz, ctype="text/plain", minute=0)]
    out.append(record("http://shop.example/", page("home"), gz=gz))
    out += [record(u, page(u), gz=gz, minute=2 + i) for i, u in enumerate(RESERVED)]
    out.append(record("http://shop.example/about", page("about"), gz=gz, minute=9))
    return out


def garbage(n: int = 300, seed: int = 11) -> bytes:
    """Bytes that are neither a gzip member header nor a WARC line."""
    return random.Random(seed).randbytes(n).replace(b"\x1f", b"\x20").replace(b"WARC", b"warc")


def audit(tmp_path: Path, *inputs: Path | str) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    out = tmp_path / "trail.jsonl"
    rc = main(["audit", *map(str, inputs), "--out", str(out), "--no-progress"])
    recs = [json.loads(x) for x in out.read_text("utf-8").splitlines() if x.strip()]
    return rc, recs[-1], [r for r in recs if r["type"] == "decision"]


def flagged(decisions: list[dict[str, Any]]) -> set[str]:
    return {r["url"] for r in decisions if r["action"] == "flagged"}


def check_damage_listed(
    summary: dict[str, Any], err: str, offset: int, *, text: str = "", count: int = 1
) -> dict[str, Any]:
    """The damage is counted, listed in the summary record with its offset, and on stderr."""
    assert summary["type"] == "summary"
    assert summary["totals"]["unreadable"] == count
    (inp,) = summary["inputs"]
    unread = [d for d in inp["damage"] if d["unread"]]
    assert len(unread) == count
    assert unread[0]["offset"] == offset, unread
    assert text in unread[0]["error"]
    assert f"offset {offset}: " in err and "NOT JUDGED" in err
    return unread[0]


def test_garbage_after_first_gzip_member(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recs = records(gz=True)
    first = len(recs[0])
    bad = tmp_path / "garbage.warc.gz"
    bad.write_bytes(recs[0] + garbage() + b"".join(recs[1:]))
    rc, summary, decisions = audit(tmp_path, bad)
    assert flagged(decisions) == set(RESERVED)  # judged after the damage
    assert rc == EXIT_INCOMPLETE == 4
    dmg = check_damage_listed(summary, capsys.readouterr().err, first)
    assert f"resumed at offset {first + 300}" in dmg["error"]
    # Every record but the damaged stretch was read: 5 pages judged, 1 capture.
    assert summary["totals"]["judged"] == 5 and summary["totals"]["captures"] == 1
    # The compliance report carries the count.
    assert (
        main(["report", str(tmp_path / "trail.jsonl"), "--out", str(tmp_path / "rep"), "--format", "json"])
        == 0
    )
    doc = json.loads((tmp_path / "rep" / "report.json").read_text("utf-8"))
    assert doc["exceptions"]["audit_inputs"]["unreadable"] == 1


def test_damage_exits_4_even_when_nothing_is_reserved(tmp_path: Path, capsys: Any) -> None:
    recs = records(gz=True)
    bad = tmp_path / "allowed.warc.gz"
    bad.write_bytes(recs[0] + recs[1] + garbage() + recs[5])  # no reserved record at all
    rc, summary, decisions = audit(tmp_path, bad)
    assert rc == 4 and not flagged(decisions)
    check_damage_listed(summary, capsys.readouterr().err, len(recs[0]) + len(recs[1]))
    clean = tmp_path / "clean.warc.gz"
    clean.write_bytes(recs[0] + recs[1] + recs[5])
    rc, summary, _ = audit(tmp_path, clean)
    assert rc == 0 and summary["totals"]["unreadable"] == 0 and summary["inputs"][0]["damage"] == []


def test_ten_gigabyte_length_in_per_record_gzip(tmp_path: Path, capsys: Any) -> None:
    recs = records(gz=True)
    raw = gzip.decompress(recs[1])
    liar = gzip.compress(claim_length(raw, BIG))  # its own member, claiming 10 GB
    bad = tmp_path / "liar.warc.gz"
    bad.write_bytes(recs[0] + liar + b"".join(recs[2:]))
    rc, summary, decisions = audit(tmp_path, bad)
    assert flagged(decisions) == set(RESERVED)
    assert rc == 4
    dmg = check_damage_listed(summary, capsys.readouterr().err, len(recs[0]), text=f"Content-Length {BIG}")
    assert f"resumed at offset {len(recs[0]) + len(liar)}" in dmg["error"]
    # The lying record itself is judged on what is there, and each following record once.
    assert summary["totals"]["judged"] == 5


def test_ten_gigabyte_length_in_uncompressed_warc(tmp_path: Path, capsys: Any) -> None:
    recs = records(gz=False)
    liar = claim_length(recs[1], BIG)
    bad = tmp_path / "liar.warc"
    bad.write_bytes(recs[0] + liar + b"".join(recs[2:]))
    rc, summary, decisions = audit(tmp_path, bad)
    assert flagged(decisions) == set(RESERVED)
    assert rc == 4
    dmg = check_damage_listed(summary, capsys.readouterr().err, len(recs[0]), text=f"Content-Length {BIG}")
    assert f"resumed at offset {len(recs[0]) + len(liar)}" in dmg["error"]
    assert summary["totals"]["judged"] == 5


def test_garbage_in_the_middle_of_an_uncompressed_warc(tmp_path: Path, capsys: Any) -> None:
    recs = records(gz=False)
    at = len(recs[0]) + len(recs[1])
    bad = tmp_path / "garbage.warc"
    # No line break before the next record: it is found all the same.
    bad.write_bytes(recs[0] + recs[1] + garbage(300, 5) + b"".join(recs[2:]))
    rc, summary, decisions = audit(tmp_path, bad)
    assert flagged(decisions) == set(RESERVED)
    assert rc == 4
    dmg = check_damage_listed(summary, capsys.readouterr().err, at)
    assert f"resumed at offset {at + 300}" in dmg["error"]
    assert summary["totals"]["judged"] == 5


def test_several_damaged_stretches_each_listed(tmp_path: Path) -> None:
    recs = records(gz=True)
    parts = [recs[0], garbage(50, 1), recs[1], recs[2], garbage(70, 2), recs[3], recs[4], recs[5]]
    bad = tmp_path / "two.warc.gz"
    bad.write_bytes(b"".join(parts))
    items = list(iter_warc(str(bad)))
    dmg = [i for i in items if isinstance(i, Damage)]
    first = len(recs[0])
    second = first + 50 + len(recs[1]) + len(recs[2])
    assert [d.offset for d in dmg] == [first, second]
    assert all(d.unread for d in dmg)
    pages = [i for i in items if isinstance(i, WarcPage)]
    assert [p.url for p in pages] == ["http://shop.example/", *RESERVED, "http://shop.example/about"]
    # Offsets of records read after a resynchronisation are file offsets.
    assert pages[1].offset == first + 50 + len(recs[1])


@pytest.mark.parametrize("gz", [True, False], ids=["per-record", "uncompressed"])
def test_trailing_garbage_is_damage_padding_is_not(tmp_path: Path, gz: bool) -> None:
    whole = b"".join(records(gz=gz))
    bad = tmp_path / "tail.warc"
    bad.write_bytes(whole + garbage(40))
    dmg = [i for i in iter_warc(str(bad)) if isinstance(i, Damage)]
    assert [d.offset for d in dmg] == [len(whole)]
    assert "nothing readable after it" in dmg[0].error
    padded = tmp_path / "padded.warc"
    padded.write_bytes(whole + b"\r\n\x00\x00\x00\n")
    items = list(iter_warc(str(padded)))
    assert not [i for i in items if isinstance(i, Damage)]
    assert sum(isinstance(i, WarcPage) for i in items) == 5


def test_cut_files_are_damage(tmp_path: Path, capsys: Any) -> None:
    """A file cut inside its last record: judged on what is there, listed once, exit 4."""
    plain = b"".join(records(gz=False))
    cut = tmp_path / "cut.warc"
    cut.write_bytes(plain[:-60])
    rc, summary, _ = audit(tmp_path, cut)
    assert rc == 4
    (inp,) = summary["inputs"]
    assert inp["damaged"] == 1 and inp["unreadable"] == 1 and inp["truncated"] == 1  # one entry, not two
    capsys.readouterr()
    whole = gzip.compress(plain)
    cutgz = tmp_path / "cut-whole.warc.gz"
    cutgz.write_bytes(whole[:-40])
    rc, summary, decisions = audit(tmp_path, cutgz)
    assert rc == 4 and flagged(decisions) == set(RESERVED)
    assert "cut" in summary["inputs"][0]["damage"][-1]["error"]
    assert "NOT JUDGED" in capsys.readouterr().err
    # The same stream whole: no damage, offsets are uncompressed offsets.
    ok = tmp_path / "whole.warc.gz"
    ok.write_bytes(whole)
    items = list(iter_warc(str(ok)))
    assert not [i for i in items if isinstance(i, Damage)]
    assert [i.offset for i in items if isinstance(i, WarcPage)][1] == len(records(gz=False)[0]) + len(
        records(gz=False)[1]
    )


def test_length_overrun_in_whole_file_gzip_is_reported(tmp_path: Path) -> None:
    recs = records(gz=False)
    bad = tmp_path / "liar-whole.warc.gz"
    bad.write_bytes(gzip.compress(recs[0] + claim_length(recs[1], BIG) + b"".join(recs[2:])))
    rc, summary, _ = audit(tmp_path, bad)
    assert rc == 4
    assert f"Content-Length {BIG}" in summary["inputs"][0]["damage"][-1]["error"]


def test_damaged_robots_from_warc_exits_4(tmp_path: Path, capsys: Any) -> None:
    recs = records(gz=True)
    other = record(
        "http://other.example/robots.txt", b"User-agent: *\nAllow: /\n", gz=True, ctype="text/plain"
    )
    caps = tmp_path / "robots.warc.gz"
    caps.write_bytes(other + garbage(100) + recs[0])
    pages = tmp_path / "pages.warc.gz"
    pages.write_bytes(b"".join(recs[1:]))
    rc, summary, decisions = audit(tmp_path, pages, "--robots-from", caps)
    assert flagged(decisions) == set(RESERVED)  # the capture after the damage was found
    assert rc == 4
    assert summary["robots_from_damage"][0]["offset"] == len(other)
    assert f"{caps}: offset {len(other)}:" in capsys.readouterr().err


def test_unreadable_feed_line_exits_4(tmp_path: Path) -> None:
    folder = tmp_path / "r" / "shop.example"
    folder.mkdir(parents=True)
    (folder / "robots.txt").write_bytes(ROBOTS)
    feed = tmp_path / "items.jsonl"
    feed.write_text('{"url": "http://shop.example/a"}\n{"url": "http://shop.exa\n{"title": "no url"}\n')
    rc, summary, _ = audit(tmp_path, feed, "--robots-from", tmp_path / "r")
    assert rc == 4  # line 2 is not JSON: whatever URL it held was not judged
    (inp,) = summary["inputs"]
    assert [(d["line"], d["unread"]) for d in inp["damage"]] == [(2, True), (3, False)]


def test_hostile_payload_after_a_cut_cannot_make_reading_quadratic(tmp_path: Path) -> None:
    """A cut file's last record is resynchronised inside its payload, which a site controls.

    2 MB of fake record headers, each claiming a length past the end of the file, and
    fake WARC lines that are no record: each would send the reader to the end of the
    file again.  The work stays linear (a budget of four times the file), the damage
    is reported and the reserved records before it are judged.
    """
    import time

    fake = b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 99999999\r\n\r\n"
    junk = b"WARC/1.0\r\nA:"
    hostile = (fake + junk * 4) * (2_000_000 // (len(fake) + 4 * len(junk)))
    recs = records(gz=False)
    last = record("http://shop.example/hostile", hostile, gz=False)
    bad = tmp_path / "hostile.warc"
    bad.write_bytes(b"".join(recs) + last[: len(last) // 2])  # cut inside the hostile record
    t0 = time.perf_counter()
    items = list(iter_warc(str(bad)))
    elapsed = time.perf_counter() - t0
    assert elapsed < 5, elapsed
    dmg = [i for i in items if isinstance(i, Damage)]
    assert dmg and dmg[0].offset == len(b"".join(recs))
    pages = [i.url for i in items if isinstance(i, WarcPage)]
    assert pages[:6] == [
        "http://shop.example/",
        *RESERVED,
        "http://shop.example/about",
        "http://shop.example/hostile",
    ]


def test_no_damage_reported_for_sound_layouts(tmp_path: Path) -> None:
    """Per-record, uncompressed, whole-file and concatenated whole-file gzips: every record, no damage."""
    plain = records(gz=False)
    layouts = {
        "per-record.warc.gz": b"".join(records(gz=True)),
        "plain.warc": b"".join(plain),
        "whole.warc.gz": gzip.compress(b"".join(plain)),
        "two-wholes.warc.gz": gzip.compress(b"".join(plain[:3])) + gzip.compress(b"".join(plain[3:])),
    }
    for name, data in layouts.items():
        f = tmp_path / name
        f.write_bytes(data)
        items = list(iter_warc(str(f)))
        assert not [i for i in items if isinstance(i, Damage)], name
        assert [i.url for i in items if isinstance(i, WarcPage)] == [
            "http://shop.example/",
            *RESERVED,
            "http://shop.example/about",
        ], name
