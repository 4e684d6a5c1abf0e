"""Downloader middlewares that honour machine-readable AI opt-outs in a live crawl.

Two components share one per-crawler :class:`_Guard`:

- :class:`NoAIGuardMiddleware` (priority 90, after the offsite filter and
  before Scrapy's ``RobotsTxtMiddleware``): before the fetch, reads the
  origin's robots.txt, ``/.well-known/tdmrep.json`` and ``/ai.txt`` (fetched
  once per origin through the engine) and skips reserved requests.
- :class:`NoAIGuardResponseMiddleware` (priority 950): after the fetch, its
  ``process_response`` runs before ``HttpCacheMiddleware`` (900) stores the
  response and before anything else sees it; it reads the headers and the
  HTML head (decoding gzip / deflate / br / zstd itself, within a budget) and
  drops reserved responses.

Enable both with ``ADDONS = {"noai_guard.NoAIGuardAddon": 0}``.  Every skip,
drop or flag is written and flushed to the audit trail before the request is
dropped.
"""

from __future__ import annotations

import importlib
import logging
import time
import zlib
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urljoin, urlsplit
from weakref import WeakKeyDictionary

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured, StopDownload
from scrapy.http import Headers, Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.python import global_object_name
from twisted.internet.defer import Deferred
from w3lib.url import safe_url_string

from . import auditlog, directives
from . import decision as d
from .decision import Decision, Signal, Verdict
from .evaluate import (
    SIGNAL_HEADER_NAMES,
    SiteEval,
    is_html,
    is_image,
    response_signals,
    scan_head,
    wide_charset,
)
from .htmlhead import Head, embedded_images
from .policy import DecisionMemo, decide
from .settings import DEFAULTS, SettingsError, get_bool, get_float, get_int, policy_from_settings
from .sitefiles import KINDS, MAX_REDIRECTS, SIZE_LIMIT, Kind, SiteFile, file_url, from_fetch, origin_of
from .sitefiles import status_class as _status_class

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector
    from typing_extensions import Self

    from .policy import Policy

logger = logging.getLogger(__name__)

#: Request meta key: ``True`` lets the request through unchecked (counted).
META_BYPASS = "dont_obey_noai"
#: Request/response meta key: the :class:`~noai_guard.decision.Decision` taken.
META_DECISION = "noai_guard_decision"
# Private meta keys: the pre-fetch evaluation (url, origin, site signals, decision), and
# the mark (and byte count) of noai_guard's own site-file requests.
_META_SITE = "_noai_guard_site"
_META_FILE = "_noai_guard_file"

#: Where the addon installs the two components.
REQUEST_PRIORITY = 90  # after OffsiteMiddleware (50), before RobotsTxtMiddleware (100)
RESPONSE_PRIORITY = 950  # process_response before HttpCacheMiddleware (900) stores

# Site-file requests jump the queue, as Scrapy's robots.txt request does.
DOWNLOAD_PRIORITY = 1000
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Bounds decompression of a site file whose raw download is cut at SIZE_LIMIT.
_FILE_MAXSIZE = 16 * 1024 * 1024
# Per-origin summary rows kept; further origins are counted together.
_SUMMARY_ORIGINS = 100_000
_OTHER_ORIGINS = "(other origins)"
# The per-page counters reach the stats in batches of this many (and at close).
_STATS_BATCH = 64
# Scrapy-side robots.txt bodies kept for RobotsTxtMiddleware to reuse.
_REUSE_SIZE = 1024

# Which signals each site file feeds: a file is fetched only if one is on.
_KIND_SIGNALS: dict[Kind, frozenset[str]] = {
    "robots": frozenset(
        {
            d.ROBOTS_TXT,
            d.ROBOTS_TXT_PROXY,
            d.CONTENT_USAGE,
            d.CONTENT_SIGNAL,
            d.RSL_LICENSE,
            d.LEGACY_AI_TRAINING,
        }
    ),
    "tdmrep": frozenset({d.TDMREP}),
    "ai-txt": frozenset({d.AI_TXT}),
}
_PAGE_IMAGE_SIGNALS = frozenset({d.X_ROBOTS_TAG, d.META_ROBOTS})


def _state(value: SiteFile) -> str:
    return str(getattr(value, "state", "ok"))


def _url_key(url: str) -> str:
    return url.split("#", 1)[0]


def _header_pairs(response: Response) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, values in response.headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for v in values:
            out.append((key, v.decode("latin-1") if isinstance(v, bytes) else str(v)))
    return out


# Header names the response signals read (see evaluate.has_signal_header).
_SIGNAL_HEADER_NAMES = SIGNAL_HEADER_NAMES
# Header name (as Scrapy stores it) -> whether it is one of those; header names repeat
# across responses, so each distinct name is decoded and compared once.  Bounded.
_HEADER_KINDS: dict[bytes | str, bool] = {}
_HEADER_KINDS_MAX = 1024


