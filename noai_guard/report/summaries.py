"""Internal: the counts of run ``summary`` records: per-origin totals, site-file fetches, audit inputs.

:class:`SummaryTally` folds what a summary record counts (the run-level part
is :class:`~.runs.RunLedger`'s) and adds each origin's counts to the domain
table.
"""

from __future__ import annotations

from typing import Any

from ..auditlog import DROPPED, FLAGGED, SKIPPED
from .domains import DomainTable, domain_of_url, registrable_domain
from .fields import MAX_NAMED, count, key
from .inputs import LazyObject
from .specs import FETCH_KINDS, STATUS_CLASSES
from .stats import BoundedCounter

#: Counters an after-the-fact audit's summary reports under ``totals``.
AUDIT_TOTALS = ("records", "judged", "captures", "non_html", "truncated", "damaged", "unreadable")


class SummaryTally:
    """Totals of every run summary, per origin into ``domains``."""

    def __init__(self, domains: DomainTable) -> None:
        self.domains = domains
        self.totals = dict.fromkeys(("evaluated", "allowed", SKIPPED, DROPPED, FLAGGED, "unknown"), 0)
        self.by_signal = BoundedCounter(MAX_NAMED)
        self.fetch: dict[str, dict[str, int]] = {k: dict.fromkeys(STATUS_CLASSES, 0) for k in FETCH_KINDS}
        self.fetch_other_kinds = 0
        self.origins = 0
        self.audit_totals = dict.fromkeys(AUDIT_TOTALS, 0)
        self.origins_without_robots = 0
        self.captures_indexed = 0  # every capture an audit could use: the inputs' and --robots-from's
        self.malformed = 0  # an origin entry that is not an object

    def add(self, rec: dict[str, Any]) -> None:
        totals = rec.get("totals")
        if isinstance(totals, dict):
            for k in AUDIT_TOTALS:
                if k in totals:
                    self.audit_totals[k] += count(totals.get(k))
        # What `noai-guard audit` prints as "captures:" (totals.captures counts the inputs' own only).
        self.captures_indexed += count(rec.get("captures_indexed"))
        missing = rec.get("origins_without_robots")
        if isinstance(missing, list):
            self.origins_without_robots += len(missing)
        origins = rec.get("origins")
        if not isinstance(origins, dict | LazyObject):
            return
        for origin, o in origins.items():
            if not isinstance(o, dict):
                self.malformed += 1
                continue
            self._origin(origin, o)

    def _origin(self, origin: object, o: dict[str, Any]) -> None:
        self.origins += 1
        dom = domain_of_url(origin)
        if dom == "(no host)":
            dom = registrable_domain(key(origin))
        if "evaluated" not in o and "judged" in o:
            # An after-the-fact audit's summary: judged captures, reserved ones are flagged.
            judged, reserved = count(o.get("judged")), count(o.get("reserved"))
            counts = {
                "evaluated": judged,
                "allowed": max(judged - reserved, 0),
                "skipped": 0,
                "dropped": 0,
                "flagged": reserved,
            }
        else:
            counts = {
                "evaluated": count(o.get("evaluated")),
                "allowed": count(o.get("allowed")),
                "skipped": count(o.get(SKIPPED)),
                "dropped": count(o.get(DROPPED)),
                "flagged": count(o.get(FLAGGED)),
            }
        for k, v in counts.items():
            self.totals[k] += v
        self.totals["unknown"] += count(o.get("unknown"))
        by_signal = o.get("by_signal")
        if isinstance(by_signal, dict):
            for s, n in by_signal.items():
                self.by_signal.add(key(s), count(n))
        counts["robots_fetch_failures"] = self._fetch(o.get("fetch"))
        self.domains.add(dom, counts)

    def _fetch(self, fetch: object) -> int:
        """Add an origin's site-file fetches by status class; return its failed robots.txt fetches."""
        fails = 0
        if isinstance(fetch, dict):
            for kind, classes in fetch.items():
                if not isinstance(classes, dict):
                    continue
                row = self.fetch.get(str(kind))
                if row is None:
                    self.fetch_other_kinds += 1
                    continue
                for cls, n in classes.items():
                    c = str(cls) if str(cls) in row else "error"
                    row[c] += count(n)
                    if kind == "robots" and c in ("5xx", "error"):
                        fails += count(n)
        return fails

    # -- sections ------------------------------------------------------------

    def from_run_summaries(self, runs_with: int, runs_without: int) -> dict[str, int]:
        return {
            **self.totals,
            "origins": self.origins,
            "runs_with_summary": runs_with,
            "runs_without_summary": runs_without,
        }

    def audit_inputs(self) -> dict[str, int]:
        return {
            **self.audit_totals,
            "captures_indexed": self.captures_indexed,
            "origins_without_robots": self.origins_without_robots,
        }
