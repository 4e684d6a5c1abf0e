"""A reserving page's head built from its metas alone (issue 13): the same signals as ``read_head``.

When the head scan finds the head's end and a candidate meta, ``scan_head`` reads the metas
that can yield a signal on their own (``evaluate._head_of_metas``) instead of parsing the head
with lxml.  Every test compares every signal (allow observations, notes and evidence
included) with what the full reader's head gives, with the C scan and with the pure-Python
one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noai_guard import directives, evaluate, htmlscan, tdmrep
from noai_guard.decision import Signal
from noai_guard.evaluate import scan_head
from noai_guard.htmlhead import Head, read_head
from noai_guard.policy import Policy

POLICY = Policy(user_agents=("ExampleBot",))
URL = "https://example.com/p"
N = b"<meta name=robots content=noai>"
_BUILT: list[Head] = []


@pytest.fixture(params=["c", "python"], autouse=True)
def scan_impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with the C scan and with the pure-Python one."""
    fn = htmlscan.scan_head_tags_c if request.param == "c" else htmlscan.scan_head_tags_py
    if fn is None:
        pytest.skip("the C extension is not built")
    monkeypatch.setattr(evaluate, "scan_head_tags", fn)
    return str(request.param)


@pytest.fixture(autouse=True)
def built(monkeypatch: pytest.MonkeyPatch) -> list[Head]:
    """The heads ``scan_head`` built from metas (``_head_of_metas``)."""
    out = _BUILT
    out.clear()
    real = evaluate._head_of_metas

    def recording(*args: object) -> Head | None:
        head = real(*args)  # type: ignore[arg-type]
        if head is not None:
            out.append(head)
        return head

    monkeypatch.setattr(evaluate, "_head_of_metas", recording)
    return out


def decisive(sigs: list[Signal]) -> list[tuple[str, object, str]]:
    return sorted(
        (s.name, s.verdict, s.evidence) for s in sigs if s.verdict is not None and s.verdict.value != "allow"
    )


