"""Issue 13's per-page fast paths (crawl hooks, engine, audit) give what the slow paths give.

Each fast path is checked against the computation it replaces: on generated
inputs (hypothesis) and, when ``../shared/realpages/pages.tar.xz`` is there,
on the real pages the benchmarks use.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from w3lib.url import safe_url_string

from noai_guard.content import PayloadReader, State
from noai_guard.decision import Verdict
from noai_guard.engine import Judge, Judgement, Page, media_key
from noai_guard.htmlhead import embedded_images
from noai_guard.policy import Policy

# --- the key an embedded image is remembered by -------------------------------------------------


def _slow_key(url: str) -> str:
    """What the crawl keyed an image by before the fast path: safe_url_string, fragment dropped."""
    with contextlib.suppress(ValueError, UnicodeError):
        url = safe_url_string(url)
    return url.split("#", 1)[0]


_AUTHORITIES = [
    "a.com",
    "A.Com",
    "www.example.org",
    "ex-ample.co.uk",
    "a.com.",
    "a..b",
    "-a.com",
    "a_b.com",
    "xn--nxasmq6b.com",
    "xn--a.com",
    "\u00e9t\u00e9.fr",
    "ma\u00dfe.de",
    "127.0.0.1",
    "1.2.3",
    "0x7f.1",
    "[::1]",
    "[::1",
    "%41.com",
    "a%2eb.com",
    "user@a.com",
    "u:p@a.com",
    "@a.com",
    "a.com:80",
    "a.com:443",
    "a.com:8080",
    "a.com:0080",
    "a.com:",
    "a.com:99999",
    "a.com:x",
    "exa mple.com",
    "a\tb.com",
    "",
    "\ud800.com",
    "a.com@b.com",
    "a.com\\b",
]
_SEGMENTS = [
    "",
    "a",
    "img",
    "x.png",
    ".",
    "..",
    "%2e",
    "%2E",
    ".%2e",
    "a b",
    "%20",
    "%zz",
    "%",
    "\u00e9",
    "|",
    "[",
    "]",
    "'",
    '"',
    "<",
    ">",
    "`",
    "{",
    "}",
    "^",
    "\\",
    "\t",
    "~",
    "!$&()*+,;=:@",
    "\ud800",
    ".well-known",
    "a.",
]
_QUERIES = ["", "?", "?a=1", "?a=1&b=2", "?q='x'", "?a b", "?a=%41", "?x?y", "?\u00e9", "?/../x", "?#"]
_FRAGMENTS = ["", "#", "#f", "#a b", "#\u00e9", "#x#y"]


@st.composite
def _urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https", "ftp", "data"]))
    sep = draw(st.sampled_from(["://", "://", "://", ":/", ":///", ":"]))
    authority = draw(st.sampled_from(_AUTHORITIES) | st.text(max_size=12))
    path = "".join(
        "/" + s for s in draw(st.lists(st.sampled_from(_SEGMENTS) | st.text(max_size=6), max_size=5))
    )
    query = draw(st.sampled_from(_QUERIES) | st.text(max_size=8).map(lambda t: "?" + t))
    fragment = draw(st.sampled_from(_FRAGMENTS))
    pad = draw(st.sampled_from(["", " ", "\n"]))
    return f"{scheme}{sep}{authority}{path}{query}{fragment}{pad}"


@st.composite
def _plain_urls(draw: st.DrawFn) -> str:
    """A plain http(s) URL with one odd piece: where the fast path's bounds lie."""
    authority = draw(st.sampled_from(["a.com", "127.0.0.1:8080", "A.com", "a.com:80"]))
    path = draw(st.sampled_from(["/x.png", "/a/b/", "/", "/a b", "/x'y", "/%7C", "/a|b", "/./x", "/a/.."]))
    query = draw(st.sampled_from(_QUERIES))
    return f"http://{authority}{path}{query}{draw(st.sampled_from(_FRAGMENTS))}"


