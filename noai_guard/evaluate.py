"""Glue: run every parser that has input and fold the signals into a decision.

Pure code.  The middleware, ``explain`` and the offline audit all call these
functions, so a URL gets the same decision wherever it is judged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from w3lib.encoding import http_content_type_encoding

from . import aipref, directives, tdmrep
from . import decision as d
from .content import State, kept_by_scrapy, parse_codings
from .decision import Decision, Headers, Signal, Verdict
from .directives import _NOT_CRAWLERS, _SCOPE_RE
from .htmlhead import Head, meta_from_attributes, read_head
from .htmlscan import HEAD_END, scan_head_tags
from .policy import DecisionMemo, Policy
from .robots import ai_txt_path_rules, ai_txt_signals, matches_every_path, url_path
from .tagattrs import attr_value, parse_start_tag, start_tag_raw

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy.http import Response

    from .robots import RobotsTxt
    from .tdmrep import TdmrepFile

_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp", ".tif", ".tiff", ".svg", ".heic")


def is_image(url: str, content_type: str | None) -> bool:
    """An image response: by Content-Type, else by the path's extension.

    Says how directives bind (``noimageai``), never whether the head is read:
    see :func:`reads_as_html`.
    """
    if content_type:
        return content_type.strip().lower().startswith("image/")
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    return path.endswith(_IMAGE_EXTS)


# MIME Sniffing §7.1 "identifying a resource with an unknown MIME type": the HTML
# patterns, each followed by a tag-terminating byte (space or ">").
_HTML_TAGS = tuple(
    b"<" + t
    for t in (
        *(b"!doctype html", b"html", b"head", b"script", b"iframe", b"h1", b"div", b"font", b"table"),
        *(b"a", b"style", b"title", b"b", b"body", b"br", b"p"),
    )
)
_TAG_END = b" \t\n\f\r>"
# Starts taken as HTML whatever follows.
_HTML_PREFIXES = (b"<!doctype html", b"<html", b"<head", b"<meta", b"<!--")


def is_html(content_type: str | None, body: bytes) -> bool:
    """HTML by Content-Type, or by a sniff of the first bytes when it is missing."""
    if content_type:
        ct = content_type.strip().lower()
        return "html" in ct
    first = body[:1026]
    if first[:2] in _UTF16_BOMS:  # the sniff reads the decoded text
        codec = "utf-16-le" if first[:2] == b"\xff\xfe" else "utf-16-be"
        first = first[2:].decode(codec, "replace").encode("ascii", "replace")
    start = first[:512].lstrip(b"\xef\xbb\xbf \t\r\n\f").lower()
    if start.startswith(_HTML_PREFIXES):
        return True
    return any(
        start.startswith(t) and start[len(t) : len(t) + 1] in _TAG_END
        for t in _HTML_TAGS
        if len(start) > len(t)
    )


# scrapy.responsetypes.ResponseTypes.from_body sniffs the first 5000 bytes.
SNIFF_BYTES = 5000
# MIME Sniffing §7.1: a resource of one of these types (or of none) is sniffed.
_SNIFFED_TYPES = frozenset({"unknown/unknown", "application/unknown", "*/*"})


def scrapy_response_class(
    headers: Iterable[tuple[str | bytes, str | bytes]], url: str, body: bytes
) -> type[Response]:
    """The Response class Scrapy builds for a response (``responsetypes.from_args``).

    The call the download handler makes, and ``HttpCompressionMiddleware``
    again with the decoded body: by Content-Type, Content-Disposition, the
    URL's extension, then a sniff of the body.  ``headers`` are the response's
    field lines; ``body`` is decoded, so ``Content-Encoding`` is left out when
    Scrapy undoes every coding it names (as HttpCompressionMiddleware does).
    """
    from scrapy.http import Headers as ScrapyHeaders
    from scrapy.responsetypes import responsetypes

    h = ScrapyHeaders()
    codings: list[str | bytes] = []
    for k, v in headers:
        if (k.lower() if isinstance(k, str) else k.decode("latin-1").lower()) == "content-encoding":
            codings.append(v)
        else:
            h.appendlist(k, v)
    kept = kept_by_scrapy(parse_codings(codings))
    if kept:
        h[b"Content-Encoding"] = [c.encode("latin-1") for c in kept]
    cls: type[Response] = responsetypes.from_args(headers=h, url=url, body=body[:SNIFF_BYTES])
    return cls


def reads_as_html(
    content_type: str | None,
    body: bytes,
    *,
    url: str,
    headers: Iterable[tuple[str | bytes, str | bytes]] | None = None,
    response_class: type[Response] | None = None,
) -> bool:
    """Is the HTML head read?  Whatever Scrapy hands the spider as HTML, and whatever sniffs as HTML.

    - the Content-Type says HTML, or there is none and the body sniffs as HTML
      (:func:`is_html`);
    - Scrapy's response class is an ``HtmlResponse`` (``response_class`` when
      known, the one the crawl built; else :func:`scrapy_response_class` of
      ``headers``): ``unknown/unknown``, ``*/*``, no Content-Type on
      ``/photo.jpg``... with ``<html>`` in the body;
    - it is a plain ``TextResponse`` (a text type, or a text body of an unknown
      type) and the body sniffs as HTML (MIME Sniffing §7.1): the spider's
      selectors parse it as HTML.

    An image type or extension alone never skips the head.
    """
    if is_html(content_type, body):
        return True
    if response_class is None:
        if headers is None:
            headers = [] if content_type is None else [("Content-Type", content_type)]
        response_class = scrapy_response_class(headers, url, body)
    from scrapy.http import HtmlResponse, TextResponse

    if issubclass(response_class, HtmlResponse):
        return True
    return response_class is TextResponse and is_html(None, body)


def may_be_html(content_type: str | None) -> bool:
    """A body of this Content-Type is read for its head once decoded (MIME Sniffing §7.1)."""
    if content_type is None:
        return True
    ct = content_type.split(";", 1)[0].strip().lower()
    return not ct or "html" in ct or ct in _SNIFFED_TYPES


def head_unreadable(state: State, detail: str, content_type: str | None, head: Head | None) -> str | None:
    """Why the HTML head could not be read, when it matters; else ``None``.

    ``state``/``detail`` say how the body decoded (:class:`~noai_guard.content.Decoded`),
    ``head`` is what was read of it (``None``: it was not read as HTML).  A body
    cut short or undecodable after its head ended lost nothing the head says;
    one that does not decode and may be HTML is unknown.
    """
    if head is not None:
        return detail if state in (State.UNDECODABLE, State.TRUNCATED) and not head.complete else None
    return detail if state is State.UNDECODABLE and may_be_html(content_type) else None


def undecodable_signal(url: str, policy: Policy, detail: str) -> Signal:
    """``unknown``: the HTML head could not be read (a body that does not decode, a cut download)."""
    return Signal(
        name=d.META_ROBOTS,
        verdict=Verdict.UNKNOWN,
        purpose=policy.purpose,
        evidence="",
        source=url,
        location=d.LOC_META,
        note=f"the HTML head could not be read: {detail}",
    )


def header_value(headers: Headers, name: str) -> str | None:
    """First value of a header, compared case-insensitively."""
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

# A numeric character reference to an ASCII character (WHATWG HTML §13.2.5.72-80: every
# digit is part of the number, the ";" is optional), on lowered bytes.  Only these can spell
# part of a directive word; any other reference decodes to a non-ASCII character, which no
# word holds, so leaving it as it stands can only add a word, never hide one.
_ASCII_REF = re.compile(rb"&#(?:x0*([0-7]?[0-9a-f])(?![0-9a-f])|0*(12[0-7]|1[01][0-9]|[1-9]?[0-9])(?![0-9]));?")
# Characters that spell an ASCII letter or digit only through a named reference
# (html.entities.html5: "&fjlig;" is "fj") or through str.lower() of a non-ASCII
# character (U+212A KELVIN SIGN lowers to "k"); tests/test_scan_head.py re-derives both.
_NAMED_REF_LETTERS = frozenset("fj")
_KELVIN = "\u212a".encode()


def _ascii_ref(m: re.Match[bytes]) -> bytes:
    hexa, dec = m.groups()
    value = int(hexa, 16) if hexa is not None else int(dec)
    return bytes((value,)) if value else b"\x80"  # "&#0;" is U+FFFD


class _Tokens:
    """A policy's directive words, and what the head scans flag a ``<meta>`` for."""

    __slots__ = ("any_ref", "kelvin", "metas", "named", "names", "scan", "scannable", "words")

    def __init__(self, words: tuple[bytes, ...], names: tuple[bytes, ...] = ()) -> None:
        self.words = (*words, b"tdm")
        letters = set(b"".join(words).decode("ascii", "replace"))
        # The scan lowers ASCII only; a non-ASCII word is matched by str.lower() in the
        # directive parser, so its pages are always read in full.
        self.scannable = all(w.isascii() for w in words)
        self.any_ref = bool(_NAMED_REF_LETTERS & letters)  # "&fjlig;" may spell part of a word
        self.kelvin = "k" in letters  # "\u212a" may spell it
        extra = (b"&",) if self.any_ref else ()
        self.scan = (*self.words, b"&#", *extra, *((_KELVIN,) if self.kelvin else ()))
        # What a <meta> that yields a signal holds (directives.meta_signals, tdmrep.meta_signals):
        # the name "robots", an own or proxy token, "tdm" (tdm-reservation, tdm-policy) or a
        # directive word, each maybe spelt with a character reference ("&") or the KELVIN SIGN.
        # A meta whose bytes hold none of these yields no signal.  A non-ASCII name (matched
        # by str.lower()) leaves such heads to read_head.
        self.named = self.scannable and all(n.isascii() for n in names)
        self.metas = tuple(dict.fromkeys((*self.words, b"robots", *names, b"&", _KELVIN)))
        self.names = frozenset(n.decode("utf-8", "replace") for n in (b"robots", *names))

    def may_reserve(self, tag: bytes) -> bool:
        """Can this ``<meta>`` start tag (its bytes) carry a directive word or ``tdm``?"""
        low = tag.lower()
        if (self.any_ref and b"&" in low) or (self.kelvin and _KELVIN in low):
            return True
        if b"&#" in low:
            low = _ASCII_REF.sub(_ascii_ref, low).lower()  # "&#x4F;" is "O"
        return any(w in low for w in self.words)


def scan_head(body: bytes, policy: Policy, *, eof: bool = True, encoding: str | None = None) -> Head:
    """The HTML head's metas, skipping the parse when no meta in it can carry a directive.

    :func:`~noai_guard.htmlscan.scan_head_tags` walks the head as the WHATWG
    tokenizer does (quotes, comments, raw text) and flags each ``<meta>`` start
    tag that holds a directive word, ``tdm`` or a numeric character reference.
    A flagged tag whose bytes, references decoded, hold no directive word and no
    ``tdm`` cannot reserve anything (``&#39;`` in an ``og:title`` does not send
    the page to a parse).  Only a head with a candidate meta, or one the scan
    does not model (strict mode, UTF-16, NUL bytes, ``<template>``, a head past
    the budget), takes the full reader; what else the head holds (inline
    scripts, character references in the title, ``index, follow`` robots metas)
    costs only the scan.

    ``eof=False`` says ``body`` is only the start of the document (cut at a
    limit, or a truncated download): a head still open at its end is then
    incomplete, not ended by the end of the file.  ``encoding`` is the
    transport-layer charset, used when it is UTF-16 (see :func:`wide_charset`).
    """
    if not eof and not body:
        return Head((), False, 0)  # nothing of a page that goes on was read: its head is not known
    budget = policy.html_budget
    if not eof and len(body) <= budget:
        # The readers take bytes past the budget as "the page goes on".
        budget = max(len(body) - 1, 0)
    if encoding is not None and not body.startswith(_UTF16_BOMS):
        # WHATWG "encoding sniffing": a BOM, then the transport-layer charset.
        return read_head(body, budget=budget, strict=policy.html_strict, encoding=encoding)
    if not policy.html_strict and not body.startswith(_UTF16_BOMS):
        toks = _head_tokens(policy)
        if toks.scannable:
            limit = min(len(body), budget)
            status, end, flagged = scan_head_tags(body, limit, eof, toks.scan)
            # Shortest first: a reserving meta is short, and a tag of 5 KB of references costs
            # may_reserve 0.2 ms; a page without a candidate tries them all in any order.
            if status == HEAD_END and any(
                toks.may_reserve(body[s:e]) for s, e in sorted(flagged, key=_span_length)
            ):
                # A candidate meta: the head's metas that can yield a signal, read on their own.
                head = _head_of_metas(body, limit, eof, toks, {s for s, _ in flagged}) if toks.named else None
                if head is not None:
                    return head
            elif status == HEAD_END:
                return Head((), True, end)
    return read_head(body, budget=budget, strict=policy.html_strict)


def _span_length(span: tuple[int, int]) -> int:
    return span[1] - span[0]


def _head_of_metas(body: bytes, limit: int, eof: bool, toks: _Tokens, first: set[int]) -> Head | None:
    """The :class:`Head` of a head that ended, built from the ``<meta>`` tags that can yield a
    signal, each read on its own (:func:`~noai_guard.tagattrs.parse_start_tag`); ``None``
    when that is not sure to give what :func:`read_head` gives for them.

    The exact scan (``HEAD_END``, not ``HEAD_END_LOOSE``) flags only metas in WHATWG's
    head, which ``read_head`` reports (tests/test_head_of_metas.py); the tag's bytes are
    decoded as ``read_head`` decodes this body (UTF-8, a UTF-8 BOM skipped, invalid bytes
    replaced: no transport charset reaches this path, and a ``<meta charset>`` does not
    switch ``read_head``'s decoder); a tag starts at "<" and ends at ">", so decoding it
    alone gives the characters decoding the whole body gives for it.  Metas without any
    of the tokens yield no signal: leaving them out changes no signal.  ``bytes_read`` is
    the scan's head end; only an incomplete head's signal quotes it.

    ``first``: the starts of the metas the first scan flagged (``_Tokens.scan``); any other
    meta holds none of those tokens, so ``_Tokens.may_reserve`` is false for it.
    """
    status, end, flagged = scan_head_tags(body, limit, eof, toks.metas, True)
    if status != HEAD_END:
        return None  # a meta past "&nbsp;" or "</head><noscript>" may be in the body
    metas = []
    names = toks.names
    for s, e in flagged:
        tag = body[s:e]
        raw = start_tag_raw(tag)
        if raw is None:
            return None  # a tag longer than libxml2 takes whole
        _, keys, values = raw
        # Only the name's value is decoded to tell whether the meta can yield a signal (a
        # tag may hold 100 KB): directives.meta_signals reads "robots" and the policy's own
        # and proxy tokens whatever they say, and another name only when it may be a
        # crawler's token and the content holds a directive word (then the tag does, unless
        # may_reserve is false); tdmrep.meta_signals reads its four names.
        name = attr_value(keys, values, "name") or attr_value(keys, values, "property")
        if not name:
            continue  # no Meta
        key = name.strip().lower()
        if key not in names and key not in _TDM_NAMES:
            if key in _NOT_CRAWLERS or not _SCOPE_RE.fullmatch(key):
                continue
            if s not in first or not toks.may_reserve(tag):
                continue
        parsed = parse_start_tag(tag)
        if parsed is None:
            return None
        meta = meta_from_attributes(parsed[1], False)
        if meta is not None:
            metas.append(meta)
    return Head(tuple(metas), True, end)


# tdmrep.meta_signals' names (its _RESERVATION_NAMES and _POLICY_NAMES).
_TDM_NAMES = tdmrep._RESERVATION_NAMES | tdmrep._POLICY_NAMES

_WIDE = {"utf-16": "utf-16-le", "utf-16-le": "utf-16-le", "utf-16-be": "utf-16-be"}


def wide_charset(content_type: str | None) -> str | None:
    """The codec of a Content-Type's UTF-16 charset, else ``None``.

    The head scan reads ASCII-compatible pages the same whatever their
    charset; a UTF-16 page without a BOM is only readable with its label
    (WHATWG Encoding: the label "utf-16" means UTF-16LE).
    """
    if not content_type or "16" not in content_type:
        return None
    enc = http_content_type_encoding(content_type)
    return _WIDE.get(enc) if enc else None


_TOKENS: dict[tuple[tuple[str, ...], tuple[str, ...]], _Tokens] = {}


# The last policy asked about and its tokens: a crawl asks with one Policy object.
_LAST_TOKENS: tuple[Policy, _Tokens] | None = None


def _head_tokens(policy: Policy) -> _Tokens:
    global _LAST_TOKENS
    last = _LAST_TOKENS
    if last is not None and last[0] is policy:
        return last[1]
    key = (
        tuple(sorted(policy.directives)),
        tuple(sorted(policy.own_tokens_lower | policy.proxy_tokens_lower)),
    )
    toks = _TOKENS.get(key)
    if toks is None:
        words = {k.lower().encode("utf-8", "replace") for k in key[0]}
        names = tuple(n.encode("utf-8", "replace") for n in key[1])
        toks = _TOKENS[key] = _Tokens(tuple(sorted(words)), names)
    _LAST_TOKENS = (policy, toks)
    return toks


def site_signals(
    url: str,
    policy: Policy,
    *,
    robots: RobotsTxt | None = None,
    tdmrep_file: TdmrepFile | None = None,
    ai_txt: RobotsTxt | None = None,
    path: str | None = None,
) -> list[Signal]:
    """Signals known before the fetch: robots.txt, tdmrep.json and ai.txt of the origin.

    ``path``, if given, must be ``url_path(url)``.
    """
    out: list[Signal] = []
    # path: url_path(url), computed once for robots.txt and ai.txt
    if robots is not None:
        if path is None and robots.state == "ok":
            path = url_path(url)
        out += robots.signals(url, policy, path=path)
    if tdmrep_file is not None:
        out += tdmrep_file.signals(url, policy)
    if ai_txt is not None:
        if path is None and ai_txt.state == "ok":
            path = url_path(url)
        out += ai_txt_signals(ai_txt, url, policy, path=path)
    return out


# A URL whose path the parsers all read as written: ASCII, scheme "://" authority,
# then a path of characters neither robots.txt nor TDMRep normalisation changes (no
# "%", no "#", no space or controls, none of the characters quote() would escape, no
# "*" or "$", which robots.txt matching reads as %2A / %24, RFC 9309 §2.2.3) and not
# ending in an empty query (the two readers differ on a bare "?").
_PLAIN_PATH = r"[A-Za-z0-9!&'()+,/:;=?@~._-]*(?<!\?)"
# ... and without dot segments ("." or ".." between slashes, before the query), which
# every matcher removes first (noai_guard.urlpath.remove_dot_segments): "/./private/x"
# is read as "/private/x", not as written.  Checked at the path's first "/".
_DOT_SEGMENT = r"[^?]*/\.\.?(?:[/?]|\Z)"
# The authority is followed by the path's "/": checked first, so that the lookaheads after
# it run once, not at every shorter authority the regex backtracks to when the URL is not
# plain (a 60 KB authority and a "?" took seconds with a "*foo" rule's ".*foo" in them).
_URL_HEAD = r"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9!$&'()*+,:;=@~._-]*(?=/)"


