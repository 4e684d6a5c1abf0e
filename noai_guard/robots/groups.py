"""Internal: robots.txt group selection, which groups bind a user-agent token (RFC 9309 §2.2.1).

:class:`_Groups` indexes a file's groups by the names their ``user-agent``
lines answer to and merges all groups naming one token into a
:class:`_Merged` (rules sorted once, shared by tokens landing on the same
groups), with the crawler's own tokens (``*`` fallback) and the proxy tokens
of a :class:`~noai_guard.policy.Policy` cached per file.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..aipref import ContentSignals
from ..policy import Policy
from ..tokens import product_token
from .grammar import _agent_keys, _Group, _UsageRule
from .rules import _RuleList


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
    odd: str  # "" or "; " + how the groups' lines were read leniently (see _odd_note)


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
                    name = "*" if key == "*" else value
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
        _odd_note([o for g in groups for o in g.odd]),
    )


_ODD_SHOWN = 3  # lenient lines named in a note; the rest are counted


def _odd_note(odd: list[str]) -> str:
    """The note's part on lines read leniently, as Google's parser reads them ("" if none)."""
    if not odd:
        return ""
    more = f"; and {len(odd) - _ODD_SHOWN} more such line(s)" if len(odd) > _ODD_SHOWN else ""
    return (
        "; lenient reading, as Google's parser (the RFC's reference implementation) reads the file: "
        + "; ".join(odd[:_ODD_SHOWN])
        + more
    )


def _who(tok: str | None, m: _Merged | None) -> str | None:
    """The token a rule bound: the own token, or ``*`` when the group fell back to ``*``."""
    return "*" if m is not None and m.name == "*" else tok


class _Groups:
    """The groups of one file, selected per token (§2.2.1) and cached."""

    __slots__ = ("_index", "_lists", "_merged", "_own", "_proxy", "groups")

    def __init__(self, groups: list[_Group]) -> None:
        self.groups = groups
        self._index: dict[str, list[int]] = {}  # agent key -> group indexes
        self._merged: dict[tuple[str, bool], _Merged | None] = {}  # (token, own) -> groups
        self._lists: dict[tuple[int, ...], tuple[_RuleList, _RuleList]] = {}  # group ids -> rules
        self._proxy: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[str, _Merged]]] = {}
        self._own: dict[tuple[str, ...], list[tuple[str, _Merged | None]]] = {}
        for i, g in enumerate(groups):
            for value, _ in g.agents:
                for k in _agent_keys(value):
                    idx = self._index.setdefault(k, [])
                    if not idx or idx[-1] != i:
                        idx.append(i)

    def for_token(self, token: str, own: bool) -> _Merged | None:
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

    def proxy_groups(self, policy: Policy) -> list[tuple[str, _Merged]]:
        """Distinct groups that explicitly name a proxy token (never ``*``).

        A group that also binds the crawler's own token is left out: its rules
        already speak through ``robots-txt`` for the own token.
        """
        ck = (policy.proxy_tokens, policy.user_agents)
        cached = self._proxy.get(ck)
        if cached is not None:
            return cached
        own_ids = {_ids(m) for _, m in self.own_groups(policy)}
        seen: list[tuple[str, _Merged]] = []
        for t in policy.proxy_tokens:
            if policy.is_own(t):
                continue
            m = self.for_token(t, own=False)
            if m is not None and m.ids not in own_ids and all(m.ids != s.ids for _, s in seen):
                seen.append((t, m))  # one group, one evaluation
        self._proxy[ck] = seen
        return seen

    def own_groups(self, policy: Policy) -> list[tuple[str, _Merged | None]]:
        """Own tokens with their group (``*`` fallback), one entry per distinct group."""
        cached = self._own.get(policy.user_agents)
        if cached is not None:
            return cached
        res: list[tuple[str, _Merged | None]] = []
        for t in policy.user_agents:
            m = self.for_token(t, own=True)
            if all(_ids(m) != _ids(s) for _, s in res):
                res.append((t, m))
        self._own[policy.user_agents] = res
        return res
