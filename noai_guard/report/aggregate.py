"""Streaming aggregation of audit trails into the report document.

One pass over every record of every trail; per record the work is constant
and the state is bounded (see :mod:`.stats` and :mod:`.domains`), so a
report over millions of records needs no more memory than one over
thousands.  The result is the ``noai-guard-report/1`` document
(:data:`REPORT_SCHEMA`, JSON Schema in ``noai_guard/data/report.schema.json``)
that every output format is rendered from.

Everything read from a trail is untrusted: values of the wrong type are
coerced or counted as malformed, long strings are cut, and keys of counters
are bounded in number and length.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from .. import decision as d
from ..auditlog import ACTIONS, ALLOWED, DROPPED, FLAGGED, SKIPPED, TOOL
from ..policy import SIGNAL_PURPOSES
from ..tokens import default_proxy_tokens, proxy_tokens_info
from .domains import OTHER_AGENTS_ONLY, VOLUME, DomainTable, domain_of_url, psl_version, registrable_domain
from .domains import signal_column as _sigcol
from .inputs import InputError, InputFile, LazyObject, iter_records
from .specs import DISCLAIMER, FETCH_KINDS, LIMITATIONS, SPEC_VERSIONS, STATUS_CLASSES
from .stats import OVERFLOW, BottomKSampler, BoundedCounter, TimeHistogram, normalize_time

REPORT_SCHEMA = "noai-guard-report/1"

#: Longest text kept from a trail field (evidence, URL, reason ...).
MAX_TEXT = 2000
#: Longest counter key kept from a trail field.
MAX_KEY = 120
MAX_RUNS = 10000
MAX_POLICIES = 64
MAX_NAMED = 64  # distinct signal / purpose / mode ... names tracked before "(other)"
MAX_FILES = 1000  # distinct files listed under parse failures / oversize

_TRUNC = "…[truncated]"
_KNOWN_DECISION_KEYS = frozenset(
    [
        "schema",
        "type",
        "time",
        "run_id",
        "tool",
        "version",
        "mode",
        "phase",
        "url",
        "purpose",
        "verdict",
        "blocked",
        "action",
        "signal",
        "evidence",
        "evidence_url",
        "location",
        "line",
        "scope",
        "user_agent",
        "own_token",
        "reason",
        "resolution",
        "policy_hash",
        "signals",
    ]
)
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
#: Counters an after-the-fact audit's summary reports under ``totals``.
_AUDIT_TOTALS = ("records", "judged", "captures", "non_html", "truncated", "damaged")


def text(v: object, limit: int = MAX_TEXT) -> str:
    """A trail value as bounded text ('' for None)."""
    if v is None:
        return ""
    if isinstance(v, str):
        s = v
    elif isinstance(v, bool | int | float):
        s = json.dumps(v)
    else:
        try:
            s = json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
        except (TypeError, ValueError, RecursionError):
            s = repr(type(v))
    return s if len(s) <= limit else s[:limit] + _TRUNC


def key(v: object) -> str:
    """A trail value as a bounded counter key ('(none)' for None)."""
    if type(v) is str and len(v) <= MAX_KEY:
        return v
    return text(v, MAX_KEY) if v is not None else "(none)"


def canonical_json(policy: dict[str, Any]) -> str:
    """The canonical JSON text of a policy dict: what :attr:`Policy.hash` hashes."""
    return json.dumps(policy, sort_keys=True, separators=(",", ":"), default=str)


def canonical_hash(policy: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a policy dict (as :attr:`Policy.hash` computes it)."""
    return hashlib.sha256(canonical_json(policy).encode()).hexdigest()


def _named(name: str, known: Iterable[str], seen: dict[str, Any]) -> str:
    """``name`` if known or there is room for it, else :data:`OVERFLOW`."""
    if name in seen or name in known or len(seen) < MAX_NAMED:
        return name
    return OVERFLOW


def _int(v: object) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return max(v, 0)
    if isinstance(v, float) and math.isfinite(v) and abs(v) < 1e18:
        return max(int(v), 0)
    return 0


