"""Realistic audit trails for the report tests, built from real decisions.

Signals are made by hand (as the parsers would make them), folded by
:func:`noai_guard.policy.decide`, and written with the real
``auditlog.run_record`` / ``decision_record`` / ``summary_record``: the trail
schema is the one the middleware and the audit command write.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from noai_guard import decision as d
from noai_guard.auditlog import (
    AFTER_THE_FACT,
    ALLOWED,
    DROPPED,
    FLAGGED,
    POST_FETCH,
    PRE_FETCH,
    SKIPPED,
    decision_record,
    run_record,
    summary_record,
    write_all,
)
from noai_guard.decision import Signal, Verdict
from noai_guard.policy import Policy, decide

POLICY = Policy(user_agents=("noai-guard",))
T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


def ts(seconds: float) -> str:
    t = T0 + dt.timedelta(seconds=seconds)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def robots_own(origin: str, path: str = "/", line: int = 3) -> Signal:
    return Signal(
        d.ROBOTS_TXT,
        Verdict.RESERVE,
        d.AI_TRAIN,
        f"Disallow: {path}",
        origin + "/robots.txt",
        d.LOC_ROBOTS,
        line=line,
        scope="User-agent: noai-guard",
        user_agent="noai-guard",
        own_token=True,
        note="RFC 9309 §2.2.2: longest matching rule is a disallow",
    )


def robots_proxy(origin: str, token: str = "GPTBot", line: int = 7) -> Signal:
    return Signal(
        d.ROBOTS_TXT_PROXY,
        Verdict.RESERVE,
        d.AI_TRAIN,
        "Disallow: /",
        origin + "/robots.txt",
        d.LOC_ROBOTS,
        line=line,
        scope=f"User-agent: {token}",
        user_agent=token,
        own_token=False,
        note=f"disallow for AI-training token {token!r}",
    )


def robots_allow(origin: str) -> Signal:
    return Signal(
        d.ROBOTS_TXT, Verdict.ALLOW, d.AI_TRAIN, "", origin + "/robots.txt", d.LOC_ROBOTS, own_token=True
    )


def robots_unreachable(origin: str, status: int = 503) -> Signal:
    return Signal(
        d.ROBOTS_TXT,
        Verdict.UNKNOWN,
        d.AI_TRAIN,
        f"HTTP {status}",
        origin + "/robots.txt",
        d.LOC_ROBOTS,
        note="RFC 9309 §2.3.1.4: robots.txt unreachable; the crawler MUST assume complete disallow",
    )


def robots_truncated(origin: str) -> Signal:
    return Signal(
        d.ROBOTS_TXT,
        Verdict.RESERVE,
        d.AI_TRAIN,
        "Disallow: /big",
        origin + "/robots.txt",
        d.LOC_ROBOTS,
        line=12000,
        scope="User-agent: *",
        user_agent="*",
        own_token=True,
        note="HTTP 200; truncated at 512000 bytes (limit 512000, RFC 9309 §2.5)",
    )


def x_robots(url: str, value: str = "noai") -> Signal:
    return Signal(d.X_ROBOTS_TAG, Verdict.RESERVE, d.AI_TRAIN, value, url, "header:X-Robots-Tag")


def meta_robots(url: str) -> Signal:
    return Signal(
        d.META_ROBOTS,
        Verdict.RESERVE,
        d.AI_TRAIN,
        '<meta name="robots" content="noai, noimageai">',
        url,
        d.LOC_META,
    )


def tdmrep_file(origin: str) -> Signal:
    return Signal(
        d.TDMREP,
        Verdict.RESERVE,
        d.AI_TRAIN,
        '{"location": "/*", "tdm-reservation": 1}',
        origin + "/.well-known/tdmrep.json",
        d.LOC_TDMREP_FILE,
        scope="/*",
    )


def tdmrep_unparseable(origin: str) -> Signal:
    return Signal(
        d.TDMREP,
        Verdict.UNKNOWN,
        d.AI_TRAIN,
        "",
        origin + "/.well-known/tdmrep.json",
        d.LOC_TDMREP_FILE,
        note="unparseable tdmrep.json: invalid JSON at byte 17",
    )


def content_usage(origin: str) -> Signal:
    return Signal(
        d.CONTENT_USAGE,
        Verdict.RESERVE,
        d.AI_TRAIN,
        "Content-Usage: train-ai=n",
        origin + "/robots.txt",
        d.LOC_ROBOTS,
        line=2,
        scope="/",
    )


def content_signal(origin: str) -> Signal:
    return Signal(
        d.CONTENT_SIGNAL,
        Verdict.RESERVE,
        d.AI_TRAIN,
        "Content-Signal: search=yes, ai-train=no",
        origin + "/robots.txt",
        d.LOC_ROBOTS,
        line=5,
        scope="User-agent: *",
        own_token=True,
    )


def ai_txt(origin: str) -> Signal:
    return Signal(
        d.AI_TXT, Verdict.RESERVE, d.AI_TRAIN, "Disallow: *.jpg", origin + "/ai.txt", d.LOC_AI_TXT, line=4
    )


#: Origins of the crawl fixture, with what each one says.
ORIGINS = {
    "https://news.example.co.uk": "own",
    "https://blog.news.example.co.uk": "own",
    "https://shop.example.com": "proxy",
    "https://images.example.org": "xrobots",
    "https://docs.example.net": "meta",
    "https://press.example.fr": "tdmrep",
    "https://down.example.io": "unreachable",
    "https://big.example.de": "truncated",
    "https://cs.example.ch": "content-signal",
    "https://cu.example.at": "content-usage",
    "https://art.example.jp": "ai-txt",
    "https://broken.example.es": "tdmrep-bad",
    "https://open.example.se": "allow",
}


def signals_for(kind: str, origin: str, url: str) -> tuple[list[Signal], str, str]:
    """Signals for one URL of an origin of ``kind``; also the action and phase they lead to."""
    pre, post = PRE_FETCH, POST_FETCH
    if kind == "own":
        return [robots_own(origin)], SKIPPED, pre
    if kind == "proxy":
        return [robots_allow(origin), robots_proxy(origin)], SKIPPED, pre
    if kind == "xrobots":
        return [robots_allow(origin), x_robots(url)], DROPPED, post
    if kind == "meta":
        return [robots_allow(origin), meta_robots(url)], DROPPED, post
    if kind == "tdmrep":
        return [robots_allow(origin), tdmrep_file(origin)], SKIPPED, pre
    if kind == "unreachable":
        return [robots_unreachable(origin)], SKIPPED, pre
    if kind == "truncated":
        return [robots_truncated(origin)], SKIPPED, pre
    if kind == "content-signal":
        return [robots_allow(origin), content_signal(origin)], SKIPPED, pre
    if kind == "content-usage":
        return [robots_allow(origin), content_usage(origin)], SKIPPED, pre
    if kind == "ai-txt":
        return [robots_allow(origin), ai_txt(origin)], SKIPPED, pre
    if kind == "tdmrep-bad":
        return [robots_allow(origin), tdmrep_unparseable(origin)], ALLOWED, pre
    return [robots_allow(origin)], ALLOWED, pre


def crawl_records(
    run_id: str = "crawl-run-1", per_origin: int = 4, policy: Policy = POLICY
) -> list[dict[str, Any]]:
    """A crawl trail: run record, decisions (blocked and unknown outcomes), summary."""
    recs: list[dict[str, Any]] = [run_record(run_id=run_id, mode="crawl", policy=policy.to_dict())]
    recs[0]["time"] = ts(0)
    origins: dict[str, Any] = {}
    n = 0
    for origin, kind in ORIGINS.items():
        st: dict[str, Any] = {
            "evaluated": 0,
            "allowed": 0,
            "skipped": 0,
            "dropped": 0,
            "flagged": 0,
            "unknown": 0,
            "by_signal": {},
            "fetch": {
                "robots": {"2xx": 1} if kind not in ("unreachable",) else {"5xx": 1},
                "tdmrep": {"4xx": 1} if kind != "tdmrep" else {"2xx": 1},
                "ai-txt": {"4xx": 1} if kind != "ai-txt" else {"2xx": 1},
            },
        }
        for i in range(per_origin):
            url = f"{origin}/page/{i}.html"
            sigs, action, phase = signals_for(kind, origin, url)
            dec = decide(url, sigs, policy)
            st["evaluated"] += 1
            if dec.verdict is Verdict.UNKNOWN:
                st["unknown"] += 1
            if dec.blocked:
                st[action] += 1
                st["by_signal"][dec.signal] = st["by_signal"].get(dec.signal, 0) + 1
            else:
                st["allowed"] += 1
            n += 1
            if dec.blocked or dec.verdict is Verdict.UNKNOWN:
                recs.append(decision_record(dec, action=action, phase=phase, run_id=run_id, time=ts(n * 7.5)))
        # Plus URLs allowed without any record.
        st["evaluated"] += 3
        st["allowed"] += 3
        origins[origin] = st
    summ = summary_record(run_id=run_id, mode="crawl", policy=policy.to_dict(), origins=origins)
    summ["time"] = ts(n * 7.5 + 1)
    recs.append(summ)
    return recs


def audit_records(run_id: str = "audit-run-1", policy: Policy = POLICY) -> list[dict[str, Any]]:
    """An after-the-fact audit trail over captures (WARC locators in extra fields)."""
    recs: list[dict[str, Any]] = [run_record(run_id=run_id, mode="audit", policy=policy.to_dict())]
    recs[0]["time"] = ts(86400)
    for i, (origin, kind) in enumerate(ORIGINS.items()):
        url = f"{origin}/archived/{i}"
        sigs, _, _ = signals_for(kind, origin, url)
        dec = decide(url, sigs, policy)
        if not dec.blocked:
            continue
        recs.append(
            decision_record(
                dec,
                action=FLAGGED,
                phase=AFTER_THE_FACT,
                run_id=run_id,
                mode="audit",
                time=ts(86400 + 60 * i),
                capture="2026-02-01T00:00:00Z",
                warc_file="crawl-00001.warc.gz",
                warc_offset=1024 * i,
                warc_record_id=f"<urn:uuid:00000000-0000-0000-0000-{i:012d}>",
            )
        )
    return recs


def write_fixture_trails(directory: Path) -> list[Path]:
    """Write one crawl trail and one audit trail; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    crawl = directory / "crawl.jsonl"
    audit = directory / "audit.jsonl"
    write_all(crawl, crawl_records())
    write_all(audit, audit_records())
    return [crawl, audit]
