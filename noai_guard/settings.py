"""Default values of the ``NOAI_GUARD_*`` Scrapy settings, and the one place
that turns settings into a :class:`~noai_guard.policy.Policy`.

Order as in Scrapy's ``default_settings.py``: the enabling flag first, then
alphabetical.  Every setting is read once, when the middleware is built
(settings -> ``from_crawler`` -> ``__init__``), so per-spider
``custom_settings`` apply.  ``settings_example.py`` shows each one with its
meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import decision as d
from .decision import Verdict
from .policy import DEFAULT_UNKNOWN_AS, Policy
from .tokens import default_proxy_tokens, product_token

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

# Enabling flag: False until the add-on is listed in ADDONS (it sets True).
NOAI_GUARD_ENABLED = False

# Write a decision record for every allowed response too (not only for the
# skipped / dropped / flagged ones and unknowns resolved to allow).
NOAI_GUARD_AUDIT_ALLOWED = False

# fsync the trail after every record (survives a power loss, costs ~140 µs a
# record); without it each record is still flushed to the OS, so it survives a
# crash or SIGKILL of the crawler.
NOAI_GUARD_AUDIT_FSYNC = False

# Where the audit trail goes: a path (or file:// URI) with %(name)s (spider
# name) and %(time)s placeholders, as in FEEDS.  Never empty: the trail cannot
# be switched off.
NOAI_GUARD_AUDIT_URI = "noai-guard-audit/%(name)s-%(time)s.jsonl"

# How many origins (scheme, host, port) the site-file cache keeps (LRU).
NOAI_GUARD_CACHE_SIZE = 10000

# Seconds a fetched robots.txt / tdmrep.json / ai.txt is used before it is
# fetched again (RFC 9309 §2.4: SHOULD NOT be used for more than 24 hours).
NOAI_GUARD_CACHE_TTL = 86400

# False = audit-only: nothing is dropped, would-be skips are recorded as
# "flagged" and every decision is attached to request.meta["noai_guard_decision"].
NOAI_GUARD_ENFORCE = True

# Bytes of (decoded) HTML read to find the end of the head.
NOAI_GUARD_HEAD_BUDGET = 256 * 1024

# Honour DisallowAITraining (an expired draft) as a reservation.
NOAI_GUARD_HONOUR_LEGACY = False

# Also read robots <meta> tags in the <body>.
NOAI_GUARD_HTML_STRICT = False

# How many image URLs reserved by the page that embeds them are remembered (LRU).
NOAI_GUARD_IMAGE_PROVENANCE_SIZE = 100000

# noimageai reserves a page's images but not its text (default: the whole page,
# as DeviantArt asks).
NOAI_GUARD_LENIENT_NOIMAGEAI = False

# Product tokens of AI-training crawlers whose robots.txt Disallow counts as a
# site-level opt-out.  None = the packaged list; [] switches them off.
NOAI_GUARD_PROXY_TOKENS: list[str] | None = None

# The purpose decisions are taken for: ai-train, ai-input or search.
NOAI_GUARD_PURPOSE = d.AI_TRAIN

# Seconds before an unreachable robots.txt / tdmrep.json / ai.txt (5xx, 429,
# network error) is fetched again; meanwhile it stays unknown (never allow).
NOAI_GUARD_RETRY_AFTER = 300

# Signal names that are checked (decision.SIGNALS).  None = all.
NOAI_GUARD_SOURCES: list[str] | None = None

# What an unknown outcome of a signal becomes: {signal: "allow" | "reserve"},
# merged over the default {"robots-txt": "reserve"} (RFC 9309 §2.3.1.4).
NOAI_GUARD_UNKNOWN: dict[str, str] = {k: v.value for k, v in DEFAULT_UNKNOWN_AS.items()}

# What an unknown outcome of any other signal becomes.
NOAI_GUARD_UNKNOWN_DEFAULT = "allow"

# The crawler's own product tokens.  None = the product token of
# ROBOTSTXT_USER_AGENT, else of USER_AGENT.
NOAI_GUARD_USER_AGENTS: list[str] | None = None

#: Every default, by name (the middleware reads a setting, else this value).
DEFAULTS: dict[str, Any] = {k: v for k, v in dict(globals()).items() if k.startswith("NOAI_GUARD_")}


class SettingsError(ValueError):
    """A ``NOAI_GUARD_*`` setting has a value that cannot be used; names the setting."""


def _get(settings: BaseSettings, name: str) -> Any:
    value = settings.get(name)
    return DEFAULTS[name] if value is None else value


def _getlist(settings: BaseSettings, name: str) -> list[str] | None:
    value = _get(settings, name)
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"{name} must be a list of strings, got {value!r}")
    return list(value)


def get_int(settings: BaseSettings, name: str, *, minimum: int) -> int:
    value = _get(settings, name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {number}")
    return number


def get_float(settings: BaseSettings, name: str, *, minimum: float) -> float:
    value = _get(settings, name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {number}")
    return number


def get_bool(settings: BaseSettings, name: str) -> bool:
    """A boolean setting (default from :data:`DEFAULTS`); a bad value is a SettingsError naming it."""
    try:
        return bool(settings.getbool(name, DEFAULTS[name]))
    except ValueError:
        raise SettingsError(f"{name} must be a boolean, got {settings.get(name)!r}") from None


def _verdict(name: str, value: Any) -> Verdict:
    text = str(value).strip().lower()
    if text not in (Verdict.ALLOW.value, Verdict.RESERVE.value):
        raise SettingsError(f"{name}: unknown can become 'allow' or 'reserve', got {value!r}")
    return Verdict(text)


def own_tokens(settings: BaseSettings) -> tuple[str, ...]:
    """NOAI_GUARD_USER_AGENTS, else the product token of ROBOTSTXT_USER_AGENT, else of USER_AGENT."""
    tokens = _getlist(settings, "NOAI_GUARD_USER_AGENTS")
    if tokens is None:
        ua = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT") or ""
        token = product_token(str(ua))
        tokens = [token] if token else []
    tokens = [t.strip() for t in tokens if t.strip()]
    if not tokens:
        raise SettingsError(
            "no product token for the crawler: set NOAI_GUARD_USER_AGENTS, ROBOTSTXT_USER_AGENT or USER_AGENT"
        )
    return tuple(tokens)


def policy_from_settings(settings: BaseSettings) -> Policy:
    """Build and validate the :class:`Policy` the settings describe.

    Raises :class:`SettingsError` naming the setting at fault, so a bad value
    stops the crawl at start-up rather than deciding anything.
    """
    proxy = _getlist(settings, "NOAI_GUARD_PROXY_TOKENS")
    sources = _getlist(settings, "NOAI_GUARD_SOURCES")
    unknown_raw = _get(settings, "NOAI_GUARD_UNKNOWN")
    if hasattr(unknown_raw, "copy_to_dict"):  # a Scrapy BaseSettings from -s or a dict setting
        unknown_raw = unknown_raw.copy_to_dict()
    if isinstance(unknown_raw, str):
        import json

        try:
            unknown_raw = json.loads(unknown_raw) if unknown_raw.strip() else {}
        except ValueError:
            raise SettingsError(f"NOAI_GUARD_UNKNOWN must be a dict, got {unknown_raw!r}") from None
    if not isinstance(unknown_raw, Mapping):
        raise SettingsError(f"NOAI_GUARD_UNKNOWN must be a dict, got {unknown_raw!r}")
    unknown_as = dict(DEFAULT_UNKNOWN_AS)
    for signal, value in unknown_raw.items():
        if signal not in d.SIGNALS:
            raise SettingsError(f"NOAI_GUARD_UNKNOWN: unknown signal name {signal!r}")
        unknown_as[signal] = _verdict(f"NOAI_GUARD_UNKNOWN[{signal!r}]", value)
    try:
        return Policy(
            purpose=str(_get(settings, "NOAI_GUARD_PURPOSE")),
            user_agents=own_tokens(settings),
            proxy_tokens=default_proxy_tokens() if proxy is None else tuple(proxy),
            lenient_noimageai=get_bool(settings, "NOAI_GUARD_LENIENT_NOIMAGEAI"),
            honour_legacy=get_bool(settings, "NOAI_GUARD_HONOUR_LEGACY"),
            sources=frozenset(d.SIGNALS) if sources is None else frozenset(sources),
            unknown_as=unknown_as,
            unknown_default=_verdict(
                "NOAI_GUARD_UNKNOWN_DEFAULT", _get(settings, "NOAI_GUARD_UNKNOWN_DEFAULT")
            ),
            html_strict=get_bool(settings, "NOAI_GUARD_HTML_STRICT"),
            html_budget=get_int(settings, "NOAI_GUARD_HEAD_BUDGET", minimum=1024),
        )
    except ValueError as exc:
        if isinstance(exc, SettingsError):
            raise
        raise SettingsError(f"NOAI_GUARD_*: {exc}") from exc


__all__ = ["DEFAULTS", "SettingsError", "own_tokens", "policy_from_settings"]
