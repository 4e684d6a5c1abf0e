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


def test_prefix_ends_at_a_body_right_after_a_comment() -> None:
    from noai_guard.evaluate import _lowered_head

    body = b"<html><head><title>t</title><!-- end -->\n<body>" + b"x" * 1000
    low = _lowered_head(body, POLICY.html_budget)
    assert low == body[: body.find(b"<body")].lower()  # not the whole document


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
