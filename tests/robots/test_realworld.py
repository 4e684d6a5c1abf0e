"""Verdicts on real-world files that no one on the team wrote.

The files under ``tests/data/realworld/`` are byte-exact copies of robots.txt,
ai.txt and tdmrep.json files as stored in public GitHub repositories (see
``SOURCES.md`` there: repository, path, commit and site of each).  Every
expected verdict below was derived by reading the file against RFC 9309 (or
the spec named in the comment); the comment names the deciding line.

The second half is a differential check against Protego: every disagreement
must be one of the documented RFC-vs-Protego differences, classified below.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import NamedTuple

import pytest
from protego import Protego

from noai_guard import decision as d
from noai_guard.decision import Verdict
from noai_guard.evaluate import evaluate
from noai_guard.policy import Policy
from noai_guard.robots import RobotsTxt
from noai_guard.tdmrep import TdmrepFile

DATA = Path(__file__).resolve().parents[1] / "data" / "realworld"

# file -> origin it was published at
ROBOTS = {
    "bbc.co.uk.robots.txt": "https://www.bbc.co.uk",
    "bloomberg.com.robots.txt": "https://www.bloomberg.com",
    "nytimes.com.robots.txt": "https://www.nytimes.com",
    "amz123.com.robots.txt": "https://www.amz123.com",
    "microsoft.com.robots.txt": "https://www.microsoft.com",
    "att.com.robots.txt": "https://www.att.com",
    "avito.ru.robots.txt": "https://www.avito.ru",
    "arstechnica.com.robots.txt": "https://arstechnica.com",
    "aut.ac.ir.robots.txt": "https://new.aut.ac.ir",
    "ai.robots.txt.robots.txt": "https://example.org",
    "crawlstop.com.cloudflare-managed.robots.txt": "https://www.crawlstop.com",
}


@functools.cache
def robots(name: str) -> RobotsTxt:
    return RobotsTxt.parse((DATA / name).read_bytes(), ROBOTS[name] + "/robots.txt")


def test_corpus_bytes_are_as_fetched() -> None:
    """The oddities that are the point of the corpus are still there (no normaliser ran over it)."""
    raw = {n: (DATA / n).read_bytes() for n in ROBOTS}
    # microsoft.com and aut.ac.ir are CRLF throughout; att.com mixes CRLF with 9 LF-only lines.
    assert (
        raw["microsoft.com.robots.txt"].count(b"\r\n") == raw["microsoft.com.robots.txt"].count(b"\n") == 128
    )
    assert raw["aut.ac.ir.robots.txt"].count(b"\r\n") == raw["aut.ac.ir.robots.txt"].count(b"\n") == 126
    assert (raw["att.com.robots.txt"].count(b"\r\n"), raw["att.com.robots.txt"].count(b"\n")) == (231, 240)
    assert raw["bbc.co.uk.robots.txt"].startswith(b"\n# version:")  # leading blank line
    assert b"search \r\n" in raw["att.com.robots.txt"]  # trailing space inside a path
    assert not raw["att.com.robots.txt"].endswith(b"\n")  # no final newline
    assert all(robots(n).state == "ok" and robots(n).groups for n in ROBOTS)


# ---------------------------------------------------------------------------
# Hand-derived verdicts


class Case(NamedTuple):
    file: str
    path: str
    own: tuple[str, ...]
    purpose: str
    verdict: Verdict
    signal: str | None  # name of Decision.decided_by
    line: int | None  # its line (None: no rule matched)
    evidence: str  # its evidence ("" when no rule matched)


R, A, U = Verdict.RESERVE, Verdict.ALLOW, Verdict.UNKNOWN
TRAIN, SEARCH, INPUT = d.AI_TRAIN, d.SEARCH, d.AI_INPUT
EX = ("examplebot",)
RT, PROXY, CS = d.ROBOTS_TXT, d.ROBOTS_TXT_PROXY, d.CONTENT_SIGNAL

CASES = [
    # --- bbc.co.uk: Sitemap lines right after "User-agent: *" (l.6-18) stay in that group (§2.2.4)
    Case("bbc.co.uk.robots.txt", "/search", EX, SEARCH, R, RT, 48, "Disallow: /search$"),  # l.48 "$" end
    Case("bbc.co.uk.robots.txt", "/search/results", EX, SEARCH, R, RT, 47, "Disallow: /search/"),  # l.47
    Case("bbc.co.uk.robots.txt", "/search?q=news", EX, SEARCH, R, RT, 49, "Disallow: /search?"),  # l.49
    Case("bbc.co.uk.robots.txt", "/searchlight", EX, SEARCH, A, RT, None, ""),  # "/search$" needs the end
    Case("bbc.co.uk.robots.txt", "/food/search/?q=cake", EX, SEARCH, R, RT, 62, "Disallow: /food/search*?*"),
    Case("bbc.co.uk.robots.txt", "/news", EX, TRAIN, R, PROXY, 82, "Disallow: /"),  # GPTBot group l.81-82
    Case("bbc.co.uk.robots.txt", "/news", ("GPTBot",), TRAIN, R, RT, 82, "Disallow: /"),  # own group l.81
    Case("bbc.co.uk.robots.txt", "/news", ("ChatGPT-User",), SEARCH, R, RT, 85, "Disallow: /"),  # l.84-85
    Case("bbc.co.uk.robots.txt", "/news", ("GPTBot-Image",), SEARCH, A, RT, None, ""),  # exact token: * group
    # --- bloomberg.com: longest match, allow vs wildcard disallow
    Case(
        "bloomberg.com.robots.txt",
        "/account/newsletters",
        EX,
        SEARCH,
        A,
        RT,
        8,
        "Allow: /account/newsletters",
    ),
    Case("bloomberg.com.robots.txt", "/account/settings", EX, SEARCH, R, RT, 9, "Disallow: /account/*"),
    Case("bloomberg.com.robots.txt", "/tosv2.html", EX, SEARCH, R, RT, 10, "Disallow: /tosv*.html"),
    Case(
        "bloomberg.com.robots.txt", "/news/articles/x", EX, TRAIN, R, PROXY, 55, "Disallow: /"
    ),  # GPTBot l.54
    Case(
        "bloomberg.com.robots.txt", "/news/articles/x", ("Google-Extended",), TRAIN, R, RT, 61, "Disallow: /"
    ),
    Case(
        "bloomberg.com.robots.txt",
        "/apps/news",
        ("Mediapartners-Google",),
        SEARCH,
        R,
        RT,
        39,
        "Disallow: /apps/news",
    ),
    Case(
        "bloomberg.com.robots.txt",
        "/news/terminal/x",
        ("Googlebot-News",),
        SEARCH,
        R,
        RT,
        49,
        "Disallow: /news/terminal/*",
    ),
    Case("bloomberg.com.robots.txt", "/news/terminal/x", ("Googlebot",), SEARCH, A, RT, None, ""),  # * group
    # --- nytimes.com: many AI groups, "?"-wildcards, an agent line with a version
    Case(
        "nytimes.com.robots.txt", "/svc/wordle/v2", EX, SEARCH, A, RT, 25, "Allow: /svc/wordle"
    ),  # 11 > 4 octets
    Case("nytimes.com.robots.txt", "/svc/other", EX, SEARCH, R, RT, 19, "Disallow: /svc"),
    Case("nytimes.com.robots.txt", "/2024/report.pdf", EX, SEARCH, R, RT, 32, "Disallow: /*.pdf$"),
    Case("nytimes.com.robots.txt", "/2024/report.pdf?dl=1", EX, SEARCH, A, RT, None, ""),  # "$" fails
    Case(
        "nytimes.com.robots.txt", "/section?utm_source=x", EX, SEARCH, R, RT, 53, "Disallow: /*?*utm_source="
    ),
    Case(
        "nytimes.com.robots.txt",
        "/wirecutter/r/?utm_source=x",
        EX,
        SEARCH,
        A,
        RT,
        54,
        "Allow: /wirecutter/*?*utm_source=",
    ),
    Case("nytimes.com.robots.txt", "/x", ("peer39_crawler",), SEARCH, R, RT, 109, "Disallow: /"),  # l.107-108
    Case(
        "nytimes.com.robots.txt",
        "/x?smid=tw",
        ("facebookexternalhit",),
        SEARCH,
        A,
        RT,
        90,
        "Allow: /*?*smid=",
    ),
    Case("nytimes.com.robots.txt", "/x", ("GPTBot",), TRAIN, R, RT, 96, "Disallow: /"),
    Case("nytimes.com.robots.txt", "/x", EX, TRAIN, R, PROXY, 96, "Disallow: /"),  # first proxy token GPTBot
    # --- amz123.com: two "User-agent: *" groups merge (§2.2.1); "Disallow: .jpg$" never matches a path
    Case("amz123.com.robots.txt", "/t/123", EX, SEARCH, A, RT, 42, "Allow: /t"),  # 2nd * group l.41-42
    Case("amz123.com.robots.txt", "/toolbox", EX, SEARCH, R, RT, 35, "Disallow: /toolbox"),  # 8 > 2 octets
    Case(
        "amz123.com.robots.txt",
        "/tools-harbor/search",
        EX,
        SEARCH,
        R,
        RT,
        33,
        "Disallow: /tools-harbor/search",
    ),
    Case("amz123.com.robots.txt", "/img/a.jpg", EX, SEARCH, A, RT, None, ""),  # l.37 lacks the leading "/"
    Case("amz123.com.robots.txt", "/", ("GPTBot",), TRAIN, R, RT, 20, "Disallow: /"),  # "User-agent:  GPTBot"
    Case("amz123.com.robots.txt", "/", EX, TRAIN, R, PROXY, 20, "Disallow: /"),
    # --- microsoft.com (CRLF): patterns starting with "*", "$", percent-encoding
    Case("microsoft.com.robots.txt", "/en-us/search/", EX, SEARCH, R, RT, 10, "Disallow: /*/search/"),
    Case(
        "microsoft.com.robots.txt",
        "/en-us/store/b/search/",
        EX,
        SEARCH,
        A,
        RT,
        16,
        "Allow: /*/store/*/search/",
    ),
    Case(
        "microsoft.com.robots.txt",
        "/en-us/shop?action=catalogsearch&catalog_mode=grid&page=2",
        EX,
        SEARCH,
        A,
        RT,
        19,
        "Allow: *action=catalogsearch&catalog_mode=grid&page=2$",
    ),
    Case(
        "microsoft.com.robots.txt",
        "/en-us/shop?action=catalogsearch&catalog_mode=grid&page=9",
        EX,
        SEARCH,
        R,
        RT,
        14,
        "Disallow: *action=catalogsearch&",
    ),
    Case(
        "microsoft.com.robots.txt",
        "/feeds/TechNet/fr-fr/screenshot/screenshot%20surface.jpg",
        EX,
        SEARCH,
        R,
        RT,
        61,
        "Disallow: /feeds/TechNet/fr-fr/screenshot/screenshot%20surface.jpg",
    ),
    Case("microsoft.com.robots.txt", "/en-us/windows", EX, TRAIN, A, RT, None, ""),  # no AI group at all
    # --- att.com (mixed CRLF/LF, Googlebot named twice, trailing space in a path)
    Case(
        "att.com.robots.txt", "/buy/cart", ("Googlebot",), SEARCH, R, RT, 158, "Disallow: /buy/cart"
    ),  # l.2+122
    # l.228-235 are LF-only lines after the 2nd Googlebot group: still that group's rules, not *'s
    Case(
        "att.com.robots.txt",
        "/u-verse/availability/pending-order.jsp",
        ("Googlebot",),
        SEARCH,
        R,
        RT,
        230,
        "Disallow: /u-verse/availability/pending-order.jsp",
    ),
    Case("att.com.robots.txt", "/u-verse/availability/pending-order.jsp", EX, SEARCH, A, RT, None, ""),
    Case(
        "att.com.robots.txt",
        "/smallbusiness/search",
        EX,
        SEARCH,
        R,
        RT,
        76,
        "Disallow: /smallbusiness/search",
    ),
    Case(
        "att.com.robots.txt",
        "/es-us/buy/bundles?product_suite=NBB",
        EX,
        SEARCH,
        A,
        RT,
        97,
        "Allow: /es-us/buy/bundles?product_suite=NBB",
    ),
    Case(
        "att.com.robots.txt", "/buy/cart", ("Googlebot-image",), SEARCH, A, RT, None, ""
    ),  # l.6 empty Disallow
    Case(
        "att.com.robots.txt", "/x", ("DotBot",), SEARCH, R, RT, 10, "Disallow: /"
    ),  # l.9 + l.12 merge; tie: first
    # --- avito.ru: Host before any group, Clean-param, Googlebot vs Googlebot-Image
    Case("avito.ru.robots.txt", "/q/phones", EX, SEARCH, R, RT, 191, "Disallow: /q/*"),
    Case("avito.ru.robots.txt", "/cars?view=default", EX, SEARCH, A, RT, 134, "Allow: /*view=default"),
    Case("avito.ru.robots.txt", "/cars?view=list", EX, SEARCH, R, RT, 133, "Disallow: /*view="),
    Case("avito.ru.robots.txt", "/s/cc/x", ("Yandex",), SEARCH, A, RT, 39, "Allow: /s/cc/"),
    Case("avito.ru.robots.txt", "/s/x", ("Yandex",), SEARCH, R, RT, 38, "Disallow: /s/"),
    Case(
        "avito.ru.robots.txt",
        "/job-payments",
        ("Googlebot-Image",),
        SEARCH,
        R,
        RT,
        184,
        "Disallow: /job-payments",
    ),
    Case("avito.ru.robots.txt", "/job-payments", ("Googlebot",), SEARCH, A, RT, None, ""),
    Case("avito.ru.robots.txt", "/cars", EX, TRAIN, A, RT, None, ""),
    # --- arstechnica.com: "*/comments/", "Mediapartners-Google*"
    Case(
        "arstechnica.com.robots.txt",
        "/civis/ucp.php?mode=login",
        EX,
        SEARCH,
        R,
        RT,
        32,
        "Disallow: /civis/ucp.php*",
    ),
    Case(
        "arstechnica.com.robots.txt",
        "/2020/01/story/comments/",
        EX,
        SEARCH,
        R,
        RT,
        24,
        "Disallow: */comments/",
    ),
    Case(
        "arstechnica.com.robots.txt",
        "/wp-content/uploads/a.jpg",
        EX,
        SEARCH,
        A,
        RT,
        25,
        "Allow: /wp-content/uploads/",
    ),
    Case(
        "arstechnica.com.robots.txt",
        "/civis/viewtopic.php?sid=ab",
        EX,
        SEARCH,
        R,
        RT,
        52,
        "Disallow: /civis/*?sid=*",
    ),
    Case(
        "arstechnica.com.robots.txt", "/wp-admin/", ("Mediapartners-Google",), SEARCH, A, RT, None, ""
    ),  # l.9-10
    Case("arstechnica.com.robots.txt", "/wp-admin/", ("Googlebot-Image",), SEARCH, A, RT, 6, "Allow: /*"),
    Case("arstechnica.com.robots.txt", "/wp-admin/", EX, TRAIN, R, RT, 15, "Disallow: /wp-admin/"),
    # --- aut.ac.ir (CRLF): Crawl-delay/Sitemap/Host right after "User-agent: *" do not end the group
    Case("aut.ac.ir.robots.txt", "/admin/x", EX, SEARCH, R, RT, 34, "Disallow: /admin/"),
    Case(
        "aut.ac.ir.robots.txt", "/00AWT_CHK00/x", ("facebot",), SEARCH, R, RT, 126, "Disallow: /00AWT_CHK00/*"
    ),
    Case("aut.ac.ir.robots.txt", "/00AWT_CHK00/x", EX, SEARCH, A, RT, None, ""),  # l.126 is facebot's
    Case(
        "aut.ac.ir.robots.txt", "/page", ("Sogou",), SEARCH, R, RT, 120, "Disallow: /"
    ),  # l.119 "Sogou web spider/4.0"
    # --- ai.robots.txt: one group, 152 user-agent lines, no "*" group
    Case("ai.robots.txt.robots.txt", "/post", EX, SEARCH, A, RT, None, ""),  # no group, no * group
    Case("ai.robots.txt.robots.txt", "/post", EX, TRAIN, R, PROXY, 152, "Disallow: /"),
    Case("ai.robots.txt.robots.txt", "/post", ("Scrapy",), SEARCH, R, RT, 152, "Disallow: /"),
    Case("ai.robots.txt.robots.txt", "/post", ("Kangaroo Bot",), SEARCH, R, RT, 152, "Disallow: /"),
    Case("ai.robots.txt.robots.txt", "/post", ("MistralAI-User/1.0",), SEARCH, R, RT, 152, "Disallow: /"),
    Case("ai.robots.txt.robots.txt", "/post", ("GPTBot-Image",), SEARCH, A, RT, None, ""),
    Case("ai.robots.txt.robots.txt", "/post", ("Codex",), SEARCH, A, RT, None, ""),  # "Code" is not "Codex"
    # --- crawlstop.com: Cloudflare managed robots.txt prepended to the origin's own
    Case(
        "crawlstop.com.cloudflare-managed.robots.txt",
        "/pricing",
        EX,
        TRAIN,
        R,
        CS,
        29,
        "Content-signal: search=yes, ai-train=no",
    ),
    Case("crawlstop.com.cloudflare-managed.robots.txt", "/pricing", EX, SEARCH, A, RT, 30, "Allow: /"),
    Case(
        "crawlstop.com.cloudflare-managed.robots.txt", "/lp", EX, SEARCH, R, RT, 58, "Disallow: /lp"
    ),  # merged *
    Case(
        "crawlstop.com.cloudflare-managed.robots.txt",
        "/pricing",
        ("GPTBot",),
        TRAIN,
        R,
        RT,
        51,
        "Disallow: /",
    ),
    # ai-input not stated: neither grants nor restricts (Content Signals Policy (c))
    Case(
        "crawlstop.com.cloudflare-managed.robots.txt",
        "/pricing",
        EX,
        INPUT,
        U,
        CS,
        29,
        "Content-signal: search=yes, ai-train=no",
    ),
]


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: f"{c.file.split('.robots')[0]}:{'+'.join(c.own)}:{c.purpose}:{c.path}"
)
def test_realworld_robots_verdict(case: Case) -> None:
    host = ROBOTS[case.file]
    policy = Policy(purpose=case.purpose, user_agents=case.own)
    dec = evaluate(host + case.path, policy, robots=robots(case.file))
    assert dec.verdict is case.verdict, dec.reason
    assert dec.blocked is (case.verdict is R)
    by = dec.decided_by
    assert by is not None
    assert (by.name, by.line, by.evidence) == (case.signal, case.line, case.evidence), by.to_dict()
    if case.signal in (RT, PROXY, CS) and case.verdict is not A:
        assert by.scope  # the group the rule came from is named


def test_realworld_scopes_name_the_merged_groups() -> None:
    # att.com names Googlebot twice (l.2 and l.122): one merged group (RFC 9309 §2.2.1)
    dec = evaluate(
        "https://www.att.com/buy/cart", Policy(d.SEARCH, ("Googlebot",)), robots=robots("att.com.robots.txt")
    )
    assert dec.decided_by is not None and dec.decided_by.scope == "User-agent: Googlebot (lines 2, 122)"
    # crawlstop.com: the Cloudflare "User-Agent: *" (l.28) and the origin's "User-agent: *" (l.57) merge
    cs = robots("crawlstop.com.cloudflare-managed.robots.txt")
    dec = evaluate("https://www.crawlstop.com/lp", Policy(d.SEARCH, EX), robots=cs)
    assert dec.decided_by is not None and dec.decided_by.scope == "User-agent: * (lines 28, 57)"


def test_realworld_crawl_delay_and_sitemaps() -> None:
    # aut.ac.ir l.3: "Crawl-delay: 50" directly under "User-agent: *"
    assert robots("aut.ac.ir.robots.txt").crawl_delay("examplebot") == 50.0
    assert robots("aut.ac.ir.robots.txt").sitemaps == ["https://new.aut.ac.ir/sitemap.xml"]
    assert len(robots("bbc.co.uk.robots.txt").sitemaps) == 12  # l.7-18, inside the * group
    assert robots("nytimes.com.robots.txt").crawl_delay("GPTBot") is None


# ---------------------------------------------------------------------------
# tdmrep.json and ai.txt


TDMREP = [
    (
        "maxlamm.de.tdmrep.json",
        "https://maxlamm.de",
        '{"location":"/","tdm-reservation":1,"tdm-policy":"https://maxlamm.de/ki-vorbehalt/"}',
    ),
    ("recommandations-medicales.tdmrep.json", "https://example.fr", '{"location":"/","tdm-reservation":1}'),
]


@pytest.mark.parametrize(("name", "origin", "evidence"), TDMREP)
def test_realworld_tdmrep(name: str, origin: str, evidence: str) -> None:
    # Both files are one rule {"location": "/", "tdm-reservation": 1}: every path is reserved
    # (TDMRep: "/" matches all paths; value 1 = rights reserved).  The second file has no final newline.
    f = TdmrepFile.parse((DATA / name).read_bytes(), origin + "/.well-known/tdmrep.json")
    for path in ("/", "/blog/post/", "/img/a.jpg?x=1"):
        dec = evaluate(origin + path, Policy(user_agents=EX), tdmrep_file=f)
        assert dec.verdict is R, dec.reason
        by = dec.decided_by
        assert by is not None
        assert (by.name, by.evidence, by.scope) == (d.TDMREP, evidence, "/")
        assert ("tdm-policy" in by.note) is ("tdm-policy" in evidence)
    # search is not a TDM purpose: the reservation does not speak to it
    assert evaluate(origin + "/", Policy(d.SEARCH, EX), tdmrep_file=f).verdict is A


@pytest.mark.parametrize(
    ("name", "path", "line", "evidence"),
    [
        ("ai-robots-txt.ai.txt", "/post", 5, "Disallow: /"),  # l.5 and l.6 "*" tie at 1 octet: first wins
        ("ai-robots-txt.ai.txt", "/a.png", 5, "Disallow: /"),
        ("hacdias.com.ai.txt", "/photo.jpg", 17, "Disallow: *.jpg"),  # 5 octets beat "/" and "*"
        ("hacdias.com.ai.txt", "/about", 56, "Disallow: /"),
    ],
)
def test_realworld_ai_txt(name: str, path: str, line: int, evidence: str) -> None:
    ai = RobotsTxt.parse((DATA / name).read_bytes(), "https://example.net/ai.txt")
    dec = evaluate("https://example.net" + path, Policy(user_agents=EX), ai_txt=ai)
    assert dec.verdict is R
    assert dec.decided_by is not None
    assert (dec.decided_by.name, dec.decided_by.line, dec.decided_by.evidence) == (d.AI_TXT, line, evidence)
    # ai.txt speaks to ai-train only
    assert evaluate("https://example.net" + path, Policy(d.SEARCH, EX), ai_txt=ai).verdict is A


# ---------------------------------------------------------------------------
# Differential check against Protego

TOKENS = (
    "examplebot",
    "GPTBot",
    "GPTBot-Image",
    "CCBot",
    "Google-Extended",
    "Googlebot",
    "Googlebot-Image",
    "Googlebot-News",
    "Mediapartners-Google",
    "Yandex",
    "YandexDirect",
    "DotBot",
    "facebot",
    "Sogou",
    "Scrapy",
    "Codex",
    "peer39_crawler",
    "facebookexternalhit",
    "Twitterbot",
)

# Classified differences: (file, kind) pairs that are expected to occur.
#  token-prefix : Protego binds a group whose name is a prefix of the token
#                 (GPTBot -> GPTBot-Image, Code -> Codex, Googlebot -> Googlebot-Image);
#                 RFC 9309 §2.2.1 compares the product token exactly.
#  agent-value  : the user-agent line is not a bare product token ("Sogou web spider/4.0(...)");
#                 we reduce it to its product token "Sogou", as google/robotstxt does;
#                 Protego only matches when the whole value occurs in the crawler's name.
# Not observed on this corpus (no file triggers them for the tokens and paths below), so an
# occurrence would fail as "unclassified" and need a look: Protego ending a group at a
# Crawl-delay/unknown line before a user-agent line; /index.html treated as /; "?" counted as
# %3F when breaking length ties.
EXPECTED_KINDS = {
    ("ai.robots.txt.robots.txt", "token-prefix"),
    ("amz123.com.robots.txt", "token-prefix"),
    ("att.com.robots.txt", "token-prefix"),  # Googlebot-News bound to Googlebot
    ("aut.ac.ir.robots.txt", "agent-value"),
    ("avito.ru.robots.txt", "token-prefix"),
    ("bbc.co.uk.robots.txt", "token-prefix"),
    ("bloomberg.com.robots.txt", "token-prefix"),
    ("crawlstop.com.cloudflare-managed.robots.txt", "token-prefix"),
    ("nytimes.com.robots.txt", "token-prefix"),
}


def _paths(text: str) -> list[str]:
    """Paths that hit, miss and straddle every rule of the file."""
    paths = {"/", "/index.html", "/a?b=c", "/x.jpg", "/doc.pdf", "/search", "/search?q=1", "/robots.txt"}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        value = value.split("#", 1)[0].strip()
        if key.strip().lower() in ("allow", "disallow") and value:
            p = value.replace("*", "zz").rstrip("$")
            p = p if p.startswith("/") else "/q" + p
            paths |= {p, p + "x", p.rstrip("/") or "/", p + "?s=1", p + "/y"}
    return sorted(paths)


def _classify(token: str, ours: RobotsTxt, pro: Protego) -> str:
    rs = pro._get_matching_rule_set(token)  # which group Protego bound (private API)
    p_agent = rs.user_agent if rs is not None else None
    o_group = ours._group_for(token, own=True)
    o_names = {v.strip().lower() for g in (o_group.groups if o_group else ()) for v, _ in g.agents}
    t = token.lower()
    if p_agent not in (None, "*") and p_agent != t and t.startswith(p_agent) and p_agent not in o_names:
        return "token-prefix"
    unbound_by_protego = p_agent in (None, "*") and o_group is not None
    if (
        unbound_by_protego
        and "*" not in o_names
        and t not in o_names
        and all(" " in n or "/" in n for n in o_names)
    ):
        return "agent-value"
    return "unclassified"


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_realworld_protego_differential(name: str) -> None:
    text = (DATA / name).read_bytes().decode("utf-8")
    ours, pro = robots(name), Protego.parse(text)
    host = ROBOTS[name]
    kinds: dict[str, list[tuple[str, str, bool]]] = {}
    n = 0
    for token, path in itertools.product(TOKENS, _paths(text)):
        url = host + path
        a, b = ours.can_fetch(url, token), pro.can_fetch(url, token)
        n += 1
        if a != b:
            kind = _classify(token, ours, pro)
            kinds.setdefault(kind, []).append((token, path, a))
    assert n >= 150
    assert "unclassified" not in kinds, kinds["unclassified"][:10]
    assert {(name, k) for k in kinds} == {e for e in EXPECTED_KINDS if e[0] == name}, {
        k: v[:3] for k, v in kinds.items()
    }
