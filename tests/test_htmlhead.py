"""The bounded HTML head reader and embedded-image extraction: HTML parsing rules and hostile input."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noai_guard.htmlhead import (
    _TITLE_TAG,
    Head,
    Meta,
    _self_closed_title,
    _unclose,
    embedded_images,
    read_head,
)

ROBOTS = b'<meta name="robots" content="noai">'


def names(head: Head) -> list[str]:
    return [m.name for m in head.metas]


def test_basic_head() -> None:
    head = read_head(b'<!doctype html><html><head><meta charset="utf-8">' + ROBOTS + b"</head><body><p>x")
    assert head.metas == (Meta("robots", "noai", '<meta name="robots" content="noai">', False),)
    assert head.complete


def test_case_entities_and_order() -> None:
    head = read_head(b'<META NAME="Robots" Content="No&#97;I, &amp;x" property=og:x>')
    (m,) = head.metas
    assert m.name == "robots"
    assert m.content == "NoaI, &x"
    assert m.raw == '<meta name="Robots" content="NoaI, &amp;x" property="og:x">'


def test_property_when_no_name() -> None:
    (m,) = read_head(b'<meta property="og:image" content="/a.jpg">').metas
    assert (m.name, m.content) == ("og:image", "/a.jpg")


def test_meta_without_name_or_content() -> None:
    head = read_head(b'<meta charset="utf-8"><meta http-equiv="refresh" content="0"><meta name="robots">')
    assert [(m.name, m.content) for m in head.metas] == [("robots", "")]


@pytest.mark.parametrize(
    "html",
    [
        b'<script>var s = \'<meta name="robots" content="noai">\';</script>',
        b'<script type="text/template"><meta name="robots" content="noai"></script>',
        b'<style>/* <meta name="robots" content="noai"> */</style>',
        b'<title>Hi <meta name="robots" content="noai"></title>',
        b'<!-- <meta name="robots" content="noai"> -->',
        b'<![CDATA[<meta name="robots" content="noai">]]>',
        b'&lt;meta name="robots" content="noai"&gt;',
        b'<textarea><meta name="robots" content="noai"></textarea>',
        b'<template><meta name="robots" content="noai"></template>',
        b'<noframes><meta name="robots" content="noai"></noframes>',
        b'<head><svg><meta name="robots" content="noai"></svg>',
        b'<xmp><meta name="robots" content="noai"></xmp>',
        b'<plaintext><meta name="robots" content="noai">',
    ],
    ids=[
        "script",
        "script-template",
        "style",
        "title",
        "comment",
        "cdata",
        "escaped",
        "textarea",
        "template",
        "noframes",
        "svg",
        "xmp",
        "plaintext",
    ],
)
def test_meta_in_text_or_inert_content_does_not_count(html: bytes) -> None:
    for strict in (False, True):
        head = read_head(b"<html><head>" + html + b"</head><body><p>x</p></body>", strict=strict)
        assert "robots" not in names(head), (html, strict)


def test_meta_after_stray_head_end_counts() -> None:
    html = b'<html><head><title>t</title></head>\n<!-- c -->\n<link rel="x" href="/">' + ROBOTS + b"<p>body"
    head = read_head(html)
    assert names(head) == ["robots"]
    assert head.metas[0].in_body is False


def test_meta_after_duplicate_head_end_counts() -> None:
    assert names(read_head(b"<head></head></head><script>1</script>" + ROBOTS + b"<div>")) == ["robots"]


@pytest.mark.parametrize(
    "html",
    [
        b"<head><title>t</title></head><body>" + ROBOTS,
        b"<head><title>t</title></head><p>text</p>" + ROBOTS,
        b"<head><title>t</title>text " + ROBOTS,
        b"<head><custom-el></custom-el>" + ROBOTS,
        b"<head><div></div>" + ROBOTS,
        b"<html>text" + ROBOTS,
        b"<head></head><noscript></noscript>" + ROBOTS,
        b"<body><noscript>" + ROBOTS + b"</noscript>",
        b"hello<noscript>" + ROBOTS + b"</noscript>",
        b"<frameset>" + ROBOTS,
        # A <noscript> after a <body> tag, after </head>, or after text in a head <noscript>
        # (WHATWG "in head noscript": text pops it and the head) is body content.
        b"<html><body><noscript>" + ROBOTS + b"</noscript><p>",
        b"<html><head/><body><noscript>" + ROBOTS + b"</noscript><p>",
        b"<html></head><noscript>" + ROBOTS + b"</noscript><body><p>",
        b"<noscript></noscript></head><noscript>" + ROBOTS + b"</noscript><body><p>",
        b"<noscript>Enable JavaScript</noscript>" + ROBOTS + b"<body><p>",
        b"<noscript><style>s</style><p>JS!</p></noscript>" + ROBOTS + b"<body><p>",
        # A leading <template> is head content, but a <body> tag or text after it ends the
        # head ("in head": anything else), and "after head" puts a <noscript> in the body.
        b"<html><template></template><body>" + ROBOTS + b"<p>",
        b"<html><template></template>text" + ROBOTS + b"<body><p>",
        b"<template><p>x</p></template>text" + ROBOTS + b"<p>",
        b"<html><head/><template></template><body>" + ROBOTS + b"<p>",
        b"<head></head><template></template><noscript>" + ROBOTS + b"</noscript><body><p>",
    ],
)
def test_meta_in_body_ignored_unless_strict(html: bytes) -> None:
    head = read_head(html)
    assert "robots" not in names(head)
    assert head.complete
    strict = read_head(html, strict=True)
    assert [(m.name, m.in_body) for m in strict.metas if m.name == "robots"] == [("robots", True)]


@pytest.mark.parametrize(
    "html",
    [
        ROBOTS,
        b"  \n\t" + ROBOTS,
        b"<!doctype html><!-- c --><?pi x?>" + ROBOTS,
        b"<html><head>" + ROBOTS,
        b"<head><noscript>" + ROBOTS + b"</noscript></head>",
        b"<noscript>" + ROBOTS + b"</noscript><p>",  # head-less page: HTML5 puts noscript in the head
        b'<html lang="en"><noscript><link rel="x">' + ROBOTS + b"</noscript>",
        b"<head><base href='/'><basefont><bgsound><link><style></style><script></script>" + ROBOTS,
        b"\xef\xbb\xbf" + ROBOTS,
    ],
)
def test_meta_in_head(html: bytes) -> None:
    head = read_head(html + b"<div>body</div>")
    assert [(m.name, m.in_body) for m in head.metas] == [("robots", False)]
    assert head.complete


# WHATWG "before head" / "in head" (scripting disabled) keep a <noscript> in the head, and
# "in head noscript" keeps head elements in it; libxml2 implies a <body> for that <noscript>
# when no head content came before (or after a <head/>, whose "/" WHATWG ignores).  A
# literal <body> later on must not make the reader take that implied <body> for it.
NOSCRIPT_HEADS = {
    "meta after, later <body>": (
        b'<!doctype html><html lang="en"><noscript><style>.js{display:none}</style></noscript>'
        + ROBOTS
        + b'<title>T</title><body class="x"><p>x</p>'
    ),
    "meta in it, later <body>": (
        b"<!doctype html><html><noscript>"
        + ROBOTS
        + b"</noscript><title>T</title><body><p>x</p></body></html>"
    ),
    "tdm-reservation in it": b'<!doctype html><noscript><meta name="tdm-reservation" content="1"></noscript><body>x',
    "<head/>": b"<!doctype html><html><head/><noscript>" + ROBOTS + b"</noscript><body>x",
    "<head/>, meta after": b"<!doctype html><html><head/><noscript><link rel=x></noscript>"
    + ROBOTS
    + b"<body>x",
    "<head/>, title first": b"<html><head/><title>T</title><noscript>" + ROBOTS + b"</noscript><body><p>x",
    "xml prolog": b'<?xml version="1.0" encoding="utf-8"?><noscript>' + ROBOTS + b"</noscript><body>x",
    "xml prolog, meta after": (
        b"<?xml version='1.0' encoding='utf-8'?>\n<html><noscript><style>s</style></noscript>\n"
        + ROBOTS
        + b"\n<body><p>x"
    ),
    "xhtml doctype": (
        b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><noscript>' + ROBOTS + b"</noscript><body>x"
    ),
    "xhtml doctype, meta after": (
        b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x"><html><noscript><link rel=x/></noscript>'
        + ROBOTS
        + b"<body><p>x"
    ),
    "<body> in a comment first": b"<!-- <body> --><noscript>" + ROBOTS + b"</noscript><body><p>x",
    "<body> in an attribute first": (
        b"<html data-x='<body>'><noscript>" + ROBOTS + b"</noscript></head><body><p>x"
    ),
    "second noscript": b"<noscript>\n<link rel=x></noscript>\n<noscript>" + ROBOTS + b"</noscript><body><p>",
    "after </head>, head elements stay": b"<noscript></noscript></head>" + ROBOTS + b"<body><p>",
    "</head> in the noscript is ignored": b"<noscript></head>" + ROBOTS + b"</noscript><body><p>",
}


@pytest.mark.parametrize("html", list(NOSCRIPT_HEADS.values()), ids=list(NOSCRIPT_HEADS))
def test_noscript_that_opens_the_head(html: bytes) -> None:
    want = "tdm-reservation" if b"tdm-reservation" in html else "robots"
    for strict in (False, True):
        head = read_head(html + b"<div>" + b"<p>body</p>" * 20_000, strict=strict)
        assert [(m.name, m.in_body) for m in head.metas] == [(want, False)], strict
        assert head.complete
        assert head.bytes_read < 64 * 1024 or strict


# WHATWG "before head" takes a <template> start tag as "anything else": it implies the
# <head> and reprocesses the tag "in head", which keeps the <template> (its contents are
# inert, "in template") and is the insertion mode again after </template>; "after head"
# processes a <template> "in head" too.  libxml2 implies a <body> for that <template>.
TEMPLATE_HEADS = {
    "<html>": b"<!doctype html><html><template></template>" + ROBOTS + b"<body>x",
    "no <html>": b"<template></template>" + ROBOTS + b"<body>x",
    "no literal <body>": b"<template></template>" + ROBOTS + b"<p>x",
    "<head/>": b"<html><head/><template></template>" + ROBOTS + b"<body>x",
    "<head></head>": b"<html><head></head><template></template>" + ROBOTS + b"<body>x",
    "</head> after it": b"<template></template></head>" + ROBOTS + b"<body>x",
    "with content": b"<html><template><p>x</p><div>y</div></template>" + ROBOTS + b"<body>x",
    "content, no literal <body>": b"<template><p>x</template>" + ROBOTS + b"<p>x",
    "then noscript": b"<html><template></template><noscript></noscript>" + ROBOTS + b"<body>x",
    "inside a head noscript": b"<noscript><template><p>x</p></template></noscript>" + ROBOTS + b"<body>x",
    "</body> in it": b"<template><p></body></template>" + ROBOTS + b"<body>x",
    "<body> in a comment": b"<!-- <body> --><template></template>" + ROBOTS + b"<body>x",
    "<head>, with content": b"<html><head><template><p>x</p></template>" + ROBOTS + b"</head><body>x",
    "title, with content": b"<title>t</title><template><span>x</span></template>" + ROBOTS + b"<body>x",
}


@pytest.mark.parametrize("html", list(TEMPLATE_HEADS.values()), ids=list(TEMPLATE_HEADS))
def test_template_that_opens_the_head(html: bytes) -> None:
    for strict in (False, True):
        head = read_head(html + b"<div>" + b"<p>body</p>" * 20_000, strict=strict)
        assert [(m.name, m.in_body) for m in head.metas] == [("robots", False)], strict
        assert head.complete
        assert head.bytes_read < 64 * 1024 or strict


def test_meta_after_body_tag_after_a_head_noscript() -> None:
    html = b"<noscript><style>s</style></noscript>" + ROBOTS + b'<body><meta name="late" content="1"><p>x'
    head = read_head(html)
    assert [(m.name, m.in_body) for m in head.metas] == [("robots", False)]
    assert head.complete
    strict = read_head(html, strict=True)
    assert [(m.name, m.in_body) for m in strict.metas] == [("robots", False), ("late", True)]
    # The same with no other start tag after the <body> tag, and with <head/>.
    for page in (html[: -len(b"<p>x")] + b"text", b"<head/>" + html):
        assert [(m.name, m.in_body) for m in read_head(page, strict=True).metas] == [
            ("robots", False),
            ("late", True),
        ]


def test_noscript_head_beyond_the_first_chunk() -> None:
    # The first chunk is 4 KB here (no literal <body> within the hint span): the head's
    # end is looked for again in every chunk, a literal <body> in a comment is no tag.
    links = b'<link rel="preload" href="/assets/a-long-file-name.js">' * 1500
    html = b"<noscript><style>s</style></noscript><!-- <body> -->" + links + ROBOTS + b"<body><p>x"
    assert len(html) > 64 * 1024
    head = read_head(html + b'<meta name="late" content="1">' + b"<p>x</p>" * 10_000)
    assert names(head) == ["robots"]
    assert head.complete
    assert head.bytes_read < len(html) + 64 * 1024


def test_read_stops_at_body() -> None:
    html = b"<head>" + ROBOTS + b"</head><body>" + b"<p>lorem ipsum</p>" * 100_000
    head = read_head(html)
    assert head.complete
    assert head.bytes_read < 64 * 1024


def test_budget_cuts_a_huge_head() -> None:
    html = b"<head>" + b'<meta name="x" content="y">' * 100_000 + ROBOTS + b"</head><body>"
    t0 = time.perf_counter()
    head = read_head(html, budget=256 * 1024)
    assert time.perf_counter() - t0 < 5
    assert not head.complete
    assert head.bytes_read == 256 * 1024
    assert "robots" not in names(head)
    assert read_head(html, budget=len(html)).complete


def test_head_of_100k_elements_of_every_kind() -> None:
    html = b"<head>" + b'<link rel="a" href="/b"><script>1</script><style>x</style>' * 100_000
    head = read_head(html)
    assert not head.complete
    assert head.bytes_read <= 256 * 1024


def test_ten_megabyte_page_is_cheap() -> None:
    page = b"<html><head>" + ROBOTS + b"</head><body>" + b"<div><p>text</p></div>" * 460_000
    assert len(page) > 10_000_000
    read_head(page)
    t0 = time.perf_counter()
    head = read_head(page)
    assert time.perf_counter() - t0 < 0.05
    assert names(head) == ["robots"]
    strict = read_head(page, strict=True)
    assert strict.bytes_read == 256 * 1024
    assert strict.complete  # "complete" is about the head's end, reached here


def test_body_without_end_is_complete_at_eof() -> None:
    head = read_head(b"<head>" + ROBOTS)
    assert head.complete
    assert head.bytes_read == len(b"<head>" + ROBOTS)


@pytest.mark.parametrize(
    "html",
    [
        b'<meta name="robots" content="noai"',
        b'<meta name="robots" content="noai',
        b"<meta name=",
        b"<",
        b"<!--",
        b"<script>",
        b"<head><title>",
        b'<meta name="robots" content="noai"><meta name="x" content="y',
    ],
)
def test_unterminated_tags(html: bytes) -> None:
    head = read_head(html)
    assert head.complete
    assert all(m.name == "robots" for m in head.metas)


def test_unterminated_attribute_swallows_next_tag() -> None:
    # HTML5: the unterminated quoted value runs on, so the second meta is not a tag.
    head = read_head(b'<meta name="a" content="x><meta name="robots" content="noai"><p>')
    assert names(head) in ([], ["a"])


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (b'<meta charset="x-nonsense">' + ROBOTS, None),
        (b'<meta charset="utf-16">' + ROBOTS, None),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=utf-32">' + ROBOTS, None),
        (ROBOTS, "x-nonsense"),
        (ROBOTS, "utf-8"),
        (ROBOTS, "cp1252"),
        (ROBOTS, "latin-1"),
        (b"\xff\xfe" + ROBOTS.decode().encode("utf-16-le"), None),
        (b"\xfe\xff" + ROBOTS.decode().encode("utf-16-be"), None),
        (b"\xff\xfe" + ROBOTS.decode().encode("utf-16-le"), "utf-8"),  # the BOM wins
        (b"<meta name=x content='\xff\xfe\xc3('>" + ROBOTS, None),
        (b"<meta name=x content='\x00'>" + ROBOTS, None),
    ],
)
def test_charsets_never_crash(body: bytes, encoding: str | None) -> None:
    head = read_head(body + b"<p>", encoding=encoding)
    assert "robots" in names(head)


def test_non_ascii_evidence_is_decoded() -> None:
    (m,) = read_head('<meta name="robots" content="noai, café ☃">'.encode()).metas
    assert m.content == "noai, café ☃"
    (m,) = read_head('<meta name="robots" content="café">'.encode("cp1252"), encoding="cp1252").metas
    assert m.content == "café"


def test_nul_bytes_and_invalid_utf8() -> None:
    (m,) = read_head(b'<meta name="robots" content="no\x00ai\xff">').metas
    assert m.content == "no\ufffdai\ufffd"
    # A NUL character in the head is text: HTML5 starts the body there.
    head = read_head(b"<head>\x00" + ROBOTS)
    assert names(head) == []
    assert head.complete


def test_empty_and_whitespace() -> None:
    assert read_head(b"") == Head((), True, 0)
    assert read_head(b"   ").complete


def test_zero_budget() -> None:
    head = read_head(ROBOTS, budget=0)
    assert head == Head((), False, 0)


def test_strict_reads_body_metas_in_order() -> None:
    html = b"<head>" + ROBOTS + b'</head><body><meta name="GPTBot" content="noai"><p>x</p>'
    head = read_head(html, strict=True)
    assert [(m.name, m.in_body) for m in head.metas] == [("robots", False), ("gptbot", True)]


def test_chunking_does_not_change_the_result() -> None:
    filler = b"<script>" + b"x" * 5000 + b"</script>"
    html = b"<head>" + filler * 30 + ROBOTS + b"<!-- <body> -->" + filler + b"</head><body>x"
    head = read_head(html)
    assert names(head) == ["robots"]
    assert head.complete


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=2000), st.booleans(), st.sampled_from([None, "utf-8", "latin-1", "utf-16", "bogus"])
)
def test_read_head_never_raises(body: bytes, strict: bool, encoding: str | None) -> None:
    a = read_head(body, strict=strict, encoding=encoding)
    assert a == read_head(body, strict=strict, encoding=encoding)
    assert 0 <= a.bytes_read <= len(body)


_HTMLISH = st.lists(
    st.sampled_from(
        [
            "<head>",
            "</head>",
            "<body>",
            "<p>",
            "x",
            " ",
            "<title>",
            "</title>",
            "<script>",
            "</script>",
            "<!--",
            "-->",
            "<noscript>",
            "</noscript>",
            ROBOTS.decode(),
            "<meta name=a content='b'>",
            "<",
            ">",
            "&amp;",
            "\x00",
            "é",
        ]
    ),
    max_size=40,
).map(lambda parts: "".join(parts).encode())


@settings(max_examples=300, deadline=None)
@given(_HTMLISH, st.integers(min_value=0, max_value=4096))
def test_read_head_html_fuzz(body: bytes, budget: int) -> None:
    a = read_head(body, budget=budget)
    assert a == read_head(body, budget=budget)
    s = read_head(body, budget=budget, strict=True)
    # strict mode sees at least what the head read saw
    assert [m for m in s.metas if not m.in_body][: len(a.metas)] == list(a.metas)


BASE = "https://example.com/dir/page.html"


def test_embedded_images() -> None:
    html = b"""<html><head>
    <meta property="og:image" content="https://cdn.example.com/og.jpg">
    <meta property="og:image:secure_url" content="/secure.jpg">
    <meta property="og:image:url" content="og-url.jpg">
    <meta name="twitter:image" content="//cdn.example.com/tw.jpg">
    <meta name="description" content="/not-an-image.jpg">
    </head><body>
    <img src="a.png"><img src="/b.png" srcset="c.png 1x, d.png 2x,e.png">
    <img srcset="data:image/png;base64,iVBOR=,f.png 100w">  <!-- one URL: a data: URL may hold commas -->
    <picture><source srcset="g.webp 1x, h.webp 2x" type="image/webp"><img src="i.jpg"></picture>
    <video><source src="movie.mp4" srcset="nope.jpg"></video>
    <img src="javascript:alert(1)"><img src=""><img src="a.png">
    <!-- <img src="commented.png"> -->
    <script>document.write('<img src="scripted.png">')</script>
    </body></html>"""
    assert embedded_images(html, BASE) == [
        "https://cdn.example.com/og.jpg",
        "https://example.com/secure.jpg",
        "https://example.com/dir/og-url.jpg",
        "https://cdn.example.com/tw.jpg",
        "https://example.com/dir/a.png",
        "https://example.com/b.png",
        "https://example.com/dir/c.png",
        "https://example.com/dir/d.png",
        "https://example.com/dir/e.png",
        "https://example.com/dir/g.webp",
        "https://example.com/dir/h.webp",
        "https://example.com/dir/i.jpg",
    ]


def test_embedded_images_base_href() -> None:
    html = b'<head><base href="https://static.example.net/img/"></head><img src="a.png" srcset="b.png 2x">'
    assert embedded_images(html, BASE) == [
        "https://static.example.net/img/a.png",
        "https://static.example.net/img/b.png",
    ]


def test_srcset_with_commas_in_url() -> None:
    html = b'<img srcset="/img,1.jpg 1x, /img,2.jpg 2x">'
    assert embedded_images(html, BASE) == ["https://example.com/img,1.jpg", "https://example.com/img,2.jpg"]


@pytest.mark.parametrize(
    "body", [b"", b"   ", b"\x00\x00", b"<img src='http://[::1'>", b"\xff\xfe\x00", b"<"]
)
def test_embedded_images_hostile(body: bytes) -> None:
    assert isinstance(embedded_images(body, BASE), list)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1000))
def test_embedded_images_never_raise(body: bytes) -> None:
    out = embedded_images(body, BASE)
    assert out == embedded_images(body, BASE)
    assert all(u.startswith(("http://", "https://")) for u in out)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "latin-1"])
def test_images_of_an_xhtml_page_with_an_xml_declaration(encoding: str) -> None:
    """An XML declaration (with an encoding) before an XHTML page does not hide its images."""
    page = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE html>'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><meta property="og:image" content="/og.jpg"/>'
        '</head><body><p>caf\u00e9</p><img src="a.png"/></body></html>'
    ).encode(encoding)
    assert embedded_images(page, "https://example.com/p/", encoding=encoding) == [
        "https://example.com/og.jpg",
        "https://example.com/p/a.png",
    ]


@pytest.mark.parametrize(
    "body",
    [
        # WHATWG ignores the "/" (RCDATA to </title>); libxml2 closes the title at once.
        b"<html><head><title/>My Page</title><meta name=robots content=noai></head><body>x",
        b"<html><head><title/>a<body>b</title><meta name=robots content=noai></head><body>x",
        b"<html><head><TITLE lang=en />x</TITLE><meta name=robots content=noai></head><body>x",
        # XHTML's empty title with no </title>: the meta libxml2 sees is kept.
        b"<html><head><title/><meta name=robots content=noai></head><body>x",
        b"<html><head><title/><meta name=robots content=noai></head><body><svg><title>i</title></svg>",
    ],
)
def test_self_closed_title_hides_no_meta(body: bytes) -> None:
    for strict in (False, True):
        head = read_head(body + b"x" * 70_000, strict=strict)
        assert [(m.name, m.content, m.in_body) for m in head.metas] == [("robots", "noai", False)]
        assert head.complete


@pytest.mark.parametrize(
    ("body", "self_closed"),
    [
        (b"<title/>", True),
        (b"<TITLE\t/>", True),
        (b"<title a=b />", True),
        (b"<title a=b/>", True),
        (b"<title <title/>", True),  # one tag, ended by the "/>"
        (b"<title/ >", False),
        (b"<title>", False),
        (b"<titlex/>", False),
        (b"<title a=b / >", False),
        (b"<title a=b", False),
        (b"<title <title a>", False),
        (b"<title " * 5000 + b"/>", True),
        (b"<title " * 5000, False),
    ],
)
def test_self_closed_title_scan(body: bytes, self_closed: bool) -> None:
    """A <title> start tag closed with "/>": found in one pass (issue 11: the pattern that
    only matched such tags rescanned up to the next ">" from every "<title" before it)."""
    assert _self_closed_title(body, len(body)) is self_closed
    assert _self_closed_title(body, len(body) - 1) is False  # its ">" is past the end
    unclosed = _TITLE_TAG.sub(_unclose, body)
    assert len(unclosed) == len(body)
    assert (unclosed != body) is self_closed
