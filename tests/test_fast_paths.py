"""The per-page fast paths must take the same decisions as the slow paths they skip.

Each fast path in the middleware, the evaluation glue and the decision fold is
checked against the computation it replaces (``benchmarks/crawl_overhead.py``
measures what they save).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy import signals as scrapy_signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from scrapy.utils.test import get_crawler

from noai_guard import aipref, directives, tdmrep
from noai_guard import decision as d
from noai_guard import middleware as mw
from noai_guard.crawl import page as crawlpage
from noai_guard.crawl import sitefetch
from noai_guard.crawl.guard import Guard
from noai_guard.decision import Decision, Signal, Verdict
from noai_guard.evaluate import is_html, response_signals, scan_head, site_signals
from noai_guard.htmlhead import Head
from noai_guard.policy import Policy, decide
from noai_guard.sitefiles import file_url, from_fetch, origin_of

ORIGIN = "http://example.com"
ROBOTS = b"""User-agent: examplebot
Disallow: /private/
Content-Usage: /archive/ train-ai=n
Content-Signal: search=yes, ai-train=yes

User-agent: *
Allow: /
"""
TDMREP = b'[{"location": "/reserved/", "tdm-reservation": 1}]'
AI_TXT = b"User-Agent: *\nDisallow: *.gif\n"


def _run(coro: Coroutine[Any, Any, Any] | Any) -> Any:
    """A hook's result: drive a coroutine, which must not suspend (every site file is cached)."""
    if not isinstance(coro, Coroutine):
        return coro
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the coroutine suspended: a site file was not cached")


def _guard(tmp_path: Path, **extra: Any) -> tuple[mw.NoAIGuardMiddleware, mw.NoAIGuardResponseMiddleware]:
    crawler = get_crawler(
        settings_dict={
            "NOAI_GUARD_ENABLED": True,
            "NOAI_GUARD_ENFORCE": False,  # audit-only: every decision lands in meta, nothing raises
            "NOAI_GUARD_USER_AGENTS": ["examplebot"],
            "NOAI_GUARD_AUDIT_URI": str(tmp_path / "audit.jsonl"),
            **extra,
        }
    )
    before = mw.NoAIGuardMiddleware.from_crawler(crawler)
    after = mw.NoAIGuardResponseMiddleware.from_crawler(crawler)
    guard = before.guard
    bodies = {"robots": ROBOTS, "tdmrep": TDMREP, "ai-txt": AI_TXT}
    for kind in guard.kinds:
        url = file_url(ORIGIN, kind)
        value = from_fetch(kind, url, status=200, body=bodies[kind])
        guard.sites._cache[(ORIGIN, kind)] = sitefetch._Entry(value=value, expires=time.monotonic() + 3600)
    return before, after


def _slow_decision(guard: Guard, request: Request, response: Response) -> Decision:
    """The post-fetch decision as computed before the fast paths: every step, every time."""
    url, policy = request.url, guard.policy
    files = guard.sites.cached_files(origin_of(url))
    assert files is not None
    site = site_signals(
        url,
        policy,
        robots=files.get("robots"),  # type: ignore[arg-type]
        tdmrep_file=files.get("tdmrep"),  # type: ignore[arg-type]
        ai_txt=files.get("ai-txt"),  # type: ignore[arg-type]
    )
    pairs = crawlpage.header_pairs(response)  # all headers, decoded
    ctype = crawlpage.first_header(response, b"Content-Type")
    sigs = directives.header_signals(pairs, url, policy)
    sigs += tdmrep.header_signals(pairs, url, policy)
    sigs += aipref.header_signals(pairs, url, policy)
    # The whole body: the head readers stop at the budget themselves (and say whether the head ended).
    body = mw.decode_body(response.body, crawlpage.first_header(response, b"Content-Encoding"), 1 << 30)
    if body and is_html(ctype, body):
        head = scan_head(body, policy)
        sigs += directives.meta_signals(head, url, policy)  # called even for an empty head
        sigs += tdmrep.meta_signals(head, url, policy)
    return decide(url, site + sigs, policy)


