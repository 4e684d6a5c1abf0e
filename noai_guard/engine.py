"""How a URL is judged: the one path from site files and a fetched page to a :class:`Decision`.

The crawl (:mod:`noai_guard.crawl`), the offline audit
(:mod:`noai_guard.auditing`), ``explain`` and ``check`` are adapters: they get
an origin's site files and a page by their own means (Scrapy's engine, WARC
records and captures, files on disk) and hand them to a :class:`Judge`,
which is the only caller of :func:`~noai_guard.policy.decide`::

    before the fetch   SiteFiles --site_signals--> signals --decide--> Decision
    after the fetch    Page.body --content (codings undone, bounded)--> bytes
                       bytes --read_page (Scrapy's HTML sniffing, scan_head)--> Head
                       headers + Head --response_signals--> signals
                       site signals + page signals --decide--> Decision
    a reserving page   Head + body --embedded_media--> MediaReservation
    an embedded image  MediaReservation --by_embedding_page--> Decision (embedding-page)
    a non-HTML body    bytes (16 MB) --imagemeta / c2pameta--> iptc-data-mining, c2pa signals

What could not be read is a signal like any other, resolved by the policy:
an origin whose robots.txt was not checked (an audit without its capture)
gives ``robots-txt`` ``unknown`` marked not checked (``Policy.not_checked_as``),
a body that does not decode or was cut before its head ended gives
``meta-robots`` ``unknown`` (``Policy.resolve_unknown``).

Pure code: no I/O beyond reading the page body source it is given.  The caches
(the per-origin :class:`~noai_guard.evaluate.SiteEval` and the decision memo)
live on the judge, so two judges never share state.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from w3lib.url import safe_url_string

from . import c2pameta, directives, imagemeta
from . import decision as d
from .access import access_signal
from .content import HEAD_END, BodyReader, PayloadReader, State
from .decision import Decision, Headers, Signal, Verdict
from .evaluate import (
    SIGNAL_HEADER_NAMES,
    SNIFF_BYTES,
    SiteEval,
    head_unreadable,
    is_image,
    may_be_html,
    reads_as_html,
    response_signals,
    scan_head,
    undecodable_signal,
    wide_charset,
)
from .htmlhead import Head, embedded_images, embedded_media
from .htmlscan import HEAD_END as SCAN_HEAD_END
from .htmlscan import scan_head_tags
from .imagemeta import IMAGE_META_BUDGET
from .policy import IMAGE_DIRECTIVES, DecisionMemo, Policy, decide
from .rsl import html_licence_links, licence_links
from .sitefiles import PATHS, Kind

if TYPE_CHECKING:
    from .robots import RobotsTxt
    from .rsl import RslFile
    from .tdmrep import TdmrepFile

__all__ = [
    "Judge",
    "Judgement",
    "MediaReservation",
    "Page",
    "PageRead",
    "SiteFiles",
    "file_state",
    "media_key",
    "not_checked_signal",
    "read_page",
]

# The signals of a page that reserve the media it embeds (noai / noimageai / noml).
_PAGE_MEDIA_SIGNALS = frozenset({d.X_ROBOTS_TAG, d.META_ROBOTS})
# Bytes of a reserving page read to find what it embeds (the head reader's budget is far
# smaller): a page's images are listed in its body.
MEDIA_SCAN_LIMIT = 8 * 1024 * 1024


# --- what is judged ---------------------------------------------------------------------------


def file_state(parsed: RobotsTxt | TdmrepFile | None) -> str:
    """``present`` / ``absent`` / ``unreachable`` / ``not-checked``: one site file's state."""
    if parsed is None:
        return "not-checked"
    state = parsed.state
    return {"ok": "present", "unavailable": "absent"}.get(state, state)


