"""Internal: signals of the records robots.txt carries beside the protocol (RFC 9309 §2.2.4).

``Content-Usage`` (aipref attach §3, per path), ``Content-Signal``
(Cloudflare, per group or origin-wide), ``License`` (RSL 1.0, origin-wide)
and ``DisallowAITraining`` / ``AllowAITraining`` (draft-canel, expired).
Each function builds the :class:`~noai_guard.decision.Signal` of one record
for the file at ``url``; which records apply to a URL is decided by
:mod:`.signals`, which also memoises what these build.
"""

from __future__ import annotations

from .. import decision as d
from ..aipref import LABEL_FOR_PURPOSE, VOCAB_COMBINE, ContentSignals, combine
from ..decision import Signal, Verdict
from .grammar import _UsageRule
from .groups import _ids, _Merged, _who
from .rules import _Rule


def usage_hits(m: _Merged, path: str) -> list[_UsageRule]:
    """aipref attach §3: the Content-Usage rules of the longest path that matches ``path``."""
    best = -1
    hits: list[_UsageRule] = []
    for u in m.usage:
        if u.rule.length < best or not u.rule.matches(path):
            continue
        if u.rule.length > best:
            best, hits = u.rule.length, []
        hits.append(u)
    return hits


def usage_signal(
    url: str, tok: str, m: _Merged, hits: list[_UsageRule], purpose: str, disallowed: bool
) -> Signal:
    """The Content-Usage signal of ``hits``; identical-length matches combine (vocab §5.1)."""
    label = LABEL_FOR_PURPOSE.get(purpose)
    notes = "".join("; " + n for h in hits for n in h.prefs.notes)
    verdict: Verdict | None = None
    deciding = hits[0]
    if disallowed:
        note = (
            "aipref attach §3: preferences apply only to crawlable paths; this URL is disallowed "
            "for the crawler's token, so no preference applies"
        )
    elif label is None:
        note = f"aipref vocab-08 has no label for {purpose}; informational{notes}"
    else:
        verdict = combine(h.prefs.get(label) for h in hits)
        deciding = next((h for h in hits if h.prefs.get(label) is verdict), deciding)
        if verdict is Verdict.UNKNOWN:
            why = f"the matching rule states no {label} preference: unknown (vocab §5)"
        else:
            why = f"{label}={'n' if verdict is Verdict.RESERVE else 'y'}"
        if len(hits) > 1:
            why += f"; {len(hits)} rules for the same path combined per {VOCAB_COMBINE}"
        note = f"aipref attach §3 robots.txt rule (longest path match): {why}{notes}"
    where = deciding.rule.pattern if deciding.has_path else "(all paths)"
    return Signal(
        d.CONTENT_USAGE,
        verdict,
        purpose,
        deciding.rule.evidence,
        url,
        d.LOC_ROBOTS,
        line=deciding.rule.line,
        scope=f"{m.scope}; path {where}",
        user_agent=_who(tok, m),
        own_token=True,
        note=note,
    )


def legacy_signal(url: str, tok: str, m: _Merged, r: _Rule, purpose: str) -> Signal:
    """draft-canel ``DisallowAITraining`` / ``AllowAITraining``: longest match, a legacy signal."""
    kind = "AllowAITraining" if r.allow else "DisallowAITraining"
    return Signal(
        d.LEGACY_AI_TRAINING,
        Verdict.ALLOW if r.allow else Verdict.RESERVE,
        purpose,
        r.evidence,
        url,
        d.LOC_ROBOTS,
        line=r.line,
        scope=m.scope,
        user_agent=_who(tok, m),
        own_token=True,
        legacy=True,
        note=f"draft-canel-robots-ai-control-00 (expired Apr 2025) {kind}, longest match: legacy signal",
    )


def static_signals(
    url: str,
    own: list[tuple[str, _Merged | None]],
    origin_signals: list[tuple[int, str, ContentSignals]],
    star: _Merged | None,
    licenses: list[tuple[int, str, str]],
    purpose: str,
) -> list[Signal]:
    """URL-independent signals: Content-Signal records and RSL License records.

    ``own``: the crawler's tokens with their groups; ``star``: the ``*`` group
    (None if the file has none).
    """
    out: list[Signal] = []
    for tok, m in own:
        if m is not None:
            for rec in m.content_signals:
                out.append(cs_signal(url, rec, purpose, m.scope, _who(tok, m), "in the crawler's group"))
    for rec in origin_signals:
        out.append(
            cs_signal(url, rec, purpose, "(before any group)", None, "outside any group, origin-wide")
        )
    # Vector 25: Content-Signal only in a * group that does not bind the crawler (§2.2.1).
    if not out and star is not None and star.content_signals and all(_ids(m) != star.ids for _, m in own):
        ln, ev, _ = star.content_signals[0]
        out.append(
            Signal(
                d.CONTENT_SIGNAL,
                Verdict.UNKNOWN,
                purpose,
                ev,
                url,
                d.LOC_ROBOTS,
                line=ln,
                scope=star.scope,
                user_agent="*",
                own_token=False,
                note="flag: Content-Signal only in the * group, which does not apply because a group "
                "names the crawler's token (RFC 9309 §2.2.1); intent unclear",
            )
        )
    for ln, ev, lic in licenses:
        out.append(
            Signal(
                d.RSL_LICENSE,
                None,
                purpose,
                ev,
                url,
                d.LOC_ROBOTS,
                line=ln,
                scope=lic,
                note=f"RSL 1.0 License record (not user-agent scoped); licence {lic}: read as the rsl signal",
            )
        )
    return out


def cs_signal(
    url: str, rec: tuple[int, str, ContentSignals], purpose: str, scope: str, who: str | None, where: str
) -> Signal:
    """One Content-Signal record for ``purpose`` (Content Signals Policy (a)-(c))."""
    ln, ev, cs = rec
    v = cs.verdict(purpose)
    if v is Verdict.UNKNOWN:
        why = f"{purpose} not stated: neither grants nor restricts (Content Signals Policy (c))"
    elif v is Verdict.RESERVE:
        why = f"{purpose}=no (Content Signals Policy (b))"
    else:
        why = f"{purpose}=yes (Content Signals Policy (a))"
    extra = "".join("; " + n for n in cs.notes)
    return Signal(
        d.CONTENT_SIGNAL,
        v,
        purpose,
        ev,
        url,
        d.LOC_ROBOTS,
        line=ln,
        scope=scope,
        user_agent=who,
        own_token=True if who is not None else None,
        note=f"Content-Signal {where}: {why}{extra}",
    )
