"""Internal: streaming aggregation of audit trails into the report document.

One pass over every record of every trail; per record the work is constant
and the state is bounded (see :mod:`.stats` and :mod:`.domains`), so a
report over millions of records needs no more memory than one over
thousands.  The result is the ``noai-guard-report/1`` document
(:data:`REPORT_SCHEMA`, JSON Schema in ``noai_guard/data/report.schema.json``)
that every output format is rendered from.

Everything read from a trail is untrusted: values of the wrong type are
coerced or counted as malformed, long strings are cut, and keys of counters
are bounded in number and length (:mod:`.fields`).

:class:`Aggregator` reads the trails and dispatches each record by type to
the folds, each of which also builds its sections of the document:
:class:`~.runs.RunLedger` (runs, policies, time range), :class:`~.summaries.SummaryTally`
(run summaries), :class:`~.decisions.DecisionTally` (decision records, with
:class:`~.samples.EvidenceSamples`) and :class:`~.domains.DomainTable`.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Iterable
from typing import Any

from .. import __version__
from ..auditlog import TOOL
from ..policy import policy_hash
from .contentsize import SizeTally
from .decisions import MAX_FILES, DecisionTally
from .domains import DomainTable, domains_section
from .fields import MAX_KEY, MAX_NAMED, MAX_TEXT, key, text
from .inputs import InputError, InputFile, clean_text, iter_records
from .runs import MAX_POLICIES, MAX_RUNS, RunLedger, _Run
from .samples import EvidenceSamples
from .specs import DISCLAIMER, LIMITATIONS, SPEC_VERSIONS
from .summaries import SummaryTally

REPORT_SCHEMA = "noai-guard-report/1"

canonical_hash = policy_hash  # the one policy hash (noai_guard.policy), under the report's name

__all__ = [
    "MAX_FILES",
    "MAX_KEY",
    "MAX_NAMED",
    "MAX_POLICIES",
    "MAX_RUNS",
    "MAX_TEXT",
    "REPORT_SCHEMA",
    "Aggregator",
    "canonical_hash",
    "key",
    "text",
]


class Aggregator:
    """Feed records with :meth:`add` (or whole files with :meth:`read`), then call :meth:`document`."""

    def __init__(
        self,
        *,
        samples: int = 10,
        seed: int | str = 0,
        buffer_domains: int = 20000,
        tmpdir: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        """``warn``: called with one line for each input read only in part (a cut gzip stream)."""
        self.warn = warn
        self.samples_k = samples
        self.seed = seed
        self.inputs: list[InputFile] = []
        self.records = 0
        self.malformed = 0
        self.domains = DomainTable(buffer_domains=buffer_domains, tmpdir=tmpdir)
        self.ledger = RunLedger()
        self.summary_tally = SummaryTally(self.domains)
        self.samples = EvidenceSamples(samples, seed)
        self.decision_tally = DecisionTally(self.domains, self.samples)
        self.sizes = SizeTally()  # issue 18: content kept per domain (the ai-office format)

    # -- input ---------------------------------------------------------------

    def read(self, path: str) -> InputFile:
        """Stream one trail into the aggregate (raises :class:`~.inputs.InputError`)."""
        inp = InputFile(path)
        self.inputs.append(inp)
        shown = clean_text(inp.path)
        for rec in iter_records(inp):
            self.add(rec, shown)
        if inp.cut is not None and self.warn is not None:
            self.warn(f"{shown}: {inp.cut}; the report covers the {inp.records:,} records read")
        if inp.records == 0 and (inp.bad_lines or inp.foreign_records):
            raise InputError(
                f"{shown}: not a noai-guard audit trail ({inp.bad_lines} unreadable lines, "
                f"{inp.foreign_records} records of another schema)"
            )
        return inp

    def add(self, rec: dict[str, Any], source: str = "") -> None:
        """Fold one trail record (``source``: the trail it came from, as shown)."""
        self.records += 1
        try:
            t = rec.get("type")
            if t == "decision":
                self.decision_tally.add(rec, self.ledger.decision(rec, source))
            elif t == "run":
                self.ledger.run_record(rec, source)
            elif t == "summary":
                self.ledger.summary(rec, source)
                self.summary_tally.add(rec)
                self.sizes.add(rec)
            else:
                self.malformed += 1
        except (TypeError, ValueError, AttributeError, KeyError):
            self.malformed += 1

    # -- output --------------------------------------------------------------

    def document(
        self,
        *,
        top: int = 25,
        parameters: dict[str, Any] | None = None,
        generated_at: str | None = None,
    ) -> dict[str, Any]:
        """The ``noai-guard-report/1`` document (call after every input was read)."""
        ledger, decisions, summaries = self.ledger, self.decision_tally, self.summary_tally
        runs = ledger.runs.values()
        hashes, undeclared = ledger.hashes_section()
        runs_wo_summary = sum(1 for r in runs if r.summaries == 0)
        multi_summary = [r.run_id for r in runs if r.summaries > 1]
        from_summaries = summaries.from_run_summaries(len(runs) - runs_wo_summary, runs_wo_summary)
        unknowns = decisions.unknowns_section()
        doc: dict[str, Any] = {
            "schema": REPORT_SCHEMA,
            "generated_at": generated_at or _now(),
            "tool": {"name": TOOL, "version": __version__},
            "disclaimer": DISCLAIMER,
            "parameters": {
                "top": top,
                "samples": self.samples_k,
                "seed": str(self.seed),
                **(parameters or {}),
            },
            "inputs": [i.to_dict() for i in self.inputs],
            "records": self.records,
            "runs": ledger.runs_section(),
            "runs_truncated": ledger.runs_overflow,
            "crawls": ledger.crawls_section(),
            "tools_seen": ledger.tools.to_dict(),
            "time_range": {"first": ledger.first, "last": ledger.last, "unreadable_times": ledger.bad_times},
            "policies": ledger.policies_section(),
            "policies_truncated": ledger.policies_overflow,
            "decision_policy_hashes": hashes,
            "undeclared_policy_decisions": undeclared,
            "policy_hash_mismatches": ledger.policy_hash_mismatches,
            "tokens": ledger.tokens_section(),
            "signals_checked": ledger.signals_checked(),
            "spec_versions": dict(SPEC_VERSIONS),
            "headline": _headline(from_summaries, runs, unknowns),
            "summary": {
                "from_run_summaries": from_summaries,
                **decisions.summary_section(summaries.by_signal),
            },
            "unknowns": unknowns,
            "domains": domains_section(self.domains, top),
            "samples": self.samples.section(),
            "timeline": decisions.timeline_section(),
            "exceptions": {
                "fetch": summaries.fetch,
                "fetch_other_kinds": summaries.fetch_other_kinds,
                "audit_inputs": {**summaries.audit_inputs(), "captures_cited": decisions.captures.section()},
                "parse_failures": decisions.parse_failures_section(top),
                "oversize": decisions.oversize_section(top),
                "trail": {
                    "bad_lines": sum(i.bad_lines for i in self.inputs),
                    "torn_lines": sum(i.torn_lines for i in self.inputs),
                    "foreign_records": sum(i.foreign_records for i in self.inputs),
                    "malformed_records": self.malformed + summaries.malformed,
                    "escaped_records": sum(i.escaped_records for i in self.inputs),
                    "cut_files": [clean_text(i.path) for i in self.inputs if i.cut is not None],
                    "runs_summarised_more_than_once": multi_summary[:100],
                },
            },
            "limitations": list(LIMITATIONS),
        }
        return doc

    def close(self) -> None:
        self.domains.close()


def _headline(rs: dict[str, int], runs: Iterable[_Run], u: dict[str, Any]) -> dict[str, Any]:
    """The answer first: evaluated, blocked, allowed, unknown, not checked, failed open.

    Evaluated / blocked / allowed come from run summaries; a run that wrote none
    (crashed, or still running) adds its decision records instead, counted apart.
    Unknown and failed open count decision records; not checked, the records of each run
    not checked for some signal (:attr:`~.runs._Run.unchecked_total`).
    """
    no_summary = [r for r in runs if r.summaries == 0]
    extra = sum(r.decisions for r in no_summary)
    blocked = rs["skipped"] + rs["dropped"] + rs["flagged"]
    return {
        "evaluated": rs["evaluated"] + extra,
        "blocked": blocked + sum(r.blocked for r in no_summary),
        "allowed": rs["allowed"] + sum(r.allowed for r in no_summary),
        "unknown": u["total"],
        "unknown_to_reserve": u["resolved_to_reserve"],
        "unknown_to_allow": u["resolved_to_allow"],
        "not_checked": sum(r.unchecked_total for r in runs),
        "failed_open": u["fail_open"]["total"],
        "runs_without_summary": len(no_summary),
        "decisions_of_runs_without_summary": extra,
        "runs_not_checking": [
            {
                "run_id": r.run_id,
                "label": r.label,
                "signals": r.not_checked,
                "records": r.not_checked_records,
                "why": r.not_checked_why,
            }
            for r in runs
            if r.not_checked
        ][:100],
    }


def _now() -> str:
    """Report time: ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now (UTC)."""
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde and sde.isdigit():
        t = _dt.datetime.fromtimestamp(int(sde), _dt.timezone.utc)
    else:
        t = _dt.datetime.now(_dt.timezone.utc)
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")
