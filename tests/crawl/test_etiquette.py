"""Scrapy etiquette (issue 14, items 14-19), through real Scrapy engines against local servers.

- 14: a bad ``NOAI_GUARD_*`` value names the setting, the value and what is
  allowed, for every setting; ``scrapy crawl`` ends with that one line.
- 15: one start-up INFO line saying what is on, or that noai_guard is disabled and why.
- 16: ``ROBOTSTXT_OBEY = False`` and ``dont_obey_robotstxt`` do not switch
  noai_guard's robots.txt check off, and the start-up log says so.
- 17: an origin blocked by an unreachable robots.txt: one WARNING per origin.
- 18: a blocked request of ``scrapy fetch`` is told at INFO with its evidence.
- 19: the site files of an origin are one visit: the first page waits one
  ``DOWNLOAD_DELAY``, not one per file.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crawlutil import ROOT, USER_AGENT, CrawlResult, Site, closed_port, page, text
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from noai_guard.decision import SIGNALS
from noai_guard.middleware import NoAIGuardMiddleware
from noai_guard.settings import DEFAULTS, SettingsError, get_bool

Crawl = Callable[..., CrawlResult]
MakeSite = Callable[..., Site]

DISALLOW_TESTBOT = "User-agent: testbot\nDisallow: /private/\n"


# -- item 14: every setting's error names the setting, the value and what is allowed ---------

# One bad value per setting, the value as its one-line error shows it (the entry at
# fault), and what the error must say is allowed.
BAD_VALUES: dict[str, tuple[Any, str, str]] = {
    "NOAI_GUARD_ENABLED": ("maybe", "'maybe'", "allowed: True, False"),
    "NOAI_GUARD_AUDIT_ALLOWED": ("sometimes", "'sometimes'", "allowed: True, False"),
    "NOAI_GUARD_AUDIT_FSYNC": ("2", "'2'", "allowed: True, False"),
    "NOAI_GUARD_AUDIT_URI": (
        "s3://bucket/t.jsonl",
        "'s3://bucket/t.jsonl'",
        "allowed: a path or file:// URI",
    ),
    "NOAI_GUARD_CACHE_SIZE": ("many", "'many'", "allowed: a whole number >= 1"),
    "NOAI_GUARD_CACHE_TTL": ("-5", "'-5'", "allowed: seconds >= 0"),
    "NOAI_GUARD_CRAWL_ID": ("a b", "'a b'", "allowed: 1 to 128 letters, digits and . _ : -"),
    "NOAI_GUARD_ENFORCE": ("yes please", "'yes please'", "allowed: True, False"),
    "NOAI_GUARD_HEAD_BUDGET": ("12", "'12'", "allowed: a number of bytes"),
    "NOAI_GUARD_HONOUR_LEGACY": ("perhaps", "'perhaps'", "allowed: true, false"),
    "NOAI_GUARD_HTML_STRICT": ("strict", "'strict'", "allowed: true, false"),
    "NOAI_GUARD_IMAGE_PROVENANCE_SIZE": ("-1", "'-1'", "allowed: a whole number >= 0"),
    "NOAI_GUARD_ITEM_PROVENANCE": (5, "5", "allowed: True, False, a field name"),
    "NOAI_GUARD_LENIENT_NOIMAGEAI": ("nah", "'nah'", "allowed: true, false"),
    "NOAI_GUARD_POLICY": ("/nonexistent/p.json", "/nonexistent/p.json", "allowed: a dict of policy fields"),
    "NOAI_GUARD_PRESET": ("fineweb", "'fineweb'", "known presets: default@1, apertus@1"),
    "NOAI_GUARD_PROXY_TOKENS": (3, "3", "allowed: a list of strings"),
    "NOAI_GUARD_PURPOSE": (
        "ai_train",
        "'ai_train'",
        "allowed: ai-train, ai-input, search (did you mean 'ai-train'?)",
    ),
    "NOAI_GUARD_RETRY_AFTER": ("soon", "'soon'", "allowed: seconds >= 0"),
    "NOAI_GUARD_SHARED_STATE_URL": ("http://r:6379", "'http://r:6379'", "allowed: redis://host:port/db"),
    "NOAI_GUARD_SOURCES": ("robots,xrobots", "'robots'", "allowed: robots-txt, robots-txt-proxy"),
    "NOAI_GUARD_UNKNOWN": ('{"robots-txt": "maybe"}', "['robots-txt']: 'maybe'", "allowed: allow, reserve"),
    "NOAI_GUARD_UNKNOWN_DEFAULT": ("block", "'block'", "allowed: allow, reserve"),
    "NOAI_GUARD_USER_AGENTS": ([], "[]", "allowed: one or more tokens"),
}


def test_the_table_covers_every_setting() -> None:
    assert set(BAD_VALUES) == set(DEFAULTS)


def _guard_error(settings: dict[str, Any], tmp_path: Path) -> str:
    base = {
        "NOAI_GUARD_ENABLED": True,
        "NOAI_GUARD_AUDIT_URI": str(tmp_path / "trail.jsonl"),
        "USER_AGENT": USER_AGENT,
    }
    with pytest.raises(SettingsError) as exc:
        NoAIGuardMiddleware.from_crawler(get_crawler(settings_dict={**base, **settings}))
    return str(exc.value)


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_every_bad_setting_names_itself_its_value_and_what_is_allowed(name: str, tmp_path: Path) -> None:
    value, shown, allowed = BAD_VALUES[name]
    message = _guard_error({name: value}, tmp_path)
    assert "\n" not in message
    assert message.startswith(name), message
    assert shown in message, message
    assert allowed in message, message


def test_booleans_accept_what_scrapy_and_the_policy_accept_and_nothing_else() -> None:
    for value, expected in (
        (True, True),
        ("False", False),
        ("1", True),
        (0, False),
        ("yes", True),
        ("OFF", False),
    ):
        assert get_bool(Settings({"NOAI_GUARD_ENFORCE": value}), "NOAI_GUARD_ENFORCE") is expected
    # Scrapy's getbool took "2" for True: a typo must not switch enforcement on or off.
    for value in ("2", "maybe", 2, ""):
        with pytest.raises(SettingsError, match="NOAI_GUARD_ENFORCE"):
            get_bool(Settings({"NOAI_GUARD_ENFORCE": value}), "NOAI_GUARD_ENFORCE")


def _scrapy_project(root: Path, start_url: str, extra: str = "") -> Path:
    (root / "proj" / "spiders").mkdir(parents=True)
    (root / "scrapy.cfg").write_text("[settings]\ndefault = proj.settings\n")
    (root / "proj" / "__init__.py").write_text("")
    (root / "proj" / "spiders" / "__init__.py").write_text("")
    (root / "proj" / "settings.py").write_text(
        "SPIDER_MODULES = ['proj.spiders']\n"
        "ADDONS = {'noai_guard.NoAIGuardAddon': 0}\n"
        f"USER_AGENT = {USER_AGENT!r}\n"
        "TELNETCONSOLE_ENABLED = False\n"
        "REMOTE_CONTROL_ENABLED = False\n"
        f"NOAI_GUARD_AUDIT_URI = {str(root / 'trail.jsonl')!r}\n" + extra
    )
    (root / "proj" / "spiders" / "s.py").write_text(
        "import scrapy\n\n\n"
        "class S(scrapy.Spider):\n"
        "    name = 's'\n"
        f"    start_urls = [{start_url!r}]\n\n"
        "    def parse(self, response):\n"
        "        yield {'url': response.url}\n"
    )
    return root


def _scrapy(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(project)])
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            "NOAI_GUARD_PURPOSE=ai_train",
            (
                "NOAI_GUARD_PURPOSE: 'ai_train' is not a purpose; allowed: ai-train, ai-input, search "
                "(did you mean 'ai-train'?)"
            ),
        ),
        ("NOAI_GUARD_SOURCES=robots,xrobots", "NOAI_GUARD_SOURCES: 'robots' is not a signal name; allowed: "),
        ("NOAI_GUARD_ENFORCE=maybe", "NOAI_GUARD_ENFORCE: 'maybe' is not a boolean; allowed: True, False"),
        ("NOAI_GUARD_CACHE_TTL=-1", "NOAI_GUARD_CACHE_TTL: '-1' is not a number of at least 0"),
        (
            "NOAI_GUARD_PRESET=nope",
            "NOAI_GUARD_PRESET: unknown preset 'nope'; known presets: default@1, apertus@1",
        ),
    ],
)
def test_a_bad_setting_ends_scrapy_crawl_with_one_line(
    make_site: MakeSite, tmp_path: Path, setting: str, expected: str
) -> None:
    site = make_site({"/robots.txt": text("User-agent: *\nAllow: /\n"), "/x": page()})
    project = _scrapy_project(tmp_path / "project", site.url("/x"))
    out = _scrapy(project, "crawl", "s", "-s", setting)
    lines = out.stderr.splitlines()
    # The crawl does not start: exit status 1 (Scrapy's for a start-up failure), nothing requested.
    assert out.returncode == 1, out.stderr[-3000:]
    assert site.log == []
    assert "Spider opened" not in out.stderr
    # One line says it all, once; no traceback (it was some 30 lines).
    errors = [x for x in lines if "ERROR" in x or "CRITICAL" in x]
    assert len(errors) == 1, errors
    assert errors[0].endswith(f"noai_guard: {expected}; the crawl is not started") or expected in errors[0], (
        errors
    )
    assert sum(expected.split(";")[0] in x for x in lines) == 1
    assert "Traceback" not in out.stderr
    assert not any(x.startswith("  File ") for x in lines)
    assert not (project / "trail.jsonl").exists()


# -- item 15: what is on, at start-up -------------------------------------------------------


def _info(r: CrawlResult, needle: str) -> list[str]:
    return [x for x in r.log.splitlines() if "INFO" in x and needle in x]


def test_one_start_up_line_says_what_is_on(crawl: Crawl, make_site: MakeSite) -> None:
    site = make_site({"/robots.txt": text("User-agent: *\nAllow: /\n"), "/x": page()})
    r = crawl([site.url("/x")])
    assert r.returncode == 0, r.log[-3000:]
    lines = _info(r, "noai_guard: on,")
    assert len(lines) == 1, r.log[-3000:]
    line = lines[0]
    for part in (
        "enforcing",
        "purpose ai-train",
        "own tokens testbot",
        f"sources: all {len(SIGNALS)} signals",  # every signal name the decision vocabulary has
        "site files per origin: /robots.txt, /.well-known/tdmrep.json, /ai.txt",
        f"audit trail: {r.workdir / 'trail.jsonl'}",
    ):
        assert part in line, (part, line)

    r = crawl(
        [site.url("/x")],
        settings={
            "NOAI_GUARD_ENFORCE": False,
            "NOAI_GUARD_PURPOSE": "search",
            "NOAI_GUARD_USER_AGENTS": ["MyBot", "OtherBot"],
            "NOAI_GUARD_SOURCES": ["robots-txt", "meta-robots"],
        },
    )
    (line,) = _info(r, "noai_guard: on,")
    assert "audit-only (NOAI_GUARD_ENFORCE = False: nothing dropped)" in line
    assert "purpose search" in line and "own tokens MyBot, OtherBot" in line
    assert "sources: robots-txt, meta-robots (off: robots-txt-proxy," in line
    assert "site files per origin: /robots.txt;" in line  # tdmrep.json and ai.txt are not fetched
    assert site.count("/ai.txt") == 1  # the first crawl's fetch only


def test_disabled_says_so_once_and_why(crawl: Crawl, make_site: MakeSite) -> None:
    site = make_site({"/robots.txt": text("User-agent: *\nDisallow: /\n"), "/x": page()})
    r = crawl([site.url("/x")], spider={"custom_settings": {"NOAI_GUARD_ENABLED": False}})
    assert r.returncode == 0, r.log[-3000:]
    lines = [x for x in r.log.splitlines() if "noai_guard" in x and "disabled" in x]
    assert len(lines) == 1, lines  # both components ask; told once
    assert "INFO" in lines[0]
    assert "NOAI_GUARD_ENABLED = False, from the spider's custom_settings" in lines[0]
    assert "no request is checked" in lines[0]
    assert "Disabled NoAIGuard" not in r.log  # no WARNING per component from Scrapy
    assert r.callbacks == [site.url("/x")]  # nothing checked: the crawl goes on without it


# -- item 16: Scrapy's robots.txt conventions do not switch the check off -----------------------


def test_robotstxt_obey_false_and_dont_obey_robotstxt_do_not_bypass(
    crawl: Crawl, make_site: MakeSite
) -> None:
    site = make_site({"/robots.txt": text(DISALLOW_TESTBOT), "/private/a": page(), "/private/b": page()})
    a, b = site.url("/private/a"), site.url("/private/b")
    r = crawl([a, b], settings={"ROBOTSTXT_OBEY": False}, spider={"meta": {b: {"dont_obey_robotstxt": True}}})
    assert r.returncode == 0, r.log[-3000:]
    assert r.callbacks == []
    assert not any(p.startswith("/private/") for p in site.paths())
    assert r.stat("noai_guard/skipped") == 2
    assert r.stat("noai_guard/reason_count/robots-txt") == 2
    assert r.stat("robotstxt/forbidden") == 0  # Scrapy's own counter: not ours
    lines = _info(r, "ROBOTSTXT_OBEY is False")
    assert len(lines) == 1, r.log[-3000:]
    for part in (
        "still applies robots.txt (robots-txt, robots-txt-proxy)",
        "for testbot",
        "dont_obey_robotstxt",
    ):
        assert part in lines[0], (part, lines[0])
    assert "noai_guard/skipped" in lines[0] and "not robotstxt/forbidden" in lines[0]
    assert "dont_obey_noai" in lines[0]

    # With ROBOTSTXT_OBEY = True there is nothing to say.
    r = crawl([a], settings={"ROBOTSTXT_OBEY": True})
    assert r.stat("noai_guard/skipped") == 1
    assert _info(r, "ROBOTSTXT_OBEY") == []


# -- item 17: an unreachable robots.txt: one WARNING per origin --------------------------------


def test_unreachable_robots_txt_warns_once_per_origin(crawl: Crawl, make_site: MakeSite) -> None:
    down = make_site({"/robots.txt": text("busy", status=503), **{f"/p{i}": page() for i in range(4)}})
    refused = closed_port()
    urls = [down.url(f"/p{i}") for i in range(4)] + [f"http://127.0.0.1:{refused}/p{i}" for i in range(2)]
    r = crawl(
        urls,
        settings={"NOAI_GUARD_RETRY_AFTER": 0, "CONCURRENT_REQUESTS": 1},
    )
    assert r.returncode == 0, r.log[-3000:]
    assert r.callbacks == []
    assert down.count("/robots.txt") >= 2  # fetched again (back-off 0), still one warning
    warnings = [x for x in r.log.splitlines() if "WARNING" in x and "is unreachable" in x]
    assert len(warnings) == 2, warnings
    (w503,) = [x for x in warnings if down.url("/robots.txt") in x]
    assert "(HTTP 503)" in w503
    assert f"every request to {down.origin} is blocked" in w503
    assert "RFC 9309 §2.3.1.4" in w503
    assert "after 0s (NOAI_GUARD_RETRY_AFTER)" in w503
    (wrefused,) = [x for x in warnings if f":{refused}/robots.txt" in x]
    assert "ConnectionRefusedError" in wrefused or "ConnectionRefused" in wrefused, wrefused
    # tdmrep.json / ai.txt unreachable do not block under the default policy: no warning for them.
    assert not any("tdmrep" in x or "ai.txt" in x for x in warnings)


def test_unreachable_robots_txt_allowed_by_policy_is_not_warned(crawl: Crawl, make_site: MakeSite) -> None:
    down = make_site({"/robots.txt": text("busy", status=500), "/p": page()})
    r = crawl([down.url("/p")], settings={"NOAI_GUARD_UNKNOWN": {"robots-txt": "allow"}})
    assert r.callbacks == [down.url("/p")]
    assert not [x for x in r.log.splitlines() if "WARNING" in x and "is unreachable" in x]


# -- item 18: a blocked `scrapy fetch` says why at INFO ------------------------------------------


def test_scrapy_fetch_of_a_reserved_url_says_why_at_info(make_site: MakeSite, tmp_path: Path) -> None:
    site = make_site({"/robots.txt": text(DISALLOW_TESTBOT), "/private/x": page(), "/open": page()})
    project = _scrapy_project(tmp_path / "project", site.url("/open"))
    out = _scrapy(project, "fetch", "-s", "LOG_LEVEL=INFO", site.url("/private/x"))
    assert site.count("/private/x") == 0
    told = [x for x in out.stderr.splitlines() if "INFO" in x and "skipped before the fetch" in x]
    assert len(told) == 1, out.stderr[-3000:]
    line = told[0]
    assert f"<GET {site.url('/private/x')}>" in line
    assert f"reserve by robots-txt at {site.url('/robots.txt')} line 2: 'Disallow: /private/'" in line
    assert "audit trail:" in line


def test_crawl_keeps_blocked_requests_at_debug(crawl: Crawl, make_site: MakeSite) -> None:
    site = make_site({"/robots.txt": text(DISALLOW_TESTBOT), "/private/x": page()})
    r = crawl([site.url("/private/x")])
    assert r.stat("noai_guard/skipped") == 1
    assert [x for x in r.log.splitlines() if "skipped" in x and "/private/x" in x and "INFO" in x] == []
    assert [x for x in r.log.splitlines() if "noai_guard skipped" in x and "DEBUG" in x]


# -- item 19: site files are one visit, not three delays --------------------------------------------


def test_first_page_waits_one_download_delay_not_one_per_site_file(crawl: Crawl, make_site: MakeSite) -> None:
    site = make_site(
        {"/robots.txt": text("User-agent: *\nAllow: /\n"), "/a": page(), "/b": page(), "/c": page()}
    )
    r = crawl(
        [site.url("/a"), site.url("/b"), site.url("/c")],
        settings={"DOWNLOAD_DELAY": 1.0, "DOWNLOAD_DELAY_JITTER": 0, "RANDOMIZE_DOWNLOAD_DELAY": False},
        spider={"priorities": {site.url("/a"): 3, site.url("/b"): 2, site.url("/c"): 1}},
    )
    assert r.returncode == 0, r.log[-3000:]
    assert len(r.callbacks) == 3
    files = [h.time for h in site.log if h.path in ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt")]
    pages = sorted(h.time for h in site.log if h.path in ("/a", "/b", "/c"))
    assert len(files) == 3 and len(pages) == 3
    # The three files went together (they took 2 s, one DOWNLOAD_DELAY apart, before)...
    assert max(files) - min(files) < 0.9, files  # 2.0 s on the old code
    first_wait = pages[0] - min(files)
    # ...and the first page waited one delay after them: 3 s before, about 1 s now.
    assert 0.9 <= first_wait < 2.5, first_wait  # 3.0 s on the old code (jitter off)
    # Pages are still one DOWNLOAD_DELAY apart (the site's slot is untouched).
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(pages)), pages
