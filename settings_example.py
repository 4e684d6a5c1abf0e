"""noai_guard in a Scrapy project's settings.py: the one line, and every setting.

Copy the ADDONS line; the NOAI_GUARD_* lines below show each default and are
only needed to change it.  Per-spider ``custom_settings`` work for all of them.
"""

# -- The one line: enables noai_guard and installs its two downloader middlewares
#    (and the item provenance spider middleware, off unless NOAI_GUARD_ITEM_PROVENANCE). --
ADDONS = {"noai_guard.NoAIGuardAddon": 0}

# -- Or, without the add-on, the manual equivalent: --
# NOAI_GUARD_ENABLED = True
# DOWNLOADER_MIDDLEWARES = {
#     # Before the fetch: after OffsiteMiddleware (50), before RobotsTxtMiddleware (100).
#     "noai_guard.middleware.NoAIGuardMiddleware": 90,
#     # After the fetch: process_response runs before HttpCacheMiddleware (900) stores.
#     "noai_guard.middleware.NoAIGuardResponseMiddleware": 950,
# }
# With NOAI_GUARD_ITEM_PROVENANCE on, also:
# SPIDER_MIDDLEWARES = {"noai_guard.middleware.NoAIGuardProvenanceMiddleware": 10}

# Enabling flag; the add-on sets it to True.  An explicit False here wins over the add-on.
NOAI_GUARD_ENABLED = True

# Also write a decision record for every allowed response (by default only skipped,
# dropped and flagged URLs, and unknowns resolved to allow, are recorded).
NOAI_GUARD_AUDIT_ALLOWED = False

# fsync the trail after every record: survives a power loss, costs ~140 µs a record.
# Without it each record is still flushed to the OS before the request is dropped,
# so it survives a crash or SIGKILL of the crawler.
NOAI_GUARD_AUDIT_FSYNC = False

# Where the audit trail goes (JSON lines): a path or file:// URI; %(name)s is the
# spider name, %(time)s the UTC start time, as in FEEDS; %(hostname)s and %(pid)s
# keep the trails of workers started together apart.  It cannot be empty.
NOAI_GUARD_AUDIT_URI = "noai-guard-audit/%(name)s-%(time)s-%(hostname)s-%(pid)s.jsonl"

# How many origins (scheme, host, port) the in-memory site-file cache keeps (LRU).
NOAI_GUARD_CACHE_SIZE = 10000

# Seconds a fetched robots.txt / tdmrep.json / ai.txt is used before it is fetched
# again (RFC 9309 §2.4: not more than 24 hours).
NOAI_GUARD_CACHE_TTL = 86400

# The crawl this worker belongs to (run and summary records' crawl_id; `noai-guard
# report` groups runs by it).  None: with a shared state, the first worker's id; else
# the run's own id.
NOAI_GUARD_CRAWL_ID = None

# True: reserved URLs are skipped / dropped.  False: audit-only; nothing is dropped,
# would-be skips are recorded as "flagged", and every decision is attached as
# request.meta["noai_guard_decision"] (response.meta in callbacks and pipelines).
NOAI_GUARD_ENFORCE = True

# Bytes of decoded HTML read to find the end of the <head>.  A head that does not end
# within the budget is recorded as unknown for meta-robots.
NOAI_GUARD_HEAD_BUDGET = 262144

# Honour DisallowAITraining (an expired draft) as a reservation.
NOAI_GUARD_HONOUR_LEGACY = False

# Also read robots <meta> tags in the <body>, not only in the <head>.
NOAI_GUARD_HTML_STRICT = False

# How many image, audio and video URLs reserved by the page that embeds them are
# remembered (LRU).
NOAI_GUARD_IMAGE_PROVENANCE_SIZE = 100000

# Stamp each item a spider callback yields with its response's decision (verdict,
# blocked, deciding signal, evidence cut to 160 characters, policy hash, run id):
# True writes the field "noai_guard", a string names the field; False: off.
NOAI_GUARD_ITEM_PROVENANCE = False

# noimageai reserves a page's images but lets its text through (default: it reserves
# the whole page, as DeviantArt asks).
NOAI_GUARD_LENIENT_NOIMAGEAI = False

# A whole policy to start from: a dict of Policy.to_dict()'s fields, or the path of
# a JSON policy file or of an audit trail (replays the policy of its run record).
# The policy settings here override its fields when not at their default.  None = none.
NOAI_GUARD_POLICY = None

# A named policy that reproduces a published filter ("apertus"; `noai-guard presets`
# lists them), recorded in the run record.  Not with NOAI_GUARD_POLICY.  None = none.
NOAI_GUARD_PRESET = None

# AI-training crawler tokens whose robots.txt Disallow (or X-Robots-Tag / meta scoped
# to them) counts as a site-level opt-out.  None = the packaged list; [] = off.
NOAI_GUARD_PROXY_TOKENS = None

# The purpose decisions are taken for: "ai-train", "ai-input" or "search".
NOAI_GUARD_PURPOSE = "ai-train"

# Seconds before an unreachable robots.txt / tdmrep.json / ai.txt (5xx, 429, timeout,
# DNS or connection error) is fetched again.  Until then it stays unknown; it is
# never cached as allow (RFC 9309 §2.3.1.4).
NOAI_GUARD_RETRY_AFTER = 300

# Distributed crawls (pip install 'noai-guard[redis]'): a Redis URL (e.g. the REDIS_URL of
# scrapy-redis) where the workers share site files and reserved images.  None: per process.
NOAI_GUARD_SHARED_STATE_URL = None

# Signal names to check (see noai_guard.SIGNALS).  None = all of them.  A site file
# is fetched only if a signal it feeds is on.
NOAI_GUARD_SOURCES = None

# What an unknown outcome becomes, per signal: "allow" or "reserve".  Merged over the
# default {"robots-txt": "reserve"}: an unreachable robots.txt means complete disallow.
NOAI_GUARD_UNKNOWN = {"robots-txt": "reserve"}

# What an unknown outcome of any other signal becomes (recorded in the trail either way).
NOAI_GUARD_UNKNOWN_DEFAULT = "allow"

# The crawler's own product tokens, matched against robots.txt groups, X-Robots-Tag
# scopes and <meta name=TOKEN>.  None = the token of ROBOTSTXT_USER_AGENT, else of
# USER_AGENT (e.g. "MyBot/1.0 (+https://...)" -> "MyBot").
NOAI_GUARD_USER_AGENTS = None

# Request meta keys:
#   "dont_obey_noai": True  -> the request is not checked (counted in noai_guard/bypassed).
#   "noai_guard_decision"   -> set by noai_guard: the Decision for the request / response.
