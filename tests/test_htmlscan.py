"""noai_guard.htmlscan: the C and the pure-Python head scans give identical results, follow
the WHATWG tokenizer and head rules, and never claim a head end that the real reader
(:func:`noai_guard.htmlhead.read_head`) would not confirm."""

from __future__ import annotations

import html
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from noai_guard import htmlscan
from noai_guard.htmlhead import read_head

Scan = Callable[[bytes, int, bool, tuple[bytes, ...]], tuple[int, int, tuple[tuple[int, int], ...]]]
TOKENS = (b"noai", b"noimageai", b"noml", b"tdm", b"&#")
WORDS = ("noai", "noimageai", "noml", "tdm")  # what a flagged meta is read for (the caller decodes "&#")
BUDGET = 256 * 1024
HEAD_END, UNSURE = htmlscan.HEAD_END, htmlscan.UNSURE
ROOT = Path(__file__).resolve().parents[1]
NOT_SURE = (UNSURE, 0, ())

IMPLEMENTATIONS = {"python": htmlscan.scan_head_tags_py, "c": htmlscan.scan_head_tags_c}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def scan(request: pytest.FixtureRequest) -> Scan:
    fn = IMPLEMENTATIONS[request.param]
    if fn is None:
        pytest.skip("noai_guard._htmlscan is not built (no compiler at install time)")
    return fn


def both(
    data: bytes, limit: int, eof: bool, tokens: tuple[bytes, ...] = TOKENS
) -> tuple[int, int, tuple[tuple[int, int], ...]]:
    """The Python result, after checking that the C one (when built) is the same."""
    py = htmlscan.scan_head_tags_py(data, limit, eof, tokens)
    if htmlscan.scan_head_tags_c is not None:
        c = htmlscan.scan_head_tags_c(data, limit, eof, tokens)
        assert c == py, (data, limit, eof)
    return py


# --- hand-written cases, one or more per rule --------------------------------------------------

N = b"<meta name=robots content=noai>"
Z = b"z" * 40
LOOKAHEAD = 16  # bytes a window short of the document's end must hold past the head's end


def _case(
    name: str,
    doc: bytes,
    end: bytes | int | None,
    flagged: tuple[bytes, ...] = (),
    *,
    limit: int | None = None,
    eof: bool = True,
) -> object:
    """``end``: a marker whose last occurrence is the head end, an offset, or None for UNSURE;
    ``flagged``: the texts of the flagged metas (each occurs once in ``doc``)."""
    if end is None:
        expected: tuple[int, int, tuple[tuple[int, int], ...]] = NOT_SURE
    else:
        at = doc.rindex(end) if isinstance(end, bytes) else end
        spans = []
        for m in flagged:
            assert doc.count(m) == 1, m
            spans.append((doc.index(m), doc.index(m) + len(m)))
        expected = (HEAD_END, at, tuple(spans))
    return pytest.param(doc, len(doc) if limit is None else limit, eof, expected, id=name)