# Above these, SiteEval evaluates every URL in full (see SiteEval._compile).
_MAX_ALTERNATIVES = 256
_MAX_COMPLEX = 16
# Longer URLs are evaluated in full: the screen's regex costs each "*" alternative a pass
# over the path, and a long URL gains nothing from it.
_MAX_SCREENED = 4096
# Characters of the literal after a "*" that the screen looks for (see _glob_regex).
_GLOB_TAIL = 8


def _glob_regex(parts: tuple[str, ...] | list[str], end: bool) -> str | None:
    """A regex matching every path that a path pattern (literal parts joined by ``*``)
    matches, or None to leave the pattern to its own (linear) matcher.

    A longer glob than ``A*B`` gets None: nested ``.*`` backtrack exponentially.
    In ``A.*B`` the regex engine tries ``B`` at each offset the ``.*`` gives
    back, up to ``len(B)`` steps each (``/*aaaa…ab`` on ``/aaaa…``: quadratic),
    so only the first ``_GLOB_TAIL`` characters of ``B`` (its last ones with
    ``$``) are looked for: at most ``_GLOB_TAIL`` steps per character of the
    path.  Such a regex matches more paths than the pattern does, which the
    screen allows (those URLs are evaluated in full), never fewer.
    """
    if len(parts) > 2:
        return None
    anchor = r"\Z" if end else ""
    if len(parts) == 1:
        return re.escape(parts[0]) + anchor
    head, tail = parts
    tail = tail[-_GLOB_TAIL:] if end else tail[:_GLOB_TAIL]
    return f"{re.escape(head)}.*{re.escape(tail)}{anchor}"


