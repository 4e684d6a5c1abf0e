"""parse_start_tag against lxml (libxml2 2.14): hand cases, every named reference, random tags."""

from __future__ import annotations

from html.entities import html5

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from noai_guard.tagattrs import (
    _SHAPES,
    MAX_TAG_BYTES,
    _fast,
    _general,
    _text,
    attr_value,
    decode_value,
    parse_start_tag,
    start_tag_raw,
    start_tags_raw,
)

_PARSER = etree.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True)
_MARK = b"<i>z</i>"


def lxml_tag(tag: bytes) -> tuple[str, list[tuple[str, str]]] | None:
    """What lxml reports for ``tag`` in a body, if the tag ends at its last byte (else None).

    The bytes are decoded with replacement first, as ``htmlhead`` hands pages to lxml.
    """
    data = (b"<html><body>" + tag + _MARK + b"</body></html>").decode("utf-8", "replace").encode()
    root = etree.fromstring(data, _PARSER)
    body = root.find("body")
    if body is None or not len(body):
        return None
    el = body[0]
    marks = [i for i in root.iter("i") if i.text == "z"]
    if not isinstance(el.tag, str) or el.tag == "i" or len(marks) != 1:
        return None  # the tag was dropped, or it swallowed the marker
    if el.text or el.tail:
        return None  # text between the tag and the marker: the tag ended before the last byte
    return el.tag, list(el.items())


def check(tag: bytes) -> tuple[str, list[tuple[str, str]]] | None:
    """parse_start_tag(tag), asserted equal to lxml's reading when it is not None."""
    mine = parse_start_tag(tag)
    if mine is not None:
        assert mine == lxml_tag(tag), tag
        text = _text(tag)
        assert text is not None
        fast = _fast(text)
        if fast is not None:  # the two readings agree where the fast one answers
            general = _general(text)
            assert general is not None, tag
            assert (fast[0], list(fast[1]), fast[2]) == (general[0], list(general[1]), general[2]), tag
    return mine


# --- hand cases: (tag, expected) -- each also checked against lxml -------------------------------