CASES = [
    _case("plain", b"<html><head>" + N + b"</head><body>x", b"<body", (N,)),
    _case("no-token", b"<head><meta name=robots content=index></head><body>", b"<body"),
    _case(
        "uppercase",
        b"<HEAD><META NAME=ROBOTS CONTENT=NOIMAGEAI></HEAD><BODY>",
        b"<BODY",
        (b"<META NAME=ROBOTS CONTENT=NOIMAGEAI>",),
    ),
    _case(
        "tdm-name",
        b'<head><meta name="tdm-reservation" content="1"><body>',
        b"<body",
        (b'<meta name="tdm-reservation" content="1">',),
    ),
    _case(
        "numeric-reference",
        b'<head><meta name=robots content="no&#97;i"><body>',
        b"<body",
        (b'<meta name=robots content="no&#97;i">',),
    ),
    _case(
        "token-in-any-attribute",
        b"<head><meta name=description content=x data-x=NoAI><body>",
        b"<body",
        (b"<meta name=description content=x data-x=NoAI>",),
    ),
    # Attributes (§13.2.5.32-.42): a quote opens a value only right after "=".
    _case(
        "quote-in-attribute-name",
        b"<head><meta x' content='>,noai'><body>",
        b"<body",
        (b"<meta x' content='>,noai'>",),
    ),
    _case(
        "gt-in-double-quotes",
        b'<head><meta content=">" name=robots x="noai"><body>',
        b"<body",
        (b'<meta content=">" name=robots x="noai">',),
    ),
    _case("quote-in-unquoted-value", b'<head><meta a=b"c>' + N + b"<body>", b"<body", (N,)),
    _case("equals-starts-a-name", b'<head><meta ="x>" content=noai><body>', b'" content'),
    _case("equals-after-quoted-value", b'<head><meta a="1"="x>" content=noai><body>', b'" content'),
    _case(
        "space-around-equals",
        b"<head><meta content = 'a>b noai' ><body>",
        b"<body",
        (b"<meta content = 'a>b noai' >",),
    ),
    _case(
        "slash-in-unquoted-value", b"<head><meta content=noai/><body>", b"<body", (b"<meta content=noai/>",)
    ),
    _case(
        "tag-name-is-whole",
        b'<head><body  =x="-->"' + N,
        None,
        limit=len(b'<head><body  =x="-->"<meta name=robo'),
    ),
    _case("attributes-of-an-end-tag", b'<head><title>t</title x=">">' + N + b"<body>", b"<body", (N,)),
    _case("lt-in-tag-name", b"<head><meta<x content=noai><body>", b"<meta<x"),
    # Comments (§13.2.5.43-.52).
    _case("comment-hides", b"<head><!-- " + N + b" --><body>", b"<body"),
    _case("comment-abrupt", b"<head><!-->" + N + b"<body>", b"<body", (N,)),
    _case("comment-abrupt-dash", b"<head><!--->" + N + b"<body>", b"<body", (N,)),
    _case("comment-bang-end", b"<head><!-- a --!>" + N + b"<body>", b"<body", (N,)),
    _case("comment-spaced-end", b"<head><!-- -- > " + N + b" --><body>", b"<body"),
    _case("comment-dash-bang", b"<head><!---!> " + N + b" --><body>", b"<body"),
    _case("comment-nested-open", b"<head><!--<!-->" + N + b"<body>", b"<body", (N,)),
    _case("comment-three-dashes", b"<head><!---x-->" + N + b"<body>", b"<body", (N,)),
    _case("comment-unterminated", b"<head><!-- " + N + b"<body>", None),
    _case("bogus-comment-pi", b"<head><?php x ?>" + N + b"<body>", b"<body", (N,)),
    _case("bogus-comment-end-tag", b"<head></ x>" + N + b"<body>", b"<body", (N,)),
    _case("empty-end-tag", b"<head></>" + N + b"<body>", b"<body", (N,)),
    _case("cdata-is-a-bogus-comment", b"<head><![CDATA[x]]>" + N + b"<body>", b"<body", (N,)),
    _case("cdata-ends-at-first-gt", b"<head><![CDATA[>]]>" + N + b"<body>", b"]]>"),
    _case("doctype", b"<!DOCTYPE html><html><head>" + N + b"<body>", b"<body", (N,)),
    _case("doctype-ends-at-first-gt", b'<!DOCTYPE x ">"><head>' + N + b"<body>", b'"><head>'),
    # Script data (§13.2.5.4, .15-.31): escaped and double-escaped states.
    _case("script-body-string", b'<head><script>var s="<body>";</script>' + N + b"<body>", b"<body", (N,)),
    _case("script-escaped-end", b"<head><script><!-- </script>" + N + b"<body>", b"<body", (N,)),
    _case(
        "script-double-escaped",
        b"<head><script><!--<script>" + N + b"</script>--></script><body>",
        b"<body",
    ),
    _case(
        "script-escape-closed",
        b"<head><script><!-- x --><script></script>" + N + b"<body>",
        b"<body",
        (N,),
    ),
    _case("script-escape-start-only", b"<head><script><!-x<script></script>" + N + b"<body>", b"<body", (N,)),
    _case(
        "script-double-escape-end",
        b"<head><script><!--<script></script></script>" + N + b"<body>",
        b"<body",
        (N,),
    ),
    _case("script-end-needs-delimiter", b"<head><script>x</scriptx>" + N + b"</script><body>", b"<body"),
    _case("script-end-slash", b"<head><script>x</script/>" + N + b"<body>", b"<body", (N,)),
    _case("script-end-uppercase", b"<head><script>x</SCRIPT\n>" + N + b"<body>", b"<body", (N,)),
    _case("script-cut-in-end-tag-name", b"<head><script>x</script", None),
    _case("script-self-closed", b"<head><script/>" + N + b"</script><body>", None),
    # RCDATA / RAWTEXT.
    _case("title-rcdata", b"<head><title>" + N + b"</title><body>", b"<body"),
    _case("title-end-case-and-space", b"<head><title>a</TITLE >" + N + b"<body>", b"<body", (N,)),
    _case("title-not-ended-by-longer-name", b"<head><title>a</titlex>" + N + b"</title><body>", b"<body"),
    _case("title-self-closed", b"<head><title/>" + N + b"<body>", None),
    _case("title-slash-in-unquoted-value", b"<head><title a=b/>x</title><body>", None),
    _case("style-rawtext", b"<head><style>a{}<!-- " + N + b"</style><body>", b"<body"),
    _case("noframes-rawtext", b"<head><noframes><body>" + N + b"</noframes><body class=b>", b"<body class"),
    _case("style-self-closed", b"<head><style />" + N + b"<body>", None),
    _case("textarea-ends-the-head", b"<head><textarea>" + N, b"<textarea"),
    # "in head noscript" (scripting disabled): not raw text, its content is markup.
    _case("noscript-in-head", b"<head><noscript><link>" + N + b"</noscript></head><body>", b"<body", (N,)),
    _case("noscript-content-is-markup", b"<head><noscript><p>" + N + b"</p></noscript>", b"<p>"),
    # </body>, </html>, </br> end the head for WHATWG (but not in a head <noscript>), not for
    # read_head, which reads the metas after them as head metas: left to read_head.
    _case("noscript-end-body", b"<head><noscript></body></html>" + N + b"</noscript><body>", None),
    _case("end-body", b"<head></body>" + N + b"<p>", None),
    _case("end-html", b"<head></HTML>" + N + b"<p>", None),
    _case("end-br", b"<head></br>" + N + b"<p>", None),
    _case("end-br-after-head", b"<head></head></br>" + N + b"<p>", None),
    # Head extent (§13.2.6.4.4-.6).
    _case("after-head", b"<head></head>" + N + b"<body>", b"<body", (N,)),
    _case("after-head-whitespace", b"<head></head>\n  " + N + b"\n<body>", b"<body", (N,)),
    _case("other-end-tags-ignored", b"<head></p></div></head></head>" + N + b"<body>", b"<body", (N,)),
    _case("br-ends", b"<head><br>" + N, b"<br>"),
    _case("svg-ends", b"<head><svg>" + N + b"</svg>", b"<svg>"),
    _case("unknown-element-ends", b"<head><x-y>" + N, b"<x-y>"),
    _case(
        "head-elements",
        b"<html><head><base href=/><link><basefont><bgsound><html><head>" + N + b"<p>",
        b"<p>",
        (N,),
    ),
    _case("no-head-tag", N + b"<body>", b"<body", (N,)),
    # Text: anything but whitespace (and what may be a character reference) ends the head.
    _case("text-ends", b"<head>x" + N + b"<body>", b"x<meta"),
    _case("text-run-start", b"<head>\n x" + N + b"<body>", b"\n x"),
    _case("text-whitespace", b"<head> \t\r\n\f" + N + b"<body>", b"<body", (N,)),
    _case("text-numeric-references", b"<head>&#32;&#x20;&#9" + N + b"<body>", b"<body", (N,)),
    _case("text-named-reference", b"<head>&nbsp;" + N + b"<body>", b"<body", (N,)),
    _case("text-lone-ampersand", b"<head>& " + N, b"& "),
    _case("text-lt-not-a-tag", b"<head>< meta>" + N, b"< meta"),
    _case("text-nbsp", b"<head>\xc2\xa0" + N, b"\xc2\xa0"),
    _case("text-at-eof", b"<head>x", 6),
    _case("text-needs-the-next-lt", b"<head>xy<p>" + Z, None, limit=8, eof=False),
    _case("text-with-the-next-lt", b"<head>xy<p>" + Z, 6, limit=9 + LOOKAHEAD, eof=False),
    _case("text-before-head-content", b"<html>xy<p>" + Z, None, eof=False),
    _case("text-before-head-content-at-eof", b"<html>xy<p>" + Z, 6),
    _case("lt-text-before-head-content", b"<html>< p>" + Z, None, eof=False),
    _case("text-in-noscript", b"<head><noscript>x" + N + b"<p>" + Z, None),
    _case("lt-text-in-noscript", b"<head><noscript><3" + N + b"<p>" + Z, None),
    _case("text-after-noscript", b"<head><noscript></noscript>x" + N + b"<p>" + Z, b"x<meta"),
    _case("tag-in-noscript", b"<head><noscript><p>x" + N + b"<p>" + Z, b"<p>x"),
    # BOM, XML declaration, NUL, template.
    _case("bom", b"\xef\xbb\xbf" + N + b"<body>", b"<body", (N,)),
    _case("bom-then-xml-declaration", b'\xef\xbb\xbf <?xml version="1.0"?><html>' + N, None),
    _case("xml-declaration", b'<?XML version="1.0"?>' + N + b"<body>", None),
    _case("partial-bom-is-text", b"\xef" + N, 0),
    _case("nul-in-head", b"<head><meta a=\x00>" + N + b"<body>", None),
    _case("nul-after-head", b"<head>" + N + b"<body>\x00", b"<body", (N,)),
    _case("nul-in-ending-text", b"<head>x\x00<p>", None),
    _case("template", b"<head><template>" + N + b"</template><body>", None),
    # Window edges: limit, eof.
    _case("eof-in-data-state", b"<head>" + N, len(b"<head>" + N), (N,)),
    _case("no-eof", b"<head>" + N, None, eof=False),
    _case(
        "limit-cuts-body-tag",
        b"<head>" + N + b"<body class=x>",
        None,
        limit=len(b"<head>" + N + b"<body class=x"),
    ),
    _case(
        "limit-at-body-tag-end", b"<head>" + N + b"<body class=x>" + Z[:LOOKAHEAD], b"<body", (N,), eof=False
    ),
    _case(
        "limit-short-of-lookahead", b"<head>" + N + b"<body class=x>" + Z[: LOOKAHEAD - 1], None, eof=False
    ),
    _case("limit-past-the-end", b"<head>" + N, len(b"<head>" + N), (N,), limit=1000),
    _case("limit-negative", b"", 0, limit=-5),
    _case("empty-not-eof", b"", None, eof=False),
    _case(
        "limit-cuts-meta", b"<head>" + N + b"<body>", None, limit=len(b"<head><meta name=robots content=no")
    ),
    _case("limit-below-length-is-not-eof", b"<head>" + N + b"  ", None, limit=len(b"<head>" + N)),
    _case("limit-hides-the-rest", b"<head><p>" + N, 6, limit=9 + LOOKAHEAD),
    _case("first-tag-needs-lookahead", b"<p>" + Z, None, limit=4, eof=False),
    _case("lt-at-the-end", b"<head><", None),
    _case("eof-in-comment", b"<head><!-- x", None),
    _case("eof-in-tag", b"<head><meta a=b", None),
    _case("eof-in-quoted-value", b'<head><meta a="b>', None),
    _case("eof-in-title", b"<head><title>x", None),
    _case("reference-cut-by-the-limit", b"<head>&#32;<p>", None, limit=9, eof=False),
]


