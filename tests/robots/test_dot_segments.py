"""Dot segments (issue 11 item 1): rules match the path a server resolves ``/./`` and ``/../`` to.

``/./private/x``, ``/public/../private/x`` and their percent-encoded forms name
``/private/x`` (RFC 3986 §5.2.4, §6.2.2.3); Scrapy sends them as written and the
server serves the reserved page.  robots.txt, ai.txt, tdmrep.json and the
per-origin fast path must all read them as ``/private/x``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from crawlutil import CrawlResult, Route, Site, page, redirect, text
from hypothesis import given, settings
from hypothesis import strategies as st

from noai_guard import decision as d
from noai_guard.decision import Verdict
from noai_guard.evaluate import SiteEval, site_signals
from noai_guard.policy import Policy, decide
from noai_guard.robots import RobotsTxt, ai_txt_signals, url_path
from noai_guard.sitefiles import from_fetch
from noai_guard.tdmrep import TdmrepFile, _path_of
from noai_guard.urlpath import remove_dot_segments

Crawl = Callable[..., CrawlResult]
MakeSite = Callable[..., Site]

ORIGIN = "https://site.example"
P = Policy(user_agents=("testbot",))

DOTTED = [
    "/./private/x",
    "/public/../private/x",
    "/%2e/private/x",
    "/%2E/private/x",
    "/public/%2e%2e/private/x",
    "/public/.%2e/private/x",
    "/public/%2E./private/x",
    "/a/b/../../private/x",
    "/../private/x",
    "/public/./../private/./x",
]


# ---------------------------------------------------------------------------
# The one function


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        # RFC 3986 §5.2.4's own example, then ours.
        ("/a/b/c/./../../g", "/a/g"),
        ("/./", "/"),
        ("/.", "/"),
        ("/..", "/"),
        ("/a/..", "/"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/a/./b", "/a/b"),
        ("/a//../b", "/a/b"),  # ".." removes the empty segment
        ("/a/b/../../../c", "/c"),  # never above the root
        ("/%2e%2E/x", "/x"),
        ("/p/.%2e", "/"),
        # Not dot segments: kept as written.
        ("/.well-known/tdmrep.json", "/.well-known/tdmrep.json"),
        ("/a/.../b", "/a/.../b"),
        ("/a/..b/.c", "/a/..b/.c"),
        ("/a/%2e%2e%2e", "/a/%2e%2e%2e"),
        ("/a/%252e/b", "/a/%252e/b"),
        ("/a%2F../b", "/a%2F../b"),  # an encoded slash is no segment boundary
        ("/a//b", "/a//b"),
        # The query is not a path.
        ("/a/../b?next=/../c", "/b?next=/../c"),
        ("/a/.?x", "/a/?x"),
        ("/", "/"),
        ("", ""),
    ],
)
def test_remove_dot_segments(path: str, resolved: str) -> None:
    assert remove_dot_segments(path) == resolved


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", ".", "..", "%2e", "%2E%2e", ".%2e", "", "x.y"]), max_size=8))
def test_remove_dot_segments_is_idempotent_and_dot_free(segs: list[str]) -> None:
    path = "/" + "/".join(segs)
    once = remove_dot_segments(path)
    assert once.startswith("/")
    assert remove_dot_segments(once) == once
    inner = once.split("/")[1:-1]  # a final segment may be the "" of a trailing "/"
    assert not {s.lower() for s in inner} & {".", "..", "%2e", "%2e%2e", ".%2e", "%2e."}


# ---------------------------------------------------------------------------
# robots.txt, ai.txt and tdmrep.json all read the resolved path


@pytest.mark.parametrize("path", DOTTED)
def test_url_path_resolves_dot_segments(path: str) -> None:
    assert url_path(ORIGIN + path) == "/private/x"
    assert _path_of(ORIGIN + path) == "/private/x"


@pytest.mark.parametrize("path", DOTTED)
@pytest.mark.parametrize(
    "rules",
    [
        "User-agent: *\nDisallow: /private/\n",
        "User-agent: *\nAllow: /\n\nUser-agent: testbot\nDisallow: /private/\n",
    ],
    ids=["star", "own"],
)
def test_robots_disallow_holds_for_dotted_paths(rules: str, path: str) -> None:
    robots = RobotsTxt.parse(rules.encode(), ORIGIN + "/robots.txt")
    (sig,) = [s for s in robots.signals(ORIGIN + path, P) if s.name == d.ROBOTS_TXT]
    assert (sig.verdict, sig.evidence) == (Verdict.RESERVE, "Disallow: /private/")
    assert not robots.can_fetch(ORIGIN + path, "testbot")


def test_dot_segments_do_not_widen_a_rule() -> None:
    robots = RobotsTxt.parse(b"User-agent: *\nDisallow: /private/\n", ORIGIN + "/robots.txt")
    for path in ("/private/../public/x", "/private/./../x", "/%2e%2e/public", "/.private/x"):
        assert robots.can_fetch(ORIGIN + path, "testbot"), path


def test_dotted_path_to_robots_txt_is_robots_txt() -> None:
    robots = RobotsTxt.parse(b"User-agent: *\nDisallow: /\n", ORIGIN + "/robots.txt")
    assert robots.can_fetch(ORIGIN + "/x/../robots.txt", "testbot")  # §2.2.2: implicitly allowed


@pytest.mark.parametrize("path", DOTTED)
def test_ai_txt_reads_the_resolved_path(path: str) -> None:
    ai = RobotsTxt.parse(b"User-Agent: *\nDisallow: /private/\n", ORIGIN + "/ai.txt")
    (sig,) = ai_txt_signals(ai, ORIGIN + path, P)
    assert (sig.name, sig.verdict) == (d.AI_TXT, Verdict.RESERVE)


@pytest.mark.parametrize("path", DOTTED)
def test_tdmrep_location_reads_the_resolved_path(path: str) -> None:
    body = b'[{"location": "/private/", "tdm-reservation": 1}, {"location": "/", "tdm-reservation": 0}]'
    tdm = TdmrepFile.parse(body, ORIGIN + "/.well-known/tdmrep.json")
    (sig,) = tdm.signals(ORIGIN + path, P)
    assert sig.verdict is Verdict.RESERVE


# ---------------------------------------------------------------------------
# The per-origin fast path sees the same path


def _files() -> dict[str, object]:
    return {
        "robots": from_fetch(
            "robots",
            ORIGIN + "/robots.txt",
            status=200,
            body=b"User-agent: *\nDisallow: /private/\nDisallow: /*.bak$\nAllow: /\n",
        ),
        "tdmrep_file": from_fetch(
            "tdmrep",
            ORIGIN + "/.well-known/tdmrep.json",
            status=200,
            body=b'[{"location": "/reserved/", "tdm-reservation": 1}, {"location": "/", "tdm-reservation": 0}]',
        ),
        "ai_txt": from_fetch(
            "ai-txt", ORIGIN + "/ai.txt", status=200, body=b"User-Agent: *\nDisallow: /no-ai/\n"
        ),
    }


def test_site_eval_does_not_take_a_dotted_url_for_a_default_one() -> None:
    files = _files()
    ev = SiteEval(P, **files)  # type: ignore[arg-type]
    ev.evaluate(ORIGIN + "/public/page")  # a default URL: the shortcut now holds its decision
    assert ev._default is not None
    for path in (*DOTTED, "/public/./../reserved/x", "/public/../no-ai/x", "/x/./../a.bak"):
        _, decision = ev.evaluate(ORIGIN + path)
        assert decision.blocked, path
        assert decision.verdict is Verdict.RESERVE, path


_SEGMENT = st.sampled_from(
    [
        "private",
        "public",
        "reserved",
        "no-ai",
        "robots.txt",
        "a.bak",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        ".%2e",
        "",
        "x",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_SEGMENT, min_size=1, max_size=6), st.sampled_from(["", "?q=1", "?a=/../private/"]))
def test_site_eval_decides_dotted_urls_as_site_signals(segs: list[str], query: str) -> None:
    """Equivalence: the shortcut's answer is the full evaluation's for URLs with and without dot segments."""
    files = _files()
    ev = SiteEval(P, **files)  # type: ignore[arg-type]
    for url in (ORIGIN + "/public/warm", ORIGIN + "/" + "/".join(segs) + query):
        sigs, decision = ev.evaluate(url)
        want = site_signals(url, P, **files)  # type: ignore[arg-type]
        assert sigs == want, url
        assert decision == decide(url, want, P), url


def test_site_eval_random_dotted_urls_match_the_resolved_ones() -> None:
    """A dotted URL gets the decision of the URL it resolves to."""
    files = _files()
    ev = SiteEval(P, **files)  # type: ignore[arg-type]
    rng = random.Random(11)
    parts = ["private", "public", "reserved", "no-ai", "a.bak", ".", "..", "%2e", "%2e%2e", "q"]
    for _ in range(500):
        path = "/" + "/".join(rng.choice(parts) for _ in range(rng.randrange(1, 6)))
        resolved = remove_dot_segments(path.replace("%2e", "."))
        a = ev.evaluate(ORIGIN + path)[1]
        b = ev.evaluate(ORIGIN + resolved)[1]
        assert (a.blocked, a.verdict, a.signal) == (b.blocked, b.verdict, b.signal), (path, resolved)


# ---------------------------------------------------------------------------
# A live crawl


def _reserved_site(make_site: MakeSite, robots: str) -> Site:
    secret = page("<title>secret</title>", "<p>reserved</p>")
    routes: dict[str, Route] = {"/robots.txt": text(robots), "/public/x": page(), "/./public/y": page()}
    for path in (*DOTTED[:5], "/private/x"):
        routes[path] = secret
    routes["/go"] = redirect("/./private/x")
    routes["/go-encoded"] = redirect("/public/%2e%2e/private/x")
    return make_site(routes)


def _served_private(site: Site) -> list[str]:
    return [
        p for p in site.paths() if "private" in remove_dot_segments(p.replace("%2e", ".").replace("%2E", "."))
    ]


@pytest.mark.parametrize(
    ("robots", "user_agent"),
    [
        ("User-agent: *\nDisallow: /private/\n", "*"),
        ("User-agent: *\nAllow: /\n\nUser-agent: testbot\nDisallow: /private/\n", "testbot"),
    ],
    ids=["star", "own-token"],
)
def test_crawl_blocks_dotted_urls(crawl: Crawl, make_site: MakeSite, robots: str, user_agent: str) -> None:
    site = _reserved_site(make_site, robots)
    dotted = [site.url(p) for p in DOTTED[:5]]
    r = crawl(
        [*dotted, site.url("/go"), site.url("/go-encoded"), site.url("/public/x"), site.url("/./public/y")]
    )
    assert r.returncode == 0, r.log[-3000:]
    # Never served, never seen by the spider, the feed or the pipeline.
    assert _served_private(site) == [], site.paths()
    assert not [u for u in r.callbacks if "private" in u or "%2e" in u.lower()], r.callbacks
    assert not [i for i in r.feed if "secret" in str(i) or "private" in i["url"]]
    # Each dotted request is skipped with a record naming the rule (Scrapy may write "%2E" for "%2e").
    skipped = r.decisions("skipped")
    assert len(skipped) == len(dotted) + 2, [rec["url"] for rec in skipped]
    for rec in skipped:
        assert (rec["signal"], rec["evidence"], rec["user_agent"]) == (
            "robots-txt",
            "Disallow: /private/",
            user_agent,
        )
        assert rec["phase"] == "pre-fetch"
        assert (
            remove_dot_segments(urlsplit(rec["url"]).path.replace("%2e", ".").replace("%2E", "."))
            == "/private/x"
        )
    left = [rec["url"].lower() for rec in skipped]
    for url in dotted:
        left.remove(url.lower())
    # The redirects were followed to a reserved URL: a record for each target (the two left).
    assert site.count("/go") == 1 and site.count("/go-encoded") == 1
    assert len(left) == 2
    assert r.stat("noai_guard/skipped") == len(dotted) + 2
    # Dotted URLs to public pages are still crawled.
    assert site.url("/public/x") in r.callbacks
    assert any(urlsplit(u).path.endswith("/public/y") for u in r.callbacks), r.callbacks
