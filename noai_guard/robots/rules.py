"""Internal: robots.txt paths and patterns, normalised and matched (RFC 9309 §2.2.2, §2.2.3).

A rule (:class:`_Rule`) is one Allow/Disallow-like line compiled once; the
rules of a group are a :class:`_RuleList`, which answers "which rule decides
this path" (§2.2.2: most octets, allow wins a tie) without trying them all;
thousands of wildcard rules are filed by :class:`_WildIndex`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..urlpath import remove_dot_segments

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
    """The part of a URL that rules match against: path, ``;params`` and ``?query`` (§2.2.2).

    In the form :func:`match_form` gives it.
    """
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
    return match_form(path)


def match_form(path: str) -> str:
    """A URL path (and query) as rules are matched against it.

    * §2.2.2 percent-encoding normalisation (:func:`normalise`);
    * dot segments removed (RFC 3986 §5.2.4, §6.2.2.3: ``/./private/x`` and
      ``/public/../private/x`` are the ``/private/x`` that servers serve), by
      :func:`noai_guard.urlpath.remove_dot_segments`, the one function every
      path matcher uses;
    * a literal ``*`` or ``$`` in the URL percent-encoded (§2.2.3: crawlers SHOULD
      match them via ``%2A`` / ``%24``), so that a pattern's ``%2A`` / ``%24``
      matches them and a pattern's ``*`` / ``$`` keeps its special meaning.
    """
    path = normalise(path)  # decodes "%2E": a dot segment now starts with "/."
    if "/." in path:
        path = remove_dot_segments(path)
    if "*" in path or "$" in path:
        path = path.replace("*", "%2A").replace("$", "%24")
    return path


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
    if "$" in body:
        # §2.2.3: only a final "$" anchors; any other is a literal "$", which a URL path
        # carries as "%24" (see match_form).
        body = body.replace("$", "%24")
        pattern = body + ("$" if end else "")
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
    per distinct prefix length).  Up to ``index_min`` wildcard rules are bucketed
    by their literal head (the text before the first ``*``) or, for ``...$``
    rules, by their literal tail; only the buckets the path hits are tried, best
    rule first, and a bucket stops as soon as its rules cannot beat the best
    match so far.  More wildcard rules (files with thousands of ``/*...`` rules
    share one head) are filed by :class:`_WildIndex`.
    """

    __slots__ = ("_head", "_heads", "_plain", "_plains", "_tail", "_tails", "_wild", "rules")

    def __init__(self, rules: list[_Rule], index_min: int | None = None) -> None:
        self.rules = sorted(rules, key=_sort_key)
        plain: dict[int, dict[str, _Rule]] = {}
        head: dict[int, dict[str, list[_Rule]]] = {}
        tail: dict[int, dict[str, list[_Rule]]] = {}
        wild = [r for r in self.rules if r.prefix is None]
        self._wild = (
            _WildIndex(wild) if len(wild) > (_INDEX_MIN if index_min is None else index_min) else None
        )
        for r in self.rules:  # best first, so setdefault keeps the winner of identical patterns
            if r.prefix is not None:
                plain.setdefault(len(r.prefix), {}).setdefault(r.prefix, r)
            elif self._wild is not None:
                continue
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
        if self._wild is not None:
            r = self._wild.first(path, brank)
            return best if r is None else r
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


# Above this many wildcard rules a _RuleList files them in a _WildIndex.
_INDEX_MIN = 48
# Wildcard rules are filed under a substring of this many characters of one of their parts.
_GRAM = 6
# At most this many substrings of one part are considered as its key (a hostile 100 KB
# pattern would otherwise cost 100,000 of them); any one of them is a valid key.
_GRAMS_PER_PART = 32
# A head or tail that at most this many rules share files a rule without looking further.
_RARE = 4

# Keys of a _WildIndex: a substring as it is; a head or tail behind a marker that no
# normalised path or pattern holds (they are ASCII without controls, see normalise()).
_HEAD, _TAIL = "\x00", "\x01"


