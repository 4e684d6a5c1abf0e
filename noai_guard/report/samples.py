"""Internal: the report's evidence samples, drawn reproducibly from the decision records.

:class:`EvidenceSamples` keeps, per signal and for the fail-open records, a
bottom-k sample (:class:`~.stats.BottomKSampler`) of the decision records
offered to it, and builds a sample's item only when it is kept.
"""

from __future__ import annotations

from typing import Any

from .fields import MAX_KEY, key, text
from .stats import BottomKSampler

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

METHOD = (
    "bottom-k sampling: each decision record gets a priority from a BLAKE2b hash keyed by the "
    "seed and the signal over (run, time, URL, signal, purpose, evidence, line, evidence URL); "
    "the k lowest are kept. Same trails and seed give the same sample in any input order."
)


class EvidenceSamples:
    """``k`` records per signal, and ``k`` records that failed open, chosen by ``seed``."""

    def __init__(self, k: int, seed: int | str) -> None:
        self.k = k
        self.seed = seed
        self.by_signal: dict[str, BottomKSampler] = {}
        self.fail_open = BottomKSampler(k, f"{seed}/fail-open")

    def offer(
        self,
        rec: dict[str, Any],
        t: str | None,
        domain: str,
        sname: str,
        signal: str | None,
        action: str,
        verdict: str,
        blocked: bool,
        fail_open: str,
        sample: bool,
    ) -> None:
        """Offer one decision record to its signal's sample (``sample``) and to the fail-open one."""
        line = rec.get("line")
        identity = "\x1f".join(
            (
                text(rec.get("run_id"), MAX_KEY),
                t or text(rec.get("time"), MAX_KEY),
                text(rec.get("url")),
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
                built.append(_item(rec, t, domain, signal, action, verdict, blocked, fail_open))
            return built[0]

        if sample:
            sampler = self.by_signal.get(sname)
            if sampler is None:
                sampler = BottomKSampler(self.k, f"{self.seed}/{sname}")
                self.by_signal[sname] = sampler
            sampler.offer(identity, item)
        if fail_open:
            self.fail_open.offer(identity, item)

    def section(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "seed": str(self.seed),
            "per_signal": self.k,
            "by_signal": [
                {"signal": s, "population": sm.population, "items": sm.sample()}
                for s, sm in sorted(self.by_signal.items(), key=lambda kv: (-kv[1].population, kv[0]))
            ],
        }


def _item(
    rec: dict[str, Any],
    t: str | None,
    domain: str,
    signal: str | None,
    action: str,
    verdict: str,
    blocked: bool,
    fail_open: str,
) -> dict[str, Any]:
    """A sampled record as the report shows it: bounded fields, unknown fields as its locator."""
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
