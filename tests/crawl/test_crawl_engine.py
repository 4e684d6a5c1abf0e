"""The crawl judges through the engine (issue 12, deliverable 3): where the crawl's own copy of the
page reader disagreed with the audit's, the crawl now reads as the engine does.

Real crawls through a real Scrapy engine against local servers (``crawlutil``),
plus the engine units the crawl relies on.
"""

from __future__ import annotations

import gzip
import io
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawlutil import CrawlResult, RawSite, Route, Site, image, text
from hypothesis import given, settings
from hypothesis import strategies as st

from noai_guard import decision as d
from noai_guard.content import HEAD_END, PayloadReader
from noai_guard.engine import Judge, Page, SiteFiles
from noai_guard.policy import Policy

Crawl = Callable[..., CrawlResult]
MakeSite = Callable[..., Site]

ALLOW_ALL = "User-agent: *\nAllow: /\n"


def _media_settings(tmp_path: Path) -> dict[str, Any]:
    return {
        "ITEM_PIPELINES": {"crawlutil.RecordPipeline": 900, "scrapy.pipelines.images.ImagesPipeline": 1},
        "IMAGES_STORE": str(tmp_path / "images"),
    }


def test_images_of_a_utf16_reserving_page_are_reserved(
    crawl: Crawl, make_site: MakeSite, tmp_path: Path
) -> None:
    """The images of a UTF-16 page (no BOM) are found in its text, decoded by its charset, as the audit reads it.

    Before, the crawl looked for ``<img>`` in the raw UTF-16 bytes, found none,
    and the images a ``noimageai`` page embeds were downloaded.
    """
    html = (
        '<!DOCTYPE html><html><head><meta name="robots" content="noimageai"><title>t</title></head>'
        '<body><p>text</p><img src="/a.png"><img src="/b.png"></body></html>'
    )
    site = make_site(
        {
            "/robots.txt": text(ALLOW_ALL),
            "/gallery": Route(body=html.encode("utf-16-le"), content_type="text/html; charset=utf-16le"),
            "/a.png": image(),
            "/b.png": image(),
        }
    )
    r = crawl(
        [site.url("/gallery")],
        settings={**_media_settings(tmp_path), "NOAI_GUARD_LENIENT_NOIMAGEAI": True},
        spider={"media": True},
    )
    assert r.returncode == 0, r.log[-3000:]
    assert site.url("/gallery") in r.callbacks  # lenient: the text passes, the spider asks for the images
    for path in ("/a.png", "/b.png"):
        rec = r.decision_for(site.url(path))
        assert (rec["action"], rec["signal"], rec["evidence_url"]) == (
            "skipped",
            "embedding-page",
            site.url("/gallery"),
        )
        assert site.count(path) == 0
    assert r.stat("noai_guard/images/reserved") == 2


# -- a gzip page cut mid-stream (DOWNLOAD_FAIL_ON_DATALOSS = False) ---------------------------------


def _raw(headers: list[tuple[str, str]], body: bytes, announced: int) -> Callable[[socket.socket], None]:
    def send(conn: socket.socket) -> None:
        head = ["HTTP/1.1 200 OK", *(f"{k}: {v}" for k, v in headers)]
        head += [f"Content-Length: {announced}", "Connection: close", "", ""]
        conn.sendall("\r\n".join(head).encode("latin-1") + body)
        time.sleep(0.2)

    return send