CASES: list[tuple[bytes, tuple[str, list[tuple[str, str]]]]] = [
    (b'<img src="a.png">', ("img", [("src", "a.png")])),
    (b"<IMG SRC=a.png Alt='x'>", ("img", [("src", "a.png"), ("alt", "x")])),
    # a repeated name: the first wins, whatever its case
    (b'<img src=a SRC=b Src="c">', ("img", [("src", "a")])),
    (b"<img src>", ("img", [("src", "")])),
    (b"<img src=>", ("img", [("src", "")])),
    (b"<img src= >", ("img", [("src", "")])),
    # the unquoted value takes the "/"; a "/" between attributes separates them
    (b"<img src=a/>", ("img", [("src", "a/")])),
    (b'<img src="a"/>', ("img", [("src", "a")])),
    (b"<img/src=a/b=c>", ("img", [("src", "a/b=c")])),
    (b"<img a/b>", ("img", [("a", ""), ("b", "")])),
    (b'<img a = b c= "d" e =f>', ("img", [("a", "b"), ("c", "d"), ("e", "f")])),
    (b'<img a\t\n=\t\n"x">', ("img", [("a", "x")])),
    # no whitespace after a quoted value: a new attribute starts
    (b'<img src="a"alt="b">', ("img", [("src", "a"), ("alt", "b")])),
    (b'<img a="x""y">', ("img", [("a", "x"), ('"y"', "")])),
    # quotes, "<" and a leading "=" belong to names; quotes inside unquoted values stay
    (b'<img "a"=b <c=d \'e=f>', ("img", [('"a"', "b"), ("<c", "d"), ("'e", "f")])),
    (b"<img =a>", ("img", [("=a", "")])),
    (b"<img a=b\"c'd=e>", ("img", [("a", "b\"c'd=e")])),
    (b'<img a="x>y">', ("img", [("a", "x>y")])),
    # only ASCII letters are lowered; U+000B is not HTML whitespace
    ("<img ÄB=1 é=2>".encode(), ("img", [("Äb", "1"), ("é", "2")])),
    (b"<img\x0csrc=a\x0bb>", ("img", [("src", "a\x0bb")])),
    # newlines: CR and CRLF become LF; a reference to CR stays
    (b'<img a="x\ry\r\nz" b="&#13;">', ("img", [("a", "x\ny\nz"), ("b", "\r")])),
    (b'<img a="\x00" b\x00c=1>', ("img", [("a", "\ufffd"), ("b\ufffdc", "1")])),
    (b'<img a="\xff\xfe">', ("img", [("a", "\ufffd\ufffd")])),
    # named references: legacy names without ";", and the attribute rule
    (
        b'<img a="&amp;" b="&amp" c="&ampx" d="&amp=" e="&amp;x" f=&amp g="&AMP" h="&notin;">',
        (
            "img",
            [
                ("a", "&"),
                ("b", "&"),
                ("c", "&ampx"),
                ("d", "&amp="),
                ("e", "&x"),
                ("f", "&"),
                ("g", "&"),
                ("h", "∉"),
            ],
        ),
    ),
    (
        b'<img a="&notit;" b="&not" c="&not-" d="&nota" e="&;" f="&bogus;" g="&NotEqualTilde;">',
        (
            "img",
            [
                ("a", "&notit;"),
                ("b", "¬"),
                ("c", "¬-"),
                ("d", "&nota"),
                ("e", "&;"),
                ("f", "&bogus;"),
                ("g", "≂̸"),
            ],
        ),
    ),
    # numeric references: C1 table, 0, surrogates, out of range, no digits, no ";"
    (
        (
            b'<img a="&#x80;&#128;&#x9F;" b="&#x81;&#x8D;" c="&#0;&#xD800;&#x110000;&#99999999999;"'
            b' d="&#x;&#;&#x41g&#65a&#X41;" e="&#1;&#x7F;&#xFFFE;">'
        ),
        (
            "img",
            [
                ("a", "€€Ÿ"),
                ("b", "\x81\x8d"),
                ("c", "\ufffd" * 4),
                ("d", "&#x;&#;AgAaA"),
                ("e", "\x01\x7f\ufffe"),
            ],
        ),
    ),
    (b"<img a=&#x26;amp;>", ("img", [("a", "&amp;")])),
    (
        b'<meta property="og:image" content="https://x.test/a.png?x=1&amp;y=2">',
        ("meta", [("property", "og:image"), ("content", "https://x.test/a.png?x=1&y=2")]),
    ),
    (
        b'<source srcset="a.webp 1x, b.webp 2x" type="image/webp" />',
        ("source", [("srcset", "a.webp 1x, b.webp 2x"), ("type", "image/webp")]),
    ),
]


@pytest.mark.parametrize(("tag", "expected"), CASES)
def test_hand_cases(tag: bytes, expected: tuple[str, list[tuple[str, str]]]) -> None:
    assert lxml_tag(tag) == expected  # the expectation is lxml's
    assert check(tag) == expected


@pytest.mark.parametrize(
    "tag",
    [
        b"",
        b"<",
        b"<>",
        b"<img",  # no ">"
        b"<1img>",
        b"< img>",
        b"</img>",
        b"<!-- x -->",
        b"<img>x>",  # the tag ends before the last byte
        b'<img a="x>',  # the quote is still open at the last byte
        b"<img a='x>",
        b"<img a=x> b>",
        b'<img a="x" > >',
    ],
)
def test_not_one_start_tag(tag: bytes) -> None:
    assert parse_start_tag(tag) is None


def test_too_long_is_unsure() -> None:
    tag = b'<img src="' + b"a" * MAX_TAG_BYTES + b'">'
    assert parse_start_tag(tag) is None
    assert parse_start_tag(b'<img src="' + b"a" * 1000 + b'">') == ("img", [("src", "a" * 1000)])


