"""Internal: X-Robots-Tag and robots ``<meta>`` directives (``noai``, ``noimageai``, ``noml``) as signals.

Pure code, no I/O.  The grammar is Google's (robots meta tag documentation) in MDN's
form ``<indexing-rule>, <bot-name>: <indexing-rule>`` (MDN): tokens are split on
commas, and a token ``name: rule`` whose ``name`` is not a rule that takes a
value (``unavailable_after``, ``max-*``) opens a user-agent scope for the rules
that follow it.  The AI vocabulary is DeviantArt's plus Mojeek's
``noml``; which directive reserves which purpose is ``Policy.directives``.

>>> parse_directives("noindex, ExampleBot: NoAI")
[(None, 'noindex'), ('examplebot', 'noai')]
>>> parse_directives("unavailable_after: Friday, 25-Jun-10 15:00:00 PST, noai")
[(None, 'unavailable_after'), (None, 'noai')]
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import decision as d
from .decision import Headers, Signal, Verdict
from .policy import IMAGE_DIRECTIVES

if TYPE_CHECKING:
    from .htmlhead import Head
    from .policy import Policy

__all__ = ["header_signals", "meta_signals", "parse_directives"]

HEADER_NAME = "X-Robots-Tag"
LOC_XRT = f"{d.LOC_HEADER}:{HEADER_NAME}"

# Rules that take a value after a colon, so ``name: value`` is not a UA scope
# (Google (Google's robots meta rules): unavailable_after, max-snippet, max-image-preview, max-video-preview).
_VALUE_RULES = frozenset({"unavailable_after", "unavailable-after"})
# RFC 850 / RFC 822 dates start with a weekday followed by a comma
# ("Friday, 25-Jun-10 15:00:00 PST"): the comma must not end the rule.
_WEEKDAYS = frozenset(
    {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
    | {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
)
# A clock time: a token holding one is a date fragment, never a UA scope.
_TIME_RE = re.compile(r"\d{1,2}:\d{2}")
# A UA scope name: product-token characters; inner spaces tolerated ("Kangaroo Bot").
_SCOPE_RE = re.compile(r"[a-z0-9_.-]+(?: [a-z0-9_.-]+)*")
# Standard <meta> names (WHATWG HTML §4.2.5.1 and common extensions) that are never crawler tokens.
_NOT_CRAWLERS = frozenset(
    {
        "application-name",
        "author",
        "color-scheme",
        "creator",
        "description",
        "generator",
        "keywords",
        "publisher",
        "referrer",
        "theme-color",
        "viewport",
    }
)
# C0 controls and DEL are not field-value characters (RFC 9110 §5.5): read them as spaces.
_CTL_RE = re.compile(r"[\x00-\x1f\x7f]+")


def _is_value_rule(name: str) -> bool:
    return name in _VALUE_RULES or name.startswith("max-")


def parse_directives(value: str) -> list[tuple[str | None, str]]:
    """Split an X-Robots-Tag / robots-meta value into ``(scope, directive)`` pairs.

    ``scope`` is the lowercased user-agent scope (``None``: all crawlers) and
    ``directive`` the lowercased rule name without its value
    (``max-snippet: 20`` gives ``max-snippet``).  Whitespace and semicolons also
    separate directives (``noai noimageai``, ``noai;noimageai``, and a rule after a
    ``max-*`` value: ``max-image-preview:large noai``), common mistakes read
    leniently, so a reservation is not lost to them.  Never raises.
    """
    out: list[tuple[str | None, str]] = []
    scope: str | None = None
    in_date = False  # the previous token was "unavailable_after: <weekday>"
    for raw in _CTL_RE.sub(" ", value).replace(";", ",").split(","):
        tok = raw.strip()
        if not tok:
            continue
        if in_date:
            in_date = False
            if _TIME_RE.search(tok) or tok[0].isdigit():
                continue  # "25-Jun-10 15:00:00 PST": the rest of the date
        # Up to two "name:" prefixes: "bot: max-snippet: 20" is a scope then a valued rule.
        for _ in range(2):
            if ":" not in tok:
                break
            name, rest = (p.strip() for p in tok.split(":", 1))
            name = name.lower()
            if _is_value_rule(name):
                out.append((scope, name))
                in_date = name in _VALUE_RULES and rest.lower() in _WEEKDAYS
                # A max-* value is one word; words after it are rules (a date has spaces).
                tok = "" if name in _VALUE_RULES else " ".join(rest.split()[1:])
                break
            if _TIME_RE.search(tok) or not _SCOPE_RE.fullmatch(name):
                tok = ""  # a stray date fragment or garbage: neither scope nor rule
                break
            scope, tok = name, rest
        else:
            tok = ""  # "a: b: c" with no valued rule: not a rule we know
        out.extend((scope, word.lower()) for word in tok.split())
    return out


def _scope_binding(scope: str | None, policy: Policy) -> tuple[str | None, bool | None, bool]:
    """(user_agent, own_token, counts) for a UA scope under ``policy``."""
    if scope is None:
        return None, None, True
    for ua in policy.user_agents:
        if ua.lower() == scope:
            return ua, True, True
    for tok in policy.proxy_tokens:
        if tok.lower() == scope:
            return tok, False, True
    return scope, None, False


def _directive_signals(
    name: str,
    pairs: list[tuple[str | None, str]],
    *,
    evidence: str,
    url: str,
    location: str,
    policy: Policy,
    is_image: bool,
    what: str,
    extra_note: str = "",
) -> list[Signal]:
    """Signals for one header line or one meta tag: one per AI directive, else one ALLOW."""
    spoken = {p for purposes in policy.directives.values() for p in purposes}
    sigs: list[Signal] = []
    seen: set[tuple[str | None, str]] = set()
    for scope, directive in pairs:
        if directive not in policy.directives or (scope, directive) in seen:
            continue  # noindex, nofollow, none, noimageindex... are not AI opt-outs
        seen.add((scope, directive))
        ua, own, counts = _scope_binding(scope, policy)
        verdict: Verdict | None = Verdict.RESERVE
        if scope is None:
            note = f"{what} {directive}: rules without a user agent apply to all crawlers (Google's robots meta rules)"
        elif own:
            note = f"{what} {directive} scoped to the crawler's own token {ua} (Google's robots meta rules)"
        elif own is False:
            note = (
                f"{what} {directive} scoped to proxy AI token {ua}: counted as a site-level opt-out by policy"
            )
        else:
            note = f"{what} {directive} scoped to another crawler ({scope}): rules apply only to the named agent (Google's robots meta rules)"
        if not counts:
            verdict = None
        elif policy.purpose not in policy.directives[directive]:
            verdict = None
            note += f"; {directive} does not speak to {policy.purpose}"
        elif directive in IMAGE_DIRECTIVES and policy.lenient_noimageai and not is_image:
            verdict = None
            note += "; lenient: reserves embedded images only"
        elif directive in IMAGE_DIRECTIVES:
            note += "; DeviantArt: exclude content for which either directive is present"
        if extra_note:
            note += f"; {extra_note}"
        sigs.append(
            Signal(
                name=name,
                verdict=verdict,
                purpose=policy.purpose,
                evidence=evidence,
                source=url,
                location=location,
                scope=scope,
                user_agent=ua,
                own_token=own,
                note=note,
            )
        )
    if not any(s.verdict is Verdict.RESERVE for s in sigs):
        # Present but silent for us: record that the page was checked.
        note = f"{what} present; no AI directive reserves {policy.purpose} for this crawler"
        if extra_note:
            note += f"; {extra_note}"
        sigs.append(
            Signal(
                name=name,
                verdict=Verdict.ALLOW if policy.purpose in spoken else None,
                purpose=policy.purpose,
                evidence=evidence,
                source=url,
                location=location,
                note=note,
            )
        )
    return sigs


def header_signals(headers: Headers, url: str, policy: Policy, *, is_image: bool = False) -> list[Signal]:
    """X-Robots-Tag signals; several header lines combine (union) (Google's robots meta rules).

    The UA scope of a line does not carry over to the next line.  The evidence
    is each header value as sent.
    """
    sigs: list[Signal] = []
    for hname, value in headers:
        if hname.strip().lower() != "x-robots-tag":
            continue
        sigs += _directive_signals(
            d.X_ROBOTS_TAG,
            parse_directives(value),
            evidence=value,
            url=url,
            location=LOC_XRT,
            policy=policy,
            is_image=is_image,
            what=HEADER_NAME,
        )
    return sigs


def meta_signals(head: Head, url: str, policy: Policy, *, is_image: bool = False) -> list[Signal]:
    """Robots ``<meta>`` signals: ``name="robots"`` binds all crawlers, ``name="TOKEN"`` that crawler.

    Metas named after other crawlers are recorded only when they carry an AI
    directive (``verdict=None``).  When the head was not read to its end within
    the budget an ``unknown`` signal says so.
    """
    own = policy.own_tokens_lower
    proxy = policy.proxy_tokens_lower
    sigs: list[Signal] = []
    for meta in head.metas:
        if meta.name == "robots":
            base: str | None = None
        elif meta.name in own or meta.name in proxy:
            base = meta.name
        else:
            base = meta.name
            # Any other name is a crawler token (Google's robots meta rules), but most are not (viewport,
            # description, og:title): only record plausible tokens with an AI directive.
            if (
                meta.name in _NOT_CRAWLERS
                or not _SCOPE_RE.fullmatch(meta.name)
                or not any(dv in policy.directives for _, dv in parse_directives(meta.content))
            ):
                continue
        # An inner "bot: rule" overrides the tag's scope; otherwise the tag's name scopes.
        pairs = [(base if sc is None else sc, dv) for sc, dv in parse_directives(meta.content)]
        sigs += _directive_signals(
            d.META_ROBOTS,
            pairs,
            evidence=meta.raw,
            url=url,
            location=d.LOC_META,
            policy=policy,
            is_image=is_image,
            what=f'<meta name="{meta.name}">',
            extra_note="in <body>, read because html_strict is on" if meta.in_body else "",
        )
    if not head.complete:
        spoken = {p for purposes in policy.directives.values() for p in purposes}
        sigs.append(
            Signal(
                name=d.META_ROBOTS,
                verdict=Verdict.UNKNOWN if policy.purpose in spoken else None,
                purpose=policy.purpose,
                evidence=f"<head> not finished within {head.bytes_read} bytes",
                source=url,
                location=d.LOC_META,
                note="the HTML head did not end within the byte budget (html_budget): "
                "robots metas beyond it were not read",
            )
        )
    return sigs
