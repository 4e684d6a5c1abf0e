"""Internal: the runs, policies and tools the trails name, and the time range they cover.

:class:`RunLedger` folds the run-level part of every record (run, summary and
decision records alike) and gives the report's ``runs``, ``policies``,
``decision_policy_hashes``, ``tokens`` and ``signals_checked`` sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import decision as d
from ..policy import SIGNAL_PURPOSES, policy_hash
from ..tokens import default_proxy_tokens, proxy_tokens_info
from .fields import key, strs, text
from .specs import SPEC_VERSIONS
from .stats import OVERFLOW, BoundedCounter, normalize_time

MAX_RUNS = 10000
MAX_POLICIES = 64
# Runs of these Scrapy commands (the run record's ``command``) are crawls; any other command's
# run (``scrapy shell``, ``fetch``, ``parse``, ``check`` ...) is labelled by it in ``mode``.
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
    command: str = ""  # the Scrapy command that ran the crawl ("" from Python, or an older trail)

    def to_dict(self) -> dict[str, Any]:
        mode = self.mode
        if self.command not in _CRAWL_COMMANDS:
            # Item 12: a hand-run command's run is not listed as a crawl.
            mode = f"scrapy {self.command}" + ("" if mode in ("crawl", "") else f" ({mode})")
        return {
            "run_id": self.run_id,
            "mode": mode,
            "command": self.command or None,
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
        if rec.get("command") is not None:
            run.command = key(rec.get("command"))
        inputs = rec.get("inputs")
        if isinstance(inputs, list):
            for i in inputs[:8]:
                name = i.get("file") or i.get("path") if isinstance(i, dict) else i
                if len(run.inputs) < 8:
                    run.inputs.append(text(name, 500))

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
        if not run.command and rec.get("command") is not None:
            run.command = key(rec.get("command"))

    def decision(self, rec: dict[str, Any], source: str) -> str | None:
        """The run-level part of a ``decision`` record; returns its normalised time."""
        run = self.run(rec, source)
        run.decisions += 1
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

