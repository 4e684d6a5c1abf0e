"""Internal: the Scrapy adapter: two downloader middlewares that hand every URL and response to the engine.

Module map (each small, by job; only :mod:`noai_guard.engine` decides):

- :mod:`~noai_guard.crawl.components`: ``NoAIGuardMiddleware`` (before the
  fetch) and ``NoAIGuardResponseMiddleware`` (after it), thin Scrapy hooks;
- :mod:`~noai_guard.crawl.guard`: the per-crawler shared state: settings,
  spider_opened / spider_closed, and the judging hooks that build the
  engine's ``SiteFiles`` / ``Page``, call the ``Judge`` and act on its answer;
- :mod:`~noai_guard.crawl.sitefetch`: site files fetched through Scrapy's
  engine, cached (TTL, LRU, back-off), redirects, the size cap, dataloss,
  Scrapy's own robots.txt request served from the same fetch;
- :mod:`~noai_guard.crawl.trail`: the audit trail writer, its start-up
  check and mid-crawl failure (close the spider), counters and stats, the
  per-origin summary;
- :mod:`~noai_guard.crawl.media`: the embedded-image reservations (LRU);
- :mod:`~noai_guard.crawl.page`: a Scrapy response as the engine's
  ``Page``, and per-URL helpers;
- :mod:`~noai_guard.crawl.keys`: meta keys, priorities, the close reason;
- :mod:`~noai_guard.crawl.provenance`: the spider middleware that stamps
  items with their response's decision (``NOAI_GUARD_ITEM_PROVENANCE``);
- :mod:`~noai_guard.crawl.command`: which Scrapy command runs the crawl.

The public names are re-exported by :mod:`noai_guard.middleware` (and the
components by :mod:`noai_guard`); everything else here is internal.
"""

from __future__ import annotations

from .components import NoAIGuardMiddleware, NoAIGuardResponseMiddleware
from .keys import (
    AUDIT_FAILED,
    META_BYPASS,
    META_DECISION,
    PROVENANCE_PRIORITY,
    REQUEST_PRIORITY,
    RESPONSE_PRIORITY,
)
from .provenance import NoAIGuardProvenanceMiddleware

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
]