def test_cut_gzip_page_gets_one_could_not_read_signal(
    crawl: Crawl, raw_site: Callable[[dict[str, Callable[[socket.socket], None]]], RawSite]
) -> None:
    """A gzip body cut mid-stream before its head ended: one ``meta-robots`` unknown, as the audit gives.

    Before, the crawl recorded two for the same cut: the decoder's "stream cut
    short" and its own "dataloss" one.
    """
    page = (
        b"<!DOCTYPE html><html><head><title>t</title>"
        + b"".join(b'<link rel="preload" href="/r%d">' % i for i in range(400))
        + b'<meta name="robots" content="noai"></head><body>x</body></html>'
    )
    gz = gzip.compress(page)
    ok = b"User-agent: *\nAllow: /\n"
    site = raw_site(
        {
            "/robots.txt": _raw([("Content-Type", "text/plain")], ok, len(ok)),
            "/cut": _raw([("Content-Type", "text/html"), ("Content-Encoding", "gzip")], gz[:200], len(gz)),
        }
    )
    r = crawl(
        [site.url("/cut")],
        settings={"DOWNLOAD_FAIL_ON_DATALOSS": False, "NOAI_GUARD_UNKNOWN": {"meta-robots": "reserve"}},
    )
    assert r.returncode == 0, r.log[-3000:]
    rec = r.decision_for(site.url("/cut"))
    assert (rec["action"], rec["signal"], rec["verdict"]) == ("dropped", "meta-robots", "unknown"), rec
    unknown = [s for s in rec["signals"] if s["name"] == "meta-robots" and s["verdict"] == "unknown"]
    unread = [s for s in unknown if "could not be read" in s["note"]]
    assert len(unread) == 1, unknown
    # And the head reader's own: the head did not end in what arrived.
    assert any("not finished" in s["evidence"] for s in unknown), unknown
    assert site.url("/cut") not in r.callbacks


# -- robots.txt switched off: no "not checked" signal ---------------------------------------------


def test_switched_off_robots_txt_adds_no_not_checked_signal() -> None:
    """A robots.txt the policy does not read is not "not checked": it adds no signal (the crawl fetches none)."""
    files = SiteFiles("http://example.com")  # nothing fetched
    off = Judge(Policy(user_agents=("testbot",), sources=frozenset({d.X_ROBOTS_TAG, d.META_ROBOTS})))
    got = off.before_fetch("http://example.com/x", files)
    assert got.site == [] and not got.blocked
    assert got.decision.signals == ()
    on = Judge(Policy(user_agents=("testbot",)))
    (sig,) = on.before_fetch("http://example.com/x", files).site
    assert (sig.name, sig.verdict.value if sig.verdict else None, sig.checked) == (
        d.ROBOTS_TXT,
        "unknown",
        False,
    )


def test_crawl_without_site_files_records_page_signals_only(crawl: Crawl, make_site: MakeSite) -> None:
    site = make_site(
        {
            "/robots.txt": text("User-agent: *\nDisallow: /\n"),
            "/xrt": Route(
                body="<html><head></head><body>x</body></html>",
                content_type="text/html",
                headers=[("X-Robots-Tag", "noai")],
            ),
            "/ok": Route(body="<html><head></head><body>x</body></html>", content_type="text/html"),
        }
    )
    r = crawl(
        [site.url("/xrt"), site.url("/ok")],
        settings={"NOAI_GUARD_SOURCES": ["x-robots-tag", "meta-robots"], "NOAI_GUARD_AUDIT_ALLOWED": True},
    )
    assert r.returncode == 0, r.log[-3000:]
    assert site.count("/robots.txt") == 0  # not read, so not fetched
    rec = r.decision_for(site.url("/xrt"))
    assert (rec["action"], rec["signal"]) == ("dropped", "x-robots-tag")
    assert [s["name"] for s in rec["signals"]] == ["x-robots-tag"]
    rec = r.decision_for(site.url("/ok"))
    assert (rec["action"], rec["signals"]) == ("allowed", [])
    assert site.url("/ok") in r.callbacks


# -- the in-memory page reader: what PayloadReader reads, uncopied -----------------------------------


@settings(max_examples=400, deadline=None)
@given(
    body=st.binary(max_size=300)
    | st.sampled_from([b"", b"<html><head><title>t</title></head><body>x", b"<body>"]),
    cut=st.booleans(),
    reads=st.lists(st.tuples(st.integers(0, 400), st.booleans()), min_size=1, max_size=4),
)
def test_bytes_reader_reads_as_payload_reader(body: bytes, cut: bool, reads: list[tuple[int, bool]]) -> None:
    fast = Page("http://example.com/", body=body, cut=cut).reader(1 << 20)
    slow = PayloadReader(io.BytesIO(body), codings=("", ""), limit=1 << 20, cut=cut, streaming=False)
    assert type(fast).__name__ == "_BytesReader"
    for limit, stop in reads:
        pattern = HEAD_END if stop else None
        assert fast.read_until(limit, pattern, 8) == slow.read_until(limit, pattern, 8)
        assert (fast.eof, fast.state) == (slow.eof, slow.state)
