"""Issue 18 item 1: the run summary's ``sizes`` (pages and bytes kept per origin), crawl and audit.

A real crawl of two local sites, recorded to a WARC as it goes, then the
offline audit of that WARC: both summaries name, per origin, the pages and the
bytes that were allowed, equal to the sizes of the bodies served here.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawlutil import Route, html, text

from noai_guard.cli import main
from noai_guard.sizes import MEASURE_AUDIT, MEASURE_CRAWL, sizes_section


def sized(n: int, head: str = "", img: str = "") -> str:
    """An HTML page of exactly ``n`` bytes (ASCII), embedding the image ``img`` if given."""
    tag = f'<img src="{img}">' if img else ""
    bare = html(head=head, body=tag + "<p></p>")
    assert len(bare) <= n
    out = html(head=head, body=tag + "<p>" + "x" * (n - len(bare)) + "</p>")
    assert len(out.encode()) == n
    return out


def summary(trail: Path) -> dict[str, Any]:
    recs = [json.loads(line) for line in trail.read_text("utf-8").splitlines() if line.strip()]
    found = [r for r in recs if r["type"] == "summary"]
    assert len(found) == 1
    return found[0]


def test_crawl_and_audit_record_the_bytes_kept_per_origin(
    make_site: Callable[..., Any], crawl: Callable[..., Any], tmp_path: Path
) -> None:
    zipped = sized(2500)
    one = make_site(
        {
            "/robots.txt": text("User-agent: testbot\nDisallow: /private\n"),
            "/a": Route(body=sized(1000), content_type="text/html"),
            "/b": Route(body=zipped, content_type="text/html", encoding="gzip"),
            "/private": Route(body=sized(4000), content_type="text/html"),  # skipped before the fetch
            "/noai": Route(body=sized(700, '<meta name="robots" content="noai">'), content_type="text/html"),
        }
    )
    two = make_site({"/c": Route(body="y" * 333, content_type="text/plain")})
    warc = tmp_path / "crawl.warc.gz"
    urls = [one.url("/a"), one.url("/b"), one.url("/private"), one.url("/noai"), two.url("/c")]
    r = crawl(
        urls,
        settings={
            "DOWNLOADER_MIDDLEWARES": {"test_audit_consistency.WarcRecorder": 990},
            "AUDIT_TEST_WARC": str(warc),  # test_audit_consistency.WarcRecorder writes it
        },
    )
    assert r.returncode == 0, r.log[-3000:]
    assert sorted(r.callbacks) == sorted([one.url("/a"), one.url("/b"), two.url("/c")])
    s = summary(r.workdir / "trail.jsonl")
    sizes = s["sizes"]
    assert sizes["measure"] == MEASURE_CRAWL
    # Hand count: /a 1000 + /b 2500 (decoded as the spider gets it); /private and /noai are not kept.
    assert sizes["origins"] == {
        one.origin: {"pages": 2, "bytes": 3500},
        two.origin: {"pages": 1, "bytes": 333},
    }
    assert sizes["total"] == {"origins": 2, "pages": 3, "bytes": 3833}
    assert sizes["other"] == {"origins": 0, "pages": 0, "bytes": 0}
    assert sizes["content_types"] == {
        "text/html": {"pages": 2, "bytes": 3500},
        "text/plain": {"pages": 1, "bytes": 333},
    }
    # The rows' allowed counts agree with the sizes' pages.
    assert s["origins"][one.origin]["allowed"] == 2

    # The offline audit of the same traffic: the stored payloads (the gzip body as stored).
    out = tmp_path / "audit.jsonl"
    assert main(["audit", str(warc), "--out", str(out), "--no-progress"]) == 1  # /noai reserved
    a = summary(out)["sizes"]
    assert a["measure"] == MEASURE_AUDIT
    stored_b = len(gzip.compress(zipped.encode()))
    assert a["origins"] == {
        one.origin: {"pages": 2, "bytes": 1000 + stored_b},
        two.origin: {"pages": 1, "bytes": 333},
    }
    assert a["total"]["pages"] == 3


def test_sizes_are_bounded_top_n_by_bytes_plus_an_other_total() -> None:
    rows = [("https://a.example", 3, 100), ("https://b.example", 1, 900), ("https://c.example", 5, 100)]
    s = sizes_section(rows, measure="m", limit=2, other=(2, 50))
    # b has the most bytes; a and c tie on bytes: more pages first (c).
    assert list(s["origins"]) == ["https://b.example", "https://c.example"]
    assert s["other"] == {"origins": 1, "pages": 3 + 2, "bytes": 100 + 50}
    assert s["total"] == {"origins": 3, "pages": 11, "bytes": 1150}
    assert s["limit"] == 2
    # Origins with nothing kept are not listed.
    assert sizes_section([("https://z.example", 0, 0)], measure="m")["total"]["origins"] == 0


def test_audit_sizes_leave_out_an_image_its_embedding_page_reserves(tmp_path: Path) -> None:
    """An image judged allowed, then reserved by a later page's noimageai (merge_media): not kept."""
    from crawlutil import _png
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    warc = tmp_path / "m.warc.gz"
    img = _png()
    pages = {
        "http://pics.example/robots.txt": ("text/plain", b"User-agent: *\nAllow: /\n"),
        "http://pics.example/i.png": ("image/png", img),  # before the page that reserves it
        "http://pics.example/p.html": (
            "text/html",
            sized(600, '<meta name="robots" content="noimageai">', img="/i.png").encode(),
        ),
        "http://pics.example/q.html": ("text/html", sized(500).encode()),
    }
    with open(warc, "wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.1")
        for url, (ctype, body) in pages.items():
            http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    out = tmp_path / "a.jsonl"
    assert main(["audit", str(warc), "--out", str(out), "--no-progress"]) == 1  # the image is reserved
    s = summary(out)
    # The policy reserves the page too (noimageai is read as a noai for the page's own text).
    assert s["origins"]["http://pics.example"]["reserved"] == 2
    # Hand count: q.html 500; the image, allowed when judged, was reserved by p.html after it.
    assert s["sizes"]["origins"] == {"http://pics.example": {"pages": 1, "bytes": 500}}
    assert s["sizes"]["content_types"] == {"text/html": {"pages": 1, "bytes": 500}}


def test_a_retried_answer_flagged_in_audit_only_mode_adds_no_bytes(
    make_site: Callable[..., Any], crawl: Callable[..., Any]
) -> None:
    """A 503 is allowed (and marked for its size), Scrapy retries it; the retry's answer is flagged
    (audit-only: passed on): its bytes are not counted as kept."""
    answers = iter(
        [
            Route(status=503, body="busy", content_type="text/plain"),
            Route(body=sized(900, '<meta name="robots" content="noai">'), content_type="text/html"),
        ]
    )
    site = make_site({"/robots.txt": text("User-agent: *\nAllow: /\n"), "/flaky": lambda *_: next(answers)})
    r = crawl(
        [site.url("/flaky")],
        settings={
            "RETRY_ENABLED": True,
            "RETRY_TIMES": 1,
            "RETRY_HTTP_CODES": [503],
            "NOAI_GUARD_ENFORCE": False,
        },
    )
    assert r.returncode == 0, r.log[-3000:]
    assert r.decision_for(site.url("/flaky"))["action"] == "flagged"
    assert site.url("/flaky") in r.callbacks  # audit-only: passed on
    sizes = summary(r.workdir / "trail.jsonl")["sizes"]
    # The 503 counted as one allowed page without a body the spider got; the flagged page adds nothing.
    assert sizes["origins"] == {site.origin: {"pages": 1, "bytes": 0}}