@pytest.mark.parametrize(("doc", "limit", "eof", "expected"), CASES)
def test_rules(scan: Scan, doc: bytes, limit: int, eof: bool, expected: object) -> None:
    assert scan(doc, limit, eof, TOKENS) == expected


def test_tokens_are_the_callers(scan: Scan) -> None:
    doc = b"<head><meta name=a content=b><meta name=robots content=noai><body>"
    assert scan(doc, len(doc), True, ())[2] == ()
    assert scan(doc, len(doc), True, (b"",)) == (HEAD_END, doc.index(b"<body"), ((6, 29), (29, 60)))
    assert scan(doc, len(doc), True, (b"zzz", b"content=b"))[2] == ((6, 29),)
    # Tokens are lowercase ASCII: one with a capital letter never matches (bytes.lower()).
    assert scan(doc, len(doc), True, (b"NOAI",))[2] == ()
    assert scan(doc, len(doc), True, (*(b"t%d" % i for i in range(70)), b"noai"))[2] == ((29, 60),)


def test_bytes_like_data(scan: Scan) -> None:
    doc = b"<head>" + N + b"<body>"
    want = (HEAD_END, 37, ((6, 37),))
    assert scan(bytearray(doc), len(doc), True, TOKENS) == want
    assert scan(memoryview(doc), len(doc), True, TOKENS) == want


