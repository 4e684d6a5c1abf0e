"""Internal: robots.txt evaluation per URL, the signals a parsed file gives for a URL and a policy.

:class:`_Evaluator` answers :meth:`RobotsTxt.signals
<noai_guard.robots.RobotsTxt.signals>`: the own token's Allow/Disallow
(``robots-txt``, §2.2.2), the proxy tokens' Disallow (``robots-txt-proxy``)
and, through :mod:`.extensions`, the records beside the protocol.  A signal
depends on the URL only through the rule that matched, so each one is built
once per (rule, token, purpose) and memoised on the file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import decision as d
from ..decision import Signal, Verdict
from ..policy import Policy
from .extensions import legacy_signal, static_signals, usage_hits, usage_signal
from .grammar import OK, UNREACHABLE
from .groups import _Groups, _Merged, _who
from .rules import _Rule, url_path

if TYPE_CHECKING:
    from .file import RobotsTxt

_Own = list[tuple[str, _Merged | None]]  # the crawler's tokens with their groups (None: no group)
_Proxy = list[tuple[str, _Merged]]  # proxy tokens with the groups naming them


class _Evaluator:
    """The per-URL answers of one file, with the memo of the signals it built."""

    __slots__ = ("_last", "_signals", "_static", "groups")

    def __init__(self, groups: _Groups) -> None:
        self.groups = groups
        self._static: dict[tuple[object, ...], list[Signal]] = {}
        self._signals: dict[tuple[object, ...], Signal] = {}  # memo: see signals()
        # The last policy's own groups, proxy groups and static signals (see _policy_parts).
        self._last: tuple[Policy, _Own, _Proxy, list[Signal]] | None = None

    def signals(self, f: RobotsTxt, url: str, policy: Policy, path: str | None) -> list[Signal]:
        """All signals of file ``f`` for ``url`` and ``policy.purpose`` (see :meth:`RobotsTxt.signals`)."""
        purpose = policy.purpose
        if f.state != OK:
            return [self.memo(("state", purpose), _state_signal, f.state, f.detail, f.url, purpose)]
        if path is None:
            path = url_path(url)
        _, own, proxy, static = self._policy_parts(f, policy)
        out: list[Signal] = []
        if path == "/robots.txt":  # §2.2.2: implicitly allowed
            first_tok = own[0][0] if own else None  # the signal names it: part of the key
            out.append(self.memo(("implicit", purpose, first_tok), _implicit_signal, f.url, own, purpose))
            disallowed = False
        else:
            robots = self._own_robots_signal(f.url, own, path, purpose)
            out.append(robots)
            disallowed = robots.verdict is Verdict.RESERVE
        if purpose == d.AI_TRAIN:
            for ptok, pm in proxy:
                r = pm.rules.first(path)
                if r is not None and not r.allow:
                    out.append(self.memo(("proxy", ptok, id(r)), _proxy_signal, f.url, ptok, pm, r))
        for tok, m in own:
            if m is None:
                continue
            if m.usage:
                hits = usage_hits(m, path)
                if hits:
                    key = ("usage", purpose, tok, disallowed, *(id(h) for h in hits))
                    out.append(self.memo(key, usage_signal, f.url, tok, m, hits, purpose, disallowed))
            if purpose == d.AI_TRAIN and m.legacy.rules:
                lr = m.legacy.first(path)
                if lr is not None:
                    out.append(self.memo(("legacy", tok, id(lr)), legacy_signal, f.url, tok, m, lr, purpose))
        out.extend(static)
        return out

    def path_rules(self, f: RobotsTxt, policy: Policy) -> list[_Rule]:
        """Every rule whose match can change :meth:`signals` for ``policy``.

        The own tokens' Allow/Disallow, Content-Usage and legacy rules and the
        proxy groups' rules; every other signal does not depend on the path.
        """
        if f.state != OK:
            return []
        _, own, proxy, _ = self._policy_parts(f, policy)
        out: list[_Rule] = []
        for _, m in own:
            if m is not None:
                out += m.rules.rules
                out += m.legacy.rules
                out += [u.rule for u in m.usage]
        for _, pm in proxy:
            out += pm.rules.rules
        return out

    def memo(self, key: tuple[object, ...], build: Callable[..., Signal], *args: object) -> Signal:
        """The signal ``build(*args)`` under ``key``, built once per file."""
        sig = self._signals.get(key)
        if sig is None:
            sig = self._signals[key] = build(*args)
        return sig

    def _policy_parts(self, f: RobotsTxt, policy: Policy) -> tuple[Policy, _Own, _Proxy, list[Signal]]:
        """What signals() needs from ``policy`` beyond the URL, kept for the last policy seen.

        The same (cached) values that own_groups, proxy_groups and _static_signals
        return; a crawl or an audit asks with one Policy object throughout, so the
        identity check spares building and hashing their keys (the proxy-token tuple)
        per URL.  Policy is frozen: the same object gives the same answers.
        """
        last = self._last
        if last is not None and last[0] is policy:
            return last
        own = self.groups.own_groups(policy)
        proxy = self.groups.proxy_groups(policy)
        last = self._last = (policy, own, proxy, self._static_signals(f, own, policy.purpose))
        return last

    def _own_robots_signal(self, url: str, own: _Own, path: str, purpose: str) -> Signal:
        """Several own tokens: any disallow reserves; otherwise the first token's answer."""
        first: tuple[str, _Merged | None, _Rule | None] | None = None
        for tok, m in own:
            r = m.rules.first(path) if m is not None else None
            if r is not None and not r.allow:
                first = (tok, m, r)
                break
            if first is None:
                first = (tok, m, r)
        if first is None:  # no own token configured
            return self.memo(("robots", purpose), _robots_signal, url, None, None, None, purpose)
        tok, m, r = first
        return self.memo(("robots", purpose, tok, id(m), id(r)), _robots_signal, url, tok, m, r, purpose)

    def _static_signals(self, f: RobotsTxt, own: _Own, purpose: str) -> list[Signal]:
        """URL-independent signals (Content-Signal, RSL License), per purpose and own groups."""
        key = (purpose, tuple(id(m) for _, m in own))
        cached = self._static.get(key)
        if cached is None:
            star = self.groups.for_token("*", own=False)
            cached = static_signals(f.url, own, f.origin_signals, star, f.licenses, purpose)
            self._static[key] = cached
        return cached