def test_raw_values_and_lookup() -> None:
    parsed = start_tag_raw(b'<img src="a&amp;b" alt=1 SRC="c" data-x="&lt">')
    assert parsed is not None
    name, names, values = parsed
    assert (name, list(names), values) == (
        "img",
        ["src", "alt", "src", "data-x"],
        ["a&amp;b", "1", "c", "&lt"],
    )
    assert attr_value(names, values, "src") == "a&b"  # the first of a repeated name
    assert attr_value(names, values, "srcset") is None
    assert [decode_value(v) for v in values] == ["a&b", "1", "c", "<"]
    assert start_tag_raw(b"<img src='a") is None


@pytest.mark.parametrize("quote", ['"', "'", ""])
def test_every_named_reference(quote: str) -> None:
    """Each table name, followed by each kind of character the attribute rule looks at."""
    bad = []
    for name in html5:
        for after in ("", "=", "x", "1", "-", ";"):
            tag = f"<img a={quote}&{name}{after}{quote} b=1>".encode()
            mine = parse_start_tag(tag)
            if mine is None or mine != lxml_tag(tag):
                bad.append(tag)
    assert not bad, bad[:10]


def test_numeric_references() -> None:
    bad = []
    numbers = [*range(0x300), *range(0xD7F0, 0xE010), *range(0xFDC0, 0xFDF0), *range(0xFFF0, 0x10010)]
    numbers += [0x10FFFE, 0x10FFFF, 0x110000, 0xFFFFFFFF, 0x100000041]
    for n in numbers:
        tag = f'<img a="&#{n};" b="&#x{n:X}" c=&#0{n}z>'.encode()
        if parse_start_tag(tag) != lxml_tag(tag):
            bad.append(tag)
    assert not bad, bad[:10]


# --- random tags -----------------------------------------------------------------------------

_NAME_CHARS = st.sampled_from(
    ["a", "b", "S", "R", "c", "-", ":", "_", "1", '"', "'", "<", "=", "é", "\x00", "\x01", "\x0b", "&", "/"]
)
_VALUE_PIECES = st.sampled_from(
    [
        "a",
        "Z",
        "1",
        " ",
        "/",
        "=",
        "'",
        '"',
        ">",
        "<",
        "\t",
        "\r\n",
        "\r",
        "é",
        "\x00",
        "\x01",
        "`",
        "&",
        "&amp",
        "&amp;",
        "&AMP",
        "&ampx",
        "&not",
        "&notin;",
        "&notit;",
        "&lt",
        "&nbsp",
        "&#",
        "&#x",
        "&#65",
        "&#x41;",
        "&#X42",
        "&#128;",
        "&#x9d;",
        "&#0;",
        "&#xd800;",
        "&#1114112;",
        "&colon;",
        "&#58;",
        ";",
        "#",
        "x",
    ]
)
_SPACE = st.sampled_from(["", " ", "  ", "\t", "\n", "\r\n", "\f", "/", " / ", "\x0b"])
_ATTRIBUTE = st.tuples(
    _SPACE,
    st.lists(_NAME_CHARS, min_size=1, max_size=4).map("".join),
    st.sampled_from(["", "=", " = ", "=\n"]),
    st.sampled_from(['"', "'", ""]),
    st.lists(_VALUE_PIECES, max_size=6).map("".join),
)


@st.composite
def _tags(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(["img", "IMG", "Img", "source", "meta", "base", "picture"]))
    out = "<" + name
    for space, attr, eq, quote, value in draw(st.lists(_ATTRIBUTE, max_size=6)):
        out += (space or " ") + attr
        if eq:
            out += eq + quote + value + quote
    out += draw(st.sampled_from([">", "/>", " />", " >", "\n>"]))
    return out.encode()


@settings(max_examples=600, deadline=None)
@given(_tags())
def test_random_tags_match_lxml(tag: bytes) -> None:
    check(tag)


