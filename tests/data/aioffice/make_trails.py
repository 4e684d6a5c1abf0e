"""Make the small multi-run trail set of the ai-office report's golden test (issue 18).

    cd tests/data/aioffice && PYTHONPATH=../..:../../.. python make_trails.py

Four trails, written once and committed (the golden outputs are rendered from them):

* ``crawl-hand.jsonl``: a crawl's run, decision and summary records written by hand with the
  real record builders, with sizes whose domain ranking the test counts by hand, and hostile
  names (a token, a spider and a host with Markdown and HTML in them);
* ``crawl-old.jsonl``: a crawl summary of an older version, without ``sizes``;
* ``crawl-live.jsonl``: a real Scrapy crawl (noai_guard add-on) of two local sites, one on
  ``127.0.0.1`` and one on ``localhost``;
* ``audit-warc.jsonl``: ``noai-guard audit`` of the README's sample WARC.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
POLICY_TOKENS = ["acmebot"]


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)


def hand_trail() -> list[dict[str, Any]]:
    from noai_guard import auditlog
    from noai_guard.decision import Decision, Signal, Verdict
    from noai_guard.policy import Policy
    from noai_guard.sizes import MEASURE_CRAWL, sizes_section

    policy = Policy(user_agents=("acmebot", "bad|bot<img src=x>*"))
    pd = policy.to_dict()
    rid = "hand-run-1"
    run = auditlog.run_record(run_id=rid, mode="crawl", policy=pd, policy_hash=policy.hash, spider="news_[spider]")
    run.update(time="2026-02-01T08:00:00.000Z", enforce=True, command="crawl")
    sig = Signal(
        name="robots-txt",
        verdict=Verdict.RESERVE,
        purpose="ai-train",
        evidence="Disallow: /",
        source="https://blocked.example/robots.txt",
        location="robots.txt",
        line=2,
        user_agent="acmebot",
        own_token=True,
    )
    dec = Decision(
        url="https://blocked.example/a",
        purpose="ai-train",
        verdict=Verdict.RESERVE,
        blocked=True,
        decided_by=sig,
        reason="robots-txt reserves ai-train",
        signals=(sig,),
        policy_hash=policy.hash,
    )
    d1 = auditlog.decision_record(dec, action="skipped", phase="pre-fetch", run_id=rid)
    d1["time"] = "2026-02-01T08:10:00.000Z"
    # Content kept per origin (hand-counted in the test): two origins of one registrable domain.
    rows = [
        ("https://www.big.example", 40, 400_000),
        ("https://cdn.big.example", 10, 100_000),
        ("https://mid.example", 30, 300_000),
        ("https://small.example", 5, 5_000),
        ("https://tiny.example", 1, 100),
        ("https://evil|name<script>.example", 2, 600_000),
    ]
    # Ten more domains with a little content each: 20 domains with content kept in all.
    rows += [(f"https://s{i}.example", 1, 10 + i) for i in range(10)]
    sizes = sizes_section(
        rows,
        measure=MEASURE_CRAWL,
        limit=5,  # the origins past the fifth by bytes (tiny, s0-s9) go to "other"
        types={"text/html": [80, 1_000_000], "image/png": [8, 55_100]},
    )
    origins = {o: {"evaluated": p, "allowed": p} for o, p, _b in rows}
    origins["https://blocked.example"] = {"evaluated": 3, "skipped": 3, "by_signal": {"robots-txt": 3}}
    summ = auditlog.summary_record(
        run_id=rid,
        mode="crawl",
        policy=pd,
        origins=origins,
        policy_hash=policy.hash,
        reason="finished",
        command="crawl",
        sizes=sizes,
        totals={"request_count": 91, "skipped": 3, "dropped": 0, "flagged": 0, "allowed": 88},
    )
    summ["time"] = "2026-02-03T18:00:00.000Z"
    return [run, d1, summ]


def old_trail() -> list[dict[str, Any]]:
    """A summary as versions before sizes wrote it."""
    from noai_guard import auditlog
    from noai_guard.policy import Policy

    policy = Policy(user_agents=("acmebot",))
    pd = policy.to_dict()
    run = auditlog.run_record(run_id="old-run", mode="crawl", policy=pd, policy_hash=policy.hash)
    run["time"] = "2025-11-20T10:00:00.000Z"
    summ = auditlog.summary_record(
        run_id="old-run",
        mode="crawl",
        policy=pd,
        origins={"https://old.example": {"evaluated": 7, "allowed": 7}},
        policy_hash=policy.hash,
        reason="finished",
    )
    summ["time"] = "2025-11-20T11:00:00.000Z"
    return [run, summ]


def live_crawl(work: Path) -> Path:
    from crawlutil import Route, Site, html, run_crawl, text

    one = Site(
        {
            "/robots.txt": text("User-agent: testbot\nDisallow: /private\n"),
            "/a": Route(body=html(body="<p>" + "a" * 900 + "</p>"), content_type="text/html"),
            "/private": Route(body=html(), content_type="text/html"),
        }
    )
    two = Site({"/b": Route(body="b" * 2000, content_type="text/plain")})
    try:
        urls = [one.url("/a"), one.url("/private"), two.url("/b", host="localhost")]
        r = run_crawl(work / "crawl", urls)
        assert r.returncode == 0, r.log[-2000:]
    finally:
        one.close()
        two.close()
    return work / "crawl" / "trail.jsonl"


def main() -> None:
    from noai_guard.cli import main as cli

    _write(HERE / "crawl-hand.jsonl", hand_trail())
    _write(HERE / "crawl-old.jsonl", old_trail())
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(live_crawl(Path(tmp)), HERE / "crawl-live.jsonl")
    warc = Path("..") / "audit" / "sample.warc.gz"
    rc = cli(["audit", str(warc), "--out", str(HERE / "audit-warc.jsonl"), "--no-progress"])
    assert rc in (0, 1), rc


if __name__ == "__main__":
    main()