@pytest.mark.parametrize(
    "args",
    [
        ("<head>", 6, True, TOKENS),  # str, not bytes
        (b"<head>", 6.0, True, TOKENS),
        (b"<head>", 6, True, [b"noai"]),  # a list
        (b"<head>", 6, True, ("noai",)),
    ],
)
def test_bad_arguments_raise_type_error(scan: Scan, args: tuple[object, ...]) -> None:
    with pytest.raises(TypeError):
        scan(*args)  # type: ignore[arg-type]


def test_implementation_choice() -> None:
    """The C function unless NOAI_GUARD_PURE_PYTHON=1 (read at import)."""
    code = "from noai_guard import htmlscan as h; print(h.IMPLEMENTATION, h.scan_head_tags is h.scan_head_tags_py)"
    env = {**os.environ, "NOAI_GUARD_PURE_PYTHON": "1"}
    pure = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    assert pure.stdout.split() == ["python", "True"]
    env.pop("NOAI_GUARD_PURE_PYTHON")
    default = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    built = htmlscan.scan_head_tags_c is not None
    assert default.stdout.split() == (["c", "False"] if built else ["python", "True"])


def test_ci_has_the_c_scan() -> None:
    """Where the C scan is required (.ci/run), its tests must not be skipped for want of it."""
    built = htmlscan.scan_head_tags_c is not None and htmlscan.media_tags_c is not None
    if os.environ.get("NOAI_GUARD_REQUIRE_C_SCAN") == "1":
        assert built, "noai_guard._htmlscan was not built"
    # The scan in use is the C one exactly when it is built and not switched off.
    wanted = built and os.environ.get("NOAI_GUARD_PURE_PYTHON") != "1"
    assert ("c" if wanted else "python") == htmlscan.IMPLEMENTATION


# --- generated documents ---------------------------------------------------------------------------


