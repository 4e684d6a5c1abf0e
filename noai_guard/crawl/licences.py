"""Internal: RSL 1.0 licences in the crawl, fetched through Scrapy's engine as site files.

The licence a robots.txt ``License:`` record names is fetched with the
origin's files and judged before every fetch; one a page names (an HTTP
``Link: <...>; rel="license"; type="application/rsl+xml"`` or a
``<link rel="license" type="application/rsl+xml">`` in its head) is fetched
after the page and judged with it.  Either is fetched once per URL
(:meth:`~noai_guard.crawl.sitefetch.SiteFetcher.fetch_licence`: bounded size,
cached for ``NOAI_GUARD_CACHE_TTL``, unreachable kept only for
``NOAI_GUARD_RETRY_AFTER`` and judged ``unknown``).  What a licence says is
:mod:`noai_guard.rsl`'s (pure) business, applied by the engine's judge.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from .. import decision as d
from ..rsl import RslFile
from ..sitefiles import licence_url

if TYPE_CHECKING:
    from scrapy.http import Response

    from ..engine import Judge, Judgement, SiteFiles
    from .sitefetch import SiteFetcher

__all__ = ["Licences"]

# RSL licences a page may name that are fetched (Link headers and <link> elements), at most.
PAGE_LICENCES = 4


class Licences:
    """The site licence of an origin's files and the licences pages name, for one crawl."""

    def __init__(self, sites: SiteFetcher, judge: Judge, *, on: bool) -> None:
        self.sites = sites
        self.judge = judge
        self.on = on  # the policy reads the rsl signal

    async def with_site_licence(self, site: SiteFiles, expires: float) -> tuple[SiteFiles, float]:
        """``site`` with the licence its robots.txt names, and until when both are cached."""
        url = licence_url(site.robots, site.origin) if self.on else None
        if url is None:
            return site, expires
        rsl, until = await self.sites.fetch_licence(url)
        if not isinstance(rsl, RslFile):  # pragma: no cover - fetch_licence parses as "rsl"
            return site, expires
        provenance = {**site.provenance, "rsl": {"source": "fetch", "url": url}}
        return dataclasses.replace(site, rsl=rsl, provenance=provenance), min(expires, until)

    def named_by(self, url: str, response: Response, before: Judgement, judgement: Judgement) -> list[str]:
        """The licence URLs the page names, but the site licence already judged (at most PAGE_LICENCES)."""
        values = [
            v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in response.headers.getlist(b"Link")
        ]
        found = self.judge.page_licences(url, values, judgement.read, response.status)
        if not found:
            return found
        seen = {s.source for s in before.site if s.name == d.RSL}
        return [u for u in found if u not in seen][:PAGE_LICENCES]

    def after_page(
        self,
        url: str,
        response: Response,
        before: Judgement,
        judgement: Judgement,
        finish: Callable[[Judgement], Response],
    ) -> Response | Coroutine[Any, Any, Response]:
        """``finish(judgement)`` (the guard's end of the response half), after the licences the page
        names are fetched and judged with it: a coroutine then, else at once."""
        named = self.named_by(url, response, before, judgement)
        if not named:
            return finish(judgement)
        return self._then(url, judgement, named, finish)

    async def _then(
        self, url: str, judgement: Judgement, licences: list[str], finish: Callable[[Judgement], Response]
    ) -> Response:
        return finish(await self.judge_page(url, judgement, licences))

    async def judge_page(self, url: str, judgement: Judgement, licences: list[str]) -> Judgement:
        """``judgement`` with the signals of the licences the page names, each fetched once per URL."""
        files = []
        for lic in licences:
            rsl, _until = await self.sites.fetch_licence(lic)
            if isinstance(rsl, RslFile):
                files.append(rsl)
        return self.judge.with_licences(judgement, url, files)
