"""Internal: what the crawl components say when a spider opens: what is on, and what may be wrong.

Internal to :mod:`noai_guard.crawl`.  One INFO line names the mode, the
purpose, the own tokens, the sources, the site files and the trail; one more
when ``ROBOTSTXT_OBEY`` is False (noai_guard applies robots.txt all the same);
a WARNING for Scrapy's own user agent; an ERROR for a missing component or an
HTTP cache placed before the response check.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import decision as d
from ..sitefiles import PATHS
from .keys import META_BYPASS, RESPONSE_PRIORITY
from .useragent import warn_scrapy_user_agent

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

    from .guard import Guard

logger = logging.getLogger("noai_guard.crawl.guard")  # the components' logger, as before

__all__ = ["describe_sources", "log_start"]


def log_start(guard: Guard, spider: Spider) -> None:
    """The start-up lines of ``guard``'s crawl (issue 14 items 15 and 16, issue 15 item 6)."""
    policy = guard.policy
    logger.info(
        "noai_guard: on, %(mode)s; purpose %(purpose)s; own tokens %(tokens)s; sources: %(sources)s; "
        "site files per origin: %(files)s; audit trail: %(path)s",
        {
            "mode": "enforcing"
            if guard.enforce
            else "audit-only (NOAI_GUARD_ENFORCE = False: nothing dropped)",
            "purpose": policy.purpose,
            "tokens": ", ".join(policy.user_agents),
            "sources": describe_sources(policy.sources),
            "files": ", ".join(PATHS[k] for k in guard.kinds) or "none",
            "path": guard.audit_path,
        },
        extra={"spider": spider},
    )
    robots_on = [s for s in (d.ROBOTS_TXT, d.ROBOTS_TXT_PROXY) if s in policy.sources]
    if not guard.robotstxt_obey and robots_on:
        # Item 16: Scrapy's conventions do not switch noai_guard's robots.txt check off.
        logger.info(
            "noai_guard: ROBOTSTXT_OBEY is False, but noai_guard still applies robots.txt (%(signals)s) "
            "for %(tokens)s, dont_obey_robotstxt included; its skips are counted in noai_guard/skipped "
            "and noai_guard/reason_count/<signal>, not robotstxt/forbidden (request meta %(bypass)s "
            "bypasses noai_guard)",
            {
                "signals": ", ".join(robots_on),
                "tokens": ", ".join(policy.user_agents),
                "bypass": META_BYPASS,
            },
            extra={"spider": spider},
        )
    # Issue 15 item 6: Scrapy's own token is on the AI-crawler lists sites copy.
    warn_scrapy_user_agent(guard.crawler.settings, policy.user_agents, spider)
    for name in ("NoAIGuardMiddleware", "NoAIGuardResponseMiddleware"):
        if name not in guard.components:
            logger.error(
                "noai_guard: %(name)s is not enabled; add both components to DOWNLOADER_MIDDLEWARES "
                "or use the add-on",
                {"name": name},
                extra={"spider": spider},
            )
    _check_order(guard.crawler, spider)


def _check_order(crawler: Crawler, spider: Spider) -> None:
    """Warn if a response could reach the HTTP cache before the check (process_response order)."""
    engine = getattr(crawler, "engine", None)
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


def describe_sources(sources: frozenset[str]) -> str:
    """The start-up line's sources: ``all N signals``, or the ones on and the ones off."""
    on = [s for s in d.SIGNALS if s in sources]
    off = [s for s in d.SIGNALS if s not in sources]
    if not off:
        return f"all {len(on)} signals"
    return f"{', '.join(on) or 'none'} (off: {', '.join(off)})"