def _cased(words: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(words).flatmap(lambda w: st.sampled_from([w, w.upper(), w.title()]))


_WS = st.sampled_from(["", " ", "\n", "\t", "\r\n", "\f", "  "])
_VALUE_BITS = [
    "a",
    " ",
    ">",
    '"',
    "'",
    "<",
    "=",
    "/",
    "noai",
    "robots",
    "&#97;",
    "&amp;",
    "-->",
    "<body>",
    "\x00",
    "é",
]
_VALUE = st.lists(st.sampled_from(_VALUE_BITS), max_size=4).map("".join)
_ATTR_NAME = st.sampled_from(
    ["name", "content", "a", "=x", "x'", '"q', "<b", "noai", "/", "data-NOAI", "property"]
)


@st.composite
def _attribute(draw: st.DrawFn) -> str:
    name = draw(_ATTR_NAME)
    kind = draw(st.sampled_from(["bare", '"', "'", "unquoted"]))
    if kind == "bare":
        return name
    value = draw(_VALUE)
    q = "" if kind == "unquoted" else kind
    return f"{name}{draw(_WS)}={draw(_WS)}{q}{value}{q}"


_HEAD_NAMES = [
    "meta",
    "link",
    "title",
    "script",
    "style",
    "noframes",
    "noscript",
    "base",
    "html",
    "head",
    "template",
]
_OTHER_NAMES = ["body", "div", "p", "br", "svg", "img", "textarea", "frameset", "x-y", "scriptx"]


@st.composite
def _tag(draw: st.DrawFn) -> str:
    end = draw(st.booleans())
    name = draw(_cased(_HEAD_NAMES + _OTHER_NAMES))
    attrs = draw(st.lists(_attribute(), max_size=3))
    seps = [draw(st.sampled_from([" ", "\n", "/", " / ", ""])) for _ in attrs]
    rest = "".join(s + a for s, a in zip(seps, attrs, strict=True))
    close = draw(st.sampled_from([">", ">", ">", "/>", " >", ""]))
    return f"<{'/' if end else ''}{name}{' ' if attrs else ''}{rest}{close}"


_RAW_BITS = [
    "x",
    "<",
    "-",
    "<!--",
    "-->",
    "<script>",
    "</script>",
    "</script",
    "</scriptx>",
    "</title>",
    "</style>",
    "</noframes>",
    "<body>",
    "</SCRIPT >",
    "<!-",
    " ",
    "<meta name=robots content=noai>",
    # Script escapes, whole: "<!--" + "<script>" double-escapes, "</script>" + "-->" undoes it.
    "<!--<script>",
    "</script>-->",
    "<!--</script>",
]
_COMMENT_ENDS = ["-->", "--!>", "->", ">", "-", "", "--", "-- >"]
_TEXT = ["\n", "  ", "&#32;", "&#x20", "&amp;", "x", "&", "<3", "\u00a0", "&nbsp;", "< a", "&#9;"]
_MISC = [
    "<!DOCTYPE html>",
    '<!doctype x ">">',
    "<![CDATA[<body>]]>",
    "<?php '<body>' ?>",
    "</>",
    "</ x>",
    "<!>",
    "<!-->",
    "<!--->",
    "\x00",
    "<?xml version='1.0'?>",
]
_METAS = [
    "<meta name=robots content=noai>",
    '<meta name="robots" content="noindex">',
    "<META CONTENT='NOIMAGEAI' NAME=robots>",
    '<meta name="tdm-reservation" content="1">',
    '<meta name=robots content="no&#97;i">',
    "<meta x' content='>,noai'>",
    '<meta content=">" name=robots x="noai">',
    '<meta name=description content="it\'s >">',
]


@st.composite
def _fragment(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["tag", "tag", "meta", "raw", "comment", "text", "misc"]))
    if kind == "tag":
        return draw(_tag())
    if kind == "meta":
        return draw(st.sampled_from(_METAS))
    if kind == "raw":
        name = draw(st.sampled_from(["script", "title", "style", "noframes"]))
        body = "".join(draw(st.lists(st.sampled_from(_RAW_BITS), max_size=6)))
        return f"<{name}>{body}" + draw(st.sampled_from([f"</{name}>", f"</{name.upper()} x='>'>", ""]))
    if kind == "comment":
        body = "".join(
            draw(
                st.lists(
                    st.sampled_from(["x", "-", "!", "<", ">", " ", "<!--", "<meta content=noai>"]), max_size=5
                )
            )
        )
        return "<!--" + body + draw(st.sampled_from(_COMMENT_ENDS))
    if kind == "text":
        return draw(st.sampled_from(_TEXT))
    return draw(st.sampled_from(_MISC))


@st.composite
def documents(draw: st.DrawFn) -> tuple[bytes, int, bool]:
    start = draw(st.sampled_from(["", "", "\ufeff", "<html><head>", "<!DOCTYPE html>\n<html>\n<head>\n"]))
    frags = draw(st.lists(_fragment(), max_size=14))
    doc = (start + "".join(frags)).encode("utf-8")
    limit = draw(st.integers(min_value=-1, max_value=len(doc) + 2))
    return doc, limit, draw(st.booleans())


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_c_equals_python(case: tuple[bytes, int, bool]) -> None:
    if htmlscan.scan_head_tags_c is None:
        pytest.skip("noai_guard._htmlscan is not built")
    doc, limit, eof = case
    assert htmlscan.scan_head_tags_c(doc, limit, eof, TOKENS) == htmlscan.scan_head_tags_py(
        doc, limit, eof, TOKENS
    )


def _ascii_lower(s: str) -> str:
    return s.translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _words(text: str) -> set[str]:
    low = _ascii_lower(text)
    return {w for w in WORDS if w in low}


def check_sound(doc: bytes, limit: int, eof: bool) -> tuple[int, int, tuple[tuple[int, int], ...]]:
    """When the scan says HEAD_END, ``read_head`` over the same window finds the head complete,
    and every word a head meta holds is in a flagged meta (its references decoded, as the
    caller reads it).  Returns the scan's result."""
    got = both(doc, limit, eof)
    status, _end, flagged = got
    if status != HEAD_END:
        return got
    n = min(max(limit, 0), len(doc))
    at_eof = eof and n == len(doc)
    # read_head takes "budget < len(body)" as "the page goes on".
    body = doc if at_eof or n < len(doc) else doc + b"<p>"
    head = read_head(body, budget=n)
    assert head.complete, (doc, limit, eof, got, head)
    meta_words = set().union(*(_words(m.name + " " + m.content) for m in head.metas))
    flagged_words = set().union(
        *(_words(html.unescape(doc[a:b].decode("utf-8", "replace"))) for a, b in flagged)
    )
    assert meta_words <= flagged_words, (doc, limit, eof, got, head)
    return got


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_sound_against_read_head(case: tuple[bytes, int, bool]) -> None:
    doc, limit, eof = case
    check_sound(doc, limit, eof)
    tight = _tightest_limit(doc)  # the window's edge right after the token that ends the head
    if tight is not None:
        check_sound(doc, tight, False)


@pytest.mark.parametrize(("doc", "limit", "eof", "expected"), CASES)
def test_rules_sound_against_read_head(doc: bytes, limit: int, eof: bool, expected: object) -> None:
    check_sound(doc, limit, eof)


# --- real pages ------------------------------------------------------------------------------------


