"""Internal: content kept per registrable domain, from the run summaries' ``sizes`` (issue 18).

:class:`SizeTally` folds the ``sizes`` object of every run summary
(:mod:`noai_guard.sizes`) into pages and bytes per registrable domain and per
media type, so that domains can be ranked by the size of the content kept
(the AI Office template's "most relevant domain names").  A summary written
before sizes were recorded counts as a run whose sizes were "not recorded".
Bounded: at most :data:`MAX_SIZE_DOMAINS` domains are named, further ones are
added to the unattributed total.  Every value is untrusted (:mod:`.fields`).
"""

from __future__ import annotations

from typing import Any

from .domains import domain_of_url, registrable_domain
from .fields import MAX_NAMED, count, key, text

#: Registrable domains named; the content of further ones is counted as unattributed.
MAX_SIZE_DOMAINS = 200_000


class SizeTally:
    """Pages and bytes kept per registrable domain and per media type, over every run summary."""

    def __init__(self) -> None:
        self.domains: dict[str, list[int]] = {}  # domain -> [pages, bytes]
        self.types: dict[str, list[int]] = {}  # media type -> [pages, bytes]
        self.runs_with = 0  # summaries with a ``sizes`` object
        self.runs_without = 0  # summaries without (older trails): sizes not recorded
        self.unattributed = [0, 0]  # pages, bytes under no named origin (a run's ``other``, overflow)
        self.total = [0, 0]
        self.measures: list[str] = []
        self.limits: set[int] = set()
        self.malformed = 0

    def add(self, rec: dict[str, Any]) -> None:
        """Fold one ``summary`` record."""
        sizes = rec.get("sizes")
        if not isinstance(sizes, dict):
            self.runs_without += 1
            return
        self.runs_with += 1
        m = text(sizes.get("measure"), 400)
        if m and m not in self.measures and len(self.measures) < 8:
            self.measures.append(m)
        lim = sizes.get("limit")
        if isinstance(lim, int) and not isinstance(lim, bool) and len(self.limits) < 8:
            self.limits.add(lim)
        origins = sizes.get("origins")
        if isinstance(origins, dict):
            for origin, row in origins.items():
                if not isinstance(row, dict):
                    self.malformed += 1
                    continue
                self._domain(origin, count(row.get("pages")), count(row.get("bytes")))
        other = sizes.get("other")
        if isinstance(other, dict):
            self._unattributed(count(other.get("pages")), count(other.get("bytes")))
        types = sizes.get("content_types")
        if isinstance(types, dict):
            for t, row in types.items():
                if isinstance(row, dict):
                    self._type(key(t), count(row.get("pages")), count(row.get("bytes")))

    def _domain(self, origin: object, pages: int, size: int) -> None:
        dom = domain_of_url(origin)
        if dom == "(no host)":
            dom = registrable_domain(key(origin))
        row = self.domains.get(dom)
        if row is None:
            if len(self.domains) >= MAX_SIZE_DOMAINS:
                self._unattributed(pages, size)
                return
            row = self.domains[dom] = [0, 0]
        row[0] += pages
        row[1] += size
        self.total[0] += pages
        self.total[1] += size

    def _unattributed(self, pages: int, size: int) -> None:
        self.unattributed[0] += pages
        self.unattributed[1] += size
        self.total[0] += pages
        self.total[1] += size

    def _type(self, t: str, pages: int, size: int) -> None:
        row = self.types.get(t)
        if row is None:
            if len(self.types) >= MAX_NAMED:
                t = "(other)"
                row = self.types.get(t)
            if row is None:
                row = self.types[t] = [0, 0]
        row[0] += pages
        row[1] += size

    def ranked(self, limit: int) -> list[tuple[str, int, int]]:
        """The ``limit`` domains with the most bytes: (domain, pages, bytes); ties by pages, then name."""
        rows = sorted(self.domains.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
        return [(d, p, b) for d, (p, b) in rows[: max(limit, 0)]]

    def types_ranked(self) -> list[tuple[str, int, int]]:
        return [(t, p, b) for t, (p, b) in sorted(self.types.items(), key=lambda kv: (-kv[1][1], kv[0]))]