@pytest.mark.parametrize(
    "url",
    [
        "http://a.com/x?q='x'",  # "'" is percent-encoded in a special URL's query, not in its path
        "http://a.com/x'y",
        "http://a.com/x?",  # an empty query is dropped
        "http://a.com/x#",
        "http://A.COM/x",
        "http://a.com:80/x",
        "http://127.0.0.1:8080/x.png",
        "http://a.com:99999/x.png#f",  # w3lib refuses it: kept as it is
        "http://é.com/x",
        "http://xn--nxasmq6b.com/x",
        "http://a.com/%2e%2E/x",
        "http://a.com/./x",
        "http://a.com/x/..",
        "http://a.com/a|b",
        "http://u:p@a.com/x",
        "http:///a.com/x",
        "http:/a.com/x",
        "http://a.com\\x/y",
        "http://a.com/x\ty",
    ],
)
def test_media_key_bounds(url: str) -> None:
    assert media_key(url) == _slow_key(url)


@settings(max_examples=3000, deadline=None)
@given(url=_urls() | _plain_urls() | st.text(max_size=40).map(lambda t: "http://a.com/" + t))
def test_media_key_is_safe_url_string(url: str) -> None:
    assert media_key(url) == _slow_key(url)


def test_media_key_on_real_page_images(real_pages: list[tuple[str, bytes]]) -> None:
    """Every image URL of the real pages (resolved against a host name and an IP and port) keys as before."""
    n = 0
    for name, body in real_pages:
        for base in ("https://www.example.com/", "http://127.0.0.1:8080/m/"):
            for url in embedded_images(body, base + name):
                assert media_key(url) == _slow_key(url), url
                n += 1
    assert n > 5000


# --- a streamed page is judged as the same page held in memory -------------------------------------


def _verdict(j: Judgement) -> tuple[object, ...]:
    """What a judgement decides, and on what: the verdict, the deciding evidence, the page's non-allow signals."""
    dec = j.decision
    evidence = None if dec.decided_by is None else (dec.decided_by.name, dec.decided_by.evidence)
    page = [
        (s.name, s.verdict, s.evidence)
        for s in j.page
        if s.verdict is not None and s.verdict.value != "allow"
    ]
    return dec.verdict, dec.blocked, evidence, page


def _both(body: bytes, policy: Policy) -> tuple[Judgement, Judgement]:
    judge = Judge(policy)
    limit = max(policy.html_budget + 1, 5000)
    headers = [("Content-Type", "text/html")]
    streamed = PayloadReader(io.BytesIO(body), codings=("", ""), limit=limit)  # as the audit reads a record
    a = judge.after_fetch(Page("http://example.com/p", headers=headers, body=streamed), None)
    b = judge.after_fetch(Page("http://example.com/p", headers=headers, body=body), None)
    return a, b


_HEAD_PARTS = [
    b"<title>t &#233;</title>",
    b'<meta name="robots" content="noai">',
    b'<meta name="robots" content="index, follow">',
    b'<meta name="tdm-reservation" content="1">',
    b"<script>var s = '</head><body>';</script>",
    b"<!-- </head> -->",
    b'<link rel="preload" href="/a">' * 50,
    b"<style>" + b"a{}" * 3000 + b"</style>",
    b"<script>" + b"x=1;" * 3000 + b"</script>",
    b'<META NAME="ROBOTS" CONTENT="NOAI">',
    b'<template><meta name="robots" content="noai"></template>',  # the scan is unsure: grown, then read
    b"<title>\x00</title>",
    b"<noscript><style>x{}</style></noscript>",
]


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.sampled_from(_HEAD_PARTS), max_size=12),
    end=st.sampled_from([b"</head><body>", b"</HEAD><BODY>", b"<body>", b"<div>", b""]),
    tail=st.integers(0, 70_000),
    budget=st.sampled_from([None, 20_000]),
)
def test_streamed_page_is_judged_as_in_memory(
    parts: list[bytes], end: bytes, tail: int, budget: int | None
) -> None:
    """The audit reads a record's payload 32 KB first (no search for the head's end; a prefix the head
    runs past is grown without being read), the crawl reads the page to the budget at once: both
    decide alike, whatever the head's length."""
    policy = Policy(html_budget=budget) if budget else Policy()
    body = (
        b"<!DOCTYPE html><html><head>" + b"".join(parts) + end + b"<p>" + b"x" * tail + b"</p></body></html>"
    )
    a, b = _both(body, policy)
    assert _verdict(a) == _verdict(b)