@dataclass
class _Run:
    run_id: str
    mode: str = ""
    tool: str = ""
    version: str = ""
    started: str | None = None
    ended: str | None = None
    first_decision: str | None = None
    last_decision: str | None = None
    decisions: int = 0
    run_records: int = 0
    summaries: int = 0
    policy_hash: str | None = None
    files: list[str] = field(default_factory=list)
    spider: str = ""
    enforce: bool | None = None
    finish_reason: str = ""
    inputs: list[str] = field(default_factory=list)  # what an audit read (WARCs, feeds ...)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "tool": self.tool,
            "version": self.version,
            "started": self.started or self.first_decision,
            "ended": self.ended or self.last_decision,
            "decisions": self.decisions,
            "has_run_record": self.run_records > 0,
            "has_summary": self.summaries > 0,
            "policy_hash": self.policy_hash,
            "files": self.files,
            "spider": self.spider,
            "enforce": self.enforce,
            "finish_reason": self.finish_reason,
            "inputs": self.inputs,
        }


@dataclass
class _Policy:
    hash: str
    policy: dict[str, Any]
    runs: list[str] = field(default_factory=list)
    purpose_hashes: dict[str, str] = field(default_factory=dict)  # purpose -> hash of that variant


def _counts() -> dict[str, int]:
    return {"decisions": 0, "blocked": 0, SKIPPED: 0, DROPPED: 0, FLAGGED: 0, ALLOWED: 0, "unknown": 0}