class SiteEval:
    """:func:`site_signals` and its decision for one origin's files and one policy, fast.

    A URL's site signals depend on it only through the rules it matches, and
    the parsers hand out one Signal object per matching rule.  Most URLs of a
    site match no rule but the catch-all ones (``Allow: /``, a tdmrep.json
    location ``/``), so they all get the same signals and the same decision
    but for the URL.  One regex over the whole URL picks them out: a plain URL
    (see ``_PLAIN_PATH``) whose path no other rule of robots.txt, ai.txt or
    tdmrep.json can match, nor ``/robots.txt`` (RFC 9309 §2.2.2: its own
    signal).  Every other URL is evaluated in full, and so is every URL of an
    origin whose files have more rules than the shortcut pays for.
    """

    __slots__ = ("_complex", "_default", "_default_re", "_memo", "ai_txt", "policy", "robots", "tdmrep_file")

    def __init__(
        self,
        policy: Policy,
        *,
        robots: RobotsTxt | None = None,
        tdmrep_file: TdmrepFile | None = None,
        ai_txt: RobotsTxt | None = None,
        memo: DecisionMemo | None = None,
    ) -> None:
        self.policy = policy
        self.robots = robots
        self.tdmrep_file = tdmrep_file
        self.ai_txt = ai_txt
        self._default: tuple[list[Signal], Decision] | None = None
        # A crawl passes one memo for all origins, so its size bounds them all together
        # (keys cannot collide: each origin's files hand out their own signal objects).
        self._memo = memo if memo is not None else DecisionMemo(policy)
        # Patterns with several "*" are tried on the path with their own (linear) matchers.
        self._complex: list[Callable[[str], bool]] = []
        self._default_re = self._compile(policy)

    def _compile(self, policy: Policy) -> re.Pattern[str] | None:
        alts = {re.escape("/robots.txt")}

        def add(rx: str | None, matches: Callable[[str], bool]) -> None:
            if rx is None:
                self._complex.append(matches)
            else:
                alts.add(rx)

        rules = self.robots.path_rules(policy) if self.robots is not None else []
        if self.ai_txt is not None:
            rules += ai_txt_path_rules(self.ai_txt, policy)
        if len(rules) > _MAX_ALTERNATIVES:
            return None
        for r in rules:
            if not matches_every_path(r):  # one that does is the same for all URLs
                add(re.escape(r.prefix) if r.prefix is not None else _glob_regex(r.parts, r.end), r.matches)
        tdm = self.tdmrep_file
        if tdm is not None and tdm.state == "ok":
            for pat, anchored, matches in tdm.locations():
                if anchored or pat.rstrip("*") not in ("", "/"):  # "/" and "/*" match every path
                    add(_glob_regex(pat.split("*"), anchored), matches)
        if len(alts) > _MAX_ALTERNATIVES or len(self._complex) > _MAX_COMPLEX:
            # A file this large is cheaper to evaluate in full than to screen first: the
            # regex tries its alternatives one by one, and compiling it takes long.
            self._complex = []
            return None
        return re.compile(f"{_URL_HEAD}(?!(?:{'|'.join(sorted(alts))}))(?!{_DOT_SEGMENT})(/{_PLAIN_PATH})")

    def same_files(self, robots: object, tdmrep_file: object, ai_txt: object) -> bool:
        return robots is self.robots and tdmrep_file is self.tdmrep_file and ai_txt is self.ai_txt

    def evaluate(self, url: str) -> tuple[list[Signal], Decision]:
        """``site_signals(url, ...)`` and ``decide(url, those signals, policy)``."""
        m = (
            self._default_re.fullmatch(url)
            if self._default_re is not None and len(url) <= _MAX_SCREENED
            else None
        )
        # A plain URL's path is read as written by every parser: the complex patterns see it so.
        default = m is not None and not (self._complex and any(f(url[m.start(1) :]) for f in self._complex))
        if default and self._default is not None:
            sigs, decision = self._default
            return list(sigs), decision.for_url(url)
        sigs = site_signals(
            url, self.policy, robots=self.robots, tdmrep_file=self.tdmrep_file, ai_txt=self.ai_txt
        )
        decision = self._memo.decide(url, sigs)
        if default:
            self._default = (list(sigs), decision)
        return sigs, decision


