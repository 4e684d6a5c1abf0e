"""Internal: the crawl's audit trail writer, its counters and the per-origin summary.

Internal to :mod:`noai_guard.crawl`.  The trail is the product's proof: its
path is checked when the components are built (a bad path fails the crawl's
start-up), a trail that takes no run record closes the spider before any
request, and a write that fails mid-crawl closes the spider with the reason
:data:`~noai_guard.crawl.keys.AUDIT_FAILED` after the decision at hand is
enforced.  Records go through :mod:`noai_guard.auditlog`, the one writer.

The run and summary records name the Scrapy command that ran (``command``:
``crawl``, ``shell``, ``fetch`` ..., or ``None`` for a crawl started from
Python; :mod:`~noai_guard.crawl.command`).  ``scrapy shell`` never closes its
spider (the process exits with the engine still running), so no
``spider_closed`` comes: a trail still open when the interpreter exits writes
its summary then, with the reason :data:`EXIT_REASON`.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import socket
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from scrapy.exceptions import CloseSpider
from scrapy.utils.defer import deferred_from_coro
from w3lib.url import file_uri_to_path

from .. import auditlog
from ..decision import Decision, Signal, Verdict
from ..settings import SettingsError
from ..sizes import MEASURE_CRAWL, SIZES_TOP, add_type, media_type, sizes_section
from .command import scrapy_command
from .keys import AUDIT_FAILED
from .page import emits

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Request
    from scrapy.statscollectors import StatsCollector

    from ..policy import Policy

logger = logging.getLogger(__name__)

__all__ = ["EXIT_REASON", "OriginCounts", "Trail", "audit_path"]

#: The summary's reason when the process exits with the spider still open (``scrapy shell``).
EXIT_REASON = "process_exit"

# Per-origin summary rows kept; further origins are counted together.
_SUMMARY_ORIGINS = 100_000
_OTHER_ORIGINS = "(other origins)"
# The per-page counters reach the stats in batches of this many (and at close): each
# inc_value call goes through Scrapy's stats wrapper.  Final stats are the same.
STATS_BATCH = 64


@dataclass
class OriginCounts:
    """One origin's row of the summary record."""

    evaluated: int = 0
    allowed: int = 0
    skipped: int = 0
    dropped: int = 0
    flagged: int = 0
    unknown: int = 0
    by_signal: dict[str, int] = field(default_factory=dict)
    fetch: dict[str, dict[str, int]] = field(default_factory=dict)
    # Body bytes of the pages counted in ``allowed`` (issue 18: the summary's ``sizes``, not this row).
    allowed_bytes: int = 0

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