class Aggregator:
    """Feed records with :meth:`add` (or whole files with :meth:`read`), then call :meth:`document`."""

    def __init__(
        self,
        *,
        samples: int = 10,
        seed: int | str = 0,
        buffer_domains: int = 20000,
        tmpdir: str | None = None,
    ) -> None:
        self.samples_k = samples
        self.seed = seed
        self.inputs: list[InputFile] = []
        self.domains = DomainTable(buffer_domains=buffer_domains, tmpdir=tmpdir)
        self.runs: dict[str, _Run] = {}
        self.runs_overflow = 0
        self.policies: dict[str, _Policy] = {}
        self.policies_overflow = 0
        self.variant_of: dict[str, tuple[str, str]] = {}  # variant hash -> (base hash, purpose)
        self.decision_policy_hashes = BoundedCounter(MAX_POLICIES)
        self.policy_hash_mismatches = 0  # a record's policy_hash is not the hash of its policy
        self.audit_totals = dict.fromkeys(_AUDIT_TOTALS, 0)
        self.origins_without_robots = 0
        self.not_checked = 0  # unknown because the evidence was never seen (no capture), not a failed fetch
        self.first: str | None = None
        self.last: str | None = None
        self.bad_times = 0
        self.malformed = 0
        self.records = 0
        self.tools = BoundedCounter(32)
        # From run summaries.
        self.sum_totals = dict.fromkeys(("evaluated", "allowed", SKIPPED, DROPPED, FLAGGED, "unknown"), 0)
        self.sum_by_signal = BoundedCounter(MAX_NAMED)
        self.fetch: dict[str, dict[str, int]] = {k: dict.fromkeys(STATUS_CLASSES, 0) for k in FETCH_KINDS}
        self.fetch_other_kinds = 0
        self.origins_in_summaries = 0
        # From decision records.
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
        self.fail_open_robots = 0  # robots-txt unknown resolved to allow
        self.fail_open_reserve = 0  # a reservation recorded as allowed
        self.fail_open_sampler = BottomKSampler(samples, f"{seed}/fail-open")
        self.samplers: dict[str, BottomKSampler] = {}
        self.timeline = TimeHistogram()
        self.parse_failures = BoundedCounter(MAX_FILES)
        self.parse_failure_signals = BoundedCounter(MAX_NAMED)
        self.oversize = BoundedCounter(MAX_FILES)

    # -- input ---------------------------------------------------------------

    def read(self, path: str) -> InputFile:
        """Stream one trail into the aggregate (raises :class:`~.inputs.InputError`)."""
        inp = InputFile(path)
        self.inputs.append(inp)
        for rec in iter_records(inp):
            self.add(rec, inp.path)
        if inp.records == 0 and (inp.bad_lines or inp.foreign_records):
            raise InputError(
                f"{path}: not a noai-guard audit trail ({inp.bad_lines} unreadable lines, "
                f"{inp.foreign_records} records of another schema)"
            )
        return inp

    def add(self, rec: dict[str, Any], source: str = "") -> None:
        self.records += 1
        try:
            t = rec.get("type")
            if t == "decision":
                self._decision(rec, source)
            elif t == "run":
                self._run_record(rec, source)
            elif t == "summary":
                self._summary(rec, source)
            else:
                self.malformed += 1
        except (TypeError, ValueError, AttributeError, KeyError):
            self.malformed += 1

    def _time(self, v: object) -> str | None:
        t = normalize_time(v)
        if t is None:
            self.bad_times += 1
            return None
        if self.first is None or t < self.first:
            self.first = t
        if self.last is None or t > self.last:
            self.last = t
        return t

    def _run(self, rec: dict[str, Any], source: str) -> _Run:
        rid = key(rec.get("run_id"))
        run = self.runs.get(rid)
        if run is None:
            if len(self.runs) >= MAX_RUNS:
                self.runs_overflow += 1
                rid = OVERFLOW
                run = self.runs.get(rid)
            if run is None:
                run = _Run(rid)
                self.runs[rid] = run
        if not run.mode:
            run.mode = key(rec.get("mode"))
            run.tool = key(rec.get("tool"))
            run.version = key(rec.get("version"))
            self.tools.add(f"{run.tool} {run.version}")
        if source and source not in run.files and len(run.files) < 8:
            run.files.append(source)
        return run

    def _policy(self, policy: object, run: _Run, declared: object = None) -> None:
        if not isinstance(policy, dict):
            return
        h = canonical_hash(policy)
        if declared is not None and declared != h:
            self.policy_hash_mismatches += 1
        if run.policy_hash is None:
            run.policy_hash = h
        p = self.policies.get(h)
        if p is None:
            if len(self.policies) >= MAX_POLICIES:
                self.policies_overflow += 1
                return
            p = _Policy(h, policy)
            for purpose in d.PURPOSES:
                v = canonical_hash({**policy, "purpose": purpose})
                p.purpose_hashes[purpose] = v
                self.variant_of.setdefault(v, (h, purpose))
            self.policies[h] = p
        if run.run_id not in p.runs and len(p.runs) < 100:
            p.runs.append(run.run_id)

    def _run_record(self, rec: dict[str, Any], source: str) -> None:
        run = self._run(rec, source)
        run.run_records += 1
        t = self._time(rec.get("time"))
        if t is not None and (run.started is None or t < run.started):
            run.started = t
        self._policy(rec.get("policy"), run, rec.get("policy_hash"))
        if rec.get("spider") is not None:
            run.spider = key(rec.get("spider"))
        if isinstance(rec.get("enforce"), bool):
            run.enforce = rec["enforce"]
        inputs = rec.get("inputs")
        if isinstance(inputs, list):
            for i in inputs[:8]:
                name = i.get("file") or i.get("path") if isinstance(i, dict) else i
                if len(run.inputs) < 8:
                    run.inputs.append(text(name, 500))

    def _summary(self, rec: dict[str, Any], source: str) -> None:
        run = self._run(rec, source)
        run.summaries += 1
        t = self._time(rec.get("time"))
        if t is not None and (run.ended is None or t > run.ended):
            run.ended = t
        self._policy(rec.get("policy"), run, rec.get("policy_hash"))
        if rec.get("reason") is not None:
            run.finish_reason = key(rec.get("reason"))
        totals = rec.get("totals")
        if isinstance(totals, dict):
            for k in _AUDIT_TOTALS:
                if k in totals:
                    self.audit_totals[k] += _int(totals.get(k))
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
            self.origins_in_summaries += 1
            dom = domain_of_url(origin)
            if dom == "(no host)":
                dom = registrable_domain(key(origin))
            if "evaluated" not in o and "judged" in o:
                # An after-the-fact audit's summary: judged captures, reserved ones are flagged.
                judged, reserved = _int(o.get("judged")), _int(o.get("reserved"))
                counts = {
                    "evaluated": judged,
                    "allowed": max(judged - reserved, 0),
                    "skipped": 0,
                    "dropped": 0,
                    "flagged": reserved,
                }
            else:
                counts = {
                    "evaluated": _int(o.get("evaluated")),
                    "allowed": _int(o.get("allowed")),
                    "skipped": _int(o.get(SKIPPED)),
                    "dropped": _int(o.get(DROPPED)),
                    "flagged": _int(o.get(FLAGGED)),
                }
            for k, v in counts.items():
                self.sum_totals[k] += v
            self.sum_totals["unknown"] += _int(o.get("unknown"))
            by_signal = o.get("by_signal")
            if isinstance(by_signal, dict):
                for s, n in by_signal.items():
                    self.sum_by_signal.add(key(s), _int(n))
            fetch = o.get("fetch")
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
                        row[c] += _int(n)
                        if kind == "robots" and c in ("5xx", "error"):
                            fails += _int(n)
            counts["robots_fetch_failures"] = fails
            self.domains.add(dom, counts)

    def _decision(self, rec: dict[str, Any], source: str) -> None:
        self.decisions += 1
        run = self._run(rec, source)
        run.decisions += 1
        t = self._time(rec.get("time"))
        if t is not None:
            if run.first_decision is None or t < run.first_decision:
                run.first_decision = t
            if run.last_decision is None or t > run.last_decision:
                run.last_decision = t
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
        ph = rec.get("policy_hash")
        self.decision_policy_hashes.add(key(ph) if ph else "(none)")

        sname = _named(signal or "(none)", d.SIGNALS, self.by_signal)
        row = self.by_signal.setdefault(sname, _counts())
        pname = _named(purpose, d.PURPOSES, self.by_purpose)
        prow = self.by_purpose.setdefault(pname, _counts())
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
                _named(signal or "(none)", d.SIGNALS, self.unknown_by_signal), {"reserve": 0, "allow": 0}
            )
            urow[to] += 1
            self.resolutions.add(key(rec.get("resolution")))
        fail_open = ""
        if verdict == "unknown" and not blocked and signal == d.ROBOTS_TXT:
            if _failed_fetch(rec.get("signals"), signal):
                self.fail_open_robots += 1
                fail_open = "robots.txt unknown resolved to allow"
            else:
                # No robots.txt evidence at all (an audit without its capture):
                # not a failed fetch, so RFC 9309 §2.3.1.4 does not apply; listed apart.
                self.not_checked += 1
        elif verdict == "unknown" and not blocked and not _failed_fetch(rec.get("signals"), signal):
            self.not_checked += 1
        elif verdict == "reserve" and (action == ALLOWED or (not blocked and action != FLAGGED)):
            self.fail_open_reserve += 1
            fail_open = "reservation recorded but URL allowed"

        url = rec.get("url")
        domain = domain_of_url(url)
        self.domains.add(domain, dom_counts, t)
        if t is not None and action in _BLOCK_ACTIONS:
            self.timeline.add(t, action)

        sigs = rec.get("signals")
        if isinstance(sigs, list):
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

        # Evidence samples: reservations, flags and unknowns (allowed-by-signal records are counted only).
        sample = signal is not None and (blocked or action == FLAGGED or verdict != "allow")
        if sample or fail_open:
            line = rec.get("line")
            identity = "\x1f".join(
                (
                    text(rec.get("run_id"), MAX_KEY),
                    t or text(rec.get("time"), MAX_KEY),
                    text(url),
                    signal or "",
                    text(rec.get("purpose"), MAX_KEY),
                    text(rec.get("evidence")),
                    str(line) if isinstance(line, int) else "",
                    text(rec.get("evidence_url")),
                )
            )
            built: list[dict[str, Any]] = []

            def item() -> dict[str, Any]:
                # Built only when a sampler keeps the record (rarely, once the heaps are full).
                if not built:
                    built.append(
                        self._sample_item(rec, t, domain, signal, action, verdict, blocked, fail_open)
                    )
                return built[0]

            if sample:
                sampler = self.samplers.get(sname)
                if sampler is None:
                    sampler = BottomKSampler(self.samples_k, f"{self.seed}/{sname}")
                    self.samplers[sname] = sampler
                sampler.offer(identity, item)
            if fail_open:
                self.fail_open_sampler.offer(identity, item)

    def _sample_item(
        self,
        rec: dict[str, Any],
        t: str | None,
        domain: str,
        signal: str | None,
        action: str,
        verdict: str,
        blocked: bool,
        fail_open: str,
    ) -> dict[str, Any]:
        line = rec.get("line")
        own = rec.get("own_token")
        locator: dict[str, str] = {}
        for k, v in rec.items():
            if k not in _KNOWN_DECISION_KEYS and len(locator) < 8:
                locator[key(k)] = text(v, 500)
        return {
            "run_id": text(rec.get("run_id"), MAX_KEY),
            "mode": text(rec.get("mode"), MAX_KEY),
            "phase": text(rec.get("phase"), MAX_KEY),
            "time": t or text(rec.get("time"), MAX_KEY),
            "url": text(rec.get("url")),
            "domain": domain,
            "purpose": text(rec.get("purpose"), MAX_KEY),
            "signal": signal or "",
            "verdict": verdict,
            "blocked": blocked,
            "action": action,
            "evidence": text(rec.get("evidence")),
            "line": line if isinstance(line, int) and not isinstance(line, bool) else None,
            "location": text(rec.get("location"), MAX_KEY),
            "scope": text(rec.get("scope"), 500),
            "user_agent": text(rec.get("user_agent"), MAX_KEY),
            "own_token": own if isinstance(own, bool) else None,
            "evidence_url": text(rec.get("evidence_url")),
            "reason": text(rec.get("reason")),
            "resolution": text(rec.get("resolution"), 500),
            "policy_hash": text(rec.get("policy_hash"), MAX_KEY),
            "fail_open": fail_open,
            "locator": locator,
        }

    # -- output --------------------------------------------------------------

    def document(
        self,
        *,
        top: int = 25,
        parameters: dict[str, Any] | None = None,
        generated_at: str | None = None,
    ) -> dict[str, Any]:
        """The ``noai-guard-report/1`` document (call after every input was read)."""
        pols = list(self.policies.values())
        own: list[str] = []
        proxy: list[str] = []
        sources: dict[str, int] = {}
        for p in pols:
            for tok in _strs(p.policy.get("user_agents")):
                if tok not in own:
                    own.append(tok)
            for tok in _strs(p.policy.get("proxy_tokens")):
                if tok not in proxy and len(proxy) < 1000:
                    proxy.append(tok)
            for s in _strs(p.policy.get("sources")):
                sources[s] = sources.get(s, 0) + 1
        packaged = list(default_proxy_tokens())
        info = proxy_tokens_info()
        proxy_lists = [_strs(p.policy.get("proxy_tokens")) for p in pols]
        matches = bool(proxy_lists) and all(sorted(x) == sorted(packaged) for x in proxy_lists)

        signals_checked = []
        for name, desc in d.SIGNALS.items():
            n = sources.get(name, 0)
            signals_checked.append(
                {
                    "signal": name,
                    "description": desc,
                    "spec": SPEC_VERSIONS.get(name, ""),
                    "purposes": list(SIGNAL_PURPOSES.get(name, ())),
                    "enabled": "all" if pols and n == len(pols) else ("some" if n else "none"),
                }
            )

        declared = set(self.policies)
        undeclared = 0
        hashes = []
        for h, n in self.decision_policy_hashes.items():
            if h in declared:
                status = "declared"
            elif h in self.variant_of:
                status = f"declared ({self.variant_of[h][1]} variant of {self.variant_of[h][0][:12]})"
            else:
                status = "undeclared"
                undeclared += n
            hashes.append({"hash": h, "decisions": n, "status": status})

        by_signal = [
            {"signal": s, **c, "summary_count": self.sum_by_signal.get(s)}
            for s, c in sorted(
                self.by_signal.items(), key=lambda kv: (-kv[1]["blocked"] - kv[1][FLAGGED], kv[0])
            )
        ]
        for s, n in self.sum_by_signal.items():
            if s not in self.by_signal:
                by_signal.append({"signal": s, **_counts(), "summary_count": n})
        by_purpose = [
            {"purpose": p, **c}
            for p, c in sorted(self.by_purpose.items(), key=lambda kv: (-kv[1]["decisions"], kv[0]))
        ]
        matrix = []
        for k, n in self.signal_purpose.items():
            sig, _, pur = k.partition("\x1f")
            matrix.append({"signal": sig, "purpose": pur or OVERFLOW, "count": n})

        unk_reserve = sum(r["reserve"] for r in self.unknown_by_signal.values())
        unk_allow = sum(r["allow"] for r in self.unknown_by_signal.values())

        level, buckets = self.timeline.rebucket(60)
        timeline = {
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

        n_domains = self.domains.count()
        dom = {
            "total": n_domains,
            "psl": f"publicsuffixlist {psl_version()} (bundled list, offline)",
            "buffer_spills": self.domains.spills,
            "top_by_skips": [_domain_row(r) for r in self.domains.rows(order="blocked", limit=top)],
            "top_by_volume": [_domain_row(r) for r in self.domains.rows(order=VOLUME, limit=top)],
            "other_agents_only": {
                "count": self.domains.count_where(OTHER_AGENTS_ONLY),
                "top": [
                    _domain_row(r)
                    for r in self.domains.rows(order="other_agent_rules", where=OTHER_AGENTS_ONLY, limit=top)
                ],
            },
            "with_robots_fetch_failures": self.domains.count_where("robots_fetch_failures > 0"),
        }

        samples = {
            "method": (
                "bottom-k sampling: each decision record gets a priority from a BLAKE2b hash keyed by the "
                "seed and the signal over (run, time, URL, signal, purpose, evidence, line, evidence URL); "
                "the k lowest are kept. Same trails and seed give the same sample in any input order."
            ),
            "seed": str(self.seed),
            "per_signal": self.samples_k,
            "by_signal": [
                {"signal": s, "population": sm.population, "items": sm.sample()}
                for s, sm in sorted(self.samplers.items(), key=lambda kv: (-kv[1].population, kv[0]))
            ],
        }

        multi_summary = [r.run_id for r in self.runs.values() if r.summaries > 1]
        runs_wo_summary = sum(1 for r in self.runs.values() if r.summaries == 0)
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
            "runs": [
                r.to_dict() for r in sorted(self.runs.values(), key=lambda r: (r.started or "", r.run_id))
            ],
            "runs_truncated": self.runs_overflow,
            "tools_seen": self.tools.to_dict(),
            "time_range": {"first": self.first, "last": self.last, "unreadable_times": self.bad_times},
            "policies": [
                {"hash": p.hash, "policy": p.policy, "runs": p.runs, "purpose_hashes": p.purpose_hashes}
                for p in pols
            ],
            "policies_truncated": self.policies_overflow,
            "decision_policy_hashes": hashes,
            "undeclared_policy_decisions": undeclared,
            "policy_hash_mismatches": self.policy_hash_mismatches,
            "tokens": {
                "own": own,
                "proxy": proxy,
                "proxy_list": {
                    "source": str(info.get("source", "")),
                    "source_commit": str(info.get("source_commit", "")),
                    "date": str(info.get("date", "")),
                    "tokens": len(packaged),
                },
                "proxy_matches_packaged_list": matches,
            },
            "signals_checked": signals_checked,
            "spec_versions": dict(SPEC_VERSIONS),
            "summary": {
                "from_run_summaries": {
                    **self.sum_totals,
                    "origins": self.origins_in_summaries,
                    "runs_with_summary": len(self.runs) - runs_wo_summary,
                    "runs_without_summary": runs_wo_summary,
                },
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
            },
            "unknowns": {
                "total": unk_reserve + unk_allow,
                "resolved_to_reserve": unk_reserve,
                "resolved_to_allow": unk_allow,
                "not_checked": self.not_checked,
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
                    "samples": self.fail_open_sampler.sample(),
                },
            },
            "domains": dom,
            "samples": samples,
            "timeline": timeline,
            "exceptions": {
                "fetch": self.fetch,
                "fetch_other_kinds": self.fetch_other_kinds,
                "audit_inputs": {**self.audit_totals, "origins_without_robots": self.origins_without_robots},
                "parse_failures": {
                    "total": self.parse_failures.total(),
                    "by_signal": self.parse_failure_signals.to_dict(),
                    "files": [{"url": u, "decisions": n} for u, n in self.parse_failures.items()[:top]],
                    "distinct_files": len(self.parse_failures),
                },
                "oversize": {
                    "total": self.oversize.total(),
                    "files": [{"url": u, "decisions": n} for u, n in self.oversize.items()[:top]],
                    "distinct_files": len(self.oversize),
                },
                "trail": {
                    "bad_lines": sum(i.bad_lines for i in self.inputs),
                    "torn_lines": sum(i.torn_lines for i in self.inputs),
                    "foreign_records": sum(i.foreign_records for i in self.inputs),
                    "malformed_records": self.malformed,
                    "runs_summarised_more_than_once": multi_summary[:100],
                },
            },
            "limitations": list(LIMITATIONS),
        }
        return doc

    def close(self) -> None:
        self.domains.close()


def _failed_fetch(sigs: object, name: str | None) -> bool:
    """Did a signal of this name say ``unknown`` (a fetch or read that failed)?"""
    if not isinstance(sigs, list):
        return True  # no detail recorded: count it the strict way
    return any(isinstance(s, dict) and s.get("name") == name and s.get("verdict") == "unknown" for s in sigs)


def _strs(v: object) -> list[str]:
    return [key(x) for x in v] if isinstance(v, list) else []


def _domain_row(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"domain": r["domain"]}
    by_signal: dict[str, int] = {}
    for k, v in r.items():
        if k.startswith("sig_"):
            if v:
                by_signal[k[4:].replace("_", "-")] = v
        elif k != "domain":
            out[k] = v
    out["by_signal"] = by_signal
    return out


def _now() -> str:
    """Report time: ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now (UTC)."""
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde and sde.isdigit():
        t = _dt.datetime.fromtimestamp(int(sde), _dt.timezone.utc)
    else:
        t = _dt.datetime.now(_dt.timezone.utc)
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")
