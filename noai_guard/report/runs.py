"""Internal: the runs, policies and tools the trails name, and the time range they cover.

:class:`RunLedger` folds the run-level part of every record (run, summary and
decision records alike) and gives the report's ``runs``, ``policies``,
``decision_policy_hashes``, ``tokens`` and ``signals_checked`` sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import decision as d
from ..auditlog import ALLOWED, FLAGGED
from ..policy import SIGNAL_PURPOSES, policy_hash
from ..tokens import default_proxy_tokens, proxy_tokens_info
from .fields import count, key, strs, text, unchecked_signals
from .specs import SPEC_VERSIONS
from .stats import OVERFLOW, BoundedCounter, normalize_time

MAX_RUNS = 10000
MAX_POLICIES = 64

#: A run's command (crawl, shell, fetch, parse, check ...) when its run record names it; the
#: report labels the run by it, and by its mode when absent.
COMMAND_FIELD = "command"
#: Run or summary record field naming the signals a run could not check (URL-only inputs: feeds,
#: logs carry no headers or HTML): an audit summary's groups ``{"signals", "why", "inputs",
#: "records", ...}``, or plain signal names.
NOT_CHECKED_FIELD = "not_checked"
#: Commands whose runs are crawls (labelled by their mode); any other (shell, fetch, parse, check ...) by itself.
_CRAWL_COMMANDS = frozenset({"", "crawl", "runspider"})


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
    caveats: list[str] = field(default_factory=list)  # what its summary says was not checked or failed
    command: str = ""
    not_checked: list[str] = field(default_factory=list)  # signals the run could not check at all
    not_checked_records: int = 0  # records the summary's not_checked groups count
    not_checked_why: str = ""
    preset: str = ""  # the policy preset the run record names (NAME@VERSION, "changed" if overridden)
    unchecked: int = 0  # decision records with a signal never seen
    unchecked_outside: int = 0  # ... of which not in a not_checked group (no per-record not_checked list)
    blocked: int = 0  # decision records skipped, dropped or flagged
    allowed: int = 0  # decision records allowed
    crawl_id: str | None = None  # the crawl its run / summary record names (issue 17: distributed crawls)

    @property
    def unchecked_total(self) -> int:
        """Records not checked for some signal: the summary's groups, plus decision records outside them."""
        if self.not_checked_records:
            return self.not_checked_records + self.unchecked_outside
        return self.unchecked

    @property
    def label(self) -> str:
        """How the report names the run: a hand-run Scrapy command by it (``scrapy shell``), else its mode."""
        base = f"scrapy {self.command}" if self.command not in _CRAWL_COMMANDS else self.mode
        if self.preset:
            base += f", preset {self.preset}"
        if self.enforce is None:
            return base
        how = "enforcing" if self.enforce else "audit-only"
        # A crawl's mode already says "audit-only" (the trail's mode names it).
        return base if base == how else f"{base}, {how}"

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
            "caveats": self.caveats,
            "command": self.command,
            "label": self.label,
            "not_checked": self.not_checked,
            "preset": self.preset,
            "crawl_id": self.crawl_id,
        }


@dataclass
class _Policy:
    hash: str
    policy: dict[str, Any]
    runs: list[str] = field(default_factory=list)
    purpose_hashes: dict[str, str] = field(default_factory=dict)  # purpose -> hash of that variant


