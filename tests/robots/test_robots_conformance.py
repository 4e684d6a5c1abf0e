"""robots.txt conformance (issue 10): %24/%2A, crawler names, Google's lenient reading, attribution.

Our own examples; the peer suites that found these stay in ``../shared/conformance``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from noai_guard import decision as d
from noai_guard.cli import main
from noai_guard.decision import Signal, Verdict
from noai_guard.evaluate import evaluate
from noai_guard.policy import Policy
from noai_guard.robots import RobotsTxt
from noai_guard.settings import own_tokens
from noai_guard.tokens import product_token

ORIGIN = "https://shop.example"
ROBOTS_URL = ORIGIN + "/robots.txt"


def parse(text: str) -> RobotsTxt:
    return RobotsTxt.parse(text.encode(), ROBOTS_URL)


def own_signal(text: str, path: str, token: str = "acmebot") -> Signal:
    sigs = [
        s for s in parse(text).signals(ORIGIN + path, Policy(user_agents=(token,))) if s.name == d.ROBOTS_TXT
    ]
    assert len(sigs) == 1
    return sigs[0]


def blocked(text: str, path: str, token: str = "acmebot") -> bool:
    return own_signal(text, path, token).verdict is Verdict.RESERVE


# ---------------------------------------------------------------------------
# Item 1: "%24" and "%2A" in a pattern match a literal "$" and "*" in the URL (RFC 9309 §2.2.3)


@pytest.mark.parametrize(
    ("rules", "path", "reserved"),
    [
        ("Disallow: /catalog/price%24", "/catalog/price$", True),
        ("Disallow: /catalog/price%24", "/catalog/price%24", True),
        ("Disallow: /catalog/price%24", "/catalog/price$/eur", True),
        ("Disallow: /catalog/price%24", "/catalog/price", False),  # %24 is not the end anchor
        ("Disallow: /catalog/price%24", "/catalog/prices", False),
        ("Disallow: /gallery/%2A/edit", "/gallery/*/edit", True),
        ("Disallow: /gallery/%2a/edit", "/gallery/%2A/edit", True),
        ("Disallow: /gallery/%2A/edit", "/gallery/cats/edit", False),  # %2A is not a wildcard
        # "*" and a final "$" keep their meaning beside them.
        ("Disallow: /gallery/*%2A$", "/gallery/a/b*", True),
        ("Disallow: /gallery/*%2A$", "/gallery/a/b*c", False),
        # A "$" that is not final is a literal "$", however the URL writes it.
        ("Disallow: /tag$/list", "/tag$/list", True),
        ("Disallow: /tag$/list", "/tag%24/list", True),
        ("Disallow: /tag$/list", "/tag/list", False),
    ],
)
def test_percent_encoded_star_and_dollar(rules: str, path: str, reserved: bool) -> None:
    assert blocked(f"User-agent: *\n{rules}\n", path) is reserved


def test_longest_match_counts_the_encoded_octets() -> None:
    # "/p%24" (5 octets) outranks "Allow: /p" (2) for "/p$" and the allow for "/p" stands.
    text = "User-agent: *\nAllow: /p\nDisallow: /p%24\n"
    assert own_signal(text, "/p$").evidence == "Disallow: /p%24"
    assert not blocked(text, "/p")


# ---------------------------------------------------------------------------
# Item 2: a crawler's name is the whole token as written (§2.2.1)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("CCBot/2.0", "CCBot"),
        ("Bot2000", "Bot2000"),
        ("Bot2000/1.0 (+https://bot.example)", "Bot2000"),
        ("Sogou web spider/4.0", "Sogou"),
        ("Wölfchen-Crawler/1.1", "Wölfchen-Crawler"),
        ("my_bot-2", "my_bot-2"),
        ("  AcmeBot;compatible", "AcmeBot"),
        ("/1.0", ""),
    ],
)
def test_product_token_keeps_the_whole_name(value: str, name: str) -> None:
    assert product_token(value) == name


@pytest.mark.parametrize(
    ("text", "token", "reserved"),
    [
        # Two different names are not one: neither is cut to a shared prefix.
        ("User-agent: Bot3000\nDisallow: /\n", "Bot2000", False),
        ("User-agent: Bot2000\nDisallow: /\n", "Bot", False),
        ("User-agent: Bot\nDisallow: /\n", "Bot2000", False),
        ("User-agent: Wölfchen-Spider\nDisallow: /\n", "wölfchen-crawler", False),
        # The same name, with a version or another case, is the same crawler.
        ("User-agent: Bot2000\nDisallow: /\n", "bot2000", True),
        ("User-agent: Bot2000/3.1\nDisallow: /\n", "Bot2000", True),
        ("User-agent: CCBot/2.0\nDisallow: /\n", "CCBot", True),
        ("User-agent: CCBot\nDisallow: /\n", "CCBot/2.0", True),
        ("User-agent: WÖLFCHEN-CRAWLER/1.1\nDisallow: /\n", "wölfchen-crawler", True),
        # A name bound by no group falls back to "*".
        ("User-agent: Bot3000\nAllow: /\n\nUser-agent: *\nDisallow: /\n", "Bot2000", True),
    ],
)
def test_crawler_names_are_not_cut_to_a_shared_prefix(text: str, token: str, reserved: bool) -> None:
    assert blocked(text, "/page", token) is reserved


def test_own_token_from_user_agent_keeps_digits() -> None:
    assert own_tokens(Settings({"USER_AGENT": "Bot2000/1.0 (+https://bot.example)"})) == ("Bot2000",)
    assert own_tokens(Settings({"USER_AGENT": "CCBot/2.0 (https://commoncrawl.org/faq/)"})) == ("CCBot",)


# ---------------------------------------------------------------------------
# Item 4: "User-agent: * more text" is the "*" line, as Google's parser reads it


def test_star_followed_by_text_is_the_global_agent() -> None:
    text = "User-agent: * Disallow: /private/\nDisallow: /private/\nDisallow: /tmp/\n"
    sig = own_signal(text, "/private/x")
    assert sig.verdict is Verdict.RESERVE
    assert (sig.line, sig.user_agent) == (2, "*")
    assert sig.scope == "User-agent: * (line 1)"
    assert "lenient reading" in sig.note
    assert "line 1 'User-agent: * Disallow: /private/' read as 'User-agent: *'" in sig.note
    assert blocked(text, "/tmp/a")
    assert not blocked(text, "/public")


def test_text_after_the_star_is_not_a_rule() -> None:
    text = "User-agent: * Disallow: /private/\n"
    sig = own_signal(text, "/private/x")
    assert sig.verdict is Verdict.ALLOW
    assert "read as 'User-agent: *'" in sig.note  # the oddity is recorded on the allow too


@pytest.mark.parametrize(
    ("text", "reserved"),
    [
        ("User-agent: *\tcrawlers\nDisallow: /x\n", True),
        ("User-agent: *Disallow: /x\nDisallow: /x\n", False),  # no whitespace: no name at all
        ("User-agent: * \nDisallow: /x\n", True),  # trailing space: plain "*"
    ],
)
def test_star_text_variants(text: str, reserved: bool) -> None:
    assert blocked(text, "/x") is reserved


def test_own_group_still_beats_a_star_text_group() -> None:
    text = "User-agent: * all robots\nDisallow: /a\n\nUser-agent: acmebot\nDisallow: /b\n"
    assert not blocked(text, "/a")
    assert blocked(text, "/b")


# ---------------------------------------------------------------------------
# Item 5: the misspelt keys and missing colons Google's parser accepts


@pytest.mark.parametrize(
    ("text", "path", "reserved"),
    [
        ("User agent: *\nDisallow: /cart/\n", "/cart/1", True),
        ("Useragent: *\nDisallow: /cart/\n", "/cart/1", True),
        ("USER AGENT: acmebot\nDisallow: /cart/\n", "/cart/1", True),
        ("User-agent: *\nDissallow: /a\n", "/a", True),
        ("User-agent: *\nDissalow: /a\n", "/a", True),
        ("User-agent: *\nDisalow: /a\n", "/a", True),
        ("User-agent: *\nDiasllow: /a\n", "/a", True),
        ("User-agent: *\nDisallaw: /a\n", "/a", True),
        ("User-agent: *\nDisallows: /a\n", "/a", True),  # a key that starts with the word
        ("User-agent acmebot\nDisallow /a\n", "/a", True),  # no colon, two words
        ("User-agent: *\nDisallow /a/b c\n", "/a/b", False),  # no colon, three words: no record
        ("User-agent: *\nDisallow: /\nAllow /pub\n", "/pub/x", False),
        ("User-agent: *\nDisallow: /\nAllow /pub\n", "/other", True),
        ("User agent acmebot\nDisallow: /a\n", "/a", False),  # three words: no record, no group
        # Keys we read as written are not taken for misspellings.
        ("User-agent: *\nDisallowAITraining: /a\n", "/a", False),
    ],
)
def test_google_misspellings(text: str, path: str, reserved: bool) -> None:
    assert blocked(text, path) is reserved


def test_misspelling_is_recorded_in_the_note() -> None:
    sig = own_signal("User agent: *\nDissallow: /cart/\n", "/cart/1")
    assert sig.verdict is Verdict.RESERVE
    assert "key 'user agent' read as 'user-agent' (misspelt)" in sig.note
    assert "key 'dissallow' read as 'disallow' (misspelt)" in sig.note
    no_colon = own_signal("User-agent: *\nDisallow /cart/\n", "/cart/1")
    assert "line 2 'Disallow /cart/' read as a 'disallow' record (no colon)" in no_colon.note
    strict = own_signal("User-agent: *\nDisallow: /cart/\n", "/cart/1")
    assert "lenient" not in strict.note


def test_lenient_user_agent_line_ends_the_group_before_it() -> None:
    # Read strictly, line 3 is no record and "Disallow: /" belongs to acmebot's group.
    text = "User-agent: acmebot\nAllow: /p\nUser-agent otherbot\nDisallow: /\n"
    sig = own_signal(text, "/x")
    assert sig.verdict is Verdict.ALLOW
    assert "the group ends at line 3 'User-agent otherbot'" in sig.note
    assert blocked(text, "/x", "otherbot")


def test_many_lenient_lines_are_counted_not_listed() -> None:
    text = "User-agent: *\n" + "".join(f"Dissallow: /d{i}\n" for i in range(10))
    note = own_signal(text, "/d7").note
    assert note.count("read as 'disallow'") == 3
    assert "and 7 more such line(s)" in note


def test_proxy_signal_notes_a_lenient_group() -> None:
    r = parse("User agent: GPTBot\nDisallow: /\n")
    sigs = r.signals(ORIGIN + "/x", Policy(user_agents=("acmebot",)))
    proxy = [s for s in sigs if s.name == d.ROBOTS_TXT_PROXY]
    assert len(proxy) == 1
    assert "key 'user agent' read as 'user-agent'" in proxy[0].note


# ---------------------------------------------------------------------------
# Item 3: the rule for the crawler's own token is named first


ACME = Policy(user_agents=("AcmeBot",))  # the default proxy list includes GPTBot
PAGE = ORIGIN + "/article"


def _html(*metas: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>t</title>{''.join(metas)}</head><body>x</body></html>".encode()


GPT_META = '<meta name="GPTBot" content="noai">'
ACME_META = '<meta name="acmebot" content="noai">'
ROBOTS_META = '<meta name="robots" content="noai">'


@pytest.mark.parametrize("metas", [(GPT_META, ACME_META), (ACME_META, GPT_META)])
def test_own_meta_named_before_a_proxy_meta(metas: tuple[str, str]) -> None:
    dec = evaluate(PAGE, ACME, body=_html(*metas), content_type="text/html")
    assert dec.blocked
    assert dec.decided_by is not None
    assert (dec.decided_by.name, dec.decided_by.own_token, dec.decided_by.user_agent) == (
        d.META_ROBOTS,
        True,
        "AcmeBot",
    )
    assert "(a rule for the crawler's own token)" in dec.reason
    assert dec.decided_by.evidence == ACME_META


def test_all_agents_meta_named_before_a_proxy_meta() -> None:
    dec = evaluate(PAGE, ACME, body=_html(GPT_META, ROBOTS_META), content_type="text/html")
    assert dec.decided_by is not None
    assert (dec.decided_by.own_token, dec.decided_by.evidence) == (None, ROBOTS_META)
    assert "(the site's signal)" in dec.reason


def test_own_meta_named_before_an_all_agents_meta() -> None:
    dec = evaluate(PAGE, ACME, body=_html(ROBOTS_META, GPT_META, ACME_META), content_type="text/html")
    assert dec.decided_by is not None and dec.decided_by.evidence == ACME_META


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Robots-Tag", "GPTBot: noai"), ("X-Robots-Tag", "acmebot: noai")],
        [("X-Robots-Tag", "GPTBot: noai, acmebot: noai")],
    ],
)
def test_own_x_robots_tag_named_before_a_proxy_one(headers: list[tuple[str, str]]) -> None:
    dec = evaluate(PAGE, ACME, headers=headers)
    assert dec.decided_by is not None
    assert (dec.decided_by.name, dec.decided_by.own_token, dec.decided_by.user_agent) == (
        d.X_ROBOTS_TAG,
        True,
        "AcmeBot",
    )


def test_unscoped_x_robots_tag_named_before_a_proxy_one() -> None:
    dec = evaluate(PAGE, ACME, headers=[("X-Robots-Tag", "GPTBot: noai"), ("X-Robots-Tag", "noai")])
    assert dec.decided_by is not None
    assert (dec.decided_by.own_token, dec.decided_by.evidence) == (None, "noai")


def test_own_robots_group_named_before_a_proxy_group() -> None:
    robots = parse("User-agent: GPTBot\nDisallow: /\n\nUser-agent: AcmeBot\nDisallow: /article\n")
    dec = evaluate(PAGE, ACME, robots=robots)
    assert dec.decided_by is not None
    assert (dec.decided_by.name, dec.decided_by.own_token, dec.decided_by.line) == (d.ROBOTS_TXT, True, 5)


def test_explain_names_the_own_meta(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(_html(GPT_META, ACME_META))
    rc = main(["explain", PAGE, "--html", str(page), "--user-agent", "AcmeBot", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert out["decided_by"]["own_token"] is True
    assert out["decided_by"]["evidence"] == ACME_META


@pytest.mark.parametrize("path", ["/x$", "/x%24", "/x$/y", "/a*b", "/a%2Ab", "/ok", "/x", "/a/b"])
def test_site_eval_reads_star_and_dollar_as_robots_txt_does(path: str) -> None:
    """The per-origin shortcut must not take a URL with a literal "$" or "*" as one that no rule matches."""
    from noai_guard.evaluate import SiteEval, site_signals
    from noai_guard.policy import decide

    robots = parse("User-agent: *\nDisallow: /x%24\nDisallow: /a%2Ab\n")
    ev = SiteEval(ACME, robots=robots)
    ev.evaluate(ORIGIN + "/warm")  # the shortcut now holds the default decision
    url = ORIGIN + path
    sigs, decision = ev.evaluate(url)
    want = site_signals(url, ACME, robots=robots)
    assert sigs == want
    assert decision == decide(url, want, ACME)
    assert decision.blocked is (path in ("/x$", "/x%24", "/x$/y", "/a*b", "/a%2Ab"))


def test_crawl_names_the_own_token_rule(crawl: Any, make_site: Any) -> None:
    """In a live crawl as AcmeBot/1.0, the record names the acmebot rule, not GPTBot's."""
    from crawlutil import page, text

    site = make_site(
        {
            "/robots.txt": text(
                "User-agent: GPTBot\nDisallow: /group/\n\nUser-agent: AcmeBot\nDisallow: /group/\n"
            ),
            "/meta": page(GPT_META + ACME_META),
            "/header": page(headers=[("X-Robots-Tag", "GPTBot: noai"), ("X-Robots-Tag", "acmebot: noai")]),
            "/group/x": page(),
        }
    )
    urls = [site.url("/meta"), site.url("/header"), site.url("/group/x")]
    r = crawl(urls, settings={"USER_AGENT": "AcmeBot/1.0 (+https://acme.example/bot)"})
    assert r.returncode == 0, r.log[-3000:]
    meta, header, group = (r.decision_for(u) for u in urls)
    assert (meta["action"], meta["signal"], meta["own_token"], meta["user_agent"]) == (
        "dropped",
        "meta-robots",
        True,
        "AcmeBot",
    )
    assert "acmebot" in meta["evidence"]
    assert (header["signal"], header["own_token"], header["evidence"]) == (
        "x-robots-tag",
        True,
        "acmebot: noai",
    )
    assert (group["action"], group["signal"], group["own_token"], group["line"]) == (
        "skipped",
        "robots-txt",
        True,
        5,
    )
    assert not set(urls) & set(r.callbacks)
