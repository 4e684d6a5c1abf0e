"""Internal: the counts of ``decision`` records: by action, signal and purpose, unknowns, fail-open, files.

:class:`DecisionTally` folds one decision record in constant time (the
run-level part is :class:`~.runs.RunLedger`'s), adds it to the domain table,
the timeline and the evidence samples (:mod:`.samples`), and gives the
report's ``summary``, ``unknowns`` and parse-failure / oversize sections.
"""

from __future__ import annotations

from typing import Any

from .. import decision as d
from ..auditlog import ACTIONS, ALLOWED, DROPPED, FLAGGED, SKIPPED
from .captures import CaptureTally
from .domains import DomainTable, domain_of_url
from .domains import signal_column as _sigcol
from .fields import MAX_NAMED, action_counts, key, named, unchecked_signals
from .samples import EvidenceSamples
from .stats import OVERFLOW, BoundedCounter, TimeHistogram

MAX_FILES = 1000  # distinct files listed under parse failures / oversize

#: Words in a signal's note or evidence that mark a file that could not be parsed, or was cut at
#: the size limit (RFC 9309 §2.5).  Matched case-insensitively; a heuristic, stated in the report.
_PARSE_FAIL_WORDS = (
    "unparseable",
    "parse error",
    "could not parse",
    "malformed",
    "invalid json",
    "not valid json",
)
_OVERSIZE_WORDS = ("truncat", "oversize", "too large", "size limit")
_BLOCK_ACTIONS = (SKIPPED, DROPPED, FLAGGED)


