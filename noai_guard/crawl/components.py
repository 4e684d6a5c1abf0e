"""Internal: the two Scrapy downloader middlewares; both hand their work to the crawler's one :class:`Guard`.

- :class:`NoAIGuardMiddleware` (priority 90, after the offsite filter and
  before Scrapy's ``RobotsTxtMiddleware``): before the fetch, judges the
  request on the origin's robots.txt, ``/.well-known/tdmrep.json`` and
  ``/ai.txt`` (fetched once per origin through the engine) and skips reserved
  requests; answers Scrapy's own robots.txt request from that fetch.
- :class:`NoAIGuardResponseMiddleware` (priority 950): after the fetch, its
  ``process_response`` runs before ``HttpCacheMiddleware`` (900) stores the
  response and before anything else sees it; the engine reads the headers and
  the HTML head (decoding the body as Scrapy will, within a budget) and
  reserved responses are dropped.

Enable both with ``ADDONS = {"noai_guard.NoAIGuardAddon": 0}``.  Every skip,
drop or flag is written and flushed to the audit trail before the request is
dropped.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK

from .guard import Guard
from .keys import META_BYPASS, META_FILE

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from typing_extensions import Self

__all__ = ["NoAIGuardMiddleware", "NoAIGuardResponseMiddleware"]


def _is_http(request: Request) -> bool:
    url = request.url
    return url.startswith(("http://", "https://")) or url[:8].lower().startswith(("http://", "https://"))


def _is_scrapy_robots(request: Request) -> bool:
    # scrapy.downloadermiddlewares.robotstxt: NO_CALLBACK, dont_obey_robotstxt, /robots.txt.
    return (
        request.callback is NO_CALLBACK
        and bool(request.meta.get("dont_obey_robotstxt"))
        and urlsplit(request.url).path == "/robots.txt"
    )


class _Component:
    """Both middlewares: one shared :class:`Guard` per crawler."""

    def __init__(self, crawler: Crawler) -> None:
        self.guard = Guard.for_crawler(crawler)
        self.guard.components.add(type(self).__name__)
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)


class NoAIGuardMiddleware(_Component):
    """Before the fetch: skip requests the origin's site files reserve (priority 90)."""

    def process_request(
        self, request: Request, spider: Spider | None = None
    ) -> Response | Coroutine[Any, Any, Response | None] | None:
        # Synchronous unless a site file must be fetched first; Scrapy awaits a coroutine
        # returned from any hook.
        meta = request.meta
        if META_FILE in meta:
            return None
        guard = self.guard
        if guard.reuse_robots and _is_scrapy_robots(request):
            return guard.sites.serve_scrapy_robots(request)
        if meta.get(META_BYPASS):
            guard.stats.inc_value("noai_guard/bypassed")
            return None
        if not _is_http(request):  # data:, file:, s3:, ftp: carry no HTTP opt-outs
            return None
        return guard.before_fetch(request)


class NoAIGuardResponseMiddleware(_Component):
    """After the fetch: drop reserved responses before the HTTP cache or the spider sees them (priority 950)."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response | Coroutine[Any, Any, Response]:
        meta = request.meta
        if META_FILE in meta or meta.get(META_BYPASS) or not _is_http(request):
            return response
        return self.guard.after_fetch(request, response)
