"""The project's conformance vectors, end to end through ``evaluate``.

Crawler product token ``examplebot``; purpose ai-train unless a row says
otherwise.  Rows about fetching (redirects, caching, per-origin scope) are
covered by the middleware's crawl tests; rows about embedded image metadata
(XMP, CAWG) are out of this project's current scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from noai_guard import decision as d
from noai_guard.decision import Verdict
from noai_guard.evaluate import evaluate
from noai_guard.policy import Policy
from noai_guard.robots import RobotsTxt
from noai_guard.sitefiles import from_fetch
from noai_guard.tdmrep import TdmrepFile

ORIGIN = "https://example.com"
ROBOTS_URL = ORIGIN + "/robots.txt"


@dataclass
class V:
    n: str
    path: str = "/page"
    robots: str | None = None
    robots_status: int | None = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    html: str | None = None
    tdmrep: str | None = None
    ai_txt: str | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    verdict: Verdict = Verdict.ALLOW
    blocked: bool | None = None  # default: verdict == reserve
    signal: str | None = None  # the deciding signal, when one must decide
    evidence: str | None = None  # substring of the deciding evidence


def meta(name: str, content: str) -> str:
    return f'<!doctype html><html><head><meta name="{name}" content="{content}"><title>t</title></head><body>x</body></html>'


VECTORS = [
    V(
        "1",
        headers=[("X-Robots-Tag", "noai")],
        verdict=Verdict.RESERVE,
        signal=d.X_ROBOTS_TAG,
        evidence="noai",
    ),
    V(
        "2",
        headers=[("X-Robots-Tag", "NoAI")],
        verdict=Verdict.RESERVE,
        signal=d.X_ROBOTS_TAG,
        evidence="NoAI",
    ),
    V(
        "3",
        path="/img/a.jpg",
        headers=[("Content-Type", "image/jpeg"), ("X-Robots-Tag", "noindex"), ("X-Robots-Tag", "noimageai")],
        verdict=Verdict.RESERVE,
        signal=d.X_ROBOTS_TAG,
        evidence="noimageai",
    ),
    V("4", headers=[("X-Robots-Tag", "otherbot: noai")]),
    V("5", headers=[("X-Robots-Tag", "ExampleBot: noai")], verdict=Verdict.RESERVE, signal=d.X_ROBOTS_TAG),
    V(
        "6",
        headers=[("X-Robots-Tag", "noindex, examplebot: noai")],
        verdict=Verdict.RESERVE,
        signal=d.X_ROBOTS_TAG,
    ),
    V("7", headers=[("X-Robots-Tag", "unavailable_after: 25 Jun 2010 15:00:00 PST")]),
    V(
        "7b",
        headers=[("X-Robots-Tag", "unavailable_after: Friday, 25-Jun-10 15:00:00 PST, noai")],
        verdict=Verdict.RESERVE,
        signal=d.X_ROBOTS_TAG,
    ),
    V("8", headers=[("X-Robots-Tag", "noindex")]),
    V("8b", headers=[("X-Robots-Tag", "none, noarchive, nofollow, noimageindex")]),
    V(
        "9",
        html=meta("ROBOTS", "NOAI, nofollow"),
        verdict=Verdict.RESERVE,
        signal=d.META_ROBOTS,
        evidence="NOAI",
    ),
    V("10-strict", html=meta("robots", "noimageai"), verdict=Verdict.RESERVE, signal=d.META_ROBOTS),
    V("10-lenient", html=meta("robots", "noimageai"), policy={"lenient_noimageai": True}),
    V("11", robots="", robots_status=404),
    V(
        "12",
        robots="<html>Service Unavailable</html>",
        robots_status=503,
        verdict=Verdict.UNKNOWN,
        blocked=True,
        signal=d.ROBOTS_TXT,
    ),
    V("13", robots_status=None, verdict=Verdict.UNKNOWN, blocked=True, signal=d.ROBOTS_TXT),
    V("14", robots="", robots_status=429, verdict=Verdict.UNKNOWN, blocked=True, signal=d.ROBOTS_TXT),
    V("18", path="/public", robots="User-agent: *\nDisallow: /\n\nUser-agent: examplebot\nAllow: /private\n"),
    V(
        "19",
        path="/b/x",
        robots="User-agent: examplebot\nDisallow: /a\n\nUser-agent: other\nDisallow: /\n\n"
        "User-agent: examplebot\nDisallow: /b\n",
        verdict=Verdict.RESERVE,
        signal=d.ROBOTS_TXT,
        evidence="Disallow: /b",
    ),
    V("20", robots="User-agent: *\nDisallow: /page\nAllow: /page\n"),
    V(
        "21-proxy",
        robots="User-agent: GPTBot\nDisallow: /\n",
        verdict=Verdict.RESERVE,
        signal=d.ROBOTS_TXT_PROXY,
    ),
    V("21-off", robots="User-agent: GPTBot\nDisallow: /\n", policy={"proxy_tokens": ()}),
    V(
        "23",
        robots="User-Agent: *\nContent-signal: search=yes, ai-train=no\nAllow: /\n",
        verdict=Verdict.RESERVE,
        signal=d.CONTENT_SIGNAL,
        evidence="ai-train=no",
    ),
    V(
        "24",
        robots="User-Agent: *\nContent-Signal: search=yes, ai-input=yes\nAllow: /\n",
        verdict=Verdict.UNKNOWN,
        blocked=False,
    ),
    V(
        "25",
        robots="User-Agent: *\nContent-Signal: ai-train=no\n\nUser-agent: examplebot\nAllow: /\n",
        verdict=Verdict.UNKNOWN,
        blocked=False,
    ),
    V(
        "26",
        path="/x",
        robots="User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\n",
        verdict=Verdict.RESERVE,
        signal=d.CONTENT_USAGE,
        evidence="train-ai=n",
    ),
    V(
        "27-ok",
        path="/ai-ok/x",
        robots="User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\nContent-Usage: /ai-ok/ train-ai=y\n",
    ),
    V(
        "27-x",
        path="/x",
        robots="User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\nContent-Usage: /ai-ok/ train-ai=y\n",
        verdict=Verdict.RESERVE,
        signal=d.CONTENT_USAGE,
    ),
    V(
        "28",
        path="/a/x",
        robots="User-Agent: *\nContent-Usage: /a/ train-ai=y\nContent-Usage: /a/ train-ai=n\n",
        verdict=Verdict.RESERVE,
        signal=d.CONTENT_USAGE,
    ),
    V(
        "29",
        headers=[("Content-Usage", "train-ai=y, train-ai, search=n")],
        verdict=Verdict.UNKNOWN,
        blocked=False,
    ),
    V("30a", headers=[("Content-Usage", "Train-AI=n")], verdict=Verdict.UNKNOWN, blocked=False),
    V("30b", headers=[("Content-Usage", "ai=n train-ai=n")], verdict=Verdict.UNKNOWN, blocked=False),
    V("31", headers=[("Content-Usage", "ai=n")], verdict=Verdict.UNKNOWN, blocked=False),
    V(
        "32",
        robots="User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\n",
        headers=[("Content-Usage", "train-ai=y")],
        verdict=Verdict.RESERVE,
        signal=d.CONTENT_USAGE,
    ),
    V(
        "33",
        path="/never/x",
        robots="User-Agent: examplebot\nDisallow: /never/\nContent-Usage: train-ai=n\n",
        verdict=Verdict.RESERVE,
        signal=d.ROBOTS_TXT,
    ),
    V("34", tdmrep='[{"location":"/","tdm-reservation":1}]', verdict=Verdict.RESERVE, signal=d.TDMREP),
    V(
        "35",
        path="/private/x",
        tdmrep='[{"location":"/","tdm-reservation":0},{"location":"/private/","tdm-reservation":1}]',
    ),
    V("36", tdmrep='[{"location":"/","tdm-reservation":1}]', headers=[("tdm-reservation", "0")]),
    V("37", headers=[("tdm-reservation", "1")], html=meta("tdm-reservation", "0")),
    V(
        "38",
        tdmrep='[{"location":"/","tdm-reservation":1}]',
        headers=[("tdm-reservation", "yes")],
        verdict=Verdict.RESERVE,
        signal=d.TDMREP,
    ),
    V(
        "42-jpg",
        path="/img/a.jpg",
        ai_txt="User-Agent: *\nDisallow: *.jpg\n",
        verdict=Verdict.RESERVE,
        signal=d.AI_TXT,
        evidence="*.jpg",
    ),
    V("42-png", path="/a.png", ai_txt="User-Agent: *\nDisallow: *.jpg\n"),
    V("43-default", robots="User-agent: *\nDisallowAITraining: /\n"),
    V(
        "43-strict",
        robots="User-agent: *\nDisallowAITraining: /\n",
        policy={"honour_legacy": True},
        verdict=Verdict.RESERVE,
        signal=d.LEGACY_AI_TRAINING,
    ),
]


def run_vector(v: V) -> Any:
    policy = Policy(**{"user_agents": ("examplebot",), **v.policy})
    robots = None
    if v.robots is not None or v.robots_status is None:
        robots = from_fetch(
            "robots",
            ROBOTS_URL,
            status=v.robots_status,
            body=(v.robots or "").encode(),
            detail="" if v.robots_status else "TimeoutError",
        )
    assert robots is None or isinstance(robots, RobotsTxt)
    tdm = (
        None if v.tdmrep is None else TdmrepFile.parse(v.tdmrep.encode(), ORIGIN + "/.well-known/tdmrep.json")
    )
    ai = None if v.ai_txt is None else RobotsTxt.parse(v.ai_txt.encode(), ORIGIN + "/ai.txt")
    headers = list(v.headers)
    body = None
    if v.html is not None:
        body = v.html.encode()
        headers.append(("Content-Type", "text/html; charset=utf-8"))
    return evaluate(
        ORIGIN + v.path, policy, robots=robots, tdmrep_file=tdm, ai_txt=ai, headers=headers, body=body
    )


@pytest.mark.parametrize("v", VECTORS, ids=[v.n for v in VECTORS])
def test_vector(v: V) -> None:
    dec = run_vector(v)
    assert dec.verdict is v.verdict, dec.to_dict()
    blocked = v.verdict is Verdict.RESERVE if v.blocked is None else v.blocked
    assert dec.blocked is blocked, dec.to_dict()
    if v.signal is not None:
        assert dec.decided_by is not None and dec.decided_by.name == v.signal, dec.to_dict()
    if v.evidence is not None:
        assert dec.decided_by is not None and v.evidence in dec.decided_by.evidence, dec.to_dict()
    # Every decision explains itself: a blocked one names its evidence and source.
    if dec.blocked:
        assert dec.decided_by is not None and dec.decided_by.evidence and dec.decided_by.source


def test_proxy_decision_says_it_did_not_bind_own_token() -> None:
    dec = run_vector(VECTORS[[v.n for v in VECTORS].index("21-proxy")])
    s = dec.decided_by
    assert s is not None and s.own_token is False and s.user_agent is not None
    assert s.user_agent.lower() == "gptbot" and s.line == 2 and s.evidence == "Disallow: /"


def test_robots_decision_names_group_and_line() -> None:
    dec = run_vector(VECTORS[[v.n for v in VECTORS].index("19")])
    s = dec.decided_by
    assert s is not None and s.line == 8 and s.evidence == "Disallow: /b" and s.own_token is True
    assert s.scope and "examplebot" in s.scope.lower()


def test_rsl_license_recorded() -> None:
    policy = Policy(user_agents=("examplebot",))
    robots = RobotsTxt.parse(b"License: https://e.com/l.xml\nUser-agent: *\nAllow: /\n", ROBOTS_URL)
    dec = evaluate(ORIGIN + "/", policy, robots=robots)
    lic = [s for s in dec.signals if s.name == d.RSL_LICENSE]
    assert lic and "https://e.com/l.xml" in lic[0].evidence and lic[0].line == 1
    assert dec.verdict is Verdict.ALLOW  # the licence itself is not fetched offline


def test_legacy_reported_even_when_not_honoured() -> None:
    dec = run_vector(VECTORS[[v.n for v in VECTORS].index("43-default")])
    legacy = [s for s in dec.signals if s.name == d.LEGACY_AI_TRAINING]
    assert legacy and legacy[0].legacy and legacy[0].superseded


def test_tdmrep_layers_marked_superseded() -> None:
    dec = run_vector(VECTORS[[v.n for v in VECTORS].index("36")])
    tdm = [s for s in dec.signals if s.name == d.TDMREP and s.verdict is not None]
    assert {s.location.split(":")[0] for s in tdm if s.superseded} == {d.LOC_TDMREP_FILE}


@pytest.mark.parametrize("purpose", d.PURPOSES)
def test_search_purpose_ignores_ai_only_signals(purpose: str) -> None:
    policy = Policy(user_agents=("examplebot",), purpose=purpose)
    dec = evaluate(ORIGIN + "/p", policy, headers=[("X-Robots-Tag", "noai")])
    assert dec.blocked is (purpose in ("ai-train", "ai-input"))
