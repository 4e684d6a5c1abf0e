"""Internal: the report's evidence samples, drawn reproducibly from the decision records.

:class:`EvidenceSamples` keeps, per signal and for the fail-open records, a
bottom-k sample (:class:`~.stats.BottomKSampler`) of the decision records
offered to it, and builds a sample's item only when it is kept.

A signal's sample is stratified by outcome: up to ``k`` blocks (skipped,
dropped or flagged), then unknowns, then allows, each stratum drawn on its
own, and shown in that order; so one real block among many "no capture"
unknowns is always shown (issue 14, item 9).
"""

from __future__ import annotations

from typing import Any

from ..auditlog import FLAGGED
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
    "the k lowest are kept. Blocks (skipped, dropped, flagged) come first, then unknowns, then "
    "allows: each is sampled on its own and later ones fill what is left of the k. "
    "Same trails and seed give the same sample in any input order."
)

#: Outcome strata of a signal's sample, in the order they are shown.
STRATA: tuple[str, ...] = ("blocked", "unknown", "allowed")


def stratum(blocked: bool, action: str, verdict: str) -> str:
    """Which stratum a sampled record falls in: a block, an unknown left allowed, or an allow."""
    if blocked or action == FLAGGED:
        return "blocked"
    return "unknown" if verdict == "unknown" else "allowed"


class _Strata:
    """One signal's samplers, one per stratum."""

    __slots__ = ("samplers",)

    def __init__(self, k: int, seed: str) -> None:
        self.samplers = {s: BottomKSampler(k, f"{seed}/{s}") for s in STRATA}

    @property
    def population(self) -> int:
        return sum(sm.population for sm in self.samplers.values())

    def sample(self, k: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for s in STRATA:
            out += self.samplers[s].sample()[: max(k - len(out), 0)]
        return out


class EvidenceSamples:
    """``k`` records per signal, and ``k`` records that failed open, chosen by ``seed``."""

    def __init__(self, k: int, seed: int | str) -> None:
        self.k = k
        self.seed = seed
        self.by_signal: dict[str, _Strata] = {}
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
            strata = self.by_signal.get(sname)
            if strata is None:
                strata = _Strata(self.k, f"{self.seed}/{sname}")
                self.by_signal[sname] = strata
            strata.samplers[stratum(blocked, action, verdict)].offer(identity, item)
        if fail_open:
            self.fail_open.offer(identity, item)

    def section(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "seed": str(self.seed),
            "per_signal": self.k,
            "by_signal": [
                {
                    "signal": s,
                    "population": st.population,
                    **{name: sm.population for name, sm in st.samplers.items()},
                    "items": st.sample(self.k),
                }
                for s, st in sorted(self.by_signal.items(), key=lambda kv: (-kv[1].population, kv[0]))
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
