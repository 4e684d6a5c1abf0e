"""Internal: Spawning ``ai.txt``, a robots.txt-grammar file that speaks to AI training only.

An ai.txt is parsed by :meth:`RobotsTxt.parse <noai_guard.robots.RobotsTxt.parse>`
(patterns like ``*.jpg`` read leniently); these functions give its signals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import decision as d
from ..decision import Signal, Verdict
from ..policy import Policy
from .grammar import OK, UNAVAILABLE, UNREACHABLE
from .groups import _Merged
from .rules import _Rule, url_path

if TYPE_CHECKING:
    from .file import RobotsTxt


def ai_txt_signals(ai: RobotsTxt, url: str, policy: Policy, *, path: str | None = None) -> list[Signal]:
    """Spawning ai.txt (robots grammar, purpose ai-train only).

    ``path``, if given, must be ``url_path(url)``.  Each signal depends on the
    URL only through the rule that matched, so it is built once and reused.
    """
    purpose = policy.purpose
    if ai.state == UNAVAILABLE:
        return []  # no ai.txt: no preference
    if ai.state == UNREACHABLE:
        return [ai._memo(("ai-state", purpose), _ai_unreachable_signal, ai, purpose)]
    if path is None:
        path = url_path(url)
    first: Signal | None = None
    for tok in policy.user_agents or ("*",):
        m = ai._group_for(tok, own=True)
        if m is None:
            continue
        r = m.rules.first(path)
        sig = ai._memo(("ai", purpose, tok, id(m), id(r)), _ai_signal, ai, tok, m, r, purpose)
        if sig.verdict is Verdict.RESERVE:
            return [sig]
        first = first or sig
    return [first] if first is not None else []


def ai_txt_path_rules(ai: RobotsTxt, policy: Policy) -> list[_Rule]:
    """The ai.txt rules whose match can change :func:`ai_txt_signals` for ``policy``."""
    if ai.state != OK:
        return []
    out: list[_Rule] = []
    for tok in policy.user_agents or ("*",):
        m = ai._group_for(tok, own=True)
        if m is not None:
            out += m.rules.rules
    return out


def _ai_unreachable_signal(ai: RobotsTxt, purpose: str) -> Signal:
    return Signal(
        d.AI_TXT,
        None,
        purpose,
        ai.detail,
        ai.url,
        d.LOC_AI_TXT,
        note="ai.txt unreachable; ai.txt has no spec that makes this a disallow: informational",
    )


def _ai_signal(ai: RobotsTxt, tok: str, m: _Merged, r: _Rule | None, purpose: str) -> Signal:
    who = "*" if m.name == "*" else tok
    if purpose != d.AI_TRAIN:
        verdict: Verdict | None = None
    else:
        verdict = Verdict.ALLOW if r is None or r.allow else Verdict.RESERVE
    return Signal(
        d.AI_TXT,
        verdict,
        purpose,
        r.evidence if r is not None else "",
        ai.url,
        d.LOC_AI_TXT,
        line=r.line if r is not None else None,
        scope=m.scope,
        user_agent=who,
        own_token=True,
        note=(
            "Spawning ai.txt (robots grammar, patterns like *.jpg match anywhere): "
            + ("no matching rule" if r is None else ("allow" if r.allow else "disallow"))
            + ("" if purpose == d.AI_TRAIN else f"; speaks to ai-train only, not {purpose}")
            + m.odd
        ),
    )
