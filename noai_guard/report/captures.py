"""Internal: which site-file captures the decision records of after-the-fact audits cite.

An audit's decision record names, under ``capture``, the robots.txt /
tdmrep.json / ai.txt capture each site file was read from (``{"url": ...,
"file": ..., "record_id": ...}``) or why there was none (``{"missing": ...}``).
:class:`CaptureTally` counts them two ways, both shown in the report: per
record (decision records citing at least one capture, and per kind) and per
unique capture URL (bounded in memory).

The audit's own summary counts differ and are shown beside these:
``captures_indexed`` (every capture the run could use: the inputs' and
``--robots-from``'s, the ``captures:`` line the command prints) and
``totals.captures`` (captures found inside the input archives only).
"""

from __future__ import annotations

from typing import Any

from .fields import MAX_NAMED, key, text

#: Distinct captures tracked exactly; past this the count is a lower bound (``unique_capped``).
MAX_UNIQUE = 100_000


class CaptureTally:
    """Decision records citing captures, and the distinct captures they cite."""

    def __init__(self) -> None:
        self.records = 0  # decision records citing at least one capture
        self.records_missing = 0  # decision records citing none, with a "missing" reason for one kind
        self.by_kind: dict[str, int] = {}  # kind -> decision records citing a capture of that kind
        self.unique: set[str] = set()
        self.unique_by_kind: dict[str, int] = {}
        self.capped = False

    def add(self, cap: object) -> None:
        """Fold one decision record's ``capture`` field (anything else is ignored)."""
        if not isinstance(cap, dict):
            return
        cited = False
        missing = False
        for kind, c in cap.items():
            if not isinstance(c, dict):
                continue
            ident = c.get("url") or c.get("file")
            if not ident:
                missing = missing or "missing" in c
                continue
            cited = True
            k = key(kind)
            if k in self.by_kind or len(self.by_kind) < MAX_NAMED:
                self.by_kind[k] = self.by_kind.get(k, 0) + 1
            uid = f"{k}\x1f{text(ident, 500)}"  # per unique capture URL (a folder capture: its file)
            if uid not in self.unique:
                if len(self.unique) >= MAX_UNIQUE:
                    self.capped = True
                    continue
                self.unique.add(uid)
                if k in self.unique_by_kind or len(self.unique_by_kind) < MAX_NAMED:
                    self.unique_by_kind[k] = self.unique_by_kind.get(k, 0) + 1
        if cited:
            self.records += 1
        elif missing:
            self.records_missing += 1

    def section(self) -> dict[str, Any]:
        return {
            "records_citing": self.records,
            "records_without": self.records_missing,
            "records_by_kind": dict(sorted(self.by_kind.items())),
            "unique_cited": len(self.unique),
            "unique_by_kind": dict(sorted(self.unique_by_kind.items())),
            "unique_capped": self.capped,
        }
