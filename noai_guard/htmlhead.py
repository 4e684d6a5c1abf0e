"""Internal: bounded reader for the ``<meta>`` tags of an HTML document's head, and embedded images.

:func:`read_head` feeds lxml's HTML push parser in growing chunks and stops as
soon as the body starts (or at a byte budget), so its cost does not grow with
the page.  Where the head ends follows the WHATWG HTML parsing algorithm
("in head" / "after head" insertion modes, scripting disabled as for a crawler
that does not run scripts):

* ``meta``, ``link``, ``script``, ``style``, ``title``, ``base``, ``template``,
  ``noframes`` (and ``noscript`` before ``</head>``) are head elements; a stray
  ``</head>`` does not end the head for them ("after head" mode).
* The body starts at ``<body>``, at the first other start tag, or at the first
  non-whitespace text outside head elements.

lxml 6 (libxml2 2.14) tokenises like HTML5: ``<title>``/``<textarea>`` are
RCDATA, ``<script>``/``<style>`` raw text, ``<![CDATA[`` a bogus comment.  The
reader still ignores any ``<meta>`` reported inside those elements, inside
``<template>`` (inert) and inside SVG/MathML, so older libxml2 builds that
parse title content as markup cannot leak metas.  Elements inside a head
``<template>`` do not end the head either.  libxml2 opens an implied ``<body>``
for a ``<noscript>`` or ``<template>`` before any head content or after a
``<head/>`` (WHATWG ignores the ``/``), and none for an unknown element in the
head; the reader decides the head's end itself.  Where libxml2's implied
``<body>`` may hold head content, the reader finds the first tag that ends the
head by parsing the bytes before each candidate with a sentinel (see
:class:`_HeadEnd`).

The first chunk runs to the end of the first literal ``<body ...>``.  Most
pages' heads end there, so :func:`read_head` first parses that chunk in one
call and walks the tree in document order (start-event order) with the same
rules; it keeps that result only when it provably equals what the push parser
would report for the chunk (see :func:`_read_head_fast`), else it runs the push
reader.  Both give the same :class:`Head`, ``bytes_read`` included.

The bytes are decoded in Python (BOM, then the given encoding, then UTF-8,
invalid bytes replaced) and handed to lxml as UTF-8 with the encoding fixed, so
a bogus ``<meta charset>`` cannot switch libxml2's decoder.

:func:`embedded_images` parses the whole page, unless a cheap byte scan shows
that no image tag or image meta can be in it.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import urljoin, urlsplit

from lxml import etree

__all__ = ["Head", "Meta", "embedded_images", "embedded_media", "read_head"]

# WHATWG HTML "in head" insertion mode: start tags processed as head content.
_HEAD_TAGS = frozenset(
    {"base", "basefont", "bgsound", "link", "meta", "title", "noframes", "script", "style", "template"}
)
# <noscript> before </head> is a head element too ("in head noscript" mode, scripting
# disabled); a head tag inside it is still head content (the mode reprocesses it "in head").
# Elements whose content is text, inert or foreign: a <meta> inside is not a document meta.
_OPAQUE = frozenset(
    {
        "title",
        "textarea",
        "script",
        "style",
        "xmp",
        "iframe",
        "noembed",
        "noframes",
        "plaintext",
        "template",
        "svg",
        "math",
    }
)
_HTML_WS = " \t\n\f\r"
_FIRST_CHUNK = 4096
_MAX_CHUNK = 32 * 1024
_HINT_SPAN = 64 * 1024  # how far to look for a literal <body> to size the first chunk
_BODY_TAG_RE = re.compile(r"<body[\s/>]", re.IGNORECASE)
# Head elements for which libxml2 implies a <body> when no head content came before.
_BODY_OPENER_RE = re.compile(rb"<(?:noscript|template)", re.IGNORECASE)
# Tags that end the head ("in head": <body>, </head>, and </body>, </html>, </br> as
# "anything else"; "after head" takes head elements after a </head> still).
_HEAD_CLOSE_RE = re.compile(rb"<(?:body|/head|/body|/html|/br)[\t\n\f\r />]", re.IGNORECASE)
_MAX_PROBES = 16  # candidates parsed for; past that the head is taken to go on
# Bytes parsed for them in all (each parse is of every byte before its candidate): past
# that too.  Without it, 16 candidates at the end of a 256 KiB head cost 16 parses of it
# (4-5 s for one of small tags); no real page needs a probe at all.
_MAX_PROBE_BYTES = 256 * 1024
# Start tags that leave WHATWG "in head noscript" as it is (processed "in head", or ignored).
_IN_HEAD_NOSCRIPT = frozenset({"basefont", "bgsound", "link", "meta", "noframes", "style", "noscript"})
# Appended to the first chunk by the fast path.  The attribute name has no letters, so a
# plain search finds it in a page whatever its case.
_SENTINEL_ATTR = "_0-0-0"
_SENTINEL_ATTR_BYTES = _SENTINEL_ATTR.encode()
_SENTINEL = b"<frame " + _SENTINEL_ATTR_BYTES + b">"


@dataclass(frozen=True, slots=True)
class Meta:
    """One ``<meta>`` with a ``name`` (or ``property``) attribute."""

    name: str  # lowercased name (or property) attribute
    content: str  # attribute value, entities decoded, original case
    raw: str  # the tag rebuilt from its attributes, for evidence
    in_body: bool  # only possible in strict mode


@dataclass(frozen=True, slots=True)
class Head:
    """The metas of a document head, and whether the head's end was reached."""

    metas: tuple[Meta, ...]
    complete: bool  # the body start (or EOF) was reached within the budget
    bytes_read: int


