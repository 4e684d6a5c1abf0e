"""Internal: a Scrapy response as the engine's :class:`~noai_guard.engine.Page`, and the per-URL helpers.

Internal to :mod:`noai_guard.crawl`.  Everything here runs once per page, so
each helper reads Scrapy's structures the cheap way (see the fast-path
equivalence tests in ``tests/test_fast_paths.py``).
"""

from __future__ import annotations

import logging

from scrapy.http import Headers, Response

from ..engine import Page
from ..evaluate import SIGNAL_HEADER_NAMES
from ..sitefiles import origin_of

__all__ = ["emits", "first_header", "header_pairs", "origin", "page_of", "signal_headers", "url_key"]


def url_key(url: str) -> str:
    """The URL without its fragment: the key of a remembered embedded image."""
    return url.split("#", 1)[0]


def header_pairs(response: Response) -> list[tuple[str, str]]:
    """Every header field line of ``response`` as a ``(name, value)`` pair (latin-1, as received)."""
    hdrs = response.headers
    # Scrapy's Headers.items() looks each (already normalised) key up again through
    # getlist(); the dict holds the same lists.
    items = dict.items(hdrs) if type(hdrs) is Headers else hdrs.items()
    out: list[tuple[str, str]] = []
    for name, values in items:
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for v in values:
            out.append((key, v.decode("latin-1") if isinstance(v, bytes) else str(v)))
    return out


# Header name (as Scrapy stores it) -> whether it can carry a signal; header names repeat
# across responses, so each distinct name is decoded and compared once.  Bounded.
_HEADER_KINDS: dict[bytes | str, bool] = {}
_HEADER_KINDS_MAX = 1024


def signal_headers(response: Response) -> list[tuple[str, str]]:
    """The response headers as (name, value) pairs if any can carry a signal, else ``[]``.

    Fast path: most responses carry none of the signal headers, and then every
    ``header_signals`` function returns ``[]`` whatever else the headers hold,
    so the pairs need not be decoded at all.  The test is the one those
    functions apply to the decoded name, so it finds every header they would.
    """
    for name in response.headers:
        hit = _HEADER_KINDS.get(name)
        if hit is None:
            key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
            hit = key.strip().lower() in SIGNAL_HEADER_NAMES
            if len(_HEADER_KINDS) >= _HEADER_KINDS_MAX:
                _HEADER_KINDS.clear()
            _HEADER_KINDS[name] = hit
        if hit:
            return header_pairs(response)
    return []


def _values(response: Response, name: bytes) -> list[bytes] | None:
    """The field values of header ``name``, or ``None`` when it is absent.

    ``name`` is title-cased (``b"Content-Type"``), as Scrapy's Headers keys its dict.
    """
    hdrs = response.headers
    if type(hdrs) is Headers:
        # Scrapy's Headers is a dict keyed by the title-cased name; read it directly
        # (get() would normalise the key and build a default list per call).
        values: list[bytes] | None = dict.get(hdrs, name)
        return values or None
    got = hdrs.getlist(name)
    return list(got) if got else None


def first_header(response: Response, name: bytes) -> str | None:
    """``response.headers.get(name)`` decoded: the LAST field value, as Scrapy's ``get`` returns it.

    ``name`` is title-cased (``b"Content-Type"``).
    """
    values = _values(response, name)
    if not values:
        return None
    v = values[-1]
    return v.decode("latin-1") if isinstance(v, bytes) else str(v)


def page_of(url: str, response: Response) -> Page:
    """``response`` (for the request of ``url``) as the engine judges it.

    The body as received: the response component runs before Scrapy's
    ``HttpCompressionMiddleware`` (590), so the engine undoes every
    ``Content-Encoding`` field line (RFC 9110 §8.4), joined into one list.
    The Content-Type is the last field line's value, the one Scrapy reads.
    The response class is the one Scrapy built, unless a coding is undone:
    ``HttpCompressionMiddleware`` then rebuilds it from the decoded body, so
    the engine works it out from every header and the decoded prefix
    (:func:`~noai_guard.evaluate.scrapy_response_class`).  ``headers`` holds
    every field line when one can carry a signal or a coding is undone, else
    the Content-Type lines only (the fast path: nothing else is read).
    """
    hdrs = response.headers
    if type(hdrs) is Headers:  # _values and first_header, inline (once per page)
        ct_values: list[bytes] | None = dict.get(hdrs, b"Content-Type") or None
        codings: list[bytes] | None = dict.get(hdrs, b"Content-Encoding") or None
    else:
        ct_values = _values(response, b"Content-Type")
        codings = _values(response, b"Content-Encoding")
    content_type: str | None = None
    if ct_values:
        v = ct_values[-1]
        content_type = v.decode("latin-1") if isinstance(v, bytes) else str(v)
    response_class: type[Response] | None
    if codings is None:
        coding = None
        response_class = type(response)
        # A 401 / 402 / 403 is read whole: its challenge and Link headers are the evidence
        # of a login or licence asked (issue 15 item 5; noai_guard.access).
        headers = header_pairs(response) if 400 < response.status < 404 else signal_headers(response)
        if not headers and content_type is not None:
            headers = [("Content-Type", content_type)]
    else:
        coding = ", ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in codings)
        response_class = None
        headers = header_pairs(response)
    # DOWNLOAD_FAIL_ON_DATALOSS = False: a body cut short is flagged "dataloss"; its end
    # is not the page's end, so a head left open is unknown, never "no signal".
    cut = "dataloss" in response.flags
    # Every field, in order (url, status, headers, body, content_encoding, chunked,
    # content_type, response_class, cut, read): once per page, positionally.
    return Page(
        url, response.status, headers, response.body, coding, False, content_type, response_class, cut, None
    )


# The origin of a URL depends only on the URL up to the end of its authority:
# ``scheme://authority`` (urlsplit's netloc ends at the first "/", "?" or "#").
# Memoised by that prefix so that the URLs of one site share one urlsplit.
_ORIGINS: dict[str, str] = {}
_ORIGINS_MAX = 4096


def origin(url: str) -> str:
    """:func:`~noai_guard.sitefiles.origin_of`, memoised by the URL's ``scheme://authority``."""
    i = url.find("://")
    if i <= 0:
        return origin_of(url)
    j = url.find("/", i + 3)
    key = url if j < 0 else url[:j]
    if "?" in key or "#" in key:
        return origin_of(url)
    found = _ORIGINS.get(key)
    if found is None:
        found = origin_of(key)
        if len(_ORIGINS) >= _ORIGINS_MAX:
            _ORIGINS.clear()
        _ORIGINS[key] = found
    return found


def emits(log: logging.Logger, level: int) -> bool:
    """Would a record of ``level`` from ``log`` reach a handler that emits it?

    Scrapy leaves the root logger at NOTSET and filters by level in its handler,
    so ``isEnabledFor(DEBUG)`` is true in every crawl and each filtered debug call
    still builds a LogRecord; per-decision debug lines check this instead.
    """
    if not log.isEnabledFor(level):
        return False
    node: logging.Logger | None = log
    while node is not None:
        if any(h.level <= level for h in node.handlers):
            return True
        if not node.propagate:
            return False
        node = node.parent
    return logging.lastResort is not None and logging.lastResort.level <= level