def _hostname() -> str:
    """This machine's name as one path segment (a separator or odd character becomes ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()).strip(".") or "localhost"


def audit_path(uri: str, spider_name: str) -> str:
    """NOAI_GUARD_AUDIT_URI as a local path, checked for writing; SettingsError names the setting.

    Called when the middlewares are built (``from_crawler``), after the spider:
    an error here fails the crawl's start-up, so ``scrapy crawl`` exits
    non-zero before any request.  Only looks (see :func:`auditlog.unwritable`):
    creates nothing.  ``%(hostname)s`` and ``%(pid)s`` give each worker of a
    distributed crawl its own trail (``%(time)s`` has one-second resolution:
    two workers started together would append to one file).
    """
    name = "NOAI_GUARD_AUDIT_URI"
    try:
        path = auditlog.expand_uri(uri, name=spider_name, hostname=_hostname(), pid=os.getpid())
    except (KeyError, ValueError, TypeError) as exc:
        raise SettingsError(
            f"{name}: bad placeholder in {uri!r}: {exc!r}; "
            "allowed: %(name)s, %(time)s, %(hostname)s, %(pid)s"
        ) from None
    scheme = path.split("://", 1)[0].lower() if "://" in path else ""
    if scheme == "file":
        path = file_uri_to_path(path)
    elif scheme:
        raise SettingsError(f"{name}: {path!r} is not a local file; allowed: a path or file:// URI")
    problem = auditlog.unwritable(path)
    if problem is not None:
        raise SettingsError(f"{name}: cannot write the audit trail at {path}: {problem}")
    return path


class Trail:
    """Writes one crawl's records and keeps its counts (Scrapy stats and the per-origin summary)."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        path: str,
        fsync: bool,
        policy: Policy,
        enforce: bool,
        run_id: str,
        crawl_id: str | None = None,
    ) -> None:
        self.crawler = crawler
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.path = path
        self.fsync = fsync
        self.policy = policy
        self.enforce = enforce
        self.mode = "crawl" if enforce else "audit-only"
        self.run_id = run_id
        # The crawl this run is one worker of (NOAI_GUARD_CRAWL_ID); unset: a crawl of its own.
        self.crawl_id = crawl_id or run_id
        self.audit: auditlog.JsonLinesAuditLog | None = None
        self._error: OSError | None = None  # the trail's first write failure
        self._running = False  # between the run record and close(): a failure closes the spider
        self.log_debug = True  # until start() sees how logging is configured
        self._origins: dict[str, OriginCounts] = {}
        # The two per-page counters (request_count, allowed) are kept here and added to
        # the stats in batches (STATS_BATCH) and at close: each inc_value call goes
        # through Scrapy's stats wrapper, which costs more than the rest of an allowed
        # page's pre-fetch check.
        self._pending_requests = 0
        self._pending_allowed = 0
        # The counters of a written record and of a blocked page (its action, its signal),
        # batched the same way: name -> increments not yet in the stats.
        self._pending: dict[str, int] = {}
        self._pending_n = 0
        self.command: str | None = None  # the Scrapy command that runs the crawl (start())
        self._at_exit: Any = None  # the atexit hook that writes the summary of a spider never closed
        self._closed = False
        self.sizes_top = SIZES_TOP  # origins named in the summary's ``sizes`` (the rest: one total)
        self._types: dict[str, list[int]] = {}  # media type -> [pages, bytes] kept (bounded)

    # -- lifecycle -------------------------------------------------------------

    def start(self, run: dict[str, Any]) -> None:
        """Write the run record; raises CloseSpider(AUDIT_FAILED) when the trail takes none."""
        self.log_debug = emits(logger, logging.DEBUG)
        self.command = scrapy_command()
        self.write({**run, "crawl_id": self.crawl_id, "command": self.command})
        if self._error is not None:
            # The trail opened but took no record (e.g. /dev/full, a full disk): nothing is
            # crawled.  Scrapy's way for a component that fails to start (logged once).
            raise CloseSpider(AUDIT_FAILED)
        self._running = True
        # A weak reference: the hook does not keep a finished crawl's trail alive.
        self._at_exit = _close_at_exit_hook(weakref.ref(self))
        atexit.register(self._at_exit)

    def close(self, reason: str) -> None:
        """Write the summary record and close the file; failures are counted and logged once."""
        if self._closed:
            return  # closed at exit, then by a late spider_closed (or the other way round)
        self._running = False  # a failure from now on has nothing left to close
        if self._at_exit is not None:
            atexit.unregister(self._at_exit)
            self._at_exit = None
        self.flush_counts()  # the totals below read the stats
        origins = {o: c.to_dict() for o, c in self._origins.items()}
        stats = self.stats
        self.write(
            auditlog.summary_record(
                run_id=self.run_id,
                mode=self.mode,
                policy=self.policy.to_dict(),
                origins=origins,
                crawl_id=self.crawl_id,
                policy_hash=self.policy.hash,
                reason=reason,
                command=self.command,
                sizes=self.sizes(),
                totals={
                    k: int(stats.get_value(f"noai_guard/{k}", 0) or 0)
                    for k in ("request_count", "skipped", "dropped", "flagged", "allowed")
                },
            )
        )
        self.flush_counts()  # the summary record's own count
        self._closed = True
        if self.audit is not None:
            try:
                self.audit.close()
            except OSError as exc:
                self.failed(exc)

    # -- records ---------------------------------------------------------------

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` to the trail; a failure closes the spider (see :meth:`failed`).

        Returns normally either way: the caller still enforces the decision it records.
        """
        if self._closed:
            # A record after the summary (the shell's engine thread, after the exit hook
            # closed the trail): counted as lost, the file is not reopened.
            self.stats.inc_value("noai_guard/audit/error_count")
            return
        try:
            if self.audit is None:
                self.audit = auditlog.JsonLinesAuditLog(self.path, fsync=self.fsync)
                self.audit.open()
            self.audit.write(record)
        except OSError as exc:
            self.failed(exc)
            return
        self._count("noai_guard/audit/record_count")

    def record(self, decision: Decision, action: str, phase: str, origin: str) -> None:
        self.write(
            auditlog.decision_record(
                decision, action=action, phase=phase, run_id=self.run_id, mode=self.mode, origin=origin
            )
        )

    def failed(self, exc: OSError) -> None:
        """Count a record the trail did not take; the first failure is logged once and closes the spider.

        A crawl whose decisions cannot be recorded stops (reason :data:`AUDIT_FAILED`),
        after the skip or drop at hand is enforced: every later record is counted as
        lost (``noai_guard/audit/error_count``), not logged again.
        """
        self.stats.inc_value("noai_guard/audit/error_count")
        if self._error is not None:
            return
        self._error = exc
        logger.error(
            "noai_guard: cannot write the audit trail %(path)s (NOAI_GUARD_AUDIT_URI): %(error)s; "
            "closing the spider (%(reason)s)",
            {"path": self.path, "error": exc.strerror or exc, "reason": AUDIT_FAILED},
            extra={"spider": self.crawler.spider},
        )
        if self._running:
            self._close_spider()

    def _close_spider(self) -> None:
        """Close the spider (reason AUDIT_FAILED) from the event loop, not inside a middleware call."""
        engine = self.crawler.engine

        def close() -> None:
            if hasattr(engine, "close_spider_async"):  # Scrapy >= 2.14
                dfd = deferred_from_coro(engine.close_spider_async(reason=AUDIT_FAILED))
            else:  # pragma: no cover - Scrapy 2.13
                dfd = engine.close_spider(cast("Spider", self.crawler.spider), AUDIT_FAILED)
            dfd.addErrback(lambda f: logger.debug("noai_guard: close_spider: %(f)s", {"f": f}))

        try:
            from scrapy.utils.asyncio import call_later
        except ImportError:  # pragma: no cover - Scrapy 2.13
            from twisted.internet import reactor

            cast("Any", reactor).callLater(0, close)
        else:
            call_later(0, close)

    # -- counts ----------------------------------------------------------------

    def counts(self, origin: str) -> OriginCounts:
        c = self._origins.get(origin)
        if c is None:
            if len(self._origins) >= _SUMMARY_ORIGINS:
                origin = _OTHER_ORIGINS
                c = self._origins.get(origin)
            if c is None:
                c = self._origins[origin] = OriginCounts()
        return c

    def evaluated(self, origin: str) -> OriginCounts:
        """Count one response judged for ``origin`` whose request half did not run."""
        counts = self.counts(origin)
        counts.evaluated += 1
        return counts

    def requested(self, origin: str, site: list[Signal] | None = None) -> OriginCounts:
        """Count one request judged before its fetch (``noai_guard/request_count``, batched).

        ``site``: its site signals, whose unknowns are counted too
        (:meth:`count_unknowns`; one call per request, the common case inline).
        """
        counts = self._origins.get(origin)
        if counts is None:
            counts = self.counts(origin)
        counts.evaluated += 1
        self._pending_requests += 1
        if self._pending_requests >= STATS_BATCH:
            self.flush_counts()
        if site:
            for s in site:
                if s.verdict is Verdict.UNKNOWN:
                    self.count_unknowns(site, counts)
                    break
        return counts

    def allowed(self, origin: str) -> None:
        """Count one response of ``origin`` let through (``noai_guard/allowed``, batched)."""
        counts = self._origins.get(origin)
        if counts is None:
            counts = self.counts(origin)
        counts.allowed += 1
        self._pending_allowed += 1
        if self._pending_allowed >= STATS_BATCH:
            self.flush_counts()

    def kept_bytes(self, origin: str, size: int, content_type: bytes | str | None = None) -> None:
        """Add the body bytes of one allowed page of ``origin``, as the spider gets it (the summary's ``sizes``)."""
        self.counts(origin).allowed_bytes += size
        add_type(self._types, media_type(content_type), 1, size)

    def sizes(self) -> dict[str, Any]:
        """The summary's ``sizes``: pages and body bytes allowed per origin, the top
        :data:`~noai_guard.sizes.SIZES_TOP` by bytes and an ``other`` total (:mod:`noai_guard.sizes`)."""
        pooled = self._origins.get(_OTHER_ORIGINS)  # origins past the summary's row limit
        return sizes_section(
            ((o, c.allowed, c.allowed_bytes) for o, c in self._origins.items() if o != _OTHER_ORIGINS),
            measure=MEASURE_CRAWL,
            limit=self.sizes_top,
            other=(pooled.allowed, pooled.allowed_bytes) if pooled is not None else (0, 0),
            types=self._types,
        )

    def fetched(self, origin: str, kind: str, status_class: str) -> None:
        """Count one site-file fetch outcome in the origin's summary row."""
        fetch = self.counts(origin).fetch.setdefault(kind, {})
        fetch[status_class] = fetch.get(status_class, 0) + 1

    def _count(self, key: str) -> None:
        """``stats.inc_value(key)``, batched (:data:`STATS_BATCH`; all of them at close)."""
        pending = self._pending
        pending[key] = pending.get(key, 0) + 1
        self._pending_n += 1
        if self._pending_n >= STATS_BATCH:
            self.flush_counts()

    def flush_counts(self) -> None:
        if self._pending_requests:
            self.stats.inc_value("noai_guard/request_count", self._pending_requests)
            self._pending_requests = 0
        if self._pending_allowed:
            self.stats.inc_value("noai_guard/allowed", self._pending_allowed)
            self._pending_allowed = 0
        if self._pending:
            pending, self._pending, self._pending_n = self._pending, {}, 0
            for key, n in pending.items():
                self.stats.inc_value(key, n)

    def count_unknowns(self, sigs: list[Signal], counts: OriginCounts) -> None:
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
                self._count(f"noai_guard/unknown_count/{s.name}")
        if seen:
            counts.unknown += 1

    def blocked(
        self, decision: Decision, counts: OriginCounts, phase: str, origin: str, request: Request
    ) -> None:
        """Record a blocking decision (flushed before the caller raises), count and log it."""
        signal = decision.signal or "unknown"
        if self.enforce:
            action = auditlog.SKIPPED if phase == auditlog.PRE_FETCH else auditlog.DROPPED
        else:
            action = auditlog.FLAGGED
        self.record(decision, action, phase, origin)
        self._count(f"noai_guard/{action}")
        self._count(f"noai_guard/reason_count/{signal}")
        setattr(counts, action, getattr(counts, action) + 1)
        counts.by_signal[signal] = counts.by_signal.get(signal, 0) + 1
        if self.log_debug:
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


def _close_at_exit_hook(ref: weakref.ReferenceType[Trail]) -> Any:
    """An atexit hook: the summary of a trail whose spider was never closed (``scrapy shell``)."""

    def close_at_exit() -> None:
        trail = ref()
        if trail is None or not trail._running:
            return
        try:
            trail.close(EXIT_REASON)
        except Exception as exc:  # noqa: BLE001  # never a traceback at interpreter exit
            logger.error("noai_guard: cannot write the audit trail's summary at exit: %(exc)r", {"exc": exc})
        else:
            logger.info(
                "noai_guard: the spider was not closed (%(command)s); summary written at exit to %(path)s",
                {"command": f"scrapy {trail.command}" if trail.command else "process exit", "path": trail.path},
            )

    return close_at_exit