class RunLedger:
    """Runs (bounded), the policies they declare, the decisions' policy hashes and the time range."""

    def __init__(self) -> None:
        self.runs: dict[str, _Run] = {}
        self.runs_overflow = 0
        self.policies: dict[str, _Policy] = {}
        self.policies_overflow = 0
        self.variant_of: dict[str, tuple[str, str]] = {}  # variant hash -> (base hash, purpose)
        self.decision_policy_hashes = BoundedCounter(MAX_POLICIES)
        self.policy_hash_mismatches = 0  # a record's policy_hash is not the hash of its policy
        self.first: str | None = None
        self.last: str | None = None
        self.bad_times = 0
        self.tools = BoundedCounter(32)

    # -- folding -------------------------------------------------------------

    def time(self, v: object) -> str | None:
        """A record's time, normalised, widening the time range (None, counted, if unreadable)."""
        t = normalize_time(v)
        if t is None:
            self.bad_times += 1
            return None
        if self.first is None or t < self.first:
            self.first = t
        if self.last is None or t > self.last:
            self.last = t
        return t

    def run(self, rec: dict[str, Any], source: str) -> _Run:
        """The run a record belongs to (created on first sight; over :data:`MAX_RUNS`, one overflow run)."""
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

    def policy(self, policy: object, run: _Run, declared: object = None) -> None:
        """A policy a run or summary record declares, hashed as the tool hashes it."""
        if not isinstance(policy, dict):
            return
        h = policy_hash(policy)
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
                v = policy_hash({**policy, "purpose": purpose})
                p.purpose_hashes[purpose] = v
                self.variant_of.setdefault(v, (h, purpose))
            self.policies[h] = p
        if run.run_id not in p.runs and len(p.runs) < 100:
            p.runs.append(run.run_id)

    def run_record(self, rec: dict[str, Any], source: str) -> None:
        """A ``run`` record: when the run started, its policy, spider and inputs."""
        run = self.run(rec, source)
        run.run_records += 1
        t = self.time(rec.get("time"))
        if t is not None and (run.started is None or t < run.started):
            run.started = t
        self.policy(rec.get("policy"), run, rec.get("policy_hash"))
        if rec.get("spider") is not None:
            run.spider = key(rec.get("spider"))
        if isinstance(rec.get("enforce"), bool):
            run.enforce = rec["enforce"]
        self.run_fields(rec, run)
        preset = rec.get("preset")
        if isinstance(preset, dict) and preset.get("id"):
            # A preset the run was judged under (noai_guard.presets): changed if settings overrode it.
            run.preset = text(preset.get("id"), 100) + (" (changed)" if preset.get("modified") else "")
        inputs = rec.get("inputs")
        if isinstance(inputs, list):
            for i in inputs[:8]:
                name = i.get("file") or i.get("path") if isinstance(i, dict) else i
                if len(run.inputs) < 8:
                    run.inputs.append(text(name, 500))

    def run_fields(self, rec: dict[str, Any], run: _Run) -> None:
        """The command and the signals not checked that a run or summary record names."""
        cid = rec.get("crawl_id")
        if isinstance(cid, str) and cid and run.crawl_id is None:
            run.crawl_id = key(cid)
        cmd = rec.get(COMMAND_FIELD)
        if isinstance(cmd, str) and cmd:
            run.command = key(cmd)
        nc = rec.get(NOT_CHECKED_FIELD)
        for g in nc[:32] if isinstance(nc, list) else []:
            names = [key(g)] if isinstance(g, str) else strs(g.get("signals")) if isinstance(g, dict) else []
            for k in names[:32]:
                if k not in run.not_checked:
                    run.not_checked.append(k)
            if isinstance(g, dict):
                run.not_checked_records += count(g.get("records"))
                run.not_checked_why = run.not_checked_why or text(g.get("why"), 300)

    def summary(self, rec: dict[str, Any], source: str) -> None:
        """The run-level part of a ``summary`` record: when the run ended, its policy, why."""
        run = self.run(rec, source)
        run.summaries += 1
        t = self.time(rec.get("time"))
        if t is not None and (run.ended is None or t > run.ended):
            run.ended = t
        self.policy(rec.get("policy"), run, rec.get("policy_hash"))
        if rec.get("reason") is not None:
            run.finish_reason = key(rec.get("reason"))
        for line in _caveats(rec):
            if line not in run.caveats and len(run.caveats) < 8:
                run.caveats.append(line)
        self.run_fields(rec, run)

    def decision(self, rec: dict[str, Any], source: str) -> str | None:
        """The run-level part of a ``decision`` record; returns its normalised time."""
        run = self.run(rec, source)
        run.decisions += 1
        if unchecked_signals(rec):
            run.unchecked += 1
            nc = rec.get(NOT_CHECKED_FIELD)
            run.unchecked_outside += not (isinstance(nc, list) and nc)
        if rec.get("blocked") is True or rec.get("action") == FLAGGED:
            run.blocked += 1
        elif rec.get("action") == ALLOWED:
            run.allowed += 1
        t = self.time(rec.get("time"))
        if t is not None:
            if run.first_decision is None or t < run.first_decision:
                run.first_decision = t
            if run.last_decision is None or t > run.last_decision:
                run.last_decision = t
        ph = rec.get("policy_hash")
        self.decision_policy_hashes.add(key(ph) if ph else "(none)")
        return t

    # -- sections ------------------------------------------------------------

    def runs_section(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in sorted(self.runs.values(), key=lambda r: (r.started or "", r.run_id))]

    def crawls_section(self) -> list[dict[str, Any]]:
        """The runs grouped by crawl (issue 17): the workers of one distributed crawl, merged.

        A run whose records name no ``crawl_id`` (older trails, audits) is a crawl of its own.
        """
        crawls: dict[str, dict[str, Any]] = {}
        for r in sorted(self.runs.values(), key=lambda r: (r.started or r.first_decision or "", r.run_id)):
            cid = r.crawl_id or r.run_id
            c = crawls.setdefault(
                cid,
                {"crawl_id": cid, "runs": [], "started": None, "ended": None,
                 "decisions": 0, "blocked": 0, "allowed": 0, "unfinished": 0},
            )  # fmt: skip
            c["runs"].append(r.run_id)
            start, end = r.started or r.first_decision, r.ended or r.last_decision
            if start is not None and (c["started"] is None or start < c["started"]):
                c["started"] = start
            if end is not None and (c["ended"] is None or end > c["ended"]):
                c["ended"] = end
            c["decisions"] += r.decisions
            c["blocked"] += r.blocked
            c["allowed"] += r.allowed
            c["unfinished"] += r.summaries == 0
        return list(crawls.values())

    def policies_section(self) -> list[dict[str, Any]]:
        return [
            {"hash": p.hash, "policy": p.policy, "runs": p.runs, "purpose_hashes": p.purpose_hashes}
            for p in self.policies.values()
        ]

    def hashes_section(self) -> tuple[list[dict[str, Any]], int]:
        """The decisions' policy hashes, each declared, a purpose variant or undeclared; and the undeclared."""
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
        return hashes, undeclared

    def tokens_section(self) -> dict[str, Any]:
        """The own and proxy tokens of every policy, against the packaged proxy list."""
        pols = list(self.policies.values())
        own: list[str] = []
        proxy: list[str] = []
        for p in pols:
            for tok in strs(p.policy.get("user_agents")):
                if tok not in own:
                    own.append(tok)
            for tok in strs(p.policy.get("proxy_tokens")):
                if tok not in proxy and len(proxy) < 1000:
                    proxy.append(tok)
        packaged = list(default_proxy_tokens())
        info = proxy_tokens_info()
        proxy_lists = [strs(p.policy.get("proxy_tokens")) for p in pols]
        matches = bool(proxy_lists) and all(sorted(x) == sorted(packaged) for x in proxy_lists)
        return {
            "own": own,
            "proxy": proxy,
            "proxy_list": {
                "source": str(info.get("source", "")),
                "source_commit": str(info.get("source_commit", "")),
                "date": str(info.get("date", "")),
                "tokens": len(packaged),
            },
            "proxy_matches_packaged_list": matches,
        }

    def signals_checked(self) -> list[dict[str, Any]]:
        """Every signal, with whether all, some or none of the policies read it."""
        pols = list(self.policies.values())
        sources: dict[str, int] = {}
        for p in pols:
            for s in strs(p.policy.get("sources")):
                sources[s] = sources.get(s, 0) + 1
        out = []
        for name, desc in d.SIGNALS.items():
            n = sources.get(name, 0)
            out.append(
                {
                    "signal": name,
                    "description": desc,
                    "spec": SPEC_VERSIONS.get(name, ""),
                    "purposes": list(SIGNAL_PURPOSES.get(name, ())),
                    "enabled": "all" if pols and n == len(pols) else ("some" if n else "none"),
                }
            )
        return out


def _caveats(rec: dict[str, Any]) -> list[str]:
    """An audit summary's ``not_checked`` groups and ``fetch_failures``, one line each."""
    out: list[str] = []
    groups = rec.get("not_checked")
    for g in groups if isinstance(groups, list) else []:
        if isinstance(g, dict):
            out.append(
                text(
                    f"{count(g.get('records')):,} record(s) not checked for "
                    f"{', '.join(strs(g.get('signals'))) or '?'} ({text(g.get('why'), 200)}): "
                    f"{count(g.get('allowed')):,} allowed on the site files alone",
                    500,
                )
            )
    ff = rec.get("fetch_failures")
    if isinstance(ff, dict) and count(ff.get("total")):
        origins = ff.get("origins")
        n = len(origins) if isinstance(origins, dict) else 0
        out.append(
            f"--fetch: {count(ff.get('total')):,} of {count(ff.get('fetches')):,} site-file fetches failed "
            f"({n:,} origin(s)); robots.txt unreachable blocks its origin"
        )
    return out