PAGE = (
    b"<!DOCTYPE html><html><head><title>t</title><link rel=canonical href=/x></head><body>text</body></html>"
)
META_PAGE = (
    b'<html><head><meta name="robots" content="index, follow"><meta name="x" content="y"></head><body>'
)
NOAI_META = b'<html><head><meta name="robots" content="noai"></head><body>x</body></html>'
TDM_META = b'<html><head><meta name="tdm-reservation" content="1"></head><body>x</body></html>'
LONG_HEAD = b"<html><head>" + b'<link rel="preload" href="/a">' * 400  # no <body> within the budget

CASES: list[tuple[str, list[tuple[str, str]], bytes]] = [
    ("/a/plain.html", [], PAGE),  # the fast path: no header, empty head -> the pre-fetch decision
    ("/a/metas.html", [], META_PAGE),
    ("/a/noai-meta.html", [], NOAI_META),
    ("/a/tdm-meta.html", [], TDM_META),
    ("/a/xrt.html", [("X-Robots-Tag", "noai")], PAGE),
    ("/a/xrt-other.html", [("X-Robots-Tag", "otherbot: noai")], PAGE),
    ("/a/xrt-allow.html", [("X-Robots-Tag", "index, follow")], PAGE),
    ("/a/tdm.html", [("tdm-reservation", "1"), ("tdm-policy", "https://example.com/p")], PAGE),
    ("/a/tdm0.html", [("tdm-reservation", "0")], PAGE),
    ("/a/tdm-policy-only.html", [("tdm-policy", "https://example.com/p")], PAGE),
    ("/a/usage.html", [("Content-Usage", "train-ai=n")], PAGE),
    ("/a/signal.html", [("Content-Signal", "ai-train=no")], PAGE),
    ("/a/other-headers.html", [("Server", "x"), ("X-Robots", "noai"), ("Cache-Control", "no-cache")], PAGE),
    ("/reserved/page.html", [], PAGE),  # reserved by tdmrep.json before the fetch
    ("/archive/page.html", [], PAGE),  # reserved by Content-Usage in robots.txt
    ("/private/page.html", [], PAGE),  # disallowed for the own token
    ("/a/long-head.html", [], LONG_HEAD),
]