def _attr(value: str) -> str:
    # libxml2's HTML parser lowercases element and attribute names; values need escaping.
    return value.replace("&", "&amp;").replace('"', "&quot;") if ("&" in value or '"' in value) else value


def _meta(el: etree._Element, in_body: bool) -> Meta | None:
    """A :class:`Meta` for a document ``<meta>`` with a name, else ``None``."""
    parent = el.getparent()
    if parent is not None and parent.tag not in ("head", "html", "body"):
        for anc in el.iterancestors():
            if anc.tag in _OPAQUE:
                return None  # text, inert (template) or foreign (SVG/MathML) content
    # The HTML parser gives str names and values, and keeps the first of duplicate attributes.
    return meta_from_attributes(cast("list[tuple[str, str]]", el.items()), in_body)


def meta_from_attributes(items: list[tuple[str, str]], in_body: bool) -> Meta | None:
    """The :class:`Meta` of a ``<meta>`` with these attributes (names lowercased, values
    decoded, the first of a repeated name only, in document order), or ``None`` without a
    name: what :func:`read_head` reports for the element libxml2 builds of them."""
    if len(items) == 2:
        # The usual <meta name|property="..." content="...">, spelt out: the general
        # code below gives the same Meta for it.
        (key, value), (key2, content) = items
        if key2 == "content" and value and (key == "name" or key == "property"):
            if "&" in value or '"' in value or "&" in content or '"' in content:
                raw = f'<meta {key}="{_attr(value)}" content="{_attr(content)}">'
            else:
                raw = f'<meta {key}="{value}" content="{content}">'
            meta = _NEW_META(Meta)
            _SET_NAME(meta, value.strip().lower())
            _SET_CONTENT(meta, content)
            _SET_RAW(meta, raw)
            _SET_IN_BODY(meta, in_body)
            return meta
    attrs = dict(items)
    name = attrs.get("name") or attrs.get("property")
    if not name:
        return None
    raw = "<meta" + "".join([f' {k}="{_attr(v)}"' for k, v in items]) + ">"
    return Meta(name.strip().lower(), attrs.get("content") or "", raw, in_body)


# Meta(...) for the common case without the frozen __init__ (one object.__setattr__ call
# per field): the slot descriptors set the same four fields in about half the time.
_NEW_META = object.__new__
_SET_NAME = Meta.__dict__["name"].__set__
_SET_CONTENT = Meta.__dict__["content"].__set__
_SET_RAW = Meta.__dict__["raw"].__set__
_SET_IN_BODY = Meta.__dict__["in_body"].__set__


