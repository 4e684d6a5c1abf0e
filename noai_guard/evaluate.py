"""Glue: run every parser that has input and fold the signals into a decision.

Pure code.  The middleware, ``explain`` and the offline audit all call these
functions, so a URL gets the same decision wherever it is judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import aipref, directives, tdmrep
from .decision import Decision, Headers, Signal
from .htmlhead import Head, read_head
from .policy import Policy, decide

if TYPE_CHECKING:
    from .robots import RobotsTxt
    from .tdmrep import TdmrepFile

_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp", ".tif", ".tiff", ".svg", ".heic")


def is_image(url: str, content_type: str | None) -> bool:
    """An image response: by Content-Type, else by the path's extension."""
    if content_type:
        return content_type.strip().lower().startswith("image/")
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    return path.endswith(_IMAGE_EXTS)


def is_html(content_type: str | None, body: bytes) -> bool:
    """HTML by Content-Type, or by a sniff of the first bytes when it is missing."""
    if content_type:
        ct = content_type.strip().lower()
        return "html" in ct
    start = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<!--"))


def header_value(headers: Headers, name: str) -> str | None:
    """First value of a header, compared case-insensitively."""
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


# Raw-text elements and comments: a "<body" inside them does not start the body.
_RAW_OPENERS = (
    (b"<script", b"</script"),
    (b"<style", b"</style"),
    (b"<title", b"</title"),
    (b"<textarea", b"</textarea"),
    (b"<template", b"</template"),
    (b"<!--", b"-->"),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _lowered_head(body: bytes, budget: int) -> bytes | None:
    """The bytes before the body starts, lowercased; ``None`` if that can't be told cheaply.

    The cut is the first ``<body`` that is not inside a raw-text element or a
    comment.  A superset of the head is fine (the check below only looks for
    tokens); a cut too early is not, hence the raw-text check.
    """
    limit = min(len(body), budget)
    start = 0
    for _ in range(8):
        lower = body.find(b"<body", start, limit)
        # Search the upper-case spelling only up to the lower-case hit: a miss
        # over the whole page is slow, and most pages write <body>.
        upper = body.find(b"<BODY", start, lower if lower >= 0 else limit)
        cands = [i for i in (lower, upper) if i >= 0]
        if not cands:
            # No body start found: the whole document within the budget is head,
            # unless it runs past the budget (then the full reader says "incomplete").
            return body[:limit].lower() if len(body) <= budget else None
        cut = min(cands)
        low = body[:cut].lower()
        if not _open_raw(low):
            return low
        start = cut + 5
    return None


def _open_raw(low: bytes) -> bool:
    """Is a raw-text element or comment still open at the end of ``low``?

    That is ``low.rfind(opener) > low.rfind(closer)`` for some pair, computed
    with fewer passes: an opener that does not occur cannot be open, and the
    last opener is closed iff a closer starts after it (no closer can start at
    the opener's own position: they differ in their first two bytes).
    """
    for o, c in _RAW_OPENERS:
        last = low.rfind(o)
        if last >= 0 and low.find(c, last) < 0:
            return True
    return False


def scan_head(body: bytes, policy: Policy) -> Head:
    """The HTML head's metas, skipping the parse when no meta can carry a directive.

    A head in which none of the directive words (``policy.directives``), no
    ``tdm`` and no numeric character reference occurs cannot hold a meta that
    reserves anything, whatever its markup, so lxml is not needed.  Anything
    unusual (strict mode, UTF-16, NUL bytes, a head past the budget) takes the
    full reader.
    """
    if not policy.html_strict and body[:2] not in _UTF16_BOMS:
        low = _lowered_head(body, policy.html_budget)
        if low is not None and b"\x00" not in low and not any(t in low for t in _head_tokens(policy)):
            return Head((), True, len(low))
    return read_head(body, budget=policy.html_budget, strict=policy.html_strict)


_TOKENS: dict[tuple[str, ...], tuple[bytes, ...]] = {}


def _head_tokens(policy: Policy) -> tuple[bytes, ...]:
    key = tuple(sorted(policy.directives))
    toks = _TOKENS.get(key)
    if toks is None:
        words = {k.lower().encode("utf-8", "replace") for k in key}
        toks = _TOKENS[key] = (*sorted(words), b"tdm", b"&#")
    return toks


def site_signals(
    url: str,
    policy: Policy,
    *,
    robots: RobotsTxt | None = None,
    tdmrep_file: TdmrepFile | None = None,
    ai_txt: RobotsTxt | None = None,
) -> list[Signal]:
    """Signals known before the fetch: robots.txt, tdmrep.json and ai.txt of the origin."""
    from .robots import ai_txt_signals

    out: list[Signal] = []
    if robots is not None:
        out += robots.signals(url, policy)
    if tdmrep_file is not None:
        out += tdmrep_file.signals(url, policy)
    if ai_txt is not None:
        out += ai_txt_signals(ai_txt, url, policy)
    return out


def response_signals(
    url: str,
    policy: Policy,
    *,
    headers: Headers = (),
    body: bytes | None = None,
    content_type: str | None = None,
    head: Head | None = None,
) -> list[Signal]:
    """Signals known after the fetch: response headers and the HTML head's metas."""
    if content_type is None:
        content_type = header_value(headers, "Content-Type")
    image = is_image(url, content_type)
    out: list[Signal] = []
    if headers:
        out += directives.header_signals(headers, url, policy, is_image=image)
        out += tdmrep.header_signals(headers, url, policy)
        out += aipref.header_signals(headers, url, policy)
    if head is None and body and not image and is_html(content_type, body):
        head = scan_head(body, policy)
    # A complete head without metas yields no meta signal (both readers only look at
    # head.metas, plus an "unknown" for an incomplete head): skip them, the common case.
    if head is not None and (head.metas or not head.complete):
        out += directives.meta_signals(head, url, policy, is_image=image)
        out += tdmrep.meta_signals(head, url, policy)
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
    extra: list[Signal] | None = None,
) -> Decision:
    """Decide ``url`` for ``policy.purpose`` from whatever inputs are given.

    An input left as ``None`` was not checked and yields no signal; callers
    that want "absent" (a 404) pass ``RobotsTxt.unavailable(...)``.
    """
    sigs = site_signals(url, policy, robots=robots, tdmrep_file=tdmrep_file, ai_txt=ai_txt)
    sigs += response_signals(url, policy, headers=headers, body=body, content_type=content_type)
    if extra:
        sigs += extra
    return decide(url, sigs, policy)
