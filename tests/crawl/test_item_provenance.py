"""Item 20: NOAI_GUARD_ITEM_PROVENANCE stamps each item with its response's decision, through a real crawl.

The spider (a file run by ``scrapy runspider``, as a user runs one) yields a
dict, a Scrapy Item, a dataclass and an attrs item per page, plus items that
cannot take the field (an Item without it, a frozen dataclass); the feed
export must hold the stamp on the first four and the others unchanged, with
one warning per class and a stat, and the crawl must finish normally.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crawlutil import ROOT, USER_AGENT, Site, page, text
from scrapy.settings import Settings

from noai_guard.auditlog import read_audit
from noai_guard.crawl.provenance import DEFAULT_FIELD, provenance_field
from noai_guard.settings import SettingsError

_SPIDER = """
import dataclasses

import attrs
import scrapy


class WithField(scrapy.Item):
    url = scrapy.Field()
    {field} = scrapy.Field()


class WithoutField(scrapy.Item):
    url = scrapy.Field()


@dataclasses.dataclass
class DataItem:
    url: str
    {field}: dict | None = None


@dataclasses.dataclass(frozen=True)
class FrozenItem:
    url: str
    {field}: dict | None = None


@attrs.define
class AttrsItem:
    url: str
    {field}: dict | None = None


class ItemsSpider(scrapy.Spider):
    name = "items"

    async def start(self):
        for url in {urls!r}:
            yield scrapy.Request(url, dont_filter=True)
        yield scrapy.Request({bypass!r}, meta={{"dont_obey_noai": True}}, dont_filter=True)

    def parse(self, response):
        kind = response.url.rsplit("/", 1)[-1]
        yield {{"url": response.url, "kind": "dict"}}
        yield WithField(url=response.url)
        yield DataItem(url=response.url)
        yield AttrsItem(url=response.url)
        yield WithoutField(url=response.url)
        yield WithoutField(url=response.url)
        yield FrozenItem(url=response.url)