@pytest.mark.parametrize(("path", "headers", "body"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("budget", [None, 1024])  # 1024: heads past the budget ("unknown")
def test_post_fetch_fast_paths_decide_as_the_slow_path(
    tmp_path: Path, path: str, headers: list[tuple[str, str]], body: bytes, budget: int | None
) -> None:
    before, after = _guard(tmp_path, **({"NOAI_GUARD_HEAD_BUDGET": budget} if budget else {}))
    url = ORIGIN + path
    request = Request(url)
    response = HtmlResponse(
        url, headers=[("Content-Type", "text/html; charset=utf-8"), *headers], body=body, request=request
    )
    _run(before.process_request(request))
    pre = request.meta[mw.META_DECISION]
    _run(after.process_response(request, response))
    got = request.meta[mw.META_DECISION]
    assert got == _slow_decision(before.guard, request, response)
    if not headers and body is PAGE and not pre.blocked:
        assert got is pre  # the fast path was taken


def test_enforcing_fast_path_drops_and_allows_as_before(tmp_path: Path) -> None:
    before, after = _guard(tmp_path, NOAI_GUARD_ENFORCE=True)
    for path, headers, blocked in (("/a/x.html", [], False), ("/a/y.html", [("X-Robots-Tag", "noai")], True)):
        request = Request(ORIGIN + path)
        response = HtmlResponse(request.url, headers=headers, body=PAGE, request=request)
        _run(before.process_request(request))
        if blocked:
            with pytest.raises(IgnoreRequest):
                _run(after.process_response(request, response))
        else:
            assert _run(after.process_response(request, response)) is response
        assert request.meta[mw.META_DECISION] == _slow_decision(before.guard, request, response)


_NAMES = st.sampled_from(
    [
        b"Content-Type",
        b"X-Robots-Tag",
        b"x-robots-tag",
        b" X-Robots-Tag",
        b"X-Robots-Tag\t",
        b"\xa0X-Robots-Tag",  # latin-1 NBSP: str.strip() removes it, bytes.strip() does not
        b"\x85tdm-reservation",
        b"X-Robots-Tags",
        b"Tdm-Reservation",
        b"Tdm-Policy",
        b"Content-Usage",
        b"Content-Signal",
        b"Content-Signals",
        b"Server",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(_NAMES, st.sampled_from([b"noai", b"1", b"train-ai=n", b"ai-train=no", b"x"])), max_size=4
    )
)
def test_signal_header_gate_never_hides_a_signal(pairs: list[tuple[bytes, bytes]]) -> None:
    response = TextResponse("http://example.com/", headers=pairs, body=b"")
    policy = Policy(user_agents=("examplebot",))
    full = crawlpage.header_pairs(response)
    gated = crawlpage.signal_headers(response)
    assert gated in ([], full)
    for fn in (directives.header_signals, tdmrep.header_signals, aipref.header_signals):
        assert fn(gated, "http://example.com/", policy) == fn(full, "http://example.com/", policy)


def test_empty_complete_head_has_no_meta_signals() -> None:
    policy = Policy(user_agents=("examplebot",))
    url = "http://example.com/"
    for head in (Head((), True, 10), Head((), False, 10)):
        slow = directives.meta_signals(head, url, policy) + tdmrep.meta_signals(head, url, policy)
        assert response_signals(url, policy, content_type="text/html", head=head) == slow
    assert response_signals(url, policy, content_type="text/html", head=Head((), True, 10)) == []


_URL = st.builds(
    lambda scheme, sep, auth, host, port, rest: scheme + sep + auth + host + port + rest,
    st.sampled_from(["http", "HTTPS", "ftp", "", "x:y"]),
    st.sampled_from(["://", ":/", ":", "//"]),
    st.sampled_from(["", "u:p@", "@"]),
    st.sampled_from(["example.com", "EXAMPLE.com", "[::1]", "[::1", "ex\tample.com", "", "a?b", "a#b"]),
    st.sampled_from(["", ":80", ":443", ":8080", ":abc", ":"]),
    st.sampled_from(["", "/", "/p?q", "?q", "#f", "/a://b/c", "/x#y"]),
)


@settings(max_examples=500, deadline=None)
@given(_URL)
def test_memoised_origin_is_origin_of(url: str) -> None:
    def outcome(fn: Any) -> object:
        try:
            return fn(url)
        except ValueError as exc:
            return type(exc)

    expected = outcome(origin_of)
    assert outcome(crawlpage.origin) == expected
    assert outcome(crawlpage.origin) == expected  # memoised


_SIGNALS = st.builds(
    Signal,
    name=st.sampled_from(sorted(d.SIGNALS)),
    verdict=st.sampled_from([None, *Verdict]),
    purpose=st.sampled_from(d.PURPOSES),
    evidence=st.text(max_size=5),
    source=st.text(max_size=5),
    location=st.sampled_from([d.LOC_ROBOTS, d.LOC_META, d.LOC_TDMREP_FILE, "header:tdm-reservation"]),
    line=st.none() | st.integers(1, 9),
    scope=st.none() | st.text(max_size=3),
    user_agent=st.none() | st.text(max_size=3),
    own_token=st.sampled_from([None, True, False]),
    note=st.text(max_size=5),
    legacy=st.booleans(),
    superseded=st.booleans(),
    checked=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(_SIGNALS)
def test_signal_to_dict_is_asdict(sig: Signal) -> None:
    expected = dataclasses.asdict(sig)
    expected["verdict"] = None if sig.verdict is None else sig.verdict.value
    if sig.checked:  # written only when False, so records of checked sources keep their shape
        del expected["checked"]
    got = sig.to_dict()
    assert got == expected
    assert list(got) == [f.name for f in dataclasses.fields(Signal) if f.name in expected]  # same order
    assert Signal.from_dict(got) == sig


def _bytes_receivers(crawler: Any) -> list[Any]:
    from pydispatch import dispatcher  # type: ignore[import-untyped]

    return list(dispatcher.getAllReceivers(crawler.signals.sender, scrapy_signals.bytes_received))


def test_size_cap_handler_is_connected_only_while_site_files_download(tmp_path: Path) -> None:
    before, _ = _guard(tmp_path)
    guard, crawler = before.guard.sites, before.crawler
    assert not _bytes_receivers(crawler)  # nothing downloading: pages pay no per-chunk dispatch
    guard._watch_bytes()
    assert len(_bytes_receivers(crawler)) == 1
    from twisted.internet.defer import Deferred

    one: Deferred[None] = Deferred()
    two: Deferred[None] = Deferred()
    guard._inflight.update({one, two})
    guard._fetch_done(None, one)
    assert len(_bytes_receivers(crawler)) == 1  # another fetch is still in flight
    guard._fetch_done(None, two)
    assert not _bytes_receivers(crawler)
    guard._bytes_always = True  # Scrapy's own robots.txt request, marked as a site file
    guard._watch_bytes()
    guard._fetch_done(None, one)
    assert len(_bytes_receivers(crawler)) == 1


# -- the shared evaluation path: memoised signals, one path per URL, the head tokens ----

_PATH_URL = st.builds(
    lambda scheme, sep, host, rest, frag: scheme + sep + host + rest + frag,
    st.sampled_from(["http", "HTTPS", "x+y.z-1", "1http", ""]),
    st.sampled_from(["://", ":/", ":", "//", ":///"]),
    st.sampled_from(["example.com", "u:p@h:80", "[::1]", "[::1", "h]", "ex\tample.com", "bü.de", "", "a b"]),
    st.lists(
        st.sampled_from(
            [
                "/",
                "a",
                "?",
                "q=1",
                "&",
                "%41",
                "%zz",
                "%",
                " ",
                "\t",
                "\n",
                "\r",
                "ü",
                "*",
                "$",
                ";p",
                "[",
                "]",
                "//",
                ":",
                "@",
                '"',
                "<",
                "\x00",
                "\x7f",
            ]
        ),
        max_size=6,
    ).map("".join),
    st.sampled_from(["", "#", "#f", "#a\tb", "#ü", "#?x", "##"]),
)


@settings(max_examples=1000, deadline=None)
@given(_PATH_URL)
def test_tdmrep_path_of_is_urlsplit(url: str) -> None:
    assert tdmrep._path_of(url) == tdmrep._slow_path_of(url)


@settings(max_examples=500, deadline=None)
@given(_PATH_URL)
def test_site_signals_share_one_path(url: str) -> None:
    """Memoised signals and the path computed once give what fresh files, asked apart, give."""
    from noai_guard.robots import RobotsTxt, ai_txt_signals

    robots = b"User-agent: examplebot\nDisallow: /a\nContent-Usage: /%41 train-ai=n\nDisallow: /*$\n"
    robots += b"User-agent: GPTBot\nDisallow: /q\n"
    tdm = b'[{"location": "/a", "tdm-reservation": 1}, {"location": "/", "tdm-reservation": 0}]'
    ai = b"User-agent: *\nDisallow: *.gif\nDisallow: /a\n"
    for purpose in d.PURPOSES:
        policy = Policy(user_agents=("examplebot",), purpose=purpose)
        files = [
            (
                RobotsTxt.parse(robots, ORIGIN + "/robots.txt"),
                tdmrep.TdmrepFile.parse(tdm, ORIGIN + "/t"),
                RobotsTxt.parse(ai, ORIGIN + "/ai.txt"),
            ),
            (
                RobotsTxt.unreachable(ORIGIN + "/robots.txt", "HTTP 500"),
                tdmrep.TdmrepFile.unreachable(ORIGIN + "/t", "HTTP 500"),
                RobotsTxt.unreachable(ORIGIN + "/ai.txt", "HTTP 500"),
            ),
            (
                RobotsTxt.unavailable(ORIGIN + "/robots.txt", "HTTP 404"),
                tdmrep.TdmrepFile.parse(b"{", ORIGIN + "/t"),
                RobotsTxt.unavailable(ORIGIN + "/ai.txt", "HTTP 404"),
            ),
        ]
        for r, t, a in files:
            for _ in range(2):  # the second round is answered from the memos
                got = site_signals(url, policy, robots=r, tdmrep_file=t, ai_txt=a)
                # Fresh parses, each asked on its own (no memo, no shared path).
                fr = (
                    RobotsTxt.parse(robots, r.url)
                    if r.state == "ok"
                    else r.__class__(r.url, r.state, r.status, r.detail)
                )
                ft = tdmrep.TdmrepFile(t.url, t.state, t.detail, t.rules)
                fa = (
                    RobotsTxt.parse(ai, a.url)
                    if a.state == "ok"
                    else a.__class__(a.url, a.state, a.status, a.detail)
                )
                want = fr.signals(url, policy) + ft.signals(url, policy) + ai_txt_signals(fa, url, policy)
                assert got == want


_TOKEN_SETS = st.lists(
    st.sampled_from(["noai", "noimageai", "noml", "no", "n", "", "a.b", "a*", "tdm-x", "x"]), max_size=4
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_SIGNALS, max_size=6),
    st.booleans(),
    st.sampled_from([frozenset(d.SIGNALS), frozenset({d.TDMREP})]),
)
def test_decide_discounts_and_layers_as_before(
    sigs: list[Signal], honour: bool, sources: frozenset[str]
) -> None:
    from noai_guard.policy import _discount, _layer_tdmrep

    policy = Policy(honour_legacy=honour, sources=sources)
    slow = _layer_tdmrep([_discount(s, policy) for s in sigs])
    assert decide("http://e.com/", sigs, policy).signals == tuple(slow)


def test_robots_signals_alternating_policies_match_fresh_parses() -> None:
    """The per-file cache of the last policy's groups never answers for another policy."""
    from noai_guard.robots import RobotsTxt

    body = (
        b"User-agent: examplebot\nDisallow: /private/\nContent-Signal: ai-train=no\n\n"
        b"User-agent: otherbot\nDisallow: /\n\nUser-agent: GPTBot\nDisallow: /g/\n\n"
        b"User-agent: CCBot\nDisallow: /\nLicense: https://e.com/l\n\nUser-agent: *\nDisallow: /star/\n"
    )
    policies = [
        Policy(user_agents=("examplebot",)),
        Policy(user_agents=("otherbot",)),
        Policy(user_agents=("examplebot",), purpose=d.SEARCH),
        Policy(user_agents=("nobot",), proxy_tokens=("CCBot",)),
        Policy(user_agents=("examplebot", "otherbot"), proxy_tokens=()),
        Policy(user_agents=()),
    ]
    shared = RobotsTxt.parse(body, ORIGIN + "/robots.txt")
    for _ in range(2):
        for policy in policies:
            for path in ("/", "/private/x", "/g/1", "/star/", "/robots.txt"):
                fresh = RobotsTxt.parse(body, ORIGIN + "/robots.txt")
                assert shared.signals(ORIGIN + path, policy) == fresh.signals(ORIGIN + path, policy)


_HEADER_NAMES = st.sampled_from(
    [
        "X-Robots-Tag",
        " x-robots-tag ",
        "TDM-Reservation",
        "tdm-policy",
        "Content-Usage",
        "content-signal\t",
        "Content-Type",
        "Server",
        "X-Robots",
        "tdm-reservations",
        "Link",
    ]
)
_HEADER_VALUES = st.sampled_from(["noai", "1", "0", "train-ai=n", "ai-train=no", "text/html", "x"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=5), st.sampled_from(d.PURPOSES))
def test_header_prefilter_skips_only_empty_results(headers: list[tuple[str, str]], purpose: str) -> None:
    """response_signals skips the header readers only when all three would return []."""
    policy = Policy(user_agents=("examplebot",), purpose=purpose)
    url = ORIGIN + "/p.html"
    slow = directives.header_signals(headers, url, policy)
    slow += tdmrep.header_signals(headers, url, policy)
    slow += aipref.header_signals(headers, url, policy)
    assert response_signals(url, policy, headers=headers, content_type="text/html") == slow


_POOL = [
    Signal(d.ROBOTS_TXT, Verdict.ALLOW, d.AI_TRAIN, "Allow: /", "http://e/robots.txt", d.LOC_ROBOTS, 2),
    Signal(
        d.ROBOTS_TXT, Verdict.RESERVE, d.AI_TRAIN, "Disallow: /p/", "http://e/robots.txt", d.LOC_ROBOTS, 3
    ),
    Signal(d.TDMREP, None, d.AI_TRAIN, "", "http://e/.well-known/tdmrep.json", d.LOC_TDMREP_FILE),
    Signal(
        d.TDMREP, Verdict.RESERVE, d.AI_TRAIN, "{}", "http://e/.well-known/tdmrep.json", d.LOC_TDMREP_FILE
    ),
    Signal(d.AI_TXT, Verdict.UNKNOWN, d.AI_TRAIN, "", "http://e/ai.txt", d.LOC_AI_TXT),
    Signal(d.LEGACY_AI_TRAINING, Verdict.RESERVE, d.AI_TRAIN, "DisallowAITraining: /", "x", "y", legacy=True),
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.lists(st.sampled_from(range(len(_POOL))), max_size=4), st.booleans()), max_size=12),
    st.sampled_from([Policy(), Policy(unknown_as={d.AI_TXT: Verdict.ALLOW}, honour_legacy=True)]),
)
def test_decision_memo_is_decide(calls: list[tuple[list[int], bool]], policy: Policy) -> None:
    from noai_guard.policy import DecisionMemo

    memo = DecisionMemo(policy, size=3)  # small: the clearing path runs too
    for n, (picks, copy) in enumerate(calls):
        # ``copy``: equal signals in new objects (the memo must not rely on equality alone).
        sigs = [dataclasses.replace(_POOL[i]) if copy else _POOL[i] for i in picks]
        url = f"http://e/{n}"
        got = memo.decide(url, sigs)
        assert got == decide(url, sigs, policy)
        assert got.url == url


