"""A crawl killed with SIGKILL leaves a readable trail holding every skip decided before the kill.

Each skip is written and flushed before ``IgnoreRequest`` is raised, and before
the debug log line is written: so every skip the (line-flushed) log shows was
decided must be in the trail.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

from crawlutil import Site, collect, page, start_crawl, text

from noai_guard.auditlog import read_audit

_LOGGED_SKIP = re.compile(r"noai_guard skipped \(.*\): <GET (\S+)>")


def _start(workdir: Path, start_urls: list[str], spider: dict[str, object]) -> tuple[object, Path]:
    workdir.mkdir()
    cfg = workdir / "config.json"
    settings = {"CONCURRENT_REQUESTS": 100, "CONCURRENT_REQUESTS_PER_DOMAIN": 100}
    cfg.write_text(
        json.dumps(
            {"start_urls": start_urls, "settings": settings, "spider": spider, "workdir": str(workdir)}
        )
    )
    return start_crawl(cfg), workdir


def _wait_for(cond: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.01)


def _logged_skips(workdir: Path) -> set[str]:
    log = (workdir / "crawl.log").read_text(encoding="utf-8", errors="replace")
    return set(_LOGGED_SKIP.findall(log))


def test_sigkill_while_the_spider_is_stuck(make_site: Callable[..., Site], tmp_path: Path) -> None:
    site = make_site({"/robots.txt": text("User-agent: testbot\nDisallow: /private/\n"), "/block": page()})
    reserved = [site.url(f"/private/{i}") for i in range(60)]
    block = site.url("/block")
    proc, workdir = _start(
        tmp_path / "stuck",
        [*reserved, block],
        {"block_on": block, "priorities": dict.fromkeys(reserved, 10)},
    )
    try:
        _wait_for(lambda: (workdir / "blocked.flag").exists(), 60)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
        proc.wait()  # type: ignore[attr-defined]
    trail = list(read_audit(workdir / "trail.jsonl"))
    assert trail[0]["type"] == "run"
    assert not [r for r in trail if r["type"] == "summary"]  # killed: no summary
    skipped = {r["url"] for r in trail if r.get("action") == "skipped"}
    logged = _logged_skips(workdir)
    assert logged, "no skip was decided before the kill"
    assert logged <= skipped
    assert skipped <= set(reserved)
    assert not any("/private/" in p for p in site.paths())
    result = collect(workdir, -9)
    assert block in result.callbacks


def test_sigkill_mid_crawl_while_skips_are_written(make_site: Callable[..., Site], tmp_path: Path) -> None:
    site = make_site({"/robots.txt": text("User-agent: testbot\nDisallow: /private/\n")})
    reserved = [site.url(f"/private/{i}") for i in range(5000)]
    proc, workdir = _start(tmp_path / "busy", reserved, {})
    trail_path = workdir / "trail.jsonl"

    def enough() -> bool:
        return trail_path.exists() and trail_path.stat().st_size > 200 * 1500

    try:
        _wait_for(enough, 60)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
        proc.wait()  # type: ignore[attr-defined]
    # The trail parses (a torn last line, if any, is skipped) and holds every logged skip.
    trail = list(read_audit(trail_path))
    skipped = {r["url"] for r in trail if r.get("action") == "skipped"}
    logged = _logged_skips(workdir)
    assert len(logged) >= 100
    assert logged <= skipped
    assert len(skipped) < len(reserved)  # really killed mid-crawl
    assert all(r["signal"] == "robots-txt" and r["evidence"] == "Disallow: /private/" for r in trail[1:])