def _tightest_limit(doc: bytes) -> int | None:
    """The smallest window (eof=False) in which the scan finds the head's end, if any."""
    lo, hi = 0, min(len(doc), BUDGET)
    if both(doc, hi, False)[0] != HEAD_END:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if both(doc, mid, False)[0] == HEAD_END:
            hi = mid
        else:
            lo = mid + 1
    return hi


def test_real_pages(real_pages: list[tuple[str, bytes]]) -> None:
    """Both implementations agree on every real page, and the scan is sound for each, at the
    budget and at the tightest window in which it finds the head end."""
    assert len(real_pages) > 200
    outcomes = {"unsure": 0, "flagged": 0, "clean": 0}
    for _name, doc in real_pages:
        status, _end, flagged = check_sound(doc, BUDGET, True)
        outcomes["unsure" if status == UNSURE else "flagged" if flagged else "clean"] += 1
        tight = _tightest_limit(doc)
        if tight is not None:
            check_sound(doc, tight, False)
            assert both(doc, tight, False) == both(doc, BUDGET, True)
    # Most real heads end within the budget and have no candidate meta.
    assert outcomes["unsure"] < len(real_pages) * 0.05, outcomes
    assert outcomes["clean"] > len(real_pages) * 0.5, outcomes


# --- media mode --------------------------------------------------------------------------------------

MEDIA_NAMES = (b"img", b"source", b"meta", b"base", b"picture")
IMG, SOURCE, META, BASE, PICTURE = range(5)
UNKNOWN, OTHER = htmlscan.PARENT_UNKNOWN, htmlscan.PARENT_OTHER
MEDIA_IMPLEMENTATIONS = {"python": htmlscan.media_tags_py, "c": htmlscan.media_tags_c}
Media = Callable[[bytes, int, tuple[bytes, ...]], tuple[int, tuple[tuple[int, int, int, int], ...]]]


@pytest.fixture(params=sorted(MEDIA_IMPLEMENTATIONS))
def media(request: pytest.FixtureRequest) -> Media:
    fn = MEDIA_IMPLEMENTATIONS[request.param]
    if fn is None:
        pytest.skip("noai_guard._htmlscan is not built (no compiler at install time)")
    return fn


def _tags(doc: bytes, *found: tuple[int, bytes, int]) -> object:
    """The expected DONE result: (name index, the tag's text (its first occurrence at or after the
    previous one's end), parent) for each tag."""
    out, at = [], 0
    for index, text, parent in found:
        start = doc.index(text, at)
        at = start + len(text)
        out.append((index, start, at, parent))
    return (htmlscan.DONE, tuple(out))


def _media_case(name: str, doc: bytes, *found: tuple[int, bytes, int], unsure: bool = False) -> object:
    return pytest.param(doc, (UNSURE, ()) if unsure else _tags(doc, *found), id=name)