"""


def _runspider(
    workdir: Path, urls: list[str], bypass: str, settings: dict[str, Any], field: str
) -> dict[str, Any]:
    workdir.mkdir()
    (workdir / "spider.py").write_text(_SPIDER.format(urls=urls, bypass=bypass, field=field))
    base = {
        "ADDONS": {"noai_guard.NoAIGuardAddon": 0},
        "USER_AGENT": USER_AGENT,
        "NOAI_GUARD_AUDIT_URI": str(workdir / "trail.jsonl"),
        "TELNETCONSOLE_ENABLED": False,
        "RETRY_ENABLED": False,
        "LOG_FILE": str(workdir / "crawl.log"),
        "LOG_LEVEL": "INFO",
        **settings,
    }
    args: list[str] = []
    for k, v in base.items():
        args += ["-s", f"{k}={json.dumps(v) if isinstance(v, (dict, bool)) else v}"]
    script = Path(sys.executable).parent / "scrapy"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "scrapy"]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run(
        [*cmd, "runspider", "spider.py", "-O", "feed.jsonl", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    log = (workdir / "crawl.log").read_text("utf-8", errors="replace")
    assert proc.returncode == 0, log[-3000:] + proc.stderr[-2000:]
    feed = [json.loads(ln) for ln in (workdir / "feed.jsonl").read_text("utf-8").splitlines() if ln.strip()]
    stats = {k: int(v) for k, v in re.findall(r"'(noai_guard/provenance/[a-z_]+)': (\d+)", log)}
    return {"feed": feed, "log": log, "stats": stats, "trail": list(read_audit(workdir / "trail.jsonl"))}


@pytest.fixture
def shop(make_site: Callable[..., Site]) -> Site:
    return make_site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
            "/ok": page(),
            # A long directive list: the stamp's evidence is cut, the trail keeps it whole.
            "/noai": page('<meta name="robots" content="noai, noimageai' + ", nosnippet" * 30 + '">'),
            "/raw": page('<meta name="robots" content="noai">'),
        }
    )


def test_audit_only_crawl_stamps_every_item_kind(shop: Site, tmp_path: Path) -> None:
    res = _runspider(
        tmp_path / "audit",
        [shop.url("/ok"), shop.url("/noai")],
        shop.url("/raw"),
        {"NOAI_GUARD_ENFORCE": False, "NOAI_GUARD_ITEM_PROVENANCE": "provenance"},
        "provenance",
    )
    run = res["trail"][0]
    assert run["type"] == "run"
    assert run["command"] == "runspider"
    feed = res["feed"]
    assert len(feed) == 3 * 7  # three pages, seven items each: none lost, nothing crashed
    stamped = [i for i in feed if i.get("provenance")]
    assert len(stamped) == 3 * 4  # dict, Item with the field, dataclass, attrs
    by_page: dict[str, list[dict[str, Any]]] = {}
    for i in stamped:
        by_page.setdefault(i["url"].rsplit("/", 1)[-1], []).append(i["provenance"])
    for stamps in by_page.values():
        assert len(stamps) == 4
        assert all(s == stamps[0] for s in stamps)  # every item kind gets the same stamp
        assert set(stamps[0]) == {"verdict", "blocked", "signal", "evidence", "policy_hash", "run_id"}
        assert stamps[0]["run_id"] == run["run_id"]
        assert len(json.dumps(stamps[0])) < 500  # compact: not the whole decision
    ok, noai, raw = by_page["ok"][0], by_page["noai"][0], by_page["raw"][0]
    assert ok["verdict"] == "allow"
    assert ok["blocked"] is False
    assert ok["policy_hash"] == run["policy_hash"]
    # Audit-only: the reserved page's items come through, stamped with the reservation.
    assert noai["verdict"] == "reserve"
    assert noai["blocked"] is True
    assert noai["signal"] == "meta-robots"
    assert noai["evidence"].startswith('<meta name="robots" content="noai, noimageai, nosnippet')
    assert noai["evidence"].endswith("…")
    assert len(noai["evidence"]) == 160
    flagged = [r for r in res["trail"] if r.get("action") == "flagged"]
    assert [r["url"] for r in flagged] == [shop.url("/noai")]
    assert flagged[0]["evidence"].startswith(noai["evidence"][:-1])
    assert len(flagged[0]["evidence"]) > 300
    assert flagged[0]["policy_hash"] == noai["policy_hash"]
    # The bypassed request was not judged: said so, not passed off as allowed.
    assert raw["verdict"] == "not-checked"
    assert raw["evidence"] == "dont_obey_noai"
    # Items that cannot take the field: unchanged, counted, one warning per class.
    unstamped = [i for i in feed if not i.get("provenance")]
    assert len(unstamped) == 3 * 3
    assert res["stats"]["noai_guard/provenance/unstampable"] == 9
    assert res["stats"]["noai_guard/provenance/stamped"] == 12
    warnings = re.findall(
        r"WARNING: noai_guard: NOAI_GUARD_ITEM_PROVENANCE: cannot stamp (\S+) items", res["log"]
    )
    assert sorted(warnings) == ["spider.FrozenItem", "spider.WithoutField"]
    assert "Traceback" not in res["log"]


def test_enforcing_crawl_stamps_with_the_default_field(shop: Site, tmp_path: Path) -> None:
    res = _runspider(
        tmp_path / "enforce",
        [shop.url("/ok"), shop.url("/noai")],
        shop.url("/ok"),
        {"NOAI_GUARD_ITEM_PROVENANCE": True},
        DEFAULT_FIELD,
    )
    dicts = [i for i in res["feed"] if i.get("kind") == "dict"]
    # /noai was dropped: only /ok's items (twice: once bypassed) reach the feed.
    assert sorted(i["url"] for i in dicts) == [shop.url("/ok")] * 2
    assert sorted(i[DEFAULT_FIELD]["verdict"] for i in dicts) == ["allow", "not-checked"]


def test_off_by_default(shop: Site, tmp_path: Path) -> None:
    res = _runspider(tmp_path / "off", [shop.url("/ok")], shop.url("/ok"), {}, DEFAULT_FIELD)
    assert res["feed"]
    assert not any(DEFAULT_FIELD in i for i in res["feed"] if i.get("kind") == "dict")
    assert not res["stats"]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (None, None),
        (False, None),
        ("", None),
        ("false", None),
        ("0", None),
        (True, DEFAULT_FIELD),
        ("True", DEFAULT_FIELD),
        ("1", DEFAULT_FIELD),
        ("provenance", "provenance"),
        (" ai_provenance ", "ai_provenance"),
    ],
)
def test_provenance_field(value: object, field: str | None) -> None:
    s = Settings()
    if value is not None:
        s.set("NOAI_GUARD_ITEM_PROVENANCE", value)
    assert provenance_field(s) == field


@pytest.mark.parametrize("value", [3, ["a"], {"a": 1}, 1.5])
def test_provenance_field_bad_value_names_the_setting(value: object) -> None:
    s = Settings({"NOAI_GUARD_ITEM_PROVENANCE": value})
    with pytest.raises(
        SettingsError, match=r"^NOAI_GUARD_ITEM_PROVENANCE: .* allowed: True, False, a field name"
    ):
        provenance_field(s)