class _HeadEnd:
    """Where the head ends, looked for as bytes arrive: for a ``<noscript>`` at the first
    tag ``_HEAD_CLOSE_RE`` matches ("in head" only), for head elements at the first but a
    ``</head>`` ("after head" still takes them).

    A candidate is a tag when the sentinel parsed in its place is an element: the bytes
    before it end in the data state, not in a comment, raw text or an attribute.  WHATWG
    ignores ``</head>``, ``</body>``, ``</html>`` in a head ``<noscript>`` ("in head
    noscript"), and these and ``<body>`` in a ``<template>`` ("in template").
    """

    __slots__ = ("close", "done", "end", "end_root", "pos", "probe_bytes", "probes", "root", "seen")

    def __init__(self) -> None:
        self.seen = 0  # bytes looked at
        self.pos = 0  # candidates before this offset are not tags
        self.probes = _MAX_PROBES
        self.probe_bytes = _MAX_PROBE_BYTES
        self.done = False
        self.root: etree._Element | None = None  # libxml2's tree before the first tag
        self.close: int | None = None  # start events after libxml2's <body> before the first tag
        self.end: int | None = None  # the same before the first tag but a </head>
        self.end_root: etree._Element | None = None  # libxml2's tree before that tag

    def find(self, data: bytes) -> None:
        """Look on in ``data`` (the bytes read so far); give up after ``_MAX_PROBES`` candidates
        or ``_MAX_PROBE_BYTES`` parsed for them."""
        if self.done or len(data) == self.seen:
            return
        self.seen = len(data)
        if _SENTINEL_ATTR_BYTES in data:
            self.done = True  # the page could fake the sentinel
            return
        for m in _HEAD_CLOSE_RE.finditer(data, self.pos):
            self.pos = m.start() + 1
            name = m.group()[1:-1].lower()
            if name == b"/head" and self.close is not None:
                continue  # "after head" ignores it
            if not self.probes or m.start() > self.probe_bytes:
                self.done = True
                return
            self.probes -= 1
            self.probe_bytes -= m.start()
            parser = etree.HTMLPullParser(
                events=("start",), encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True
            )
            parser.feed(data[: m.start()] + _SENTINEL)
            try:
                root = parser.close()
            except etree.LxmlError:
                continue
            started = [el for _, el in parser.read_events() if isinstance(el, etree._Element)]
            if not started or started[-1].get(_SENTINEL_ATTR) is None:
                continue  # not in the data state
            enclosing = list(started[-1].iterancestors())
            if any(a.tag == "template" for a in enclosing):
                continue
            noscript = next((a for a in reversed(enclosing) if a.tag == "noscript"), None)
            ignored = name in (b"/head", b"/body", b"/html")
            if noscript is not None and ignored and _in_head_noscript(noscript):
                continue
            body = next((i for i, el in enumerate(started) if el.tag == "body"), None)
            after_body = 0 if body is None else len(started) - body - 2  # the sentinel not counted
            if self.close is None:
                self.root, self.close = root, after_body
            if name != b"/head":
                self.end, self.end_root, self.done = after_body, root, True
                return
        self.pos = max(self.pos, len(data) - 6)  # a tag cut at the end is matched again


def _in_head_noscript(noscript: etree._Element) -> bool:
    """Whether WHATWG is still "in head noscript" at the end of ``noscript``'s contents:
    any start tag but these, or text, pops the ``<noscript>`` (libxml2 keeps nesting)."""
    for el in noscript.iter():
        if el.get(_SENTINEL_ATTR) is not None:
            continue
        if el is not noscript and (el.tag not in _IN_HEAD_NOSCRIPT or (el.tail or "").strip(_HTML_WS)):
            return False
        if el.tag not in ("style", "noframes") and (el.text or "").strip(_HTML_WS):
            return False
    return True


def _in_template(el: etree._Element) -> bool:
    """Whether ``el`` is ``<template>`` contents (inert: WHATWG "in template")."""
    return next(el.iterancestors("template"), None) is not None


def _lead(root: etree._Element | None) -> str | None:
    """The tag of the first child of libxml2's ``<body>`` in ``root``, unless text came first."""
    body = root.find("body") if root is not None else None
    if body is None or not len(body) or (body.text or "").strip(_HTML_WS):
        return None
    tag = body[0].tag
    return tag if isinstance(tag, str) else None


def _inert(el: etree._Element) -> bool:
    """Whether text in ``el`` is raw text, RCDATA, ``<template>`` contents or foreign."""
    return el.tag in _OPAQUE or any(a.tag in _OPAQUE for a in el.iterancestors())


def _text_between(last: etree._Element, el: etree._Element) -> bool:
    """Whether document text other than whitespace lies between the start tags of ``last``
    and of ``el``, the next element."""
    pieces = [(last.text, last)]
    parent = el.getparent()
    node = last
    # Unless el is its first child, last has no children: then its tail and its ancestors'.
    while node is not parent and (up := node.getparent()) is not None:
        pieces.append((node.tail, up))
        node = up
    return any(t and t.strip(_HTML_WS) and not _inert(where) for t, where in pieces)


