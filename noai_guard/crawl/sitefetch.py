"""Internal: an origin's site files (robots.txt, tdmrep.json, ai.txt), fetched through Scrapy's engine and cached.

Internal to :mod:`noai_guard.crawl`.  Each file is fetched once per origin
and kept for ``NOAI_GUARD_CACHE_TTL`` (RFC 9309 §2.4), an unreachable one
only for ``NOAI_GUARD_RETRY_AFTER`` (§2.3.1.4: never cached as allow);
concurrent callers wait for the one fetch in flight.  An origin's files are
requested together, in a download slot of their own (see
:mod:`noai_guard.crawl.politeness`), not one after the other in the page's slot
where each paid ``DOWNLOAD_DELAY``.  Redirects are followed
here, up to five hops, to http(s) targets only (§2.3.1.2); at most 500 KiB
is downloaded and parsed (§2.5); a body cut short (Scrapy's ``dataloss``)
is unreachable.  Scrapy's own robots.txt request (``ROBOTSTXT_OBEY``) is
answered from this fetch, so the file is downloaded once.  What a fetch
outcome means is :mod:`noai_guard.sitefiles`' (pure) business.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.python import global_object_name
from twisted.internet.defer import Deferred
from w3lib.url import safe_url_string

from ..engine import SiteFiles
from ..sitefiles import (
    MAX_REDIRECTS,
    SIZE_LIMIT,
    Kind,
    SiteFile,
    file_url,
    from_fetch,
    origin_of,
    redirect_refused,
)
from ..sitefiles import status_class as _status_class
from .keys import META_BYPASS, META_FILE
from .page import first_header
from .politeness import FileSlots
from .shared import FileOutcome, sleep

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from .shared import SharedState

logger = logging.getLogger(__name__)

__all__ = ["SiteFetcher"]

# Site-file requests jump the queue, as Scrapy's robots.txt request does.
DOWNLOAD_PRIORITY = 1000
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Bounds decompression of a site file whose raw download is cut at SIZE_LIMIT.
_FILE_MAXSIZE = 16 * 1024 * 1024
# Scrapy-side robots.txt bodies kept for RobotsTxtMiddleware to reuse.
_REUSE_SIZE = 1024
#: The download slot of a host's site files: ``noai_guard:`` + the host (Scrapy's page slot key).


def _state(value: SiteFile) -> str:
    return str(getattr(value, "state", "ok"))


@dataclass
class _Entry:
    """A cached site file, or a fetch in flight (``waiters`` not None)."""

    value: SiteFile | None = None
    expires: float = 0.0
    waiters: list[Deferred[SiteFile]] | None = None
    status: int | None = None  # the last hop's HTTP status, for the provenance


class SiteFetcher:
    """The per-crawler site-file cache (LRU, ``cache_size`` origins) and its fetches."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        kinds: tuple[Kind, ...],
        ttl: float,
        retry_after: float,
        cache_size: int,
        reuse_robots: bool,
        fetched: Callable[[str, Kind, str], None],
        blocks_if_unreachable: frozenset[Kind] = frozenset(),
    ) -> None:
        """``fetched(origin, kind, status class)`` is told each fetch's outcome (the summary counts).

        ``blocks_if_unreachable``: the kinds whose unreachable file blocks the origin under the
        policy (robots.txt by default, RFC 9309 §2.3.1.4): one WARNING per origin says so.
        """
        self.crawler = crawler
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.kinds = kinds
        self.ttl = ttl
        self.retry_after = retry_after
        self.reuse_robots = reuse_robots
        self._fetched = fetched
        self._cache: OrderedDict[tuple[str, Kind], _Entry] = OrderedDict()
        self._cache_max = cache_size * max(1, len(kinds))
        self._robots_bodies: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self._inflight: set[Deferred[None]] = set()
        # bytes_received is sent for every chunk of every download, and each dispatch to
        # a receiver costs far more than the handler's own check; the handler only acts
        # on site-file requests, so it is connected only while one may be downloading
        # (see _watch_bytes / _unwatch_bytes), not for the whole crawl.
        self._bytes_watched = False
        self._bytes_always = False  # set once a Scrapy robots.txt request is marked as a site file
        self.blocks_if_unreachable = blocks_if_unreachable
        # (origin, kind) already warned about as unreachable; forgotten once it is fetched again.
        self._warned: OrderedDict[tuple[str, Kind], None] = OrderedDict()
        #: The files' own download slots and the wait of an origin's first page after them.
        self.slots = FileSlots(crawler, len(kinds), cache_size)
        #: A distributed crawl's shared state (issue 17), set by the guard; None: this process's own.
        self.shared: SharedState | None = None

    # -- the size cap (RFC 9309 §2.5) --------------------------------------------

    def _watch_bytes(self) -> None:
        if not self._bytes_watched and self.kinds:
            self.crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)
            self._bytes_watched = True

    def _unwatch_bytes(self) -> None:
        # Only when no site-file fetch is in flight: each fetch's downloads (all its
        # redirect hops) end before its Deferred fires and leaves ``_inflight``.
        if self._bytes_watched and not self._inflight and not self._bytes_always:
            self.crawler.signals.disconnect(self.bytes_received, signal=signals.bytes_received)
            self._bytes_watched = False

    def bytes_received(self, data: bytes, request: Request, spider: Spider | None = None) -> None:
        # RFC 9309 §2.5: at least 500 KiB is parsed; the rest is not downloaded.
        n = request.meta.get(META_FILE)
        if n is None:
            return
        n += len(data)
        request.meta[META_FILE] = n
        if n > SIZE_LIMIT:
            raise StopDownload(fail=False)

    # -- the cache -----------------------------------------------------------------

    def cached_files(self, origin: str) -> dict[Kind, SiteFile] | None:
        """The origin's site files if all are cached and fresh (the fast path), else None."""
        now = time.monotonic()
        out: dict[Kind, SiteFile] = {}
        for kind in self.kinds:
            e = self._cache.get((origin, kind))
            if e is None or e.waiters is not None or e.expires <= now or e.value is None:
                return None
            out[kind] = e.value
        for kind in self.kinds:
            self._cache.move_to_end((origin, kind))
        return out

    def expires(self, origin: str, files: Mapping[Kind, SiteFile]) -> float:
        """Until when ``files`` are the origin's cached files (0: one was evicted or is refetching)."""
        expires = float("inf")
        for kind in self.kinds:
            e = self._cache.get((origin, kind))
            if e is None or e.waiters is not None or e.value is not files.get(kind):
                return 0.0
            expires = min(expires, e.expires)
        return expires

    def site_files(self, origin: str, files: Mapping[Kind, SiteFile]) -> SiteFiles:
        """``files`` as the engine's value object, with each file's provenance (URL, status)."""
        provenance: dict[str, Any] = {}
        for kind in files:
            e = self._cache.get((origin, kind))
            provenance[kind] = {
                "source": "fetch",
                "url": file_url(origin, kind),
                "status": None if e is None else e.status,
            }
        return SiteFiles.from_kinds(origin, files, provenance)

    async def fetch_files(self, origin: str, kinds: tuple[Kind, ...] | None = None) -> dict[Kind, SiteFile]:
        """The origin's site files; concurrent callers wait for one fetch per file."""
        now = time.monotonic()
        out: dict[Kind, SiteFile] = {}
        waiting: list[tuple[Kind, Deferred[SiteFile]]] = []
        busy = any(
            (e := self._cache.get((origin, k))) is not None and e.waiters is not None for k in self.kinds
        )
        started = False
        for kind in self.kinds if kinds is None else kinds:
            key = (origin, kind)
            e = self._cache.get(key)
            if e is not None and e.waiters is None and e.value is not None and e.expires > now:
                self._cache.move_to_end(key)
                out[kind] = e.value
                continue
            if e is None or e.waiters is None:
                # Missing, or older than NOAI_GUARD_CACHE_TTL (RFC 9309 §2.4) or,
                # if unreachable, than NOAI_GUARD_RETRY_AFTER: fetch (again).
                e = self._start_fetch(origin, kind)
                started = True
            assert e.waiters is not None
            w: Deferred[SiteFile] = Deferred()
            e.waiters.append(w)
            waiting.append((kind, w))
        if started and not busy:  # a new visit of the origin: its files, all requested now
            self.slots.visited(origin, now)
        for kind, w in waiting:
            out[kind] = await maybe_deferred_to_future(w)
        return out

    async def fetch_licence(self, url: str) -> tuple[SiteFile, float]:
        """The RSL licence at ``url`` (a robots.txt ``License:`` URL) and until when it is cached.

        Fetched like the other site files: once per URL (concurrent callers wait for
        the one fetch), bounded size, kept for ``NOAI_GUARD_CACHE_TTL``; an unreachable
        licence only for ``NOAI_GUARD_RETRY_AFTER`` (its signal is ``unknown``).
        """
        key: tuple[str, Kind] = (url, "rsl")
        e = self._cache.get(key)
        if e is None or (e.waiters is None and e.expires <= time.monotonic()):
            e = self._start_fetch(url, "rsl", url)
        if e.waiters is None and e.value is not None:
            self._cache.move_to_end(key)
            return e.value, e.expires
        assert e.waiters is not None
        w: Deferred[SiteFile] = Deferred()
        e.waiters.append(w)
        value = await maybe_deferred_to_future(w)
        return value, e.expires

    def _start_fetch(self, origin: str, kind: Kind, url: str | None = None) -> _Entry:
        key = (origin, kind)
        e = _Entry(waiters=[])
        self._cache[key] = e
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_max:
            self._cache.popitem(last=False)  # an evicted fetch in flight still fires its waiters
        self._watch_bytes()  # before the fetch's first request is scheduled
        dfd: Deferred[None] = deferred_from_coro(self._fetch(origin, kind, e, url))
        self._inflight.add(dfd)
        dfd.addBoth(self._fetch_done, dfd)
        return e

    def _fetch_done(self, _: object, dfd: Deferred[None]) -> None:
        self._inflight.discard(dfd)
        self._unwatch_bytes()

    async def _fetch(self, origin: str, kind: Kind, entry: _Entry, url: str | None = None) -> None:
        url = url or file_url(origin, kind)
        here = True  # fetched by this process (not read from the shared state)
        left: float | None = None  # seconds the shared value has left
        try:
            got = (
                await _via_shared(self, origin, kind, url)
                if self.shared is not None and kind != "rsl"
                else None
            )
            if got is None:
                outcome = await self._download(kind, url)
                value = self._value(kind, url, outcome)
            else:
                outcome, value, left, here = got
            status = outcome.status
        except Exception as exc:  # a bug must not leave waiters hanging: unknown, never allow
            logger.exception(
                "noai_guard: error fetching %(url)s",
                {"url": url},
                extra={"spider": self.crawler.spider},
            )
            value, status = from_fetch(kind, url, status=None, detail=global_object_name(type(exc))), None
        state = _state(value)
        # RFC 9309 §2.3.1.4: unreachable is never cached as allow; it is kept
        # only until the back-off ends, then fetched again.
        ttl = self.retry_after if state == "unreachable" else self.ttl
        if left is not None:  # read from the shared state: its time left (the crawl's back-off)
            ttl = min(ttl, left)
        entry.value = value
        entry.status = status
        entry.expires = time.monotonic() + ttl
        waiters, entry.waiters = entry.waiters or [], None
        if here:  # a file another worker fetched is counted in that worker's summary
            cls = (
                "3xx"
                if state != "ok" and status is not None and 300 <= status < 400
                else _status_class(status)
            )
            if state == "unreachable" and cls == "2xx":
                cls = "error"  # a 2xx body cut short (dataloss): a network error mid-body
            self._fetched(origin_of(url) if kind == "rsl" else origin, kind, cls)
        detail = getattr(value, "detail", "") or (f"HTTP {status}" if status is not None else "network error")
        key = (origin, kind)
        if state == "unreachable" and kind in self.blocks_if_unreachable:
            if key not in self._warned:
                self._warn_unreachable(origin, kind, url, detail)
            self._warned[key] = None
            self._warned.move_to_end(key)
            while len(self._warned) > self._cache_max:
                self._warned.popitem(last=False)
        else:
            self._warned.pop(key, None)  # reachable again: a later failure is warned about again
        logger.debug(
            "noai_guard: %(url)s is %(state)s (%(detail)s)",
            {"url": url, "state": state, "detail": detail},
            extra={"spider": self.crawler.spider},
        )
        for w in waiters:
            w.callback(value)

    def _warn_unreachable(self, origin: str, kind: Kind, url: str, detail: str) -> None:
        """Item 17: once per origin (until the file is fetched again): blocked, why, and until when."""
        retry = self.retry_after
        at = time.strftime("%H:%M:%S", time.localtime(time.time() + retry))
        logger.warning(
            "noai_guard: %(url)s is unreachable (%(detail)s): every request to %(origin)s is blocked "
            "(%(why)s) until it is fetched again, with the first request after %(retry)gs "
            "(NOAI_GUARD_RETRY_AFTER), i.e. after %(at)s; not repeated while it stays unreachable "
            "(stats: noai_guard/%(kind)s/*)",
            {
                "url": url,
                "detail": detail,
                "origin": origin,
                "why": "RFC 9309 §2.3.1.4: complete disallow"
                if kind == "robots"
                else "its signal is unknown, resolved as reserve by NOAI_GUARD_UNKNOWN",
                "retry": retry,
                "at": at,
                "kind": kind,
            },
            extra={"spider": self.crawler.spider},
        )

    # -- one fetch -----------------------------------------------------------------

    @staticmethod
    def _file_request(url: str, slot: str | None = None) -> Request:
        meta: dict[str, Any] = {"download_slot": slot, "autothrottle_dont_adjust_delay": True} if slot else {}
        return Request(
            url,
            priority=DOWNLOAD_PRIORITY,
            callback=NO_CALLBACK,
            dont_filter=True,
            meta={
                **meta,
                META_FILE: 0,
                META_BYPASS: True,
                "dont_obey_robotstxt": True,
                "handle_httpstatus_all": True,
                "dont_redirect": True,  # followed here, up to 5 hops (RFC 9309 §2.3.1.2)
                "dont_retry": True,  # unreachable is retried after NOAI_GUARD_RETRY_AFTER instead
                "dont_cache": True,  # always fresh, never from HTTPCACHE
                "allow_offsite": True,  # a redirect may cross hosts
                "download_maxsize": _FILE_MAXSIZE,  # raw bytes stop at SIZE_LIMIT; bounds decoding
                "download_warnsize": 0,
            },
        )

    def _value(self, kind: Kind, url: str, outcome: FileOutcome) -> SiteFile:
        """The file a fetch outcome (this worker's, or another's read from the shared state) means."""
        if outcome.how == "unavailable":
            return self._unavailable(kind, url, outcome.detail, outcome.status)
        value = from_fetch(
            kind, url, status=outcome.status, body=outcome.body, detail=outcome.detail, cut=outcome.cut
        )
        status = outcome.status
        if self.reuse_robots and kind == "robots" and status is not None and _state(value) != "unreachable":
            origin = origin_of(url)
            self._robots_bodies[origin] = (status, outcome.body if 200 <= status < 300 else b"")
            self._robots_bodies.move_to_end(origin)
            while len(self._robots_bodies) > _REUSE_SIZE:
                self._robots_bodies.popitem(last=False)
        return value

    async def _download(self, kind: Kind, url: str) -> FileOutcome:
        """Fetch one site file through the engine, following redirects; map the outcome (RFC 9309 §2.3.1)."""
        engine = self.crawler.engine
        assert engine is not None
        target = url
        for hop in range(MAX_REDIRECTS + 1):
            self.stats.inc_value(f"noai_guard/{kind}/request_count")
            slot = self.slots.file_slot(target)
            try:
                request = self._file_request(target, slot)
                if hasattr(engine, "download_async"):  # Scrapy >= 2.14
                    response = await engine.download_async(request)
                else:  # pragma: no cover - Scrapy 2.13
                    response = await maybe_deferred_to_future(engine.download(request))
            except Exception as exc:  # noqa: BLE001 - any failed fetch is "unreachable"
                # §2.3.1.4: timeouts, DNS and connection errors mean unreachable.
                name = global_object_name(type(exc))
                self.stats.inc_value(f"noai_guard/{kind}/exception_count/{name}")
                return FileOutcome("fetch", None, detail=name, fetched=time.time())
            finally:
                self.slots.slot_done(slot)
            status = response.status
            self.stats.inc_value(f"noai_guard/{kind}/response_status_count/{status}")
            location = first_header(response, b"Location")
            if status in _REDIRECTS and location:
                if hop == MAX_REDIRECTS:
                    # §2.3.1.2: more than five redirects MAY be taken as unavailable.
                    return FileOutcome(
                        "unavailable", status, detail="more than 5 redirects", fetched=time.time()
                    )
                # §2.3.1.2: followed across hosts too; the rules apply to the original origin.
                target = safe_url_string(urljoin(response.url, location))
                refused = redirect_refused(target)
                if refused is not None:
                    # Only to http(s), as Scrapy's RedirectMiddleware: a file:, data:, ftp: ...
                    # target is never read; unavailable (as §2.3.1.2), the target recorded.
                    self.stats.inc_value(f"noai_guard/{kind}/redirect_refused")
                    return FileOutcome("unavailable", status, detail=refused, fetched=time.time())
                continue
            body = response.body[:SIZE_LIMIT]  # §2.5: the first 500 KiB
            # DOWNLOAD_FAIL_ON_DATALOSS = False hands over a body cut short (a reset, an early
            # close, a missing last chunk) flagged "dataloss": unreachable, not parsed (§2.3.1.4).
            cut = "dataloss" in response.flags
            if cut:
                self.stats.inc_value(f"noai_guard/{kind}/dataloss")
            return FileOutcome("fetch", status, body=body, cut=cut, fetched=time.time())
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _unavailable(kind: Kind, url: str, detail: str, status: int | None) -> SiteFile:
        if kind == "rsl":
            from ..rsl import RslFile

            return RslFile.unavailable(url, detail)
        if kind == "tdmrep":
            from ..tdmrep import TdmrepFile

            return TdmrepFile.unavailable(url, detail)
        from ..robots import RobotsTxt

        return RobotsTxt.unavailable(url, detail, status)

    # -- Scrapy's own robots.txt request -------------------------------------------

    async def serve_scrapy_robots(self, request: Request) -> Response | None:
        """Answer Scrapy's own robots.txt request from noai_guard's fetch (one download per origin)."""
        origin = origin_of(request.url)
        files = await self.fetch_files(origin, ("robots",))
        hit = self._robots_bodies.get(origin)
        request.meta[META_FILE] = 0  # not a page: the response half lets it pass
        request.meta["dont_cache"] = True
        if hit is None:
            if _state(files["robots"]) == "unreachable":
                # Scrapy would allow all; noai_guard has already blocked the origin (§2.3.1.4).
                raise IgnoreRequest(f"robots.txt unreachable (noai_guard): {origin}")
            # Scrapy downloads this request itself, marked as a site file: keep the size
            # cap (bytes_received) connected from now on (rare: the body was not kept).
            self._bytes_always = True
            self._watch_bytes()
            return None  # not kept: let Scrapy fetch it
        self.stats.inc_value("noai_guard/robots/reused")
        status, body = hit
        return Response(
            url=request.url,
            status=status,
            body=body,
            headers={"Content-Type": "text/plain"},
            request=request,
            flags=["noai_guard"],
        )