MEDIA_CASES = [
    _media_case(
        "picture",
        b"<picture>\n <source srcset=a.webp><img src=a.jpg></picture>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source srcset=a.webp>", PICTURE),
        (IMG, b"<img src=a.jpg>", SOURCE),  # libxml2: <source> is no void element
    ),
    _media_case(
        "comment-and-img-keep-the-parent",
        b"<picture><!-- x --><img>\n<source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (IMG, b"<img>", PICTURE),
        (SOURCE, b"<source>", PICTURE),
    ),
    # libxml2 may close the open element on another void tag (<p><hr>): the parent is unknown.
    _media_case(
        "other-void-tags-forget-the-parent",
        b"<picture><br><img>\n<hr/><isindex><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (IMG, b"<img>", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    _media_case(
        "stray-body-forgets-the-parent",  # libxml2 makes no element for it
        b"<picture><body><source><html><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    # What libxml2 (lxml) parses as empty is void; WHATWG's embed, source, track, wbr, keygen
    # and bgsound are not: lxml nests <picture><source><source> (the second one's parent is the first).
    _media_case(
        "source-is-not-void",
        b"<picture><source srcset=a><source srcset=b><img></picture>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source srcset=a>", PICTURE),
        (SOURCE, b"<source srcset=b>", SOURCE),
        (IMG, b"<img>", SOURCE),
    ),
    _media_case(
        "wbr-is-not-void",
        b"<picture><wbr><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", OTHER),
    ),
    _media_case(
        "embed-is-not-void",
        b"<picture><embed><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", OTHER),
    ),
    _media_case(
        "track-is-not-void",
        b"<picture><track><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", OTHER),
    ),
    _media_case(
        "bogus-comments-keep-the-parent",
        b"<picture><?x?></ x></><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", PICTURE),
    ),
    _media_case(
        "text-breaks-the-chain",
        b"<picture>x<source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    _media_case(
        "reference-is-text",
        b"<picture>&#32;<source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    _media_case(
        "lt-text-breaks-the-chain",
        b"<picture>< <source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    _media_case(
        "end-tag-breaks-the-chain",
        b"<picture></b><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    _media_case(
        "doctype-breaks-the-chain",
        b"<picture><!DOCTYPE html><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    _media_case(
        "other-parent",
        b"<picture><div>\n<source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", OTHER),
    ),
    _media_case(
        "self-closed-forgets-the-parent",  # libxml2 may close the open element on <p/>
        b"<div><picture/><source srcset=a /><source><p/><source>",
        (PICTURE, b"<picture/>", OTHER),
        (SOURCE, b"<source srcset=a />", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    _media_case(
        "slash-in-unquoted-value-is-no-self-closing",
        b'<picture><source srcset=a/><source srcset="b"/><source>',
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source srcset=a/>", PICTURE),
        (SOURCE, b'<source srcset="b"/>', SOURCE),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    _media_case(
        "slash-space-is-no-self-closing",
        b"<picture><source/ ><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source/ >", PICTURE),
        (SOURCE, b"<source>", SOURCE),
    ),
    _media_case(
        "self-closed-body-is-unknown",
        b"<picture><body/><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    _media_case(
        "void-end-tag",
        b"<picture><img></img><source>",
        (PICTURE, b"<picture>", UNKNOWN),
        (IMG, b"<img>", PICTURE),
        (SOURCE, b"<source>", UNKNOWN),
    ),
    _media_case(
        "uppercase",
        b"<PICTURE><SOURCE SRCSET=x><IMG SRC=y>",
        (PICTURE, b"<PICTURE>", UNKNOWN),
        (SOURCE, b"<SOURCE SRCSET=x>", PICTURE),
        (IMG, b"<IMG SRC=y>", SOURCE),
    ),
    _media_case(
        "quoted-gt",
        b'<img alt=">" src=a><meta content="<img src=b>">',
        (IMG, b'<img alt=">" src=a>', UNKNOWN),
        (META, b'<meta content="<img src=b>">', UNKNOWN),
    ),
    _media_case(
        "head-and-body",
        b"<html><head><base href=/x/><meta property=og:image content=a></head><body><img src=b>",
        (BASE, b"<base href=/x/>", UNKNOWN),  # after <head>: libxml2 makes none when stray
        (META, b"<meta property=og:image content=a>", UNKNOWN),  # after a void tag other than <img>
        (IMG, b"<img src=b>", UNKNOWN),
    ),
    # Raw text: RCDATA, RAWTEXT, script data (with its escapes), plaintext.
    _media_case(
        "script", b"<script>var s='<img src=a>';</script><img src=b>", (IMG, b"<img src=b>", UNKNOWN)
    ),
    _media_case(
        "script-double-escaped",
        b"<script><!--<script></script><img src=a></script>--></script><img src=b>",
        (IMG, b"<img src=b>", UNKNOWN),
    ),
    _media_case("script-escaped-end", b"<script><!--</script><img src=b>", (IMG, b"<img src=b>", UNKNOWN)),
    _media_case(
        "script-cdata", b"<script>//<![CDATA[\nx<y\n//]]></script><img src=b>", (IMG, b"<img src=b>", UNKNOWN)
    ),
    _media_case("title", b"<title><img src=a></title><img src=b>", (IMG, b"<img src=b>", UNKNOWN)),
    _media_case("textarea", b"<textarea><img src=a></TEXTAREA ><img src=b>", (IMG, b"<img src=b>", UNKNOWN)),
    _media_case("style", b"<style>a>b{}<img src=a></style><img src=b>", (IMG, b"<img src=b>", UNKNOWN)),
    _media_case("xmp", b"<xmp><img src=a></xmp><img src=b>", (IMG, b"<img src=b>", UNKNOWN)),
    _media_case("iframe", b"<iframe><img src=a></iframe><img src=b>", (IMG, b"<img src=b>", UNKNOWN)),
    _media_case("noembed", b"<noembed><img src=a></noembed><img src=b>", (IMG, b"<img src=b>", UNKNOWN)),
    _media_case("noframes", b"<noframes><img src=a></noframes><img src=b>", (IMG, b"<img src=b>", UNKNOWN)),
    _media_case(
        "end-tag-needs-delimiter",
        b"<title></titlex><img src=a></title><img src=b>",
        (IMG, b"<img src=b>", UNKNOWN),
    ),
    _media_case(
        "plaintext", b"<img src=a><plaintext></plaintext><img src=b>", (IMG, b"<img src=a>", UNKNOWN)
    ),
    _media_case("noscript-is-markup", b"<noscript><img src=a></noscript>", (IMG, b"<img src=a>", OTHER)),
    _media_case("comment", b"<!-- <img src=a> --><!--><img src=b>", (IMG, b"<img src=b>", UNKNOWN)),
    _media_case(
        "attributes-of-an-end-tag", b'<title>t</title x=">"><img src=b>', (IMG, b"<img src=b>", UNKNOWN)
    ),
    # Foreign content: raw text only where its content holds no "<".
    _media_case("svg-style", b"<svg><style>a{}</style></svg><img src=b>", (IMG, b"<img src=b>", UNKNOWN)),
    _media_case("svg-style-with-lt", b"<svg><style><img src=a></style></svg><img src=b>", unsure=True),
    _media_case("math-title-with-lt", b"<math><title>a<b</title></math>", unsure=True),
    _media_case(
        "svg-closed-then-raw-text",
        b"<svg></svg><style><img src=a></style><img src=b>",
        (IMG, b"<img src=b>", UNKNOWN),
    ),
    _media_case("svg-plaintext", b"<svg><plaintext>x<y", unsure=True),
    # Unsure.
    _media_case("cdata", b"<svg><![CDATA[<img src=a>]]></svg>", unsure=True),
    _media_case("nul", b"<img src=a>\x00", unsure=True),
    _media_case("eof-in-tag", b"<img src=a", unsure=True),
    _media_case("eof-in-quoted-value", b'<img src="a>', unsure=True),
    _media_case("eof-in-comment", b"<img><!-- x", unsure=True),
    _media_case("eof-in-script", b"<img><script>x", unsure=True),
    _media_case("lt-at-eof", b"<img><", unsure=True),
    _media_case("self-closed-raw-text", b"<title/><img src=a></title>", unsure=True),
    _media_case("self-closed-iframe", b"<iframe src=x /><img src=a></iframe>", unsure=True),
    _media_case(
        "iframe-slash-in-unquoted-value",
        b"<iframe src=x/><img src=a></iframe><img src=b>",
        (IMG, b"<img src=b>", UNKNOWN),
    ),
    _media_case("empty", b""),
]


@pytest.mark.parametrize(("doc", "expected"), MEDIA_CASES)
def test_media_rules(media: Media, doc: bytes, expected: object) -> None:
    assert media(doc, len(doc), MEDIA_NAMES) == expected


def test_media_names_and_limit(media: Media) -> None:
    doc = b"<p><img src=a><source><img src=b>"
    assert media(doc, len(doc), ()) == (htmlscan.DONE, ())
    # The first of equal names wins; a name with a capital letter never matches.
    assert media(doc, len(doc), (b"IMG", b"source", b"source")) == (htmlscan.DONE, ((1, 14, 22, -2),))
    assert media(doc, len(doc), (b"p", b"img")) == (
        htmlscan.DONE,
        ((0, 0, 3, -1), (1, 3, 14, 0), (1, 22, 33, -2)),
    )
    # data[:limit] is the document.
    assert media(doc, 14, (b"img",)) == (htmlscan.DONE, ((0, 3, 14, -2),))
    assert media(doc, 13, (b"img",)) == (UNSURE, ())
    assert media(doc, -1, (b"img",)) == (htmlscan.DONE, ())
    assert media(bytearray(doc), 100, (b"img",)) == media(doc, len(doc), (b"img",))
    with pytest.raises(TypeError):
        media(doc, len(doc), [b"img"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        media(doc, len(doc), ("img",))  # type: ignore[arg-type]


_MEDIA_BITS = [
    "<img src=a>",
    "<IMG SRC='>'>",
    "<source srcset=x>",
    "<picture>",
    "</picture>",
    "<svg>",
    "</svg>",
    "<math>",
    "</math>",
    "<iframe>",
    "</iframe>",
    "<textarea>",
    "</textarea>",
    "<xmp>",
    "</xmp>",
    "<noembed>",
    "</noembed>",
    "<plaintext>",
    "<br>",
    "<div>",
    "</div>",
    "<picture/>",
    "<![CDATA[x]]>",
    "<noscript>",
    "</noscript>",
    "<base href=x>",
    "<meta content=y>",
    "<!DOCTYPE html>",
    "<title/>",
]


@st.composite
def media_documents(draw: st.DrawFn) -> tuple[bytes, int, tuple[bytes, ...]]:
    frags = draw(st.lists(st.one_of(_fragment(), st.sampled_from(_MEDIA_BITS)), max_size=20))
    doc = "".join(frags).encode("utf-8")
    limit = draw(st.one_of(st.just(len(doc)), st.integers(min_value=-1, max_value=len(doc) + 2)))
    names = tuple(
        draw(
            st.lists(
                st.sampled_from([b"img", b"source", b"meta", b"base", b"picture", b"div", b"Img", b"svg"]),
                max_size=6,
            )
        )
    )
    return doc, limit, names


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(media_documents())
def test_media_c_equals_python(case: tuple[bytes, int, tuple[bytes, ...]]) -> None:
    if htmlscan.media_tags_c is None:
        pytest.skip("noai_guard._htmlscan is not built")
    doc, limit, names = case
    assert htmlscan.media_tags_c(doc, limit, names) == htmlscan.media_tags_py(doc, limit, names)


def test_media_real_pages(real_pages: list[tuple[str, bytes]]) -> None:
    """Both implementations agree on every real page; nearly all pages are read to the end, and
    then the scan finds as many of each element as lxml's parse of the page holds."""
    unsure = 0
    parser = etree.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True)
    for name, doc in real_pages:
        data = doc[3:] if doc.startswith(b"\xef\xbb\xbf") else doc
        status, tags = htmlscan.media_tags_py(data, len(data), MEDIA_NAMES)
        if htmlscan.media_tags_c is not None:
            assert htmlscan.media_tags_c(data, len(data), MEDIA_NAMES) == (status, tags), name
        if status == UNSURE:
            unsure += 1
            continue
        root = etree.fromstring(data, parser)
        found = [sum(1 for t in tags if t[0] == i) for i in range(len(MEDIA_NAMES))]
        assert found == [sum(1 for _ in root.iter(t.decode())) for t in MEDIA_NAMES], name
        # A <source>'s parent, when the scan knows it, is a <picture> exactly when lxml's is.
        in_picture = [el.getparent().tag == "picture" for el in root.iter("source")]
        parents = [t[3] for t in tags if t[0] == SOURCE]
        assert [p == PICTURE for p in parents if p != UNKNOWN] == [
            lx for lx, p in zip(in_picture, parents, strict=True) if p != UNKNOWN
        ], name
    assert unsure < len(real_pages) * 0.05
