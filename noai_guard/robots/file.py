"""Internal: :class:`RobotsTxt`, one robots.txt or ai.txt with its fetch state, and its queries.

:meth:`RobotsTxt.parse` reads the bytes once (:mod:`.grammar`, never raises);
group selection is :mod:`.groups`, per-URL signals :mod:`.signals`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..decision import Signal
from ..policy import Policy
from .grammar import (
    DEFAULT_LIMIT,
    OK,
    UNAVAILABLE,
    UNREACHABLE,
    _cut,
    _Group,
    _Records,
    decode_text,
    read_records,
)
from .groups import _Groups, _Merged
from .rules import _Rule, url_path
from .signals import _Evaluator


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
        *,
        records: _Records | None = None,
    ) -> None:
        rec = _Records() if records is None else records
        self.url = url
        self.state = state
        self.status = status
        self.detail = detail
        self.truncated = truncated
        self.sitemaps: list[str] = rec.sitemaps
        self.licenses: list[tuple[int, str, str]] = rec.licenses  # (line, evidence, licence URL)
        self.origin_signals = rec.origin_signals  # Content-Signal records before any group
        self.groups: list[_Group] = rec.groups
        self._select = _Groups(self.groups)  # §2.2.1 group selection, cached per token
        self._eval = _Evaluator(self._select)  # per-URL signals, memoised

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
        detail = detail.lstrip("; ")
        if lenient is None:
            lenient = url_path(url).endswith("/ai.txt")
        text, wide = decode_text(data)
        if wide:
            # RFC 9309 §2.3 asks for UTF-8; a UTF-16 file is still the site's rules, read as such.
            detail = (detail + "; " if detail else "") + "UTF-16 file read as such (RFC 9309 §2.3: UTF-8)"
        return cls(url, OK, status, detail, truncated, records=read_records(text, lenient))

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
        return self._eval.signals(self, url, policy, path)

    def path_rules(self, policy: Policy) -> list[_Rule]:
        """Every rule whose match can change :meth:`signals` for ``policy``.

        The own tokens' Allow/Disallow, Content-Usage and legacy rules and the
        proxy groups' rules; every other signal does not depend on the path.
        """
        return self._eval.path_rules(self, policy)

    # -- for the package's other modules (ai.txt) and tests --------------------

    def _group_for(self, token: str, own: bool) -> _Merged | None:
        """Merged groups naming ``token`` (§2.2.1), or None (see :meth:`_Groups.for_token`)."""
        return self._select.for_token(token, own)

    def _memo(self, key: tuple[object, ...], build: Callable[..., Signal], *args: object) -> Signal:
        """A signal built once per file (the memo :meth:`signals` uses)."""
        return self._eval.memo(key, build, *args)