def _signal_headers(response: Response) -> list[tuple[str, str]]:
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
            hit = key.strip().lower() in _SIGNAL_HEADER_NAMES
            if len(_HEADER_KINDS) >= _HEADER_KINDS_MAX:
                _HEADER_KINDS.clear()
            _HEADER_KINDS[name] = hit
        if hit:
            return _header_pairs(response)
    return []


# The origin of a URL depends only on the URL up to the end of its authority:
# ``scheme://authority`` (urlsplit's netloc ends at the first "/", "?" or "#").
# Memoised by that prefix so that the URLs of one site share one urlsplit.
_ORIGINS: dict[str, str] = {}
_ORIGINS_MAX = 4096


def _origin(url: str) -> str:
    i = url.find("://")
    if i <= 0:
        return origin_of(url)
    j = url.find("/", i + 3)
    key = url if j < 0 else url[:j]
    if "?" in key or "#" in key:
        return origin_of(url)
    origin = _ORIGINS.get(key)
    if origin is None:
        origin = origin_of(key)
        if len(_ORIGINS) >= _ORIGINS_MAX:
            _ORIGINS.clear()
        _ORIGINS[key] = origin
    return origin


def _emits(log: logging.Logger, level: int) -> bool:
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


def _first_header(response: Response, name: bytes) -> str | None:
    """``response.headers.get(name)`` decoded (the last value, as Scrapy's get returns)."""
    hdrs = response.headers
    if type(hdrs) is Headers and name == name.title():
        # Scrapy's Headers is a dict keyed by the title-cased name; read it directly
        # (get() would normalise the key and build a default list per call).
        values = dict.get(hdrs, name)
        v = values[-1] if values else None
    else:
        v = hdrs.get(name)
    if v is None:
        return None
    return v.decode("latin-1") if isinstance(v, bytes) else str(v)


# -- bounded decoding of Content-Encoding -------------------------------------


class _UndecodableError(ValueError):
    pass


