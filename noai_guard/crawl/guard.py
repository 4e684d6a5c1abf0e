"""Internal: the state both crawl components share, one per crawler: settings, lifecycle, and the judging hooks.

Internal to :mod:`noai_guard.crawl`.  :class:`Guard` reads the settings once,
owns the engine's :class:`~noai_guard.engine.Judge` and the three helpers
(:class:`~noai_guard.crawl.sitefetch.SiteFetcher`,
:class:`~noai_guard.crawl.trail.Trail`,
:class:`~noai_guard.crawl.media.MediaStore`), writes the run and summary
records at spider_opened / spider_closed, and turns a request or a response
into the engine's inputs, then acts on the judgement: skip, drop, flag or let
through.  It decides nothing itself: every decision is the judge's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary, WeakSet

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response

from .. import auditlog
from .. import decision as d
from ..decision import Decision, Verdict
from ..engine import Judge, Judgement, Page, SiteFiles
from ..evaluate import SiteEval
from ..presets import preset_record
from ..settings import (
    DEFAULTS,
    SettingsError,
    get_bool,
    get_crawl_id,
    get_float,
    get_int,
    get_shared_state_url,
    policy_from_settings,
    preset_from_settings,
    provenance_field,
)
from ..sitefiles import KINDS, Kind
from .command import HAND_RUN, scrapy_command
from .keys import META_DECISION, META_SITE
from .licences import Licences
from .media import MediaStore
from .page import origin as _origin
from .page import page_of, url_key
from .shared import SharedState
from .shared import sleep as _sleep
from .sitefetch import SiteFetcher
from .startup import log_start
from .trail import Trail, audit_path

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

    from ..policy import Policy

logger = logging.getLogger(__name__)

__all__ = ["Guard"]

# Which signals each site file feeds: a file is fetched only if one is on.
_KIND_SIGNALS: dict[Kind, frozenset[str]] = {
    "robots": frozenset(
        {
            d.ROBOTS_TXT,
            d.ROBOTS_TXT_PROXY,
            d.CONTENT_USAGE,
            d.CONTENT_SIGNAL,
            d.RSL_LICENSE,
            d.RSL,  # the licence is named by robots.txt's License: record
            d.LEGACY_AI_TRAINING,
        }
    ),
    "tdmrep": frozenset({d.TDMREP}),
    "ai-txt": frozenset({d.AI_TXT}),
}

# The signal an unreachable site file leaves unknown.
_KIND_SIGNAL: dict[Kind, str] = {"robots": d.ROBOTS_TXT, "tdmrep": d.TDMREP, "ai-txt": d.AI_TXT}

# Request meta key: the origin of an allowed page whose body bytes response_received counts.
_META_SIZE = "_noai_guard_size_origin"

_GUARDS: WeakKeyDictionary[Crawler, Guard] = WeakKeyDictionary()
# Crawlers already told (once, at INFO) that noai_guard is disabled: both components ask.
_DISABLED_TOLD: WeakSet[Crawler] = WeakSet()
# URLs whose block was told at INFO in a hand-run command (once per URL), bounded.
_TOLD_URLS = 4096
_PRIORITY_NAMES = {
    0: "Scrapy's default",
    10: "the command",
    15: "an add-on",
    20: "the project settings",
    30: "the spider's custom_settings",
    40: "the command line (-s)",
}


def _refuse_to_start(error: SettingsError) -> None:
    """A bad setting: one ERROR line, and the crawl does not start (the exception goes on).

    Scrapy reports a component that raises in ``from_crawler`` by letting the
    exception end the crawl task: ``scrapy crawl`` then exits with status 1,
    before "Spider opened" and before any request.  Under the asyncio
    ``AsyncCrawlerProcess`` (Scrapy's default with the asyncio reactor, and
    reactorless) the task's exception is never retrieved, so asyncio adds a
    traceback of some thirty lines to stderr that says nothing the line below
    does not.  The task's exception is marked retrieved when it is this error
    (whoever awaits the task, a script, still gets it raised); any other
    exception is reported as asyncio would have.
    """
    logger.error("noai_guard: %(error)s; the crawl is not started", {"error": str(error)})
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running event loop: a Twisted-only reactor reports it its own way
        return
    if task is None:
        return

    def retrieved(t: asyncio.Task[Any]) -> None:
        if t.cancelled():
            return
        exc = t.exception()  # marks it retrieved
        if exc is not None and exc is not error:
            t.get_loop().call_exception_handler(
                {"message": "Task exception was never retrieved", "exception": exc, "task": t}
            )

    task.add_done_callback(retrieved)


def _tell_disabled(crawler: Crawler) -> None:
    """Once per crawler, at INFO: the components are installed but NOAI_GUARD_ENABLED is false."""
    if crawler in _DISABLED_TOLD:
        return
    _DISABLED_TOLD.add(crawler)
    settings = crawler.settings
    prio = settings.getpriority("NOAI_GUARD_ENABLED") or 0
    by = _PRIORITY_NAMES.get(prio, f"priority {prio}")
    how = (
        "add noai_guard.NoAIGuardAddon to ADDONS to enable it"
        if prio == 0
        else "remove that setting or set it to True to enable it"
    )
    logger.info(
        "noai_guard: disabled (NOAI_GUARD_ENABLED = %(value)r, from %(by)s): no request is checked for "
        "AI opt-outs and no audit trail is written; %(how)s",
        {"value": settings.get("NOAI_GUARD_ENABLED"), "by": by, "how": how},
    )


class Guard:
    """Everything both components share: the policy and its judge, site files, media, the trail."""

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> Guard:
        guard = _GUARDS.get(crawler)
        if guard is None:
            try:
                guard = cls(crawler)
            except SettingsError as exc:
                _refuse_to_start(exc)
                raise
            _GUARDS[crawler] = guard
        return guard

    def __init__(self, crawler: Crawler) -> None:
        settings: BaseSettings = crawler.settings
        if not get_bool(settings, "NOAI_GUARD_ENABLED"):
            _tell_disabled(crawler)
            raise NotConfigured  # no message: Scrapy would log one WARNING per component
        self.crawler = crawler
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.policy: Policy = policy_from_settings(settings)
        self.preset = preset_from_settings(settings)  # checked by policy_from_settings
        self.enforce = get_bool(settings, "NOAI_GUARD_ENFORCE")
        provenance_field(settings)  # checked here too: a bad value ends the crawl before it starts
        self.audit_allowed = get_bool(settings, "NOAI_GUARD_AUDIT_ALLOWED")
        fsync = get_bool(settings, "NOAI_GUARD_AUDIT_FSYNC")
        uri = settings.get("NOAI_GUARD_AUDIT_URI", DEFAULTS["NOAI_GUARD_AUDIT_URI"])
        if not isinstance(uri, str) or not uri.strip():
            # The trail is the product's proof: it cannot be switched off.
            raise SettingsError(
                "NOAI_GUARD_AUDIT_URI is empty: the audit trail cannot be switched off; "
                f"leave it unset for the default {DEFAULTS['NOAI_GUARD_AUDIT_URI']!r}"
            )
        self.audit_uri = uri.strip()
        path = audit_path(self.audit_uri, self._spider_name())  # a bad path stops the crawl here
        self.ttl = get_float(settings, "NOAI_GUARD_CACHE_TTL", minimum=0.0)
        self.retry_after = get_float(settings, "NOAI_GUARD_RETRY_AFTER", minimum=0.0)
        self.cache_size = get_int(settings, "NOAI_GUARD_CACHE_SIZE", minimum=1)
        image_size = get_int(settings, "NOAI_GUARD_IMAGE_PROVENANCE_SIZE", minimum=0)
        # Bytes of a reserving page searched for the images it embeds: all Scrapy downloads.
        self.body_limit = settings.getint("DOWNLOAD_MAXSIZE") or 1 << 30
        self.kinds: tuple[Kind, ...] = tuple(k for k in KINDS if _KIND_SIGNALS[k] & self.policy.sources)
        self.images_on = d.EMBEDDING_PAGE in self.policy.sources and image_size > 0
        # Reuse for Scrapy's RobotsTxtMiddleware: its robots.txt request is
        # answered from noai_guard's fetch, so the file is downloaded once.
        self.robotstxt_obey = settings.getbool("ROBOTSTXT_OBEY")
        self.reuse_robots = self.robotstxt_obey and "robots" in self.kinds
        self.components: set[str] = set()
        # Item 18: in a command run by hand on a URL (scrapy fetch / shell / parse / view), a
        # blocked request is told at INFO, once per URL; a crawl keeps them at DEBUG (as
        # Scrapy's "Forbidden by robots.txt") and counts them in the stats.
        self.command = scrapy_command()
        self.tell_blocked = self.command in HAND_RUN
        self._told: OrderedDict[str, None] = OrderedDict()

        # The judge keeps one SiteEval per origin (as many as the file cache holds
        # origins) and one decision memo shared by all of them.
        self.judge = Judge(self.policy, cache_size=self.cache_size, memo_size=8192)
        self.trail = Trail(
            crawler,
            path=path,
            fsync=fsync,
            policy=self.policy,
            enforce=self.enforce,
            run_id=auditlog.new_run_id(),
            crawl_id=get_crawl_id(settings),
        )
        self.sites = SiteFetcher(
            crawler,
            kinds=self.kinds,
            ttl=self.ttl,
            retry_after=self.retry_after,
            cache_size=self.cache_size,
            reuse_robots=self.reuse_robots,
            fetched=self.trail.fetched,
            blocks_if_unreachable=frozenset(k for k in self.kinds if self._reserves_unknown(_KIND_SIGNAL[k])),
        )
        self.licences = Licences(self.sites, self.judge, on=d.RSL in self.policy.sources)
        self.media = MediaStore(image_size)
        # Issue 17: a distributed crawl's shared state (site files, reserved media, crawl id).
        self.shared = self._shared_state(settings, image_size)
        self.sites.shared = self.shared
        if self.shared is not None and get_crawl_id(settings) is None:
            self.trail.crawl_id = self.shared.crawl_id() or self.trail.crawl_id
        self._media_urls = self.media.urls  # the store's own mapping: empty until a page reserves images
        # Per origin: until when its files and evaluator may be used without looking at the
        # file cache (the first of its files to expire), LRU like the file cache.
        self._ready: OrderedDict[str, tuple[float, SiteFiles, SiteEval]] = OrderedDict()

        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.response_received, signal=signals.response_received)

    def _shared_state(self, settings: BaseSettings, image_size: int) -> SharedState | None:
        url = get_shared_state_url(settings)
        if url is None:
            return None
        timeout = settings.getfloat("DOWNLOAD_TIMEOUT") or 180.0
        return SharedState(
            self.crawler,
            url,
            namespace=f"noai_guard:{self._spider_name()}:",
            ttl=self.ttl,
            media_size=max(1, image_size),
            media_scope=self.policy.hash[:16],
            # One fetch of a file (and a redirect or two) under the lock; a dead holder's expires.
            lock_timeout=2 * timeout + 5,
        )

    def _reserves_unknown(self, signal: str) -> bool:
        """Does an unknown outcome of ``signal`` block under the policy (NOAI_GUARD_UNKNOWN)?"""
        policy = self.policy
        if signal not in policy.sources:
            return False
        return policy.unknown_as.get(signal, policy.unknown_default) is Verdict.RESERVE

    @property
    def audit_path(self) -> str:
        return self.trail.path

    @property
    def mode(self) -> str:
        return self.trail.mode

    @property
    def run_id(self) -> str:
        return self.trail.run_id

    # -- lifecycle -------------------------------------------------------------

    def _spider_name(self) -> str:
        spider = self.crawler.spider
        return str(getattr(spider, "name", None) or "spider")

    def spider_opened(self, spider: Spider) -> None:
        self.trail.start(
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
                **({"preset": preset_record(self.preset, self.policy)} if self.preset is not None else {}),
            ),
        )
        if self.tell_blocked:
            self.trail.log_debug = False  # told at INFO instead (_tell), not twice
        log_start(self, spider)

    def response_received(self, response: Response, request: Request, spider: Spider | None = None) -> None:
        """Issue 18: the body bytes of an allowed page, as the spider gets it (after every downloader
        middleware: HttpCompressionMiddleware has undone the content coding), into the summary's sizes."""
        origin = request.meta.pop(_META_SIZE, None)
        if origin is not None:
            self.trail.kept_bytes(origin, len(response.body), response.headers.get(b"Content-Type"))

    def spider_closed(self, spider: Spider, reason: str = "") -> None:
        self.trail.close(reason)
        stats = self.stats
        lost = int(stats.get_value("noai_guard/audit/error_count", 0) or 0)
        logger.info(
            "noai_guard: %(skipped)d skipped, %(dropped)d dropped, %(flagged)d flagged; "
            "audit trail: %(path)s%(lost)s",
            {
                "skipped": stats.get_value("noai_guard/skipped", 0),
                "dropped": stats.get_value("noai_guard/dropped", 0),
                "flagged": stats.get_value("noai_guard/flagged", 0),
                "path": self.audit_path,
                "lost": f" (INCOMPLETE: {lost} record(s) not written)" if lost else "",
            },
            extra={"spider": spider},
        )

    # -- the origin's files, judged ----------------------------------------------

    async def _evaluator(self, origin: str) -> tuple[SiteFiles, SiteEval]:
        """The origin's site files and the judge's evaluator of them, fetching the files if needed.

        Kept in ``_ready`` (LRU, bounded like the file cache) until the first of
        the files expires, so a request to a known origin needs one lookup.
        """
        sites = self.sites
        files = sites.cached_files(origin)
        if files is None:
            files = await sites.fetch_files(origin)
        site = sites.site_files(origin, files)
        expires = sites.expires(origin, files)
        site, expires = await self.licences.with_site_licence(site, expires)  # RSL 1.0 License:
        ev = self.judge.site_eval(site)
        if expires > time.monotonic():
            self._ready[origin] = (expires, site, ev)
            self._ready.move_to_end(origin)
            while len(self._ready) > self.cache_size:
                self._ready.popitem(last=False)
        return site, ev

    # -- before the fetch --------------------------------------------------------

    def before_fetch(self, request: Request) -> Coroutine[Any, Any, None] | None:
        """Judge ``request`` before the fetch; raises IgnoreRequest to skip it.

        Synchronous when the origin's site files are known (every request but
        the first ones per origin and TTL); otherwise returns a coroutine that
        fetches them first.
        """
        url = request.url
        origin = _origin(url)
        media = self.media.get(url) if self._media_urls else None
        if media is None and self.shared is not None and self.shared.ok and self.images_on:
            media = self.shared.media_get(url_key(url))  # reserved by a page another worker fetched
        if media is not None:
            # Item 4: an image reserved by the page that embeds it; the page is the evidence.
            self._judge_pre(request, url, origin, self.judge.by_embedding_page(url, media))
            return None
        ready = self._ready.get(origin)
        if ready is None or ready[0] <= time.monotonic():
            return self._before_fetch_files(request, url, origin)
        self._ready.move_to_end(origin)
        self._judge_pre(request, url, origin, self.judge.before_fetch(url, ready[1], evaluator=ready[2]))
        visits = self.sites.slots.visits
        if visits and origin in visits:  # files fetched less than one delay ago (item 19)
            wait = self.sites.slots.page_wait(origin, request)
            if wait > 0:
                return _sleep(wait)
        return None

    async def _before_fetch_files(self, request: Request, url: str, origin: str) -> None:
        files, ev = await self._evaluator(origin)
        self._judge_pre(request, url, origin, self.judge.before_fetch(url, files, evaluator=ev))
        # Item 19: the files were one visit of the site; its first page waits the slot's
        # delay after it (FileSlots.file_slot), not one delay per file.
        wait = self.sites.slots.page_wait(origin, request)
        if wait > 0:
            await _sleep(wait)

    def _judge_pre(self, request: Request, url: str, origin: str, judgement: Judgement) -> None:
        decision = judgement.decision
        meta = request.meta
        meta[META_SITE] = (url, origin, judgement)
        meta[META_DECISION] = decision
        counts = self.trail.requested(origin, judgement.site)  # with the site signals' unknowns
        if decision.blocked:
            self.trail.blocked(decision, counts, auditlog.PRE_FETCH, origin, request)
            if self.tell_blocked:
                self._tell(decision, auditlog.PRE_FETCH, request)
            if self.enforce:
                raise IgnoreRequest(f"noai_guard: {decision.reason}")

    # -- after the fetch ---------------------------------------------------------

    def after_fetch(self, request: Request, response: Response) -> Response | Coroutine[Any, Any, Response]:
        """Judge ``response``; raises IgnoreRequest to drop it.

        Synchronous when the request half judged this URL (the usual case);
        otherwise returns a coroutine that evaluates the site files first.
        """
        url = request.url
        stash = request.meta.get(META_SITE)
        if stash is None or stash[0] != url:  # e.g. a response served before the request half ran
            return self._after_fetch_files(request, response, url)
        before: Judgement = stash[2]
        return self._judge_post(request, response, url, stash[1], before, before.decision)

    async def _after_fetch_files(self, request: Request, response: Response, url: str) -> Response:
        origin = _origin(url)
        counts = self.trail.evaluated(origin)
        files, ev = await self._evaluator(origin)
        before = self.judge.before_fetch(url, files, evaluator=ev)
        self.trail.count_unknowns(before.site, counts)
        res = self._judge_post(request, response, url, origin, before, None)
        return res if isinstance(res, Response) else await res

    def _judge_post(
        self,
        request: Request,
        response: Response,
        url: str,
        origin: str,
        before: Judgement,
        pre: Decision | None,
    ) -> Response | Coroutine[Any, Any, Response]:
        """``pre``: the decision the request half took (and recorded, if blocking), if it ran."""
        page = page_of(url, response)
        # The judge reuses ``before``'s decision when the page adds no signal (the usual page).
        judgement = self.judge.after_fetch(page, None, before)
        if self.licences.on and not judgement.decision.blocked:
            finish = partial(self._finish_post, request, response, origin, page, pre=pre)
            return self.licences.after_page(url, response, before, judgement, finish)  # RSL 1.0
        return self._finish_post(request, response, origin, page, judgement, pre)

    def _finish_post(
        self,
        request: Request,
        response: Response,
        origin: str,
        page: Page,
        judgement: Judgement,
        pre: Decision | None,
    ) -> Response:
        trail = self.trail
        decision = judgement.decision
        meta = request.meta
        meta[META_DECISION] = decision
        if _META_SIZE in meta:  # a retry's copy of an earlier answer's mark: this answer is judged anew
            del meta[_META_SIZE]
        sigs = judgement.page
        if sigs:
            trail.count_unknowns(sigs, trail.counts(origin))
            if self.images_on and judgement.head is not None:  # a page's noai can only come from sigs
                self._remember_media(page, judgement)
        if decision.blocked:
            if self.enforce:
                trail.blocked(decision, trail.counts(origin), auditlog.POST_FETCH, origin, request)
                if self.tell_blocked:
                    self._tell(decision, auditlog.POST_FETCH, request)
                raise IgnoreRequest(f"noai_guard: {decision.reason}")
            if pre is None or not pre.blocked:  # one flag per URL in audit-only mode
                trail.blocked(decision, trail.counts(origin), auditlog.POST_FETCH, origin, request)
                if self.tell_blocked:
                    self._tell(decision, auditlog.POST_FETCH, request)
            return response
        if pre is not None and pre.blocked:  # audit-only: flagged before the fetch
            return response
        if decision.signal == d.ACCESS_REQUIRED:
            # Issue 15 item 5: a login or licence was asked and the content not obtained:
            # recorded (verdict unknown), not counted as allowed, the response passed on as it came.
            self.stats.inc_value(f"noai_guard/access_required/{response.status}")
            trail.record(decision, auditlog.ALLOWED, auditlog.POST_FETCH, origin)
            return response
        if 300 <= response.status < 400 and b"Location" in response.headers:
            return response  # the redirect target is a new request, judged on its own
        trail.allowed(origin)
        # Issue 18: its size is counted as the spider gets it (response_received, after decoding).
        meta[_META_SIZE] = origin
        if self.audit_allowed or decision.verdict is Verdict.UNKNOWN:
            trail.record(decision, auditlog.ALLOWED, auditlog.POST_FETCH, origin)
        # No log line per allowed page: Scrapy's root logger passes DEBUG records to its
        # handler, so even a filtered one costs a LogRecord; the stats count them.
        return response

    def _tell(self, decision: Decision, phase: str, request: Request) -> None:
        """Item 18: a blocked request of a hand-run command, at INFO, once per URL: signal and evidence."""
        url = request.url
        if url in self._told:
            return
        self._told[url] = None
        if len(self._told) > _TOLD_URLS:
            self._told.popitem(last=False)
        if not self.enforce:
            action = "flagged (audit-only, not dropped)"
        elif phase == auditlog.PRE_FETCH:
            action = "skipped before the fetch"
        else:
            action = "dropped after the fetch"
        by = decision.decided_by
        where = ""
        if by is not None and by.source:
            where = f" at {by.source}" + (f" line {by.line}" if by.line else "")
        logger.info(
            "noai_guard: %(request)s %(action)s: %(verdict)s by %(signal)s%(where)s: %(evidence)r; "
            "audit trail: %(path)s",
            {
                "request": request,
                "action": action,
                "verdict": decision.verdict.value,
                "signal": decision.signal or "unknown",
                "where": where,
                "evidence": None if by is None else by.evidence,
                "path": self.audit_path,
            },
            extra={"spider": self.crawler.spider},
        )

    def _remember_media(self, page: Page, judgement: Judgement) -> None:
        """Item 4: noai / noimageai on a page reserves the images it embeds (lenient mode too);
        noai / noml, its audio and video too (issue 15 item 0)."""
        media = self.judge.embedded_media(page, judgement, limit=self.body_limit)
        if media is not None:
            n = self.media.remember(media)
            if self.shared is not None and self.shared.ok:
                self.shared.media_put(media)  # written through: the local store stays whole
            av = len(media.av_urls) if media.av_signal is not None else 0
            if n > av:
                self.stats.inc_value("noai_guard/images/reserved", n - av)
            if av:
                self.stats.inc_value("noai_guard/audio_video/reserved", av)
