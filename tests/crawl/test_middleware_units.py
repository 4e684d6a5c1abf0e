"""Units around the middleware: the add-on, settings, settings_example.py, body decoding."""

from __future__ import annotations

import ast
import gzip
import zlib
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import pytest
from scrapy.settings import Settings

from noai_guard import decision as d
from noai_guard.addon import NoAIGuardAddon
from noai_guard.decision import Verdict
from noai_guard.middleware import (
    REQUEST_PRIORITY,
    RESPONSE_PRIORITY,
    NoAIGuardMiddleware,
    NoAIGuardResponseMiddleware,
    decode_body,
)
from noai_guard.settings import DEFAULTS, SettingsError, own_tokens, policy_from_settings
from noai_guard.tokens import default_proxy_tokens

ROOT = Path(__file__).resolve().parents[2]


def test_addon_installs_both_components_and_enables() -> None:
    s = Settings()
    NoAIGuardAddon().update_settings(s)
    assert s.getbool("NOAI_GUARD_ENABLED")
    mws = s.getdict("DOWNLOADER_MIDDLEWARES")
    assert mws[NoAIGuardMiddleware] == REQUEST_PRIORITY
    assert mws[NoAIGuardResponseMiddleware] == RESPONSE_PRIORITY
    base = s.getdict("DOWNLOADER_MIDDLEWARES_BASE")
    # Before the fetch: after offsite, before Scrapy's robots.txt; after: before the HTTP cache stores.
    assert base["scrapy.downloadermiddlewares.offsite.OffsiteMiddleware"] < REQUEST_PRIORITY
    assert base["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] > REQUEST_PRIORITY
    assert base["scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware"] < RESPONSE_PRIORITY


def test_addon_keeps_explicit_choices() -> None:
    s = Settings({"NOAI_GUARD_ENABLED": False, "DOWNLOADER_MIDDLEWARES": {NoAIGuardResponseMiddleware: 990}})
    NoAIGuardAddon().update_settings(s)
    assert not s.getbool("NOAI_GUARD_ENABLED")  # project priority beats addon priority
    assert s.getdict("DOWNLOADER_MIDDLEWARES")[NoAIGuardResponseMiddleware] == 990


def test_policy_defaults() -> None:
    p = policy_from_settings(Settings({"USER_AGENT": "MyBot/1.0 (+https://x.invalid)"}))
    assert p.user_agents == ("MyBot",)
    assert p.purpose == d.AI_TRAIN
    assert p.proxy_tokens == default_proxy_tokens()
    assert p.sources == frozenset(d.SIGNALS)
    assert p.unknown_as == {d.ROBOTS_TXT: Verdict.RESERVE}
    assert p.unknown_default is Verdict.ALLOW
    assert p.html_budget == 262144


def test_policy_from_settings_values() -> None:
    s = Settings(
        {
            "ROBOTSTXT_USER_AGENT": "RoboToken",
            "USER_AGENT": "Other/1",
            "NOAI_GUARD_PROXY_TOKENS": [],
            "NOAI_GUARD_SOURCES": "robots-txt,tdmrep",
            "NOAI_GUARD_UNKNOWN": {"tdmrep": "reserve"},
            "NOAI_GUARD_UNKNOWN_DEFAULT": "reserve",
            "NOAI_GUARD_PURPOSE": "search",
            "NOAI_GUARD_LENIENT_NOIMAGEAI": "True",
            "NOAI_GUARD_HEAD_BUDGET": "4096",
        }
    )
    p = policy_from_settings(s)
    assert own_tokens(s) == ("RoboToken",)
    assert p.proxy_tokens == ()
    assert p.sources == {"robots-txt", "tdmrep"}
    assert p.unknown_as == {d.ROBOTS_TXT: Verdict.RESERVE, d.TDMREP: Verdict.RESERVE}  # merged
    assert p.unknown_default is Verdict.RESERVE
    assert p.purpose == "search"
    assert p.lenient_noimageai
    assert p.html_budget == 4096


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NOAI_GUARD_PURPOSE", "bogus"),
        ("NOAI_GUARD_SOURCES", ["robots-txt", "nope"]),
        ("NOAI_GUARD_UNKNOWN", {"robots-txt": "maybe"}),
        ("NOAI_GUARD_UNKNOWN", {"no-such-signal": "allow"}),
        ("NOAI_GUARD_UNKNOWN_DEFAULT", "unknown"),
        ("NOAI_GUARD_HEAD_BUDGET", "lots"),
        ("NOAI_GUARD_PROXY_TOKENS", 3),
    ],
)
def test_bad_values_name_the_setting(name: str, value: object) -> None:
    with pytest.raises(SettingsError, match=name.split("_")[-1] if name.endswith("TOKENS") else "NOAI_GUARD"):
        policy_from_settings(Settings({name: value}))


