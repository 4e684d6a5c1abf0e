"""Internal: one-pass byte scans of an HTML document, in C when the extension is built.

:func:`scan_head_tags` (``data, limit, eof, tokens -> (status, end, flagged)``)
walks the bytes once as the WHATWG tokenizer does (HTML §13.2.5), in the
states a document head needs, and applies the head extent rules of tree
construction (§13.2.6.4.2-.6, scripting disabled) to say where the head ends
(``HEAD_END``, ``end``) and which of its ``<meta>`` tags hold one of the
caller's tokens (``flagged``: their ``[start, stop)`` spans).  What it does not
model, or where :func:`noai_guard.htmlhead.read_head` (libxml2) would read the
head otherwise, is :data:`UNSURE`, for the caller to do the full read: a NUL
byte, ``<template>``, a self-closed ``<title/>``, an XML declaration,
``</body>``/``</html>``/``</br>`` or text in a ``<noscript>`` before the head's
end, a window that ends before the head does (or, short of the document's end,
less than ``_LOOKAHEAD`` bytes after it).  Going on past the real head end is
always safe (more metas are checked); stopping early never is.

It goes on past WHATWG's head end in two places only: a text run of what may be
character references (``&nbsp;`` is text, ``&#32;`` a space: the scan takes both
as blank) and a ``<noscript>`` after ``</head>`` ("after head": the body starts).
With ``exact=True`` (a fifth argument) the status is :data:`HEAD_END_LOOSE`
instead of ``HEAD_END`` when a meta is flagged after one of these: a
``HEAD_END`` result's flagged metas are then all in WHATWG's head, which a caller
that builds the head's metas from them needs.

:func:`media_tags` (``data, limit, names -> (status, tags)``) lists the start
tags of the whole document named in ``names`` (raw text, RCDATA and script
data skipped as the tokenizer does) as ``(name_index, start, stop, parent)``;
``parent`` is the index of the nearest enclosing start tag when only
whitespace, comments and void or self-closed elements came between (void and
self-closed as libxml2, which lxml and so ``embedded_images`` use, parses them:
HTML 4's void elements, the self-closing flag honoured on every element),
:data:`PARENT_OTHER` when that tag is not in ``names``,
:data:`PARENT_UNKNOWN` when anything else came between.  ``UNSURE`` for a NUL byte, a CDATA section, raw text in SVG/MathML
holding ``<``, a self-closed raw-text element, or the end inside a tag,
comment or raw text.

Each function exists twice: in C (``noai_guard._htmlscan``, built optionally by
setuptools) and here in Python, the fallback and the reference; the tests
require identical results.  ``NOAI_GUARD_PURE_PYTHON=1`` (read at import)
selects the Python ones.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Callable

__all__ = [
    "DONE",
    "HEAD_END",
    "HEAD_END_LOOSE",
    "IMPLEMENTATION",
    "PARENT_OTHER",
    "PARENT_UNKNOWN",
    "UNSURE",
    "media_tags",
    "media_tags_py",
    "scan_head_tags",
    "scan_head_tags_py",
]

HEAD_END = 0
DONE = 0  # media_tags: the whole document was read
UNSURE = 1
# scan_head_tags(..., exact=True): HEAD_END, but a meta is flagged past a point where
# WHATWG's head may have ended (a text run holding "&", a <noscript> after </head>).
HEAD_END_LOOSE = 2
# media_tags: a tag's parent is not known; known, but not one of the names asked for.
PARENT_UNKNOWN = -1
PARENT_OTHER = -2

ScanResult = tuple[int, int, tuple[tuple[int, int], ...]]
_NOT_SURE: ScanResult = (UNSURE, 0, ())

_BOM = b"\xef\xbb\xbf"
# Bytes a window that is not the whole document must hold past the token that ends the head:
# libxml2's push parser holds a "<!" back until 9 bytes are in, the first tag until 5 are.
_LOOKAHEAD = 16
_LT, _GT, _SLASH, _BANG, _QUESTION, _DASH = b"<", 0x3E, 0x2F, 0x21, 0x3F, 0x2D
# End of a tag name and of an appropriate end tag's name (§13.2.5.8, .11): whitespace, "/", ">".
_DELIM = frozenset(b"\t\n\f\r />")
_ALPHA = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

# A document that starts (after a BOM) with an XML declaration: libxml2 may read it as such.
_XML_DECL = re.compile(rb"[\t\n\f\r ]*<\?xml", re.IGNORECASE)
# Text that does not end the head: whitespace, and anything that may be a character
# reference ("&#32;" is a space; a run of "&" + name/number chars is taken as one, whatever
# it decodes to: the head then only looks longer).
_QUIET_TEXT = re.compile(rb"(?:[\t\n\f\r ]+|&[#0-9A-Za-z]+;?)*")
# A tag from its name's end to its ">" (§13.2.5.32-.42): attribute names (an "=" as the
# first character is part of the name), "=" and a value, double- or single-quoted (a ">"
# inside does not end the tag) or unquoted.  Every repeated part is maximal (the
# lookaheads), so a tag has one parse and a tag cut by the window fails in linear time.
# Group "u": the last unquoted value (a "/" that ends one is no self-closing "/").
_REST = rb"""(?:
        [\t\n\f\r/ ]+(?![\t\n\f\r/ ])
      | [^\t\n\f\r/> ][^\t\n\f\r/>= ]*(?![^\t\n\f\r/>= ])
        (?: [\t\n\f\r ]*=[\t\n\f\r ]*(?![\t\n\f\r ])
            (?: "[^"]*" | '[^']*' | (?P<u>[^\t\n\f\r>"' ][^\t\n\f\r> ]*)(?![^\t\n\f\r> ]) | (?=>) )
          | (?![\t\n\f\r ]*=) )
    )*>"""
_TAG_REST = re.compile(_REST, re.VERBOSE)
# A start or end tag, name and all (§13.2.5.6-.8), after whitespace (the usual step in a head).
_NAME = rb"<(/?)([A-Za-z][^\t\n\f\r/>\x20]*)(?![^\t\n\f\r/>\x20])"
_TAG = re.compile(_NAME + _REST, re.VERBOSE)
_WS_TAG = re.compile(rb"[\t\n\f\r\x20]*" + _NAME + _REST, re.VERBOSE)
# RCDATA / RAWTEXT: the appropriate end tag (§13.2.5.11, .14).
_RAW_END = {
    name: re.compile(b"</" + name + rb"[\t\n\f\r/> ]", re.IGNORECASE)
    for name in (b"title", b"textarea", b"style", b"xmp", b"iframe", b"noembed", b"noframes")
}

# Tree construction, head modes (§13.2.6.4.2-.6, scripting disabled): start tags that keep
# the document in the head ("noscript" enters "in head noscript", which is not raw text and
# reprocesses these "in head"), and those that switch the tokenizer to raw text.
_HEAD_START = frozenset({b"html", b"head", b"base", b"basefont", b"bgsound", b"link", b"meta", b"noscript"})
_RAW_START = frozenset({b"title", b"style", b"noframes", b"script"})
# Start tags after which read_head takes text to start the body at once ("head content
# seen"); before them it waits for the next start tag to decide.
_HEAD_SEEN = frozenset(
    {b"head", b"base", b"basefont", b"bgsound", b"link", b"meta", b"title", b"noframes", b"script", b"style"}
)
# End tags that end the head ("anything else" in "in head" / "after head"; "in head
# noscript" ignores the first two).
_HEAD_CLOSING_END = frozenset({b"body", b"html", b"br"})


def _tag_end(data: bytes, pos: int, n: int) -> int:
    """Offset just past the ``>`` of the tag whose attributes start at ``pos``, or -1 when it
    does not end within ``data[:n]``."""
    m = _TAG_REST.match(data, pos, n)
    return -1 if m is None else m.end()


def _script_end(data: bytes, pos: int, n: int) -> int:
    """Where the name of the ``</script`` end tag that ends script data from ``pos`` ends,
    or -1 (§13.2.5.4, .15-.31: the escaped and double-escaped states included)."""
    d = data
    while True:  # script data state
        lt = d.find(_LT, pos, n)
        if lt < 0 or lt + 2 >= n:
            return -1
        c = d[lt + 1]
        if c == _SLASH:  # script data end tag open / name
            e = _letters(d, lt + 2, n)
            if e >= n:
                return -1
            if e - lt - 2 == 6 and d[lt + 2 : e].lower() == b"script" and d[e] in _DELIM:
                return e
            pos = e
            continue
        if c != _BANG:
            pos = lt + 1
            continue
        # script data escape start (dash) states: "<!--" enters "escaped dash dash".
        if d[lt + 2] != _DASH:
            pos = lt + 2
            continue
        if lt + 3 >= n:
            return -1
        if d[lt + 3] != _DASH:
            pos = lt + 3
            continue
        pos = _escaped(d, lt + 4, n)
        if pos < 0:
            return -1 if pos == -1 else -pos - 2
        # back in the script data state


_ESC, _ESC_DASH, _ESC_DASH_DASH, _ESC_LT = 0, 1, 2, 3
_DBL, _DBL_DASH, _DBL_DASH_DASH, _DBL_LT = 4, 5, 6, 7


def _letters(d: bytes, pos: int, n: int) -> int:
    while pos < n and d[pos] in _ALPHA:
        pos += 1
    return pos


def _escaped(d: bytes, pos: int, n: int) -> int:
    """Script data escaped and double-escaped states from "escaped dash dash" at ``pos``:
    the offset where the script data state resumes, ``-1`` when the window ends first,
    or ``-e - 2`` when an appropriate ``</script`` name ends at ``e``."""
    st = _ESC_DASH_DASH
    while pos < n:
        c = d[pos]
        if st <= _ESC_DASH_DASH:  # escaped, dash, dash dash
            if c == _DASH:
                st = _ESC_DASH if st == _ESC else _ESC_DASH_DASH
            elif c == 0x3C:
                st = _ESC_LT
            elif c == _GT and st == _ESC_DASH_DASH:
                return pos + 1
            else:
                st = _ESC
            pos += 1
        elif st == _ESC_LT:
            if c == _SLASH:  # escaped end tag open / name
                e = _letters(d, pos + 1, n)
                if e >= n:
                    return -1
                if e - pos - 1 == 6 and d[pos + 1 : e].lower() == b"script" and d[e] in _DELIM:
                    return -e - 2
                st, pos = _ESC, e
            elif c in _ALPHA:  # double escape start
                e = _letters(d, pos, n)
                if e >= n:
                    return -1
                if d[e] in _DELIM:
                    st = _DBL if d[pos:e].lower() == b"script" else _ESC
                    pos = e + 1
                else:
                    st, pos = _ESC, e
            else:
                st = _ESC  # reconsume
        elif st == _DBL_LT:
            if c == _SLASH:  # double escape end
                e = _letters(d, pos + 1, n)
                if e >= n:
                    return -1
                if d[e] in _DELIM and d[pos + 1 : e].lower() == b"script":
                    st, pos = _ESC, e + 1
                else:
                    st, pos = _DBL, e
            else:
                st = _DBL  # reconsume
        else:  # double escaped, dash, dash dash
            if c == _DASH:
                st = _DBL_DASH if st == _DBL else _DBL_DASH_DASH
            elif c == 0x3C:
                st = _DBL_LT
            elif c == _GT and st == _DBL_DASH_DASH:
                return pos + 1
            else:
                st = _DBL
            pos += 1
    return -1


def scan_head_tags_py(
    data: bytes, limit: int, eof: bool, tokens: tuple[bytes, ...], exact: bool = False
) -> ScanResult:
    """The pure-Python :func:`scan_head_tags`."""
    if not isinstance(data, bytes):
        data = memoryview(data).tobytes()
    if not isinstance(tokens, tuple) or not all(isinstance(t, bytes) for t in tokens):
        raise TypeError("tokens must be a tuple of bytes")
    d = data
    n = min(max(operator.index(limit), 0), len(d))
    at_eof = bool(eof) and n == len(d)
    pos = 3 if d.startswith(_BOM) else 0
    if pos > n or _XML_DECL.match(d, pos, n) is not None:
        return _NOT_SURE
    # Not at the end of the document: the window must go on a little past the token that
    # ends the head, which libxml2's push parser (read_head) looks ahead for.
    need = 0 if at_eof else _LOOKAHEAD
    flagged: list[tuple[int, int]] = []
    run = pos  # where the current text run started
    seen = False  # a start tag in _HEAD_SEEN came
    noscript = False  # a <noscript> start tag came, and no </noscript> since
    head_tag = False  # a <head> start tag came
    after = False  # a </head> came
    loose = False  # past a point where WHATWG's head may have ended (exact mode)
    late = False  # a meta flagged while loose
    while True:
        m = _WS_TAG.match(d, pos, n)
        if m is None:
            lt = d.find(_LT, pos, n)
            stop = lt if lt >= 0 else n
            if stop > pos:
                quiet = _QUIET_TEXT.match(d, pos, stop)
                if quiet is not None and quiet.end() < stop:
                    # Text that ends the head (§13.2.6.4.4 "anything else"): libxml2 reports
                    # it once it sees the "<" after it, so that "<" must be in the window too.
                    if at_eof and lt < 0:
                        return _done(d, run, n, 0, n, flagged, late)
                    # Before any head content, read_head waits for the next start tag; in a
                    # <noscript>, it reads text as the element's (WHATWG: the head ends).
                    if lt < 0 or noscript or not (seen or at_eof):
                        return _NOT_SURE
                    return _done(d, run, lt + 1, need, n, flagged, late)
                if exact and d.find(b"&", pos, stop) >= 0:
                    loose = True  # "&nbsp;", "&amp;": text, the body's start for WHATWG
            if lt < 0:
                return _done(d, n, n, 0, n, flagged, late) if at_eof else _NOT_SURE
            if lt + 1 >= n or (d[lt + 1] == _SLASH and lt + 2 >= n):
                return _NOT_SURE
            c = d[lt + 1]
            if c in _ALPHA or (c == _SLASH and d[lt + 2] in _ALPHA):
                m = _TAG.match(d, lt, n)
                if m is None:
                    return _NOT_SURE  # cut by the window
            else:
                if c == _SLASH:  # "</>" is nothing; "</" + anything else, a bogus comment
                    end = lt + 3 if d[lt + 2] == _GT else d.find(b">", lt + 2, n) + 1
                elif c == _BANG:
                    if d.startswith(b"--", lt + 2) and lt + 4 <= n:
                        end = _comment_end(d, lt + 4, n)
                    else:  # DOCTYPE or bogus comment: both end at the first ">"
                        end = d.find(b">", lt + 2, n) + 1
                elif c == _QUESTION:  # bogus comment
                    end = d.find(b">", lt + 2, n) + 1
                else:
                    # "<" + anything else is text, which ends the head.
                    if (seen or at_eof) and not noscript:
                        return _done(d, run, lt + 2, need, n, flagged, late)
                    return _NOT_SURE
                if end <= 0:
                    return _NOT_SURE
                pos = run = end
                continue
        lt = m.start(1) - 1
        end = m.end()
        name = m.group(2).lower()
        if m.end(1) > m.start(1):  # an end tag
            if name in _HEAD_CLOSING_END:
                # WHATWG: </body>, </html>, </br> end the head ("in head noscript" ignores
                # the first two); read_head (libxml2) reads on, so its verdict may differ.
                return _NOT_SURE
            if name == b"noscript":
                noscript = False
            elif name == b"head":
                after = True
        elif name in _HEAD_START:
            seen = seen or name in _HEAD_SEEN
            head_tag = head_tag or name == b"head"
            if name == b"meta":
                low = d[lt:end].lower()
                for t in tokens:
                    if t in low:
                        flagged.append((lt, end))
                        late = late or loose
                        break
            elif name == b"noscript":
                noscript = True
                # "after head": a <noscript> is "anything else", the body starts.
                loose = loose or (exact and after)
        elif name in _RAW_START:
            seen = True
            if d[end - 2] == _SLASH:
                return _NOT_SURE  # <title/>: libxml2 honours the "/", WHATWG does not
            close = _script_end(d, end, n) if name == b"script" else _raw_end(d, name, end, n)
            if close < 0:
                return _NOT_SURE
            end = _tag_end(d, close, n)  # the end tag's attributes
            if end < 0:
                return _NOT_SURE
        elif name == b"template" or (noscript and not head_tag):
            # <template>: not modelled.  In "in head noscript" (WHATWG) any other start tag
            # pops the <noscript> and ends the head; read_head agrees after a <head> start
            # tag, but with the head implied it reads on to the document's end.
            return _NOT_SURE
        else:
            return _done(d, lt, end, need, n, flagged, late)
        pos = run = end


def _raw_end(d: bytes, name: bytes, pos: int, n: int) -> int:
    """Where the name of the appropriate end tag of RCDATA/RAWTEXT ``name`` ends, or -1."""
    m = _RAW_END[name].search(d, pos, n)
    return -1 if m is None else m.end() - 1


def _comment_end(d: bytes, pos: int, n: int) -> int:
    """Offset just past a comment whose text starts at ``pos`` (after ``<!--``), or 0
    (§13.2.5.43-.52: ``<!-->`` and ``<!--->`` end at once, else the first ``-->`` or ``--!>``)."""
    if pos >= n:
        return 0
    if d[pos] == _GT:
        return pos + 1
    if d.startswith(b"->", pos) and pos + 2 <= n:
        return pos + 2
    a = d.find(b"-->", pos, n)
    # An earlier "--!>" (searched for only up to the "-->": it is rare).
    b = d.find(b"--!>", pos, n if a < 0 else a + 3)
    if b >= 0:
        return b + 4
    return a + 3 if a >= 0 else 0


def _done(
    d: bytes, end: int, scanned: int, need: int, n: int, flagged: list[tuple[int, int]], late: bool
) -> ScanResult:
    """HEAD_END (HEAD_END_LOOSE when ``late``) at ``end``, unless the window ``d[:n]`` ends less
    than ``need`` bytes after the bytes scanned, ``d[:scanned]``, or a NUL byte lies in these
    (§13.2.5.1: libxml2 stalls)."""
    if scanned + need > n or d.find(b"\x00", 0, scanned) >= 0:
        return _NOT_SURE
    return (HEAD_END_LOOSE if late else HEAD_END, end, tuple(flagged))


# --- media mode ---------------------------------------------------------------------------------

MediaResult = tuple[int, tuple[tuple[int, int, int, int], ...]]
_MEDIA_NOT_SURE: MediaResult = (UNSURE, ())

# Void elements: no content, so a start tag of one leaves the parent of what follows as it
# was.  The ones libxml2 (lxml, which embedded_images reads) parses as empty: WHATWG's (§13.1.2)
# embed, source, track, wbr, keygen and bgsound are containers for it (<source><source> nests).
_VOID = frozenset(b"area base basefont br col frame hr img input isindex link meta param".split())
# Elements whose content the tokenizer reads as text (§13.2.6.4.7 "in body", scripting
# disabled: <noscript> is markup): RCDATA, RAWTEXT, script data; <plaintext>, the rest.
_RAW_TEXT = frozenset(b"title textarea style xmp iframe noembed noframes script plaintext".split())
_NON_WS = re.compile(rb"[^\t\n\f\r ]")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
# Self-closed start tags that do not leave the parent of what follows as it was: <html/>,
# <body/>, <head/> (libxml2 closes the open elements), raw text (unsure), foreign content.
_NOT_CLOSABLE = frozenset({b"html", b"body", b"head", b"svg", b"math"}) | _RAW_TEXT


# A bound on libxml2's open-element depth (lxml drops what is nested deeper than about 2,046
# elements, even with huge_tree): per element name, start tags opened minus end tags of that
# name met while the count is positive.  An end tag decrements only when libxml2 closed an
# element of its name then or before, so the sum never falls below libxml2's depth (less the
# html, head, body and p it implies).  Names longer than _DEPTH_NAME share one count that end
# tags never decrement; more than _DEPTH_NAMES distinct names is unsure.
_MAX_DEPTH = 1900
_DEPTH_NAMES = 512
_DEPTH_NAME = 24


def media_tags_py(data: bytes, limit: int, names: tuple[bytes, ...]) -> MediaResult:
    """The pure-Python :func:`media_tags`."""
    if not isinstance(data, bytes):
        data = memoryview(data).tobytes()
    if not isinstance(names, tuple) or not all(isinstance(t, bytes) for t in names):
        raise TypeError("names must be a tuple of bytes")
    d = data
    n = min(max(operator.index(limit), 0), len(d))
    if d.find(b"\x00", 0, n) >= 0:
        return _MEDIA_NOT_SURE
    index: dict[bytes, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)
    tags: list[tuple[int, int, int, int]] = []
    parent = PARENT_UNKNOWN  # what the parent of a tag here would be
    svg = math = 0  # open <svg> / <math> start tags (foreign content)
    counts: dict[bytes, int] = {}
    depth = 0
    # A start tag or text seen (libxml2's root element is open), and one other than <html>;
    # an end tag, "</x" or "<?" seen before that (what libxml2 makes of them is not modelled);
    # a <body> seen; an <html>, <head> or <body> that may be misplaced (libxml2 counts those,
    # and an </html> then only lowers the count).
    opened = other = stray = body = misplaced = False
    pos = 0
    while True:
        m = _WS_TAG.match(d, pos, n)
        if m is None:
            lt = d.find(_LT, pos, n)
            stop = lt if lt >= 0 else n
            if (
                (parent != PARENT_UNKNOWN or not opened)
                and stop > pos
                and _NON_WS.search(d, pos, stop) is not None
            ):
                parent = PARENT_UNKNOWN  # text
                if not opened and _NON_ASCII.search(d, pos, stop) is not None:
                    # Non-ASCII text first (a second BOM: libxml2 does not open its root for
                    # it): not modelled, so an </html> then is unsure.
                    stray = True
                else:
                    opened = other = True
            if lt < 0:
                return (DONE, tuple(tags))
            if lt + 1 >= n or (d[lt + 1] == _SLASH and lt + 2 >= n):
                return _MEDIA_NOT_SURE  # "<" or "</" at the end
            c = d[lt + 1]
            if c in _ALPHA or (c == _SLASH and d[lt + 2] in _ALPHA):
                m = _TAG.match(d, lt, n)
                if m is None:
                    return _MEDIA_NOT_SURE  # EOF in a tag
            else:
                if c == _SLASH:  # "</>" is nothing; "</" + anything else, a bogus comment
                    end = lt + 3 if d[lt + 2] == _GT else d.find(b">", lt + 2, n) + 1
                    stray = True
                elif c == _BANG:
                    if d.startswith(b"--", lt + 2) and lt + 4 <= n:
                        end = _comment_end(d, lt + 4, n)
                    elif d.startswith(b"[CDATA[", lt + 2) and lt + 9 <= n:
                        return _MEDIA_NOT_SURE  # a CDATA section in foreign content, else a bogus comment
                    else:  # DOCTYPE or bogus comment: both end at the first ">"
                        end = d.find(b">", lt + 2, n) + 1
                        if d[lt + 2 : lt + 9].lower() == b"doctype":
                            parent = PARENT_UNKNOWN
                elif c == _QUESTION:  # bogus comment
                    end = d.find(b">", lt + 2, n) + 1
                    stray = True
                else:  # "<" + anything else is text
                    parent = PARENT_UNKNOWN
                    opened = other = True
                    pos = lt + 1
                    continue
                if end <= 0:
                    return _MEDIA_NOT_SURE  # EOF in a comment
                pos = end
                continue
        lt = m.start(1) - 1
        end = m.end()
        name = m.group(2).lower()
        if m.end(1) > m.start(1):  # an end tag
            if len(name) <= _DEPTH_NAME:
                if name not in counts and len(counts) >= _DEPTH_NAMES:
                    return _MEDIA_NOT_SURE
                if counts.setdefault(name, 0) > 0:
                    counts[name] -= 1
                    depth -= 1
            parent = PARENT_UNKNOWN
            if name == b"html":
                # libxml2 ends the document at </html> once its root is open (a start tag or
                # text came first; WHATWG goes back to "in body"): nothing after is in its tree.
                if opened and not misplaced:
                    return (DONE, tuple(tags))
                if stray or misplaced:
                    return _MEDIA_NOT_SURE
            else:
                stray = True
            if name == b"svg":
                svg = max(svg - 1, 0)
            elif name == b"math":
                math = max(math - 1, 0)
            pos = end
            continue
        if name == b"html":
            misplaced = misplaced or opened
        else:
            if name == b"head":
                misplaced = misplaced or other
            elif name == b"body":
                misplaced = misplaced or body
                body = True
            other = True
        opened = True
        k = index.get(name)
        if k is not None:
            tags.append((k, lt, end, parent))
        # The self-closing flag (§13.2.5.40): a "/" right before the ">", not in an unquoted value.
        closed = d[end - 2] == _SLASH and m.end("u") != end - 1
        # libxml2 honours it on every element (WHATWG: on void and foreign ones only): a
        # self-closed element is as empty as a void one.
        if name in _VOID or (closed and name not in _NOT_CLOSABLE):
            if name != b"img":
                # libxml2 may close the open element on a void or self-closed start tag
                # (<p><hr>, <p><div/>): the parent of what follows is not known, except
                # after an <img> (<picture><img><source>).
                parent = PARENT_UNKNOWN
            pos = end
            continue
        if name in _RAW_TEXT:
            if closed:
                return _MEDIA_NOT_SURE
            if svg or math:
                # Foreign content: no raw text.  The same tokens if the content holds no "<".
                close = lt = d.find(_LT, end, n)
                if name == b"plaintext":
                    return _MEDIA_NOT_SURE if lt >= 0 else (DONE, tuple(tags))
                if lt >= 0 and d[lt + 1 : lt + 2] == b"/":
                    close = lt + 2 + len(name)
                    if close >= n or d[lt + 2 : close].lower() != name or d[close] not in _DELIM:
                        close = -1
                else:
                    close = -1
            elif name == b"plaintext":
                return (DONE, tuple(tags))
            elif name == b"script":
                close = _script_end(d, end, n)
            else:
                close = _raw_end(d, name, end, n)
            if close < 0:
                return _MEDIA_NOT_SURE  # EOF in raw text, or "<" in foreign content
            end = _tag_end(d, close, n)  # the end tag's attributes
            if end < 0:
                return _MEDIA_NOT_SURE
            parent = PARENT_UNKNOWN  # an end tag
        else:
            if name == b"svg":
                svg += 1
            elif name == b"math":
                math += 1
            if not closed:
                if len(name) <= _DEPTH_NAME:
                    if name not in counts and len(counts) >= _DEPTH_NAMES:
                        return _MEDIA_NOT_SURE
                    counts[name] = counts.get(name, 0) + 1
                depth += 1
                if depth > _MAX_DEPTH:
                    return _MEDIA_NOT_SURE
            # A stray <html>, <head> or <body> makes no element in libxml2.
            stray = name in (b"html", b"head", b"body")
            parent = PARENT_UNKNOWN if closed or stray else (PARENT_OTHER if k is None else k)
        pos = end


ScanHeadTags = Callable[..., ScanResult]  # (data, limit, eof, tokens[, exact])
MediaTags = Callable[[bytes, int, tuple[bytes, ...]], MediaResult]

scan_head_tags_c: ScanHeadTags | None
media_tags_c: MediaTags | None
try:
    from noai_guard import _htmlscan
except ImportError:  # no compiler at install time: the Python functions serve
    scan_head_tags_c = media_tags_c = None
else:
    scan_head_tags_c = _htmlscan.scan_head_tags
    media_tags_c = _htmlscan.media_tags

scan_head_tags: ScanHeadTags
media_tags: MediaTags
if (
    scan_head_tags_c is not None
    and media_tags_c is not None
    and os.environ.get("NOAI_GUARD_PURE_PYTHON") != "1"
):
    IMPLEMENTATION = "c"
    scan_head_tags, media_tags = scan_head_tags_c, media_tags_c
else:
    IMPLEMENTATION = "python"
    scan_head_tags, media_tags = scan_head_tags_py, media_tags_py