@pytest.fixture
def full_reads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bodies ``scan_head`` hands to ``read_head`` (the real one, called through)."""
    calls: list[bytes] = []

    def counting(body: bytes, **kw: object) -> Head:
        calls.append(body)
        return read_head(body, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(evaluate, "read_head", counting)
    return calls


def signals(head: Head, policy: Policy = POLICY, *, is_image: bool = False) -> list[Signal]:
    return directives.meta_signals(head, URL, policy, is_image=is_image) + tdmrep.meta_signals(
        head, URL, policy
    )


def check(body: bytes, policy: Policy = POLICY, *, eof: bool = True) -> Head:
    """``scan_head``'s head yields exactly the signals of ``read_head``'s; returns it.

    A head without a candidate meta (``Head((), True, end)``, no parse) may leave out
    allow observations (tests/test_scan_head.py): only decisive signals are compared for it.
    """
    budget = policy.html_budget
    if not eof and len(body) <= budget:
        budget = max(len(body) - 1, 0)
    fast = scan_head(body, policy, eof=eof)
    full = read_head(body, budget=budget)
    if fast.metas == () and fast.complete and not any(h is fast for h in _BUILT):
        assert decisive(signals(fast, policy)) == decisive(signals(full, policy)), body
        assert fast.complete == full.complete, body
        return fast
    assert signals(fast, policy) == signals(full, policy), body
    assert signals(fast, policy, is_image=True) == signals(full, policy, is_image=True), body
    assert fast.complete == full.complete, body
    # Its metas are read_head's, in the same order (the ones that cannot yield a signal left out).
    it = iter(full.metas)
    assert all(m in it for m in fast.metas), (fast, full)
    return fast


# --- hand cases ------------------------------------------------------------------------------------

REF_SPELLINGS = [
    b'<meta name="robots" content="noai">',
    b"<meta name='robots' content='noimageai'>",
    b"<meta name=robots content=noai>",
    b'<META NAME="ROBOTS" CONTENT="NOAI">',
    b'<meta content="noai, noimageai" name="robots">',
    b'<meta name="robots" content="no&#97;i">',
    b'<meta name="robots" content="&#X6E;&#x4F;AI">',
    b'<meta name="r&#111;bots" content="noai">',
    b'<meta name="robots" content="index, follow, no&#97;i" data-x="a&amp;b &quot;q&quot;">',
    b'<meta name="robots" name="description" content="noai">',  # the first name wins
    b'<meta name="robots" content="noai" content="index">',
    b'<meta\nname="robots"\r\ncontent="noai\r\n"/>',
    b'<meta name=" Robots " content="noai">',
    b'<meta property="robots" content="noai">',
    b'<meta name="GPTBot" content="noai">',
    b'<meta name="examplebot" content="noimageai">',
    b'<meta name="otherbot" content="noai">',  # another crawler's: recorded, verdict None
    b'<meta name="tdm-reservation" content="1">',
    b'<meta name="tdm:reservation" content="1"><meta name="tdm-policy" content="https://e.example/p">',
    b'<meta name="&#116;dm-reservation" content="1">',
    b'<meta name="robots" content="noai" x="\xc3\xa9\xff">',  # non-ASCII and invalid UTF-8
    b'<meta name="robots" content="ExampleBot: noai, otherbot: noml">',
]


def _page(meta: bytes, where: str) -> bytes:
    head = (
        b"<!DOCTYPE html><html><head><meta charset=utf-8><title>Caf&#233; &amp; Joe&#39;s</title>"
        b'<meta name="description" content="Joe&#39;s caf&#xE9;, noai in a description">'
        b'<meta name="robots" content="index, follow">'
        b'<meta property="og:title" content="&#x201C;x&#x201D;"><link rel=icon href=/i.png>'
        b"<script>var s = '<meta name=robots content=noai>';</script>"
    )
    if where == "start":
        return head.replace(b"<head>", b"<head>" + meta) + b"</head><body><p>x</p></body></html>"
    if where == "end":
        return head + meta + b"</head><body><p>x</p></body></html>"
    if where == "after-head":
        return head + b"</head>\n" + meta + b"\n<body><p>x</p></body></html>"
    if where == "noscript":
        return head + b"<noscript>" + meta + b"</noscript></head><body><p>x</p></body></html>"
    if where == "no-head-tag":
        return meta + b"<title>t</title><p>x"
    raise AssertionError(where)


PLACES = ["start", "end", "after-head", "noscript", "no-head-tag"]


@pytest.mark.parametrize("where", PLACES)
@pytest.mark.parametrize("meta", REF_SPELLINGS)
def test_the_fast_head_gives_read_heads_signals(meta: bytes, where: str, full_reads: list[bytes]) -> None:
    body = _page(meta, where)
    head = check(body)
    assert full_reads == []  # read without lxml
    assert head.complete
    assert signals(head)  # each of these metas yields a signal


def test_every_robots_meta_is_kept(full_reads: list[bytes]) -> None:
    """An ``index, follow`` robots meta, an own-token meta that reserves nothing: their allow
    observations stay in the record, as the full reader gives them."""
    body = _page(b'<meta name="robots" content="noai"><meta name="ExampleBot" content="index">', "end")
    head = check(body)
    assert full_reads == []
    assert [m.content for m in head.metas if m.name in ("robots", "examplebot")] == [
        "index, follow",
        "noai",
        "index",
    ]
    assert len([s for s in signals(head) if s.verdict is not None and s.verdict.value == "allow"]) == 2


@pytest.mark.parametrize(
    "body",
    [
        # A text run the scan takes as blank may be text: "&nbsp;" starts the body.
        b"<html><head>&nbsp;" + N + b"<body>x",
        b"<html><head><title>t</title>&amp;" + N + b"<body>x",
        b"<head>&nbsp" + N,
        # "after head": a <noscript> starts the body; its metas are not the head's.
        b"<html><head></head><noscript>" + N + b"</noscript><body>x",
        b"<html><head><title>t</title></head>\n<noscript><link>" + N + b"</noscript><p>x",
    ],
)
def test_where_the_scan_runs_past_the_head_the_full_reader_decides(
    body: bytes, full_reads: list[bytes]
) -> None:
    head = check(body)
    assert head.metas == ()  # in the body: not read
    assert full_reads == [body]


@pytest.mark.parametrize(
    "body",
    [
        b"<html><head>&#32;&#x9;&Tab;" + N + b"<body>x",  # references to blanks: still the head
        b"<html><head><noscript><link></noscript></head>" + N + b"<body>x",
        b"<html><head>" + N + b"</head>&nbsp;<noscript><meta name=robots content=index></noscript><body>x",
    ],
)
def test_blanks_and_head_noscript_keep_the_fast_head(body: bytes, full_reads: list[bytes]) -> None:
    head = check(body)
    assert [m.content for m in head.metas] == ["noai"]
    # A meta past references (which may be text) is left to the full reader.
    assert full_reads == ([body] if b"&#32;" in body or b"&nbsp;" in body else [])


def test_a_page_that_goes_on(full_reads: list[bytes]) -> None:
    body = b"<html><head>" + N + b"</head><body>" + b"x" * 100
    head = check(body, eof=False)
    assert full_reads == []
    assert head.complete and [m.content for m in head.metas] == ["noai"]


def test_a_head_past_the_budget_is_read_in_full(full_reads: list[bytes]) -> None:
    policy = Policy(user_agents=("examplebot",), html_budget=500)
    body = b"<html><head>" + N + b'<meta name="x" content="y">' * 40 + b"</head><body>x"
    head = check(body, policy)
    assert not head.complete
    assert len(full_reads) == 1


def test_a_policy_with_a_non_ascii_token_reads_in_full(full_reads: list[bytes]) -> None:
    policy = Policy(user_agents=("b\u00f6t",))
    body = _page('<meta name="B\u00d6T" content="noai">'.encode(), "end")
    check(body, policy)
    assert len(full_reads) == 1


def test_a_huge_meta_that_cannot_signal_is_not_decoded(full_reads: list[bytes]) -> None:
    big = b"<meta itemprop=data content='" + b"{&quot;a&quot;: &#34;&#x2013;&#34;}" * 4_000 + b"'>"
    head = check(_page(N + big, "end"))
    assert full_reads == []
    assert all(m.name != "data" for m in head.metas)


# --- the exact scan (htmlscan, exact=True) ---------------------------------------------------------

EXACT_CASES = [
    (b"<head>" + N + b"<body>", htmlscan.HEAD_END),
    (b"<head>&nbsp;" + N + b"<body>", htmlscan.HEAD_END_LOOSE),
    (b"<head>" + N + b"&nbsp;<body>", htmlscan.HEAD_END),  # text, which ends the head after the meta
    (b"<head>&#32;" + N + b"<body>", htmlscan.HEAD_END_LOOSE),
    (b"<head> \n" + N + b"<body>", htmlscan.HEAD_END),
    (b"<head></head><noscript>" + N + b"<body>", htmlscan.HEAD_END_LOOSE),
    (b"<head><noscript>" + N + b"</noscript></head><body>", htmlscan.HEAD_END),
    (b"<head></head><noscript></noscript><link><body>", htmlscan.HEAD_END),  # no meta after it
    (b"<head><noscript></head></noscript><noscript>" + N + b"<body>", htmlscan.HEAD_END_LOOSE),
]


@pytest.mark.parametrize(("doc", "status"), EXACT_CASES)
def test_exact_scan(doc: bytes, status: int) -> None:
    tokens = (b"noai",)
    plain = htmlscan.scan_head_tags_py(doc, len(doc), True, tokens)
    assert plain[0] == htmlscan.HEAD_END
    for fn in (htmlscan.scan_head_tags_py, htmlscan.scan_head_tags_c):
        if fn is None:
            continue
        assert fn(doc, len(doc), True, tokens) == plain  # not exact: as before
        assert fn(doc, len(doc), True, tokens, False) == plain
        assert fn(doc, len(doc), True, tokens, True) == (status, plain[1], plain[2])


# --- real pages ------------------------------------------------------------------------------------

_HEAD_OPEN = re.compile(rb"<head(?:[\t\n\f\r /][^>]*)?>", re.IGNORECASE)
_HEAD_CLOSE = re.compile(rb"</head[\t\n\f\r ]*>", re.IGNORECASE)
REAL_METAS = [
    b'<meta name="robots" content="index, NoAI">',
    b"<meta name='GPTBot' content='noimageai'>",
    b"<meta content=no&#97;i name=robots>",
    b'<meta name="tdm-reservation" content="1" data-note="caf&eacute; &#x2013; &amp;">',
]


def _variants(page: bytes) -> Iterator[bytes]:
    m = _HEAD_OPEN.search(page)
    at = m.end() if m else 0
    for k, meta in enumerate(REAL_METAS):
        if k % 2 == 0:
            yield page[:at] + meta + page[at:]
        else:
            e = _HEAD_CLOSE.search(page)
            yield page[: e.start()] + meta + page[e.start() :] if e else meta + page


def test_real_pages_with_reserving_metas(
    real_pages: list[tuple[str, bytes]], full_reads: list[bytes]
) -> None:
    """The real pages, each with reserving metas put at the head's start and end: same signals;
    most go without the full reader."""
    total = reserved = 0
    for _name, page in real_pages:
        for body in _variants(page):
            fast = check(body)
            total += 1
            reserved += any(s.verdict is not None and s.verdict.value == "reserve" for s in signals(fast))
    assert reserved > total * 0.9, (reserved, total)  # the metas the readers reach
    assert len(full_reads) < total * 0.1, (len(full_reads), total)


# --- generated heads -------------------------------------------------------------------------------

_NAMES = [
    "robots",
    "ROBOTS",
    "GPTBot",
    "examplebot",
    "otherbot",
    "tdm-reservation",
    "description",
    "r&#111;bots",
]
_CONTENTS = [
    "noai",
    "index, follow",
    "no&#97;i",
    "NOIMAGEAI",
    "1",
    "a &amp; b",
    "caf\u00e9 &#x2013;",
    "examplebot: noai",
]


@st.composite
def _meta(draw: st.DrawFn) -> str:
    q = draw(st.sampled_from(['"', "'", ""]))
    name = draw(st.sampled_from(_NAMES))
    content = draw(st.sampled_from(_CONTENTS))
    if not q:
        name, content = name.replace(" ", ""), content.replace(" ", "")
    attrs = [f"name={q}{name}{q}", f"content={q}{content}{q}"]
    if draw(st.booleans()):
        attrs.reverse()
    if draw(st.booleans()):
        attrs.insert(
            draw(st.integers(0, 2)), draw(st.sampled_from(["x", "name=dup", "data-a='>'", 'b="&quot;"']))
        )
    sep = draw(st.sampled_from([" ", "\n", " / ", "\t"]))
    return "<meta " + sep.join(attrs) + draw(st.sampled_from([">", "/>", " >"]))


_FRAGMENTS = [
    "<title>T &amp; <meta name=robots content=noai></title>",
    "<script>var a = '</head><body>';</script>",
    "<style>p{}</style>",
    "<!-- <meta name=robots content=noai> -->",
    "<link rel=x href=y>",
    "<noscript>",
    "</noscript>",
    "</head>",
    "<head>",
    "\n",
    "&#32;",
    "&nbsp;",
    "x",
    "<p>",
    "<body>",
    "<base href=/>",
    "<meta charset=utf-8>",
    '<meta property="og:title" content="&#39;q&#39;">',
]


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    parts = draw(st.lists(st.one_of(_meta(), st.sampled_from(_FRAGMENTS)), max_size=10))
    parts.insert(draw(st.integers(0, len(parts))), draw(_meta()))  # at least one candidate
    start = draw(st.sampled_from(["", "<html><head>", "<!DOCTYPE html>\n<html>\n<head>\n"]))
    end = draw(st.sampled_from(["", "</head><body>x</body>", "<body>x", "<p>x"]))
    return (start + "".join(parts) + end).encode()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(heads(), st.booleans())
def test_generated_heads(body: bytes, eof: bool) -> None:
    check(body, eof=eof)


# --- what the decision code reads of a Head ----------------------------------------------------------


def test_the_decision_code_reads_only_metas_and_complete() -> None:
    """``bytes_read`` (the scan's head end here, read_head's chunk end there) is quoted only in
    an incomplete head's signal: a complete head's signals do not depend on it."""
    head = scan_head(_page(N, "end"), POLICY)
    assert head.complete
    moved = Head(head.metas, True, head.bytes_read + 12345)
    assert signals(moved) == signals(head)


@pytest.mark.parametrize("eof", [False, True])
@pytest.mark.parametrize("content", [b"noai", b"index, follow"])
def test_start_tag_in_an_open_noscript(content: bytes, eof: bool) -> None:
    """WHATWG pops an open <noscript> at a start tag such as <body> and ends the head there;
    read_head reads on: the scan is unsure and read_head decides (found by the property test)."""
    meta = b'<meta name="robots" content="' + content + b'">'
    check(b"<noscript>" + meta + meta + b"<body></head><body>x</body>", eof=eof)
    check(b"<head><noscript>" + meta + b"<div>x</div></noscript></head><body>y", eof=eof)