def test_streamed_real_pages_are_judged_as_in_memory(real_pages: list[tuple[str, bytes]]) -> None:
    policy = Policy()
    for name, body in real_pages:
        for variant in (
            body,
            body.replace(b"<head>", b'<head><meta name="robots" content="noai">', 1),
            body.replace(b"</head>", b'<meta name="tdm-reservation" content="1"></head>', 1),
        ):
            a, b = _both(variant, policy)
            assert _verdict(a) == _verdict(b), name


class _Short(io.BytesIO):
    """A payload stream that returns at most ``n`` bytes per read, as a network or decoder might."""

    def __init__(self, data: bytes, n: int) -> None:
        super().__init__(data)
        self.n = n

    def read(self, size: int | None = -1) -> bytes:
        return super().read(self.n if size is None or size < 0 else min(size, self.n))


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=3000),
    chunk=st.integers(1, 4000),
    limits=st.lists(st.integers(0, 3500), min_size=1, max_size=4),
)
def test_streamed_reads_without_a_stop_give_the_prefix(data: bytes, chunk: int, limits: list[int]) -> None:
    """A read with no stop pattern is one read of what is missing: the same prefix, eof and state."""
    pr = PayloadReader(_Short(data, chunk), codings=("", ""))
    furthest = 0
    for limit in limits:
        got = pr.read_until(limit)
        furthest = max(furthest, limit)
        assert got == data[:limit]
        assert type(got) is bytes
        assert pr.eof == (furthest > len(data))  # the end is known once a read asked past it
        assert pr.state == ((State.WHOLE, "") if pr.eof else (State.LIMIT, "stopped at the byte budget"))


# --- a page held in memory, read without a reader object ----------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    body=st.binary(max_size=200)
    | st.sampled_from(
        [
            b"",
            b"<html><head><title>t</title></head><body>x",
            b'<html><head><meta name="robots" content="noai"></head><body>',
            b'<html><head><meta name="robots" content="noai">' + b"<link>" * 2000,
            b"\xff\xfe<\x00h\x00t\x00m\x00l\x00>\x00",
            b"%PDF-1.4 <html>",
        ]
    ),
    pad=st.sampled_from([0, 4999, 5000, 6000, 20_000]),
    cut=st.booleans(),
    content_type=st.sampled_from(
        [None, "text/html", "text/plain", "image/png", "text/html; charset=utf-16", ""]
    ),
    response_class=st.sampled_from(["none", "html", "text", "plain"]),
    budget=st.sampled_from([1024, 5000, 5001, 8192, 262_144]),
    strict=st.booleans(),
)
def test_in_memory_read_is_read_page(
    body: bytes, pad: int, cut: bool, content_type: str | None, response_class: str, budget: int, strict: bool
) -> None:
    from scrapy.http import HtmlResponse, Response, TextResponse

    from noai_guard.engine import _read_bytes, read_page

    body += b" " * pad
    policy = Policy(html_budget=budget, html_strict=strict)
    rc = {"none": None, "html": HtmlResponse, "text": TextResponse, "plain": Response}[response_class]
    headers = [] if content_type is None else [("Content-Type", content_type)]
    page = Page("http://example.com/p.jpg", headers=headers, body=body, content_type=content_type, cut=cut)
    url = page.url
    slow = read_page(
        page.reader(max(budget + 1, 5000)), url, content_type, policy, headers=headers, response_class=rc
    )
    fast = _read_bytes(body, cut, url, content_type, policy, headers, rc)
    assert fast == slow


