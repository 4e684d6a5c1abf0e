"""Internal: the state the workers of a distributed crawl share through Redis (issue 17).

Internal to :mod:`noai_guard.crawl`.  With ``NOAI_GUARD_SHARED_STATE_URL``
(extra ``noai-guard[redis]``) the workers of one crawl (several Scrapy
processes, usually on one scrapy-redis queue) share:

- the site-file cache: each file's fetch outcome (status, body, fetch time,
  the URL it was fetched from), kept for ``NOAI_GUARD_CACHE_TTL``, an
  unreachable one only for ``NOAI_GUARD_RETRY_AFTER`` (RFC 9309 §2.3.1.4: never
  kept as allow, and its back-off is the crawl's, not one per worker).  One
  worker fetches an origin's file under a lock with a timeout; the others poll
  for its result (``sitefetch._via_shared``) without blocking the
  reactor;
- the media reserved by the pages that embed them (issue 4 item 4), with the
  same TTL and a bound (``NOAI_GUARD_IMAGE_PROVENANCE_SIZE`` URLs);
- the crawl id (when ``NOAI_GUARD_CRAWL_ID`` is unset): the first worker's.

Every call is one round trip with short socket timeouts and no retry, made on
the reactor thread: on loopback a call costs ~0.1 ms (see
``benchmarks/distributed_crawl.py``), and a dead server answers "connection
refused" at once.  The first failure (Redis gone, a timeout, a reply that
cannot be read) switches the worker to its own state for the rest of the
crawl: one WARNING, stats ``noai_guard/shared_state/*``.  Nothing is ever
allowed for want of Redis: the worker's own cache and media store are kept
up to date all along (written through), and a file not known is fetched.

Values are JSON (never pickle): whoever can write to the Redis cannot make
a worker run code, only feed it site files, as the sites themselves can.
"""

from __future__ import annotations

import importlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ..decision import Signal
from ..engine import MediaReservation, media_key

if TYPE_CHECKING:
    import redis
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

__all__ = ["FileOutcome", "SharedState"]

#: Socket timeouts of every Redis call (seconds): a hung server costs the reactor this, once.
SOCKET_TIMEOUT = 0.25
CONNECT_TIMEOUT = 0.25
#: The schema of a shared site-file value; another version is ignored (fetched again).
_VERSION = 1

# KEYS[1] the media hash, KEYS[2] its expiry index (zset); ARGV: now, expires, bound, then
# field / value pairs.  Adds the URLs, drops the expired ones and the oldest over the bound.
_REMEMBER = """
local now, exp, bound = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], exp, ARGV[i])
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
local n = redis.call('ZCARD', KEYS[2]) - #gone
if n > bound then
  local old = redis.call('ZRANGE', KEYS[2], #gone, #gone + n - bound - 1)
  for _, f in ipairs(old) do table.insert(gone, f) end
end
for _, f in ipairs(gone) do
  redis.call('HDEL', KEYS[1], f)
  redis.call('ZREM', KEYS[2], f)
end
return #gone
"""

# Deletes the lock KEYS[1] only if this worker still holds it (ARGV[1], its token).
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class FileOutcome:
    """One site-file fetch, as it came (what :mod:`noai_guard.sitefiles` turns into a file).

    ``how``: ``"fetch"`` (``from_fetch(status, body, detail, cut)``: a response, or a network
    error when ``status`` is None) or ``"unavailable"`` (too many or refused redirects).
    """

    how: str
    status: int | None
    body: bytes = b""
    detail: str = ""
    cut: bool = False
    fetched: float = 0.0  # wall-clock time of the fetch (the provenance)

    def encode(self) -> bytes:
        meta = {"v": _VERSION, "how": self.how, "status": self.status, "detail": self.detail,
                "cut": self.cut, "fetched": self.fetched}  # fmt: skip
        return json.dumps(meta, separators=(",", ":")).encode() + b"\n" + self.body

    @classmethod
    def decode(cls, raw: bytes) -> FileOutcome | None:
        """A stored value; None if it is not one this version wrote (then the file is fetched)."""
        head, sep, body = raw.partition(b"\n")
        try:
            meta = json.loads(head)
        except ValueError:
            return None
        if not sep or not isinstance(meta, dict) or meta.get("v") != _VERSION:
            return None
        how, status, detail = meta.get("how"), meta.get("status"), meta.get("detail", "")
        if how not in ("fetch", "unavailable") or not (status is None or type(status) is int):
            return None
        if not isinstance(detail, str):
            return None
        fetched = meta.get("fetched")
        return cls(how, status, body, detail, meta.get("cut") is True,
                   float(fetched) if isinstance(fetched, (int, float)) else 0.0)  # fmt: skip