class _HeadScan:
    """Applies the WHATWG head/body rules to libxml2's start events and collects metas."""

    def __init__(self, strict: bool, defer: bool = False) -> None:
        self.strict = strict
        self.defer = defer  # leave a <body> that may hold head content to the push reader
        self.metas: list[Meta] = []
        self.head_seen = False
        self.in_body = False
        self.head: etree._Element | None = None  # libxml2's <head>
        self.pending: etree._Element | None = None  # a <body> libxml2 implied before any head content
        # A <body> libxml2 implied for a <noscript> or <template> that WHATWG keeps in the
        # head, the last start event and how many start events came after that <body>.
        self.head_body: etree._Element | None = None
        self.last: etree._Element | None = None
        self.count = 0
        self.head_end: _HeadEnd | None = None
        self.fed: list[bytes] = []
        self.joined = (0, b"")  # b"".join(self.fed) for so many chunks

    def _start_body(self) -> bool:
        self.in_body = True
        self.pending = None
        self.head_body = None
        return not self.strict  # stop reading unless strict

    def event(self, el: etree._Element) -> bool:
        """Process one start event; True when reading can stop."""
        tag = el.tag  # lowercased by libxml2's HTML parser
        if not isinstance(tag, str):
            return False
        if not self.in_body:
            if self.pending is not None:
                # libxml2 implies <body> before a leading <noscript> or <template>; WHATWG
                # "before head" (scripting disabled) puts it in the head, unless text came first.
                if tag == "noscript" or tag == "template":
                    self.head_body = self.last = self.pending
                    self.pending = None
                    if self._held(el, tag):
                        return True
                elif self._start_body():
                    return True
            elif self.head_body is not None:
                if self._held(el, tag):
                    return True
            elif tag == "html":
                return False
            elif tag == "head":
                self.head_seen = True
                self.head = el
                return False
            elif tag == "body":
                head = self.head
                if (head is None or not len(head)) and self._body_holds_head(el):
                    return False
                if self._start_body():
                    return True
            elif tag in _HEAD_TAGS:
                self.head_seen = True
            elif _in_template(el):
                pass  # "in template": inert contents, the head goes on after </template>
            elif tag == "noscript":
                parent = el.getparent()
                in_head = parent is not None and parent.tag in ("head", "noscript") and self.head_seen
                if not in_head and self._start_body():
                    return True
            elif self._start_body():
                return True
        if tag == "meta":
            m = _meta(el, self.in_body)
            if m is not None:
                self.metas.append(m)
        return False

    def _body_holds_head(self, body: etree._Element) -> bool:
        """Whether libxml2's ``<body>``, opened while its head holds nothing, may hold head content.

        WHATWG (scripting disabled) keeps a ``<noscript>`` in the head in "before head"
        and "in head" (which a ``<head/>`` does not leave: the ``/`` is ignored), and a
        ``<template>`` in "after head" too; libxml2 implies a ``<body>`` for either.  That
        ``<body>`` is not a ``<body>`` tag when the tree before the first tag that ends the
        head ("in head" for a ``<noscript>``, "after head" for a ``<template>``) holds it,
        starting with that element.
        """
        data = self._data()
        if _BODY_OPENER_RE.search(data) is not None:
            if self.defer:
                self.head_body = body
                return True
            # The trees before those tags, or of all that was read while no tag has ended the head.
            end = self._head_end()
            close_root, end_root = end.root, end.end_root
            if close_root is None or end_root is None:
                whole = etree.fromstring(data, _html_parser())
                close_root = whole if close_root is None else close_root
                end_root = whole if end_root is None else end_root
            if _lead(close_root) == "noscript" or _lead(end_root) == "template":
                self.head_body = self.last = body
                return True
        if not self.head_seen and not _BODY_TAG_RE.search(data.decode("utf-8", "replace")):
            self.pending = body  # implied before anything else: the next start event decides
            return True
        return False

    def _held(self, el: etree._Element, tag: str) -> bool:
        """:meth:`event` for an element after ``head_body`` opened: True when reading can stop.

        An element is head content when no text came since the last start tag and it
        starts before the tag that ends the head: fewer start events came since libxml2's
        ``<body>`` than libxml2 gives for the bytes before that tag.
        """
        last, self.last = cast("etree._Element", self.last), el
        k = self.count
        self.count += 1
        if _in_template(el):
            return False  # "in template": inert contents, the head goes on after </template>
        if _text_between(last, el):
            return self._start_body()  # "in head", "in head noscript", "after head": anything else
        parent = el.getparent()
        if tag in ("html", "head"):
            return False  # ignored by WHATWG here (after a </html> libxml2 starts a new root)
        if tag == "noscript" and (parent is None or parent.tag != "noscript"):
            limit = self._head_end().close  # "in head" only, so not after </head>
        elif tag in _HEAD_TAGS or tag == "noscript":
            limit = self._head_end().end  # "after head" still puts these in the head
        else:
            return self._start_body()
        if limit is not None and k >= limit:
            return self._start_body()
        self.head_seen = True
        return False

    def _head_end(self) -> _HeadEnd:
        end = self.head_end
        if end is None:
            end = self.head_end = _HeadEnd()
        if not end.done:
            end.find(self._data())
        return end

    def _data(self) -> bytes:
        n, data = self.joined
        if n != len(self.fed):
            data = b"".join(self.fed)
            self.joined = (len(self.fed), data)
        return data


def _decoder(body: bytes, encoding: str | None) -> tuple[codecs.IncrementalDecoder, int]:
    """An incremental decoder for ``body`` and the length of its BOM (BOM > encoding > UTF-8)."""
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            return codecs.getincrementaldecoder(enc)(errors="replace"), len(bom)
    if encoding:
        try:
            return codecs.getincrementaldecoder(encoding)(errors="replace"), 0
        except (LookupError, TypeError, ValueError):
            pass
    return codecs.getincrementaldecoder("utf-8")(errors="replace"), 0


