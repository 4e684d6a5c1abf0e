"""Item 12: runs from ``scrapy fetch`` / ``parse`` / ``shell`` / ``crawl`` name their command and write a summary.

Each test runs the real ``scrapy`` command (the venv's console script) in a
subprocess, in a throw-away Scrapy project that enables the add-on, against a
local server; then reads the trail and builds the report from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crawlutil import ROOT, USER_AGENT, Site, page, text

from noai_guard.auditlog import read_audit
from noai_guard.crawl.command import command_from_argv
from noai_guard.report import build_report

_SPIDER = '''
import scrapy


class ShopSpider(scrapy.Spider):
    name = "shop"

    def __init__(self, url=None, **kw):
        super().__init__(**kw)
        self.start_urls = [url] if url else []

    def parse(self, response):
        """A contract for ``scrapy check``.

        @url {url}
        @returns items 1 1
        """
        yield {{"url": response.url}}
'''


def _project(tmp_path: Path, contract_url: str) -> Path:
    proj = tmp_path / "proj"
    (proj / "shop" / "spiders").mkdir(parents=True)
    (proj / "scrapy.cfg").write_text("[settings]\ndefault = shop.settings\n")
    (proj / "shop" / "__init__.py").write_text("")
    (proj / "shop" / "spiders" / "__init__.py").write_text("")
    (proj / "shop" / "spiders" / "shop.py").write_text(_SPIDER.format(url=contract_url))
    settings = {
        "BOT_NAME": "shop",
        "SPIDER_MODULES": ["shop.spiders"],
        "ADDONS": {"noai_guard.NoAIGuardAddon": 0},
        "USER_AGENT": USER_AGENT,
        "NOAI_GUARD_AUDIT_URI": str(proj / "trail.jsonl"),
        "TELNETCONSOLE_ENABLED": False,
        "RETRY_ENABLED": False,
        "DOWNLOAD_TIMEOUT": 10,
    }
    (proj / "shop" / "settings.py").write_text("".join(f"{k} = {v!r}\n" for k, v in settings.items()))
    return proj


def _scrapy(proj: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "scrapy"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "scrapy"]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    return subprocess.run(
        [*cmd, *args], cwd=proj, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _runs(trail: Path) -> dict[str, list[dict[str, Any]]]:
    """The trail's records by run id, in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in read_audit(trail):
        out.setdefault(r["run_id"], []).append(r)
    return out


@pytest.fixture
def shop(make_site: Callable[..., Site], tmp_path: Path) -> tuple[Site, Path]:
    site = make_site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
            "/": page(),
            "/noai": page('<meta name="robots" content="noai">'),
        }
    )
    return site, _project(tmp_path, site.url("/"))


def test_fetch_parse_shell_and_crawl_name_their_command_and_write_a_summary(
    shop: tuple[Site, Path], tmp_path: Path
) -> None:
    site, proj = shop
    ran = [
        _scrapy(proj, "fetch", "--nolog", site.url("/noai")),
        _scrapy(proj, "parse", "--nolog", "--spider", "shop", site.url("/")),
        # The shell never closes its spider: before the fix its run had no summary.
        _scrapy(proj, "shell", "--nolog", "-c", "response", site.url("/noai")),
        _scrapy(proj, "crawl", "shop", "-s", "LOG_LEVEL=INFO", "-a", f"url={site.url('/')}"),
    ]
    for r in ran:
        assert r.returncode == 0, r.stderr[-2000:]
    runs = list(_runs(proj / "trail.jsonl").values())
    assert [recs[0]["command"] for recs in runs] == ["fetch", "parse", "shell", "crawl"]
    for recs in runs:
        kinds = [r["type"] for r in recs]
        assert kinds[0] == "run"
        assert kinds[-1] == "summary", kinds  # every run is closed by a summary
        assert recs[-1]["command"] == recs[0]["command"]
    fetch, _parse, shell, crawled = runs
    assert crawled[-1]["totals"]["allowed"] == 1  # the crawl fetched its page
    assert fetch[-1]["reason"] == "finished"
    assert shell[-1]["reason"] == "process_exit"
    # The shell's drop is in the trail and counted in its summary.
    assert [r["url"] for r in shell if r["type"] == "decision"] == [site.url("/noai")]
    assert shell[-1]["totals"]["dropped"] == 1
    assert [r["action"] for r in fetch if r["type"] == "decision"] == ["dropped"]

    out = tmp_path / "report"
    build_report([str(proj / "trail.jsonl")], out, formats=["json", "md", "html"])
    doc = json.loads((out / "report.json").read_text("utf-8"))
    by_command = {r["command"]: r for r in doc["runs"]}
    assert {c: r["label"].split(",")[0] for c, r in by_command.items()} == {
        "fetch": "scrapy fetch",
        "parse": "scrapy parse",
        "shell": "scrapy shell",
        "crawl": "crawl",
    }
    assert all(r["has_summary"] for r in doc["runs"])
    assert by_command["shell"]["finish_reason"] == "process_exit"
    md = (out / "report.md").read_text("utf-8")
    assert "scrapy shell, enforcing" in md
    assert all(r["mode"] == "crawl" for r in doc["runs"])  # the mode as recorded; the label names the command
    assert "scrapy fetch, enforcing" in (out / "report.html").read_text("utf-8")


def test_check_names_its_command(shop: tuple[Site, Path]) -> None:
    _site, proj = shop
    r = _scrapy(proj, "check", "shop")
    assert r.returncode == 0, r.stderr[-2000:]
    runs = list(_runs(proj / "trail.jsonl").values())
    assert len(runs) == 1
    assert runs[0][0]["command"] == "check"
    assert runs[0][-1]["type"] == "summary"


def test_a_crawl_started_from_python_names_no_command(
    crawl: Callable[..., Any], make_site: Callable[..., Site]
) -> None:
    site = make_site({"/robots.txt": text("User-agent: *\nAllow: /\n"), "/": page()})
    res = crawl([site.url("/")])
    run = res.trail[0]
    assert run["type"] == "run"
    assert "command" in run
    assert run["command"] is None
    assert res.trail[-1]["command"] is None


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["/venv/bin/python", "/venv/bin/scrapy", "fetch", "http://x/"], "fetch"),
        (["python3", "-m", "scrapy", "--", "shell"], "shell"),
        (["python3", "-m", "scrapy.cmdline", "parse", "--spider", "s", "u"], "parse"),
        (["python", "/site-packages/scrapy/__main__.py", "check"], "check"),
        (["C:\\venv\\Scripts\\scrapy.exe", "crawl", "shop"], "crawl"),
        (["/venv/bin/python", "/venv/bin/scrapy"], None),  # no command: scrapy prints its help
        (["python", "run.py", "crawl"], None),  # not scrapy's command line
        (["python", "-c", "import scrapy"], None),
    ],
)
def test_command_from_argv(argv: list[str], command: str | None) -> None:
    assert command_from_argv(argv) == command
