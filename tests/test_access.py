"""Issue 15 item 5: answers that ask for a login or a licence are recorded, not bypassed, not consent.

Pure tests of noai_guard.access and the decision it takes part in; then a real crawl
against a local site, recorded to a WARC that the offline audit reads, and the report
over both trails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from noai_guard import decision as d
from noai_guard.access import access_signal, licence_links
from noai_guard.cli import main
from noai_guard.decision import Signal, Verdict
from noai_guard.policy import Policy, decide

URL = "https://example.com/article"
P = Policy(user_agents=("examplebot",))
RSL_LINK = '<https://example.com/license.xml>; rel="license"; type="application/rsl+xml"'


@pytest.mark.parametrize(
    ("values", "links"),
    [
        ([RSL_LINK], ["https://example.com/license.xml"]),
        (["</terms>; rel=license"], ["/terms"]),
        (['</a>; rel="next", </l>; rel="LICENSE alternate"'], ["/l"]),  # a rel list (RFC 8288 §3.3)
        (['</a>; rel="next"', '</b>; title="license"'], []),  # "license" not the relation
        (['</a>; rel="licenses"'], []),
        (["not a link at all", ""], []),
        (["<https://x.example/l?a=1,2>; rel=license"], ["https://x.example/l?a=1,2"]),  # comma in <>
    ],
)
def test_licence_links(values: list[str], links: list[str]) -> None:
    assert licence_links([("Link", v) for v in values] + [("Content-Type", "text/html")]) == links


@pytest.mark.parametrize(
    ("status", "headers", "evidence"),
    [
        (
            401,
            [("WWW-Authenticate", 'Basic realm="members"')],
            'HTTP 401; WWW-Authenticate: Basic realm="members"',
        ),
        (401, [], "HTTP 401"),
        (402, [("Link", RSL_LINK)], "HTTP 402; Link: <https://example.com/license.xml>; rel=license"),
        (403, [("link", '</licence>; rel="license"')], "HTTP 403; Link: </licence>; rel=license"),
    ],
)
def test_access_signal(status: int, headers: list[tuple[str, str]], evidence: str) -> None:
    s = access_signal(URL, status, headers, d.AI_TRAIN)
    assert s is not None
    assert (s.name, s.verdict, s.evidence, s.location) == (
        d.ACCESS_REQUIRED,
        Verdict.UNKNOWN,
        evidence,
        "status",
    )
    assert f"{status} " in s.note and "not obtained" in s.note


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (403, [("WWW-Authenticate", "Basic")]),  # a plain refusal: no licence pointer
        (403, []),
        (200, [("Link", RSL_LINK)]),  # a licence on a page that was obtained: not this signal
        (404, []),
        (None, []),
    ],
)
def test_no_access_signal(status: int | None, headers: list[tuple[str, str]]) -> None:
    assert access_signal(URL, status, headers, d.AI_TRAIN) is None


def test_huge_link_header_is_bounded() -> None:
    value = ", ".join(['</x>; rel="next"'] * 50_000) + ', </l>; rel="license"'
    assert licence_links([("Link", value)]) == []  # past the budget: not looked at, not a crash
    s = access_signal(URL, 401, [("WWW-Authenticate", "x" * 10_000)], d.AI_TRAIN)
    assert s is not None and len(s.evidence) <= 300


@pytest.mark.parametrize("purpose", d.PURPOSES)
@pytest.mark.parametrize("unknown_default", [Verdict.ALLOW, Verdict.RESERVE])
def test_decision_is_unknown_never_allow_never_blocked(purpose: str, unknown_default: Verdict) -> None:
    pol = Policy(user_agents=("examplebot",), purpose=purpose, unknown_default=unknown_default)
    robots_allow = Signal(
        d.ROBOTS_TXT, Verdict.ALLOW, purpose, "Allow: /", "https://example.com/robots.txt", "robots.txt"
    )
    asked = access_signal(URL, 402, [], purpose)
    assert asked is not None
    dec = decide(URL, [robots_allow, asked], pol)
    # Not consent (not "allow"), not a block (nothing was obtained to block), whatever the policy.
    assert (dec.verdict, dec.blocked, dec.signal) == (Verdict.UNKNOWN, False, d.ACCESS_REQUIRED)
    assert dec.resolution is not None and "not as consent" in dec.resolution
    # A reservation still wins and blocks, as it would without the 402.
    reserve = Signal(d.X_ROBOTS_TAG, Verdict.RESERVE, purpose, "noai", URL, "header:X-Robots-Tag")
    assert decide(URL, [asked, reserve], pol).verdict is Verdict.RESERVE


# ---------------------------------------------------------------------------
# A real crawl, its WARC, the offline audit and the report


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]


def test_crawl_audit_and_report_record_login_and_licence_answers(
    make_site: Callable[..., Any], crawl: Callable[..., Any], tmp_path: Path
) -> None:
    from crawlutil import page, text

    site = make_site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
            "/ai.txt": text("not here", status=404),
            "/members": page(status=401, headers=[("WWW-Authenticate", 'Basic realm="members"')]),
            "/paid": page(
                status=402, headers=[("Link", '</license.xml>; rel="license"; type="application/rsl+xml"')]
            ),
            "/licensed": page(status=403, headers=[("Link", '</terms>; rel="license"')]),
            "/forbidden": page(status=403),
            "/open": page(),
        }
    )
    asked = {site.url(p): p for p in ("/members", "/paid", "/licensed")}
    urls = [*asked, site.url("/forbidden"), site.url("/open")]
    warc = tmp_path / "live.warc.gz"
    r = crawl(
        urls,
        settings={
            # A strict policy: unknown resolves to reserve. A login answer still is not blocked.
            "NOAI_GUARD_UNKNOWN_DEFAULT": "reserve",
            "AUDIT_TEST_WARC": str(warc),
            "DOWNLOADER_MIDDLEWARES": {"test_audit_consistency.WarcRecorder": 990},
        },
    )
    assert r.returncode == 0, r.log[-3000:]
    # Not bypassed and not blocked: Scrapy answered these as it does any 4xx (HttpError to
    # the errback), not with noai_guard's IgnoreRequest; the open page reached the callback.
    assert r.callbacks == [site.url("/open")]
    assert sorted(r.errbacks) == sorted([*asked, site.url("/forbidden")])
    assert "noai_guard: " not in "".join(x for x in r.log.splitlines() if "IgnoreRequest" in x)
    assert r.stat("noai_guard/dropped") == 0 and r.stat("noai_guard/skipped") == 0
    for status in (401, 402, 403):
        assert r.stat(f"noai_guard/access_required/{status}") == 1
    # In the trail: one record each, verdict unknown (not consent), with the answer as evidence.
    live = {x["url"]: x for x in r.decisions() if x["signal"] == d.ACCESS_REQUIRED}
    assert set(live) == set(asked)
    for rec in live.values():
        assert (rec["verdict"], rec["blocked"], rec["action"]) == ("unknown", False, "allowed")
        assert "not as consent" in rec["resolution"]
    assert live[site.url("/members")]["evidence"] == 'HTTP 401; WWW-Authenticate: Basic realm="members"'
    assert live[site.url("/paid")]["evidence"] == "HTTP 402; Link: </license.xml>; rel=license"
    assert live[site.url("/licensed")]["evidence"] == "HTTP 403; Link: </terms>; rel=license"
    # A plain 403 asks for nothing: not this signal.
    assert not [x for x in r.decisions() if x["url"] == site.url("/forbidden")]

    # The WARC of that crawl, audited offline: the same records, by the same engine.
    out = tmp_path / "offline.jsonl"
    assert main(["audit", str(warc), "--user-agent", "testbot", "--out", str(out), "--no-progress"]) == 0
    offline = {
        x["url"]: (x["signal"], x["verdict"], x["blocked"], x["evidence"], x["http_status"])
        for x in _records(out)
        if x["type"] == "decision" and x["signal"] == d.ACCESS_REQUIRED
    }
    assert offline == {
        u: (d.ACCESS_REQUIRED, "unknown", False, rec["evidence"], int(rec["evidence"][5:8]))
        for u, rec in live.items()
    }

    # The report lists the signal with its spec, and counts the records as unknown, not allowed.
    rep = tmp_path / "report"
    assert (
        main(["report", str(r.workdir / "trail.jsonl"), str(out), "--out", str(rep), "--format", "json,md"])
        == 0
    )
    doc = json.loads((rep / "report.json").read_text("utf-8"))
    specs = {s["signal"]: s["spec"] for s in doc["signals_checked"]}
    assert "RFC 9110" in specs[d.ACCESS_REQUIRED]
    assert d.ACCESS_REQUIRED in json.dumps(doc)
    assert d.ACCESS_REQUIRED in (rep / "report.md").read_text("utf-8")


def test_explain_takes_the_status_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    headers = tmp_path / "h.txt"
    headers.write_bytes(b'HTTP/1.1 402 Payment Required\r\nLink: </license.xml>; rel="license"\r\n')
    rc = main(
        ["explain", "https://example.com/paid", "--headers", str(headers), "--user-agent", "examplebot"]
    )
    out = capsys.readouterr().out
    assert rc == 3  # unknown: neither allowed nor reserved
    assert "decided by access-required" in out
    assert "HTTP 402; Link: </license.xml>; rel=license" in out
    headers.write_bytes(b"HTTP/1.1 403 Forbidden\r\n")  # a plain refusal: no signal
    main(["explain", "https://example.com/paid", "--headers", str(headers), "--user-agent", "examplebot"])
    assert "access-required" not in capsys.readouterr().out