def test_settings_example_lists_every_setting_with_its_default() -> None:
    tree = ast.parse((ROOT / "settings_example.py").read_text(encoding="utf-8"))
    example = {
        t.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert example["ADDONS"] == {"noai_guard.NoAIGuardAddon": 0}
    for name, default in DEFAULTS.items():
        assert name in example, name
        if name != "NOAI_GUARD_ENABLED":  # the example shows the value the add-on sets
            assert example[name] == default, name
    assert {k for k in example if k.startswith("NOAI_GUARD_")} == set(DEFAULTS)
    # settings.py: the enabling flag first, then alphabetical (Scrapy's convention).
    names = list(DEFAULTS)
    assert names[0] == "NOAI_GUARD_ENABLED"
    assert names[1:] == sorted(names[1:])


HTML = b"<html><head><meta name=robots content=noai></head><body>" + b"x" * 100_000 + b"</body></html>"


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        (None, HTML),
        ("identity", HTML),
        ("gzip", gzip.compress(HTML)),
        ("x-gzip", gzip.compress(HTML)),
        ("deflate", zlib.compress(HTML)),
        ("deflate", zlib.compress(HTML)[2:-4]),  # raw deflate
        ("br", brotli.compress(HTML)),
        ("gzip, br", brotli.compress(gzip.compress(HTML))),
    ],
)
def test_decode_body_is_bounded(encoding: str | None, body: bytes) -> None:
    assert decode_body(body, encoding, 1 << 20) == HTML
    assert decode_body(body, encoding, 100) == HTML[:100]


def test_decode_prefix_says_whether_it_is_the_whole_page() -> None:
    from noai_guard.middleware import decode_prefix

    gz = gzip.compress(HTML)
    assert decode_prefix(gz, "gzip", 1 << 20) == (HTML, True)
    assert decode_prefix(HTML, None, 1 << 20) == (HTML, True)
    # Cut at the limit: the page goes on.
    assert decode_prefix(gz, "gzip", 100) == (HTML[:100], False)
    assert decode_prefix(HTML, None, 100) == (HTML[:100], False)
    assert decode_prefix(HTML, None, len(HTML)) == (HTML, True)
    # A truncated stream decodes to what it holds, not taken for the whole page.
    for coding, data in (("gzip", gz), ("deflate", zlib.compress(HTML)), ("br", brotli.compress(HTML))):
        out, whole = decode_prefix(data[: len(data) // 2], coding, 1 << 20)
        assert not whole and HTML.startswith(out), coding
    # Several gzip members (RFC 1952 §2.2) are one stream; trailing padding is not a member.
    two = gzip.compress(HTML[:50]) + gzip.compress(HTML[50:]) + b"\x00" * 8
    assert decode_prefix(two, "gzip", 1 << 20) == (HTML, True)
    assert decode_prefix(two, "gzip", 60) == (HTML[:60], False)


def test_decode_body_refuses_unknown_or_corrupt() -> None:
    with pytest.raises(ValueError, match="compress"):
        decode_body(b"abc", "compress", 100)
    with pytest.raises(ValueError, match="gzip"):
        decode_body(b"not gzip", "gzip", 100)


def test_components_need_the_enabling_flag_and_a_trail() -> None:
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    with pytest.raises(NotConfigured):
        NoAIGuardMiddleware.from_crawler(get_crawler(settings_dict={}))
    with pytest.raises(NotConfigured):
        NoAIGuardResponseMiddleware.from_crawler(get_crawler(settings_dict={"NOAI_GUARD_ENABLED": False}))
    with pytest.raises(SettingsError, match="NOAI_GUARD_ENABLED"):
        NoAIGuardMiddleware.from_crawler(get_crawler(settings_dict={"NOAI_GUARD_ENABLED": "maybe"}))
    # The trail cannot be switched off with an empty URI: refused loudly at start-up.
    crawler = get_crawler(settings_dict={"NOAI_GUARD_ENABLED": True, "NOAI_GUARD_AUDIT_URI": " "})
    with pytest.raises(SettingsError, match="NOAI_GUARD_AUDIT_URI"):
        NoAIGuardMiddleware.from_crawler(crawler)
    for name, value in (
        ("NOAI_GUARD_CACHE_TTL", -1),
        ("NOAI_GUARD_CACHE_SIZE", 0),
        ("NOAI_GUARD_RETRY_AFTER", "x"),
        ("NOAI_GUARD_ENFORCE", "maybe"),
        ("NOAI_GUARD_AUDIT_ALLOWED", "maybe"),
        ("NOAI_GUARD_AUDIT_FSYNC", "maybe"),
    ):
        crawler = get_crawler(settings_dict={"NOAI_GUARD_ENABLED": True, name: value})
        with pytest.raises(SettingsError, match=name):
            NoAIGuardMiddleware.from_crawler(crawler)


def test_both_components_share_one_guard() -> None:
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(settings_dict={"NOAI_GUARD_ENABLED": True, "USER_AGENT": "ZBot/2"})
    a = NoAIGuardMiddleware.from_crawler(crawler)
    b = NoAIGuardResponseMiddleware.from_crawler(crawler)
    assert a.guard is b.guard
    assert a.guard.policy.user_agents == ("ZBot",)
    assert a.guard.kinds == ("robots", "tdmrep", "ai-txt")
    assert not a.guard.reuse_robots


def test_site_files_follow_the_sources() -> None:
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(
        settings_dict={
            "NOAI_GUARD_ENABLED": True,
            "NOAI_GUARD_SOURCES": ["tdmrep", "x-robots-tag"],
            "ROBOTSTXT_OBEY": True,
        }
    )
    guard = NoAIGuardMiddleware.from_crawler(crawler).guard
    assert guard.kinds == ("tdmrep",)  # no robots.txt or ai.txt fetch
    assert not guard.reuse_robots  # Scrapy fetches its own robots.txt then