def _state_signal(state: str, detail: str, url: str, purpose: str) -> Signal:
    """A file not read: unreachable (§2.3.1.4) or unavailable (§2.3.1.3)."""
    if state == UNREACHABLE:
        verdict = Verdict.UNKNOWN
        note = (
            "RFC 9309 §2.3.1.4: robots.txt unreachable; the crawler MUST assume complete disallow "
            "(resolved by policy)"
        )
    else:
        verdict = Verdict.ALLOW
        note = "RFC 9309 §2.3.1.3: robots.txt unavailable; the crawler MAY access any resource"
    return Signal(d.ROBOTS_TXT, verdict, purpose, detail, url, d.LOC_ROBOTS, note=note)


def _implicit_signal(url: str, own: _Own, purpose: str) -> Signal:
    return Signal(
        d.ROBOTS_TXT,
        Verdict.ALLOW,
        purpose,
        "",
        url,
        d.LOC_ROBOTS,
        user_agent=own[0][0] if own else None,
        own_token=True,
        note="RFC 9309 §2.2.2: the /robots.txt URI is implicitly allowed",
    )


def _robots_signal(url: str, tok: str | None, m: _Merged | None, r: _Rule | None, purpose: str) -> Signal:
    if tok is None:
        note = "no own user-agent token configured; no rules apply"
    elif m is None:
        note = "RFC 9309 §2.2.1: no group for token and no * group; no rules apply"
    elif r is None:
        note = "RFC 9309 §2.2.2: no matching rule in the group; allowed"
    elif r.allow:
        note = "RFC 9309 §2.2.2: the longest matching rule is an allow (allow wins ties)"
    else:
        note = "RFC 9309 §2.2.2: the longest matching rule is a disallow: the URL may not be crawled, for any purpose"
    if m is not None:
        note += m.odd
    return Signal(
        d.ROBOTS_TXT,
        Verdict.ALLOW if r is None or r.allow else Verdict.RESERVE,
        purpose,
        r.evidence if r is not None else "",
        url,
        d.LOC_ROBOTS,
        line=r.line if r is not None else None,
        scope=m.scope if m is not None else None,
        user_agent=_who(tok, m),
        own_token=True if tok is not None else None,
        note=note,
    )


def _proxy_signal(url: str, tok: str, m: _Merged, r: _Rule) -> Signal:
    return Signal(
        d.ROBOTS_TXT_PROXY,
        Verdict.RESERVE,
        d.AI_TRAIN,
        r.evidence,
        url,
        d.LOC_ROBOTS,
        line=r.line,
        scope=m.scope,
        user_agent=tok,
        own_token=False,
        note=f"disallow in a group naming AI-training token {tok!r} (RFC 9309 §2.2.1); it did not "
        "bind the crawler's own token: counted as a site-level AI-training opt-out by policy" + m.odd,
    )