# --- objects built once per page, positionally -------------------------------------------------


def test_positional_builds_follow_the_field_order() -> None:
    """crawl/page.py and auditing.py build Page positionally (once per page): the field order
    they rely on, and Decision.for_url's copy."""
    import dataclasses

    from noai_guard.decision import Decision, Signal, Verdict

    sig = Signal("meta-robots", Verdict.RESERVE, "ai-train", "<meta>", "http://a/", "meta")
    dec = Decision("http://a/", "ai-train", Verdict.RESERVE, True, sig, "r", (sig,), None, "h", {"k": 1})
    moved = dec.for_url("http://b/")
    assert moved == Decision(
        "http://b/", "ai-train", Verdict.RESERVE, True, sig, "r", (sig,), None, "h", {"k": 1}
    )
    assert moved.extra is not dec.extra  # its own copy
    assert [f.name for f in dataclasses.fields(Page)] == [
        "url",
        "status",
        "headers",
        "body",
        "content_encoding",
        "chunked",
        "content_type",
        "response_class",
        "cut",
        "read",
    ]


# --- which pages are read again as binding their images -----------------------------------------


def _media_reference(judge: Judge, page: Page, judgement: Judgement) -> object:
    """``embedded_media`` with no shortcut: every HTML page's directives read again as binding an image."""
    from noai_guard import directives
    from noai_guard.policy import decide

    if judgement.head is None:
        return None
    policy = judge.policy
    sigs = directives.header_signals(list(page.headers), page.url, policy, is_image=True)
    sigs += directives.meta_signals(judgement.head, page.url, policy, is_image=True)
    as_image = decide(page.url, sigs, policy)
    if not (as_image.blocked and as_image.verdict is Verdict.RESERVE and as_image.decided_by is not None):
        return None
    return as_image.decided_by


_MEDIA_METAS = [
    b'<meta name="robots" content="noai">',
    b'<meta name="robots" content="noimageai">',
    b'<meta name="robots" content="index, follow">',
    b'<meta name="otherbot" content="noai">',
    b'<meta name="examplebot" content="noimageai">',
    b'<meta name="robots" content="examplebot: noml">',
    b'<meta name="tdm-reservation" content="1">',
    b'<link rel="preload" href="/x">' * 40,
]


@settings(max_examples=300, deadline=None)
@given(
    metas=st.lists(st.sampled_from(_MEDIA_METAS), max_size=5),
    closed=st.booleans(),
    xrt=st.sampled_from([None, "noai", "noimageai", "otherbot: noai", "index", "examplebot: noimageai"]),
    lenient=st.booleans(),
    budget=st.sampled_from([None, 300]),
    purpose=st.sampled_from(["ai-train", "ai-input", "search"]),
)
def test_images_are_read_from_the_pages_that_may_reserve_them(
    metas: list[bytes], closed: bool, xrt: str | None, lenient: bool, budget: int | None, purpose: str
) -> None:
    """The media gate skips only pages whose image reading reserves nothing: ALLOW and UNKNOWN page signals."""
    kw: dict[str, object] = {"user_agents": ("examplebot",), "lenient_noimageai": lenient, "purpose": purpose}
    if budget:
        kw["html_budget"] = budget
    policy = Policy(**kw)  # type: ignore[arg-type]
    judge = Judge(policy)
    html = b"<html><head>" + b"".join(metas) + (b"</head><body>" if closed else b"")
    html += b'<img src="/a.png"><p>x</p>'
    headers = [("Content-Type", "text/html")] + ([("X-Robots-Tag", xrt)] if xrt else [])
    page = Page("http://example.com/p", headers=headers, body=html)
    judgement = judge.after_fetch(page, None)
    got = judge.embedded_media(page, judgement)
    want = _media_reference(judge, page, judgement)
    assert (None if got is None else got.signal) == want
    if got is not None:
        assert got.urls == ("http://example.com/a.png",)
