"""robots.txt (RFC 9309) and the records it carries, plus Spawning ``ai.txt``.

Pure code: :meth:`RobotsTxt.parse` reads the bytes once (never raises) and
:meth:`RobotsTxt.signals` answers per URL.  Where RFC 9309 and Protego differ,
the RFC wins:

* group selection compares the product token (§2.2.1) exactly, so a group for
  ``GPTBot`` does not bind ``GPTBot-Image``;
* records outside the protocol (Crawl-delay, Sitemap, License, unknown lines)
  never end a group and never close its run of ``user-agent`` lines (§2.2.4:
  other records MUST NOT interfere), where Protego starts a new group;
* ``/index.html`` is not the same path as ``/``;
* a ``?`` in a pattern counts as one octet (Protego counts ``%3F``, three);
* a user-agent value that is not a bare token (``Sogou web spider/4.0``) names
  its leading token (``Sogou``), as Google's parser reads it; Protego matches
  no crawler to it.

The extension records that their own specs place *in* a group as rules
(Content-Usage, aipref attach §3; Content-Signal; DisallowAITraining) close
the run of user-agent lines like ``allow``/``disallow`` do, so
``User-agent: *`` / ``Content-Signal: ...`` / ``User-agent: examplebot`` is
two groups (conformance vector 25), not one.

Records read beside the protocol (§2.2.4): ``Content-Usage`` (aipref attach
§3), ``Content-Signal`` (Cloudflare), ``License`` (RSL 1.0), ``DisallowAITraining``
/ ``AllowAITraining`` (draft-canel, expired), ``Crawl-delay`` and ``Sitemap``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import decision as d
from .aipref import (
    LABEL_FOR_PURPOSE,
    VOCAB_COMBINE,
    ContentSignals,
    UsagePreferences,
    combine,
    parse_content_signal,
    parse_content_usage,
)
from .decision import Signal, Verdict
from .policy import Policy
from .tokens import product_token

DEFAULT_LIMIT = 512_000  # RFC 9309 §2.5: parse at least 500 KiB
OK, UNAVAILABLE, UNREACHABLE = "ok", "unavailable", "unreachable"

# ---------------------------------------------------------------------------
# Paths and patterns (RFC 9309 §2.2.2, §2.2.3)

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")
# Anything other than printable ASCII without '%' needs normalising.
_NEEDS_NORM = re.compile(r"[^\x21-\x24\x26-\x7e]")


def normalise(s: str) -> str:
    """Percent-encoding normalisation applied to both patterns and paths (§2.2.2).

    Percent-encoded unreserved characters are decoded, other escapes get
    uppercase hex, non-ASCII is encoded as UTF-8 ``%XX``, and so are controls,
    spaces and a lone ``%``.  ``*`` and ``$`` are left alone.
    """
    if not _NEEDS_NORM.search(s):
        return s
    b = s.encode("utf-8", "replace")
    out: list[str] = []
    i, n = 0, len(b)
    while i < n:
        c = b[i]
        if c == 0x25:  # '%'
            h = b[i + 1 : i + 3].decode("latin-1")
            if len(h) == 2 and h[0] in _HEX and h[1] in _HEX:
                ch = chr(int(h, 16))
                out.append(ch if ch in _UNRESERVED else "%" + h.upper())
                i += 3
                continue
            out.append("%25")
        elif c < 0x21 or c > 0x7E:
            out.append(f"%{c:02X}")
        else:
            out.append(chr(c))
        i += 1
    return "".join(out)


_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*([^#]*)")


def url_path(url: str) -> str:
    """The part of a URL that rules match against: path, ``;params`` and ``?query`` (§2.2.2)."""
    m = _URL_RE.match(url)
    if m is not None:
        path = m.group(1)
    elif url.startswith("/"):
        path = url.partition("#")[0]
    else:
        try:
            parts = urlsplit(url)
        except ValueError:
            return "/"
        path = parts.path + ("?" + parts.query if parts.query else "")
    if not path.startswith("/"):
        path = "/" + path
    return normalise(path)


@dataclass(slots=True)
class _Rule:
    """An Allow/Disallow-like rule with its precompiled matcher."""

    allow: bool
    pattern: str  # normalised; its length ranks the rule (§2.2.2 "most octets")
    evidence: str  # the line without comment, stripped
    line: int
    prefix: str | None  # a plain prefix, or None for a wildcard / "$" pattern
    parts: tuple[str, ...]  # literal pieces between "*"
    end: bool  # ends with "$"
    rank: tuple[int, bool, int]  # larger wins: longest, then allow (§2.2.2), then earliest line

    @property
    def length(self) -> int:
        return len(self.pattern)

    def matches(self, path: str) -> bool:
        """§2.2.3 ``*`` and ``$``: leftmost-first glob, linear in the path length."""
        if self.prefix is not None:
            return path.startswith(self.prefix)
        parts = self.parts
        if not path.startswith(parts[0]):
            return False
        if len(parts) == 1:  # "$" without "*"
            return path == parts[0]
        pos = len(parts[0])
        for part in parts[1:-1]:
            i = path.find(part, pos)
            if i < 0:
                return False
            pos = i + len(part)
        last = parts[-1]
        if self.end:
            return len(path) - len(last) >= pos and path.endswith(last)
        return path.find(last, pos) >= 0


def _compile(allow: bool, raw_pattern: str, evidence: str, line: int, lenient: bool) -> _Rule:
    pattern = normalise(raw_pattern)
    if lenient and not pattern.startswith(("/", "*")):
        pattern = "/" + pattern  # ai.txt extension patterns such as ".jpg"
    end = pattern.endswith("$")
    body = pattern[:-1] if end else pattern
    if not end:
        body = body.rstrip("*")  # "/a*" is the prefix "/a" (§2.2.3)
    rank = (len(pattern), allow, -line)
    if not end and "*" not in body:
        return _Rule(allow, pattern, evidence, line, body, (body,), False, rank)
    return _Rule(allow, pattern, evidence, line, None, tuple(re.split(r"\*+", body)), end, rank)


_NONE_RANK = (-1, False, 0)


class _RuleList:
    """The rules of one (merged) group, indexed so that a query need not try them all.

    §2.2.2: the matching rule with the most octets wins, allow wins a tie.
    Plain prefixes are looked up by length (``path[:n]`` in a dict, one lookup
    per distinct prefix length).  Wildcard rules are bucketed by their literal
    head (the text before the first ``*``) or, for ``...$`` rules, by their
    literal tail; only the buckets the path hits are tried, best rule first,
    and a bucket stops as soon as its rules cannot beat the best match so far.
    """

    __slots__ = ("_head", "_heads", "_plain", "_plains", "_tail", "_tails", "rules")

    def __init__(self, rules: list[_Rule]) -> None:
        self.rules = sorted(rules, key=_sort_key)
        plain: dict[int, dict[str, _Rule]] = {}
        head: dict[int, dict[str, list[_Rule]]] = {}
        tail: dict[int, dict[str, list[_Rule]]] = {}
        for r in self.rules:  # best first, so setdefault keeps the winner of identical patterns
            if r.prefix is not None:
                plain.setdefault(len(r.prefix), {}).setdefault(r.prefix, r)
            elif r.end and len(r.parts) > 1 and r.parts[-1]:
                tail.setdefault(len(r.parts[-1]), {}).setdefault(r.parts[-1], []).append(r)
            else:
                head.setdefault(len(r.parts[0]), {}).setdefault(r.parts[0], []).append(r)
        self._plain, self._head, self._tail = plain, head, tail
        self._plains = sorted(plain, reverse=True)
        self._heads = sorted(head, reverse=True)
        self._tails = sorted(tail, reverse=True)

    def first(self, path: str) -> _Rule | None:
        """The deciding rule for ``path``, or None when no rule matches."""
        best: _Rule | None = None
        brank = _NONE_RANK
        n = len(path)
        for k in self._plains:
            if k <= n:
                r = self._plain[k].get(path[:k])
                if r is not None and r.rank > brank:
                    best, brank = r, r.rank
        for k in self._heads:
            if k <= n:
                bucket = self._head[k].get(path[:k])
                if bucket:
                    for r in bucket:
                        if r.rank <= brank:
                            break
                        if r.matches(path):
                            best, brank = r, r.rank
                            break
        for k in self._tails:
            if k <= n:
                bucket = self._tail[k].get(path[n - k :])
                if bucket:
                    for r in bucket:
                        if r.rank <= brank:
                            break
                        if r.matches(path):
                            best, brank = r, r.rank
                            break
        return best


def _sort_key(r: _Rule) -> tuple[int, bool, int]:
    return (-r.length, not r.allow, r.line)


# ---------------------------------------------------------------------------
# Groups


@dataclass(slots=True)
class _UsageRule:
    rule: _Rule  # allow flag unused; "prefix" is the path (or "/" when omitted)
    prefs: UsagePreferences
    has_path: bool


@dataclass(slots=True)
class _Group:
    agents: list[tuple[str, int]] = field(default_factory=list)  # (value as written, line)
    rules: list[_Rule] = field(default_factory=list)
    usage: list[_UsageRule] = field(default_factory=list)
    content_signals: list[tuple[int, str, ContentSignals]] = field(default_factory=list)
    legacy: list[_Rule] = field(default_factory=list)
    crawl_delay: tuple[int, str] | None = None


@dataclass(slots=True)
class _Merged:
    """All groups that name one token, combined (§2.2.1), with rules sorted once."""

    ids: tuple[int, ...]  # indexes of the groups in the file
    groups: tuple[_Group, ...]
    name: str  # the token as written in the first user-agent line
    scope: str
    rules: _RuleList
    usage: list[_UsageRule]
    legacy: _RuleList
    content_signals: list[tuple[int, str, ContentSignals]]


def _agent_keys(value: str) -> set[str]:
    """Names a user-agent value answers to (all lowercase).

    The RFC product token (§2.2.1: ``CCBot/2.0`` names ``ccbot``), plus the value
    as written and the value before ``/``, so that proxy tokens that are not
    valid RFC tokens (``AI2Bot``, ``Kangaroo Bot``) can be matched as written.
    """
    v = value.strip().lower()
    if v == "*":
        return {"*"}
    keys = {v, v.split("/", 1)[0].strip()}
    tok = product_token(v).lower()
    if tok:
        keys.add(tok)
    keys.discard("")
    return keys


def _line_list(lines: list[int]) -> str:
    return f"line {lines[0]}" if len(lines) == 1 else "lines " + ", ".join(map(str, lines))


def _ids(m: _Merged | None) -> tuple[int, ...]:
    return () if m is None else m.ids


def _merge(
    ids: tuple[int, ...], groups: tuple[_Group, ...], key: str, rules: _RuleList, legacy: _RuleList
) -> _Merged:
    name = key
    lines: list[int] = []
    for g in groups:
        for value, ln in g.agents:
            if key in _agent_keys(value):
                if not lines:
                    name = value
                lines.append(ln)
    return _Merged(
        ids,
        groups,
        name,
        f"User-agent: {name} ({_line_list(lines)})",
        rules,
        [u for g in groups for u in g.usage],
        legacy,
        [c for g in groups for c in g.content_signals],
    )


# ---------------------------------------------------------------------------
# The file

_LINE_SPLIT = re.compile(r"\r\n|\r|\n")


def _cut(body: bytes, limit: int) -> tuple[bytes, bool]:
    """§2.5: keep the first ``limit`` bytes, cut at the last complete line."""
    if len(body) <= limit:
        return body, False
    head = body[:limit]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return (head[: end + 1] if end >= 0 else b""), True


def _utf16(data: bytes) -> str | None:
    """The UTF-16 codec of ``data`` (by BOM, else by NULs in every other byte of an ASCII text), or None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # the codec reads the BOM
    head = data[:64]
    if len(head) >= 8 and b"\x00" in head:
        if head[1::2].count(0) == len(head[1::2]) and head[0::2].count(0) == 0:
            return "utf-16-le"
        if head[0::2].count(0) == len(head[0::2]) and head[1::2].count(0) == 0:
            return "utf-16-be"
    return None