@settings(max_examples=300, deadline=None)
@given(st.lists(_VALUE_PIECES | _NAME_CHARS | _SPACE, max_size=25).map("".join))
def test_random_bytes_every_prefix(rest: str) -> None:
    """Every prefix of ``<img`` + junk that ends at a ">": None, or lxml's reading of it."""
    data = ("<img " + rest + ">").encode()
    for i in range(len(data)):
        if data[i] == ord(">"):
            check(data[: i + 1])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["src", "alt", "srcset", "class", "data-x", "SRC", "loading"]),
            st.lists(_VALUE_PIECES.filter(lambda p: '"' not in p), max_size=5).map("".join),
            st.sampled_from([" ", "\n  ", "", "/"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_common_shape_takes_the_fast_reading(attrs: list[tuple[str, str, str]]) -> None:
    """Double-quoted values, one name each: the fast reading answers, and agrees with lxml."""
    tag = "<img" + "".join(f'{" " if i == 0 else sep}{k}="{v}"' for i, (k, v, sep) in enumerate(attrs)) + ">"
    text = _text(tag.encode())
    assert text is not None
    assert _fast(text) is not None
    assert check(tag.encode()) is not None


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        (b"<source>", ("source", [])),
        (b"<IMG/>", ("img", [])),
        (b"<img \n/ >", ("img", [])),
        (b"<img alt='a \"b\"' SRC='x.png'/>", ("img", [("alt", 'a "b"'), ("src", "x.png")])),
        (b"<img alt='it&#39;s' src=\"x\">", ("img", [("alt", "it's"), ("src", "x")])),
    ],
)
def test_fast_reading_shapes(tag: bytes, expected: tuple[str, list[tuple[str, str]]]) -> None:
    """Bare tags and single-quoted values take the fast reading (mixed quotes do not)."""
    text = _text(tag)
    assert text is not None
    assert (_fast(text) is not None) == ('"' not in text or "'" not in text)
    assert check(tag) == expected


def test_shapes_are_bounded() -> None:
    for i in range(5000):
        assert parse_start_tag(f'<img a{i}="x">'.encode()) == ("img", [(f"a{i}", "x")])
    assert 0 < len(_SHAPES) <= 4096


# Tags that break the joined reading: a \x01 or \x02 of their own, an odd number of '"'.
_BATCH_ODDITIES = [
    b"<img>",
    b"<source>",
    b'<img src="x\x01">',
    b"<img src='a\x02'>",
    b'<img alt=\'say "hi\' src="a.png">',
    b"<img alt='\"' src=b.png>",
]


def test_batch_reading_with_odd_quotes() -> None:
    odd, good = _BATCH_ODDITIES[4], b'<img src="c.png" alt="d">'
    mixed = b'<img alt=\'x\' class="y" src="a.png">'  # even quotes, read on its own
    for tags in ([odd, good, odd, good], [good, odd, odd], [odd, odd], [good, _BATCH_ODDITIES[2], good]):
        assert start_tags_raw(tags) == [start_tag_raw(tag) for tag in tags]
    assert start_tags_raw([odd, good, odd])[1] == ("img", ("src", "alt"), ["c.png", "d"])
    assert start_tags_raw([mixed, good, mixed, good]) == [start_tag_raw(tag) for tag in (mixed, good) * 2]
    assert start_tags_raw([mixed, good])[1] == ("img", ("src", "alt"), ["c.png", "d"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        _tags() | st.sampled_from(_BATCH_ODDITIES),
        max_size=8,
    )
)
def test_batch_reading_equals_one_by_one(tags: list[bytes]) -> None:
    """start_tags_raw gives each tag's start_tag_raw (the join/split must not mix tags up)."""
    assert start_tags_raw(tags) == [start_tag_raw(tag) for tag in tags]
    for tag, parsed in zip(tags, start_tags_raw(tags), strict=True):
        mine = parse_start_tag(tag)
        if parsed is None:
            assert mine is None
        else:  # the raw values decode to parse_start_tag's
            assert mine is not None
            assert parsed[0] == mine[0]
            assert [attr_value(parsed[1], parsed[2], k) for k, _ in mine[1]] == [v for _, v in mine[1]]
