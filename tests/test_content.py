"""noai_guard.content: one bounded decoder, read as Scrapy's HttpCompressionMiddleware reads.

The differential test runs Scrapy's own ``HttpCompressionMiddleware.process_response``
(``scrapy.utils.gz.gunzip``, ``scrapy.utils._compression``) and :func:`content.decode`
over generated and damaged bodies: Scrapy never yields text that we do not read, and
what Scrapy decodes in full we call whole.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]
import pytest
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from noai_guard import content
from noai_guard.archives import CaptureIndex, WarcPage, iter_warc
from noai_guard.auditing import Judge
from noai_guard.content import Decoded, State, StreamDecoder, decode, parse_codings
from noai_guard.policy import Policy

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

HTML = b"<html><head><meta name=robots content=noai></head><body>" + b"<p>text</p>" * 200 + b"</body></html>"


# --- building encoded bodies ----------------------------------------------------------------------


def gz_member(
    data: bytes,
    *,
    level: int = 6,
    flags: int = 0,
    crc_delta: int = 0,
    size_delta: int = 0,
    flush_every: int = 0,
) -> bytes:
    """One gzip member (RFC 1952 §2.3) with the optional header fields ``flags`` asks for."""
    header = b"\x1f\x8b\x08" + bytes([flags]) + b"\x00\x00\x00\x00\x00\xff"
    if flags & 4:  # FEXTRA
        header += struct.pack("<H", 6) + b"AB\x02\x00xy"
    if flags & 8:  # FNAME
        header += b"page.html\x00"
    if flags & 16:  # FCOMMENT
        header += b"a comment\x00"
    if flags & 2:  # FHCRC
        header += struct.pack("<H", zlib.crc32(header) & 0xFFFF)
    co = zlib.compressobj(level, zlib.DEFLATED, -15)
    if flush_every:
        deflated = b"".join(
            co.compress(data[i : i + flush_every]) + co.flush(zlib.Z_SYNC_FLUSH)
            for i in range(0, len(data), flush_every)
        )
        deflated += co.flush()
    else:
        deflated = co.compress(data) + co.flush()
    crc = (zlib.crc32(data) + crc_delta) & 0xFFFFFFFF
    return header + deflated + struct.pack("<II", crc, (len(data) + size_delta) & 0xFFFFFFFF)


def skippable_frame(n: int) -> bytes:
    return struct.pack("<II", 0x184D2A50 + n % 16, n) + b"s" * n


@dataclass
class Case:
    data: bytes  # the document
    body: bytes
    lines: list[bytes]  # Content-Encoding field lines
    intact: bool  # every stream complete and undamaged
    notes: list[str] = field(default_factory=list)


def _split(rng: random.Random, data: bytes, parts: int) -> list[bytes]:
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(parts - 1))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def _encode(rng: random.Random, coding: str, data: bytes, notes: list[str]) -> tuple[bytes, bool]:
    """``data`` in ``coding``, sometimes damaged; True if still intact."""
    intact = True
    if coding in ("gzip", "x-gzip"):
        parts = _split(rng, data, rng.choice([1, 1, 2, 3, 5]))
        out = b""
        for i, part in enumerate(parts):
            flags = rng.choice([0, 0, 0, 2, 4, 8, 16, 30, 0x20, 0xE8])  # reserved bits: Python ignores them
            bad = rng.random() < 0.06
            crc_delta = rng.choice([1, 0]) if bad else 0
            size_delta = 0 if crc_delta else (1 if bad else 0)
            if bad:
                intact = False
                notes.append(f"gzip bad check in member {i}")
            out += gz_member(
                part,
                level=rng.choice([0, 1, 6, 9]),
                flags=flags,
                crc_delta=crc_delta,
                size_delta=size_delta,
                flush_every=rng.choice([0, 0, 0, 500, 4000]),
            )
            if i < len(parts) - 1 and rng.random() < 0.3:
                out += b"\x00" * rng.choice([1, 2, 7, 100, 5000])
                notes.append("zero padding")
        if rng.random() < 0.1:
            out += b"\x00" * rng.randrange(1, 50)  # trailing padding: GzipFile skips it
            notes.append("trailing zeros")
    elif coding == "deflate":
        raw = rng.random() < 0.4
        co = zlib.compressobj(rng.choice([0, 1, 6, 9]), zlib.DEFLATED, -15 if raw else 15)
        out = co.compress(data) + co.flush()
        notes.append("raw deflate" if raw else "zlib deflate")
    elif coding == "br":
        out = brotli.compress(data, quality=rng.choice([0, 1, 4, 5, 11]) if len(data) < 8000 else 1)
    else:  # zstd
        parts = _split(rng, data, rng.choice([1, 1, 2, 4]))
        out = b""
        for part in parts:
            if rng.random() < 0.15:
                out += skippable_frame(rng.randrange(0, 40))
                notes.append("skippable frame")
            opts = {
                zstd.CompressionParameter.compression_level: rng.choice([1, 3, 12]),
                zstd.CompressionParameter.checksum_flag: rng.choice([0, 1]),
            }
            out += zstd.compress(part, options=opts)
    return out, intact


def _damage(rng: random.Random, out: bytes, notes: list[str]) -> bytes:
    kind = rng.choice(["truncate", "truncate", "garbage", "zeros", "flip", "flip", "insert", "cut-tail"])
    notes.append(kind)
    if kind == "truncate" and out:
        return out[: rng.randrange(len(out))]
    if kind == "cut-tail" and out:
        return out[: max(0, len(out) - rng.randrange(1, 12))]
    if kind == "garbage":
        return out + rng.choice([b"garbage", b"\x1f\x8b", b"\x1f", b"<html>", rng.randbytes(20)])
    if kind == "zeros":
        return out + b"\x00" * rng.randrange(1, 30)
    if kind == "flip" and out:
        i = rng.randrange(len(out))
        return out[:i] + bytes([out[i] ^ (1 << rng.randrange(8))]) + out[i + 1 :]
    if kind == "insert":
        i = rng.randrange(len(out) + 1)
        return out[:i] + rng.randbytes(rng.randrange(1, 8)) + out[i:]
    return out


def _payload(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.5:
        n = rng.randrange(0, 4000)
        return (HTML * (n // len(HTML) + 1))[:n]
    if kind < 0.75:
        return rng.randbytes(rng.randrange(0, 3000))
    if kind < 0.9:
        return bytes(rng.choices(b"ab<>x ", k=rng.randrange(0, 2000)))
    # Past Scrapy's 64 KiB decoding window (its deflate fallback, the read loops).
    return (
        rng.randbytes(rng.randrange(60_000, 70_000)) if rng.random() < 0.5 else HTML * rng.randrange(25, 60)
    )


CODINGS = ["gzip", "gzip", "x-gzip", "deflate", "br", "zstd"]


def make_case(rng: random.Random) -> Case:
    data = _payload(rng)
    notes: list[str] = []
    codings = [rng.choice(CODINGS) for _ in range(rng.choice([1, 1, 1, 2, 2, 3]))]
    intact = True
    body = data
    for i, coding in enumerate(codings):
        body, ok = _encode(rng, coding, body, notes)
        intact = intact and ok
        if rng.random() < (0.35 if i == len(codings) - 1 else 0.08):
            body = _damage(rng, body, notes)
            intact = False
    spelled = [rng.choice([c, c.upper(), f" {c}", f"{c}\t"]) for c in codings]
    lines: list[bytes] = []
    while spelled:
        n = rng.randrange(1, len(spelled) + 1)
        lines.append(", ".join(spelled[:n]).encode())
        spelled = spelled[n:]
    return Case(data, body, lines, intact, notes)


# --- Scrapy's side ----------------------------------------------------------------------------------

# What Scrapy's decoders raise on a bad body (gzip.BadGzipFile is an OSError).
SCRAPY_ERRORS = (OSError, EOFError, struct.error, zlib.error, brotli.error, zstd.ZstdError)


@pytest.fixture(scope="module")
def scrapy_decode() -> Callable[[bytes, list[bytes]], bytes | None]:
    """The body Scrapy's HttpCompressionMiddleware hands on, or None when it raises.

    ``_handle_encoding`` is what its ``process_response`` calls on the body with the
    ``Content-Encoding`` field lines: Scrapy's own decoders, every coding in turn.
    """
    crawler = get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": 0, "DOWNLOAD_WARNSIZE": 0})
    mw = HttpCompressionMiddleware.from_crawler(crawler)

    def run(body: bytes, lines: list[bytes]) -> bytes | None:
        try:
            out, kept = mw._handle_encoding(body, lines, 0)
        except SCRAPY_ERRORS:  # what its decoders raise: the spider gets nothing
            return None
        assert not kept, "every coding here is one Scrapy decodes"
        assert isinstance(out, bytes)
        return out

    return run


def test_the_scrapy_side_is_process_response() -> None:
    """``_handle_encoding`` gives the body ``process_response`` hands the spider."""
    crawler = get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": 0, "DOWNLOAD_WARNSIZE": 0})
    mw = HttpCompressionMiddleware.from_crawler(crawler)
    rng = random.Random(3)
    for _ in range(200):
        case = make_case(rng)
        response = Response("http://a.example/page", headers={"Content-Encoding": case.lines}, body=case.body)
        try:
            out = mw.process_response(Request("http://a.example/page"), response)
            got: bytes | None = out.body
        except SCRAPY_ERRORS:
            got = None
        try:
            want: bytes | None = mw._handle_encoding(case.body, case.lines, 0)[0]
        except SCRAPY_ERRORS:
            want = None
        assert got == want


def check(case: Case, ours: Decoded, theirs: bytes | None) -> None:
    if theirs is not None:
        # Scrapy never yields text we do not read.
        assert ours.body.startswith(theirs), (
            case.notes,
            ours.state,
            ours.detail,
            len(ours.body),
            len(theirs),
        )
    if case.intact:
        # What Scrapy decodes in full (it raises on no intact body) we read whole.
        assert theirs == case.data, case.notes
        assert ours == Decoded(case.data, State.WHOLE), (case.notes, ours.state, ours.detail)
    if ours.whole and theirs is not None:
        assert ours.body == theirs, (case.notes, ours.detail)


def test_differential_against_scrapy(scrapy_decode: Callable[[bytes, list[bytes]], bytes | None]) -> None:
    rng = random.Random(20250311)
    start = time.monotonic()
    counts = {"intact": 0, "scrapy-failed": 0, "cut": 0, "undecodable": 0, "whole-damaged": 0}
    n = 10_000
    for _ in range(n):
        case = make_case(rng)
        theirs = scrapy_decode(case.body, case.lines)
        ours = decode(case.body, case.lines, 1 << 24)
        check(case, ours, theirs)
        counts["intact"] += case.intact
        counts["scrapy-failed"] += theirs is None
        counts["cut"] += ours.state is State.TRUNCATED
        counts["undecodable"] += ours.state is State.UNDECODABLE
        counts["whole-damaged"] += ours.whole and not case.intact
        # A smaller budget gives a prefix of the same bytes, and says it stopped.
        limit = rng.randrange(0, 3000)
        small = decode(case.body, case.lines, limit)
        if ours.decodable and len(ours.body) > limit:
            assert small.body == ours.body[:limit] and small.state is State.LIMIT, (case.notes, small)
        elif ours.whole:
            assert small.body == ours.body and small.whole
    # The generator reaches every branch it is meant to.
    assert counts["intact"] > n // 3 and counts["scrapy-failed"] > 200, counts
    assert counts["cut"] > 200 and counts["undecodable"] > 200 and counts["whole-damaged"] > 100, counts
    assert time.monotonic() - start < 60


def test_stream_decoder_gives_the_same_bytes_whatever_the_slicing() -> None:
    rng = random.Random(7)
    for _ in range(300):
        case = make_case(rng)
        whole = decode(case.body, case.lines, 1 << 24)
        step = rng.choice([1, 3, 100, 4096])
        pieces = (case.body[i : i + step] for i in range(0, len(case.body), step))
        dec = StreamDecoder(pieces, parse_codings(case.lines), cap=1 << 24)
        out = b""
        while chunk := dec.read():
            out += chunk
        state, detail = dec.state()
        assert state is whole.state, (case.notes, state, detail, whole.detail)
        if state is State.UNDECODABLE:  # how much decodes before the error depends on the slices
            assert out.startswith(whole.body) or whole.body.startswith(out)
        else:
            assert out == whole.body, (case.notes, state, detail)


# --- the cases named in issue 11 ----------------------------------------------------------------------


def test_gzip_members_separated_by_zero_padding(
    scrapy_decode: Callable[[bytes, list[bytes]], bytes | None],
) -> None:
    body = gzip.compress(HTML[:40]) + b"\x00" * 512 + gzip.compress(HTML[40:])
    assert scrapy_decode(body, [b"gzip"]) == HTML
    assert decode(body, "gzip", 1 << 20) == Decoded(HTML, State.WHOLE)


def test_bad_crc_is_read_as_scrapy_reads_it(
    scrapy_decode: Callable[[bytes, list[bytes]], bytes | None],
) -> None:
    body = gz_member(HTML, crc_delta=1)
    assert scrapy_decode(body, [b"gzip"]) == HTML
    assert decode(body, "gzip", 1 << 20) == Decoded(HTML, State.WHOLE)
    # A member after the failing one is not read by Scrapy either.
    two = gz_member(HTML[:50], crc_delta=1) + gzip.compress(HTML[50:])
    assert scrapy_decode(two, [b"gzip"]) == HTML[:50]
    got = decode(two, "gzip", 1 << 20)
    assert got.body == HTML[:50] and got.whole and "CRC check failed in member 1" in got.detail
    # Nothing before the failed check: Scrapy raises, the body is undecodable.
    empty = gz_member(b"", crc_delta=1)
    assert scrapy_decode(empty, [b"gzip"]) is None
    assert decode(empty, "gzip", 100).state is State.UNDECODABLE


def test_truncated_streams_are_cut_not_whole() -> None:
    for coding, enc in [
        ("gzip", gzip.compress(HTML)),
        ("deflate", zlib.compress(HTML)),
        ("br", brotli.compress(HTML)),
        ("zstd", zstd.compress(HTML)),
    ]:
        got = decode(enc[: len(enc) - 9], coding, 1 << 20)
        assert got.state is State.TRUNCATED and HTML.startswith(got.body), (coding, got)


def test_codings_in_several_field_lines_are_undone_last_first() -> None:
    body = zstd.compress(brotli.compress(zlib.compress(gzip.compress(HTML))))
    lines = [b"gzip", b"Deflate , identity", b" br,zstd"]
    assert parse_codings(lines) == ("gzip", "deflate", "identity", "br", "zstd")
    assert decode(body, lines, 1 << 20) == Decoded(HTML, State.WHOLE)
    # The last line alone (what the audit used to read) leaves two codings on it.
    assert decode(body, lines[-1:], 1 << 20).body == zlib.compress(gzip.compress(HTML))


def test_unknown_coding_keeps_what_scrapy_decodes() -> None:
    got = decode(gzip.compress(b"abc"), "compress, gzip", 100)
    assert got.state is State.UNDECODABLE and got.body == b"abc" and "compress" in got.detail
    assert decode(b"abc", "compress", 100).state is State.UNDECODABLE
    assert content.kept_by_scrapy(("compress", "gzip")) == ("compress",)
    assert content.kept_by_scrapy(("gzip", "identity")) == ("gzip", "identity")


def test_chunked_transfer_coding() -> None:
    enc = gzip.compress(HTML)
    chunked = b"".join(
        b"%x;ext=1\r\n%s\r\n" % (len(enc[i : i + 99]), enc[i : i + 99]) for i in range(0, len(enc), 99)
    )
    assert decode(chunked + b"0\r\n\r\n", "gzip", 1 << 20, chunked=True) == Decoded(HTML, State.WHOLE)
    assert decode(chunked, "gzip", 1 << 20, chunked=True).state is State.TRUNCATED
    # Not chunked at all (stored de-chunked under a chunked header): undecodable, not raw bytes.
    bad = decode(HTML, None, 1 << 20, chunked=True)
    assert bad.state is State.UNDECODABLE and bad.body == b""
    assert content.is_chunked("gzip, chunked") and not content.is_chunked("chunked, gzip")


def _zero_bomb(gib: int) -> bytes:
    """``gzip, gzip``: a few KB decoding to ``gib`` GiB of NULs, built without compressing them."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(b"\x00" * (1 << 20)) + co.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, self-contained
    inner = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + block * (gib << 10) + b"\x03\x00" + b"\x00" * 8
    return gzip.compress(inner, 9)


