"""Record the small WARC of the README's worked example, from real HTTP traffic.

A stdlib HTTP server on 127.0.0.1 (port 0) serves three virtual hosts
(``shop.example``, ``blog.example``, ``news.example``); a raw-socket client
fetches each URL with the right ``Host`` header and the bytes that came back
(chunked transfer coding and gzip content coding included) are written
unchanged with warcio's WARCWriter, one gzip member per record as Common Crawl
does.  WARC-Dates are fixed so the audit output is reproducible.

    python tests/data/audit/make_sample.py [OUT.warc.gz]

The tests import :func:`serve`, :func:`fetch_raw` and :func:`record` to make
their own WARCs the same way.
"""

from __future__ import annotations

import gzip
import io
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "sample.warc.gz"

_FILLER = "".join(
    f"<p>Paragraph {i} of an ordinary page, long enough to look like one.</p>\n" for i in range(60)
)


def page(title: str, metas: str = "") -> bytes:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>\n'
        f'<meta name="viewport" content="width=device-width">{metas}\n'
        f'<link rel="stylesheet" href="/s.css"></head>\n<body><h1>{title}</h1>\n{_FILLER}</body></html>\n'
    ).encode()


# Route table: (host, path) -> (status, headers, body, options).  Mutable, so a test or
# the sample can change robots.txt between two captures.
Site = dict[tuple[str, str], tuple[int, list[tuple[str, str]], bytes, dict[str, bool]]]


def sample_site() -> Site:
    html = [("Content-Type", "text/html; charset=utf-8")]
    return {
        ("shop.example", "/robots.txt"): (
            200,
            [("Content-Type", "text/plain")],
            b"User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /articles/\n",
            {},
        ),
        ("shop.example", "/"): (200, html, page("Shop"), {}),
        ("shop.example", "/articles/spring"): (200, html, page("Spring collection"), {}),
        ("shop.example", "/news/today"): (
            200,
            html,
            page("Today", '\n<meta name="robots" content="noai, noimageai">'),
            {"gzip": True, "chunked": True},
        ),
        ("shop.example", "/about"): (200, [*html, ("TDM-Reservation", "1")], page("About us"), {}),
        ("shop.example", "/img/cover.jpg"): (
            200,
            [("Content-Type", "image/jpeg"), ("X-Robots-Tag", "noai")],
            b"\xff\xd8\xff\xe0" + b"\x00" * 2048 + b"\xff\xd9",
            {},
        ),
        ("shop.example", "/docs/catalogue.pdf"): (
            200,
            [("Content-Type", "application/pdf")],
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 4096 + b"\n%%EOF\n",
            {},
        ),
        ("blog.example", "/robots.txt"): (503, [("Content-Type", "text/plain")], b"busy\n", {}),
        ("blog.example", "/post/1"): (200, html, page("First post"), {}),
        ("news.example", "/story"): (200, html, page("A story"), {}),
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    site: ClassVar[Site] = {}

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0]
        path = self.path.split("?")[0]
        status, headers, body, opts = self.site.get(
            (host, path), (404, [("Content-Type", "text/plain")], b"not found\n", {})
        )
        if opts.get("gzip"):
            body = gzip.compress(body, mtime=0)
            headers = [*headers, ("Content-Encoding", "gzip")]
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if opts.get("chunked"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 700):
                part = body[i : i + 700]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(site: Site) -> Iterator[tuple[str, int]]:
    """Serve ``site`` on 127.0.0.1, an ephemeral port; yields (host, port)."""
    handler = type("Handler", (_Handler,), {"site": site})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[0], srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def fetch_raw(addr: tuple[str, int], host: str, path: str) -> tuple[bytes, bytes]:
    """GET over a raw socket; returns (request bytes, response bytes) exactly as sent and received."""
    req = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sample-recorder/1.0\r\n"
        "Accept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(req)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return req, b"".join(chunks)


def _split(raw: bytes) -> tuple[StatusAndHeaders, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    proto, _, status = lines[0].partition(" ")
    headers = [(k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:])]
    return StatusAndHeaders(status, headers, protocol=proto), body


def record(
    writer: WARCWriter,
    addr: tuple[str, int],
    url: str,
    date: str,
    *,
    with_request: bool = False,
) -> str:
    """Fetch ``url`` from the local server (by its host name) and write the response record."""
    _scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    req, raw = fetch_raw(addr, host, "/" + path)
    http_headers, body = _split(raw)
    rec = writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        http_headers=http_headers,
        warc_headers_dict={"WARC-Date": date, "WARC-IP-Address": addr[0]},
    )
    writer.write_record(rec)
    rid: str = rec.rec_headers.get_header("WARC-Record-ID")
    if with_request:
        rh, _ = _split(req.replace(b"GET ", b"HTTP/1.1 000 ", 0))
        req_headers = StatusAndHeaders(f"GET /{path} HTTP/1.1", rh.headers, protocol="", is_http_request=True)
        r2 = writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            http_headers=req_headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": rid},
        )
        writer.write_record(r2)
    return rid


def revisit(writer: WARCWriter, url: str, date: str, refers_to: str) -> None:
    rec = writer.create_revisit_record(
        url, digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", refers_to_uri=url, refers_to_date=date
    )
    rec.rec_headers.replace_header("WARC-Date", date)
    writer.write_record(rec)


def make_sample(out: Path = SAMPLE, on_site: Callable[[Site], None] | None = None) -> Path:
    site = sample_site()
    if on_site is not None:
        on_site(site)
    with serve(site) as addr, open(out, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        t = "2025-03-01T10:%02d:00Z"
        record(w, addr, "http://shop.example/robots.txt", t % 0)
        record(w, addr, "http://shop.example/", t % 1, with_request=True)
        record(w, addr, "http://shop.example/articles/spring", t % 2)
        record(w, addr, "http://shop.example/news/today", t % 3)
        record(w, addr, "http://shop.example/about", t % 4)
        record(w, addr, "http://shop.example/img/cover.jpg", t % 5)
        record(w, addr, "http://shop.example/docs/catalogue.pdf", t % 6)
        revisit(w, "http://shop.example/", t % 7, t % 1)
        record(w, addr, "http://blog.example/robots.txt", t % 8)
        record(w, addr, "http://blog.example/post/1", t % 9)
        record(w, addr, "http://news.example/story", t % 10)
        # robots.txt changes at 11:00: from then on the whole shop says "no AI training".
        site[("shop.example", "/robots.txt")] = (
            200,
            [("Content-Type", "text/plain")],
            b"User-agent: *\nAllow: /\nContent-Usage: train-ai=n\n\nUser-agent: GPTBot\nDisallow: /articles/\n",
            {},
        )
        record(w, addr, "http://shop.example/robots.txt", "2025-03-01T11:00:00Z")
        record(w, addr, "http://shop.example/", "2025-03-01T11:05:00Z")
    return out


if __name__ == "__main__":
    print(make_sample(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE))
