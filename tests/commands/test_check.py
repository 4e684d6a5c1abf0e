"""``noai-guard check`` against local servers only: the built-in sample site and pytest-httpserver.

Each check runs the real command in a subprocess (a real Scrapy crawl with the
add-on in audit-only mode); the tests assert on its output, exit status and trail.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from noai_guard import decision as d
from noai_guard.auditlog import read_audit
from noai_guard.sampleserver import DEMO_TOKEN, SECOND, UNREACHABLE, SampleSite

OWN = ["--user-agent", DEMO_TOKEN]


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "noai_guard.cli", "check", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_json(*args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    proc = check("--json", *args)
    assert proc.stdout, proc.stderr
    return proc.returncode, {r["url"]: r for r in json.loads(proc.stdout)}


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite() as s:
        yield s


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_allowed_url_exits_0_with_evidence(site: SampleSite) -> None:
    proc = check(site.url("/about.html"), *OWN)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "  fetched: HTTP 200" in out
    assert "  verdict: allow" in out
    assert f"decided by robots-txt from {site.url('/robots.txt')} line" in out
    assert "signals observed:" in out and "content-signal" in out


def test_robots_reservation_exits_1_with_line(site: SampleSite) -> None:
    proc = check(site.url("/private/staff.html"), *OWN)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    res = site.resource("/robots.txt")
    assert res is not None
    line = res.body.decode().splitlines().index("Disallow: /private/") + 1
    assert "  verdict: reserve" in proc.stdout
    assert f"decided by robots-txt from {site.url('/robots.txt')} line {line}" in proc.stdout
    assert "evidence: Disallow: /private/" in proc.stdout
    assert f"agent:    {DEMO_TOKEN} (own token)" in proc.stdout


def test_every_kind_of_signal_in_one_run(site: SampleSite, tmp_path: Path) -> None:
    cases = {
        site.url("/about.html"): ("allow", d.ROBOTS_TXT),
        site.url("/gpt-only/dataset.html"): ("reserve", d.ROBOTS_TXT_PROXY),
        site.url("/essays/on-consent.html"): ("reserve", d.CONTENT_USAGE),
        site.url("/tdm/paper.html"): ("reserve", d.TDMREP),
        site.url("/images/photo.jpg"): ("reserve", d.AI_TXT),
        site.url("/headers/x-robots-noai.html"): ("reserve", d.X_ROBOTS_TAG),
        site.url("/headers/x-robots-scoped.html"): ("reserve", d.X_ROBOTS_TAG),
        site.url("/headers/noindex.html"): ("allow", d.ROBOTS_TXT),
        site.url("/headers/tdm-reservation.html"): ("reserve", d.TDMREP),
        site.url("/headers/content-usage.html"): ("reserve", d.CONTENT_USAGE),
        site.url("/headers/content-signal.html"): ("reserve", d.CONTENT_SIGNAL),
        site.url("/meta/robots-noai.html"): ("reserve", d.META_ROBOTS),  # served gzip
        site.url("/meta/named-token.html"): ("reserve", d.META_ROBOTS),
        site.url("/meta/tdm-reservation.html"): ("reserve", d.TDMREP),
        site.url("/images/protected.png"): ("reserve", d.X_ROBOTS_TAG),
        site.url("/news/today.html", SECOND): ("reserve", d.CONTENT_SIGNAL),
        # The header's tdm-reservation: 0 supersedes tdmrep.json once the page is fetched.
        site.url("/tdm/open-paper.html"): ("allow", d.ROBOTS_TXT),
    }
    audit = tmp_path / "trail.jsonl"
    rc, results = check_json(*cases, *OWN, "--audit", str(audit))
    assert rc == 1
    assert list(results) == list(cases)
    for url, (verdict, signal) in cases.items():
        r = results[url]
        assert (r["verdict"], r["decided_by"]["name"]) == (verdict, signal), (url, r["reason"])
        assert r["status"] == 200 and r["error"] is None
        assert r["purpose"] == "ai-train"
    tdm = results[site.url("/tdm/open-paper.html")]["signals"]
    layers = {(s["location"], s["verdict"], s["superseded"]) for s in tdm if s["name"] == d.TDMREP}
    assert layers == {("tdmrep.json", "reserve", True), ("header:tdm-reservation", "allow", False)}
    # Audit-only: each URL fetched once, each would-be skip recorded as flagged.
    records = list(read_audit(audit, strict=True))
    assert records[0]["type"] == "run" and records[0]["mode"] == "audit-only"
    flagged = {r["url"] for r in records if r["type"] == "decision" and r["action"] == "flagged"}
    assert {u for u, (v, _) in cases.items() if v == "reserve"} <= flagged
    assert records[-1]["type"] == "summary"


def test_unreachable_robots_exits_3(site: SampleSite) -> None:
    proc = check(site.url("/status.html", UNREACHABLE), *OWN)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "  verdict: unknown (blocked)" in proc.stdout
    assert "evidence: HTTP 503" in proc.stdout
    assert "2.3.1.4" in proc.stdout


def test_connection_refused_is_unknown_and_reported(site: SampleSite) -> None:
    url = f"http://127.0.0.1:{closed_port()}/page.html"
    proc = check(url, site.url("/about.html"), *OWN)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "fetched: not fetched: " in proc.stdout and "refused" in proc.stdout.lower()
    assert "Traceback" not in proc.stderr and "Gave up retrying" not in proc.stderr


def test_reserved_wins_over_unknown_in_the_exit_status(site: SampleSite) -> None:
    rc, results = check_json(
        site.url("/status.html", UNREACHABLE), site.url("/headers/content-usage.html"), site.url("/"), *OWN
    )
    assert rc == 1
    assert [r["verdict"] for r in results.values()] == ["unknown", "reserve", "allow"]


def test_proxy_tokens_can_be_switched_off(site: SampleSite) -> None:
    url = site.url("/gpt-only/dataset.html")
    assert check(url, *OWN).returncode == 1
    proc = check(url, *OWN, "--no-proxy-tokens")
    assert proc.returncode == 0, proc.stdout
    assert "robots-txt-proxy" not in proc.stdout


def test_default_token_is_noai_guard(site: SampleSite) -> None:
    # The site's /private/ rule names noai-guard-demo; the default token falls to the * group.
    rc, results = check_json(site.url("/private/staff.html"))
    assert rc == 0
    r = results[site.url("/private/staff.html")]
    assert r["decided_by"]["scope"].startswith("User-agent: *")


def no_site_files(httpserver: HTTPServer, *but: str) -> None:
    """404 for the site files not in ``but`` (pytest-httpserver answers 500 to unexpected requests)."""
    for path in ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt"):
        if path not in but:
            httpserver.expect_request(path).respond_with_data("not found", status=404)


def test_purpose_and_user_agent_header(httpserver: HTTPServer) -> None:
    no_site_files(httpserver, "/robots.txt")
    robots = "User-agent: mybot\nAllow: /\nContent-Signal: search=yes, ai-input=no, ai-train=yes\n"
    httpserver.expect_request("/robots.txt").respond_with_data(robots, content_type="text/plain")
    httpserver.expect_request("/page").respond_with_data("<html><head></head><body>hi</body></html>")
    url = httpserver.url_for("/page")
    rc, results = check_json(url, "--user-agent", "mybot", "--user-agent", "otherbot")
    assert rc == 0 and results[url]["verdict"] == "allow"
    rc, results = check_json(url, "--user-agent", "mybot", "--purpose", "ai-input")
    assert rc == 1
    r = results[url]
    assert r["purpose"] == "ai-input" and r["decided_by"]["name"] == d.CONTENT_SIGNAL
    agents = {req.headers.get("User-Agent", "") for req, _ in httpserver.log}
    assert agents and all(a.startswith("mybot/") for a in agents), agents


def test_each_url_is_fetched_once(httpserver: HTTPServer) -> None:
    no_site_files(httpserver)
    httpserver.expect_request("/a").respond_with_data("<html><head></head></html>", content_type="text/html")
    url = httpserver.url_for("/a")
    rc, results = check_json(url, url)
    assert rc == 0 and list(results) == [url]
    paths = [req.path for req, _ in httpserver.log]
    assert paths.count("/a") == 1
    assert paths.count("/robots.txt") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["ftp://example.com/x"],
        ["not a url"],
        [],
        ["http://127.0.0.1/", "--purpose", "nonsense"],
        ["http://127.0.0.1/", "--timeout", "0"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    proc = check(*args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("noai-guard")
    assert "Traceback" not in proc.stderr
