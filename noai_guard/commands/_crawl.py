"""Internal: run one spider in this process with Scrapy's ``CrawlerProcess`` (shared by ``demo`` and ``check``).

Imported only when a command runs, so ``noai-guard --help`` does not load Scrapy.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import __version__

#: The one line a project adds to enable noai_guard.
ADDONS = {"noai_guard.NoAIGuardAddon": 0}


def user_agent(token: str, what: str) -> str:
    """A User-Agent header whose product token is ``token`` (RFC 9309 §2.2.1)."""
    return f"{token}/{__version__} (noai-guard {what})"


class _Mute(logging.Filter):
    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(self.names)


def quiet_console(verbose: bool, mute: tuple[str, ...] = ()) -> None:
    """Leave Scrapy's log to its own handler: the handlers already on the root
    logger (the CLI's stderr handler) show warnings and errors only, and nothing
    from the loggers in ``mute``, unless ``-v``."""
    if verbose:
        return
    for handler in logging.getLogger().handlers:
        handler.setLevel(max(handler.level, logging.WARNING))
        if mute:
            handler.addFilter(_Mute(mute))


def run_spider(
    spider_cls: type[Any],
    settings: dict[str, Any],
    *,
    verbose: bool,
    mute: tuple[str, ...] = (),
    **kwargs: Any,
) -> dict[str, Any]:
    """Crawl with ``spider_cls(**kwargs)`` until it closes; returns the crawl's stats.

    Unless ``verbose``, the loggers named in ``mute`` (and their children) do
    not reach the console.
    """
    from scrapy.crawler import CrawlerProcess

    quiet_console(verbose, mute)
    process = CrawlerProcess({"TELNETCONSOLE_ENABLED": False, **settings})
    crawler = process.create_crawler(spider_cls)
    process.crawl(crawler, **kwargs)
    process.start()
    stats: dict[str, Any] = crawler.stats.get_stats() if crawler.stats else {}
    return stats
