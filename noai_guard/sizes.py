"""Internal: content sizes per origin: the ``sizes`` object of a run's summary record (crawl and audit).

Issue 18 item 1: so that domains can be ranked by the size of the content
kept (the AI Office template's "most relevant domain names", by size of
content scraped), each run's summary record carries, per origin, the pages
and the bytes that were allowed and kept.  The object is bounded: the
:data:`SIZES_TOP` origins with the most bytes are listed, every further
origin is added to one ``other`` total (the count of such origins, their
pages and bytes), and ``total`` covers all of them::

    "sizes": {
      "measure": "...", "unit": "bytes", "limit": 10000,
      "origins": {"https://a.example": {"pages": 3, "bytes": 5120}, ...},
      "other": {"origins": 0, "pages": 0, "bytes": 0},
      "total": {"origins": 1, "pages": 3, "bytes": 5120},
      "content_types": {"text/html": {"pages": 3, "bytes": 5120}}
    }

``content_types``: the same pages and bytes by media type (the Content-Type
field's type/subtype, lower-cased; ``(none)`` without one), at most
:data:`MAX_TYPES` names, the rest under ``(other)``.

Pure: no I/O.  A trail written before this field has no ``sizes``: the
report says "not recorded" for its runs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

__all__ = ["MAX_TYPES", "MEASURE_AUDIT", "MEASURE_CRAWL", "SIZES_TOP", "add_type", "media_type", "sizes_section"]

#: Origins listed by name in a run's ``sizes`` (most bytes first); the rest are one ``other`` total.
SIZES_TOP = 10_000

#: What a crawl's ``sizes`` count.
MEASURE_CRAWL = (
    "response body bytes as Scrapy hands them to the spider (content coding undone), "
    "of the pages allowed and passed on"
)
#: What an audit's ``sizes`` count.
MEASURE_AUDIT = (
    "payload bytes of the WARC response records judged allowed (or unknown and kept), as stored "
    "after the HTTP headers (a content coding is not undone); URL-list inputs carry no body and "
    "are not counted"
)


#: Media types named in ``content_types``; further ones are counted under ``(other)``.
MAX_TYPES = 64
OTHER_TYPES = "(other)"


def media_type(value: str | bytes | None) -> str:
    """A Content-Type field value as its lower-cased type/subtype (``(none)`` when absent)."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not value:
        return "(none)"
    t = value.split(";", 1)[0].strip().lower()
    return t[:100] if t else "(none)"


def add_type(types: dict[str, list[int]], ctype: str, pages: int, size: int) -> None:
    """Add pages and bytes under ``ctype`` (bounded: :data:`MAX_TYPES` names, then ``(other)``)."""
    row = types.get(ctype)
    if row is None:
        if len(types) >= MAX_TYPES:
            ctype = OTHER_TYPES
            row = types.get(ctype)
        if row is None:
            row = types[ctype] = [0, 0]
    row[0] += pages
    row[1] += size


def sizes_section(
    rows: Iterable[tuple[str, int, int]],
    *,
    measure: str,
    limit: int = SIZES_TOP,
    other: tuple[int, int] = (0, 0),
    types: dict[str, list[int]] | None = None,
) -> dict[str, Any]:
    """The ``sizes`` object from ``(origin, pages, bytes)`` rows (one per origin).

    The ``limit`` origins with the most bytes (ties: more pages, then the
    origin's name) are listed; the rest go into ``other``.  ``other``: pages
    and bytes already pooled under no origin's name (a summary's overflow row).
    """
    rows = [r for r in rows if r[1] or r[2]]
    top = heapq.nsmallest(max(limit, 0), rows, key=lambda r: (-r[2], -r[1], r[0]))
    listed = {r[0] for r in top}
    rest = [r for r in rows if r[0] not in listed]
    other_pages = other[0] + sum(r[1] for r in rest)
    other_bytes = other[1] + sum(r[2] for r in rest)
    return {
        "measure": measure,
        "unit": "bytes",
        "limit": limit,
        "origins": {o: {"pages": p, "bytes": b} for o, p, b in top},
        "other": {"origins": len(rest), "pages": other_pages, "bytes": other_bytes},
        "total": {
            "origins": len(rows),
            "pages": sum(r[1] for r in top) + other_pages,
            "bytes": sum(r[2] for r in top) + other_bytes,
        },
        "content_types": {
            t: {"pages": p, "bytes": b}
            for t, (p, b) in sorted((types or {}).items(), key=lambda kv: (-kv[1][1], kv[0]))
            if p or b
        },
    }
