"""NOAI_GUARD_PRESET in a live crawl (issue 18 item 4): the Apertus preset against local sites."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crawlutil import USER_AGENT, CrawlResult, Route, Site, page
from scrapy.utils.test import get_crawler

from noai_guard.middleware import NoAIGuardMiddleware
from noai_guard.presets import get_preset, preset_record
from noai_guard.settings import SettingsError

ROBOTS = (
    "User-agent: GPTBot\nDisallow: /private/\n\nUser-agent: anthropic-ai\nDisallow: /\n\n"
    "User-agent: testbot\nDisallow: /mine/\n"
)


def _sites(make_site: Callable[..., Site]) -> tuple[Site, Site]:
    listed = make_site(
        {
            "/robots.txt": Route(200, ROBOTS, content_type="text/plain"),
            "/private/a": page(),
            "/mine/x": page(),
            # A page signal the preset does not read (Apertus filtered on robots.txt alone).
            "/open/b": page(head='<meta name="robots" content="noai">'),
        }
    )
    down = make_site({"/robots.txt": Route(503, "busy"), "/c": page()})
    return listed, down


def test_apertus_preset_crawl(make_site: Callable[..., Site], crawl: Callable[..., CrawlResult]) -> None:
    listed, down = _sites(make_site)
    urls = [listed.url("/private/a"), listed.url("/mine/x"), listed.url("/open/b"), down.url("/c")]
    res = crawl(urls, settings={"NOAI_GUARD_PRESET": "apertus", "NOAI_GUARD_RETRY_AFTER": 0})
    assert res.returncode == 0, res.log[-3000:]
    # GPTBot's disallow removes /private/a before it is fetched; anthropic-ai is not on the list.
    rec = res.decision_for(listed.url("/private/a"))
    assert rec["action"] == "skipped" and rec["signal"] == "robots-txt" and rec["user_agent"] == "GPTBot"
    assert listed.count("/private/a") == 0
    # The crawler's own token is still obeyed (RFC 9309), beside the preset's list.
    assert res.decision_for(listed.url("/mine/x"))["user_agent"] == "testbot"
    assert listed.count("/mine/x") == 0
    # The noai meta is not read; the unreachable robots.txt keeps the data.
    assert sorted(res.callbacks) == sorted(urls[2:])
    run = next(r for r in res.trail if r.get("type") == "run")
    ap = get_preset("apertus")
    assert run["user_agents"] == ["testbot", *ap.policy.user_agents]
    assert run["preset"] == preset_record(ap, ap.policy)  # its own hash, not changed
    assert run["preset"]["policy_hash"] == ap.hash != run["policy_hash"] == rec["policy_hash"]


def test_default_crawl_on_the_same_sites_differs(
    make_site: Callable[..., Site], crawl: Callable[..., CrawlResult]
) -> None:
    listed, down = _sites(make_site)
    urls = [listed.url("/private/a"), listed.url("/open/b"), down.url("/c")]
    res = crawl(urls, settings={"NOAI_GUARD_RETRY_AFTER": 0})
    assert res.returncode == 0, res.log[-3000:]
    # anthropic-ai (a packaged proxy token) reserves the whole site for ai-train, and the
    # unreachable robots.txt blocks (RFC 9309 §2.3.1.4): nothing is kept.
    assert res.callbacks == []
    assert res.decision_for(down.url("/c"))["verdict"] == "unknown"
    run = next(r for r in res.trail if r.get("type") == "run")
    assert "preset" not in run


def _guard(settings: dict[str, Any], tmp_path: Path) -> NoAIGuardMiddleware:
    base = {
        "NOAI_GUARD_ENABLED": True,
        "NOAI_GUARD_AUDIT_URI": str(tmp_path / "trail.jsonl"),
        "USER_AGENT": USER_AGENT,
    }
    return NoAIGuardMiddleware.from_crawler(get_crawler(settings_dict={**base, **settings}))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"NOAI_GUARD_PRESET": "apertus@7"},
            "NOAI_GUARD_PRESET: unknown preset 'apertus@7'; known presets: default@1, apertus@1",
        ),
        (
            {"NOAI_GUARD_PRESET": "apertus", "NOAI_GUARD_POLICY": {"purpose": "search"}},
            "NOAI_GUARD_PRESET: cannot be combined with NOAI_GUARD_POLICY",
        ),
    ],
)
def test_bad_preset_stops_the_crawl_with_one_line(
    settings: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError) as exc:
        _guard(settings, tmp_path)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_a_setting_over_the_preset_overrides_it(tmp_path: Path) -> None:
    g = _guard({"NOAI_GUARD_PRESET": "apertus", "NOAI_GUARD_PURPOSE": "search"}, tmp_path)
    ap = get_preset("apertus")
    assert g.guard.policy.purpose == "search"
    assert g.guard.policy.user_agents == ("testbot", *ap.policy.user_agents)
    assert preset_record(ap, g.guard.policy)["changed"] == ["purpose"]


def test_check_under_a_preset_announces_itself(make_site: Callable[..., Site]) -> None:
    import json
    import subprocess
    import sys

    site = make_site(
        {
            "/robots.txt": Route(200, "User-agent: Bytespider\nDisallow: /\n", content_type="text/plain"),
            "/p": page(),
        }
    )
    url = site.url("/p")
    proc = subprocess.run(
        [sys.executable, "-m", "noai_guard.cli", "check", url, "--preset", "apertus", "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    (res,) = json.loads(proc.stdout)
    assert res["verdict"] == "reserve" and res["decided_by"]["user_agent"] == "Bytespider"
    agents = {h.headers.get("User-Agent", "") for h in site.log}
    assert agents and all(a.startswith("noai-guard/") for a in agents), agents
