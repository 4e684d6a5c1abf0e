"""The head pre-check must never change a decision: it only skips parses that find nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noai_guard import directives, tdmrep
from noai_guard.evaluate import scan_head
from noai_guard.htmlhead import read_head
from noai_guard.policy import Policy

POLICY = Policy(user_agents=("examplebot",))
URL = "https://example.com/p"


def verdicts(head_fn: object, body: bytes) -> list[tuple[str, object, str]]:
    head = scan_head(body, POLICY) if head_fn == "scan" else read_head(body, budget=POLICY.html_budget)
    sigs = directives.meta_signals(head, URL, POLICY) + tdmrep.meta_signals(head, URL, POLICY)
    # Only signals that can decide matter; an allow observation may be skipped.
    return sorted(
        (s.name, s.verdict, s.evidence) for s in sigs if s.verdict is not None and s.verdict.value != "allow"
    )


PAGES = [
    b'<html><head><meta name="robots" content="noai"></head><body>x</body></html>',
    b'<html><head><script>var s="<body>";</script><meta name="robots" content="noai"></head><body>x',
    b'<html><head><!-- <body> --><meta name="robots" content="NOAI"></head><body>x',
    b'<HTML><HEAD><META NAME="ROBOTS" CONTENT="NOIMAGEAI"></HEAD><BODY>x</BODY></HTML>',
    b'<html><head><title><body></title><meta name="tdm-reservation" content="1"></head><Body>x',
    b'<html><head><meta name="robots" content="no&#97;i"></head><body>x',
    b'<html><head></head><meta name="robots" content="noml"><body>x',
    b"\xff\xfe" + '<html><head><meta name="robots" content="noai"></head><body>x'.encode("utf-16-le"),
    b'<html><head><meta name="robots" content="index, follow"></head><body>noai in text</body>',
    b'<html><head><meta name="description" content="plain"></head><body><meta name="robots" content="noai">',
    b'<html><head><style>a{}</style><meta name="GPTBot" content="noai"></head><body>x',
]

# A literal "<body" inside an attribute value or <noframes> does not end the head.
ATTRIBUTE_BODIES = [
    (
        b'<html><head><meta name="description" content="Learn the <body> tag">'
        b'<meta name="robots" content="noai"></head><body>x'
    ),
    b'<html><head><link href="/a?<body"><meta name="robots" content="noai"></head><body>x',
    b'<html><head><meta content="<i></i><body>"><meta name="robots" content="noai"></head>\n<body>x',
    b"<html><head><meta content='</i><body>'><meta name=robots content=noai></head><body>x",
    b'<html><head><noframes><body>x</noframes><meta name="tdm-reservation" content="1"></head><body>x',
    b"<html><head><title>Joe's</title><meta content=\"Joe's\"><meta name=robots content=noai></head><body>x",
]
PAGES += ATTRIBUTE_BODIES


@pytest.mark.parametrize("body", ATTRIBUTE_BODIES)
def test_body_in_an_attribute_or_noframes_is_not_the_head_end(body: bytes) -> None:
    got = verdicts("scan", body)
    assert got and got[0][1].value == "reserve"


def test_a_cut_document_is_not_taken_for_a_whole_one() -> None:
    """eof=False: the end of the bytes is not the end of the page (a cut or truncated download)."""
    body = b"<html><head>" + b'<meta name="x" content="y">' * 40
    assert scan_head(body, POLICY).complete is True  # EOF ends the head
    assert scan_head(body, POLICY, eof=False).complete is False
    whole = body + b"</head><body>x"
    assert scan_head(whole, POLICY, eof=False).complete is True  # the head ended within the bytes


def test_utf16_page_labelled_by_its_content_type() -> None:
    from noai_guard.evaluate import wide_charset

    page = '<html><head><meta name="robots" content="noai"></head><body>x</body></html>'
    for label, codec in (("utf-16le", "utf-16-le"), ("UTF-16BE", "utf-16-be"), ("utf-16", "utf-16-le")):
        ctype = f"text/html; charset={label}"
        assert wide_charset(ctype) == codec
        head = scan_head(page.encode(codec), POLICY, encoding=wide_charset(ctype))
        assert [m.content for m in head.metas] == ["noai"], label
    assert wide_charset("text/html; charset=utf-8") is None
    assert wide_charset("text/html") is None
    assert wide_charset(None) is None


@pytest.mark.parametrize(
    ("start", "want"),
    [
        (b"<title>t</title><meta name=robots content=noai>", True),
        (b"<script src=a.js></script>", True),
        (b"<style>a{}</style>", True),
        (b"<p>x", True),
        (b"\xff\xfe" + "<html><head>".encode("utf-16-le"), True),
        (b"<pre>x", False),
        (b'{"a": 1}', False),
        (b"<a", False),
    ],
)
def test_html_sniff_without_content_type(start: bytes, want: bool) -> None:
    from noai_guard.evaluate import is_html

    assert is_html(None, start) is want


@pytest.mark.parametrize("body", PAGES)
def test_scan_head_agrees_with_full_reader(body: bytes) -> None:
    assert verdicts("scan", body) == verdicts("read", body)


def test_fast_path_taken_for_plain_head() -> None:
    body = (
        b"<html><head><title>t</title>" + b'<link rel="x" href="/a">' * 30 + b"</head><body>" + b"x" * 100_000
    )
    head = scan_head(body, POLICY)
    assert head.metas == ()
    assert head.complete
    assert head.bytes_read < 2000  # stopped at the body, did not read the page


def test_head_past_budget_takes_full_reader() -> None:
    policy = Policy(user_agents=("examplebot",), html_budget=1000)
    body = b"<html><head>" + b'<meta name="x" content="y">' * 200 + b"</head><body>x"
    assert scan_head(body, policy).complete is False


_fragments = st.sampled_from(
    [
        "<script>",
        "</script>",
        "<body>",
        "<BODY>",
        "<!--",
        "-->",
        "<title>",
        "</title>",
        '<meta name="robots" content="noai">',
        '<meta name="robots" content="noindex">',
        '<meta name="tdm-reservation" content="1">',
        '<meta name="x" content="no&#97;i">',
        "</head>",
        "<p>text</p>",
        "<style>",
        "</style>",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_fragments, max_size=12))
def test_scan_head_never_changes_verdicts(parts: list[str]) -> None:
    body = ("<html><head>" + "".join(parts)).encode()
    assert verdicts("scan", body) == verdicts("read", body)


# -- the per-meta pre-check (issue 13) --------------------------------------------------------


@pytest.fixture(params=["c", "python"], autouse=True)
def scan_impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with the C scan and with the pure-Python one."""
    from noai_guard import evaluate, htmlscan

    fn = htmlscan.scan_head_tags_c if request.param == "c" else htmlscan.scan_head_tags_py
    if fn is None:
        pytest.skip("the C extension is not built")
    monkeypatch.setattr(evaluate, "scan_head_tags", fn)
    return str(request.param)


