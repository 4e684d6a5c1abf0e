"""The audit's per-record fast paths give what the general paths give."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from noai_guard.archives import _HEAD_END, Capture, PayloadReader, WarcPage, iter_warc
from noai_guard.policy import Policy


class _Chunks(io.BytesIO):
    """A reader that never returns more than asked (as FastWARC's payload reader)."""


def _page(head_len: int, body_len: int = 50_000, *, upper: bool = False) -> bytes:
    head = b"<html><head>" + b"<meta name=x content=y>" * (head_len // 23)
    end = b"</HEAD><BODY>" if upper else b"</head><body>"
    return head + end + b"x" * body_len + b"</body></html>"


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("head_len", [100, 7_000, 9_000, 20_000, 40_000])
def test_read_until_matches_plain_loop(head_len: int, upper: bool) -> None:
    data = _page(head_len, upper=upper)
    for first in (8192, 16384):
        pr = PayloadReader(_Chunks(data), ())
        got = pr.read_until(32 * 1024, _HEAD_END, first)
        # What the loop gives without the fast path: reads of first, 2*first, ... until
        # the stop pattern occurs or the limit is reached.
        step, out = first, b""
        while len(out) < 32 * 1024:
            out += data[len(out) : len(out) + step]
            step *= 2
            if _HEAD_END.search(out):
                break
        assert got == out[: 32 * 1024]
        # Growing afterwards continues from where the first call stopped.
        more = pr.read_until(128 * 1024, _HEAD_END, first)
        assert data.startswith(more) and len(more) >= len(got)


def test_codings_given_or_read_from_headers() -> None:
    body = b"<html><head><title>t</title></head><body>hi</body></html>"
    enc = gzip.compress(body)
    chunked = b"%x\r\n" % len(enc) + enc + b"\r\n0\r\n\r\n"
    hdrs = [("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")]
    a = PayloadReader(io.BytesIO(chunked), hdrs).read_until(10**6)
    b = PayloadReader(io.BytesIO(chunked), codings=("chunked", "gzip")).read_until(10**6)
    assert a == b == body
    plain = PayloadReader(io.BytesIO(body), ())
    assert not plain.decoding and plain.read_until(10**6) == body


def _warc_record(headers: list[tuple[str, str]], http: bytes) -> bytes:
    hdr = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    hdr += f"Content-Length: {len(http)}\r\n\r\n"
    return hdr.encode() + http + b"\r\n\r\n"


def test_warc_headers_read_once(tmp_path: Path) -> None:
    html = _page(500, 2_000)
    http = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nContent-Type: text/plain\r\n"
        b"Content-Length: %d\r\n\r\n" % len(html)
    ) + html
    robots_http = b"HTTP/1.1 301 Moved\r\nLOCATION: /r2.txt\r\nLocation: /other\r\nContent-Length: 0\r\n\r\n"
    recs = [
        _warc_record(
            [
                ("WARC-Type", "response"),
                ("warc-target-uri", "<https://a.example/p>"),
                ("WARC-Target-URI", "https://b.example/q"),
                ("WARC-Date", "2025-01-02T00:00:00Z"),
                ("WARC-Record-ID", " <urn:uuid:1> "),
                ("WARC-Truncated", "length"),
                ("Content-Type", "application/http; msgtype=response"),
            ],
            http,
        ),
        _warc_record(
            [
                ("WARC-Type", "response"),
                ("WARC-Target-URI", "https://a.example/robots.txt"),
                ("WARC-Date", "2025-01-01T00:00:00Z"),
                ("WARC-Record-ID", "<urn:uuid:2>"),
                ("Content-Type", "application/http; msgtype=response"),
            ],
            robots_http,
        ),
    ]
    f = tmp_path / "t.warc.gz"
    f.write_bytes(b"".join(gzip.compress(r) for r in recs))
    items = list(iter_warc(str(f), policy=Policy()))
    page = next(i for i in items if isinstance(i, WarcPage))
    assert page.url == "https://a.example/p"
    assert page.record_id == "<urn:uuid:1>"
    assert page.date == "2025-01-02T00:00:00Z"
    assert page.truncated
    assert page.content_type == "text/plain"  # the last line, as Scrapy's Headers.get reads it
    assert page.head is not None and page.head.complete  # sniffed as HTML, as Scrapy would
    assert html.startswith(page.body)
    cap = next(i for i in items if isinstance(i, Capture))
    assert cap.location == "/r2.txt" and cap.status == 301
