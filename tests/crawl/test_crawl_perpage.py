"""The crawl's per-page path (issue 13): what the fast paths must still do in a real crawl.

Real crawls through a real Scrapy engine against local servers (``crawlutil``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from crawlutil import CrawlResult, Site, image, page, text
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from noai_guard import auditlog
from noai_guard import decision as d
from noai_guard.crawl import page as crawlpage
from noai_guard.crawl.trail import Trail
from noai_guard.decision import Decision, Signal, Verdict
from noai_guard.policy import Policy

Crawl = Callable[..., CrawlResult]
MakeSite = Callable[..., Site]

ALLOW_ALL = "User-agent: *\nAllow: /\n"


def test_reserving_page_with_an_unsafe_image_url_is_judged_and_its_images_remembered(
    crawl: Crawl, make_site: MakeSite
) -> None:
    """A reserving page that embeds an image URL w3lib cannot make safe (port 99999) is judged.

    Before, remembering its images called ``safe_url_string`` on each, which
    raised ``ValueError`` from the response hook: Scrapy logged the error, the
    spider never got the page (lenient mode lets its text through) and its
    images were not counted (the audit's key keeps such a URL as it is).
    """
    site = make_site(
        {
            "/robots.txt": text(ALLOW_ALL),
            "/gallery": page(
                '<meta name="robots" content="noimageai">',
                '<p>text</p><img src="http://shop.example:99999/x.png"><img src="/a.png">',
            ),
            "/a.png": image(),
        }
    )
    r = crawl([site.url("/gallery")], settings={"NOAI_GUARD_LENIENT_NOIMAGEAI": True})
    assert r.returncode == 0, r.log[-3000:]
    assert r.stat("log_count/ERROR") == 0, r.log[-3000:]
    assert site.url("/gallery") in r.callbacks  # lenient: the text passes
    assert r.stat("noai_guard/images/reserved") == 2


# -- units the crawl's per-page path relies on -------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(
                ["Content-Type", "content-type", "X-Robots-Tag", "x-robots-TAG", "Set-Cookie", "A1b"]
            )
            | st.text("abcXYZ-_1", min_size=1, max_size=8),
            st.binary(max_size=12) | st.text(max_size=12),
        ),
        max_size=8,
    )
)
def test_header_pairs_reads_the_dict_as_items_does(pairs: list[tuple[str, bytes | str]]) -> None:
    """``header_pairs`` reads Scrapy's Headers dict directly: the pairs ``Headers.items()`` gives."""
    response = Response("http://example.com/", headers=pairs)
    slow = [
        (k.decode("latin-1"), v.decode("latin-1")) for k, values in response.headers.items() for v in values
    ]
    assert crawlpage.header_pairs(response) == slow


def test_blocked_and_record_counters_reach_the_stats_as_before(tmp_path: Path) -> None:
    """The counters of blocked pages and written records are batched: at close the stats hold every one."""
    crawler = get_crawler(
        settings_dict={"NOAI_GUARD_AUDIT_URI": str(tmp_path / "audit.jsonl"), "NOAI_GUARD_ENFORCE": True}
    )
    assert crawler.stats is not None
    crawler.stats.open_spider()
    policy = Policy()
    trail = Trail(
        crawler, path=str(tmp_path / "audit.jsonl"), fsync=False, policy=policy, enforce=True, run_id="r"
    )
    trail.start({"type": "run"})
    names = [d.X_ROBOTS_TAG, d.META_ROBOTS, d.TDMREP]
    for i in range(150):
        name = names[i % 3]
        sig = Signal(name, Verdict.RESERVE, policy.purpose, "noai", "http://a.example/", "header")
        dec = Decision(f"http://a.example/{i}", policy.purpose, Verdict.RESERVE, True, sig, "r", (sig,))
        phase = auditlog.PRE_FETCH if i % 2 else auditlog.POST_FETCH
        trail.blocked(dec, trail.counts("http://a.example"), phase, "http://a.example", Request(dec.url))
        unknown = Signal(name, Verdict.UNKNOWN, policy.purpose, "", "http://a.example/", "meta")
        trail.count_unknowns([unknown], trail.counts("http://a.example"))
    trail.close("finished")
    stats = crawler.stats.get_stats()
    assert stats["noai_guard/skipped"] == 75
    assert stats["noai_guard/dropped"] == 75
    for name in names:
        assert stats[f"noai_guard/reason_count/{name}"] == 50
        assert stats[f"noai_guard/unknown_count/{name}"] == 50
    assert stats["noai_guard/audit/record_count"] == 152  # run, 150 decisions, summary
    records = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(records) == 152
    summary = json.loads(records[-1])
    assert summary["totals"]["skipped"] == 75 and summary["totals"]["dropped"] == 75
