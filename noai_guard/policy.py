"""Policy (what to check, how to resolve ``unknown``) and the decision fold.

Pure code: :func:`decide` turns the :class:`~noai_guard.decision.Signal` values
that the parsers produced into one :class:`~noai_guard.decision.Decision`.
"""

from __future__ import annotations

import hashlib
import json
import reprlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

from . import decision as d
from .decision import Decision, Signal, Verdict
from .tokens import default_proxy_tokens

# Directive vocabulary for X-Robots-Tag and robots <meta>: directive -> purposes
# it reserves.  DeviantArt's terms bar noai content from training and from use
# as input to a trained system; noml (Mojeek) speaks to machine learning.
DEFAULT_DIRECTIVES: dict[str, tuple[str, ...]] = {
    "noai": (d.AI_TRAIN, d.AI_INPUT),
    "noimageai": (d.AI_TRAIN, d.AI_INPUT),
    "noml": (d.AI_TRAIN,),
}
# Directives that speak to images only (relevant to the opt-in lenient mode).
IMAGE_DIRECTIVES: frozenset[str] = frozenset({"noimageai"})

# Which signal speaks to which purpose (the README's table is built from this).
SIGNAL_PURPOSES: dict[str, tuple[str, ...]] = {
    d.ROBOTS_TXT: d.PURPOSES,
    d.ROBOTS_TXT_PROXY: (d.AI_TRAIN,),
    d.CONTENT_USAGE: d.PURPOSES,  # aipref vocab-08: train-ai, ai-use, search
    d.CONTENT_SIGNAL: (d.AI_TRAIN, d.AI_INPUT, d.SEARCH),
    d.RSL_LICENSE: (),
    d.RSL: d.PURPOSES,
    d.LEGACY_AI_TRAINING: (d.AI_TRAIN,),
    d.X_ROBOTS_TAG: (d.AI_TRAIN, d.AI_INPUT),
    d.META_ROBOTS: (d.AI_TRAIN, d.AI_INPUT),
    d.TDMREP: (d.AI_TRAIN, d.AI_INPUT),
    d.AI_TXT: (d.AI_TRAIN,),
    d.EMBEDDING_PAGE: (d.AI_TRAIN, d.AI_INPUT),
    d.IPTC_DATA_MINING: d.PURPOSES,
    d.C2PA: d.PURPOSES,
    d.ACCESS_REQUIRED: d.PURPOSES,  # not obtained: unknown for every purpose, never a block
}

# When several signals reserve, the first in this order is named as deciding:
# rules that bind the crawler's own token first, proxies and legacy last; within one
# kind, see _BINDING.
_PRECEDENCE: tuple[str, ...] = (
    d.ACCESS_REQUIRED,  # never reserves; first of the unknowns that do not block: the page was not got
    d.ROBOTS_TXT,
    d.X_ROBOTS_TAG,
    d.META_ROBOTS,
    d.TDMREP,
    d.IPTC_DATA_MINING,
    d.C2PA,
    d.CONTENT_USAGE,
    d.CONTENT_SIGNAL,
    d.EMBEDDING_PAGE,
    d.AI_TXT,
    d.ROBOTS_TXT_PROXY,
    d.LEGACY_AI_TRAINING,
    d.RSL,
    d.RSL_LICENSE,
)
_RANK = {name: i for i, name in enumerate(_PRECEDENCE)}

# TDMRep "Processing priority": each layer overrides the previous one.
_TDMREP_LAYER = {d.LOC_TDMREP_FILE: 0, d.LOC_HEADER: 1, d.LOC_META: 2}

# RFC 9309 §2.3.1.4: an unreachable robots.txt MUST be taken as complete disallow.
DEFAULT_UNKNOWN_AS: dict[str, Verdict] = {d.ROBOTS_TXT: Verdict.RESERVE}
# Policy.robots_key: a URL's robots.txt is its origin's (RFC 9309 §2.3), or its host's.
ROBOTS_KEYS: tuple[str, ...] = ("origin", "host")