class RobotsTxt:
    """A parsed robots.txt (or ai.txt), with its fetch state.

    ``state`` is ``ok`` (2xx, parsed), ``unavailable`` (4xx etc., §2.3.1.3: no
    rules) or ``unreachable`` (5xx / network error, §2.3.1.4: complete disallow,
    reported as :attr:`Verdict.UNKNOWN` so that the policy resolves it).
    """

    def __init__(
        self,
        url: str,
        state: str = OK,
        status: int | None = 200,
        detail: str = "",
        truncated: bool = False,
    ) -> None:
        self.url = url
        self.state = state
        self.status = status
        self.detail = detail
        self.truncated = truncated
        self.sitemaps: list[str] = []
        self.licenses: list[tuple[int, str, str]] = []  # (line, evidence, licence URL)
        self.origin_signals: list[tuple[int, str, ContentSignals]] = []  # before any group
        self.groups: list[_Group] = []
        self._index: dict[str, list[int]] = {}  # agent key -> group indexes
        self._merged: dict[tuple[str, bool], _Merged | None] = {}  # (token, own) -> groups
        self._lists: dict[tuple[int, ...], tuple[_RuleList, _RuleList]] = {}  # group ids -> rules
        self._proxy: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[str, _Merged]]] = {}
        self._own: dict[tuple[str, ...], list[tuple[str, _Merged | None]]] = {}
        self._static: dict[tuple[object, ...], list[Signal]] = {}
        self._signals: dict[tuple[object, ...], Signal] = {}  # memo: see signals()
        # The last policy's own groups, proxy groups and static signals (see _policy_parts).
        self._last: (
            tuple[Policy, list[tuple[str, _Merged | None]], list[tuple[str, _Merged]], list[Signal]] | None
        )
        self._last = None

    # -- construction ------------------------------------------------------

    @classmethod
    def parse(
        cls,
        body: bytes,
        url: str,
        *,
        status: int | None = 200,
        limit: int = DEFAULT_LIMIT,
        lenient_patterns: bool | None = None,
    ) -> RobotsTxt:
        """Parse ``body``; never raises.

        ``lenient_patterns`` (default: on for a URL ending in ``/ai.txt``) reads
        patterns that start with neither ``/`` nor ``*`` as if prefixed by ``/``.
        """
        try:
            return cls._parse(body, url, status, limit, lenient_patterns)
        except Exception as exc:  # noqa: BLE001  # pragma: no cover - parse must never raise
            # Fail closed: an internal error is reported as unreachable (unknown), not as allow-all.
            return cls(url, UNREACHABLE, status, f"parser error: {type(exc).__name__}")

    @classmethod
    def _parse(cls, body: bytes, url: str, status: int | None, limit: int, lenient: bool | None) -> RobotsTxt:
        data, truncated = _cut(bytes(body), max(limit, 0))
        detail = f"HTTP {status}" if status is not None else ""
        if truncated:
            detail += f"; truncated at {len(data)} bytes (limit {limit}, RFC 9309 §2.5)"
        self = cls(url, OK, status, detail.lstrip("; "), truncated)
        if lenient is None:
            lenient = url_path(url).endswith("/ai.txt")
        wide = _utf16(data)
        if wide is not None:
            # RFC 9309 §2.3 asks for UTF-8; a UTF-16 file is still the site's rules, read as such.
            text = data.decode(wide, "replace")
            self.detail = (
                self.detail + "; " if self.detail else ""
            ) + "UTF-16 file read as such (RFC 9309 §2.3: UTF-8)"
        else:
            text = data.decode("utf-8", "replace")
        text = text.removeprefix("\ufeff")  # BOM
        cur: _Group | None = None
        in_agents = False  # the last protocol record was a user-agent line
        for lineno, raw in enumerate(_LINE_SPLIT.split(text), 1):
            line = raw.split("#", 1)[0].strip()
            key, sep, value = line.partition(":")
            if not sep:
                continue  # no colon: not a record
            key = key.strip().lower()
            value = value.strip()
            if key == "user-agent":
                if cur is None or not in_agents:  # §2.2.1: consecutive lines start one group
                    cur = _Group()
                    self.groups.append(cur)
                cur.agents.append((value, lineno))
                in_agents = True
            elif key in ("allow", "disallow"):
                in_agents = False
                if cur is not None and value:  # empty value: no rule; outside a group: ignored
                    cur.rules.append(_compile(key == "allow", value, line, lineno, lenient))
            # Other records (Sitemap, License, Crawl-delay, unknown lines) neither end a
            # group nor close its user-agent lines (§2.2.4: MUST NOT interfere).
            elif key == "sitemap":
                if value:
                    self.sitemaps.append(value)
            elif key == "license":  # RSL 1.0: not tied to any user agent
                if value:
                    self.licenses.append((lineno, line, value))
            # Group-member records of the extensions (Content-Signal "inside a User-Agent
            # group", aipref attach §3 rules, draft-canel rules) are rules of the group:
            # like allow/disallow they close the run of user-agent lines.
            elif key == "content-signal":
                rec = (lineno, line, parse_content_signal(value))
                (cur.content_signals if cur is not None else self.origin_signals).append(rec)
                in_agents = False
            elif key == "content-usage":
                if cur is not None:  # attach §3: group-scoped; outside a group ignored
                    cur.usage.append(_usage_rule(value, line, lineno))
                in_agents = False
            elif key in ("disallowaitraining", "allowaitraining"):
                if cur is not None and value:
                    cur.legacy.append(_compile(key == "allowaitraining", value, line, lineno, lenient))
                in_agents = False
            elif key == "crawl-delay" and cur is not None and cur.crawl_delay is None:
                cur.crawl_delay = (lineno, value)
        for i, g in enumerate(self.groups):
            for value, _ in g.agents:
                for k in _agent_keys(value):
                    idx = self._index.setdefault(k, [])
                    if not idx or idx[-1] != i:
                        idx.append(i)
        return self

    @classmethod
    def unavailable(cls, url: str, detail: str, status: int | None = None) -> RobotsTxt:
        """RFC 9309 §2.3.1.3 (4xx, too many redirects): the crawler MAY access anything."""
        return cls(url, UNAVAILABLE, status, detail)

    @classmethod
    def unreachable(cls, url: str, detail: str, status: int | None = None) -> RobotsTxt:
        """RFC 9309 §2.3.1.4 (5xx, network error): complete disallow -> Verdict.UNKNOWN."""
        return cls(url, UNREACHABLE, status, detail)

    def __repr__(self) -> str:
        return f"RobotsTxt({self.url!r}, state={self.state!r}, groups={len(self.groups)})"

    # -- group selection (§2.2.1) -----------------------------------------

    def _group_for(self, token: str, own: bool) -> _Merged | None:
        """Merged groups naming ``token`` (§2.2.1), or None.

        For the crawler's own token (``own``) a value like ``ExampleBot/1.0`` is
        reduced to its product token and the ``*`` group is used when no group
        names it.  Proxy tokens are compared as written (case-insensitively),
        never reduced (``Ai2Bot-Dolma`` must not become ``Ai``) and never fall
        back to ``*``.
        """
        ck = (token, own)
        if ck in self._merged:
            return self._merged[ck]
        key = token.strip().lower()
        idx = self._index.get(key)
        if not idx and own:
            tok = product_token(token).lower()
            idx = self._index.get(tok) if tok else None
            key = tok if idx else key
            if not idx:
                idx, key = self._index.get("*"), "*"
        found = None
        if idx:
            ids = tuple(idx)
            groups = tuple(self.groups[i] for i in ids)
            lists = self._lists.get(ids)
            if lists is None:  # tokens landing on the same groups share the sorted rules
                lists = self._lists[ids] = (
                    _RuleList([r for g in groups for r in g.rules]),
                    _RuleList([r for g in groups for r in g.legacy]),
                )
            found = _merge(ids, groups, key, *lists)
        self._merged[ck] = found
        return found

    def _proxy_groups(self, policy: Policy) -> list[tuple[str, _Merged]]:
        """Distinct groups that explicitly name a proxy token (never ``*``).

        A group that also binds the crawler's own token is left out: its rules
        already speak through ``robots-txt`` for the own token.
        """
        ck = (policy.proxy_tokens, policy.user_agents)
        cached = self._proxy.get(ck)
        if cached is not None:
            return cached
        own_ids = {_ids(m) for _, m in self._own_groups(policy)}
        seen: list[tuple[str, _Merged]] = []
        for t in policy.proxy_tokens:
            if policy.is_own(t):
                continue
            m = self._group_for(t, own=False)
            if m is not None and m.ids not in own_ids and all(m.ids != s.ids for _, s in seen):
                seen.append((t, m))  # one group, one evaluation
        self._proxy[ck] = seen
        return seen

    # -- queries ------------------------------------------------------------

    def crawl_delay(self, token: str) -> float | None:
        """``Crawl-delay`` of the token's group (first one found), in seconds; None if absent/invalid."""
        m = self._group_for(token, own=True)
        if m is None:
            return None
        for g in m.groups:
            if g.crawl_delay is not None:
                try:
                    v = float(g.crawl_delay[1])
                except ValueError:
                    return None
                return v if math.isfinite(v) and v >= 0 else None
        return None

    def can_fetch(self, url: str, token: str) -> bool:
        """Plain RFC 9309 answer for one token (``*`` fallback); unreachable -> False."""
        if self.state == UNREACHABLE:
            return False
        path = url_path(url)
        if self.state != OK or path == "/robots.txt":
            return True
        m = self._group_for(token, own=True)
        r = m.rules.first(path) if m is not None else None
        return r is None or r.allow

    def signals(self, url: str, policy: Policy, *, path: str | None = None) -> list[Signal]:
        """All robots.txt signals for ``url`` and ``policy.purpose``.

        Signals do not depend on the URL beyond the rule that matched, so each
        one is built once per (rule, token, purpose) and reused.  ``path``, if
        given, must be ``url_path(url)`` (computed once for robots.txt and ai.txt).
        """
        purpose = policy.purpose
        if self.state != OK:
            return [self._memo(("state", purpose), self._state_signal, purpose)]
        if path is None:
            path = url_path(url)
        _, own, proxy, static = self._policy_parts(policy)
        out: list[Signal] = []
        if path == "/robots.txt":  # §2.2.2: implicitly allowed
            first_tok = own[0][0] if own else None  # the signal names it: part of the key
            out.append(self._memo(("implicit", purpose, first_tok), self._implicit_signal, own, purpose))
            disallowed = False
        else:
            robots = self._own_robots_signal(own, path, purpose)
            out.append(robots)
            disallowed = robots.verdict is Verdict.RESERVE
        if purpose == d.AI_TRAIN:
            for ptok, pm in proxy:
                r = pm.rules.first(path)
                if r is not None and not r.allow:
                    out.append(self._memo(("proxy", ptok, id(r)), self._proxy_signal, ptok, pm, r))
        for tok, m in own:
            if m is None:
                continue
            if m.usage:
                cu = self._usage_signal(tok, m, path, purpose, disallowed)
                if cu is not None:
                    out.append(cu)
            if purpose == d.AI_TRAIN and m.legacy.rules:
                lr = m.legacy.first(path)
                if lr is not None:
                    out.append(self._memo(("legacy", tok, id(lr)), self._legacy_signal, tok, m, lr, purpose))
        out.extend(static)
        return out

    def path_rules(self, policy: Policy) -> list[_Rule]:
        """Every rule whose match can change :meth:`signals` for ``policy``.

        The own tokens' Allow/Disallow, Content-Usage and legacy rules and the
        proxy groups' rules; every other signal does not depend on the path.
        """
        if self.state != OK:
            return []
        _, own, proxy, _ = self._policy_parts(policy)
        out: list[_Rule] = []
        for _, m in own:
            if m is not None:
                out += m.rules.rules
                out += m.legacy.rules
                out += [u.rule for u in m.usage]
        for _, pm in proxy:
            out += pm.rules.rules
        return out

    # -- the pieces of signals() -------------------------------------------

    def _policy_parts(
        self, policy: Policy
    ) -> tuple[Policy, list[tuple[str, _Merged | None]], list[tuple[str, _Merged]], list[Signal]]:
        """What signals() needs from ``policy`` beyond the URL, kept for the last policy seen.

        The same (cached) values that _own_groups, _proxy_groups and _static_signals
        return; a crawl or an audit asks with one Policy object throughout, so the
        identity check spares building and hashing their keys (the proxy-token tuple)
        per URL.  Policy is frozen: the same object gives the same answers.
        """
        last = self._last
        if last is not None and last[0] is policy:
            return last
        own = self._own_groups(policy)
        proxy = self._proxy_groups(policy)
        last = self._last = (policy, own, proxy, self._static_signals(own, policy.purpose))
        return last

    def _memo(self, key: tuple[object, ...], build: Callable[..., Signal], *args: object) -> Signal:
        sig = self._signals.get(key)
        if sig is None:
            sig = self._signals[key] = build(*args)
        return sig

    def _state_signal(self, purpose: str) -> Signal:
        if self.state == UNREACHABLE:
            verdict = Verdict.UNKNOWN
            note = (
                "RFC 9309 §2.3.1.4: robots.txt unreachable; the crawler MUST assume complete disallow "
                "(resolved by policy)"
            )
        else:
            verdict = Verdict.ALLOW
            note = "RFC 9309 §2.3.1.3: robots.txt unavailable; the crawler MAY access any resource"
        return Signal(d.ROBOTS_TXT, verdict, purpose, self.detail, self.url, d.LOC_ROBOTS, note=note)

    def _own_groups(self, policy: Policy) -> list[tuple[str, _Merged | None]]:
        """Own tokens with their group (``*`` fallback), one entry per distinct group."""
        cached = self._own.get(policy.user_agents)
        if cached is not None:
            return cached
        res: list[tuple[str, _Merged | None]] = []
        for t in policy.user_agents:
            m = self._group_for(t, own=True)
            if all(_ids(m) != _ids(s) for _, s in res):
                res.append((t, m))
        self._own[policy.user_agents] = res
        return res

    def _implicit_signal(self, own: list[tuple[str, _Merged | None]], purpose: str) -> Signal:
        return Signal(
            d.ROBOTS_TXT,
            Verdict.ALLOW,
            purpose,
            "",
            self.url,
            d.LOC_ROBOTS,
            user_agent=own[0][0] if own else None,
            own_token=True,
            note="RFC 9309 §2.2.2: the /robots.txt URI is implicitly allowed",
        )

    def _own_robots_signal(self, own: list[tuple[str, _Merged | None]], path: str, purpose: str) -> Signal:
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
            return self._memo(("robots", purpose), self._robots_signal, None, None, None, purpose)
        tok, m, r = first
        return self._memo(("robots", purpose, tok, id(m), id(r)), self._robots_signal, tok, m, r, purpose)

    def _robots_signal(self, tok: str | None, m: _Merged | None, r: _Rule | None, purpose: str) -> Signal:
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
        return Signal(
            d.ROBOTS_TXT,
            Verdict.ALLOW if r is None or r.allow else Verdict.RESERVE,
            purpose,
            r.evidence if r is not None else "",
            self.url,
            d.LOC_ROBOTS,
            line=r.line if r is not None else None,
            scope=m.scope if m is not None else None,
            user_agent=_who(tok, m),
            own_token=True if tok is not None else None,
            note=note,
        )

    def _proxy_signal(self, tok: str, m: _Merged, r: _Rule) -> Signal:
        return Signal(
            d.ROBOTS_TXT_PROXY,
            Verdict.RESERVE,
            d.AI_TRAIN,
            r.evidence,
            self.url,
            d.LOC_ROBOTS,
            line=r.line,
            scope=m.scope,
            user_agent=tok,
            own_token=False,
            note=f"disallow in a group naming AI-training token {tok!r} (RFC 9309 §2.2.1); it did not "
            "bind the crawler's own token: counted as a site-level AI-training opt-out by policy",
        )

    def _usage_signal(self, tok: str, m: _Merged, path: str, purpose: str, disallowed: bool) -> Signal | None:
        """aipref attach §3: longest matching path; identical-length matches combine (vocab §5.1)."""
        best = -1
        hits: list[_UsageRule] = []
        for u in m.usage:
            if u.rule.length < best or not u.rule.matches(path):
                continue
            if u.rule.length > best:
                best, hits = u.rule.length, []
            hits.append(u)
        if not hits:
            return None
        key = ("usage", purpose, tok, disallowed, *(id(h) for h in hits))
        return self._memo(key, self._usage_build, tok, m, hits, purpose, disallowed)

    def _usage_build(
        self, tok: str, m: _Merged, hits: list[_UsageRule], purpose: str, disallowed: bool
    ) -> Signal:
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
            note = f"aipref vocab-07 has no label for {purpose}; informational{notes}"
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
            self.url,
            d.LOC_ROBOTS,
            line=deciding.rule.line,
            scope=f"{m.scope}; path {where}",
            user_agent=_who(tok, m),
            own_token=True,
            note=note,
        )

    def _legacy_signal(self, tok: str, m: _Merged, r: _Rule, purpose: str) -> Signal:
        kind = "AllowAITraining" if r.allow else "DisallowAITraining"
        return Signal(
            d.LEGACY_AI_TRAINING,
            Verdict.ALLOW if r.allow else Verdict.RESERVE,
            purpose,
            r.evidence,
            self.url,
            d.LOC_ROBOTS,
            line=r.line,
            scope=m.scope,
            user_agent=_who(tok, m),
            own_token=True,
            legacy=True,
            note=f"draft-canel-robots-ai-control-00 (expired Apr 2025) {kind}, longest match: legacy signal",
        )

    def _static_signals(self, own: list[tuple[str, _Merged | None]], purpose: str) -> list[Signal]:
        """URL-independent signals: Content-Signal records and RSL License records."""
        key = (purpose, tuple(id(m) for _, m in own))
        cached = self._static.get(key)
        if cached is not None:
            return cached
        out: list[Signal] = []
        for tok, m in own:
            if m is not None:
                for rec in m.content_signals:
                    out.append(self._cs_signal(rec, purpose, m.scope, _who(tok, m), "in the crawler's group"))
        for rec in self.origin_signals:
            out.append(
                self._cs_signal(rec, purpose, "(before any group)", None, "outside any group, origin-wide")
            )
        # Vector 25: Content-Signal only in a * group that does not bind the crawler (§2.2.1).
        star = self._group_for("*", own=False)
        if not out and star is not None and star.content_signals and all(_ids(m) != star.ids for _, m in own):
            ln, ev, _ = star.content_signals[0]
            out.append(
                Signal(
                    d.CONTENT_SIGNAL,
                    Verdict.UNKNOWN,
                    purpose,
                    ev,
                    self.url,
                    d.LOC_ROBOTS,
                    line=ln,
                    scope=star.scope,
                    user_agent="*",
                    own_token=False,
                    note="flag: Content-Signal only in the * group, which does not apply because a group "
                    "names the crawler's token (RFC 9309 §2.2.1); intent unclear",
                )
            )
        for ln, ev, lic in self.licenses:
            out.append(
                Signal(
                    d.RSL_LICENSE,
                    None,
                    purpose,
                    ev,
                    self.url,
                    d.LOC_ROBOTS,
                    line=ln,
                    scope=lic,
                    note=f"RSL 1.0 License record (not user-agent scoped); licence {lic}: informational",
                )
            )
        self._static[key] = out
        return out

    def _cs_signal(
        self, rec: tuple[int, str, ContentSignals], purpose: str, scope: str, who: str | None, where: str
    ) -> Signal:
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
            self.url,
            d.LOC_ROBOTS,
            line=ln,
            scope=scope,
            user_agent=who,
            own_token=True if who is not None else None,
            note=f"Content-Signal {where}: {why}{extra}",
        )


def _who(tok: str | None, m: _Merged | None) -> str | None:
    """The token a rule bound: the own token, or ``*`` when the group fell back to ``*``."""
    return "*" if m is not None and m.name == "*" else tok


def _usage_rule(value: str, line: str, lineno: int) -> _UsageRule:
    """attach §3: ``[path-pattern 1*WS] usage-pref``; a value starting with ``/`` carries a path."""
    path = "/"
    has_path = value.startswith("/")
    if has_path:
        m = re.match(r"(\S+)[ \t]*(.*)", value)
        assert m is not None
        path, value = m.group(1), m.group(2)
    # A rule without a path covers all paths, i.e. the same scope as "/".
    return _UsageRule(_compile(False, path, line, lineno, False), parse_content_usage(value), has_path)


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


def matches_every_path(rule: _Rule) -> bool:
    """Does the rule match every path?  Paths start with "/", so a plain prefix "" or "/" does (§2.2.2)."""
    return rule.prefix is not None and rule.prefix in ("", "/")


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
        ),
    )