@dataclass(frozen=True, slots=True)
class SiteFiles:
    """One origin's site files as an adapter found them, with their provenance.

    A file left ``None`` was not checked: for robots.txt that is an ``unknown``
    (RFC 9309 §2.3.1.4 speaks of a failed fetch, not of a file never asked
    for), which the policy resolves (``Policy.not_checked_as``); tdmrep.json
    and ai.txt not checked add no signal.  ``provenance`` maps a kind to how
    its file was obtained (fetch, capture, given) or why it is missing: the
    ``site_files`` of an audit record.
    """

    origin: str
    robots: RobotsTxt | None = None
    tdmrep: TdmrepFile | None = None
    ai_txt: RobotsTxt | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    #: The RSL 1.0 licence the robots.txt ``License:`` record names, fetched (None: none, or not read).
    rsl: RslFile | None = None

    @classmethod
    def from_kinds(
        cls, origin: str, files: Mapping[Kind, Any], provenance: Mapping[str, Any] | None = None
    ) -> SiteFiles:
        """From a ``{kind: parsed file}`` mapping, as the crawl's cache and the capture index hold them."""
        return cls(
            origin,
            files.get("robots"),
            files.get("tdmrep"),
            files.get("ai-txt"),
            provenance if provenance is not None else {},
            files.get("rsl"),
        )

    def states(self) -> dict[str, str]:
        out = {
            "robots": file_state(self.robots),
            "tdmrep": file_state(self.tdmrep),
            "ai-txt": file_state(self.ai_txt),
        }
        if self.rsl is not None:
            out["rsl"] = {"ok": "present", "unavailable": "absent"}.get(self.rsl.state, self.rsl.state)
        return out