def test_named_references_spell_no_ascii_letter_but_f_and_j() -> None:
    import html.entities

    from noai_guard.evaluate import _NAMED_REF_LETTERS

    spelt = {c for v in html.entities.html5.values() for c in v if c.isascii() and c.isalnum()}
    assert spelt <= _NAMED_REF_LETTERS


def test_only_the_kelvin_sign_lowers_to_an_ascii_letter() -> None:
    import sys

    lowers = {chr(i) for i in range(0x80, sys.maxunicode + 1) if len(chr(i).lower()) == 1 and chr(i).lower().isascii()}
    assert lowers == {"\u212a"}


BUSY_HEAD = (
    b"<!DOCTYPE html><html><head><meta charset=utf-8><title>Caf&#233; &#8211; Joe&#39;s</title>"
    b'<meta property="og:title" content="Joe&#39;s Caf&#xE9;">'
    b'<meta name="robots" content="index, follow">'
    b"<script>var s = '<body><meta name=robots content=noai>'; /* noai tdm &#97; */" + b"x;" * 10_000 + b"</script>"
    b'<script type="application/ld+json">{"name": "no&#97;i"}</script>'
    b"</head><body><p>noai</p></body></html>"
)


def test_what_else_the_head_holds_does_not_send_the_page_to_a_parse() -> None:
    head = scan_head(BUSY_HEAD, POLICY)
    # The scan's answer (read_head reports where its own chunk ended, further on).
    assert head == scan_head(BUSY_HEAD, POLICY)
    assert head.metas == ()
    assert head.complete
    assert head.bytes_read == BUSY_HEAD.find(b"</head>") + len(b"</head>")
    assert verdicts("scan", BUSY_HEAD) == verdicts("read", BUSY_HEAD) == []


@pytest.mark.parametrize(
    "meta",
    [
        b'<meta name="robots" content="no&#97;i">',
        b'<meta name="robots" content="&#X6E;&#x4F;AI">',
        b'<meta name="robots" content="&#110oai">',
        b'<meta name="&#116;dm-reservation" content="1">',
        b"<meta name=robots content='index,&#0000110;oimageai'>",
    ],
)
def test_a_directive_spelt_with_references_is_read(meta: bytes) -> None:
    body = BUSY_HEAD.replace(b"</head>", meta + b"</head>")
    got = verdicts("scan", body)
    assert got == verdicts("read", body)
    assert got and got[0][1].value == "reserve"


def test_a_reference_that_is_not_ascii_does_not_spell_a_word() -> None:
    from noai_guard.evaluate import _head_tokens

    toks = _head_tokens(POLICY)
    assert not toks.may_reserve(b'<meta name="robots" content="no&#128;i &#x110000;oai &#99999999999;">')
    assert toks.may_reserve(b'<meta name="robots" content="n&#x6F;ai">')


@pytest.mark.parametrize(
    ("word", "content"),
    [
        ("nobacklink", "NOBAC\u212aLINK"),  # KELVIN SIGN lowers to "k" (str.lower, as the parser does)
        ("fjord", "&fjlig;ord"),  # the only named reference that spells ASCII letters
    ],
)
def test_words_that_other_spellings_reach_are_read(word: str, content: str) -> None:
    from noai_guard import decision as dd

    policy = Policy(user_agents=("examplebot",), directives={word: (dd.AI_TRAIN,)})
    body = b"<html><head><title>t</title>" + f'<meta name="robots" content="{content}">'.encode() + b"</head><body>"
    scanned = scan_head(body, policy)
    read = read_head(body, budget=policy.html_budget)
    assert [m.content for m in scanned.metas] == [m.content for m in read.metas] != []


def test_real_pages_decide_as_the_full_reader(real_pages: list[tuple[str, bytes]]) -> None:
    """Every real page, as it is and with a reserving meta put into its head: the same verdicts."""
    import re

    head_tag = re.compile(rb"<head(?:[\t\n\f\r /][^>]*)?>", re.IGNORECASE)
    reserved = 0
    for _name, page in real_pages:
        m = head_tag.search(page)
        at = m.end() if m else 0
        marked = page[:at] + b'<meta name="robots" content="index, NoAI">' + page[at:]
        for body in (page, marked):
            got = verdicts("scan", body)
            assert got == verdicts("read", body), _name
            reserved += bool(got)
    assert reserved > len(real_pages) * 0.9  # the marked pages whose head the readers reach
