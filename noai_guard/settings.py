"""Internal: default values of the ``NOAI_GUARD_*`` Scrapy settings, and the one place
that turns settings into a :class:`~noai_guard.policy.Policy`.

Order as in Scrapy's ``default_settings.py``: the enabling flag first, then
alphabetical.  Every setting is read once, when the middleware is built
(settings -> ``from_crawler`` -> ``__init__``), so per-spider
``custom_settings`` apply.  ``settings_example.py`` shows each one with its
meaning.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import decision as d
from .policy import DEFAULT_UNKNOWN_AS, Policy, PolicyError, policy_from_mapping
from .policyfile import PolicyFileError, load_policy_file
from .presets import Preset, PresetError, get_preset, preset_names
from .tokens import product_token

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

# Where the audit trail goes: a local path (or file:// URI) with %(name)s
# (spider name) and %(time)s placeholders, as in FEEDS, and %(hostname)s and
# %(pid)s: two workers of a distributed crawl started in the same second write
# two trails (%(time)s has one-second resolution).  Never empty: the trail
# cannot be switched off.  Checked when the crawl starts: a path that cannot be
# written (a directory, a path under a regular file) stops the crawl before any
# request; a write that fails later closes the spider (noai_guard_audit_failed).
NOAI_GUARD_AUDIT_URI = "noai-guard-audit/%(name)s-%(time)s-%(hostname)s-%(pid)s.jsonl"

# How many origins (scheme, host, port) the site-file cache keeps (LRU).
NOAI_GUARD_CACHE_SIZE = 10000

# Seconds a fetched robots.txt / tdmrep.json / ai.txt is used before it is
# fetched again (RFC 9309 §2.4: SHOULD NOT be used for more than 24 hours).
NOAI_GUARD_CACHE_TTL = 86400

# The crawl this process is one worker of (a distributed crawl: several processes on one
# scrapy-redis queue): written in the trail's run and summary records as ``crawl_id``, so
# that the workers' trails can be told apart (``run_id``) and put together (``crawl_id``).
# Unset: with NOAI_GUARD_SHARED_STATE_URL, the id the crawl's first worker stored there;
# without, the process is a crawl of its own (its crawl_id is its run_id).  Up to 128
# letters, digits and ``._:-``.  Give each worker its own trail with %(hostname)s and
# %(pid)s in NOAI_GUARD_AUDIT_URI.
NOAI_GUARD_CRAWL_ID: str | None = None

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

# Stamp each item a callback yields with its response's decision: True (field
# "noai_guard") or the item field's name; False: off.
NOAI_GUARD_ITEM_PROVENANCE: bool | str = False

# noimageai reserves a page's images but not its text (default: the whole page,
# as DeviantArt asks).
NOAI_GUARD_LENIENT_NOIMAGEAI = False

# A whole policy: a dict of Policy.to_dict()'s fields, or the path of a JSON
# policy file or of an audit trail (its run record's policy is replayed, as
# ``noai-guard audit --policy`` does).  The policy settings below that are set
# to something other than their default override its fields; the fields it
# leaves out come from them.  None = every field from the settings.
NOAI_GUARD_POLICY: dict[str, Any] | str | None = None

# A named, versioned policy that reproduces a published filter ("apertus", or
# "apertus@1"; ``noai-guard presets`` lists them): the base the policy settings
# below override when not at their default, recorded in the run record.  Not
# with NOAI_GUARD_POLICY.  None = no preset.
NOAI_GUARD_PRESET: str | None = None

# Product tokens of AI-training crawlers whose robots.txt Disallow counts as a
# site-level opt-out.  None = the packaged list; [] switches them off.
NOAI_GUARD_PROXY_TOKENS: list[str] | None = None

# The purpose decisions are taken for: ai-train, ai-input or search.
NOAI_GUARD_PURPOSE = d.AI_TRAIN

# Seconds before an unreachable robots.txt / tdmrep.json / ai.txt (5xx, 429,
# network error) is fetched again; meanwhile it stays unknown (never allow).
NOAI_GUARD_RETRY_AFTER = 300

# A distributed crawl's shared state (issue 17; extra noai-guard[redis]): a Redis URL
# (redis://, rediss:// or unix://), e.g. scrapy-redis's REDIS_URL.  Set, the workers share
# the site-file cache (one worker fetches an origin's files, the others read them) and the
# images reserved by the pages that embed them; unset (the default), each process keeps
# its own.  Redis unreachable mid-crawl: each worker goes on with its own state (one
# WARNING, stats noai_guard/shared_state/*); nothing is allowed for want of Redis.
NOAI_GUARD_SHARED_STATE_URL: str | None = None

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
    """A ``NOAI_GUARD_*`` setting has a value that cannot be used; names the setting.

    The message is one line: the setting, the value given and what is allowed
    (``NOAI_GUARD_PURPOSE: 'ai_train' is not a purpose; allowed: ai-train,
    ai-input, search (did you mean 'ai-train'?)``).  The crawl components log it
    once and the crawl does not start (:mod:`noai_guard.crawl.guard`).
    """


def bad_value(name: str, value: object, expected: str, allowed: str = "") -> SettingsError:
    """``NAME: VALUE is not EXPECTED; allowed: ALLOWED (did you mean ...?)``: the one format of every setting error."""
    return SettingsError(_with_hint(PolicyError(name, value, expected, allowed).message(), value, allowed))


def _with_hint(message: str, value: object, allowed: str) -> str:
    """Add ``(did you mean 'ai-train'?)`` when a string is close to one allowed name (a typo)."""
    if not isinstance(value, str) or not allowed:
        return message
    names = [a.strip() for a in allowed.split(",") if a.strip() and " " not in a.strip()]
    close = difflib.get_close_matches(value.strip().lower(), names, n=1, cutoff=0.6)
    return f"{message} (did you mean {close[0]!r}?)" if close else message


PROVENANCE_SETTING = "NOAI_GUARD_ITEM_PROVENANCE"
#: The item field ``NOAI_GUARD_ITEM_PROVENANCE = True`` writes.
DEFAULT_FIELD = "noai_guard"

_FIELD_ON = frozenset({"1", "true", "yes", "on"})
_FIELD_OFF = frozenset({"", "0", "false", "no", "off", "none"})


def provenance_field(settings: BaseSettings) -> str | None:
    """The item field NOAI_GUARD_ITEM_PROVENANCE names (``True``: :data:`DEFAULT_FIELD`), or None when off.

    ``-s NOAI_GUARD_ITEM_PROVENANCE=true`` arrives as text: the boolean words
    are read as Scrapy's ``getbool`` reads them; any other text is the field name.
    """
    value = settings.get(PROVENANCE_SETTING)
    if value is None or value is False:
        return None
    if value is True:
        return DEFAULT_FIELD
    if isinstance(value, str):
        word = value.strip()
        if word.lower() in _FIELD_OFF:
            return None
        if word.lower() in _FIELD_ON:
            return DEFAULT_FIELD
        return word
    if isinstance(value, int) and value in (0, 1):
        return DEFAULT_FIELD if value else None
    raise bad_value(PROVENANCE_SETTING, value, "an item field name or a boolean", "True, False, a field name")


def _get(settings: BaseSettings, name: str) -> Any:
    value = settings.get(name)
    return DEFAULTS[name] if value is None else value


_LIST = "a list of strings, or one comma-separated string"


def _getlist(settings: BaseSettings, name: str) -> list[str] | None:
    value = _plain(_get(settings, name))
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise bad_value(name, value, "a list of names", _LIST)
    return list(value)


def get_int(settings: BaseSettings, name: str, *, minimum: int) -> int:
    value = _get(settings, name)
    expected, allowed = f"an integer of at least {minimum}", f"a whole number >= {minimum}"
    if isinstance(value, bool):
        raise bad_value(name, value, expected, allowed)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad_value(name, value, expected, allowed) from None
    if number < minimum or (isinstance(value, float) and number != value):
        raise bad_value(name, value, expected, allowed)
    return number


def get_float(settings: BaseSettings, name: str, *, minimum: float) -> float:
    value = _get(settings, name)
    expected, allowed = f"a number of at least {minimum:g}", f"seconds >= {minimum:g}"
    if isinstance(value, bool):
        raise bad_value(name, value, expected, allowed)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise bad_value(name, value, expected, allowed) from None
    if not number >= minimum or number == float("inf"):  # also refuses NaN
        raise bad_value(name, value, expected, allowed)
    return number


_CRAWL_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def get_crawl_id(settings: BaseSettings) -> str | None:
    """NOAI_GUARD_CRAWL_ID: ``None`` when unset or empty, else the checked identifier."""
    name = "NOAI_GUARD_CRAWL_ID"
    value = _get(settings, name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not _CRAWL_ID.fullmatch(value.strip()):
        raise bad_value(name, value, "an identifier", "1 to 128 letters, digits and . _ : -")
    return value.strip()


_SHARED_SCHEMES = ("redis://", "rediss://", "unix://")


def get_shared_state_url(settings: BaseSettings) -> str | None:
    """NOAI_GUARD_SHARED_STATE_URL: ``None`` when unset or empty, else a Redis URL."""
    name = "NOAI_GUARD_SHARED_STATE_URL"
    value = _get(settings, name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not value.strip().lower().startswith(_SHARED_SCHEMES):
        raise bad_value(name, value, "a Redis URL", "redis://host:port/db, rediss://..., unix://path")
    return value.strip()


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def get_bool(settings: BaseSettings, name: str) -> bool:
    """A boolean setting (default from :data:`DEFAULTS`); a bad value is a SettingsError naming it.

    Accepts what Scrapy's ``getbool`` and the policy's boolean fields accept
    (``True``/``False``, ``1``/``0``, ``"true"``/``"false"``, ``"yes"``/``"no"``,
    ``"on"``/``"off"``, any case), and nothing else: ``"maybe"`` is an error,
    not a silent True.
    """
    value = _get(settings, name)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in (*_TRUE, *_FALSE):
        return value.strip().lower() in _TRUE
    raise bad_value(name, value, "a boolean", "True, False (or 1, 0, yes, no, on, off)")


def own_tokens(settings: BaseSettings) -> tuple[str, ...]:
    """NOAI_GUARD_USER_AGENTS, else the product token of ROBOTSTXT_USER_AGENT, else of USER_AGENT."""
    name = "NOAI_GUARD_USER_AGENTS"
    tokens = _getlist(settings, name)
    given = tokens is not None
    if tokens is None:
        ua = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT") or ""
        token = product_token(str(ua))
        tokens = [token] if token else []
    tokens = [t.strip() for t in tokens if t.strip()]
    if not tokens:
        if given:
            raise bad_value(
                name,
                _plain(settings.get(name)),
                "a list of product tokens",
                "one or more tokens such as MyBot; None: the token of ROBOTSTXT_USER_AGENT or USER_AGENT",
            )
        raise SettingsError(
            f"{name}: None and no product token in ROBOTSTXT_USER_AGENT or USER_AGENT "
            f"({settings.get('USER_AGENT')!r}); allowed: a list of tokens such as MyBot, "
            "or a USER_AGENT that starts with one"
        )
    return tuple(tokens)


# The setting of each policy field (``directives`` and ``not_checked_as`` have
# none of their own: NOAI_GUARD_POLICY carries them).
FIELD_SETTINGS: dict[str, str] = {
    "NOAI_GUARD_PURPOSE": "purpose",
    "NOAI_GUARD_USER_AGENTS": "user_agents",
    "NOAI_GUARD_PROXY_TOKENS": "proxy_tokens",
    "NOAI_GUARD_LENIENT_NOIMAGEAI": "lenient_noimageai",
    "NOAI_GUARD_HONOUR_LEGACY": "honour_legacy",
    "NOAI_GUARD_SOURCES": "sources",
    "NOAI_GUARD_UNKNOWN": "unknown_as",
    "NOAI_GUARD_UNKNOWN_DEFAULT": "unknown_default",
    "NOAI_GUARD_HTML_STRICT": "html_strict",
    "NOAI_GUARD_HEAD_BUDGET": "html_budget",
}


def _plain(value: Any) -> Any:
    """A dict setting as a dict (``-s`` and ``custom_settings`` may hand a BaseSettings)."""
    return value.copy_to_dict() if hasattr(value, "copy_to_dict") else value


def _json_object(name: str, value: Any, what: str) -> Mapping[str, Any]:
    """A dict setting given as a dict or as JSON text (``-s NAME='{...}'``)."""
    value = _plain(value)
    if isinstance(value, str) and not value.strip():
        return {}  # -s NAME= : nothing given
    if isinstance(value, str) and value.strip().startswith("{"):
        with contextlib.suppress(ValueError):  # not JSON: reported below, with the text
            value = json.loads(value)
    if not isinstance(value, Mapping):
        raise bad_value(name, value, what, "a dict, or its JSON text")
    return value


def _base_policy(raw: Any) -> dict[str, Any]:
    """NOAI_GUARD_POLICY (a dict, JSON text, or the path of a policy file or trail): its fields, validated."""
    name = "NOAI_GUARD_POLICY"
    raw = _plain(raw)
    label = name
    if isinstance(raw, (str, os.PathLike)) and not str(raw).strip().startswith("{"):
        try:
            source = load_policy_file(raw)
        except PolicyFileError as exc:
            raise SettingsError(
                f"{name}: {exc}; allowed: a dict of policy fields, its JSON text, "
                "or the path of a policy file or audit trail"
            ) from None
        data: Mapping[str, Any] = source.data
        label = f"{name} ({source.label})"
    else:
        data = _json_object(name, raw, "a dict of policy fields, or the path of a policy file or trail")
    try:
        full = policy_from_mapping(data).to_dict()
    except PolicyError as exc:
        raise SettingsError(
            _with_hint(
                exc.message(label if exc.field == "policy" else f"{label}[{exc.field!r}]"),
                exc.value,
                exc.allowed,
            )
        ) from None
    # Only the fields it gives: the others come from the settings and their defaults.
    return {k: v for k, v in full.items() if k in data}


def preset_from_settings(settings: BaseSettings) -> Preset | None:
    """NOAI_GUARD_PRESET's preset, or None; a name that is none is a SettingsError (one line)."""
    raw = settings.get("NOAI_GUARD_PRESET")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise bad_value("NOAI_GUARD_PRESET", raw, "a preset name", ", ".join(preset_names()))
    try:
        return get_preset(raw)
    except PresetError as exc:
        raise SettingsError(f"NOAI_GUARD_PRESET: {exc}") from None


