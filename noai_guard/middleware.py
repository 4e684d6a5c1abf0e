"""The Scrapy components' public import path, kept stable: the code lives in :mod:`noai_guard.crawl`.

``DOWNLOADER_MIDDLEWARES = {"noai_guard.middleware.NoAIGuardMiddleware": 90,
"noai_guard.middleware.NoAIGuardResponseMiddleware": 950}`` (or the add-on)
installs the two components; :data:`META_BYPASS` and :data:`META_DECISION`
are the request meta keys a project reads or sets.  ``SPIDER_MIDDLEWARES =
{"noai_guard.middleware.NoAIGuardProvenanceMiddleware": 10}`` (or the add-on)
installs the item provenance stamp (``NOAI_GUARD_ITEM_PROVENANCE``).
"""

from __future__ import annotations

from .content import decode
from .crawl.components import NoAIGuardMiddleware, NoAIGuardResponseMiddleware
from .crawl.keys import (
    AUDIT_FAILED,
    META_BYPASS,
    META_DECISION,
    PROVENANCE_PRIORITY,
    REQUEST_PRIORITY,
    RESPONSE_PRIORITY,
)
from .crawl.provenance import NoAIGuardProvenanceMiddleware


def decode_prefix(body: bytes, content_encoding: str | None, limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of ``body`` decoded, and whether that is all of it (:func:`content.decode`).

    Raises ``ValueError`` for an unknown or corrupt coding.  Kept for callers
    of this module; the crawl itself reads bodies through :mod:`noai_guard.engine`.
    """
    res = decode(body, content_encoding, limit)
    if not res.decodable:
        raise ValueError(f"cannot decode Content-Encoding {content_encoding!r}: {res.detail}")
    return res.body, res.whole


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The first ``limit`` bytes of ``body`` decoded (see :func:`decode_prefix`)."""
    return decode_prefix(body, content_encoding, limit)[0]


__all__ = [
    "AUDIT_FAILED",
    "META_BYPASS",
    "META_DECISION",
    "PROVENANCE_PRIORITY",
    "REQUEST_PRIORITY",
    "RESPONSE_PRIORITY",
    "NoAIGuardMiddleware",
    "NoAIGuardProvenanceMiddleware",
    "NoAIGuardResponseMiddleware",
    "decode_body",
    "decode_prefix",
]
