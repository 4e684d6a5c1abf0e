"""W3C TDM Reservation Protocol (TDMRep, CG Final Report 2024-05-10) as signals.

Pure code, no I/O: the caller fetches ``/.well-known/tdmrep.json`` and hands
over the bytes (or says it was unavailable / unreachable).  Three sources, which
:func:`noai_guard.policy.decide` layers file < header < HTML meta ("Processing
priority": each overrides the previous; absence never resets):

* ``tdmrep.json``: a JSON array of rules ``{location, tdm-reservation,
  tdm-policy?}``; "the most specific match is the first in sequence" (array
  order, not longest match); locations match like robots.txt paths (``*``,
  ``$``, case-sensitive, percent-decoding as robots.txt).
* ``tdm-reservation`` / ``tdm-policy`` HTTP headers.
* ``<meta name="tdm-reservation">`` / ``<meta name="tdm-policy">`` (and the
  EPUB 2 spelling ``tdm:reservation`` / ``tdm:policy``).

``tdm-reservation`` is ``1`` (reserved) or ``0`` (not reserved); "other values
are considered protocol errors" and the value is then unset (``verdict=None``).
Choices where the spec is silent:

* Header values are OWS-trimmed (RFC 9110 §5.5), meta values ASCII-whitespace
  trimmed; ``" 1 "`` is ``1``.
* ``tdm-reservation`` is a singleton field: repeated lines, or a combined
  ``1, 1``, are accepted when every member is the same valid value (as RFC 9110
  §8.6 does for Content-Length); conflicting members are a protocol error.
* In tdmrep.json a reservation is a JSON number equal to 0 or 1 however it is
  spelled (``1``, ``1.0``, ``1e0``: RFC 8259 §6 has one number type); the
  strings ``"0"``/``"1"`` are accepted too (a common slip, noted).  Any other
  value (``2``, ``true``, ``null``) is that rule's protocol error: the rule
  still matches, its value is unset, and the other rules stand.
* A rule that cannot be read (not an object, no ``location`` string, no
  ``tdm-reservation``) makes the value ``unknown`` for every URL it may be the
  first match for; rules before it still decide.  The spec says nothing of
  malformed rules, so they are recorded, never read as "no reservation".
* A body that is not a JSON array (an HTML error page, a bare object) is read
  as no "machine-readable representation" at all: "Failure to provide access to
  such a representation implies that the origin server does not implement this
  protocol" ("TDM File on the Origin Server"), so unset, as for a failed fetch.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from . import decision as d
from .decision import Headers, Signal, Verdict
from .policy import SIGNAL_PURPOSES
from .urlpath import remove_dot_segments

if TYPE_CHECKING:
    from .htmlhead import Head
    from .policy import Policy

__all__ = ["TdmrepFile", "TdmrepRule", "header_signals", "match_location", "meta_signals"]

SPEC = "W3C TDMRep CG Final Report 2024-05-10"
LOC_TDM_HEADER = f"{d.LOC_HEADER}:tdm-reservation"
_RESERVATION_NAMES = frozenset({"tdm-reservation", "tdm:reservation"})
_POLICY_NAMES = frozenset({"tdm-policy", "tdm:policy"})
_OWS = " \t"
_HTML_WS = " \t\n\f\r"
# RFC 3986 unreserved characters: %XX of these is decoded before matching (RFC 9309 §2.2.2).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT_RE = re.compile(r"%([0-9A-Fa-f]{2})")
# Characters quote() below leaves alone, without "%": a path made only of these is
# already normalised (nothing to encode, no %XX to fix), the common case.
_PLAIN_RE = re.compile(r"[A-Za-z0-9!#$&'()*+,/:;=?@\[\]~._-]*")


def _normalise(path: str) -> str:
    """Percent-encoding normalised as robots.txt matchers do (RFC 9309 §2.2.2).

    Non-ASCII characters are UTF-8 percent-encoded, %XX of unreserved characters
    decoded, other %XX uppercased; ``*`` and ``$`` are left alone.
    """
    if _PLAIN_RE.fullmatch(path):
        return path
    path = quote(path, safe="!#$&'()*+,/:;=?@[]~%-._")

    def fix(m: re.Match[str]) -> str:
        ch = chr(int(m.group(1), 16))
        return ch if ch in _UNRESERVED else "%" + m.group(1).upper()

    return _PCT_RE.sub(fix, path)


def match_location(location: str, path: str) -> bool:
    """Does a TDMRep ``location`` match a URL ``path`` (path and query)?

    robots.txt matching (draft-koster-rep / RFC 9309 §2.2.3): a prefix match,
    ``*`` any run of characters, ``$`` at the end anchors; case-sensitive.

    >>> match_location("/directory-b/images/*.jpg", "/directory-b/images/a/b.jpg")
    True
    >>> match_location("/a$", "/a/b")
    False
    """
    if not location:
        return False
    return _match_normalised(location, _normalise(path or "/"))


@functools.lru_cache(maxsize=1024)
def _location_pattern(location: str) -> tuple[str, bool, tuple[str, ...] | None]:
    """A location, prepared once: (normalised pattern, anchored, its literal pieces if it has ``*``)."""
    if location[0] not in "/*":
        location = "/" + location  # lenient: "dir/" read as "/dir/"
    pat = _normalise(location)
    anchored = pat.endswith("$")
    if anchored:
        pat = pat[:-1]
    if "*" not in pat:
        return pat, anchored, None
    return pat, anchored, tuple(pat.split("*"))


def _glob_match(parts: tuple[str, ...], anchored: bool, path: str) -> bool:
    """Does ``path`` start with the glob ``"*".join(parts)`` (the whole path when ``anchored``)?

    RFC 9309 §2.2.3 matching, in time linear in the path: each literal piece is
    taken at its leftmost place after the previous one (a later place never
    leaves more room for the rest), and with ``$`` the last piece must end the
    path without overlapping them.  A regex of ``.*`` between the pieces
    backtracks exponentially in their number on a path that almost matches.
    """
    first = parts[0]
    if not path.startswith(first):
        return False
    pos = len(first)
    for part in parts[1:-1]:
        i = path.find(part, pos)
        if i < 0:
            return False
        pos = i + len(part)
    last = parts[-1]
    if anchored:
        return len(path) - len(last) >= pos and path.endswith(last)
    return path.find(last, pos) >= 0


def _match_normalised(location: str, path: str) -> bool:
    """:func:`match_location` for a ``path`` already passed through :func:`_normalise`."""
    if not location:
        return False
    pat, anchored, parts = _location_pattern(location)
    if parts is None:
        return path == pat if anchored else path.startswith(pat)
    return _glob_match(parts, anchored, path)


# A URL that urlsplit reads without surprises: ASCII, a scheme, "//", an authority
# without "[", "]", and no tab, CR or LF anywhere (urlsplit deletes those, even from
# the path); group 1 is then urlsplit's path, "?" and query (up to "#").
_SIMPLE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\[\]\t\r\n]*([/?][^#\t\r\n]*)?(?:#[^\t\r\n]*)?")


def _path_of(url: str) -> str:
    """The URL's path (``/`` if empty) and ``?query`` if the query is not empty, as urlsplit reads them.

    Dot segments removed (RFC 3986 §5.2.4, as robots.txt paths: :func:`remove_dot_segments`).
    """
    if url.isascii():
        m = _SIMPLE_URL.fullmatch(url)
        if m is not None:
            path, _, query = (m.group(1) or "").partition("?")
            path = path or "/"
            return remove_dot_segments(f"{path}?{query}" if query else path)
    return _slow_path_of(url)


def _slow_path_of(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "/"
    path = parts.path or "/"
    return remove_dot_segments(f"{path}?{parts.query}" if parts.query else path)


def _purpose_verdict(value: int, policy: Policy) -> Verdict | None:
    """The verdict of a set reservation for ``policy.purpose`` (TDMRep speaks to TDM, i.e. AI)."""
    if policy.purpose not in SIGNAL_PURPOSES[d.TDMREP]:
        return None
    return Verdict.RESERVE if value == 1 else Verdict.ALLOW


def _value_note(value: int, policy: Policy, tdm_policy: str | None) -> str:
    if value == 1:
        note = "tdm-reservation 1: TDM rights reserved (CDSM Art. 4 opt-out)"
        if tdm_policy:
            note += "; tdm-policy gives the licensing terms"
    else:
        note = "tdm-reservation 0: TDM rights not reserved"
        if tdm_policy:
            note += "; tdm-policy SHOULD NOT be processed when the reservation is 0"
    if policy.purpose not in SIGNAL_PURPOSES[d.TDMREP]:
        note += f"; TDMRep does not speak to {policy.purpose}"
    return f"{note} [{SPEC}]"


@dataclass(frozen=True, slots=True)
class TdmrepRule:
    """One rule of a tdmrep.json file, or an array element that fails to be one."""

    index: int  # 0-based position in the array (order decides)
    location: str | None  # None: unreadable, so the rule may be the first match for any URL
    reservation: int | None  # 0 or 1; None when ``error`` says why not
    policy: str | None
    raw: str  # the rule as compact JSON, numbers as written, for evidence
    note: str = ""
    error: str = ""  # why there is no value
    malformed: bool = False  # the rule cannot be read: unknown (else a protocol error: unset)


class _Number(float):
    """A JSON number as written (``1.0``, ``1e0``, ``-0``): json.dumps would respell it."""

    __slots__ = ("text",)
    text: str


def _loads(text: str) -> tuple[Any, bool]:
    """JSON, with the numbers json.dumps would respell kept as :class:`_Number`; and whether any were."""
    spelled = False

    def number(s: str) -> _Number:
        nonlocal spelled
        spelled = True
        n = _Number(s)
        n.text = s
        return n

    def integer(s: str) -> int | _Number:
        return number(s) if s == "-0" else int(s)

    # Only "-0" is an integer json.dumps respells; without it, the C fast path for ints.
    return json.loads(text, parse_float=number, parse_int=integer if "-0" in text else None), spelled


def _compact(obj: Any, spelled: bool = False) -> str:
    """``obj`` as compact JSON; with ``spelled``, its numbers as the file wrote them."""
    if not spelled:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    if isinstance(obj, _Number):
        return obj.text
    if isinstance(obj, dict):
        return "{" + ",".join(f"{_compact(k)}:{_compact(v, True)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(_compact(v, True) for v in obj) + "]"
    return _compact(obj)


def _raw(obj: Any, spelled: bool) -> str:
    try:
        return _compact(obj, spelled)
    except RecursionError:  # nesting json.loads accepts but this recursion does not
        return _compact(obj)


def _reservation_value(v: Any) -> tuple[int | None, str]:
    """0/1 from a tdmrep.json value, or None; with a note for lenient reads.

    JSON has one number type (RFC 8259 §6): ``1.0`` and ``1e0`` are the integer 1
    the spec asks for ("tdm-reservation is an integer").  ``true`` is no number,
    even though Python's ``True == 1``.
    """
    if isinstance(v, bool):
        return None, ""
    if isinstance(v, _Number):
        exact = Decimal(v.text)  # not the float: 1.00000000000000001 is not 1
        if exact in (0, 1):
            return int(exact), f"{v.text} is the JSON number {int(exact)}"
        return None, ""
    if isinstance(v, int) and v in (0, 1):
        return v, ""
    if isinstance(v, str) and v.strip() in ("0", "1"):
        return int(v.strip()), "string value read as a number"
    return None, ""


def _rule(index: int, item: Any, spelled: bool) -> TdmrepRule:
    """One array element as a rule.

    "Other values are considered protocol errors ... MUST consider that
    tdm-reservation is unset" (section "tdm-reservation"): such a rule still
    matches, with no value.  The spec does not say how to read an element that
    is not an object or lacks a mandatory property ("location and
    tdm-reservation are mandatory"): it is malformed, its value unknown.
    """
    raw = _raw(item, spelled)
    if not isinstance(item, dict):
        return TdmrepRule(index, None, None, None, raw, error="not an object", malformed=True)
    loc = item.get("location")
    if not isinstance(loc, str):
        return TdmrepRule(index, None, None, None, raw, error="no location string", malformed=True)
    if "tdm-reservation" not in item:
        return TdmrepRule(index, loc, None, None, raw, error="no tdm-reservation", malformed=True)
    value, note = _reservation_value(item["tdm-reservation"])
    if value is None:
        bad = _raw(item["tdm-reservation"], spelled)[:40]
        return TdmrepRule(index, loc, None, None, raw, error=f"tdm-reservation {bad} is not 0 or 1")
    pol = item.get("tdm-policy")
    if pol is not None and not isinstance(pol, str):
        note = "; ".join(filter(None, [note, "tdm-policy is not a string, ignored"]))
        pol = None
    return TdmrepRule(index, loc, value, pol, raw, note)


@dataclass(frozen=True)
class TdmrepFile:
    """A site's ``/.well-known/tdmrep.json``: its rules, or why there are none."""

    url: str
    state: str  # "ok" | "unavailable" | "unreachable" | "invalid"
    detail: str = ""
    rules: tuple[TdmrepRule, ...] = field(default=())

    @classmethod
    def parse(cls, body: bytes, url: str) -> TdmrepFile:
        """Parse the file; never raises (a body that is no JSON array is ``state="invalid"``)."""
        try:
            return cls._parse(body, url)
        except Exception as exc:  # noqa: BLE001  # pragma: no cover - the contract is "never raises"
            return cls(url, "invalid", f"unreadable: {type(exc).__name__}")

    @classmethod
    def _parse(cls, body: bytes, url: str) -> TdmrepFile:
        try:
            text = bytes(body).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return cls(url, "invalid", f"not UTF-8 (byte {exc.start})")
        try:
            data, spelled = _loads(text)
        except (ValueError, RecursionError) as exc:
            return cls(url, "invalid", f"not JSON: {str(exc)[:120]}")
        if not isinstance(data, list):
            return cls(url, "invalid", f"not a JSON array (got {type(data).__name__})")
        rules = tuple(_rule(i, item, spelled) for i, item in enumerate(data))
        detail = f"{len(rules)} rule(s)"
        bad = [r for r in rules if r.error]
        if bad:
            detail += f", {len(bad)} without a value (rule #{bad[0].index + 1}: {bad[0].error})"
        return cls(url, "ok", detail, rules)

    @classmethod
    def unavailable(cls, url: str, detail: str) -> TdmrepFile:
        """No file (e.g. 404): the site does not implement the protocol."""
        return cls(url, "unavailable", detail)

    @classmethod
    def unreachable(cls, url: str, detail: str) -> TdmrepFile:
        """The file could not be fetched (5xx, network error)."""
        return cls(url, "unreachable", detail)

    def match(self, url: str) -> tuple[TdmrepRule | None, list[TdmrepRule]]:
        """The first rule in array order whose location matches ``url``, and later matches."""
        return self._match_path(_normalise(_path_of(url) or "/"))  # normalised once for all rules

    def _match_path(self, path: str) -> tuple[TdmrepRule | None, list[TdmrepRule]]:
        hits = [r for r in self.rules if r.location is None or _match_normalised(r.location, path)]
        return (hits[0], hits[1:]) if hits else (None, [])

    def locations(self) -> list[tuple[str, bool, Callable[[str], bool]]]:
        """Per rule with a location, in rule order: its normalised pattern, whether ``$``
        anchors it, and a test of a normalised path (a location is matched as a
        robots.txt path pattern: ``*`` is any run of characters).  A rule whose
        location cannot be read matches every path, like ``/``, and is left out."""
        out: list[tuple[str, bool, Callable[[str], bool]]] = []
        for r in self.rules:
            if r.location:
                pat, anchored, _ = _location_pattern(r.location)
                out.append((pat, anchored, functools.partial(_match_normalised, r.location)))
        return out

    def _memo(self) -> dict[tuple[object, ...], Signal]:
        """Signals that do not depend on the URL, built once per file (kept beside the fields)."""
        memo: dict[tuple[object, ...], Signal] | None = self.__dict__.get("_signal_memo")
        if memo is None:
            memo = self.__dict__["_signal_memo"] = {}
        return memo

    def signals(self, url: str, policy: Policy) -> list[Signal]:
        """The file's signal for ``url``: the first matching rule, else an unset record.

        A rule without a value gives unset (a protocol error) or unknown (a
        malformed rule), not the value of a later rule: the first match is used.
        """

        def sig(verdict: Verdict | None, evidence: str, note: str, scope: str | None = None) -> Signal:
            return Signal(
                d.TDMREP,
                verdict,
                policy.purpose,
                evidence,
                self.url,
                d.LOC_TDMREP_FILE,
                scope=scope,
                note=note,
            )

        if self.state != "ok":
            memo = self._memo()
            key: tuple[object, ...] = ("state", policy.purpose)
            cached = memo.get(key)
            if cached is None:
                why = {
                    "unavailable": "no tdmrep.json: the site does not implement the protocol, value unset",
                    "unreachable": "tdmrep.json could not be fetched: TDMRep reads a failure as "
                    "'does not implement this protocol', value unset",
                    # "TDM File on the Origin Server": the origin MUST send "a machine-readable
                    # representation"; "Failure to provide access to such a representation
                    # implies that the origin server does not implement this protocol".
                    "invalid": "invalid tdmrep.json, not a JSON array of rules: not the "
                    "machine-readable representation the origin must send, so TDMRep reads it as "
                    "'does not implement this protocol', value unset",
                }.get(self.state, "tdmrep.json not usable: value unset")
                cached = memo[key] = sig(None, self.detail, f"{why} [{SPEC}]")
            return [cached]
        rule, later = self._match_path(_normalise(_path_of(url) or "/"))
        memo = self._memo()
        if rule is None:
            # The URL is in the decision; the note does not repeat it, so one signal serves all.
            key = ("none", policy.purpose)
            cached = memo.get(key)
            if cached is None:
                cached = memo[key] = sig(
                    None, "", f"no tdmrep.json rule matches the URL: value unset [{SPEC}]"
                )
            return [cached]
        # Flag a later match that would say otherwise (one that matches every URL as it
        # cannot be read would be flagged everywhere; the file's detail names it).
        outcome = (rule.reservation, rule.malformed)
        conflicts = [r for r in later if r.location is not None and (r.reservation, r.malformed) != outcome]
        c = conflicts[0] if conflicts else None
        key = ("rule", policy.purpose, rule.index, None if c is None else c.index)
        cached = memo.get(key)
        if cached is not None:
            return [cached]
        verdict, note = _rule_verdict(rule, policy)
        if rule.location is None:
            note += f"; rule #{rule.index + 1} comes before any rule that matches the URL"
        else:
            note += f"; rule #{rule.index + 1}, the first matching rule in sequence wins"
        if c is not None:
            also = f"but {c.error}" if c.error else f"with tdm-reservation {c.reservation}"
            note += f"; flag: later rule #{c.index + 1} ({c.location}) also matches {also}, not used"
        if rule.note:
            note += f"; {rule.note}"
        cached = memo[key] = sig(verdict, rule.raw, note, rule.location)
        return [cached]


def _rule_verdict(rule: TdmrepRule, policy: Policy) -> tuple[Verdict | None, str]:
    """The verdict and note of ``rule`` as the first match for a URL."""
    if rule.reservation is not None:
        return _purpose_verdict(rule.reservation, policy), _value_note(rule.reservation, policy, rule.policy)
    spoken_to = policy.purpose in SIGNAL_PURPOSES[d.TDMREP]
    if rule.malformed:
        verdict = Verdict.UNKNOWN if spoken_to else None
        note = f"malformed rule ({rule.error}): it cannot be read, value unknown"
        if rule.location is None:
            note += " for every URL it may match"
    else:
        verdict, note = None, f"{rule.error}: protocol error, value unset"
    if not spoken_to:
        note += f"; TDMRep does not speak to {policy.purpose}"
    return verdict, f"{note} [{SPEC}]"


def _combine(values: list[str], strip: str) -> tuple[int | None, str]:
    """One reservation from repeated (or comma-combined) values; None and a reason on error."""
    members = [m.strip(strip) for v in values for m in v.split(",")]
    bad = [m for m in members if m not in ("0", "1")]
    if bad:
        return None, f"tdm-reservation value {bad[0]!r} is not 0 or 1: protocol error, value unset"
    if len(set(members)) > 1:
        return None, "conflicting tdm-reservation values: protocol error, value unset"
    return int(members[0]), ""


def _signals(
    reservations: list[str],
    policies: list[str],
    *,
    evidence: str,
    url: str,
    location: str,
    policy: Policy,
    strip: str,
) -> list[Signal]:
    if not reservations:
        return []  # absence never resets the current value
    value, err = _combine(reservations, strip)
    tdm_policy = next((p.strip(strip) for p in policies if p.strip(strip)), None)
    if value is None:
        verdict, note = None, f"{err} [{SPEC}]"
    else:
        verdict, note = _purpose_verdict(value, policy), _value_note(value, policy, tdm_policy)
    return [
        Signal(
            name=d.TDMREP,
            verdict=verdict,
            purpose=policy.purpose,
            evidence=evidence,
            source=url,
            location=location,
            note=note,
        )
    ]


def header_signals(headers: Headers, url: str, policy: Policy) -> list[Signal]:
    """``tdm-reservation`` (and ``tdm-policy``) response headers; supersede tdmrep.json."""
    res = [(n, v) for n, v in headers if n.strip().lower() == "tdm-reservation"]
    pols = [(n, v) for n, v in headers if n.strip().lower() == "tdm-policy"]
    # Field names are case-insensitive (RFC 9110 §5.1) and Scrapy re-cases them: the
    # evidence names them as the spec spells them, so every path quotes the same text.
    evidence = "\n".join(
        [f"tdm-reservation: {v}" for _, v in res] + [f"tdm-policy: {v}" for _, v in pols]
    )
    return _signals(
        [v for _, v in res],
        [v for _, v in pols],
        evidence=evidence,
        url=url,
        location=LOC_TDM_HEADER,
        policy=policy,
        strip=_OWS,
    )


def meta_signals(head: Head, url: str, policy: Policy) -> list[Signal]:
    """``<meta name="tdm-reservation">`` (and ``tdm-policy``); supersede the header."""
    res = [m for m in head.metas if m.name in _RESERVATION_NAMES]
    pols = [m for m in head.metas if m.name in _POLICY_NAMES]
    return _signals(
        [m.content for m in res],
        [m.content for m in pols],
        evidence="\n".join(m.raw for m in res + pols),
        url=url,
        location=d.LOC_META,
        policy=policy,
        strip=_HTML_WS,
    )