@dataclass(frozen=True, slots=True)
class PageRead:
    """What :func:`read_page` read of a page: the decoded prefix, its head, and why it is not whole."""

    body: bytes
    head: Head | None  # None: not read as HTML
    unreadable: str | None  # why the head could not be read (undecodable, cut), if it matters


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched response as the spider would get it.

    ``body`` is the body as received, content codings not undone (a
    :class:`~noai_guard.content.BodyReader` when an adapter streams it, as
    the audit does from a WARC record).  ``content_encoding`` and ``chunked``
    apply to a ``bytes`` body.  ``response_class`` is the class Scrapy built
    for the response, when known; otherwise Scrapy's ``responsetypes`` logic
    is applied to the headers, URL and body.  ``cut``: the transport lost
    bytes (Scrapy's ``dataloss`` flag), so the body's end is not the page's.
    """

    url: str
    status: int | None = 200
    headers: Headers = ()
    body: bytes | BodyReader = b""
    content_encoding: str | None = None
    chunked: bool = False
    content_type: str | None = None
    response_class: type | None = None
    cut: bool = False
    read: PageRead | None = None  # already read with read_page (the audit reads while a record is open)

    def reader(self, limit: int) -> BodyReader:
        body = self.body
        if type(body) is bytes and not self.chunked and not self.content_encoding:
            return _BytesReader(body, self.cut)  # the crawl's usual page: no coding to undo
        if isinstance(self.body, (bytes, bytearray, memoryview)):
            te = "chunked" if self.chunked else ""
            return PayloadReader(
                io.BytesIO(self.body),
                codings=(te, self.content_encoding or ""),
                limit=limit,
                cut=self.cut,
                streaming=False,
            )
        return self.body


class _BytesReader:
    """An in-memory body with no coding, read as ``PayloadReader(streaming=False)`` reads it, uncopied.

    The same prefixes, ``eof`` and ``state`` (``tests/crawl/test_crawl_engine.py``
    checks them against :class:`~noai_guard.content.PayloadReader`); it only
    skips the stream and buffer a page held in memory does not need.
    """

    HEAD_END = HEAD_END
    decoding = False
    streaming = False
    __slots__ = ("_body", "_pos", "cut", "eof")

    def __init__(self, body: bytes, cut: bool) -> None:
        self._body = body
        self._pos = 0  # bytes of the body read so far
        self.cut = cut
        self.eof = False

    @property
    def state(self) -> tuple[State, str]:
        if not self.eof:
            return State.LIMIT, "stopped at the byte budget"
        if self.cut:
            return State.TRUNCATED, "the body was cut short (dataloss)"
        return State.WHOLE, ""

    @property
    def whole(self) -> bool:
        return self.eof and not self.cut

    def read_until(self, limit: int, stop: re.Pattern[bytes] | None = None, first: int = 16384) -> bytes:
        body = self._body
        pos = self._pos
        if pos == 0 and not self.eof:  # the first read: ``limit`` bytes at once, as from memory
            if limit <= 0:
                return b""
            data = body[:limit]  # the body itself when it is shorter
            self._pos = len(data)
            self.eof = len(data) < limit
            return data
        step = limit
        while pos < limit and not self.eof:
            if pos >= len(body):
                self.eof = True
                break
            prev = pos
            pos = self._pos = min(len(body), pos + step)
            step = min(step * 2, 256 * 1024)
            if stop is not None and stop.search(body, max(0, prev - 16), pos) is not None:
                break
        return body[: min(pos, limit)]


def read_page(
    source: BodyReader,
    url: str,
    content_type: str | None,
    policy: Policy,
    *,
    headers: Iterable[tuple[str, str]] | None = None,
    response_class: type | None = None,
) -> PageRead:
    """The page's HTML head, read as the spider would see the page.

    Whether the body is read as HTML is decided as Scrapy decides what it hands
    the spider (:func:`~noai_guard.evaluate.reads_as_html`, on at least the
    bytes Scrapy sniffs).  The head is read from a prefix on which
    :func:`~noai_guard.evaluate.scan_head` gives what the whole body gives: a
    prefix in which the head ended (``complete``, read as the start of a longer
    document) gives the same metas; otherwise the prefix grows (x4) until the
    body or the budget runs out.  A streamed body is read 32 KB first, in one
    read (the scan finds where the head ends: searching each chunk for
    ``</head`` or ``<body`` first cost more than reading the rest); a body held
    in memory is read to the budget at once.
    """
    budget, strict = policy.html_budget, policy.html_strict
    size = budget if strict or not source.streaming else min(budget, 32 * 1024)
    html: bool | None = None
    while True:
        body = source.read_until(size)
        if html is None:
            if len(body) < SNIFF_BYTES and not source.eof:
                body = source.read_until(max(size, SNIFF_BYTES))
            html = (bool(body) or source.cut) and reads_as_html(
                content_type, body, url=url, headers=headers, response_class=response_class
            )
        if not html:
            if source.decoding and not source.eof and may_be_html(content_type):
                source.read_until(max(budget + 1, SNIFF_BYTES))  # as far as the crawl decodes
            state, detail = source.state
            return PageRead(b"", None, head_unreadable(state, detail, content_type, None))
        final = source.eof or len(body) >= budget or strict
        encoding = wide_charset(content_type)
        if not final and encoding is None and not _head_may_end_in(body):
            # The head runs on past this prefix, which grows: scan_head would read the whole
            # prefix in full (lxml) for metas that are thrown away.
            size = min(budget, size * 4)
            continue
        state, detail = source.state
        whole = source.eof and state is State.WHOLE
        head = scan_head(body, policy, eof=whole, encoding=encoding)
        if final or head.complete:
            return PageRead(body, head, head_unreadable(state, detail, content_type, head))
        size = min(budget, size * 4)


def _head_may_end_in(prefix: bytes) -> bool:
    """False when the head of the page ``prefix`` starts does not end within it (the tokenizer's view).

    The head scan over the prefix, read as the start of a longer document, says
    whether the head ended in it (it stops there: cheaper than looking for
    ``<body`` with ``in``); a page it does not model (a NUL byte,
    ``<template>``...) runs on too, to a longer prefix, whose head is what this
    one's would be had it ended here.  UTF-16 (a BOM) is left to ``scan_head``.
    """
    if prefix.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return scan_head_tags(prefix, len(prefix), False, ())[0] == SCAN_HEAD_END


def _read_bytes(
    body: bytes,
    cut: bool,
    url: str,
    content_type: str | None,
    policy: Policy,
    headers: Headers,
    response_class: type | None,
) -> PageRead:
    """``read_page`` of a body held in memory with no coding (what ``_BytesReader`` reads), without the reader.

    The body is read to the budget at once: its prefix, whether that is all of
    it, and the state follow from its length and ``cut``, as
    :class:`_BytesReader` gives them (``tests/test_perpage_paths.py`` compares
    the two).  A budget under Scrapy's sniff window reads twice: left to
    :func:`read_page`.
    """
    budget = policy.html_budget
    if budget < SNIFF_BYTES:
        return read_page(
            _BytesReader(body, cut), url, content_type, policy, headers=headers, response_class=response_class
        )
    eof = len(body) < budget
    if not eof:
        body = body[:budget]
    if not (body or cut):
        return PageRead(b"", None, None)
    # is_html's first test, inline: a Content-Type naming HTML is read as HTML.
    if not (content_type and "html" in content_type.lower()) and not reads_as_html(
        content_type, body, url=url, headers=headers, response_class=response_class
    ):
        # head_unreadable(state, ..., None) is None: an in-memory body always decodes.
        return PageRead(b"", None, None)
    encoding = wide_charset(content_type) if content_type and "16" in content_type else None
    head = scan_head(body, policy, eof=eof and not cut, encoding=encoding)
    if eof and cut:  # only a cut body's head can be unreadable (head_unreadable: TRUNCATED)
        return PageRead(
            body,
            head,
            head_unreadable(State.TRUNCATED, "the body was cut short (dataloss)", content_type, head),
        )
    return PageRead(body, head, None)


def not_checked_signal(url: str, origin: str, policy: Policy, evidence: str) -> Signal:
    """``robots-txt`` ``unknown``, not checked: the run never saw the origin's robots.txt."""
    return Signal(
        d.ROBOTS_TXT,
        Verdict.UNKNOWN,
        policy.purpose,
        evidence,
        origin + PATHS["robots"],
        d.LOC_ROBOTS,
        note=(
            "robots.txt not checked: RFC 9309 §2.3.1.4 (unreachable means disallow) applies to a "
            "failed fetch, not to a file the run never saw"
        ),
        checked=False,
    )


# --- what the judge answers -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Judgement:
    """A decision with the signals it was taken from, split by where they were read."""

    decision: Decision
    site: list[Signal]  # robots.txt, tdmrep.json, ai.txt (and "not checked")
    page: list[Signal] = field(default_factory=list)  # headers, metas, "could not read"
    head: Head | None = None
    read: PageRead | None = None

    @property
    def blocked(self) -> bool:
        return self.decision.blocked


@dataclass(frozen=True, slots=True)
class MediaReservation:
    """Media a reserving page embeds: the page's URL, the signal that reserves them, their URLs.

    ``urls`` are the images, reserved by ``signal`` (the page's directives read as
    binding an image: noai, noimageai, noml); ``av_urls`` the audio and video (and
    a video's poster), reserved by ``av_signal`` (read as binding the page itself:
    noai, noml; not noimageai).  :meth:`parts` splits them by signal.
    """

    page_url: str
    signal: Signal
    urls: tuple[str, ...]
    av_urls: tuple[str, ...] = ()
    av_signal: Signal | None = None

    def parts(self) -> tuple[MediaReservation, ...]:
        """One reservation per signal, each listing only ``urls``: the images, then the audio and video."""
        if not self.av_urls or self.av_signal is None:
            return (self,) if self.urls else ()
        av = MediaReservation(self.page_url, self.av_signal, self.av_urls)
        if not self.urls:
            return (av,)
        return (MediaReservation(self.page_url, self.signal, self.urls), av)


# --- the key an embedded image is remembered by ------------------------------------------------

# An absolute http(s) URL split into "scheme://authority" (up to the first "/", as the URL
# Standard's authority state ends it; no "?", "#", "\\" or whitespace in it) and a path and
# query of characters safe_url_string does not percent-encode (the path's, and the special
# query's, which has no "'"), with no empty query; then the fragment, if any.
_KEY_PATH = r"[A-Za-z0-9\-._~!$&'()*+,;=:@%/]"
_KEY_QUERY = r"[A-Za-z0-9\-._~!$&()*+,;=:@%/?]"
_PLAIN_MEDIA_URL = re.compile(
    r"(https?://[^/?#\\\x00-\x20\x7f]+)(?=/)"  # "/" first: a backtracked authority fails at once
    rf"(/{_KEY_PATH}*(?:\?{_KEY_QUERY}+)?)(?:#|\Z)"
)
# "scheme://authority" -> what safe_url_string makes of it ("" when it cannot); bounded.
_SAFE_AUTHORITIES: dict[str, str] = {}
_SAFE_AUTHORITIES_MAX = 4096


def media_key(url: str) -> str:
    """``safe_url_string(url)`` without its fragment: the key an embedded image is remembered by.

    The crawl and the audit match a reserving page's images with what is
    requested (or recorded) by this key.  A URL that w3lib cannot make safe
    (a port out of range, a lone surrogate) is matched as it is: such a URL is
    never a request, so only its very text can match.

    Fast path: safe_url_string reads a special URL's authority apart from its
    path (URL Standard §4.4, "authority" and "path" states), so for a plain
    path and query (``_PLAIN_MEDIA_URL``, no dot segment) the key is the
    authority made safe, once per authority, followed by the path and query as
    they are (``tests/test_fast_paths.py`` checks it against safe_url_string).
    """
    m = _PLAIN_MEDIA_URL.match(url)
    if m is not None:
        authority, rest = m.groups()
        # No possible dot segment ("." or "..", or spelt with "%2e"), which the URL
        # Standard removes from a path: those take the slow path.
        if "/." not in rest and "%2e" not in rest and "%2E" not in rest:
            safe = _SAFE_AUTHORITIES.get(authority)
            if safe is None:
                safe = _safe_authority(authority)
                if len(_SAFE_AUTHORITIES) >= _SAFE_AUTHORITIES_MAX:
                    _SAFE_AUTHORITIES.clear()
                _SAFE_AUTHORITIES[authority] = safe
            if safe:
                return safe + rest
    with contextlib.suppress(ValueError, UnicodeError):
        url = safe_url_string(url)
    return url.split("#", 1)[0]


def _safe_authority(authority: str) -> str:
    """What safe_url_string makes of ``authority`` + "/", without the "/"; "" if it fails or adds a path."""
    try:
        safe = safe_url_string(authority + "/")
    except (ValueError, UnicodeError):
        return ""
    _scheme, sep, rest = safe.partition("://")
    if not sep or rest.count("/") != 1 or not rest.endswith("/") or "?" in rest or "#" in rest:
        return ""
    return safe[:-1]


class Judge:
    """Judges URLs and pages for one policy.  The only caller of :func:`~noai_guard.policy.decide`.

    ``cache_size`` bounds the per-origin evaluators kept (each is one
    origin's compiled site files); one decision memo (``memo_size`` signal
    lists) is shared by all of them.
    """

    def __init__(self, policy: Policy, *, cache_size: int = 1024, memo_size: int = 8192) -> None:
        self.policy = policy
        # The page's directives as they bind the audio and video it embeds: noimageai does not.
        self._av_policy = replace(
            policy, directives={k: v for k, v in policy.directives.items() if k not in IMAGE_DIRECTIVES}
        )
        self.memo = DecisionMemo(policy, size=memo_size)
        self.cache_size = cache_size
        self._evals: OrderedDict[str, SiteEval] = OrderedDict()
        # Image files' own metadata is read only when the policy reads one of its signals.
        self._image_meta = bool({d.IPTC_DATA_MINING, d.C2PA} & policy.sources)

    # -- before the fetch ----------------------------------------------------------------------

    def site_eval(self, files: SiteFiles) -> SiteEval:
        """The origin's evaluator for these very files (kept while the files are the same objects)."""
        ev = self._evals.get(files.origin)
        if ev is not None and ev.same_files(files.robots, files.tdmrep, files.ai_txt):
            self._evals.move_to_end(files.origin)
            return ev
        ev = SiteEval(
            self.policy, robots=files.robots, tdmrep_file=files.tdmrep, ai_txt=files.ai_txt, memo=self.memo
        )
        self._evals[files.origin] = ev
        while len(self._evals) > self.cache_size:
            self._evals.popitem(last=False)
        return ev

    def before_fetch(self, url: str, files: SiteFiles, *, evaluator: SiteEval | None = None) -> Judgement:
        """What the origin's site files say of ``url``, before it is fetched.

        ``evaluator``: :meth:`site_eval` of ``files``, when the caller keeps it.
        """
        ev = evaluator if evaluator is not None else self.site_eval(files)
        sigs, decision = ev.evaluate(url)
        if files.robots is None and d.ROBOTS_TXT in self.policy.sources:
            # Only when the policy reads robots.txt: a switched-off source adds no signal.
            missing = files.provenance.get("robots")
            evidence = missing.get("missing", "") if isinstance(missing, Mapping) else ""
            sigs = [*sigs, not_checked_signal(url, files.origin, self.policy, evidence or "no robots.txt")]
            decision = decide(url, sigs, self.policy)
        if files.rsl is not None and d.RSL in self.policy.sources:
            # RSL 1.0: the licence the robots.txt License: record names, judged per <content url>.
            rsl = files.rsl.signal(url, self.policy)
            if rsl is not None:
                sigs = [*sigs, rsl]
                decision = decide(url, sigs, self.policy)
        return Judgement(decision, sigs, [], None, None)

    def from_site_signals(self, url: str, signals: Iterable[Signal]) -> Judgement:
        """The judgement of site signals read in full by the caller, with no per-origin shortcut.

        The reference path (:func:`noai_guard.evaluate.evaluate`), against which
        :class:`~noai_guard.evaluate.SiteEval`'s shortcut is tested.
        """
        sigs = list(signals)
        return Judgement(decide(url, sigs, self.policy), sigs)

    def by_embedding_page(self, url: str, media: MediaReservation) -> Judgement:
        """An image (or other media) reserved by the page that embeds it; the page is the evidence."""
        s = media.signal
        sig = Signal(
            name=d.EMBEDDING_PAGE,
            verdict=Verdict.RESERVE,
            purpose=self.policy.purpose,
            evidence=s.evidence,
            source=media.page_url,
            location=d.LOC_PAGE,
            scope=s.scope,
            user_agent=s.user_agent,
            own_token=s.own_token,
            note=f"embedded by {media.page_url}, which {s.name} ({s.location}) reserves",
        )
        return Judgement(decide(url, [sig], self.policy), [sig])

    # -- RSL licences a page names ---------------------------------------------------------------

    def page_licences(
        self, url: str, links: Iterable[str], read: PageRead | None, status: int | None = 200
    ) -> list[str]:
        """The RSL licence URLs a page names (absolute, http(s), first seen first).

        RSL 1.0: an HTTP ``Link: <...>; rel="license"; type="application/rsl+xml"``
        (``links``: the response's Link field values) and an HTML
        ``<link rel="license" type="application/rsl+xml">`` in the head (in
        ``read``'s decoded prefix).  Empty when the policy does not read ``rsl``,
        and for an answer that is not a page (``status`` not 2xx: a 401/402/403's
        licence pointer is ``access-required``'s evidence, nothing was obtained).
        """
        if d.RSL not in self.policy.sources or (status is not None and not 200 <= status < 300):
            return []
        found = licence_links(links)
        head = read.head if read is not None else None
        if read is not None and head is not None and read.body:
            # A head that ended is searched up to its end (the scan's), not the page's budget.
            limit = head.bytes_read + 16 if head.complete else self.policy.html_budget
            found += html_licence_links(read.body, limit)
        out: list[str] = []
        for href in found:
            with contextlib.suppress(ValueError, UnicodeError):
                absolute = safe_url_string(urljoin(url, href))
                if absolute.startswith(("http://", "https://")) and absolute not in out:
                    out.append(absolute)
        return out

    def with_licences(self, judgement: Judgement, url: str, licences: Iterable[RslFile]) -> Judgement:
        """``judgement`` with the signals of the licences its page names, added to the page's signals."""
        extra = [s for lic in licences if (s := lic.signal(url, self.policy)) is not None]
        if not extra:
            return judgement
        page = [*judgement.page, *extra]
        decision = decide(url, judgement.site + page, self.policy)
        return Judgement(decision, judgement.site, page, judgement.head, judgement.read)

    # -- after the fetch -----------------------------------------------------------------------

    def page_signals(self, page: Page) -> tuple[list[Signal], PageRead | None]:
        """The signals of a fetched page: its headers, its head's metas, and what could not be read."""
        policy = self.policy
        url = page.url
        headers = page.headers
        content_type = page.content_type
        if content_type is None:
            content_type = _last_header(headers, "content-type")
        read: PageRead | None = None
        head: Head | None = None
        extra: list[Signal] = []
        status = page.status
        if status is not None and 400 < status < 404:  # issue 15 item 5: a login or licence asked
            asked = access_signal(url, status, headers, policy.purpose)
            if asked is not None:
                extra.append(asked)
        body = page.body
        if page.read is not None:
            read = page.read
            head = read.head
            if read.unreadable is not None:
                extra.append(undecodable_signal(url, policy, read.unreadable))
        elif not isinstance(body, (bytes, bytearray, memoryview)) or body or page.cut:
            if type(body) is bytes and not page.chunked and not page.content_encoding:
                # The crawl's usual page: in memory, no coding to undo.
                read = _read_bytes(body, page.cut, url, content_type, policy, headers, page.response_class)
            else:
                # One byte past the budget (and Scrapy's sniff window): "the page goes on".
                read = read_page(
                    page.reader(max(policy.html_budget + 1, SNIFF_BYTES)),
                    url,
                    content_type,
                    policy,
                    headers=headers,
                    response_class=page.response_class,
                )
            head = read.head
            if read.unreadable is not None:
                extra.append(undecodable_signal(url, policy, read.unreadable))
        signal_headers = _signal_pairs(headers) if headers else []
        if signal_headers or (head is not None and (head.metas or not head.complete)):
            sigs = response_signals(url, policy, headers=signal_headers, content_type=content_type, head=head)
            sigs += extra
        else:  # what response_signals returns for no signal header and an empty, complete head
            sigs = extra
        if head is None and self._image_meta and _may_be_image(page, url, content_type):
            sigs = sigs + self.image_signals(page)  # not HTML: the file's own metadata
        return sigs, read

    def image_signals(self, page: Page) -> list[Signal]:
        """IPTC Data Mining (and C2PA presence) in an image's own bytes, read within the budget.

        The body is read to :data:`~noai_guard.imagemeta.IMAGE_META_BUDGET`
        decoded bytes (in the audit, on from where the page read stopped); a
        body that does not decode, or metadata beyond the budget, is ``unknown``.
        """
        budget = IMAGE_META_BUDGET
        body = page.body
        if type(body) is bytes and not page.chunked and not page.content_encoding:
            data, whole = body[:budget], len(body) <= budget and not page.cut
        else:
            source = page.reader(budget)
            data = source.read_until(budget)
            state, _detail = source.state
            whole = source.eof and state is State.WHOLE
            if state is State.UNDECODABLE:
                data = b""
        if not data:
            return []
        ctype = page.content_type or _last_header(page.headers, "content-type") or ""
        mime = ctype.split(";", 1)[0].strip().lower()
        av = mime.startswith(("audio/", "video/"))
        sigs = [] if av else imagemeta.image_signals(data, page.url, self.policy, whole=whole)
        seen = [s for s in sigs if s.name == d.C2PA]
        fmt = imagemeta.image_format(data)
        # The image formats imagemeta reads are walked (_WALKED); other files (audio, video,
        # AVIF...) are searched for the manifest store's JUMBF label "c2pa" when the library
        # can read them.
        if (
            seen or (fmt not in _WALKED and c2pameta.available() and b"c2pa" in data)
        ) and c2pameta.available():
            # The library's reading of the training-and-data-mining assertion replaces
            # "present, not checked".
            read = c2pameta.read_manifest(data, f"image/{fmt}" if fmt else mime)
            if read is not None and (seen or read.problem is None):
                where = seen[0].scope or "" if seen else mime
                sigs = [s for s in sigs if s.name != d.C2PA] + c2pameta.c2pa_signals(
                    read, page.url, self.policy, where
                )
        return sigs

    def after_fetch(self, page: Page, files: SiteFiles | None, before: Judgement | None = None) -> Judgement:
        """The decision on a fetched page: its site files' signals (``before``, or from ``files``) and its own.

        ``files=None`` with no ``before``: the origin's files are not part of
        this judgement (a page judged on its own signals, as ``explain`` does
        when given no site file).
        """
        if before is None:
            before = self.before_fetch(page.url, files) if files is not None else None
        site = before.site if before is not None else []
        sigs, read = self.page_signals(page)
        # When the page adds no signal the decision is decide(url, site) again, which the
        # pre-fetch decision already is (decide is a pure function of url, signals, policy).
        if not sigs and before is not None:
            decision = before.decision
        else:
            decision = decide(page.url, site + sigs, self.policy)
        return Judgement(decision, site, sigs, None if read is None else read.head, read)

    # -- media embedded by a reserving page ----------------------------------------------------

    def embedded_media(
        self, page: Page, judgement: Judgement, *, limit: int = MEDIA_SCAN_LIMIT
    ) -> MediaReservation | None:
        """The media a page reserves by its own noai / noimageai / noml, with the deciding signal.

        A page's directives are judged as they bind an image (``noimageai``
        binds images even in the lenient mode); ``None`` when they do not
        reserve, or the page is not HTML.  ``limit``: decoded bytes searched
        for what the page embeds (a crawl, holding the body, searches all of it).
        """
        head = judgement.head
        # Read as binding an image, a page's directives can only reserve where read for the page
        # they reserve or are left to images (verdict None: lenient noimageai); ALLOW and
        # UNKNOWN (a head not read to its end) read the same either way: no reservation.
        if head is None or not any(
            s.name in _PAGE_MEDIA_SIGNALS and (s.verdict is Verdict.RESERVE or s.verdict is None)
            for s in judgement.page
        ):
            return None
        policy = self.policy
        signal_headers = [(k, v) for k, v in page.headers if _is_signal_header(k)]
        sigs = directives.header_signals(signal_headers, page.url, policy, is_image=True)
        sigs += directives.meta_signals(head, page.url, policy, is_image=True)
        image_signal = _reserving(decide(page.url, sigs, policy))
        # Issue 15 item 0: the audio and video by the page's directives as they bind the page
        # itself, noimageai left out (it binds images only, even where it reserves the page).
        av_policy = self._av_policy
        av_sigs = directives.header_signals(signal_headers, page.url, av_policy)
        av_sigs += directives.meta_signals(head, page.url, av_policy)
        av_signal = _reserving(decide(page.url, av_sigs, av_policy))
        if image_signal is None and av_signal is None:
            return None
        source = page.reader(limit)
        body = source.read_until(limit)
        if source.state[0] is State.UNDECODABLE and not body:
            return None
        content_type = page.content_type or _last_header(page.headers, "content-type")
        encoding = wide_charset(content_type)
        if av_signal is None:
            assert image_signal is not None
            urls = tuple(embedded_images(body, page.url, encoding=encoding))
            return MediaReservation(page.url, image_signal, urls)
        images, av = embedded_media(body, page.url, encoding=encoding)
        if image_signal is None:
            return MediaReservation(page.url, av_signal, (), tuple(av), av_signal)
        return MediaReservation(page.url, image_signal, tuple(images), tuple(av), av_signal)


def _reserving(decision: Decision) -> Signal | None:
    """The signal by which ``decision`` reserves, or None when it does not reserve."""
    if decision.blocked and decision.verdict is Verdict.RESERVE:
        return decision.decided_by
    return None


# Formats imagemeta reads: JPEG, PNG and WebP are walked for a C2PA manifest (APP11, caBX, C2PA
# chunk); GIF and TIFF are not searched for one (a search of the whole body costs ~1 ms per MB).
_WALKED = frozenset({"jpeg", "png", "webp", "gif", "tiff"})


def _may_be_image(page: Page, url: str, content_type: str | None) -> bool:
    """An image by its Content-Type or extension, or an untyped body (the magic bytes then decide)."""
    if page.status is not None and not 200 <= page.status < 300:
        return False
    if content_type is None or content_type.split(";", 1)[0].strip().lower() == "application/octet-stream":
        return True
    if content_type.strip().lower().startswith(("audio/", "video/")):
        return c2pameta.available()  # only the C2PA library reads their manifests
    return is_image(url, content_type)


def _is_signal_header(name: str) -> bool:
    # has_signal_header's test, for one name (no generator per header line).
    return name.strip().lower() in SIGNAL_HEADER_NAMES


# Header name -> _is_signal_header(name): names repeat from page to page.  Bounded.
_SIGNAL_NAMES: dict[str, bool] = {}
_SIGNAL_NAMES_MAX = 1024


def _signal_pairs(headers: Headers) -> list[tuple[str, str]]:
    """The field lines that can carry a signal (:func:`_is_signal_header`), in order."""
    out: list[tuple[str, str]] = []
    known = _SIGNAL_NAMES
    for pair in headers:
        hit = known.get(pair[0])
        if hit is None:
            hit = _is_signal_header(pair[0])
            if len(known) >= _SIGNAL_NAMES_MAX:
                known.clear()
            known[pair[0]] = hit
        if hit:
            out.append(pair)
    return out


def _last_header(headers: Headers, lname: str) -> str | None:
    """The last field line's value, as Scrapy's ``Headers.get`` reads it."""
    value: str | None = None
    for k, v in headers:
        if k.lower() == lname:
            value = v
    return value


# Audio and video by their path's extension, when no Content-Type says (issue 15 item 0).
_AV_EXTS = (
    *(".mp3", ".m4a", ".aac", ".oga", ".ogg", ".opus", ".wav", ".flac", ".weba"),
    *(".mp4", ".m4v", ".webm", ".ogv", ".mov", ".mkv", ".avi", ".m3u8", ".mpd"),
)


def is_media(url: str, content_type: str | None) -> bool:
    """Is a response media a page may embed (judged by its embedding page): an image, audio or video?"""
    if content_type:
        ctype = content_type.strip().lower()
        if ctype.startswith(("audio/", "video/")):
            return True
    elif url.split("?", 1)[0].split("#", 1)[0].lower().endswith(_AV_EXTS):
        return True
    return is_image(url, content_type)