class DecisionTally:
    """What the decision records say, in bounded memory."""

    def __init__(self, domains: DomainTable, samples: EvidenceSamples) -> None:
        self.domains = domains
        self.samples = samples
        self.decisions = 0
        self.by_action = BoundedCounter(16)
        self.by_mode = BoundedCounter(16)
        self.by_phase = BoundedCounter(16)
        self.by_verdict = BoundedCounter(16)
        self.by_signal: dict[str, dict[str, int]] = {}
        self.by_purpose: dict[str, dict[str, int]] = {}
        self.signal_purpose = BoundedCounter(MAX_NAMED * 4)  # "signal\x1fpurpose" -> blocked or flagged
        self.unknown_by_signal: dict[str, dict[str, int]] = {}
        self.resolutions = BoundedCounter(MAX_NAMED)
        self.own_rules = 0
        self.other_rules = 0
        self.not_checked = 0  # unknown because the evidence was never seen (no capture), not a failed fetch
        self.unchecked_records = 0  # records with a signal never seen (fields.unchecked_signals)
        self.unchecked_by_signal = BoundedCounter(MAX_NAMED)
        self.captures = CaptureTally()
        self.fail_open_robots = 0  # robots-txt unknown resolved to allow
        self.fail_open_reserve = 0  # a reservation recorded as allowed
        self.timeline = TimeHistogram()
        self.parse_failures = BoundedCounter(MAX_FILES)
        self.parse_failure_signals = BoundedCounter(MAX_NAMED)
        self.oversize = BoundedCounter(MAX_FILES)

    def add(self, rec: dict[str, Any], t: str | None) -> None:
        """Fold one decision record whose normalised time is ``t``."""
        self.decisions += 1
        action = key(rec.get("action"))
        if action not in ACTIONS:
            action = OVERFLOW
        verdict = key(rec.get("verdict"))
        blocked = rec.get("blocked") is True
        sig_raw = rec.get("signal")
        signal = None if sig_raw is None else key(sig_raw)
        purpose = key(rec.get("purpose"))
        self.by_action.add(action)
        self.by_mode.add(key(rec.get("mode")))
        self.by_phase.add(key(rec.get("phase")))
        self.by_verdict.add(verdict)

        sname = named(signal or "(none)", d.SIGNALS, self.by_signal)
        row = self.by_signal.setdefault(sname, action_counts())
        pname = named(purpose, d.PURPOSES, self.by_purpose)
        prow = self.by_purpose.setdefault(pname, action_counts())
        for r in (row, prow):
            r["decisions"] += 1
            r["blocked"] += blocked
            if action in r:
                r[action] += 1
            r["unknown"] += verdict == "unknown"
        if action in _BLOCK_ACTIONS:
            self.signal_purpose.add(f"{sname}\x1f{pname}")

        dom_counts = {
            "decisions": 1,
            "blocked": int(blocked),
            _sigcol(signal or "other"): int(blocked or action == FLAGGED),
        }
        if action in ACTIONS:
            dom_counts["records_" + action] = 1
        own = rec.get("own_token")
        if signal is not None and (blocked or action == FLAGGED):
            if own is True:
                self.own_rules += 1
                dom_counts["own_token_rules"] = 1
            elif own is False:
                self.other_rules += 1
                dom_counts["other_agent_rules"] = 1

        if verdict == "unknown":
            to = "reserve" if blocked else "allow"
            dom_counts["unknown"] = 1
            dom_counts["unknown_to_" + to] = 1
            urow = self.unknown_by_signal.setdefault(
                named(signal or "(none)", d.SIGNALS, self.unknown_by_signal), {"reserve": 0, "allow": 0}
            )
            urow[to] += 1
            self.resolutions.add(key(rec.get("resolution")))
        fail_open = self._fail_open(rec, signal, action, verdict, blocked)

        domain = domain_of_url(rec.get("url"))
        self.domains.add(domain, dom_counts, t)
        if t is not None and action in _BLOCK_ACTIONS:
            self.timeline.add(t, action)
        self._files(rec.get("signals"))
        self._unchecked(rec)
        self.captures.add(rec.get("capture"))

        # Evidence samples: reservations, flags and unknowns (allowed-by-signal records are counted only).
        sample = signal is not None and (blocked or action == FLAGGED or verdict != "allow")
        if sample or fail_open:
            self.samples.offer(rec, t, domain, sname, signal, action, verdict, blocked, fail_open, sample)

    def _fail_open(
        self, rec: dict[str, Any], signal: str | None, action: str, verdict: str, blocked: bool
    ) -> str:
        """Why the record failed open ('' if it did not); counts the unknowns never checked."""
        if verdict == "unknown" and not blocked and signal == d.ROBOTS_TXT:
            if _failed_fetch(rec.get("signals"), signal):
                self.fail_open_robots += 1
                return "robots.txt unknown resolved to allow"
            # No robots.txt evidence at all (an audit without its capture):
            # not a failed fetch, so RFC 9309 §2.3.1.4 does not apply; listed apart.
            self.not_checked += 1
        elif verdict == "unknown" and not blocked and not _failed_fetch(rec.get("signals"), signal):
            self.not_checked += 1
        elif verdict == "reserve" and (action == ALLOWED or (not blocked and action != FLAGGED)):
            self.fail_open_reserve += 1
            return "reservation recorded but URL allowed"
        return ""

    def _unchecked(self, rec: dict[str, Any]) -> None:
        """Signals the record could not check (never seen), whatever the verdict."""
        names = unchecked_signals(rec)
        if names:
            self.unchecked_records += 1
            for n in sorted(names):
                self.unchecked_by_signal.add(n)

    def _files(self, sigs: object) -> None:
        """Site files the record's signals call unparseable or cut (a heuristic on their words)."""
        if not isinstance(sigs, list):
            return
        for s in sigs:
            if not isinstance(s, dict):
                continue
            note = s.get("note")
            ev = s.get("evidence")
            blob = f"{note if isinstance(note, str) else ''} {ev if isinstance(ev, str) else ''}".lower()
            if any(w in blob for w in _PARSE_FAIL_WORDS):
                self.parse_failures.add(key(s.get("source")))
                self.parse_failure_signals.add(key(s.get("name")))
            if any(w in blob for w in _OVERSIZE_WORDS):
                self.oversize.add(key(s.get("source")))

    # -- sections ------------------------------------------------------------

    def summary_section(self, sum_by_signal: BoundedCounter) -> dict[str, Any]:
        """The decision-record part of ``summary``; ``sum_by_signal``: the run summaries' counts."""
        by_signal = [
            {"signal": s, **c, "summary_count": sum_by_signal.get(s)}
            for s, c in sorted(
                self.by_signal.items(), key=lambda kv: (-kv[1]["blocked"] - kv[1][FLAGGED], kv[0])
            )
        ]
        for s, n in sum_by_signal.items():
            if s not in self.by_signal:
                by_signal.append({"signal": s, **action_counts(), "summary_count": n})
        by_purpose = [
            {"purpose": p, **c}
            for p, c in sorted(self.by_purpose.items(), key=lambda kv: (-kv[1]["decisions"], kv[0]))
        ]
        matrix = []
        for k, n in self.signal_purpose.items():
            sig, _, pur = k.partition("\x1f")
            matrix.append({"signal": sig, "purpose": pur or OVERFLOW, "count": n})
        return {
            "decision_records": self.decisions,
            "by_action": self.by_action.to_dict(),
            "by_verdict": self.by_verdict.to_dict(),
            "by_mode": self.by_mode.to_dict(),
            "by_phase": self.by_phase.to_dict(),
            "by_signal": by_signal,
            "by_purpose": by_purpose,
            "signal_purpose": matrix,
            "own_token_rules": self.own_rules,
            "other_agent_rules": self.other_rules,
        }

    def unknowns_section(self) -> dict[str, Any]:
        unk_reserve = sum(r["reserve"] for r in self.unknown_by_signal.values())
        unk_allow = sum(r["allow"] for r in self.unknown_by_signal.values())
        return {
            "total": unk_reserve + unk_allow,
            "resolved_to_reserve": unk_reserve,
            "resolved_to_allow": unk_allow,
            "not_checked": self.not_checked,
            "unchecked_records": self.unchecked_records,
            "unchecked_by_signal": [{"signal": s, "records": n} for s, n in self.unchecked_by_signal.items()],
            "by_signal": [
                {"signal": s, **c}
                for s, c in sorted(
                    self.unknown_by_signal.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])
                )
            ],
            "resolutions": [{"resolution": r, "count": n} for r, n in self.resolutions.items()],
            "fail_open": {
                "total": self.fail_open_robots + self.fail_open_reserve,
                "robots_unknown_allowed": self.fail_open_robots,
                "reservation_allowed": self.fail_open_reserve,
                "samples": self.samples.fail_open.sample(),
            },
        }

    def timeline_section(self) -> dict[str, Any]:
        level, buckets = self.timeline.rebucket(60)
        return {
            "bucket": level,
            "buckets": [
                {
                    "start": b,
                    SKIPPED: c.get(SKIPPED, 0),
                    DROPPED: c.get(DROPPED, 0),
                    FLAGGED: c.get(FLAGGED, 0),
                }
                for b, c in buckets
            ],
        }

    def parse_failures_section(self, top: int) -> dict[str, Any]:
        return {
            "total": self.parse_failures.total(),
            "by_signal": self.parse_failure_signals.to_dict(),
            "files": [{"url": u, "decisions": n} for u, n in self.parse_failures.items()[:top]],
            "distinct_files": len(self.parse_failures),
        }

    def oversize_section(self, top: int) -> dict[str, Any]:
        return {
            "total": self.oversize.total(),
            "files": [{"url": u, "decisions": n} for u, n in self.oversize.items()[:top]],
            "distinct_files": len(self.oversize),
        }


def _failed_fetch(sigs: object, name: str | None) -> bool:
    """Did a signal of this name say ``unknown`` (a fetch or read that failed)?"""
    if not isinstance(sigs, list):
        return True  # no detail recorded: count it the strict way
    # A signal marked "checked": false was never seen (an audit without the capture), not a failure.
    return any(
        isinstance(s, dict)
        and s.get("name") == name
        and s.get("verdict") == "unknown"
        and s.get("checked") is not False
        for s in sigs
    )