class SharedState:
    """One worker's connection to the crawl's shared state; ``ok`` until Redis fails once."""

    def __init__(
        self,
        crawler: Crawler,
        url: str,
        *,
        namespace: str,
        ttl: float,
        media_size: int,
        media_scope: str,
        lock_timeout: float,
    ) -> None:
        """``namespace``: the key prefix of the crawl (workers of one crawl share it);
        ``media_scope``: the policy hash (a page reserves its images under one policy)."""
        try:
            mod: Any = importlib.import_module("redis")
        except ImportError:
            from ..settings import SettingsError

            raise SettingsError(
                "NOAI_GUARD_SHARED_STATE_URL is set but the redis package is not installed: "
                "pip install 'noai-guard[redis]'"
            ) from None
        self.crawler = crawler
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.errors: tuple[type[BaseException], ...] = (mod.RedisError,)
        retry = importlib.import_module("redis.retry").Retry(
            importlib.import_module("redis.backoff").NoBackoff(), 0
        )
        try:
            self.client: redis.Redis = mod.Redis.from_url(
                url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT, retry=retry
            )
        except ValueError as exc:
            from ..settings import bad_value

            raise bad_value("NOAI_GUARD_SHARED_STATE_URL", url, f"a Redis URL ({exc})") from None
        self.url = url
        self.ns = namespace
        self.ttl = ttl
        self.media_size = media_size
        self.lock_timeout = lock_timeout
        self._media = f"{namespace}media:{media_scope}"
        self._media_exp = f"{namespace}media-exp:{media_scope}"
        self.ok = True
        self._remember: Any = self.client.register_script(_REMEMBER)
        self._unlock: Any = self.client.register_script(_UNLOCK)

    # -- failure: per-process state from now on --------------------------------------

    def failed(self, exc: BaseException, what: str) -> None:
        """Redis failed: count it; the first time, one WARNING and this worker's own state from now on."""
        self.stats.inc_value("noai_guard/shared_state/error_count")
        self.stats.inc_value(f"noai_guard/shared_state/error_count/{type(exc).__name__}")
        if not self.ok:
            return
        self.ok = False
        self.stats.set_value("noai_guard/shared_state/lost", 1)
        logger.warning(
            "noai_guard: the shared state at %(url)s failed (%(what)s: %(error)s): this worker goes on with "
            "its own site-file cache and reserved-media memory (each origin's files fetched again by this "
            "worker, media reserved by pages other workers fetch no longer known to it); nothing is allowed "
            "for want of it; not repeated (stats: noai_guard/shared_state/*)",
            {"url": self._redacted(), "what": what, "error": str(exc) or type(exc).__name__},
            extra={"spider": self.crawler.spider},
        )

    def _redacted(self) -> str:
        # A password in the URL stays out of the log.
        scheme, sep, rest = self.url.partition("://")
        return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if sep else self.url

    # -- the crawl id -------------------------------------------------------------------

    def crawl_id(self) -> str | None:
        """The crawl's id: the first worker's (stored for NOAI_GUARD_CACHE_TTL), or None if Redis fails."""
        key = f"{self.ns}crawl_id"
        try:
            self.client.set(key, uuid.uuid4().hex, nx=True, ex=max(1, int(self.ttl)))
            value = self.client.get(key)
        except self.errors as exc:
            self.failed(exc, "reading the crawl id")
            return None
        return value.decode("ascii", "replace") if isinstance(value, bytes) else None

    # -- reserved media -----------------------------------------------------------------

    def media_get(self, key: str) -> MediaReservation | None:
        """The reservation another worker (or this one) stored for the media URL ``key``, if fresh."""
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.hget(self._media, key)
                pipe.zscore(self._media_exp, key)
                raw, expires = pipe.execute()
        except self.errors as exc:
            self.failed(exc, "reading reserved media")
            return None
        if raw is None or expires is None or float(expires) <= time.time():
            return None
        try:
            page_url, fields = json.loads(raw)
            if not isinstance(page_url, str) or not isinstance(fields, dict):
                raise TypeError(type(fields))
            signal = Signal.from_dict(fields)
        except (ValueError, TypeError, KeyError):
            # Not a value this version wrote: counted; the URL is judged on its own signals.
            self.stats.inc_value("noai_guard/shared_state/media_unreadable")
            return None
        self.stats.inc_value("noai_guard/shared_state/media_hits")
        return MediaReservation(page_url, signal, ())

    def media_put(self, media: MediaReservation) -> None:
        """Store every media URL ``media`` lists (keyed as :class:`~.media.MediaStore` keys them)."""
        args: list[Any] = []
        for part in media.parts():
            value = json.dumps([part.page_url, part.signal.to_dict()], default=str)
            for u in part.urls:
                args += (media_key(u), value)
        if not args:
            return
        now = time.time()
        try:
            self._remember(
                keys=[self._media, self._media_exp], args=[now, now + self.ttl, self.media_size, *args]
            )
        except self.errors as exc:
            self.failed(exc, "storing reserved media")
            return
        self.stats.inc_value("noai_guard/shared_state/media_stored", len(args) // 2)

    # -- site files ---------------------------------------------------------------------

    def _file_key(self, origin: str, kind: str) -> str:
        return f"{self.ns}file:{kind}:{origin}"

    def file_get(self, origin: str, kind: str) -> tuple[FileOutcome, float] | None:
        """The stored outcome of the file and its seconds left, or None (none stored, or Redis failed)."""
        key = self._file_key(origin, kind)
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.pttl(key)
                raw, pttl = pipe.execute()
        except self.errors as exc:
            self.failed(exc, "reading a site file")
            return None
        if not isinstance(raw, bytes) or not isinstance(pttl, int) or pttl <= 0:
            return None
        outcome = FileOutcome.decode(raw)
        if outcome is None:
            self.stats.inc_value("noai_guard/shared_state/file_unreadable")
            return None
        return outcome, pttl / 1000.0

    def file_lock(self, origin: str, kind: str) -> str | None:
        """Take the file's fetch lock (expires after ``lock_timeout``); its token, or None if held or failed."""
        token = uuid.uuid4().hex
        try:
            got = self.client.set(f"{self._file_key(origin, kind)}:lock", token, nx=True,
                                  px=max(1, int(self.lock_timeout * 1000)))  # fmt: skip
        except self.errors as exc:
            self.failed(exc, "taking a site file's fetch lock")
            return None
        return token if got else None

    def file_put(self, origin: str, kind: str, outcome: FileOutcome, ttl: float, token: str) -> None:
        """Store the outcome for ``ttl`` seconds (nothing if 0) and release the lock."""
        key = self._file_key(origin, kind)
        try:
            if ttl > 0:
                self.client.set(key, outcome.encode(), px=max(1, int(ttl * 1000)))
            self._unlock(keys=[f"{key}:lock"], args=[token])
        except self.errors as exc:
            self.failed(exc, "storing a site file")
            return
        self.stats.inc_value("noai_guard/shared_state/files_stored")

    def file_unlock(self, origin: str, kind: str, token: str) -> None:
        try:
            self._unlock(keys=[f"{self._file_key(origin, kind)}:lock"], args=[token])
        except self.errors as exc:
            self.failed(exc, "releasing a site file's fetch lock")


async def sleep(seconds: float) -> None:
    """Wait ``seconds`` on Scrapy's event loop (asyncio or a Twisted reactor): a poll, not a block."""
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet.defer import Deferred

    dfd: Deferred[None] = Deferred()
    try:
        from scrapy.utils.asyncio import call_later
    except ImportError:  # pragma: no cover - Scrapy 2.13
        from twisted.internet import reactor

        cast("Any", reactor).callLater(seconds, dfd.callback, None)
    else:
        call_later(seconds, dfd.callback, None)
    await maybe_deferred_to_future(dfd)