def policy_from_settings(settings: BaseSettings) -> Policy:
    """Build and validate the :class:`Policy` the settings describe.

    A mapping of :meth:`Policy.to_dict`'s fields is built from the settings
    (over NOAI_GUARD_POLICY when set) and handed to the one builder,
    :func:`~noai_guard.policy.policy_from_mapping`.  A bad value raises
    :class:`SettingsError` naming the setting, the value and what is allowed
    (``NOAI_GUARD_SOURCES: 'robots' is not a signal name; allowed: robots-txt,
    ...``), so a bad value stops the crawl at start-up rather than deciding
    anything.
    """
    raw_base = settings.get("NOAI_GUARD_POLICY")
    preset = preset_from_settings(settings)
    if preset is not None and raw_base is not None:
        raise SettingsError(
            "NOAI_GUARD_PRESET: cannot be combined with NOAI_GUARD_POLICY (each gives the base "
            "policy); allowed: one of them"
        )
    if preset is not None:
        data: dict[str, Any] = dict(preset.fields)
    else:
        data = {} if raw_base is None else _base_policy(raw_base)
    labels: dict[str, str] = {}
    for name, fld in FIELD_SETTINGS.items():
        value = settings.get(name)
        if fld in data and (value is None or _plain(value) == DEFAULTS[name]):
            # NOAI_GUARD_POLICY's value stands: a setting left at its default (as a copy of
            # settings_example.py leaves them) does not override it.
            continue
        if fld == "user_agents":
            value = list(own_tokens(settings))  # the setting, else ROBOTSTXT_USER_AGENT / USER_AGENT
        elif fld == "unknown_as":
            # Merged over the base: NOAI_GUARD_POLICY's, else RFC 9309 §2.3.1.4's robots-txt reserve.
            base = data.get("unknown_as", {k: v.value for k, v in DEFAULT_UNKNOWN_AS.items()})
            given = (
                {}
                if value is None
                else _json_object(name, value, "a dict of signal name -> allow or reserve")
            )
            value = {**base, **given}
        elif value is None:
            value = DEFAULTS[name]
            if value is None:  # NOAI_GUARD_PROXY_TOKENS, NOAI_GUARD_SOURCES: the policy's default
                continue
        data[fld] = _plain(value)
        labels[fld] = name
    if preset is not None and "user_agents" in preset.fields:
        # A preset's tokens are judged beside the crawler's own, never instead of them: a live
        # crawl still obeys the robots.txt rules for its own token (RFC 9309 §2.2.1).
        own = list(own_tokens(settings))
        seen = {t.lower() for t in own}
        data["user_agents"] = own + [t for t in preset.fields["user_agents"] if t.lower() not in seen]
    try:
        return policy_from_mapping(data)
    except PolicyError as exc:
        message = exc.message(labels.get(exc.field, "NOAI_GUARD_POLICY"))
        raise SettingsError(_with_hint(message, exc.value, exc.allowed)) from None


__all__ = [
    "DEFAULTS",
    "FIELD_SETTINGS",
    "SettingsError",
    "bad_value",
    "get_bool",
    "get_float",
    "get_int",
    "own_tokens",
    "policy_from_settings",
    "preset_from_settings",
]