# Header names the response signals read: directives / tdmrep / aipref.header_signals
# compare ``name.strip().lower()``, or ``name.lower()``, with these.
SIGNAL_HEADER_NAMES = frozenset(
    {"x-robots-tag", "tdm-reservation", "tdm-policy", "content-usage", "content-signal"}
)


def has_signal_header(headers: Headers) -> bool:
    """Can any header carry a signal?  When not, every ``header_signals`` returns ``[]``.

    The test is the one those functions apply to a name (a name equal to one of
    them after ``lower()`` is equal after ``strip().lower()`` too), so it misses
    no header they would read.
    """
    return any(k.strip().lower() in SIGNAL_HEADER_NAMES for k, _ in headers)


def response_signals(
    url: str,
    policy: Policy,
    *,
    headers: Headers = (),
    body: bytes | None = None,
    content_type: str | None = None,
    head: Head | None = None,
    undecodable: str | None = None,
) -> list[Signal]:
    """Signals known after the fetch: response headers and the HTML head's metas.

    ``body`` is the decoded body (:mod:`noai_guard.content`); ``undecodable``
    says why its head could not be read (see :func:`head_unreadable`): an ``unknown``.
    """
    if content_type is None:
        content_type = header_value(headers, "Content-Type")
    image = is_image(url, content_type)
    out: list[Signal] = []
    if headers and has_signal_header(headers):
        out += directives.header_signals(headers, url, policy, is_image=image)
        out += tdmrep.header_signals(headers, url, policy)
        out += aipref.header_signals(headers, url, policy)
    if head is None and body and reads_as_html(content_type, body, url=url, headers=headers):
        head = scan_head(body, policy, eof=undecodable is None, encoding=wide_charset(content_type))
    # A complete head without metas yields no meta signal (both readers only look at
    # head.metas, plus an "unknown" for an incomplete head): skip them, the common case.
    if head is not None and (head.metas or not head.complete):
        out += directives.meta_signals(head, url, policy, is_image=image)
        out += tdmrep.meta_signals(head, url, policy)
    if undecodable is not None:
        out.append(undecodable_signal(url, policy, undecodable))
    return out


