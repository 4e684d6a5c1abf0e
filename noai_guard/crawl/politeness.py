"""Internal: the politeness of site-file fetches: their own download slots, and the first page's wait.

Internal to :mod:`noai_guard.crawl`.  An origin's robots.txt, tdmrep.json and
ai.txt are requested together, in a download slot of their own
(:meth:`FileSlots.file_slot`), and count as one visit of the site: its first
page then waits the site's delay after them (:meth:`FileSlots.page_wait`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

__all__ = ["FILE_SLOT_PREFIX", "FileSlots"]

FILE_SLOT_PREFIX = "noai_guard:"


class FileSlots:
    """The site files' download slots and the visits they make, per crawler."""

    def __init__(self, crawler: Crawler, files: int, size: int) -> None:
        """``files``: how many site files an origin has (the slot's concurrency bound); ``size``: origins remembered."""
        self.crawler = crawler
        self.files = files
        # Per origin: when its latest bundle of site-file fetches started (see page_wait).
        self.visits: OrderedDict[str, float] = OrderedDict()
        self._visits_max = size
        # Site-file requests in flight per file slot (its DOWNLOAD_SLOTS entry lives as long).
        self._slot_users: dict[str, int] = {}
        self._own_slots: set[str] = set()

    def visited(self, origin: str, now: float) -> None:
        """The files of ``origin`` were all requested at ``now`` (monotonic): a new visit."""
        self.visits[origin] = now
        self.visits.move_to_end(origin)
        while len(self.visits) > self._visits_max:
            self.visits.popitem(last=False)

    def _downloader(self) -> Any:
        try:
            engine = self.crawler.engine
        except RuntimeError:  # Scrapy >= 2.19 before the crawl starts: no engine yet
            return None
        return getattr(engine, "downloader", None)

    def file_slot(self, url: str) -> str | None:
        """The download slot of the site files of ``url``'s host, set up on first use; None: Scrapy's.

        Scrapy's politeness settings bound the load on a site two ways: how many
        requests at once (the slot's concurrency: ``DOWNLOAD_SLOTS[host]``,
        ``CONCURRENT_REQUESTS_PER_IP`` or ``_PER_DOMAIN``) and the time between
        two requests (the slot's delay: ``DOWNLOAD_DELAY``, AutoThrottle).  In the
        page's slot the three files paid the delay one after the other before
        the first page could go (3 s with ``DOWNLOAD_DELAY = 1``).  They now go
        in a slot of their own, ``noai_guard:<host>``, with no delay and at most
        as many at once as the site's slot allows (and never more than the
        files: 3); :meth:`page_wait` then holds the origin's first page one delay
        after the files were requested, as a page waits after Scrapy's own
        robots.txt request.  So the files count as one visit: the same requests
        as before, never more at once than the site's concurrency, and the
        site's delay between that visit and the next page.  A ``DOWNLOAD_SLOTS``
        entry for the ``noai_guard:<host>`` key, if the project sets one, wins.
        """
        downloader = self._downloader()
        per_slot = getattr(downloader, "per_slot_settings", None)
        host = urlsplit(url).hostname
        if not isinstance(per_slot, dict) or not host:
            return None  # an engine without per-slot settings: Scrapy's own slot, as before
        key = FILE_SLOT_PREFIX + host
        users = self._slot_users.get(key, 0)
        if not users and key not in per_slot:
            site = per_slot.get(host, {})
            conc = site.get("concurrency") or (
                getattr(downloader, "ip_concurrency", 0)
                or getattr(downloader, "domain_concurrency", 0)
                or self.crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
            )
            # Read by Scrapy when it creates the slot (the first request); removed once no
            # site-file request of the host is in flight (_slot_done), so it holds no memory.
            per_slot[key] = {"concurrency": max(1, min(self.files or 1, int(conc))), "delay": 0.0}
            self._own_slots.add(key)
        self._slot_users[key] = users + 1
        return key

    def slot_done(self, key: str | None) -> None:
        """A site-file request of slot ``key`` is done; the slot's settings go with its last one."""
        if key is None:
            return
        users = self._slot_users.get(key, 0) - 1
        if users > 0:
            self._slot_users[key] = users
            return
        self._slot_users.pop(key, None)
        per_slot = getattr(self._downloader(), "per_slot_settings", None)
        if key in self._own_slots:  # ours, not the project's
            self._own_slots.discard(key)
            if isinstance(per_slot, dict):
                per_slot.pop(key, None)

    def page_delay(self, request: Request) -> float:
        """The delay of the download slot ``request`` will take (0 when Scrapy has none)."""
        downloader = self._downloader()
        if downloader is None:
            return 0.0
        try:
            key = downloader.get_slot_key(request)
            slot = downloader.slots.get(key)
            if slot is not None:
                return float(slot.delay)
            site = getattr(downloader, "per_slot_settings", {}).get(key, {})
            if "delay" in site:
                return float(site["delay"])
            # AutoThrottle sets the downloader's default delay (its start delay).
            return float(getattr(downloader, "_delay", self.crawler.settings.getfloat("DOWNLOAD_DELAY")))
        except (AttributeError, TypeError, ValueError):  # pragma: no cover - another downloader
            return 0.0

    def page_wait(self, origin: str, request: Request) -> float:
        """Seconds ``request`` (a page of ``origin``) waits so its slot's delay follows the files' visit."""
        started = self.visits.get(origin)
        if started is None:
            return 0.0
        left = started + self.page_delay(request) - time.monotonic()
        if left <= 0:
            del self.visits[origin]  # later pages of the origin are spaced by their slot alone
            return 0.0
        return left
