"""robots.txt / ai.txt parser: conformance vectors, RFC 9309 rules, Protego differences.

Pure tests (no network).  Crawler product token ``examplebot``; purpose
ai-train unless a test says otherwise.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protego import Protego

from noai_guard import decision as d
from noai_guard.decision import Signal, Verdict
from noai_guard.policy import Policy, decide
from noai_guard.robots import RobotsTxt, _RuleList, ai_txt_signals, normalise, url_path
from noai_guard.urlpath import remove_dot_segments

ORIGIN = "https://example.com"
ROBOTS_URL = ORIGIN + "/robots.txt"
AI_URL = ORIGIN + "/ai.txt"
P = Policy(user_agents=("examplebot",))
DATA = Path(__file__).resolve().parents[1] / "data" / "robots"


def parse(text: str | bytes, url: str = ROBOTS_URL) -> RobotsTxt:
    return RobotsTxt.parse(text.encode() if isinstance(text, str) else text, url)


def sigs(text: str | bytes, path: str, purpose: str = d.AI_TRAIN, policy: Policy = P) -> list[Signal]:
    return parse(text).signals(ORIGIN + path, policy.with_purpose(purpose))


def one(signals: list[Signal], name: str) -> Signal:
    found = [s for s in signals if s.name == name]
    assert len(found) == 1, [s.to_dict() for s in signals]
    return found[0]


def none_of(signals: list[Signal], name: str) -> None:
    assert not [s for s in signals if s.name == name], [s.to_dict() for s in signals if s.name == name]


# ---------------------------------------------------------------------------
# conformance vectors (robots side), as a table:
# (vector, robots.txt, path, signal, verdict, evidence, line, overall decision verdict)

VECTORS: list[tuple[str, str, str, str, Verdict | None, str, int | None, Verdict]] = [
    (
        "18",
        "User-agent: *\nDisallow: /\n\nUser-agent: examplebot\nAllow: /private\n",
        "/public",
        d.ROBOTS_TXT,
        Verdict.ALLOW,
        "",
        None,
        Verdict.ALLOW,
    ),
    (
        "18-private",
        "User-agent: *\nDisallow: /\n\nUser-agent: examplebot\nAllow: /private\n",
        "/private/x",
        d.ROBOTS_TXT,
        Verdict.ALLOW,
        "Allow: /private",
        5,
        Verdict.ALLOW,
    ),
    (
        "19",
        (
            "User-agent: examplebot\nDisallow: /a\n\nUser-agent: otherbot\nDisallow: /\n\n"
            "User-agent: examplebot\nDisallow: /b\n"
        ),
        "/b/x",
        d.ROBOTS_TXT,
        Verdict.RESERVE,
        "Disallow: /b",
        8,
        Verdict.RESERVE,
    ),
    (
        "20",
        "User-agent: examplebot\nDisallow: /page\nAllow: /page\n",
        "/page",
        d.ROBOTS_TXT,
        Verdict.ALLOW,
        "Allow: /page",
        3,
        Verdict.ALLOW,
    ),
    (
        "21",
        "User-agent: GPTBot\nDisallow: /\n",
        "/x",
        d.ROBOTS_TXT_PROXY,
        Verdict.RESERVE,
        "Disallow: /",
        2,
        Verdict.RESERVE,
    ),
    (
        "23",
        "User-Agent: *\nContent-signal: search=yes, ai-train=no\nAllow: /\n",
        "/x",
        d.CONTENT_SIGNAL,
        Verdict.RESERVE,
        "Content-signal: search=yes, ai-train=no",
        2,
        Verdict.RESERVE,
    ),
    (
        "24",
        "User-Agent: *\nContent-Signal: search=yes, ai-input=yes\nAllow: /\n",
        "/x",
        d.CONTENT_SIGNAL,
        Verdict.UNKNOWN,
        "Content-Signal: search=yes, ai-input=yes",
        2,
        Verdict.UNKNOWN,
    ),
    (
        "25",
        "User-Agent: *\nContent-Signal: ai-train=no\n\nUser-agent: examplebot\nAllow: /\n",
        "/x",
        d.CONTENT_SIGNAL,
        Verdict.UNKNOWN,
        "Content-Signal: ai-train=no",
        2,
        Verdict.UNKNOWN,
    ),
    (
        "26",
        "User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\n",
        "/x",
        d.CONTENT_USAGE,
        Verdict.RESERVE,
        "Content-Usage: train-ai=n",
        3,
        Verdict.RESERVE,
    ),
    (
        "27-ok",
        "User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\nContent-Usage: /ai-ok/ train-ai=y\n",
        "/ai-ok/x",
        d.CONTENT_USAGE,
        Verdict.ALLOW,
        "Content-Usage: /ai-ok/ train-ai=y",
        4,
        Verdict.ALLOW,
    ),
    (
        "27-other",
        "User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\nContent-Usage: /ai-ok/ train-ai=y\n",
        "/x",
        d.CONTENT_USAGE,
        Verdict.RESERVE,
        "Content-Usage: train-ai=n",
        3,
        Verdict.RESERVE,
    ),
    (
        "28",
        "User-Agent: *\nAllow: /\nContent-Usage: /a/ train-ai=y\nContent-Usage: /a/ train-ai=n\n",
        "/a/x",
        d.CONTENT_USAGE,
        Verdict.RESERVE,
        "Content-Usage: /a/ train-ai=n",
        4,
        Verdict.RESERVE,
    ),
    (
        "31",
        "User-Agent: *\nAllow: /\nContent-Usage: ai=n\n",
        "/x",
        d.CONTENT_USAGE,
        Verdict.UNKNOWN,
        "Content-Usage: ai=n",
        3,
        Verdict.UNKNOWN,
    ),
    (
        "33",
        "User-Agent: *\nDisallow: /private/\nContent-Usage: train-ai=n\n",
        "/private/x",
        d.CONTENT_USAGE,
        None,
        "Content-Usage: train-ai=n",
        3,
        Verdict.RESERVE,
    ),
    (
        "41",
        "License: https://e.com/l.xml\nUser-agent: *\nAllow: /\n",
        "/",
        d.RSL_LICENSE,
        None,
        "License: https://e.com/l.xml",
        1,
        Verdict.ALLOW,
    ),
    (
        "43",
        "User-agent: *\nDisallowAITraining: /\n",
        "/x",
        d.LEGACY_AI_TRAINING,
        Verdict.RESERVE,
        "DisallowAITraining: /",
        2,
        Verdict.ALLOW,  # legacy: not honoured by the default policy (strict mode: see below)
    ),
]


@pytest.mark.parametrize(
    ("vector", "text", "path", "name", "verdict", "evidence", "line", "overall"),
    VECTORS,
    ids=[v[0] for v in VECTORS],
)
def test_vectors(
    vector: str,
    text: str,
    path: str,
    name: str,
    verdict: Verdict | None,
    evidence: str,
    line: int | None,
    overall: Verdict,
) -> None:
    signals = sigs(text, path)
    s = one(signals, name)
    assert (s.verdict, s.evidence, s.line) == (verdict, evidence, line)
    assert s.source == ROBOTS_URL
    assert s.location == d.LOC_ROBOTS
    assert s.note
    assert decide(ORIGIN + path, signals, P).verdict is overall


def test_vector_11_unavailable() -> None:
    r = RobotsTxt.unavailable(ROBOTS_URL, "HTTP 404", 404)
    (s,) = r.signals(ORIGIN + "/x", P)
    assert (s.name, s.verdict, s.evidence) == (d.ROBOTS_TXT, Verdict.ALLOW, "HTTP 404")
    assert "§2.3.1.3" in s.note
    assert decide(ORIGIN + "/x", [s], P).verdict is Verdict.ALLOW


@pytest.mark.parametrize("detail", ["HTTP 503", "timeout", "HTTP 429"])
def test_unreachable_is_unknown_and_blocks_by_default(detail: str) -> None:
    r = RobotsTxt.unreachable(ROBOTS_URL, detail, 503)
    (s,) = r.signals(ORIGIN + "/x", P)
    assert (s.name, s.verdict, s.evidence) == (d.ROBOTS_TXT, Verdict.UNKNOWN, detail)
    assert "§2.3.1.4" in s.note
    dec = decide(ORIGIN + "/x", [s], P)
    assert dec.verdict is Verdict.UNKNOWN
    assert dec.blocked


def test_vector_18_scope_and_own_token() -> None:
    s = one(sigs(VECTORS[0][1], "/public"), d.ROBOTS_TXT)
    assert s.scope == "User-agent: examplebot (line 4)"
    assert (s.user_agent, s.own_token) == ("examplebot", True)
    assert "no matching rule" in s.note


def test_vector_19_merged_scope() -> None:
    s = one(sigs(VECTORS[2][1], "/a/x"), d.ROBOTS_TXT)
    assert (s.verdict, s.evidence, s.line) == (Verdict.RESERVE, "Disallow: /a", 2)
    assert s.scope == "User-agent: examplebot (lines 1, 7)"


def test_vector_21_proxy_fields() -> None:
    signals = sigs("User-agent: GPTBot\nDisallow: /\n", "/x")
    own = one(signals, d.ROBOTS_TXT)
    assert own.verdict is Verdict.ALLOW
    assert "no group for token" in own.note
    proxy = one(signals, d.ROBOTS_TXT_PROXY)
    assert (proxy.user_agent, proxy.own_token, proxy.scope) == (
        "GPTBot",
        False,
        "User-agent: GPTBot (line 1)",
    )
    assert "did not bind the crawler's own token" in proxy.note
    # Proxy tokens speak to ai-train only.
    for purpose in (d.SEARCH, d.AI_INPUT):
        none_of(sigs("User-agent: GPTBot\nDisallow: /\n", "/x", purpose), d.ROBOTS_TXT_PROXY)


def test_vector_22_files_are_per_origin() -> None:
    http = RobotsTxt.parse(b"User-agent: *\nDisallow: /\n", "http://example.com/robots.txt")
    https = RobotsTxt.parse(b"User-agent: *\nAllow: /\n", "https://example.com/robots.txt")
    assert one(http.signals("http://example.com/x", P), d.ROBOTS_TXT).verdict is Verdict.RESERVE
    assert one(https.signals("https://example.com/x", P), d.ROBOTS_TXT).verdict is Verdict.ALLOW


def test_vector_23_other_purposes() -> None:
    text = VECTORS[5][1]
    assert one(sigs(text, "/x", d.SEARCH), d.CONTENT_SIGNAL).verdict is Verdict.ALLOW
    assert one(sigs(text, "/x", d.AI_INPUT), d.CONTENT_SIGNAL).verdict is Verdict.UNKNOWN


def test_vector_24_ai_input_yes() -> None:
    assert one(sigs(VECTORS[6][1], "/x", d.AI_INPUT), d.CONTENT_SIGNAL).verdict is Verdict.ALLOW


def test_vector_25_flag() -> None:
    s = one(sigs(VECTORS[7][1], "/x"), d.CONTENT_SIGNAL)
    assert s.own_token is False
    assert s.note.startswith("flag:")
    dec = decide(ORIGIN + "/x", sigs(VECTORS[7][1], "/x"), P)
    assert not dec.blocked  # unknown resolves to allow by default


def test_vector_28_note_says_combined() -> None:
    s = one(sigs(VECTORS[11][1], "/a/x"), d.CONTENT_USAGE)
    assert "combined" in s.note


def test_vector_31_reports_legacy_label() -> None:
    s = one(sigs(VECTORS[12][1], "/x"), d.CONTENT_USAGE)
    assert "legacy label" in s.note


def test_vector_32_robots_n_beats_header_y() -> None:
    from noai_guard.aipref import header_signals

    url = ORIGIN + "/x"
    signals = sigs("User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\n", "/x")
    signals += header_signals([("Content-Usage", "train-ai=y")], url, P)
    dec = decide(url, signals, P)
    assert dec.verdict is Verdict.RESERVE
    assert dec.decided_by is not None
    assert dec.decided_by.location == d.LOC_ROBOTS


def test_vector_33_robots_reserves() -> None:
    signals = sigs(VECTORS[13][1], "/private/x")
    assert one(signals, d.ROBOTS_TXT).verdict is Verdict.RESERVE
    assert "crawlable" in one(signals, d.CONTENT_USAGE).note


def test_vector_41_licence_recorded() -> None:
    r = parse("License: https://e.com/l.xml\nUser-agent: *\nAllow: /\n")
    assert r.licenses == [(1, "License: https://e.com/l.xml", "https://e.com/l.xml")]
    s = one(r.signals(ORIGIN + "/", P), d.RSL_LICENSE)
    assert s.scope == "https://e.com/l.xml"


def test_vector_43_legacy_strict_mode() -> None:
    signals = sigs("User-agent: *\nDisallowAITraining: /\n", "/x")
    s = one(signals, d.LEGACY_AI_TRAINING)
    assert s.legacy
    assert "expired" in s.note
    strict = Policy(user_agents=("examplebot",), honour_legacy=True)
    assert decide(ORIGIN + "/x", signals, strict).verdict is Verdict.RESERVE
    # ai-train only.
    none_of(sigs("User-agent: *\nDisallowAITraining: /\n", "/x", d.SEARCH), d.LEGACY_AI_TRAINING)


def test_legacy_longest_match() -> None:
    text = "User-agent: examplebot\nDisallowAITraining: /\nAllowAITraining: /open/\n"
    assert one(sigs(text, "/open/x"), d.LEGACY_AI_TRAINING).verdict is Verdict.ALLOW
    assert one(sigs(text, "/closed"), d.LEGACY_AI_TRAINING).verdict is Verdict.RESERVE


# attach §3 example table: /test -> n, /ai-ok/test -> y, /never/test -> n/a.
ATTACH_TEXT = "User-Agent: *\nAllow: /\nDisallow: /never/\nContent-Usage: train-ai=n\nContent-Usage: /ai-ok/ train-ai=y\n"


@pytest.mark.parametrize(
    ("path", "verdict"),
    [("/test", Verdict.RESERVE), ("/ai-ok/test", Verdict.ALLOW), ("/never/test", None)],
)
def test_attach_example_table(path: str, verdict: Verdict | None) -> None:
    assert one(sigs(ATTACH_TEXT, path), d.CONTENT_USAGE).verdict is verdict


def test_content_usage_purposes() -> None:
    text = "User-Agent: *\nAllow: /\nContent-Usage: search=n\n"
    assert one(sigs(text, "/x", d.SEARCH), d.CONTENT_USAGE).verdict is Verdict.RESERVE
    # A matching rule that says nothing about train-ai: unknown (vocab §5), documented in the note.
    s = one(sigs(text, "/x"), d.CONTENT_USAGE)
    assert s.verdict is Verdict.UNKNOWN
    assert "no train-ai preference" in s.note
    # vocab-08 §4.2: ai-input is read from ai-use, which this rule does not state: unknown.
    assert one(sigs(text, "/x", d.AI_INPUT), d.CONTENT_USAGE).verdict is Verdict.UNKNOWN
    text = "User-Agent: *\nAllow: /\nContent-Usage: / ai-use=n\nContent-Usage: /rag-ok/ ai-use=y\n"
    assert one(sigs(text, "/x", d.AI_INPUT), d.CONTENT_USAGE).verdict is Verdict.RESERVE
    assert one(sigs(text, "/rag-ok/x", d.AI_INPUT), d.CONTENT_USAGE).verdict is Verdict.ALLOW
    assert one(sigs(text, "/x"), d.CONTENT_USAGE).verdict is Verdict.UNKNOWN


def test_content_usage_needs_a_match_and_a_group() -> None:
    none_of(sigs("User-Agent: *\nContent-Usage: /a/ train-ai=n\nAllow: /\n", "/b"), d.CONTENT_USAGE)
    none_of(sigs("Content-Usage: train-ai=n\nUser-Agent: *\nAllow: /\n", "/b"), d.CONTENT_USAGE)


def test_content_usage_path_same_as_slash_combines() -> None:
    text = "User-Agent: *\nAllow: /\nContent-Usage: / train-ai=n\nContent-Usage: train-ai=y\n"
    s = one(sigs(text, "/x"), d.CONTENT_USAGE)
    assert (s.verdict, s.line) == (Verdict.RESERVE, 3)


def test_content_signal_origin_wide_and_extra_keys() -> None:
    text = "Content-Signal: search=yes, ai-train=no, use=reference\n\nUser-agent: examplebot\nAllow: /\n"
    s = one(sigs(text, "/x"), d.CONTENT_SIGNAL)
    assert (s.verdict, s.line, s.scope) == (Verdict.RESERVE, 1, "(before any group)")
    assert "use=reference" in s.note


# ---------------------------------------------------------------------------
# RFC 9309 parsing and matching


@pytest.mark.parametrize(
    ("text", "path", "verdict", "line"),
    [
        # §2.2.1: product token case-insensitive; a UA value reduced to its token.
        ("User-agent: ExampleBot\nDisallow: /x\n", "/x", Verdict.RESERVE, 2),
        ("User-agent: examplebot/2.1 (+https://e.com)\nDisallow: /x\n", "/x", Verdict.RESERVE, 2),
        # * only when no group names the token.
        ("User-agent: *\nDisallow: /\nUser-agent: examplebot\nDisallow: /y\n", "/x", Verdict.ALLOW, None),
        ("User-agent: *\nDisallow: /x\n", "/x", Verdict.RESERVE, 2),
        # Consecutive user-agent lines start one group.
        ("User-agent: a\nUser-agent: examplebot\nUser-agent: b\nDisallow: /x\n", "/x", Verdict.RESERVE, 4),
        # Longest match wins; allow wins ties (§2.2.2).
        ("User-agent: examplebot\nAllow: /x\nDisallow: /x/y\n", "/x/y/z", Verdict.RESERVE, 3),
        ("User-agent: examplebot\nDisallow: /x\nAllow: /x/y\n", "/x/y/z", Verdict.ALLOW, 3),
        ("User-agent: examplebot\nDisallow: /*.pdf\nAllow: /a/b.pd\n", "/a/b.pdf", Verdict.ALLOW, 3),
        # §2.2.3 wildcards.
        ("User-agent: examplebot\nDisallow: /*.pdf$\n", "/a/b.pdf", Verdict.RESERVE, 2),
        ("User-agent: examplebot\nDisallow: /*.pdf$\n", "/a/b.pdf?x=1", Verdict.ALLOW, None),
        ("User-agent: examplebot\nDisallow: /a*b*c\n", "/a-x-b-y-c-z", Verdict.RESERVE, 2),
        ("User-agent: examplebot\nDisallow: /a*b*c\n", "/a-x-c-y-b", Verdict.ALLOW, None),
        ("User-agent: examplebot\nDisallow: /$\n", "/", Verdict.RESERVE, 2),
        ("User-agent: examplebot\nDisallow: /$\n", "/x", Verdict.ALLOW, None),
        ("User-agent: examplebot\nDisallow: *\n", "/x", Verdict.RESERVE, 2),
        ("User-agent: examplebot\nDisallow: /a$b\n", "/a$b/c", Verdict.RESERVE, 2),
        ("User-agent: examplebot\nDisallow: /x?q=\n", "/x?q=1", Verdict.RESERVE, 2),
        # Percent-encoding normalisation of pattern and path (§2.2.2).
        ("User-agent: examplebot\nDisallow: /%7Ejoe\n", "/~joe/x", Verdict.RESERVE, 2),
        ("User-agent: examplebot\nDisallow: /~joe\n", "/%7ejoe", Verdict.RESERVE, 2),
        ("User-agent: examplebot\nDisallow: /ツ\n", "/%E3%83%84", Verdict.RESERVE, 2),
        ("User-agent: examplebot\nDisallow: /%e3%83%84\n", "/ツ", Verdict.RESERVE, 2),
        ("User-agent: examplebot\nDisallow: /a%2fb\n", "/a/b", Verdict.ALLOW, None),
        # Layout: whitespace around ':', comments, no colon, empty Disallow, case of keys.
        ("  user-AGENT :  examplebot  # me\n DISALLOW :  /x  # no\n", "/x", Verdict.RESERVE, 2),
        # No colon: read as Google's parser reads a two-word line (issue 10 item 5).
        ("User-agent: examplebot\nDisallow /x\nDisallow: /y\n", "/x", Verdict.RESERVE, 2),
        ("User-agent: examplebot\nDisallow /x y\nDisallow: /y\n", "/x", Verdict.ALLOW, None),
        ("User-agent: examplebot\nDisallow:\n", "/x", Verdict.ALLOW, None),
        ("User-agent: examplebot\n# Disallow: /x\n", "/x", Verdict.ALLOW, None),
        # Rules before any user-agent line belong to no group.
        ("Disallow: /x\nUser-agent: examplebot\nAllow: /y\n", "/x", Verdict.ALLOW, None),
        # A pattern not starting with / (or *) never matches in robots.txt (Google, Protego).
        ("User-agent: examplebot\nDisallow: x\n", "/x", Verdict.ALLOW, None),
    ],
)
def test_rfc9309_rules(text: str, path: str, verdict: Verdict, line: int | None) -> None:
    s = one(sigs(text, path), d.ROBOTS_TXT)
    assert (s.verdict, s.line) == (verdict, line)


def test_robots_txt_implicitly_allowed() -> None:
    s = one(sigs("User-agent: *\nDisallow: /\n", "/robots.txt"), d.ROBOTS_TXT)
    assert s.verdict is Verdict.ALLOW
    assert "implicitly allowed" in s.note


def test_several_own_tokens_any_disallow_reserves() -> None:
    pol = Policy(user_agents=("examplebot", "otherbot"))
    text = "User-agent: examplebot\nAllow: /\n\nUser-agent: otherbot\nDisallow: /x\n"
    s = one(sigs(text, "/x/y", policy=pol), d.ROBOTS_TXT)
    assert (s.verdict, s.user_agent, s.line) == (Verdict.RESERVE, "otherbot", 5)
    assert one(sigs(text, "/z", policy=pol), d.ROBOTS_TXT).verdict is Verdict.ALLOW


def test_proxy_tokens() -> None:
    # * fallback never counts for a proxy token.
    signals = sigs("User-agent: *\nDisallow: /\n", "/x")
    assert one(signals, d.ROBOTS_TXT).verdict is Verdict.RESERVE
    none_of(signals, d.ROBOTS_TXT_PROXY)
    # Several proxy tokens in one group: evaluated (and reported) once.
    s = one(sigs("User-agent: CCBot/2.0\nUser-agent: GPTBot\nDisallow: /\n", "/x"), d.ROBOTS_TXT_PROXY)
    assert s.user_agent == "GPTBot"  # first in the policy's list
    # Tokens that are not valid RFC tokens are matched as written, case-insensitively.
    for ua in ("AI2Bot", "ai2bot/1.0", "Kangaroo Bot"):
        s = one(sigs(f"User-agent: {ua}\nDisallow: /\n", "/x"), d.ROBOTS_TXT_PROXY)
        assert s.user_agent in ("AI2Bot", "Kangaroo Bot")
    # A proxy group that allows the URL says nothing.
    none_of(sigs("User-agent: GPTBot\nDisallow: /private\n", "/x"), d.ROBOTS_TXT_PROXY)
    # The own token is never a proxy.
    pol = Policy(user_agents=("GPTBot",))
    signals = sigs("User-agent: GPTBot\nDisallow: /\n", "/x", policy=pol)
    assert one(signals, d.ROBOTS_TXT).verdict is Verdict.RESERVE
    none_of(signals, d.ROBOTS_TXT_PROXY)


def test_crawl_delay_and_sitemaps() -> None:
    r = parse(
        "Sitemap: https://e.com/a.xml\nUser-agent: examplebot\nDisallow: /x\nCrawl-delay: 2.5\n"
        "User-agent: *\nCrawl-delay: 7\nUser-agent: bad\nDisallow: /\nCrawl-delay: soon\n"
        "Sitemap: https://e.com/b.xml\n"
    )
    assert r.crawl_delay("examplebot") == 2.5
    assert r.crawl_delay("ExampleBot") == 2.5
    assert r.crawl_delay("someone") == 7.0
    assert r.crawl_delay("bad") == 7.0  # bad shares the * group (user-agent lines run on)
    assert r.sitemaps == ["https://e.com/a.xml", "https://e.com/b.xml"]
    assert parse("User-agent: x\nCrawl-delay: nan\n").crawl_delay("x") is None
    assert parse("User-agent: x\nCrawl-delay: -1\n").crawl_delay("x") is None
    assert parse("").crawl_delay("x") is None


def test_signals_are_stable_and_memoised() -> None:
    r = parse(ATTACH_TEXT + "Content-Signal: ai-train=no\nLicense: https://e.com/l\n")
    a = r.signals(ORIGIN + "/test", P)
    b = r.signals(ORIGIN + "/test", P)
    assert a == b
    assert all(x is y for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------------
# Where Protego and RFC 9309 differ: each shows Protego's reading and ours.


def protego_can_fetch(text: str, path: str, ua: str = "examplebot") -> bool:
    return bool(Protego.parse(text).can_fetch(ORIGIN + path, ua))


def ours_can_fetch(text: str, path: str, ua: str = "examplebot") -> bool:
    return parse(text).can_fetch(ORIGIN + path, ua)


@pytest.mark.parametrize("record", ["Crawl-delay: 5", "Foo: bar", "License: https://e.com/l.xml"])
def test_diff_other_record_between_user_agent_lines(record: str) -> None:
    """§2.2.4: other records must not interfere; Protego starts a new group at them."""
    text = f"User-agent: examplebot\n{record}\nUser-agent: otherbot\nDisallow: /private\n"
    assert protego_can_fetch(text, "/private") is True
    assert ours_can_fetch(text, "/private") is False


def test_diff_other_record_inside_group_keeps_rules() -> None:
    text = (
        "User-agent: examplebot\nDisallow: /a\nCrawl-delay: 5\nSitemap: https://e.com/s.xml\nDisallow: /b\n"
    )
    assert protego_can_fetch(text, "/b") is False
    assert ours_can_fetch(text, "/b") is False
    assert one(sigs(text, "/b"), d.ROBOTS_TXT).line == 5


def test_diff_gptbot_does_not_bind_gptbot_image() -> None:
    text = "User-agent: GPTBot\nDisallow: /\n"
    assert protego_can_fetch(text, "/x", "GPTBot-Image") is False
    assert ours_can_fetch(text, "/x", "GPTBot-Image") is True
    pol = Policy(user_agents=("GPTBot-Image",))
    s = one(sigs(text, "/x", policy=pol), d.ROBOTS_TXT)
    assert s.verdict is Verdict.ALLOW


def test_diff_index_html_is_not_root() -> None:
    text = "User-agent: *\nDisallow: /\nAllow: /index.html\n"
    assert protego_can_fetch(text, "/") is True
    assert ours_can_fetch(text, "/") is False
    assert ours_can_fetch(text, "/index.html") is True


def test_diff_question_mark_is_one_octet() -> None:
    # "/a/*?q=" is 7 octets, as long as "/a/cart": allow wins the tie (§2.2.2).
    # Protego counts the "?" as "%3F" (9 octets) and lets the disallow win.
    text = "User-agent: *\nAllow: /a/cart\nDisallow: /a/*?q=\n"
    assert protego_can_fetch(text, "/a/cart?q=1") is False
    assert ours_can_fetch(text, "/a/cart?q=1") is True


def test_diff_content_signal_before_group_is_kept() -> None:
    """Protego drops lines before the first user-agent (B note 9); they are origin-wide here."""
    text = "Content-Signal: ai-train=no\nUser-agent: *\nAllow: /\n"
    assert one(sigs(text, "/x"), d.CONTENT_SIGNAL).verdict is Verdict.RESERVE


# ---------------------------------------------------------------------------
# Adversarial input


def test_truncation_at_limit() -> None:
    head = b"User-agent: examplebot\nDisallow: /early\n"
    filler = b"".join(b"Disallow: /filler-%07d\n" % i for i in range(40_000))  # ~ 880 KB
    body = head + filler + b"Disallow: /late\n"
    assert len(body) > 2 * 512_000 * 0.8
    r = RobotsTxt.parse(body, ROBOTS_URL)
    assert r.truncated
    assert "truncated" in r.detail
    assert not r.can_fetch(ORIGIN + "/early", "examplebot")
    assert r.can_fetch(ORIGIN + "/late", "examplebot")
    # 1 MiB, with a line straddling the limit: it is dropped, not cut in half.
    limit = 512_000
    pre = b"User-agent: examplebot\n" + b"#" * (limit - 30) + b"\n"
    straddle = b"Disallow: /straddle-full-path\n"
    body = pre + straddle + b"#" * (1024 * 1024 - len(pre) - len(straddle))
    assert len(pre) < limit < len(pre) + len(straddle)
    r = RobotsTxt.parse(body, ROBOTS_URL)
    assert r.truncated
    assert r.can_fetch(ORIGIN + "/strad", "examplebot")
    assert r.can_fetch(ORIGIN + "/straddle-full-path", "examplebot")
    # A custom limit.
    small = RobotsTxt.parse(b"User-agent: *\nDisallow: /a\nDisallow: /b\n", ROBOTS_URL, limit=30)
    assert small.truncated
    assert not small.can_fetch(ORIGIN + "/a", "x")
    assert small.can_fetch(ORIGIN + "/b", "x")


def test_binary_garbage_and_invalid_utf8() -> None:
    rng = random.Random(0)
    for _ in range(20):
        body = rng.randbytes(rng.randrange(1, 50_000))
        r = RobotsTxt.parse(body, ROBOTS_URL)
        assert r.state == "ok"
        assert one(r.signals(ORIGIN + "/x", P), d.ROBOTS_TXT).verdict in (Verdict.ALLOW, Verdict.RESERVE)
    body = b"User-agent: examplebot\nDisallow: /\xff\xfe\nDisallow: /ok\xc3\n"
    r = RobotsTxt.parse(body, ROBOTS_URL)
    assert not r.can_fetch(ORIGIN + "/ok%EF%BF%BD", "examplebot")
    assert r.can_fetch(ORIGIN + "/other", "examplebot")


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbfUser-agent: examplebot\nDisallow: /x\n",
        b"User-agent: examplebot\r\nDisallow: /x\r\n",
        b"User-agent: examplebot\rDisallow: /x\r",
        b"User-agent: examplebot\x00\nDisallow: /x\n",
        b"User-agent:\texamplebot\t\nDisallow:\t/x\t\n",
    ],
    ids=["bom", "crlf", "cr", "nul-after-token", "tabs"],
)
def test_line_ends_and_bom(body: bytes) -> None:
    s = one(RobotsTxt.parse(body, ROBOTS_URL).signals(ORIGIN + "/x/y", P), d.ROBOTS_TXT)
    assert (s.verdict, s.line) == (Verdict.RESERVE, 2)
    assert s.evidence in ("Disallow: /x", "Disallow:\t/x")  # the line as written, comment and ends stripped


def test_control_characters_do_not_split_lines() -> None:
    # \x0b, \x0c, \x1c and U+2028 are not line ends in robots.txt (str.splitlines would split).
    body = "User-agent: examplebot\x0cDisallow: /x\nDisallow: /y\u2028Disallow: /z\n".encode()
    r = RobotsTxt.parse(body, ROBOTS_URL)
    assert r.can_fetch(ORIGIN + "/x", "examplebot")
    assert r.can_fetch(ORIGIN + "/z", "examplebot")
    # The rule is the whole value, encoded: "/y%E2%80%A8Disallow:%20/z".
    s = one(r.signals(ORIGIN + "/y\u2028Disallow: /z", P), d.ROBOTS_TXT)
    assert (s.verdict, s.line) == (Verdict.RESERVE, 2)
    assert r.can_fetch(ORIGIN + "/y", "examplebot")


def test_url_path_and_normalise() -> None:
    assert url_path("https://e.com") == "/"
    assert url_path("https://e.com?x=1") == "/?x=1"
    assert url_path("https://e.com:8080/a;p?q=1#frag") == "/a;p?q=1"
    assert url_path("/a b") == "/a%20b"
    assert url_path("HTTPS://E.COM/%7e%41%2F%c3%bc") == "/~A%2F%C3%BC"
    assert normalise("/a%zz%") == "/a%25zz%25"
    assert normalise("/*.jpg$") == "/*.jpg$"


# ---------------------------------------------------------------------------
# ai.txt (vector 42)


@pytest.mark.parametrize(
    ("path", "verdict", "evidence"),
    [("/img/a.jpg", Verdict.RESERVE, "Disallow: *.jpg"), ("/a.png", Verdict.ALLOW, "")],
)
def test_vector_42_ai_txt(path: str, verdict: Verdict, evidence: str) -> None:
    ai = RobotsTxt.parse(b"User-Agent: *\nDisallow: *.jpg\n", AI_URL)
    (s,) = ai_txt_signals(ai, ORIGIN + path, P)
    assert (s.name, s.verdict, s.evidence, s.location, s.source) == (
        d.AI_TXT,
        verdict,
        evidence,
        d.LOC_AI_TXT,
        AI_URL,
    )


def test_ai_txt_spawning_generator_output() -> None:
    text = "# Spawning AI\n# Prevent datasets from using the following file types\nUser-Agent: *\n"
    text += "Disallow: *.txt\nDisallow: *.jpg\nDisallow: private/\nAllow: /\n"
    ai = RobotsTxt.parse(text.encode(), AI_URL)
    assert ai_txt_signals(ai, ORIGIN + "/docs/a.txt", P)[0].verdict is Verdict.RESERVE
    assert (
        ai_txt_signals(ai, ORIGIN + "/private/a.png", P)[0].verdict is Verdict.RESERVE
    )  # lenient "/" prefix
    assert ai_txt_signals(ai, ORIGIN + "/logo.png", P)[0].verdict is Verdict.ALLOW
    assert ai_txt_signals(ai, ORIGIN + "/page.html", P)[0].verdict is Verdict.ALLOW
    # Other purposes: informational only.
    (s,) = ai_txt_signals(ai, ORIGIN + "/a.jpg", P.with_purpose(d.SEARCH))
    assert s.verdict is None
    # Absent / failing ai.txt.
    assert ai_txt_signals(RobotsTxt.unavailable(AI_URL, "HTTP 404", 404), ORIGIN + "/a.jpg", P) == []
    (s,) = ai_txt_signals(RobotsTxt.unreachable(AI_URL, "HTTP 500", 500), ORIGIN + "/a.jpg", P)
    assert s.verdict is None
    # Own-token group wins over *.
    ai = RobotsTxt.parse(b"User-Agent: *\nDisallow: /\nUser-Agent: examplebot\nAllow: /\n", AI_URL)
    assert ai_txt_signals(ai, ORIGIN + "/a.jpg", P)[0].verdict is Verdict.ALLOW


# ---------------------------------------------------------------------------
# Real-world-style files (written for these tests in the style of real ones)


def test_cloudflare_managed_file() -> None:
    r = RobotsTxt.parse((DATA / "cloudflare_managed.txt").read_bytes(), ROBOTS_URL)
    # The prepended block makes two * groups; RFC 9309 §2.2.1 merges them.
    signals = r.signals(ORIGIN + "/account/orders", P)
    s = one(signals, d.ROBOTS_TXT)
    assert (s.verdict, s.evidence) == (Verdict.RESERVE, "Disallow: /account/")
    assert s.scope is not None
    assert s.scope.startswith("User-agent: * (lines ")
    assert one(r.signals(ORIGIN + "/account/help", P), d.ROBOTS_TXT).verdict is Verdict.ALLOW
    assert one(r.signals(ORIGIN + "/search?q=x", P), d.ROBOTS_TXT).verdict is Verdict.RESERVE
    signals = r.signals(ORIGIN + "/products/1", P)
    assert one(signals, d.ROBOTS_TXT).evidence == "Allow: /"
    cs = one(signals, d.CONTENT_SIGNAL)
    assert (cs.verdict, cs.evidence) == (Verdict.RESERVE, "Content-signal: search=yes,ai-train=no")
    proxies = {x.user_agent for x in signals if x.name == d.ROBOTS_TXT_PROXY}
    expected = {"GPTBot", "ClaudeBot", "CCBot", "Google-Extended", "Applebot-Extended", "Bytespider"}
    assert proxies == expected | {"Meta-ExternalAgent"}
    assert decide(ORIGIN + "/products/1", signals, P).signal == d.CONTENT_SIGNAL
    assert r.sitemaps == ["https://shop.example.net/sitemap_index.xml"]
    # Protego agrees on the own token for this file.
    pro = Protego.parse((DATA / "cloudflare_managed.txt").read_text())
    for path in ("/account/orders", "/account/help", "/products/1", "/cdn-cgi/x"):
        assert pro.can_fetch(ORIGIN + path, "examplebot") == r.can_fetch(ORIGIN + path, "examplebot")


def test_news_site_file() -> None:
    r = RobotsTxt.parse((DATA / "news_site.txt").read_bytes(), ROBOTS_URL)
    signals = r.signals(ORIGIN + "/world/story.html", P)
    assert one(signals, d.ROBOTS_TXT).verdict is Verdict.ALLOW
    proxy = one(signals, d.ROBOTS_TXT_PROXY)  # one group, evaluated once
    assert (proxy.evidence, proxy.user_agent) == ("Disallow: /", "GPTBot")
    assert proxy.scope == "User-agent: GPTBot (line 14)"
    assert one(signals, d.LEGACY_AI_TRAINING).verdict is Verdict.RESERVE
    assert decide(ORIGIN + "/world/story.html", signals, P).signal == d.ROBOTS_TXT_PROXY
    assert one(r.signals(ORIGIN + "/world/story/print", P), d.ROBOTS_TXT).evidence == "Disallow: /*/print$"
    assert one(r.signals(ORIGIN + "/x?share=tw", P), d.ROBOTS_TXT).verdict is Verdict.RESERVE
    assert one(r.signals(ORIGIN + "/api/public/v1", P), d.ROBOTS_TXT).verdict is Verdict.ALLOW
    # Search: the AI block is not about search.
    none_of(r.signals(ORIGIN + "/world/story.html", P.with_purpose(d.SEARCH)), d.ROBOTS_TXT_PROXY)
    # The "Kangaroo Bot" and "AI2Bot" lines bind those proxy tokens as written.
    only = Policy(user_agents=("examplebot",), proxy_tokens=("Kangaroo Bot", "AI2Bot"))
    assert one(r.signals(ORIGIN + "/x", only), d.ROBOTS_TXT_PROXY).user_agent == "Kangaroo Bot"
    assert len(r.sitemaps) == 2


def test_crawl_delay_between_group_lines() -> None:
    text = (DATA / "crawl_delay_mixed.txt").read_text()
    r = RobotsTxt.parse(text.encode(), ROBOTS_URL)
    # "User-agent: examplebot / Crawl-delay: 10 / User-agent: Slurp" is one group (§2.2.4).
    s = one(r.signals(ORIGIN + "/members/list", P), d.ROBOTS_TXT)
    assert (s.verdict, s.line) == (Verdict.RESERVE, 5)
    assert s.scope == "User-agent: examplebot (line 2)"
    assert one(r.signals(ORIGIN + "/private-messages/1", P), d.ROBOTS_TXT).line == 9
    assert r.crawl_delay("examplebot") == 10.0
    assert r.crawl_delay("slurp") == 10.0
    assert r.crawl_delay("other") == 2.0
    # Protego ends the examplebot group at Crawl-delay: it reads no rules for examplebot.
    assert Protego.parse(text).can_fetch(ORIGIN + "/members/list", "examplebot") is True
    # The * group's Content-Usage does not apply to examplebot, which has its own group.
    none_of(r.signals(ORIGIN + "/threads/x", P), d.CONTENT_USAGE)
    other = Policy(user_agents=("otherbot",))
    assert one(r.signals(ORIGIN + "/threads/public/1", other), d.CONTENT_USAGE).verdict is Verdict.ALLOW
    assert one(r.signals(ORIGIN + "/threads/x", other), d.CONTENT_USAGE).verdict is Verdict.RESERVE


# ---------------------------------------------------------------------------
# Properties

_tokens = st.sampled_from(["examplebot", "otherbot", "*"])
_path_chars = st.text(alphabet="abc/-_.", max_size=8)
_pattern = st.builds(
    lambda body, star, dollar: "/" + body + ("*" + "x" if star else "") + ("$" if dollar else ""),
    _path_chars,
    st.booleans(),
    st.booleans(),
)
_rule = st.tuples(st.sampled_from(["Allow", "Disallow"]), _pattern)
_group = st.tuples(
    st.lists(_tokens, min_size=1, max_size=2, unique=True), st.lists(_rule, min_size=1, max_size=6)
)


def _render(groups: list[tuple[list[str], list[tuple[str, str]]]]) -> str:
    lines: list[str] = []
    for agents, rules in groups:
        lines += [f"User-agent: {a}" for a in agents]
        lines += [f"{k}: {v}" for k, v in rules]
        lines.append("")
    return "\n".join(lines)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_group, min_size=1, max_size=2), st.lists(_path_chars, min_size=1, max_size=5))
def test_agrees_with_protego_on_simple_files(
    groups: list[tuple[list[str], list[tuple[str, str]]]], paths: list[str]
) -> None:
    """Allow/Disallow only, simple paths, no "?", no index.html: Protego is an oracle here.

    Protego matches a path's dot segments as written; we match the path a server resolves
    them to (RFC 3986 §5.2.4), so Protego is asked about that path.
    """
    text = _render(groups)
    ours, pro = parse(text), Protego.parse(text)
    for p in paths:
        url = ORIGIN + "/" + p
        resolved = ORIGIN + remove_dot_segments("/" + p)
        assert ours.can_fetch(url, "examplebot") == pro.can_fetch(resolved, "examplebot"), (text, url)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000), st.text(max_size=40))
def test_parse_never_raises(body: bytes, path: str) -> None:
    r = RobotsTxt.parse(body, ROBOTS_URL)
    out = r.signals(ORIGIN + "/" + path, P)
    assert out[0].name == d.ROBOTS_TXT
    assert r.signals(ORIGIN + "/" + path, P) == out  # deterministic
    assert RobotsTxt.parse(body, ROBOTS_URL).signals(ORIGIN + "/" + path, P) == out
    r.crawl_delay("examplebot")
    ai_txt_signals(r, ORIGIN + "/" + path, P)


_SOUP = [
    "User-agent: examplebot",
    "User-agent: *",
    "User-agent: GPTBot",
    "Disallow: /a",
    "Allow: /a/b",
    "Disallow: /*.jpg$",
    "Allow: /$",
    "Content-Usage: train-ai=n",
    "Content-Usage: /a/ train-ai=y",
    "Content-Signal: ai-train=no",
    "Crawl-delay: 3",
    "",
    "# c",
    "DisallowAITraining: /",
    "License: x",
]
_robotsish = st.lists(st.sampled_from(_SOUP), max_size=15)


@settings(max_examples=200, deadline=None)
@given(
    _robotsish,
    st.sampled_from(["/", "/a", "/a/b/c.jpg", "/x.jpg", "/robots.txt"]),
    st.sampled_from(d.PURPOSES),
)
def test_signals_deterministic_on_record_soup(lines: list[str], path: str, purpose: str) -> None:
    text = "\n".join(lines)
    pol = P.with_purpose(purpose)
    a = parse(text).signals(ORIGIN + path, pol)
    assert parse(text).signals(ORIGIN + path, pol) == a
    assert sum(s.name == d.ROBOTS_TXT for s in a) == 1
    assert all(s.purpose == purpose and s.source == ROBOTS_URL for s in a)
    decide(ORIGIN + path, a, pol)


@settings(max_examples=300, deadline=None)
@given(st.lists(_rule, max_size=30), st.lists(_path_chars, min_size=1, max_size=5))
def test_rule_index_equals_brute_force(rules: list[tuple[str, str]], paths: list[str]) -> None:
    text = "User-agent: *\n" + "\n".join(f"{k}: {v}" for k, v in rules)
    r = parse(text)
    m = r._group_for("x", own=True)
    if m is None:
        return
    for p in paths:
        path = "/" + p
        best = max((x for x in m.rules.rules if x.matches(path)), key=lambda x: x.rank, default=None)
        assert m.rules.first(path) is best
    assert _RuleList([]).first("/") is None


def test_scope_names_the_token_that_matched() -> None:
    r = parse("User-agent: GPTBot\nUser-agent: examplebot\nDisallow: /\n")
    proxy = one(r.signals(ORIGIN + "/x", Policy(user_agents=("zzz",))), d.ROBOTS_TXT_PROXY)
    assert proxy.scope == "User-agent: GPTBot (line 1)"
    own = one(r.signals(ORIGIN + "/x", P), d.ROBOTS_TXT)
    assert (own.verdict, own.scope) == (Verdict.RESERVE, "User-agent: examplebot (line 2)")
    none_of(r.signals(ORIGIN + "/x", P), d.ROBOTS_TXT_PROXY)  # GPTBot's group is the own group: not a proxy


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_file_is_read_not_taken_for_no_rules(codec: str) -> None:
    # RFC 9309 §2.3 asks for UTF-8; protego reads a UTF-16 file as no rules (allow all).
    # Its rules are the site's all the same: read them, and say how in the file's detail.
    body = "User-agent: *\nAllow: /public\nDisallow: /\n".encode(codec)
    url = "https://example.com/robots.txt"
    assert Protego.parse(body.decode("latin-1")).can_fetch("https://example.com/x", "testbot")
    r = RobotsTxt.parse(body, url)
    assert "UTF-16" in r.detail
    policy = Policy(user_agents=("testbot",))
    (sig,) = [s for s in r.signals("https://example.com/x", policy) if s.name == d.ROBOTS_TXT]
    assert (sig.verdict, sig.evidence, sig.line) == (Verdict.RESERVE, "Disallow: /", 3)
    (ok,) = [s for s in r.signals("https://example.com/public/a", policy) if s.name == d.ROBOTS_TXT]
    assert ok.verdict is Verdict.ALLOW