def test_double_gzip_bomb_stops_at_the_budget() -> None:
    bomb = _zero_bomb(4)
    assert len(bomb) < 16_000
    tracemalloc.start()
    try:
        start = time.monotonic()
        got = decode(bomb, "gzip, gzip", 256 * 1024)
        took = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.state is State.LIMIT and got.body == b"\x00" * (256 * 1024)
    assert peak < 8 * 1024 * 1024, peak
    assert took < 1.0


def test_intermediate_steps_are_bounded_too() -> None:
    # 200,000 empty gzip members inside a gzip: nothing comes out, the member count stops it.
    bomb = gzip.compress(gzip.compress(b"") * 200_000, 9)
    start = time.monotonic()
    got = decode(bomb, "gzip, gzip", 1000)
    assert got.state is State.LIMIT and "members" in got.detail
    # An intermediate step that goes on producing is stopped at its cap.
    inner = zlib.compress(b"\x00" * (64 << 20), 9)  # deflate of 64 MiB
    got = decode(gzip.compress(inner) + b"", "deflate, gzip", 10)
    assert got.state is State.LIMIT and got.body == b"\x00" * 10
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize(
    "call",
    [
        "from noai_guard.content import decode; d = decode(body, 'gzip', 1 << 31); print('returned', d)",
        "from noai_guard.middleware import decode_prefix; print('returned', decode_prefix(body, 'gzip', 1 << 31))",
    ],
)
def test_memory_error_is_not_swallowed(call: str) -> None:
    """With less memory than the budget asks for, decoding fails loudly, not as 'undecodable'."""
    code = (
        "import os, resource, zlib\n"
        "co = zlib.compressobj(9, zlib.DEFLATED, -15)\n"
        "block = co.compress(bytes(1 << 20)) + co.flush(zlib.Z_FULL_FLUSH)\n"
        "body = b'\\x1f\\x8b\\x08\\x00\\x00\\x00\\x00\\x00\\x00\\xff' + block * 2048 + b'\\x03\\x00' + bytes(8)\n"
        f"{call.split(';')[0]}\n"
        "vm = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGE_SIZE')\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + (300 << 20), resource.RLIM_INFINITY))\n"
        f"{';'.join(call.split(';')[1:]).strip()}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0 and "returned" not in proc.stdout, proc.stdout
    # The MemoryError itself ends the traceback: not re-raised as another error, nor caught.
    assert proc.stderr.strip().splitlines()[-1].startswith("MemoryError"), proc.stderr[-2000:]


def test_identity_and_plain_bodies() -> None:
    assert decode(HTML, None, 1 << 20) == Decoded(HTML, State.WHOLE)
    assert decode(HTML, "identity", 10) == Decoded(HTML[:10], State.LIMIT, "stopped at the byte budget")
    assert decode(HTML, "", len(HTML)).whole
    assert decode(b"", "gzip", 10) == Decoded(b"", State.WHOLE)


# --- the crawl and the audit, end to end --------------------------------------------------------------

NOAI = b'<!DOCTYPE html><html><head><title>t</title><meta name="robots" content="noai"></head><body>x</body></html>'
EVIDENCE = '<meta name="robots" content="noai">'


def _raw_deflate(data: bytes) -> bytes:
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    return co.compress(data) + co.flush()


def _coded_routes() -> dict[str, Any]:
    """Pages carrying a noai meta in every coding and content type the crawl reads (issue 11 items 3, 4, 6)."""
    from crawlutil import Route

    def coded(body: bytes, *codings: str, ctype: str | None = "text/html; charset=utf-8") -> Route:
        return Route(body=body, headers=[("Content-Encoding", c) for c in codings], content_type=ctype)

    cut = NOAI.index(b"<meta")
    return {
        "/gzip": coded(gzip.compress(NOAI), "gzip"),
        "/deflate": coded(zlib.compress(NOAI), "deflate"),
        "/deflate-raw": coded(_raw_deflate(NOAI), "deflate"),
        "/br": coded(brotli.compress(NOAI), "br"),
        "/zstd": coded(zstd.compress(NOAI), "zstd"),
        # Two members, the meta in the second; then the same with zero padding between them.
        "/members": coded(gzip.compress(NOAI[:cut]) + gzip.compress(NOAI[cut:]), "gzip"),
        "/padded": coded(gzip.compress(NOAI[:cut]) + b"\x00" * 64 + gzip.compress(NOAI[cut:]), "gzip"),
        # br(gzip(page)) in two Content-Encoding field lines.
        "/two-lines": coded(brotli.compress(gzip.compress(NOAI)), "gzip", "br"),
        # A CRC that does not match: Scrapy still hands the spider the page.
        "/bad-crc": coded(gz_member(NOAI, crc_delta=7), "gzip"),
        # Types Scrapy reads as HTML (responsetypes): sniffed, or no type on an image path.
        "/unknown-type": coded(NOAI, ctype="unknown/unknown"),
        "/any-type": coded(NOAI, ctype="*/*"),
        "/photo.jpg": coded(NOAI, ctype=None),
        "/typed-image": coded(NOAI, ctype="image/jpeg"),
        "/gz-photo.jpg": coded(gzip.compress(NOAI), "gzip", ctype=None),
    }


def test_crawl_drops_and_audit_flags_every_coding(
    make_site: Callable[..., Any], crawl: Callable[..., Any], tmp_path: Path
) -> None:
    """Through a real Scrapy engine, then ``noai-guard audit`` of the WARC of what it received."""
    from crawlutil import page

    from noai_guard.cli import main

    routes = _coded_routes()
    site = make_site({**routes, "/plain": page(), "/plain-gz": page(encoding="gzip")})
    warc = tmp_path / "seen.warc.gz"
    res = crawl(
        [site.url(p) for p in [*routes, "/plain", "/plain-gz"]],
        settings={
            "AUDIT_TEST_WARC": str(warc),
            "DOWNLOADER_MIDDLEWARES": {"test_audit_consistency.WarcRecorder": 990},
        },
    )
    assert res.returncode == 0, res.log[-3000:]
    want = {site.url(p): ("meta-robots", "reserve") for p in routes}
    dropped = {r["url"]: (r["signal"], r["verdict"]) for r in res.decisions("dropped")}
    assert dropped == want
    for url in want:
        assert res.decision_for(url)["evidence"] == EVIDENCE
        assert url not in res.callbacks
    assert sorted(res.callbacks) == sorted([site.url("/plain"), site.url("/plain-gz")])

    out = tmp_path / "audit.jsonl"
    rc = main(["audit", str(warc), "--user-agent", "testbot", "--out", str(out), "--no-progress"])
    assert rc == 1
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    flagged = {
        r["url"]: (r["signal"], r["verdict"])
        for r in recs
        if r["type"] == "decision" and r["action"] == "flagged"
    }
    assert flagged == want


def _bomb(prefix: bytes, gib: int) -> bytes:
    """``gzip, gzip``: ``prefix`` then ``gib`` GiB of NULs, a few KB on the wire (CRC left wrong)."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(b"\x00" * (1 << 20)) + co.flush(zlib.Z_FULL_FLUSH)
    inner = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + head + block * (gib << 10) + b"\x03\x00" + bytes(8)
    return gzip.compress(inner, 9)


def test_crawl_reads_a_double_gzip_bomb_within_the_budget(
    make_site: Callable[..., Any], crawl: Callable[..., Any]
) -> None:
    from crawlutil import Route

    def bomb(prefix: bytes) -> Route:
        return Route(
            body=_bomb(prefix, 4),
            headers=[("Content-Encoding", "gzip, gzip")],
            content_type="text/html",
        )

    site = make_site(
        {
            "/bomb-noai": bomb(NOAI[: NOAI.index(b"</head>")]),
            "/bomb-blank": bomb(b"<html><head><title>"),
        }
    )
    start = time.monotonic()
    res = crawl(
        [site.url("/bomb-noai"), site.url("/bomb-blank")],
        settings={"NOAI_GUARD_UNKNOWN": {"meta-robots": "reserve"}, "DOWNLOAD_MAXSIZE": 64 << 20},
    )
    assert res.returncode == 0, res.log[-3000:]
    assert time.monotonic() - start < 60
    rec = res.decision_for(site.url("/bomb-noai"))
    assert (rec["action"], rec["signal"], rec["verdict"], rec["evidence"]) == (
        "dropped",
        "meta-robots",
        "reserve",
        EVIDENCE,
    )
    rec = res.decision_for(site.url("/bomb-blank"))
    assert (rec["action"], rec["signal"], rec["verdict"]) == ("dropped", "meta-robots", "unknown")
    assert not res.callbacks


def test_audit_reads_a_double_gzip_bomb_within_the_budget(tmp_path: Path) -> None:
    """4 GiB behind a few KB: the audit stops at the budget, in a process with 1 GiB to spare."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    warc = tmp_path / "bomb.warc.gz"
    with warc.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        http = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Content-Encoding", "gzip")],
            protocol="HTTP/1.1",
        )
        body = _bomb(NOAI[: NOAI.index(b"</head>")], 4)
        rec = writer.create_warc_record(
            "http://bomb.example/", "response", payload=io.BytesIO(body), http_headers=http
        )
        writer.write_record(rec)
    out = tmp_path / "trail.jsonl"
    code = (
        "import os, resource, sys\n"
        "from noai_guard.cli import main\n"
        "vm = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGE_SIZE')\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + (1 << 30), resource.RLIM_INFINITY))\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", code, "audit", str(warc), "--out", str(out), "--no-progress"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.monotonic() - start < 30
    assert proc.returncode == 1, proc.stderr[-2000:]
    (rec,) = [json.loads(x) for x in out.read_text().splitlines() if '"decision"' in x]
    assert (rec["action"], rec["signal"], rec["verdict"]) == ("flagged", "meta-robots", "reserve")


def test_audit_records_an_undecodable_page_as_the_crawl_does(tmp_path: Path) -> None:
    """A payload that does not decode is an unknown, as in the crawl, not its stored bytes read as HTML."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    warc = tmp_path / "bad.warc.gz"
    pages = {
        "http://a.example/stored-plain": (NOAI, "gzip"),  # stored decoded, header kept
        "http://a.example/corrupt": (gzip.compress(NOAI)[:12] + b"\xff" * 40, "gzip"),
        "http://a.example/cut": (gzip.compress(NOAI)[:40], "gzip"),
        "http://a.example/unknown-coding": (b"\x1f\x9d\x90" + bytes(range(256)), "compress"),
    }
    with warc.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, (body, coding) in pages.items():
            http = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html"), ("Content-Encoding", coding)], protocol="HTTP/1.1"
            )
            writer.write_record(
                writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
            )
    items = {i.url: i for i in iter_warc(str(warc)) if isinstance(i, WarcPage)}
    assert set(items) == set(pages)
    for url, item in items.items():
        assert item.unreadable, url
    judge = Judge(Policy(), CaptureIndex())
    for url, item in items.items():
        dec, _ = judge.decide(
            url,
            item.ts,
            item.date,
            headers=item.headers,
            body=item.body,
            content_type=item.content_type,
            head=item.head,
            unreadable=item.unreadable,
        )
        notes = [s.note for s in dec.signals if s.name == "meta-robots" and s.verdict is not None]
        assert any("could not be read" in n for n in notes), (url, dec)
