"""The contract: one table of responses, one expected decision each, three paths that must agree.

Each row is a response (with its origin's site files) and the decision it must
get: verdict, deciding signal, evidence.  The same bytes go through

(a) **crawl**: a live Scrapy crawl (the add-on, audit-only so that every page
    is fetched and recorded, ``NOAI_GUARD_AUDIT_ALLOWED``) against local raw
    socket servers, one per robots.txt state;
(b) **audit**: a WARC of the same responses, recorded off the wire from the
    same servers with warcio (chunked and content codings kept, the site files
    captured; a connection cut short is ``WARC-Truncated: disconnect``), judged
    by ``noai-guard audit``;
(c) **explain**: ``noai-guard explain --robots --headers --html`` (``--html``
    is the body as received: the codings ``--headers`` name are undone), for
    the rows it can express (see ``Row.explain``: it has no way to give a
    robots.txt status, an embedding page or a cut connection).

The audit writes no record for an allowed page: an allowed row is checked in
the CLI's trail (no record, counted allowed) and its deciding signal and
evidence through :class:`noai_guard.auditing.Judge`, the class the CLI's
worker calls for every record, fed by :func:`noai_guard.archives.iter_warc`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import random
import socket
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from crawlutil import RawSite, Send, run_crawl
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from noai_guard import auditing
from noai_guard.archives import Capture, CaptureIndex, WarcPage, iter_warc
from noai_guard.cli import main
from noai_guard.engine import Page, PageRead
from noai_guard.policy import Policy

TOKEN = "testbot"  # crawlutil's USER_AGENT product token: the crawler's own token everywhere
ROBOTS = "User-agent: *\nDisallow: /private/\n"
NOAI = '<meta name="robots" content="noai">'
NOIMAGEAI = '<meta name="robots" content="noimageai">'
HTML = "text/html; charset=utf-8"
FILLER = "".join(f"<p>paragraph {i} of an ordinary page body.</p>\n" for i in range(200))


def doc(head: str = "", body: str = FILLER) -> str:
    return f"<!DOCTYPE html><html><head><title>row</title>{head}</head><body>{body}</body></html>"


# -- responses as bytes on the wire ---------------------------------------------------------------


@dataclass(frozen=True)
class Wire:
    """A response as sent: status, header fields, the body bytes as they go out (codings applied)."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = (("Content-Type", HTML),)
    body: bytes = b""
    length: int | None = None  # Content-Length sent; None: the body's length (absent when chunked)
    close_after: int | None = None  # send only this many body bytes, then close (a cut connection)

    def raw(self) -> bytes:
        reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(self.status, "X")
        lines = [f"HTTP/1.1 {self.status} {reason}", *(f"{k}: {v}" for k, v in self.headers)]
        chunked = any(k.lower() == "transfer-encoding" for k, _ in self.headers)
        if not chunked:
            lines.append(f"Content-Length: {len(self.body) if self.length is None else self.length}")
        lines.append("Connection: close")
        body = self.body if self.close_after is None else self.body[: self.close_after]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunk(data: bytes, size: int = 500) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(data[i : i + size]), data[i : i + size]) for i in range(0, len(data), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


def brotli_(data: bytes) -> bytes:
    import brotli  # type: ignore[import-untyped]

    out: bytes = brotli.compress(data)
    return out


def zstd_(data: bytes) -> bytes:
    import importlib

    try:
        zstd = importlib.import_module("compression.zstd")  # Python 3.14
    except ImportError:
        zstd = importlib.import_module("backports.zstd")
    out: bytes = zstd.compress(data)
    return out


def page_wire(text: str, coding: str | None = None, encoded: bytes | None = None, **kw: Any) -> Wire:
    data = text.encode()
    headers: list[tuple[str, str]] = [("Content-Type", HTML)]
    if coding is not None:
        headers.append(("Content-Encoding", coding))
    return Wire(headers=tuple(headers), body=data if encoded is None else encoded, **kw)


NOAI_DOC = doc(NOAI).encode()
_GZ = gzip.compress(NOAI_DOC, mtime=0)
# The noai meta in the second gzip member (RFC 1952 §2.2: a gzip file is a series of members).
_SPLIT = NOAI_DOC.index(b"<meta")
MULTI_MEMBER = gzip.compress(NOAI_DOC[:_SPLIT], mtime=0) + gzip.compress(NOAI_DOC[_SPLIT:], mtime=0)
# A gzip stream cut before the head ends: the decoded prefix stops inside a long (incompressible) meta.
_NOISE = random.Random(12).randbytes(8000).hex()
_CUT_GZ = gzip.compress(doc(f'<meta name="description" content="{_NOISE}">{NOAI}').encode(), mtime=0)
CUT_GZIP = _CUT_GZ[: len(_CUT_GZ) // 3]
assert b"</head" not in zlib.decompressobj(31).decompress(CUT_GZIP)
UTF16 = doc(NOAI).replace("utf-8", "utf-16").encode("utf-16")  # with its BOM
# A head longer than the head reader's budget (256 KiB): the noai meta after it is not reached.
BIG_HEAD = doc('<meta name="description" content="' + "d" * (300 * 1024) + '">' + NOAI).encode()


# -- the table ------------------------------------------------------------------------------------


class Prefix(str):
    """Expected evidence given by its start (the rest varies with the platform's zlib)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(str(self))

    def __hash__(self) -> int:
        return str.__hash__(self)


Outcome = tuple[str, str | None, str | None]  # verdict, deciding signal, its evidence


@dataclass(frozen=True)
class Row:
    name: str
    path: str
    wire: Wire
    expect: Outcome
    blocked: bool = False
    origin: str = "present"  # robots.txt: "present" (200, ROBOTS), "absent" (404), "unreachable" (503)
    explain: str | None = None  # None: explain runs the row; else why it cannot express it
    # Disagreements found and reported to the owner of that path (not ours to fix): path -> what it
    # gives.  Listed here so that a fix makes this test fail and the entry is removed.
    known: dict[str, Outcome] = field(default_factory=dict)


NOAI_META: Outcome = ("reserve", "meta-robots", NOAI)
HEAD_OPEN = "<head> not finished within "
TDM = Wire(headers=(("Content-Type", HTML), ("TDM-Reservation", "1")), body=doc().encode())
XRT = Wire(headers=(("Content-Type", HTML), ("X-Robots-Tag", "noai")), body=doc().encode())
CHUNKED = Wire(headers=(("Content-Type", HTML), ("Transfer-Encoding", "chunked")), body=chunk(NOAI_DOC))
CHUNKED_GZ = Wire(
    headers=(("Content-Type", HTML), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")),
    body=chunk(_GZ, 100),
)
UTF16_PAGE = Wire(headers=(("Content-Type", "text/html; charset=utf-16"),), body=UTF16)
GALLERY = page_wire(doc(NOIMAGEAI, '<a href="/img/g.png"><img src="/img/g.png"></a>'))
IMAGE = Wire(headers=(("Content-Type", "image/png"),), body=b"\x89PNG\r\n\x1a\n" + bytes(64))

# fmt: off
ROWS: list[Row] = [
    # the origin's robots.txt
    Row("robots present, allowed", "/plain", page_wire(doc()), ("allow", "robots-txt", "")),
    Row("robots present, disallowed", "/private/p", page_wire(doc()), ("reserve", "robots-txt", "Disallow: /private/"), True),
    Row("robots absent (404)", "/plain", page_wire(doc()), ("allow", "robots-txt", "HTTP 404"), origin="absent"),
    Row("robots unreachable (503)", "/plain", page_wire(doc()), ("unknown", "robots-txt", "HTTP 503"), True, origin="unreachable"),
    # response headers
    Row("X-Robots-Tag noai", "/xrt", XRT, ("reserve", "x-robots-tag", "noai"), True),
    # The field name is quoted as the spec spells it: Scrapy re-cases names, a WARC keeps them.
    Row("TDM-Reservation 1", "/tdm", TDM, ("reserve", "tdmrep", "tdm-reservation: 1"), True),
    # the body as sent: a noai meta in its head, behind each coding
    Row("noai meta, identity", "/identity", page_wire(doc(NOAI)), NOAI_META, True),
    Row("gzip", "/gzip", page_wire("", "gzip", _GZ), NOAI_META, True),
    Row("deflate (zlib)", "/deflate-zlib", page_wire("", "deflate", zlib.compress(NOAI_DOC)), NOAI_META, True),
    Row("deflate (raw)", "/deflate-raw", page_wire("", "deflate", deflate_raw(NOAI_DOC)), NOAI_META, True),
    Row("br", "/br", page_wire("", "br", brotli_(NOAI_DOC)), NOAI_META, True),
    Row("zstd", "/zstd", page_wire("", "zstd", zstd_(NOAI_DOC)), NOAI_META, True),
    Row("chunked", "/chunked", CHUNKED, NOAI_META, True),
    Row("chunked gzip", "/chunked-gzip", CHUNKED_GZ, NOAI_META, True),
    Row("multi-member gzip", "/multi-gzip", page_wire("", "gzip", MULTI_MEMBER), NOAI_META, True),
    # How far a cut stream decodes depends on the platform's zlib: the evidence is given by its start.
    Row("gzip cut mid-stream", "/cut-gzip", page_wire("", "gzip", CUT_GZIP), ("unknown", "meta-robots", Prefix(HEAD_OPEN))),
    Row("undecodable gzip", "/bad-gzip", page_wire("", "gzip", b"not gzip data at all" * 4), ("unknown", "meta-robots", "")),
    Row("connection cut before the head ends", "/dataloss", page_wire(doc(NOAI), close_after=60),
        ("unknown", "meta-robots", HEAD_OPEN + "59 bytes"), explain="explain cannot give a cut connection"),
    Row("UTF-16 page", "/utf16", UTF16_PAGE, NOAI_META, True),
    Row("head past the budget", "/big-head", page_wire("", encoded=BIG_HEAD),
        ("unknown", "meta-robots", f"{HEAD_OPEN}{Policy().html_budget - 1} bytes")),
    # an image embedded by a page that reserves it (in the crawl, the page and then the image)
    Row("page reserving its images", "/gallery/", GALLERY, ("reserve", "meta-robots", NOIMAGEAI), True),
    Row("image embedded by a reserving page", "/img/g.png", IMAGE, ("reserve", "embedding-page", NOIMAGEAI), True,
        explain="explain cannot give an embedding page"),
]
# fmt: on
ROBOTS_STATE = {
    "present": Wire(200, (("Content-Type", "text/plain"),), ROBOTS.encode()),
    "absent": Wire(404, (("Content-Type", "text/plain"),), b"not found"),
    "unreachable": Wire(503, (("Content-Type", "text/plain"),), b"busy"),
}
NOT_FOUND = Wire(404, (("Content-Type", "text/plain"),), b"not found")


# -- a server that writes each row's bytes as they are (crawlutil.RawSite) ---------------------------


def _send(wire: Wire) -> Send:
    """Write the row's bytes as they are, then close (after a pause for a cut connection)."""

    def send(conn: socket.socket) -> None:
        conn.sendall(wire.raw())
        if wire.close_after is not None:
            time.sleep(0.2)

    return send


def raw_server(routes: dict[str, Wire]) -> RawSite:
    return RawSite({p: _send(w) for p, w in routes.items()}, _send(NOT_FOUND))


def fetch(url: str) -> bytes:
    """GET over a raw socket: the response bytes as they came off the wire."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while b := s.recv(65536):
            chunks.append(b)
    return b"".join(chunks)


def warc_record(writer: WARCWriter, url: str, raw: bytes, minute: int, *, cut: bool) -> None:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    proto, _, status = lines[0].partition(" ")
    headers = [(k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:])]
    warc_headers = {"WARC-Date": f"2025-03-01T10:{minute:02d}:00Z"}
    if cut:
        warc_headers["WARC-Truncated"] = "disconnect"  # ISO 28500 §5.13
    rec = writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        http_headers=StatusAndHeaders(status, headers, protocol=proto),
        warc_headers_dict=warc_headers,
    )
    writer.write_record(rec)


# -- the three paths --------------------------------------------------------------------------------


@dataclass
class Paths:
    urls: dict[str, str]  # row name -> URL
    crawl: dict[str, dict[str, Any]]  # URL -> the crawl's decision record
    audit: dict[str, dict[str, Any]]  # URL -> the audit CLI's decision record (flagged or unknown)
    audit_removals: list[str]
    audit_judge: dict[str, Outcome]  # URL -> auditing.Judge's decision on the WARC record
    explain: dict[str, Outcome]  # row name -> explain's decision


def _outcome(rec: dict[str, Any]) -> Outcome:
    return rec["verdict"], rec["signal"], rec["evidence"]


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paths]:
    tmp = tmp_path_factory.mktemp("contract")
    servers: dict[str, RawSite] = {}
    for state, robots in ROBOTS_STATE.items():
        routes = {"/robots.txt": robots}
        routes.update({r.path: r.wire for r in ROWS if r.origin == state})
        servers[state] = raw_server(routes)
    try:
        urls = {r.name: servers[r.origin].url(r.path) for r in ROWS}
        crawl = _crawl(tmp, urls)
        audit, removals, judged = _audit(tmp, servers)
        yield Paths(urls, crawl, audit, removals, judged, _explain(tmp, urls))
    finally:
        for s in servers.values():
            s.close()


def _crawl(tmp: Path, urls: dict[str, str]) -> dict[str, dict[str, Any]]:
    starts = [u for name, u in urls.items() if not name.startswith("image")]  # the image: found on its page
    res = run_crawl(
        tmp / "crawl",
        starts,
        settings={
            "NOAI_GUARD_ENFORCE": False,  # audit-only: every page fetched and judged after the fetch
            "NOAI_GUARD_AUDIT_ALLOWED": True,
            "DOWNLOAD_FAIL_ON_DATALOSS": False,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        },
        spider={"follow": True},
    )
    assert res.returncode == 0, res.log[-3000:]
    by_url: dict[str, dict[str, Any]] = {}
    for r in res.decisions():
        assert r["url"] not in by_url, f"the crawl decided {r['url']} twice"  # audit-only: once per URL
        by_url[r["url"]] = r
    return by_url


def _audit(
    tmp: Path, servers: dict[str, RawSite]
) -> tuple[dict[str, dict[str, Any]], list[str], dict[str, Outcome]]:
    warc = tmp / "contract.warc.gz"
    minute = 0
    with open(warc, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for srv in servers.values():  # the site files first, as a crawler fetches them
            for p in ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt"):
                warc_record(w, srv.url(p), fetch(srv.url(p)), minute, cut=False)
        minute += 1
        # The image before the page that embeds it: the audit must not depend on the order.
        for row in sorted(ROWS, key=lambda r: not r.name.startswith("image")):
            url = servers[row.origin].url(row.path)
            warc_record(w, url, fetch(url), minute, cut=row.wire.close_after is not None)
            minute += 1
    out, rm = tmp / "audit.jsonl", tmp / "audit.removals"
    rc = main(
        ["audit", str(warc), "--user-agent", TOKEN, "--out", str(out), "--removals", str(rm), "--no-progress"]
    )
    assert rc == 1
    recs = [json.loads(x) for x in out.read_text("utf-8").splitlines() if x.strip()]
    decisions: dict[str, dict[str, Any]] = {}
    for r in recs:
        if r["type"] == "decision":
            assert r["url"] not in decisions, f"the audit decided {r['url']} twice"
            decisions[r["url"]] = r
    assert recs[-1]["totals"]["judged"] == len(ROWS)
    # Allowed records are counted, not written: their decision comes from the class the CLI calls.
    policy = Policy(user_agents=(TOKEN,))
    judge = auditing.Judge(policy, CaptureIndex(i for i in iter_warc(str(warc)) if isinstance(i, Capture)))
    judged: dict[str, Outcome] = {}
    for item in iter_warc(str(warc), policy=policy):
        if isinstance(item, WarcPage):
            page = Page(
                item.url,
                headers=item.headers,
                body=item.payload if item.payload is not None else b"",
                content_type=item.content_type,
                read=PageRead(item.body, item.head, item.unreadable),
            )
            dec = judge.judge(item.url, item.ts, item.date, page)[0].decision
            s = dec.decided_by
            judged[item.url] = (
                (dec.verdict.value, None, None) if s is None else (dec.verdict.value, s.name, s.evidence)
            )
    return decisions, rm.read_text("utf-8").split(), judged


def _explain(tmp: Path, urls: dict[str, str]) -> dict[str, Outcome]:
    out: dict[str, Outcome] = {}
    for i, row in enumerate(ROWS):
        if row.explain is not None:
            continue
        args = ["explain", urls[row.name], "--user-agent", TOKEN, "--json"]
        if row.origin == "present":
            robots = tmp / f"robots{i}.txt"
            robots.write_text(ROBOTS, "utf-8")
            args += ["--robots", str(robots)]
        else:  # robots.txt answered 404 / 503: the fetch outcome (RFC 9309 §2.3.1)
            args += ["--robots-status", {"absent": "404", "unreachable": "503"}[row.origin]]
        headers, html = tmp / f"headers{i}.txt", tmp / f"body{i}.html"
        headers.write_text("".join(f"{k}: {v}\n" for k, v in row.wire.headers), "latin-1")
        html.write_bytes(row.wire.body)
        args += ["--headers", str(headers), "--html", str(html)]
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            main(args)
        dec = json.loads(buf.getvalue())
        s = dec["decided_by"] or {}
        out[row.name] = (dec["verdict"], s.get("name"), s.get("evidence"))
    return out


# -- the contract ------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_row(paths: Paths, row: Row) -> None:
    """Every path gives the row's (verdict, deciding signal, evidence), or its listed known disagreement."""
    url = paths.urls[row.name]
    assert url in paths.crawl, f"the crawl has no decision for {url}"
    assert url in paths.audit_judge, f"the WARC has no record for {url}"
    got: dict[str, Outcome] = {"crawl": _outcome(paths.crawl[url])}
    if url in paths.audit:
        got["audit"] = _outcome(paths.audit[url])
    else:  # allowed: counted, not written; decided by the very Judge the CLI runs
        got["audit"] = paths.audit_judge[url]
        assert got["audit"][0] == "allow", f"{url} has no audit record but is {got['audit'][0]}"
    if row.explain is None:
        got["explain"] = paths.explain[row.name]
    want = {path: row.known.get(path, row.expect) for path in got}
    assert got == want, f"{row.name}: {got}"
    assert paths.crawl[url]["blocked"] is row.blocked
    assert (url in paths.audit_removals) is row.blocked
    if url in paths.audit:
        assert paths.audit[url]["blocked"] is row.blocked


def test_every_row_is_run_by_at_least_two_paths_and_the_skips_say_why() -> None:
    names = [r.name for r in ROWS]
    assert len(set(names)) == len(names)
    for r in ROWS:
        assert r.explain is None or r.explain.startswith("explain"), r.name
    assert {r.origin for r in ROWS} == set(ROBOTS_STATE)