@dataclass(frozen=True)
class Policy:
    """Everything that shapes a decision besides the site's own signals."""

    purpose: str = d.AI_TRAIN
    user_agents: tuple[str, ...] = ("noai-guard",)
    proxy_tokens: tuple[str, ...] = field(default_factory=default_proxy_tokens)
    directives: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_DIRECTIVES))
    lenient_noimageai: bool = False  # noimageai reserves a page's images, not its text
    honour_legacy: bool = False  # DisallowAITraining (expired draft) reserves
    sources: frozenset[str] = frozenset(d.SIGNALS)
    unknown_as: dict[str, Verdict] = field(default_factory=lambda: dict(DEFAULT_UNKNOWN_AS))
    unknown_default: Verdict = Verdict.ALLOW  # for signals not in unknown_as
    # A source the run never saw (an audit without the origin's robots.txt capture): not a
    # failed fetch, so RFC 9309 §2.3.1.4 does not apply; unknown, not counted as reserved.
    not_checked_as: Verdict = Verdict.ALLOW
    html_strict: bool = False  # also read <meta> in <body>
    html_budget: int = 256 * 1024  # bytes of HTML read to find the head's end
    # RSL 1.0: a use granted only under a licence obtained first (a licence server, a paid
    # <payment>) reserves (the terms as evidence), or is unknown (then resolved by unknown_as).
    rsl_licence_required: Verdict = Verdict.RESERVE
    # Which robots.txt a URL is judged by: its origin's (RFC 9309 §2.3: scheme, host and
    # port), or, "host", any capture for its host and port whatever the scheme (a filter
    # that keys its robots.txt files by host, as the Apertus preset's does).
    robots_key: str = "origin"

    def __post_init__(self) -> None:
        if self.purpose not in d.PURPOSES:
            raise ValueError(f"unknown purpose {self.purpose!r}; expected one of {', '.join(d.PURPOSES)}")
        unknown = set(self.sources) - set(d.SIGNALS)
        if unknown:
            raise ValueError(f"unknown signal name(s): {', '.join(sorted(unknown))}")
        for v in (*self.unknown_as.values(), self.unknown_default, self.not_checked_as):
            if v is Verdict.UNKNOWN:
                raise ValueError("unknown can only resolve to allow or reserve")
        if self.rsl_licence_required is Verdict.ALLOW:
            raise ValueError("rsl_licence_required is reserve or unknown, never allow")
        if self.robots_key not in ROBOTS_KEYS:
            raise ValueError(f"robots_key is one of {', '.join(ROBOTS_KEYS)}, not {self.robots_key!r}")

    def with_purpose(self, purpose: str) -> Policy:
        return replace(self, purpose=purpose)

    def resolve_unknown(self, signal: str) -> Verdict:
        return self.unknown_as.get(signal, self.unknown_default)

    def resolve(self, s: Signal) -> Verdict:
        """How an ``unknown`` signal is resolved: not checked, or by its name.

        ``access-required`` never blocks: the content was not obtained (noai_guard.access).
        """
        if s.name == d.ACCESS_REQUIRED:
            return Verdict.ALLOW
        return self.not_checked_as if not s.checked else self.unknown_as.get(s.name, self.unknown_default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "user_agents": list(self.user_agents),
            "proxy_tokens": list(self.proxy_tokens),
            "directives": {k: list(v) for k, v in sorted(self.directives.items())},
            "lenient_noimageai": self.lenient_noimageai,
            "honour_legacy": self.honour_legacy,
            "sources": sorted(self.sources),
            "unknown_as": {k: v.value for k, v in sorted(self.unknown_as.items())},
            "unknown_default": self.unknown_default.value,
            "not_checked_as": self.not_checked_as.value,
            "html_strict": self.html_strict,
            "html_budget": self.html_budget,
            # Written only when changed, so the hash of every policy before RSL stays the same.
            **(
                {"rsl_licence_required": self.rsl_licence_required.value}
                if self.rsl_licence_required is not Verdict.RESERVE
                else {}
            ),
            **({"robots_key": self.robots_key} if self.robots_key != "origin" else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """The policy a mapping describes: :meth:`to_dict`'s form, a JSON policy file, a run record's.

        Every key is optional (the default applies); an unknown key or a bad
        value raises :class:`PolicyError` naming the field, the value and what
        is allowed.  ``Policy.from_dict(p.to_dict()) == p`` for every policy
        whose names are as the builder leaves them (directive names lower-case,
        no white space around a name).
        """
        return policy_from_mapping(data)

    @cached_property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON form: names the policy in every record."""
        return policy_hash(self.to_dict())

    @cached_property
    def own_tokens_lower(self) -> frozenset[str]:
        return frozenset(u.lower() for u in self.user_agents)

    @cached_property
    def proxy_tokens_lower(self) -> frozenset[str]:
        return frozenset(t.lower() for t in self.proxy_tokens)

    def is_own(self, token: str) -> bool:
        return token.lower() in self.own_tokens_lower


class PolicyError(ValueError):
    """A policy field with a bad value: names the field, the value and what is allowed.

    ``field`` is the top-level key of :meth:`Policy.to_dict` at fault (``policy``
    for the mapping itself), ``sub`` the entry within it (``['noai']``), so that
    an adapter can name the field its own way (a Scrapy setting, a command-line
    flag, a policy file) with :meth:`message`.
    """

    def __init__(
        self, field_name: str, value: object, expected: str, allowed: str = "", *, sub: str = ""
    ) -> None:
        self.field = field_name
        self.sub = sub
        self.value = value
        self.expected = expected
        self.allowed = allowed
        super().__init__(self.message())

    def message(self, label: str | None = None) -> str:
        """One line: ``LABEL: VALUE is not EXPECTED; allowed: ALLOWED`` (label: the field's name)."""
        text = f"{label or self.field}{self.sub}: {_short_repr(self.value)} is not {self.expected}"
        return text + (f"; allowed: {self.allowed}" if self.allowed else "")


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 120
_REPR.maxlist = _REPR.maxdict = _REPR.maxset = _REPR.maxtuple = 8


def _short_repr(value: object) -> str:
    return _REPR.repr(value)


def canonical_json(policy: Mapping[str, Any]) -> str:
    """The canonical JSON text of a policy dict (:meth:`Policy.to_dict`): what the hash hashes."""
    return json.dumps(policy, sort_keys=True, separators=(",", ":"), default=str)


def policy_hash(policy: Mapping[str, Any]) -> str:
    """SHA-256 of a policy's canonical JSON form: the one policy hash (records, reports)."""
    return hashlib.sha256(canonical_json(policy).encode()).hexdigest()


_VERDICTS = "allow, reserve"
_BOOLS = "true, false"


def _verdict_field(name: str, value: object, sub: str = "") -> Verdict:
    if isinstance(value, Verdict) and value is not Verdict.UNKNOWN:
        return value
    if isinstance(value, str) and value.strip().lower() in ("allow", "reserve"):
        return Verdict(value.strip().lower())
    raise PolicyError(name, value, "a resolution of unknown", _VERDICTS, sub=sub)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _bool_field(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in (*_TRUE, *_FALSE):
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise PolicyError(name, value, "a boolean", _BOOLS)


def _names_field(name: str, value: object, sub: str = "") -> tuple[str, ...]:
    """A list of names, or one string of names separated by commas or white space."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise PolicyError(
            name, value, "a list of names", "a list of strings, or one comma-separated string", sub=sub
        )
    return tuple(v.strip() for v in value if v.strip())


def _choices(name: str, values: Iterable[object], allowed: Iterable[str], what: str, sub: str = "") -> None:
    allowed = tuple(allowed)
    for v in values:
        if not isinstance(v, str) or v not in allowed:
            raise PolicyError(name, v, what, ", ".join(allowed), sub=sub)


def _mapping_field(name: str, value: object, what: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(name, value, what)
    return value


# Every field of a policy, as to_dict() names them.
_FIELDS = tuple(f.name for f in fields(Policy))
#: The fewest bytes of HTML read for the head (NOAI_GUARD_HEAD_BUDGET's minimum).
MIN_HTML_BUDGET = 1024


def policy_from_mapping(data: Mapping[str, Any]) -> Policy:
    """Build and validate a :class:`Policy` from a mapping of :meth:`Policy.to_dict`'s keys.

    The one builder: Scrapy settings (:func:`noai_guard.settings.policy_from_settings`),
    the commands' ``--policy`` and flags, and a run record's policy all go
    through it.  A key left out takes the default; ``unknown_as`` replaces the
    default mapping (give ``robots-txt`` to keep RFC 9309 §2.3.1.4's reserve).
    Values may be given as JSON has them (lists, strings) or as the policy
    holds them (tuples, sets, :class:`Verdict`).  A bad value raises
    :class:`PolicyError`.
    """
    if not isinstance(data, Mapping):
        raise PolicyError("policy", data, "a JSON object of policy fields")
    for key in data:
        if key not in _FIELDS:
            raise PolicyError("policy", key, "a policy field", ", ".join(_FIELDS))
    kw: dict[str, Any] = {}
    if "purpose" in data:
        _choices("purpose", [data["purpose"]], d.PURPOSES, "a purpose")
        kw["purpose"] = data["purpose"]
    if "user_agents" in data:
        uas = _names_field("user_agents", data["user_agents"])
        if not uas:
            raise PolicyError(
                "user_agents", data["user_agents"], "a list of product tokens", "one or more tokens"
            )
        kw["user_agents"] = uas
    if "proxy_tokens" in data:
        kw["proxy_tokens"] = _names_field("proxy_tokens", data["proxy_tokens"])
    if "directives" in data:
        raw = _mapping_field(
            "directives", data["directives"], "an object of directive name -> list of purposes"
        )
        dirs: dict[str, tuple[str, ...]] = {}
        for k, v in raw.items():
            if not isinstance(k, str) or not k.strip() or any(c in k for c in " \t,:"):
                raise PolicyError("directives", k, "a directive name", "a word such as noai")
            purposes = _names_field("directives", v, sub=f"[{k!r}]")
            _choices("directives", purposes, d.PURPOSES, "a purpose", sub=f"[{k!r}]")
            # Directives are matched lower-cased (directives.parse_directives).
            dirs[k.strip().lower()] = purposes
        kw["directives"] = dirs
    for name in ("lenient_noimageai", "honour_legacy", "html_strict"):
        if name in data:
            kw[name] = _bool_field(name, data[name])
    if "sources" in data:
        sources = _names_field("sources", data["sources"])
        _choices("sources", sources, d.SIGNALS, "a signal name")
        kw["sources"] = frozenset(sources)
    if "unknown_as" in data:
        raw = _mapping_field("unknown_as", data["unknown_as"], "an object of signal name -> allow or reserve")
        _choices("unknown_as", list(raw), d.SIGNALS, "a signal name")
        kw["unknown_as"] = {k: _verdict_field("unknown_as", v, f"[{k!r}]") for k, v in raw.items()}
    for name in ("unknown_default", "not_checked_as"):
        if name in data:
            kw[name] = _verdict_field(name, data[name])
    if "html_budget" in data:
        budget = data["html_budget"]
        if isinstance(budget, str) and budget.strip().isdigit():
            budget = int(budget)
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < MIN_HTML_BUDGET:
            raise PolicyError(
                "html_budget",
                data["html_budget"],
                f"an integer of at least {MIN_HTML_BUDGET}",
                "a number of bytes",
            )
        kw["html_budget"] = budget
    if "rsl_licence_required" in data:
        raw_rsl = data["rsl_licence_required"]
        value = raw_rsl.value if isinstance(raw_rsl, Verdict) else raw_rsl
        if value not in ("reserve", "unknown"):
            raise PolicyError("rsl_licence_required", raw_rsl, "reserve or unknown")
        kw["rsl_licence_required"] = Verdict(value)
    if "robots_key" in data:
        _choices("robots_key", [data["robots_key"]], ROBOTS_KEYS, "a robots.txt key")
        kw["robots_key"] = data["robots_key"]
    return Policy(**kw)


def _layer_tdmrep(signals: list[Signal]) -> list[Signal]:
    """TDMRep processing priority: file < header < meta; absence never resets."""
    set_layers = [
        _TDMREP_LAYER.get(s.location.split(":", 1)[0], 0)
        for s in signals
        if s.name == d.TDMREP and s.verdict is not None and not s.superseded
    ]
    if not set_layers:
        return signals
    top = max(set_layers)
    out = []
    for s in signals:
        if (
            s.name == d.TDMREP
            and s.verdict is not None
            and _TDMREP_LAYER.get(s.location.split(":", 1)[0], 0) < top
        ):
            s = replace(
                s,
                superseded=True,
                note=(s.note + "; " if s.note else "") + "superseded by a later TDMRep layer",
            )
        out.append(s)
    return out


def _discount(s: Signal, policy: Policy) -> Signal:
    if s.superseded:
        return s
    if s.name not in policy.sources:
        return replace(
            s, superseded=True, note=(s.note + "; " if s.note else "") + "source switched off by policy"
        )
    if s.legacy and s.verdict is Verdict.RESERVE and not policy.honour_legacy:
        return replace(
            s,
            superseded=True,
            note=(s.note + "; " if s.note else "") + "legacy signal, not honoured by policy",
        )
    return s


# Within one signal kind: a rule for the crawler's own token, then one for all agents
# (robots meta, an unscoped header, the site's signal), then one for another agent (a
# proxy token, counted by policy).  own_token True / None / False.
_BINDING = {True: 0, None: 1, False: 2}


def _rank(s: Signal) -> tuple[int, int]:
    return _RANK.get(s.name, 99), _BINDING.get(s.own_token, 1)


def decide(url: str, signals: Iterable[Signal], policy: Policy) -> Decision:
    """Fold signals into a decision for ``policy.purpose``.

    Any reservation reserves (aipref vocab §5.1 and Google's "more restrictive
    rule applies" both combine restrictively); otherwise an ``unknown`` makes
    the verdict ``unknown`` and the policy says whether that blocks.
    """
    # _discount and _layer_tdmrep, called only where they can change something: a
    # signal that is superseded already, or from a switched-on source and not an
    # unhonoured legacy reservation, is kept as it is; the layering only acts when
    # some TDMRep signal has a value (the fold below reads the same list either way).
    sources = policy.sources
    honour_legacy = policy.honour_legacy
    sigs: list[Signal] = []
    tdm_set = False
    for s in signals:
        if not s.superseded and (
            s.name not in sources or (s.legacy and s.verdict is Verdict.RESERVE and not honour_legacy)
        ):
            s = _discount(s, policy)
        if s.name == d.TDMREP and s.verdict is not None and not s.superseded:
            tdm_set = True
        sigs.append(s)
    if tdm_set:
        sigs = _layer_tdmrep(sigs)
    # One pass over the live signals (not superseded, with a verdict, for this purpose).
    # The first of each kind by precedence is taken with min(), which returns the first
    # of equal ranks in signal order, as the stable sorted(...)[0] did.
    purpose = policy.purpose
    reserves: list[Signal] = []
    unknowns: list[Signal] = []
    allows: list[Signal] = []
    for s in sigs:
        if s.superseded or s.purpose != purpose:
            continue
        if s.verdict is Verdict.RESERVE:
            reserves.append(s)
        elif s.verdict is Verdict.UNKNOWN:
            unknowns.append(s)
        elif s.verdict is Verdict.ALLOW:
            allows.append(s)
    phash = policy.hash
    if reserves:
        top = min(reserves, key=_rank)
        how = (
            "a rule for the crawler's own token"
            if top.own_token
            else (
                "a rule for another agent, counted by policy"
                if top.own_token is False
                else "the site's signal"
            )
        )
        reason = f"{top.name} reserves {policy.purpose} ({how}): {top.evidence}"
        return Decision(url, policy.purpose, Verdict.RESERVE, True, top, reason, tuple(sigs), None, phash)
    if unknowns:
        blocking = [s for s in unknowns if policy.resolve(s) is Verdict.RESERVE]
        top = min(blocking, key=_rank) if blocking else min(unknowns, key=_rank)
        res = policy.resolve(top)
        if not top.checked:
            # A source the run never saw (not_checked_as), not one that failed.
            resolution = (
                "not checked: unknown, not counted as reserved"
                if res is Verdict.ALLOW
                else "not checked: unknown, resolved to reserve by policy"
            )
            reason = f"{top.location} not checked ({top.evidence})"
        elif top.name == d.ACCESS_REQUIRED:
            resolution = "not obtained: recorded as unknown, not as consent; not blocked (nothing to block)"
            reason = f"{top.name}: a login or licence was asked, the content not obtained: {top.evidence}"
        else:
            resolution = f"unknown {top.name} resolved to {res.value} by policy"
            if top.name == d.ROBOTS_TXT and res is Verdict.RESERVE:
                resolution += " (RFC 9309 §2.3.1.4: unreachable robots.txt means complete disallow)"
            reason = f"{top.name} could not be read or states no preference: {top.evidence or top.note}"
        return Decision(
            url, policy.purpose, Verdict.UNKNOWN, bool(blocking), top, reason, tuple(sigs), resolution, phash
        )
    top_allow = min(allows, key=_rank) if allows else None
    reason = f"no signal reserves {policy.purpose}"
    return Decision(url, policy.purpose, Verdict.ALLOW, False, top_allow, reason, tuple(sigs), None, phash)


class DecisionMemo:
    """:func:`decide` for signal lists that recur, as site-file signals do.

    The site-file parsers hand out one :class:`Signal` object per matching rule,
    so the URLs of a site yield a handful of distinct lists.  A decision depends
    on the URL only through ``Decision.url``: a list made of the very same
    objects (checked by identity, and held by the memo so that no id is reused)
    gets the memoised decision re-addressed to the new URL.  Bounded: cleared
    when ``size`` lists are held.
    """

    __slots__ = ("_memo", "policy", "size")

    def __init__(self, policy: Policy, size: int = 4096) -> None:
        self.policy = policy
        self.size = size
        self._memo: dict[tuple[int, ...], tuple[list[Signal], Decision]] = {}

    def decide(self, url: str, signals: list[Signal]) -> Decision:
        key = tuple(map(id, signals))
        hit = self._memo.get(key)
        if hit is not None:
            held, decision = hit
            if all(a is b for a, b in zip(held, signals, strict=True)):
                return decision.for_url(url)
        decision = decide(url, signals, self.policy)
        if len(self._memo) >= self.size:
            self._memo.clear()
        self._memo[key] = (list(signals), decision)
        return decision