def evaluate(
    url: str,
    policy: Policy,
    *,
    robots: RobotsTxt | None = None,
    tdmrep_file: TdmrepFile | None = None,
    ai_txt: RobotsTxt | None = None,
    headers: Headers = (),
    body: bytes | None = None,
    content_type: str | None = None,
) -> Decision:
    """Decide ``url`` for ``policy.purpose`` from whatever inputs are given: the reference path.

    A thin front to :class:`noai_guard.engine.Judge`: the site files are read in
    full (:func:`site_signals`, no :class:`SiteEval` shortcut: this is what the
    shortcut is tested against), then the page, ``headers`` and the decoded
    ``body``, is judged after the fetch as the crawl judges it.  A site file
    left as ``None`` yields no signal (not even "not checked"); callers that
    want "absent" (a 404) pass ``RobotsTxt.unavailable(...)``.
    """
    from .engine import Judge, Page

    judge = Judge(policy, cache_size=0, memo_size=1)
    before = judge.from_site_signals(
        url, site_signals(url, policy, robots=robots, tdmrep_file=tdmrep_file, ai_txt=ai_txt)
    )
    if not headers and not body:
        return before.decision
    page = Page(url, headers=tuple(headers), body=body or b"", content_type=content_type)
    return judge.after_fetch(page, None, before).decision
