"""Crawl live with the middleware in audit-only mode while recording a WARC, then audit the WARC.

The two trails must flag the same URLs for the same reasons: the offline audit
judges with the same code the middleware runs.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from noai_guard.cli import main


class WarcRecorder:
    """Downloader middleware (test only): writes every response, site files included, to a WARC.

    Placed next to the downloader (priority 990), it sees the response as it
    came off the wire: still gzip-encoded, before HttpCompressionMiddleware.
    """

    def __init__(self, path: str) -> None:
        from warcio.warcwriter import WARCWriter

        self.fh = open(path, "wb")  # noqa: SIM115 - closed on spider_closed
        self.writer = WARCWriter(self.fh, gzip=True, warc_version="1.1")

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarcRecorder:
        from scrapy import signals

        mw = cls(crawler.settings["AUDIT_TEST_WARC"])
        crawler.signals.connect(mw.closed, signal=signals.spider_closed)
        return mw

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        from warcio.statusandheaders import StatusAndHeaders

        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, vs in response.headers.items()
            for v in vs
            if k.lower() != b"transfer-encoding"  # Twisted has already removed the chunking
        ]
        http = StatusAndHeaders(f"{response.status} OK", headers, protocol="HTTP/1.1")
        rec = self.writer.create_warc_record(
            response.url, "response", payload=io.BytesIO(response.body), http_headers=http
        )
        self.writer.write_record(rec)
        self.fh.flush()
        return response

    def closed(self, spider: Any) -> None:
        self.fh.close()


def test_live_audit_only_crawl_and_offline_audit_agree(
    make_site: Callable[..., Any], crawl: Callable[..., Any], tmp_path: Path
) -> None:
    from crawlutil import Route, page, text

    links = "".join(
        f'<a href="{p}">{p}</a> '
        for p in ("/private/a", "/gpt/b", "/noai", "/xrt", "/tdm", "/plain", "/zipped")
    )
    site = make_site(
        {
            "/robots.txt": text(
                "User-agent: *\nDisallow: /private/\n\nUser-agent: GPTBot\nDisallow: /gpt/\n"
            ),
            "/.well-known/tdmrep.json": Route(
                body='[{"location": "/tdm-file/*", "tdm-reservation": 1}]', content_type="application/json"
            ),
            "/ai.txt": text("not here", status=404),
            "/": page(body=links + '<a href="/tdm-file/c">c</a>'),
            "/private/a": page(),
            "/gpt/b": page(),
            "/noai": page('<meta name="robots" content="noai">'),
            "/xrt": page(headers=[("X-Robots-Tag", "noai")]),
            "/tdm": page(headers=[("TDM-Reservation", "1")]),
            "/tdm-file/c": page(),
            "/plain": page(),
            "/zipped": page('<meta name="testbot" content="noml">', encoding="gzip"),
        }
    )
    warc = tmp_path / "live.warc.gz"
    res = crawl(
        [site.url("/")],
        settings={
            "NOAI_GUARD_ENFORCE": False,
            "AUDIT_TEST_WARC": str(warc),
            "DOWNLOADER_MIDDLEWARES": {"test_audit_consistency.WarcRecorder": 990},
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        },
        spider={"follow": True},
    )
    assert res.returncode == 0, res.log[-3000:]
    live = {r["url"]: (r["signal"], r["verdict"]) for r in res.decisions("flagged")}
    assert live == {
        site.url("/private/a"): ("robots-txt", "reserve"),
        site.url("/gpt/b"): ("robots-txt-proxy", "reserve"),
        site.url("/noai"): ("meta-robots", "reserve"),
        site.url("/xrt"): ("x-robots-tag", "reserve"),
        site.url("/tdm"): ("tdmrep", "reserve"),
        site.url("/tdm-file/c"): ("tdmrep", "reserve"),
        site.url("/zipped"): ("meta-robots", "reserve"),
    }

    out = tmp_path / "offline.jsonl"
    rc = main(["audit", str(warc), "--user-agent", "testbot", "--out", str(out), "--no-progress"])
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    offline = {
        r["url"]: (r["signal"], r["verdict"])
        for r in recs
        if r["type"] == "decision" and r["action"] == "flagged"
    }
    assert rc == 1
    assert offline == live
    # Same policy on both sides, so the same policy hash.
    live_hashes = {r["policy_hash"] for r in res.decisions("flagged")}
    assert live_hashes == {r["policy_hash"] for r in recs if r["type"] == "decision"}
    # Every offline decision names the live robots.txt capture it used.
    assert all(
        r["capture"]["robots"]["url"] == site.url("/robots.txt") for r in recs if r["type"] == "decision"
    )
