"""Internal: answers that ask for a login or a licence (pure; no I/O).

An HTTP 401 (RFC 9110 §15.5.2, authentication required), a 402 (§15.5.3,
"reserved for future use", which licensing and pay-per-crawl schemes answer
with) or a 403 (§15.5.4) that carries a licence pointer -- a ``Link`` header
with ``rel="license"`` (RFC 8288 §3; the relation of RFC 4946, which RSL 1.0
also uses with ``type="application/rsl+xml"``) -- says the content is offered
on terms the crawler has not met.  That is not an opt-out signal and not
consent either: the content was not obtained.

It is recorded as the signal ``access-required`` with verdict ``unknown``,
whatever the purpose: never counted as allowed content, never bypassed (the
response goes on to Scrapy as it came: its HttpError handling is untouched),
and never a block (there is nothing of the page to block).  The policy resolves
it that way whatever ``unknown_default`` says (:func:`noai_guard.policy.decide`).
"""

from __future__ import annotations

import re

from . import decision as d
from .decision import Headers, Signal, Verdict

#: Statuses that ask for credentials or payment whatever their headers say.
ASKING: dict[int, str] = {
    401: "401 Unauthorized: credentials asked (RFC 9110 §15.5.2)",
    402: "402 Payment Required (RFC 9110 §15.5.3)",
}
#: A 403 counts only with a licence pointer: a plain 403 is a refusal, not an offer.
FORBIDDEN = 403
FORBIDDEN_NOTE = (
    "403 Forbidden with a licence pointer (RFC 9110 §15.5.4; Link rel=license, RFC 8288 / RFC 4946)"
)

_MAX_LINK = 8192  # bytes of Link header values read; the rest is not looked at
_MAX_EVIDENCE = 300
# One link-value (RFC 8288 §3): <URI-Reference> then its ;-parameters.
_LINK_RE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,<]*)*)")
_REL_RE = re.compile(r"""(?i)(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""")


def licence_links(headers: Headers) -> list[str]:
    """The targets of ``Link`` header values whose ``rel`` includes ``license`` (RFC 8288 §3.3)."""
    out: list[str] = []
    budget = _MAX_LINK
    for name, value in headers:
        if name.lower() != "link" or budget <= 0:
            continue
        value = value[:budget]
        budget -= len(value)
        for m in _LINK_RE.finditer(value):
            rel = _REL_RE.search(m.group(2))
            if rel is None:
                continue
            rels = (rel.group(1) if rel.group(1) is not None else rel.group(2) or "").lower().split()
            if "license" in rels:  # rel is a space-separated list of relation types (§3.3)
                out.append(m.group(1).strip())
    return out


def _first(headers: Headers, lname: str) -> str | None:
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


def access_signal(url: str, status: int | None, headers: Headers, purpose: str) -> Signal | None:
    """The ``access-required`` signal of a response, or ``None`` for any other answer."""
    if status is None or (status not in ASKING and status != FORBIDDEN):
        return None
    links = licence_links(headers)
    if status == FORBIDDEN and not links:
        return None
    parts = [f"HTTP {status}"]
    challenge = _first(headers, "www-authenticate")
    if challenge is not None:
        parts.append(f"WWW-Authenticate: {challenge}")
    parts += [f"Link: <{u}>; rel=license" for u in links[:3]]
    evidence = "; ".join(parts)
    if len(evidence) > _MAX_EVIDENCE:
        evidence = evidence[: _MAX_EVIDENCE - 1] + "…"
    why = ASKING.get(status, FORBIDDEN_NOTE)
    note = (
        f"{why}: the content was not obtained; recorded as unknown (neither consent nor a "
        "reservation), not bypassed, not blocked"
    )
    return Signal(
        d.ACCESS_REQUIRED,
        Verdict.UNKNOWN,
        purpose,
        evidence,
        url,
        d.LOC_STATUS,
        scope=links[0] if links else None,
        note=note,
    )