# -- issue 17: the site files of a distributed crawl, fetched by one worker for all ----------


async def _via_shared(
    self: SiteFetcher, origin: str, kind: Kind, url: str
) -> tuple[FileOutcome, SiteFile, float | None, bool] | None:
    """Issue 17: the file from the crawl's shared state, fetched by one worker for all.

    Returns (outcome, file, seconds left or None, fetched by this worker), or None when
    the shared state failed (the caller fetches it itself: never an allow for want of Redis).
    A worker that finds the file's lock taken polls for the result (``sleep``: the
    reactor runs meanwhile); a lock left by a dead worker expires (``lock_timeout``).
    """
    shared = self.shared
    assert shared is not None
    delay, waited = 0.005, False
    while shared.ok:
        got = shared.file_get(origin, kind)
        if got is None and shared.ok:
            token = shared.file_lock(origin, kind)
            if token is not None:
                got = shared.file_get(origin, kind)  # stored between the read and the lock?
                if got is None:
                    return await _fetch_for_all(self, origin, kind, url, token)
                shared.file_unlock(origin, kind, token)
        if got is not None:
            outcome, left = got
            self.stats.inc_value("noai_guard/shared_state/files_read")
            return outcome, self._value(kind, url, outcome), left, False
        if not shared.ok:
            break
        if not waited:
            waited = True
            self.stats.inc_value("noai_guard/shared_state/file_waits")
        await sleep(delay)
        delay = min(delay * 2, 0.05)  # a GET every 50 ms at most: cheap, and the wait ends soon
    return None


async def _fetch_for_all(
    self: SiteFetcher, origin: str, kind: Kind, url: str, token: str
) -> tuple[FileOutcome, SiteFile, float | None, bool]:
    """Fetch the file holding its lock; share the outcome (unreachable: for the back-off only)."""
    shared = self.shared
    assert shared is not None
    try:
        outcome = await self._download(kind, url)
    except BaseException:
        shared.file_unlock(origin, kind, token)
        raise
    value = self._value(kind, url, outcome)
    # RFC 9309 §2.3.1.4: an unreachable file is shared as unreachable (never as allow),
    # for NOAI_GUARD_RETRY_AFTER: the crawl's one back-off.
    ttl = self.retry_after if _state(value) == "unreachable" else self.ttl
    shared.file_put(origin, kind, outcome, ttl, token)
    return outcome, value, None, True