class _WildIndex:
    """Wildcard rules filed under one literal each, so that a path tries only the rules it can match.

    A wildcard rule matches a path only if the path starts with its head (the
    text before the first ``*``), ends with its tail (a ``...$`` rule's text after
    the last ``*``) and holds each of its literal parts (§2.2.3).  Each rule is
    filed under one of those keys, the rarest in the file: its head or tail when
    at most ``_RARE`` rules share it, else the rarest of its head, its tail and
    the ``_GRAM``-character substrings of its parts (a shorter part whole).  A
    path looks up its own prefixes of the heads' lengths, suffixes of the tails'
    lengths and substrings of the (at most ``_GRAM``) substring lengths: a
    number of lookups bound by the path's length, not by the number of rules.
    The rules filed under the keys it holds are tried best first, as
    :meth:`_RuleList.first` would try them all; rules without any literal are
    tried always.  The verdict is the one the plain scan gives (tested).

    A path longer than the lookups pay for, and a file made so that every
    rule shares its literals with the path (every key hit), are tried rule by
    rule, best first, as without the index; RFC 9309 §2.5's parse limit
    (500 KiB) bounds their number.
    """

    __slots__ = ("_always", "_heads", "_subs", "_tails", "rules")

    def __init__(self, rules: list[_Rule]) -> None:
        # In rank order, best first; of rules with the same pattern only the best can win.
        self.rules: list[_Rule] = []
        seen: set[str] = set()
        for r in rules:
            if r.pattern not in seen:
                seen.add(r.pattern)
                self.rules.append(r)
        # Pass 1: a rule's head and tail; one that few rules share files it at once.
        ends: list[list[str]] = []
        for r in self.rules:
            parts = r.parts
            e = [_HEAD + parts[0]] if parts[0] else []
            if r.end and len(parts) > 1 and parts[-1]:
                e.append(_TAIL + parts[-1])
            ends.append(e)
        count = Counter(k for e in ends for k in e)
        chosen: list[str | None] = [min(e, key=count.__getitem__) if e else None for e in ends]
        # Pass 2: the other rules, by the rarest among them of their head, tail and substrings.
        pending = [i for i, k in enumerate(chosen) if k is None or count[k] > _RARE]
        gram, most = _GRAM, _GRAM + _GRAMS_PER_PART
        keysets: list[set[str]] = []
        for i in pending:
            keys = set(ends[i])
            for p in self.rules[i].parts:
                n = len(p)
                if n <= gram:
                    if n:
                        keys.add(p)
                elif n < most:
                    keys.update([p[j : j + gram] for j in range(n - gram + 1)])
                else:  # _GRAMS_PER_PART of them, spread over the part
                    keys.update(
                        [p[j : j + gram] for j in range(0, n - gram + 1, (n - gram) // _GRAMS_PER_PART)]
                    )
            keysets.append(keys)
        count = Counter(k for keys in keysets for k in keys)
        by_count = count.__getitem__
        for i, keys in zip(pending, keysets, strict=True):
            chosen[i] = min(keys, key=by_count) if keys else None  # the rarest (any pick is correct)
        heads: dict[int, dict[str, list[int]]] = {}
        tails: dict[int, dict[str, list[int]]] = {}
        subs: dict[int, dict[str, list[int]]] = {}
        always: list[int] = []
        for i, key in enumerate(chosen):
            if key is None:
                always.append(i)  # "*$" and the like: no literal to file it under
            elif key[0] == _HEAD:
                heads.setdefault(len(key) - 1, {}).setdefault(key[1:], []).append(i)
            elif key[0] == _TAIL:
                tails.setdefault(len(key) - 1, {}).setdefault(key[1:], []).append(i)
            else:
                subs.setdefault(len(key), {}).setdefault(key, []).append(i)
        self._heads, self._tails, self._subs = heads, tails, subs
        self._always = always

    def first(self, path: str, brank: tuple[int, bool, int]) -> _Rule | None:
        """The best rule matching ``path`` that outranks ``brank``, or None."""
        order: Iterable[_Rule] | None = None
        # The lookups cost about one per character and substring length: for a long path
        # and not so many rules, trying the rules costs less (and gives the same rule).
        if len(path) * len(self._subs) < len(self.rules):
            order = self.candidates(path)
        for r in self.rules if order is None else order:  # best first
            if r.rank <= brank:
                break
            if r.matches(path):
                return r
        return None

    def candidates(self, path: str) -> list[_Rule] | None:
        """The rules filed under a key that ``path`` holds, best first (every rule that can match it).

        None when they are most of the rules (a file built so): trying all of them
        in order then costs less than sorting the hits.
        """
        n = len(path)
        hits: list[list[int]] = [self._always] if self._always else []
        for k, by in self._heads.items():
            if k <= n:
                b = by.get(path[:k])
                if b:
                    hits.append(b)
        for k, by in self._tails.items():
            if k <= n:
                b = by.get(path[n - k :])
                if b:
                    hits.append(b)
        for k, by in self._subs.items():
            if k <= n:
                hits += [by[sub] for sub in by.keys() & {path[i : i + k] for i in range(n - k + 1)}]
        rules = self.rules
        if sum(map(len, hits)) * 4 >= len(rules):
            return None
        return [rules[i] for i in sorted(set().union(*hits))]


def _sort_key(r: _Rule) -> tuple[int, bool, int]:
    return (-r.length, not r.allow, r.line)


def matches_every_path(rule: _Rule) -> bool:
    """Does the rule match every path?  Paths start with "/", so a plain prefix "" or "/" does (§2.2.2)."""
    return rule.prefix is not None and rule.prefix in ("", "/")