def test_decision_memo_never_trusts_a_reused_id() -> None:
    from noai_guard.policy import DecisionMemo

    memo = DecisionMemo(Policy())
    allow = [dataclasses.replace(_POOL[0])]
    memo.decide("http://e/1", allow)
    key = tuple(map(id, allow))
    held, _ = memo._memo[key]
    assert held[0] is allow[0]  # the memo holds the signals: their ids cannot be reused
    # A list whose ids collide with a held key but whose objects differ is decided afresh.
    memo._memo[key] = ([_POOL[1]], decide("http://e/0", [_POOL[1]], Policy()))
    assert memo.decide("http://e/2", allow).verdict is Verdict.ALLOW


def test_trail_line_survives_text_orjson_refuses() -> None:
    import json

    from noai_guard.auditlog import dumps_line

    ok = {"url": "http://e/é", "line": 3, "own_token": None, "signals": [{"verdict": "reserve"}]}
    assert dumps_line(ok) == (json.dumps(ok, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    odd = {"url": "http://e/\udc80", "big": 1 << 70, 7: "int key"}
    line = dumps_line(odd)
    assert line.endswith(b"\n")
    assert json.loads(line) == {"url": "http://e/\udc80", "big": 1 << 70, "7": "int key"}


def test_debug_lines_only_when_a_handler_emits_them() -> None:
    import logging

    log = logging.getLogger("noai_guard.test_emits.child")
    parent = logging.getLogger("noai_guard.test_emits")
    handler = logging.StreamHandler()
    parent.addHandler(handler)
    parent.propagate = False
    parent.setLevel(logging.DEBUG)  # as Scrapy leaves loggers: every level passes to the handlers
    try:
        handler.setLevel(logging.INFO)
        assert not crawlpage.emits(log, logging.DEBUG)
        assert crawlpage.emits(log, logging.INFO)
        handler.setLevel(logging.DEBUG)
        assert crawlpage.emits(log, logging.DEBUG)
        log.setLevel(logging.INFO)  # the logger's own level filters first
        assert not crawlpage.emits(log, logging.DEBUG)
    finally:
        log.setLevel(logging.NOTSET)
        parent.setLevel(logging.NOTSET)
        parent.removeHandler(handler)
        parent.propagate = True


_REAL = Path(__file__).parent / "data" / "realworld"


def _paths_for(patterns: list[str], rng: Any) -> list[str]:
    """Paths around each rule pattern: itself, extended, cut short, with wildcards filled, and noise."""
    out = ["/", "/robots.txt", "/robots.txt?x", "/index.html", "/a/b.gif", "/a/b.php", "/x?y=1", "/%7Euser/"]
    for p in patterns:
        body = p.rstrip("$")
        filled = body.replace("*", rng.choice(["", "x", "a/b", "?q=1"]))
        out += [filled, filled + "x", filled + "/deeper.php", filled[:-1] or "/", filled.upper()]
    return out


@pytest.mark.parametrize("robots_name", sorted(p.name for p in _REAL.glob("*.robots.txt")))
@pytest.mark.parametrize(
    "policy",
    [
        Policy(user_agents=("examplebot",)),
        Policy(user_agents=("GPTBot",), purpose=d.SEARCH),
        Policy(user_agents=("CCBot", "Googlebot"), honour_legacy=True),
    ],
    ids=["default", "gptbot-search", "two-tokens"],
)
def test_site_eval_decides_as_site_signals(robots_name: str, policy: Policy) -> None:
    """The per-origin shortcut gives every URL of real files the full evaluation's result."""
    import random

    from noai_guard.evaluate import SiteEval

    origin = "https://example.org"
    robots = from_fetch("robots", origin + "/robots.txt", status=200, body=(_REAL / robots_name).read_bytes())
    tdm_files = [from_fetch("tdmrep", origin + "/.well-known/tdmrep.json", status=404)]
    tdm_files += [
        from_fetch("tdmrep", origin + "/.well-known/tdmrep.json", status=200, body=p.read_bytes())
        for p in sorted(_REAL.glob("*.tdmrep.json"))
    ]
    for body in (
        (
            b'[{"location": "/reserved/", "tdm-reservation": 1}, {"location": "/images/*.jpg$", "tdm-reservation": 1},'
            b' {"location": "/", "tdm-reservation": 0}]'
        ),
        b'[{"location": "*.png", "tdm-reservation": 1}, {"location": "/reserved", "tdm-reservation": 0}]',
    ):
        tdm_files.append(from_fetch("tdmrep", origin + "/.well-known/tdmrep.json", status=200, body=body))
    ai_files = [
        from_fetch("ai-txt", origin + "/ai.txt", status=200, body=p.read_bytes())
        for p in sorted(_REAL.glob("*.ai.txt"))
    ]
    text = (_REAL / robots_name).read_text("utf-8", "replace")
    patterns = [
        line.split(":", 1)[1].split("#", 1)[0].strip()
        for line in text.splitlines()
        if ":" in line and line.split(":", 1)[0].strip().lower() in ("allow", "disallow", "content-usage")
    ]
    patterns = [p.split()[0] for p in patterns if p.startswith(("/", "*"))]
    patterns += ["/wp-admin/", "/*.gif", "/reserved/", "/images/*.jpg", "/x/*.png"]
    rng = random.Random(robots_name)
    paths = _paths_for(patterns, rng)
    checked = shortcut = 0
    for tdm in tdm_files:
        for ai in ai_files:
            ev = SiteEval(policy, robots=robots, tdmrep_file=tdm, ai_txt=ai)  # type: ignore[arg-type]
            for path in paths:
                url = origin + (path if path.startswith("/") else "/" + path)
                sigs, decision = ev.evaluate(url)
                want = site_signals(url, policy, robots=robots, tdmrep_file=tdm, ai_txt=ai)  # type: ignore[arg-type]
                assert sigs == want, url
                assert decision == decide(url, want, policy), url
                checked += 1
            shortcut += ev._default is not None
    assert checked > 100
    assert shortcut  # the shortcut was taken for some file combination


def test_site_eval_evaluates_large_files_in_full() -> None:
    """Past the size where screening pays, every URL takes the full evaluation, with the same result."""
    from noai_guard.evaluate import _MAX_ALTERNATIVES, SiteEval

    lines = ["User-agent: *"] + [f"Disallow: /d{i}/" for i in range(_MAX_ALTERNATIVES + 1)]
    origin = "https://example.org"
    robots = from_fetch("robots", origin + "/robots.txt", status=200, body="\n".join(lines).encode())
    policy = Policy(user_agents=("examplebot",))
    ev = SiteEval(policy, robots=robots)  # type: ignore[arg-type]
    assert ev._default_re is None
    for path in ("/", "/d7/x", f"/d{_MAX_ALTERNATIVES}/", "/other"):
        url = origin + path
        sigs, decision = ev.evaluate(url)
        want = site_signals(url, policy, robots=robots)  # type: ignore[arg-type]
        assert sigs == want
        assert decision == decide(url, want, policy)
    assert ev.evaluate(origin + "/d7/x")[1].blocked
    assert ev._default is None  # the shortcut was never taken