def _optional(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_brotli: Any = _optional("brotli", "brotlicffi")
_zstd: Any = _optional("compression.zstd", "backports.zstd", "zstandard")


_GZIP_MAGIC = b"\x1f\x8b"


def _decode_one(body: bytes, encoding: str, limit: int) -> tuple[bytes, bool]:
    """``body`` with one coding undone, at most ``limit`` bytes, and whether the stream ended.

    A stream that stops before its end (a truncated download) decodes to what
    it holds, with ``False``: the caller must not take the end of the output
    for the end of the document.  gzip and zstd streams of several members /
    frames (RFC 1952 §2.2) are decoded in full, as Scrapy's own decoder does.
    """
    if encoding in ("gzip", "x-gzip"):
        out = b""
        while True:
            d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            out += d.decompress(body, limit - len(out))
            body = d.unused_data
            if not d.eof or len(out) >= limit or not body.startswith(_GZIP_MAGIC):
                return out, d.eof  # trailing bytes that start no member are padding
    if encoding == "deflate":
        d = zlib.decompressobj()
        try:
            out = d.decompress(body, limit)
        except zlib.error:  # raw deflate, as some servers send it
            d = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
            out = d.decompress(body, limit)
        return out, d.eof
    if encoding == "br" and _brotli is not None:
        b = _brotli.Decompressor()
        out = bytes(b.process(body, output_buffer_limit=limit))
        return out, bool(b.is_finished())
    if encoding == "zstd" and _zstd is not None:
        if hasattr(_zstd, "ZstdDecompressor") and hasattr(_zstd, "ZstdFile"):  # compression.zstd API
            out = b""
            while True:
                z = _zstd.ZstdDecompressor()
                out += bytes(z.decompress(body, max_length=limit - len(out)))
                body = z.unused_data
                if not z.eof or len(out) >= limit or not body:
                    return out, bool(z.eof)
        zo = _zstd.ZstdDecompressor().decompressobj()
        out = bytes(zo.decompress(body))
        return out[:limit], bool(getattr(zo, "eof", True))
    raise _UndecodableError(encoding)


def decode_prefix(body: bytes, content_encoding: str | None, limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of ``body`` with its Content-Encoding undone, and whether that is all of it.

    ``False`` when the document goes on past ``limit`` or a coding's stream was
    cut short: the end of the bytes returned is then not the end of the page.
    The response middleware sees responses before ``HttpCompressionMiddleware``
    (590) decodes them, so it decodes what it reads itself, never more than
    ``limit`` bytes.  Raises ``ValueError`` for an unknown or corrupt encoding.
    """
    if not content_encoding:
        return (body, True) if len(body) <= limit else (body[:limit], False)
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    whole = True
    try:
        for coding in reversed(codings):  # RFC 9110 §8.4: listed in the order applied
            if coding != "identity":
                # One byte over the limit tells a document of exactly ``limit`` bytes from a longer one.
                body, ended = _decode_one(body, coding, limit + 1)
                whole = whole and ended
    except (zlib.error, OSError, _UndecodableError) as exc:
        raise ValueError(f"cannot decode Content-Encoding {content_encoding!r}: {exc}") from exc
    except Exception as exc:  # brotli.error and zstd errors have no common base
        raise ValueError(f"cannot decode Content-Encoding {content_encoding!r}: {exc}") from exc
    if len(body) > limit:
        return body[:limit], False
    return body, whole


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The first ``limit`` bytes of ``body`` with its Content-Encoding undone (see :func:`decode_prefix`)."""
    return decode_prefix(body, content_encoding, limit)[0]


def _joined_header(response: Response, name: bytes) -> str | None:
    """All field lines of a header, comma-joined (RFC 9110 §5.3), decoded; None if absent."""
    values = response.headers.getlist(name)
    if not values:
        return None
    return ", ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values)


# -- state ---------------------------------------------------------------------


@dataclass
class _Entry:
    """A cached site file, or a fetch in flight (``waiters`` not None)."""

    value: SiteFile | None = None
    expires: float = 0.0
    waiters: list[Deferred[SiteFile]] | None = None


@dataclass
class _OriginCounts:
    evaluated: int = 0
    allowed: int = 0
    skipped: int = 0
    dropped: int = 0
    flagged: int = 0
    unknown: int = 0
    by_signal: dict[str, int] = field(default_factory=dict)
    fetch: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluated": self.evaluated,
            "allowed": self.allowed,
            "skipped": self.skipped,
            "dropped": self.dropped,
            "flagged": self.flagged,
            "unknown": self.unknown,
            "by_signal": dict(sorted(self.by_signal.items())),
            "fetch": {k: dict(sorted(v.items())) for k, v in sorted(self.fetch.items())},
        }


@dataclass(frozen=True)
class _ImageRef:
    page_url: str
    signal: Signal  # the page's deciding signal


_GUARDS: WeakKeyDictionary[Crawler, _Guard] = WeakKeyDictionary()


class _Guard:
    """Everything both components share: policy, site-file cache, image provenance, trail, counts."""

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> _Guard:
        guard = _GUARDS.get(crawler)
        if guard is None:
            guard = _GUARDS[crawler] = cls(crawler)
        return guard

    def __init__(self, crawler: Crawler) -> None:
        settings: BaseSettings = crawler.settings
        if not get_bool(settings, "NOAI_GUARD_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        # The two per-page counters (request_count, allowed) are kept here and added to
        # the stats in batches (_STATS_BATCH) and at close: each inc_value call goes
        # through Scrapy's stats wrapper, which costs more than the rest of an allowed
        # page's pre-fetch check.
        self._pending_requests = 0
        self._pending_allowed = 0
        self.policy: Policy = policy_from_settings(settings)
        self.enforce = get_bool(settings, "NOAI_GUARD_ENFORCE")
        self.audit_allowed = get_bool(settings, "NOAI_GUARD_AUDIT_ALLOWED")
        self.audit_fsync = get_bool(settings, "NOAI_GUARD_AUDIT_FSYNC")
        uri = settings.get("NOAI_GUARD_AUDIT_URI", DEFAULTS["NOAI_GUARD_AUDIT_URI"])
        if not isinstance(uri, str) or not uri.strip():
            # The trail is the product's proof: it cannot be switched off.
            raise SettingsError(
                "NOAI_GUARD_AUDIT_URI is empty: the audit trail cannot be switched off; "
                f"leave it unset for the default {DEFAULTS['NOAI_GUARD_AUDIT_URI']!r}"
            )
        self.audit_uri = uri.strip()
        self.ttl = get_float(settings, "NOAI_GUARD_CACHE_TTL", minimum=0.0)
        self.retry_after = get_float(settings, "NOAI_GUARD_RETRY_AFTER", minimum=0.0)
        self.cache_size = get_int(settings, "NOAI_GUARD_CACHE_SIZE", minimum=1)
        self.image_size = get_int(settings, "NOAI_GUARD_IMAGE_PROVENANCE_SIZE", minimum=0)
        self.body_limit = settings.getint("DOWNLOAD_MAXSIZE") or 1 << 30  # decoding bound for image scans
        self.kinds: tuple[Kind, ...] = tuple(k for k in KINDS if _KIND_SIGNALS[k] & self.policy.sources)
        self.images_on = d.EMBEDDING_PAGE in self.policy.sources and self.image_size > 0
        # Reuse for Scrapy's RobotsTxtMiddleware: its robots.txt request is
        # answered from noai_guard's fetch, so the file is downloaded once.
        self.reuse_robots = settings.getbool("ROBOTSTXT_OBEY") and "robots" in self.kinds
        self.mode = "crawl" if self.enforce else "audit-only"
        self.run_id = auditlog.new_run_id()
        self.audit: auditlog.JsonLinesAuditLog | None = None
        self.components: set[str] = set()

        self._cache: OrderedDict[tuple[str, Kind], _Entry] = OrderedDict()
        self._cache_max = self.cache_size * max(1, len(self.kinds))
        self._robots_bodies: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self._images: OrderedDict[str, _ImageRef] = OrderedDict()
        self._origins: dict[str, _OriginCounts] = {}
        # Per origin: until when its SiteEval may be used without looking at the file cache.
        self._ready: OrderedDict[str, tuple[float, SiteEval]] = OrderedDict()
        self._decisions = DecisionMemo(self.policy, size=8192)  # shared by every origin's SiteEval
        self._inflight: set[Deferred[None]] = set()

        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        # bytes_received is sent for every chunk of every download, and each dispatch to
        # a receiver costs far more than the handler's own check; the handler only acts
        # on site-file requests, so it is connected only while one may be downloading
        # (see _watch_bytes / _unwatch_bytes), not for the whole crawl.
        self._log_debug = True  # until spider_opened sees how logging is configured
        self._bytes_watched = False
        self._bytes_always = False  # set once a Scrapy robots.txt request is marked as a site file

    # -- lifecycle ---------------------------------------------------------

    def _spider_name(self) -> str:
        spider = self.crawler.spider
        return str(getattr(spider, "name", None) or "spider")

    def _open_audit(self) -> auditlog.JsonLinesAuditLog:
        if self.audit is None:
            uri = auditlog.expand_uri(self.audit_uri, name=self._spider_name())
            if uri.startswith("file://"):
                uri = urlsplit(uri).path
            self.audit = auditlog.JsonLinesAuditLog(uri, fsync=self.audit_fsync)
            self.audit.open()
        return self.audit

    def spider_opened(self, spider: Spider) -> None:
        self._log_debug = _emits(logger, logging.DEBUG)
        audit = self._open_audit()
        self._write(
            auditlog.run_record(
                run_id=self.run_id,
                mode=self.mode,
                policy=self.policy.to_dict(),
                policy_hash=self.policy.hash,
                spider=self._spider_name(),
                enforce=self.enforce,
                user_agents=list(self.policy.user_agents),
                proxy_tokens=list(self.policy.proxy_tokens),
                site_files=list(self.kinds),
                cache_ttl=self.ttl,
                retry_after=self.retry_after,
            )
        )
        logger.info(
            "noai_guard: %(mode)s for %(purpose)s as %(tokens)s, audit trail at %(path)s",
            {
                "mode": "enforcing" if self.enforce else "audit-only (nothing dropped)",
                "purpose": self.policy.purpose,
                "tokens": ", ".join(self.policy.user_agents),
                "path": audit.path,
            },
            extra={"spider": spider},
        )
        for name in ("NoAIGuardMiddleware", "NoAIGuardResponseMiddleware"):
            if name not in self.components:
                logger.error(
                    "noai_guard: %(name)s is not enabled; add both components to DOWNLOADER_MIDDLEWARES "
                    "or use the add-on",
                    {"name": name},
                    extra={"spider": spider},
                )
        self._check_order(spider)

    def _check_order(self, spider: Spider) -> None:
        """Warn if a response could reach the HTTP cache before the check (process_response order)."""
        engine = getattr(self.crawler, "engine", None)
        mws = getattr(getattr(getattr(engine, "downloader", None), "middleware", None), "middlewares", ())
        names = [type(m).__name__ for m in mws]
        if (
            "HttpCacheMiddleware" in names
            and "NoAIGuardResponseMiddleware" in names
            and names.index("HttpCacheMiddleware") > names.index("NoAIGuardResponseMiddleware")
        ):
            logger.error(
                "noai_guard: HttpCacheMiddleware has a higher priority than "
                "NoAIGuardResponseMiddleware (%(prio)d): reserved responses could be cached",
                {"prio": RESPONSE_PRIORITY},
                extra={"spider": spider},
            )

    def _flush_counts(self) -> None:
        if self._pending_requests:
            self.stats.inc_value("noai_guard/request_count", self._pending_requests)
            self._pending_requests = 0
        if self._pending_allowed:
            self.stats.inc_value("noai_guard/allowed", self._pending_allowed)
            self._pending_allowed = 0

    def spider_closed(self, spider: Spider, reason: str = "") -> None:
        self._flush_counts()
        origins = {o: c.to_dict() for o, c in self._origins.items()}
        self._write(
            auditlog.summary_record(
                run_id=self.run_id,
                mode=self.mode,
                policy=self.policy.to_dict(),
                origins=origins,
                policy_hash=self.policy.hash,
                reason=reason,
                totals={
                    k: int(self.stats.get_value(f"noai_guard/{k}", 0) or 0)
                    for k in ("request_count", "skipped", "dropped", "flagged", "allowed")
                },
            )
        )
        path = self.audit.path if self.audit is not None else None
        if self.audit is not None:
            self.audit.close()
        logger.info(
            "noai_guard: %(skipped)d skipped, %(dropped)d dropped, %(flagged)d flagged; audit trail: %(path)s",
            {
                "skipped": self.stats.get_value("noai_guard/skipped", 0),
                "dropped": self.stats.get_value("noai_guard/dropped", 0),
                "flagged": self.stats.get_value("noai_guard/flagged", 0),
                "path": path,
            },
            extra={"spider": spider},
        )

    # -- audit -------------------------------------------------------------

    def _write(self, record: dict[str, Any]) -> None:
        try:
            self._open_audit().write(record)
        except OSError:
            self.stats.inc_value("noai_guard/audit/error_count")
            logger.exception(
                "noai_guard: cannot write the audit trail %(uri)s",
                {"uri": self.audit_uri},
                extra={"spider": self.crawler.spider},
            )
            return
        self.stats.inc_value("noai_guard/audit/record_count")

    def _record(self, decision: Decision, action: str, phase: str, origin: str) -> None:
        self._write(
            auditlog.decision_record(
                decision, action=action, phase=phase, run_id=self.run_id, mode=self.mode, origin=origin
            )
        )

    def _counts(self, origin: str) -> _OriginCounts:
        c = self._origins.get(origin)
        if c is None:
            if len(self._origins) >= _SUMMARY_ORIGINS:
                origin = _OTHER_ORIGINS
                c = self._origins.get(origin)
            if c is None:
                c = self._origins[origin] = _OriginCounts()
        return c

    def _count_unknowns(self, sigs: list[Signal], counts: _OriginCounts) -> None:
        for s in sigs:
            if s.verdict is Verdict.UNKNOWN:
                break
        else:
            return  # the common case: nothing to count
        seen: set[str] = set()
        sources = self.policy.sources
        for s in sigs:
            # A switched-off source's unknown takes no part in the decision (decide() discounts it).
            if s.verdict is Verdict.UNKNOWN and not s.superseded and s.name in sources and s.name not in seen:
                seen.add(s.name)
                self.stats.inc_value(f"noai_guard/unknown_count/{s.name}")
        if seen:
            counts.unknown += 1

    def _blocked(
        self, decision: Decision, counts: _OriginCounts, phase: str, origin: str, request: Request
    ) -> None:
        """Record a blocking decision (flushed before the caller raises), count and log it."""
        signal = decision.signal or "unknown"
        if self.enforce:
            action = auditlog.SKIPPED if phase == auditlog.PRE_FETCH else auditlog.DROPPED
        else:
            action = auditlog.FLAGGED
        self._record(decision, action, phase, origin)
        self.stats.inc_value(f"noai_guard/{action}")
        self.stats.inc_value(f"noai_guard/reason_count/{signal}")
        setattr(counts, action, getattr(counts, action) + 1)
        counts.by_signal[signal] = counts.by_signal.get(signal, 0) + 1
        if self._log_debug:
            logger.debug(
                "noai_guard %(action)s (%(verdict)s by %(signal)s: %(evidence)s): %(request)s",
                {
                    "action": action,
                    "verdict": decision.verdict.value,
                    "signal": signal,
                    "evidence": None if decision.decided_by is None else decision.decided_by.evidence,
                    "request": request,
                },
                extra={"spider": self.crawler.spider},
            )

    # -- site files ----------------------------------------------------------

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
        n = request.meta.get(_META_FILE)
        if n is None:
            return
        n += len(data)
        request.meta[_META_FILE] = n
        if n > SIZE_LIMIT:
            raise StopDownload(fail=False)

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

    async def _evaluator(self, origin: str) -> SiteEval:
        """The origin's :class:`SiteEval`, fetching its site files if needed.

        Kept in ``_ready`` (LRU, bounded like the file cache) until the first of
        its files expires, so a request to a known origin needs one lookup.
        """
        files = self.cached_files(origin)
        if files is None:
            files = await self.site_files(origin)
        robots, tdm, ai = files.get("robots"), files.get("tdmrep"), files.get("ai-txt")
        ready = self._ready.get(origin)
        if ready is not None and ready[1].same_files(robots, tdm, ai):
            ev = ready[1]
        else:
            ev = SiteEval(
                self.policy,
                robots=cast("Any", robots),
                tdmrep_file=cast("Any", tdm),
                ai_txt=cast("Any", ai),
                memo=self._decisions,
            )
        expires = float("inf")
        for kind in self.kinds:
            e = self._cache.get((origin, kind))
            if e is None or e.waiters is not None or e.value is not files.get(kind):
                expires = 0.0  # evicted or refetching meanwhile: not kept as ready
                break
            expires = min(expires, e.expires)
        if expires > time.monotonic():
            self._ready[origin] = (expires, ev)
            self._ready.move_to_end(origin)
            while len(self._ready) > self.cache_size:
                self._ready.popitem(last=False)
        return ev

    async def site_files(self, origin: str, kinds: tuple[Kind, ...] | None = None) -> dict[Kind, SiteFile]:
        """The origin's site files; concurrent callers wait for one fetch per file."""
        now = time.monotonic()
        out: dict[Kind, SiteFile] = {}
        waiting: list[tuple[Kind, Deferred[SiteFile]]] = []
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
            assert e.waiters is not None
            w: Deferred[SiteFile] = Deferred()
            e.waiters.append(w)
            waiting.append((kind, w))
        for kind, w in waiting:
            out[kind] = await maybe_deferred_to_future(w)
        return out

    def _start_fetch(self, origin: str, kind: Kind) -> _Entry:
        key = (origin, kind)
        e = _Entry(waiters=[])
        self._cache[key] = e
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_max:
            self._cache.popitem(last=False)  # an evicted fetch in flight still fires its waiters
        self._watch_bytes()  # before the fetch's first request is scheduled
        dfd: Deferred[None] = deferred_from_coro(self._fetch(origin, kind, e))
        self._inflight.add(dfd)
        dfd.addBoth(self._fetch_done, dfd)
        return e

    def _fetch_done(self, _: object, dfd: Deferred[None]) -> None:
        self._inflight.discard(dfd)
        self._unwatch_bytes()

    async def _fetch(self, origin: str, kind: Kind, entry: _Entry) -> None:
        url = file_url(origin, kind)
        try:
            value, status = await self._download(kind, url)
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
        entry.value = value
        entry.expires = time.monotonic() + ttl
        waiters, entry.waiters = entry.waiters or [], None
        fetch = self._counts(origin).fetch.setdefault(kind, {})
        cls = "3xx" if state != "ok" and status is not None and 300 <= status < 400 else _status_class(status)
        fetch[cls] = fetch.get(cls, 0) + 1
        logger.debug(
            "noai_guard: %(url)s is %(state)s (%(detail)s)",
            {"url": url, "state": state, "detail": getattr(value, "detail", "") or status},
            extra={"spider": self.crawler.spider},
        )
        for w in waiters:
            w.callback(value)

    def _file_request(self, url: str) -> Request:
        return Request(
            url,
            priority=DOWNLOAD_PRIORITY,
            callback=NO_CALLBACK,
            dont_filter=True,
            meta={
                _META_FILE: 0,
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

    async def _download(self, kind: Kind, url: str) -> tuple[SiteFile, int | None]:
        """Fetch one site file through the engine, following redirects; map the outcome (RFC 9309 §2.3.1)."""
        engine = self.crawler.engine
        assert engine is not None
        target = url
        for hop in range(MAX_REDIRECTS + 1):
            self.stats.inc_value(f"noai_guard/{kind}/request_count")
            try:
                request = self._file_request(target)
                if hasattr(engine, "download_async"):  # Scrapy >= 2.14
                    response = await engine.download_async(request)
                else:  # pragma: no cover - Scrapy 2.13
                    response = await maybe_deferred_to_future(engine.download(request))
            except Exception as exc:  # noqa: BLE001 - any failed fetch is "unreachable"
                # §2.3.1.4: timeouts, DNS and connection errors mean unreachable.
                name = global_object_name(type(exc))
                self.stats.inc_value(f"noai_guard/{kind}/exception_count/{name}")
                return from_fetch(kind, url, status=None, detail=name), None
            status = response.status
            self.stats.inc_value(f"noai_guard/{kind}/response_status_count/{status}")
            location = _first_header(response, b"Location")
            if status in _REDIRECTS and location:
                if hop == MAX_REDIRECTS:
                    # §2.3.1.2: more than five redirects MAY be taken as unavailable.
                    return self._unavailable(kind, url, "more than 5 redirects", status), status
                # §2.3.1.2: followed across hosts too; the rules apply to the original origin.
                target = safe_url_string(urljoin(response.url, location))
                continue
            body = response.body[:SIZE_LIMIT]  # §2.5: the first 500 KiB
            value = from_fetch(kind, url, status=status, body=body)
            if self.reuse_robots and kind == "robots" and _state(value) != "unreachable":
                origin = origin_of(url)
                self._robots_bodies[origin] = (status, body if 200 <= status < 300 else b"")
                self._robots_bodies.move_to_end(origin)
                while len(self._robots_bodies) > _REUSE_SIZE:
                    self._robots_bodies.popitem(last=False)
            return value, status
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _unavailable(kind: Kind, url: str, detail: str, status: int | None) -> SiteFile:
        if kind == "tdmrep":
            from .tdmrep import TdmrepFile

            return TdmrepFile.unavailable(url, detail)
        from .robots import RobotsTxt

        return RobotsTxt.unavailable(url, detail, status)

    async def serve_scrapy_robots(self, request: Request) -> Response | None:
        """Answer Scrapy's own robots.txt request from noai_guard's fetch (one download per origin)."""
        origin = origin_of(request.url)
        files = await self.site_files(origin, ("robots",))
        hit = self._robots_bodies.get(origin)
        request.meta[_META_FILE] = 0  # not a page: the response half lets it pass
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

    # -- decisions -----------------------------------------------------------

    def before_fetch(self, request: Request) -> Coroutine[Any, Any, None] | None:
        """Judge ``request`` before the fetch; raises IgnoreRequest to skip it.

        Synchronous when the origin's site files are known (every request but
        the first ones per origin and TTL); otherwise returns a coroutine that
        fetches them first.
        """
        url = request.url
        origin = _origin(url)
        ref = self._images.get(_url_key(url)) if self.images_on and self._images else None
        if ref is not None:
            # Item 4: an image reserved by the page that embeds it; the page is the evidence.
            sigs = [self._embedding_signal(ref)]
            self._judge_pre(request, url, origin, sigs, decide(url, sigs, self.policy))
            return None
        ready = self._ready.get(origin)
        if ready is None or ready[0] <= time.monotonic():
            return self._before_fetch_files(request, url, origin)
        self._ready.move_to_end(origin)
        sigs, decision = ready[1].evaluate(url)
        self._judge_pre(request, url, origin, sigs, decision)
        return None

    async def _before_fetch_files(self, request: Request, url: str, origin: str) -> None:
        sigs, decision = (await self._evaluator(origin)).evaluate(url)
        self._judge_pre(request, url, origin, sigs, decision)

    def _judge_pre(
        self, request: Request, url: str, origin: str, sigs: list[Signal], decision: Decision
    ) -> None:
        counts = self._counts(origin)
        counts.evaluated += 1
        self._pending_requests += 1
        if self._pending_requests >= _STATS_BATCH:
            self._flush_counts()
        meta = request.meta
        meta[_META_SITE] = (url, origin, sigs, decision)
        meta[META_DECISION] = decision
        self._count_unknowns(sigs, counts)
        if decision.blocked:
            self._blocked(decision, counts, auditlog.PRE_FETCH, origin, request)
            if self.enforce:
                raise IgnoreRequest(f"noai_guard: {decision.reason}")

    def _embedding_signal(self, ref: _ImageRef) -> Signal:
        s = ref.signal
        return Signal(
            name=d.EMBEDDING_PAGE,
            verdict=Verdict.RESERVE,
            purpose=self.policy.purpose,
            evidence=s.evidence,
            source=ref.page_url,
            location=d.LOC_PAGE,
            scope=s.scope,
            user_agent=s.user_agent,
            own_token=s.own_token,
            note=f"embedded by {ref.page_url}, which {s.name} ({s.location}) reserves",
        )

    def after_fetch(self, request: Request, response: Response) -> Response | Coroutine[Any, Any, Response]:
        """Judge ``response``; raises IgnoreRequest to drop it.

        Synchronous when the request half judged this URL (the usual case);
        otherwise returns a coroutine that evaluates the site files first.
        """
        url = request.url
        stash = request.meta.get(_META_SITE)
        if stash is None or stash[0] != url:  # e.g. a response served before the request half ran
            return self._after_fetch_files(request, response, url)
        return self._judge_post(request, response, url, stash[1], stash[2], stash[3])

    async def _after_fetch_files(self, request: Request, response: Response, url: str) -> Response:
        origin = _origin(url)
        counts = self._counts(origin)
        counts.evaluated += 1
        site, _ = (await self._evaluator(origin)).evaluate(url)
        self._count_unknowns(site, counts)
        return self._judge_post(request, response, url, origin, site, None)

    def _judge_post(
        self,
        request: Request,
        response: Response,
        url: str,
        origin: str,
        site: list[Signal],
        pre: Decision | None,
    ) -> Response:
        counts = self._counts(origin)
        headers = _signal_headers(response)  # [] when no header can carry a signal
        content_type = _first_header(response, b"Content-Type")
        image = is_image(url, content_type)
        head: Head | None = None
        extra: list[Signal] = []
        decoded: bytes | None = None
        if not image and response.body:
            encoding = _first_header(response, b"Content-Encoding")
            if encoding is not None:  # every field line (RFC 9110 §5.3), not only the last
                encoding = _joined_header(response, b"Content-Encoding")
            whole = True
            try:
                # One byte past the budget: the head readers take it as "the page goes on".
                decoded, whole = decode_prefix(response.body, encoding, self.policy.html_budget + 1)
            except ValueError as exc:
                if content_type is None or "html" in content_type.lower():
                    extra.append(self._undecodable(url, str(exc)))
            if decoded is not None and is_html(content_type, decoded):
                head = scan_head(decoded, self.policy, eof=whole, encoding=wide_charset(content_type))
        if headers or (head is not None and (head.metas or not head.complete)):
            sigs = response_signals(url, self.policy, headers=headers, content_type=content_type, head=head)
            sigs += extra
        else:  # what response_signals returns for no signal header and an empty, complete head
            sigs = extra
        # Fast path: when the response adds no signal the decision is decide(url, site)
        # again, which ``pre`` already is (decide is a pure function of url, signals and
        # policy, and ``site`` is the very list ``pre`` was decided from).
        decision = pre if not sigs and pre is not None else decide(url, site + sigs, self.policy)
        request.meta[META_DECISION] = decision
        if sigs:
            self._count_unknowns(sigs, counts)
        if sigs and head is not None and self.images_on:  # the page's noai can only come from sigs
            self._remember_images(url, response, headers, head, decision)
        if decision.blocked:
            if self.enforce:
                self._blocked(decision, counts, auditlog.POST_FETCH, origin, request)
                raise IgnoreRequest(f"noai_guard: {decision.reason}")
            if pre is None or not pre.blocked:  # one flag per URL in audit-only mode
                self._blocked(decision, counts, auditlog.POST_FETCH, origin, request)
            return response
        if pre is not None and pre.blocked:  # audit-only: flagged before the fetch
            return response
        if 300 <= response.status < 400 and b"Location" in response.headers:
            return response  # the redirect target is a new request, judged on its own
        counts.allowed += 1
        self._pending_allowed += 1
        if self._pending_allowed >= _STATS_BATCH:
            self._flush_counts()
        if self.audit_allowed or decision.verdict is Verdict.UNKNOWN:
            self._record(decision, auditlog.ALLOWED, auditlog.POST_FETCH, origin)
        # No log line per allowed page: Scrapy's root logger passes DEBUG records to its
        # handler, so even a filtered one costs a LogRecord; the stats count them.
        return response

    def _undecodable(self, url: str, detail: str) -> Signal:
        return Signal(
            name=d.META_ROBOTS,
            verdict=Verdict.UNKNOWN,
            purpose=self.policy.purpose,
            evidence="",
            source=url,
            location=d.LOC_META,
            note=f"the HTML head could not be read: {detail}",
        )

    def _remember_images(
        self, url: str, response: Response, headers: list[tuple[str, str]], head: Head, page: Decision
    ) -> None:
        """Item 4: noai / noimageai on a page reserves the images it embeds (lenient mode too)."""
        if not any(s.name in _PAGE_IMAGE_SIGNALS and s.verdict is not Verdict.ALLOW for s in page.signals):
            return
        # Judge the page's directives as they bind an image (noimageai binds images even when lenient).
        sigs = directives.header_signals(headers, url, self.policy, is_image=True)
        sigs += directives.meta_signals(head, url, self.policy, is_image=True)
        as_image = decide(url, sigs, self.policy)
        if not (as_image.blocked and as_image.verdict is Verdict.RESERVE and as_image.decided_by is not None):
            return
        try:
            body = decode_body(response.body, _joined_header(response, b"Content-Encoding"), self.body_limit)
        except ValueError:
            return
        ref = _ImageRef(url, as_image.decided_by)
        n = 0
        for image_url in embedded_images(body, response.url):
            key = _url_key(safe_url_string(image_url))
            self._images[key] = ref
            self._images.move_to_end(key)
            n += 1
        while len(self._images) > self.image_size:
            self._images.popitem(last=False)
        if n:
            self.stats.inc_value("noai_guard/images/reserved", n)


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
    """Both middlewares: one shared :class:`_Guard` per crawler."""

    def __init__(self, crawler: Crawler) -> None:
        self.guard = _Guard.for_crawler(crawler)
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
        if _META_FILE in meta:
            return None
        if self.guard.reuse_robots and _is_scrapy_robots(request):
            return self.guard.serve_scrapy_robots(request)
        if meta.get(META_BYPASS):
            self.guard.stats.inc_value("noai_guard/bypassed")
            return None
        if not _is_http(request):  # data:, file:, s3:, ftp: carry no HTTP opt-outs
            return None
        return self.guard.before_fetch(request)


class NoAIGuardResponseMiddleware(_Component):
    """After the fetch: drop reserved responses before the HTTP cache or the spider sees them (priority 950)."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response | Coroutine[Any, Any, Response]:
        meta = request.meta
        if _META_FILE in meta or meta.get(META_BYPASS) or not _is_http(request):
            return response
        return self.guard.after_fetch(request, response)


__all__ = [
    "META_BYPASS",
    "META_DECISION",
    "REQUEST_PRIORITY",
    "RESPONSE_PRIORITY",
    "NoAIGuardMiddleware",
    "NoAIGuardResponseMiddleware",
    "decode_body",
    "decode_prefix",
]
