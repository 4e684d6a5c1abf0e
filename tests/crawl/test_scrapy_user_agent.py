"""Issue 15 item 6: a crawl that still announces itself as Scrapy is warned at start-up.

Scrapy's default USER_AGENT has the token ``Scrapy``, which the community list of AI
crawlers names; sites copying that list disallow it.  Real crawls against a local site.
"""

from __future__ import annotations

from collections.abc import Callable

from crawlutil import CrawlResult, Site, page, text
from scrapy.settings import default_settings

Crawl = Callable[..., CrawlResult]
MakeSite = Callable[..., Site]

# The line a site copies from the list (its AI-training neighbours would be proxy tokens here).
COPIED_LIST = "User-agent: Scrapy\nDisallow: /\n\nUser-agent: *\nAllow: /\n"


def _warnings(r: CrawlResult) -> list[str]:
    return [x for x in r.log.splitlines() if "WARNING" in x and "community list of AI crawlers" in x]


def test_scrapy_default_user_agent_is_warned_and_is_what_the_site_blocks(
    crawl: Crawl, make_site: MakeSite
) -> None:
    site = make_site({"/robots.txt": text(COPIED_LIST), "/x": page()})
    r = crawl([site.url("/x")], settings={"USER_AGENT": default_settings.USER_AGENT})
    assert r.returncode == 0, r.log[-3000:]
    lines = _warnings(r)
    assert len(lines) == 1, r.log[-3000:]
    line = lines[0]
    for part in (
        "Scrapy's default USER_AGENT",
        repr(default_settings.USER_AGENT),
        "token 'Scrapy'",
        "own tokens Scrapy",
        "set USER_AGENT",
        "NOAI_GUARD_USER_AGENTS",
    ):
        assert part in line, (part, line)
    # What the warning is about: the copied list's group binds the crawler's own token.
    assert r.callbacks == []
    assert r.decision_for(site.url("/x"))["action"] == "skipped"


def test_own_user_agent_is_not_warned(crawl: Crawl, make_site: MakeSite) -> None:
    site = make_site({"/robots.txt": text(COPIED_LIST), "/x": page()})
    r = crawl([site.url("/x")])  # crawlutil's testbot/1.0 USER_AGENT
    assert r.returncode == 0, r.log[-3000:]
    assert _warnings(r) == []
    assert r.callbacks == [site.url("/x")]


def test_scrapy_token_with_own_robots_token_is_still_warned(crawl: Crawl, make_site: MakeSite) -> None:
    # NOAI_GUARD_USER_AGENTS changes the robots.txt token, not the header servers see.
    site = make_site({"/robots.txt": text(COPIED_LIST), "/x": page()})
    r = crawl(
        [site.url("/x")],
        settings={"USER_AGENT": "Scrapy/2.0 (+https://example.invalid)", "NOAI_GUARD_USER_AGENTS": ["MyBot"]},
    )
    (line,) = _warnings(r)
    assert "a USER_AGENT ('Scrapy/2.0 (+https://example.invalid)')" in line
    assert "own tokens MyBot" in line
    assert r.callbacks == [site.url("/x")]
