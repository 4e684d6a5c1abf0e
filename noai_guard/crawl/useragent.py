"""Internal: a start-up WARNING when the crawler still announces itself as Scrapy.

Scrapy's default ``USER_AGENT`` (``Scrapy/VERSION (+https://scrapy.org)``) has
the product token ``Scrapy``, which the community list of AI crawlers
(ai.robots.txt) names.  Sites that copy that list disallow ``Scrapy`` in
robots.txt -- which noai_guard then honours for the crawler's own token --
or refuse it at the server, whatever the crawl is for.  The fix is the
crawler's own name: ``USER_AGENT`` (and ``NOAI_GUARD_USER_AGENTS`` for the
robots.txt token when it differs).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.settings import BaseSettings, default_settings

from ..tokens import product_token

logger = logging.getLogger(__name__)

SCRAPY_TOKEN = "scrapy"


def scrapy_user_agent(settings: BaseSettings) -> str | None:
    """The ``USER_AGENT`` / ``ROBOTSTXT_USER_AGENT`` value whose product token is ``Scrapy``, if any."""
    for name in ("USER_AGENT", "ROBOTSTXT_USER_AGENT"):
        value = settings.get(name)
        if isinstance(value, str) and product_token(value).lower() == SCRAPY_TOKEN:
            return value
    return None


def warn_scrapy_user_agent(settings: BaseSettings, tokens: tuple[str, ...], spider: Any) -> bool:
    """Log one WARNING if the crawl announces itself with Scrapy's token; True if it did."""
    ua = scrapy_user_agent(settings)
    if ua is None:
        return False
    which = "Scrapy's default USER_AGENT" if ua == default_settings.USER_AGENT else "a USER_AGENT"
    logger.warning(
        "noai_guard: the crawler runs with %(which)s (%(ua)r): its token 'Scrapy' is on the community "
        "list of AI crawlers (ai.robots.txt), so sites that copy that list disallow it in robots.txt "
        "(honoured here for own tokens %(tokens)s) or refuse it; set USER_AGENT to your crawler's own "
        "name and contact URL (e.g. 'MyBot/1.0 (+https://example.com/bot)') and, if its robots.txt "
        "token differs, NOAI_GUARD_USER_AGENTS",
        {"which": which, "ua": ua, "tokens": ", ".join(tokens)},
        extra={"spider": spider},
    )
    return True