def _utf8_start(body: bytes, encoding: str | None) -> int:
    """Where the text starts when :func:`_decoder` would decode ``body`` as UTF-8, else -1."""
    if body.startswith(codecs.BOM_UTF8):
        return len(codecs.BOM_UTF8)
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return -1
    if encoding:
        try:
            if codecs.lookup(encoding).name != "utf-8":
                return -1
        except (LookupError, TypeError, ValueError):
            return -1  # left to _decoder()
    return 0


def _body_tag_end(body: bytes, start: int, end: int) -> int:
    """Offset just past the first literal ``<body ...>`` within the hint span, or -1."""
    span = min(end, start + _HINT_SPAN)
    hit = body.find(b"<body", start, span)
    upper = body.find(b"<BODY", start, span if hit < 0 else hit)
    hit = upper if upper >= 0 else hit
    if hit >= 0:
        close = body.find(b">", hit, span)
        if close >= 0:
            return close + 1
    return -1


def _chunks(body: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Chunk bounds: first up to the end of the first literal ``<body ...>``, then growing chunks."""
    cut = _body_tag_end(body, start, end)
    first = cut - start if cut >= 0 else _FIRST_CHUNK
    size, pos = first, start
    while pos < end:
        nxt = min(pos + size, end)
        yield pos, nxt
        pos = nxt
        size = min(max(_FIRST_CHUNK, size * 2), _MAX_CHUNK)


def read_head(
    body: bytes, *, budget: int = 256 * 1024, strict: bool = False, encoding: str | None = None
) -> Head:
    """Read the ``<meta name|property>`` tags of the document head, within ``budget`` bytes.

    ``strict=True`` also reads metas in the body (``in_body=True``), up to the
    budget.  Never raises: on any parser failure the metas found so far are
    returned with ``complete=False``.
    """
    try:
        data, limit = bytes(body), max(0, int(budget))
        head = _read_head(data, limit, strict, encoding)
        if not _self_closed_title(data, head.bytes_read):
            return head
        # libxml2 honours the "/" of <title/>; WHATWG ignores it ("in head": RCDATA to
        # </title>), so "<title/>Page</title><meta ...>" puts the meta in the body for one
        # and in the head for the other.  Both views are read and their metas kept: a
        # <title/> with no </title> (XHTML) would otherwise hide every later meta, and a
        # </title> far on (an SVG <title>) would hide the ones in between.
        other = _read_head(_TITLE_TAG.sub(_unclose, data), limit, strict, encoding)
        return _union(head, other)
    except Exception:  # noqa: BLE001  # pragma: no cover - the contract is "never raises"
        return Head((), False, 0)


# A <title> start tag (ASCII case-insensitive): "<title/>", or "<title", a space and
# the bytes up to its ">" (or the end).  It is self-closed when it ends with "/>".
# Each match runs to that ">", so a scan never goes over the same bytes twice: no
# "<title" in between can be self-closed when this one is not, as its ">" would be
# the same one, or end a "<title/>" that makes this one self-closed.  (A pattern
# that only matches self-closed tags, <title(?:\s[^>]*)?/>, retried the bytes up
# to the next ">" from every "<title" before it: quadratic in a run of "<title ".)
_TITLE_TAG = re.compile(rb"<title(?:/>|[\t\n\f\r ][^>]*>?)", re.IGNORECASE)


def _self_closed_title(data: bytes, end: int) -> bool:
    """Does a ``<title .../>`` end within ``data[:end]``?"""
    m = _TITLE_TAG.search(data, 0, end)
    while m is not None:
        if data.startswith(b"/>", m.end() - 2):
            return True
        m = _TITLE_TAG.search(data, m.end(), end)
    return False


def _unclose(m: re.Match[bytes]) -> bytes:
    """A self-closed ``<title>`` tag with its "/" made a space (the same length, so offsets
    do not move); any other ``<title`` match as it is."""
    tag = m.group()
    return tag[:-2] + b" >" if tag.endswith(b"/>") else tag


def _union(a: Head, b: Head) -> Head:
    """``a`` with ``b``'s metas added that it lacks.

    ``b`` (the WHATWG view of a ``<title/>``) only adds metas: with no
    ``</title>`` at all its title runs to the end, and its head never ends.
    """
    metas = list(a.metas)
    at = {(m.name, m.content, m.in_body): i for i, m in enumerate(metas)}
    for m in b.metas:
        if (m.name, m.content, m.in_body) in at:
            continue
        i = at.get((m.name, m.content, True))
        if i is not None and not m.in_body:
            metas[i] = m  # strict mode: a head meta for WHATWG, libxml2 put it in the body
        else:
            metas.append(m)
    return Head(tuple(metas), a.complete, a.bytes_read)


_LOCAL = threading.local()  # one parser per thread: an lxml parser is not for concurrent use


def _html_parser() -> etree.HTMLParser:
    """This thread's parser of UTF-8 input (bytes decoded and re-encoded here), one document a call."""
    parser: etree.HTMLParser | None = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = etree.HTMLParser(
            encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True
        )
    return parser


def _media_parser() -> etree.HTMLParser:
    """:func:`_html_parser` for whole pages: ``huge_tree`` keeps elements nested more than 255
    deep (libxml2 drops them and all that follows otherwise; it still stops at about 2,046)."""
    parser: etree.HTMLParser | None = getattr(_LOCAL, "media_parser", None)
    if parser is None:
        parser = _LOCAL.media_parser = etree.HTMLParser(
            encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True, huge_tree=True
        )
    return parser


def _read_head(body: bytes, budget: int, strict: bool, encoding: str | None) -> Head:
    end = min(len(body), budget)
    if not strict:
        try:
            head = _read_head_fast(body, end, encoding)
        except Exception:  # noqa: BLE001  # anything odd is left to the push reader
            head = None
        if head is not None:
            return head
    return _read_head_push(body, end, strict, encoding)


def _read_head_fast(body: bytes, end: int, encoding: str | None) -> Head | None:
    """The push reader's result when it stops within its first chunk, else ``None``.

    The first chunk (up to the end of the first literal ``<body ...>``) is parsed
    in one call with a sentinel ``<frame>`` appended.  libxml2 makes the sentinel
    an element only when the chunk ends in the data state, not inside a tag,
    comment or raw text, whose unfinished end the push parser would hold back;
    and a ``<frame>`` never makes libxml2 imply a ``<body>``.  Walking the tree in
    document order then replays the push parser's start events for the chunk.  The
    result is kept only when the scan stops before the sentinel and no text runs
    up to it (the push parser holds trailing text back too).
    """
    bom = _utf8_start(body, encoding)
    if bom >= 0:
        cut = _body_tag_end(body, bom, end)
        if cut < 0:
            return None
        data = body[bom:cut]
        if not data.isascii():
            # The chunk ends with ">": an incremental UTF-8 decoder would hold nothing back.
            data = data.decode("utf-8", "replace").encode("utf-8")
    else:
        dec, bom = _decoder(body, encoding)
        cut = _body_tag_end(body, bom, end)
        if cut < 0:
            return None
        data = dec.decode(body[bom:cut], final=cut == len(body)).encode("utf-8", "replace")
    if _SENTINEL_ATTR_BYTES in data or b"\x00" in data:
        return None  # the page could fake the sentinel; the push parser stalls at a NUL
    root = etree.fromstring(data + _SENTINEL, _html_parser())
    if root is None:
        return None  # no element at all: the sentinel was swallowed
    scan = _HeadScan(False, defer=True)
    scan.fed.append(data)
    metas = scan.metas
    head_tags = _HEAD_TAGS
    for el in root.iter():
        tag = el.tag
        if tag in head_tags and scan.pending is None:  # what event() does with a head element
            scan.head_seen = True
            if tag == "meta":
                meta = _meta(el, False)
                if meta is not None:
                    metas.append(meta)
        elif scan.event(el):
            break
        elif scan.head_body is not None:
            return None  # libxml2's <body> may hold head content: left to the push reader
    else:
        return None
    if el.get(_SENTINEL_ATTR) is not None:
        return None  # the scan reached the sentinel: the head goes on after the chunk
    last = root
    while len(last):
        last = last[-1]
    if last.get(_SENTINEL_ATTR) is None:
        return None  # the chunk ended inside a tag, comment or raw text
    prev = last.getprevious()
    if prev is not None:
        trailing = prev.tail
    else:
        parent = last.getparent()
        trailing = parent.text if parent is not None else None
    if trailing:
        return None  # the chunk ended in text
    return Head(tuple(metas), True, cut)


def _read_head_push(body: bytes, end: int, strict: bool, encoding: str | None) -> Head:
    dec, bom = _decoder(body, encoding)
    scan = _HeadScan(strict)
    # Bytes are decoded here and fed as UTF-8 with the encoding fixed, so neither a
    # bogus <meta charset> nor invalid bytes can derail libxml2's own decoder.
    parser = etree.HTMLPullParser(
        events=("start",), encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True
    )
    read = bom
    try:
        for a, b in _chunks(body, bom, end):
            data = dec.decode(body[a:b], final=b == len(body)).encode("utf-8", "replace")
            read = b
            scan.fed.append(data)
            parser.feed(data)
            for _, el in parser.read_events():
                if isinstance(el, etree._Element) and scan.event(el):
                    return Head(tuple(scan.metas), True, read)
        if end == len(body) and read > bom:
            # Flush what libxml2 held back (an unterminated last tag); "document is
            # empty" and the like are fine: EOF was reached all the same.
            with contextlib.suppress(etree.LxmlError):
                parser.close()
            for _, el in parser.read_events():
                if isinstance(el, etree._Element) and scan.event(el):
                    break
    except (etree.LxmlError, ValueError, TypeError, UnicodeError):
        # libxml2 gave up: keep what was read.
        return Head(tuple(scan.metas), False, read)
    return Head(tuple(scan.metas), scan.in_body or end == len(body), read)


# --- embedded images -----------------------------------------------------------------------------

_IMAGE_METAS = frozenset(
    {"og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"}
)
_SRCSET_WS = " \t\n\f\r"
# A UTF-8 page none of these match embeds no image: tag names are literal (ASCII case
# folded), and an image meta key holds ":image", which only a numeric character reference
# or &colon; can otherwise spell.  Each pattern starts with a literal, which re scans fast.
_IMAGE_HINTS = (
    re.compile(rb"<[iIsS](?:[mM][gG]|[oO][uU][rR][cC][eE])"),
    re.compile(rb":[iI][mM][aA][gG][eE]"),
    re.compile(rb"&(?:#|[cC][oO][lL][oO][nN])"),
)
# The audio and video a page embeds (issue 15 item 0): reserved by the page's own noai / noml,
# not by noimageai.  Open Graph (ogp.me "Structured properties": og:audio / og:video and their
# :url / :secure_url) and Twitter's player card (twitter:player:stream, the raw media file).
_AV_METAS = frozenset(
    {
        *("og:audio", "og:audio:url", "og:audio:secure_url"),
        *("og:video", "og:video:url", "og:video:secure_url"),
        "twitter:player:stream",
    }
)
# _IMAGE_HINTS for audio and video: <audio, <video (<source is an image hint already), and the
# meta keys' ":audio", ":video", ":stream".
_AV_HINTS = (
    re.compile(rb"<(?:[aA][uU][dD][iI][oO]|[vV][iI][dD][eE][oO])"),
    re.compile(rb":(?:[aA][uU][dD][iI][oO]|[vV][iI][dD][eE][oO]|[sS][tT][rR][eE][aA][mM])"),
)


def _srcset_urls(value: str) -> list[str]:
    """Candidate URLs of a ``srcset`` (WHATWG "parse a srcset attribute", descriptors skipped)."""
    urls: list[str] = []
    pos, n = 0, len(value)
    while pos < n:
        while pos < n and (value[pos] in _SRCSET_WS or value[pos] == ","):
            pos += 1
        if pos >= n:
            break
        start = pos
        while pos < n and value[pos] not in _SRCSET_WS:
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            urls.append(url.rstrip(","))
            continue
        urls.append(url)
        # Descriptors run to the next comma outside parentheses.
        depth = 0
        while pos < n:
            c = value[pos]
            if c == "(":
                depth += 1
            elif c == ")" and depth:
                depth -= 1
            elif c == "," and not depth:
                pos += 1
                break
            pos += 1
    return [u for u in urls if u]


def embedded_images(body: bytes, base_url: str, *, encoding: str | None = None) -> list[str]:
    """Absolute http(s) URLs of the images a page embeds, in document order, without duplicates.

    Reads ``img[src]``, ``img[srcset]``, ``picture > source[srcset]`` and the
    ``og:image`` / ``og:image:url`` / ``og:image:secure_url`` /
    ``twitter:image`` metas; relative URLs resolve against the first
    ``<base href>`` (WHATWG "document base URL") or ``base_url``.  Never raises.
    """
    from .mediascan import embedded_images_fast  # it imports this module's helpers

    fast = embedded_images_fast(body, base_url, encoding=encoding)  # never raises
    return fast if fast is not None else embedded_images_parsed(body, base_url, encoding=encoding)


def embedded_images_parsed(body: bytes, base_url: str, *, encoding: str | None = None) -> list[str]:
    """:func:`embedded_images` read from lxml's tree of the whole page: the reference of the scan."""
    try:
        return _embedded(bytes(body), base_url, encoding, False)[0]
    except Exception:  # noqa: BLE001  # pragma: no cover - the contract is "never raises"
        return []


def embedded_media(body: bytes, base_url: str, *, encoding: str | None = None) -> tuple[list[str], list[str]]:
    """``(images, audio_video)``: :func:`embedded_images`, and the audio and video the page embeds.

    Audio and video: ``audio[src]``, ``video[src]``, ``video[poster]``,
    ``source[src]`` in an ``audio`` or ``video`` (libxml2 nests a ``source`` in
    the ``source`` before it: the first ancestor that is not a ``source``), and
    the ``og:audio`` / ``og:video`` metas (with ``:url`` / ``:secure_url``) and
    ``twitter:player:stream``; resolved and filtered as the images are, each
    list without duplicates (a URL may be in both).  Never raises.
    """
    from .mediascan import embedded_media_fast  # it imports this module's helpers

    fast = embedded_media_fast(body, base_url, encoding=encoding)  # never raises
    return fast if fast is not None else embedded_media_parsed(body, base_url, encoding=encoding)


def embedded_media_parsed(
    body: bytes, base_url: str, *, encoding: str | None = None
) -> tuple[list[str], list[str]]:
    """:func:`embedded_media` read from lxml's tree of the whole page: the reference of the scan."""
    try:
        return _embedded(bytes(body), base_url, encoding, True)
    except Exception:  # noqa: BLE001  # pragma: no cover - the contract is "never raises"
        return [], []


def _av_source(el: etree._Element) -> bool:
    """Is this ``source`` an audio's or a video's (its first ancestor that is not a ``source``)?"""
    parent = el.getparent()
    while parent is not None and parent.tag == "source":
        parent = parent.getparent()
    return parent is not None and parent.tag in ("audio", "video")


def _resolved(found: list[str], base: str) -> list[str]:
    """The absolute http(s) URLs of the references ``found``, in order, without duplicates."""
    out: list[str] = []
    seen: set[str] = set()
    tried: set[str] = set()  # a repeated reference resolves the same way: skip it
    for ref in found:
        ref = ref.strip(_HTML_WS)
        if not ref or ref in tried:
            continue
        tried.add(ref)
        try:
            url = urljoin(base, ref)
            if urlsplit(url).scheme.lower() not in ("http", "https"):
                continue  # data:, javascript:, blob: are not fetched
        except ValueError:
            continue
        if url not in seen:
            seen.add(url)
            out.append(url)
    return out


def _embedded(body: bytes, base_url: str, encoding: str | None, av: bool) -> tuple[list[str], list[str]]:
    """``(images, audio_video)`` from lxml's tree; audio and video only when ``av``."""
    start = _utf8_start(body, encoding)
    if start < 0 or body.startswith(b"<?xml", start):
        # Decoded text, parsed as such.
        dec, bom = _decoder(body, encoding)
        text = dec.decode(body[bom:], final=True)
        if text.lstrip(_HTML_WS).startswith("<?xml"):
            # lxml refuses text that declares an encoding; the text is decoded already,
            # so the declaration (an XHTML page's first line) is dropped.
            text = text.lstrip(_HTML_WS)
            text = text[text.find("?>") + 2 :] if "?>" in text else ""
        if not text.strip():
            return [], []
        root = etree.fromstring(
            text, etree.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, huge_tree=True)
        )
    else:
        data = body[start:]
        tag_hint, key_hint, ref_hint = _IMAGE_HINTS
        if not (
            tag_hint.search(data)
            or key_hint.search(data)
            or (b"&" in data and ref_hint.search(data))
            or (av and any(hint.search(data) for hint in _AV_HINTS))
        ):
            return [], []  # no media tag, and no media meta key even through a character reference
        if not data.isascii():
            data = data.decode("utf-8", "replace").encode("utf-8")  # what the text way parses
        root = etree.fromstring(data, _media_parser())
    if root is None:
        return [], []
    base = base_url
    base_seen = False
    found: list[str] = []
    found_av: list[str] = []
    tags = ("img", "source", "meta", "base", "audio", "video") if av else ("img", "source", "meta", "base")
    for el in root.iter(*tags):
        tag = el.tag
        if tag == "img":
            found.append(el.get("src") or "")
            found += _srcset_urls(el.get("srcset") or "")
        elif tag == "meta":
            key = (el.get("property") or el.get("name") or "").strip().lower()
            if key in _IMAGE_METAS:
                found.append(el.get("content") or "")
            elif av and key in _AV_METAS:
                found_av.append(el.get("content") or "")
        elif tag == "source":
            parent = el.getparent()
            if parent is not None and parent.tag == "picture":
                found += _srcset_urls(el.get("srcset") or "")
            elif av and _av_source(el):
                found_av.append(el.get("src") or "")
        elif tag == "base":
            if not base_seen:  # the first <base> with an href sets the base URL
                href = (el.get("href") or "").strip()
                if href:
                    base_seen = True
                    with contextlib.suppress(ValueError):
                        base = urljoin(base_url, href)
        else:  # audio, video
            found_av.append(el.get("src") or "")
            if tag == "video":
                found_av.append(el.get("poster") or "")
    return _resolved(found, base), _resolved(found_av, base) if av else []
