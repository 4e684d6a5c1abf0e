"""Internal: names the crawl components share: request meta keys, priorities, the close reason.

Internal to :mod:`noai_guard.crawl`; the public ones are re-exported by
:mod:`noai_guard.middleware`.
"""

from __future__ import annotations

#: Request meta key: ``True`` lets the request through unchecked (counted).
META_BYPASS = "dont_obey_noai"
#: Request/response meta key: the :class:`~noai_guard.decision.Decision` taken.
META_DECISION = "noai_guard_decision"
# Private meta keys: the pre-fetch judgement (url, origin, judgement), and the mark
# (and byte count) of noai_guard's own site-file requests.
META_SITE = "_noai_guard_site"
META_FILE = "_noai_guard_file"

#: The spider's close reason when the audit trail cannot be written.
AUDIT_FAILED = "noai_guard_audit_failed"

#: Where the addon installs the two components.
REQUEST_PRIORITY = 90  # after OffsiteMiddleware (50), before RobotsTxtMiddleware (100)
RESPONSE_PRIORITY = 950  # process_response before HttpCacheMiddleware (900) stores
#: Where the add-on installs the item provenance spider middleware: on the engine side of
#: every built-in one, so it stamps the items as the spider middlewares leave them.
PROVENANCE_PRIORITY = 10
