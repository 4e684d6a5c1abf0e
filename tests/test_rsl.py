"""RSL 1.0 licences: the parser (spec-shaped examples, hostile XML), the decision, explain, a live crawl."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from crawlutil import Route, Site, run_crawl

from noai_guard import decision as d
from noai_guard.decision import Verdict
from noai_guard.engine import Judge, SiteFiles
from noai_guard.policy import Policy, PolicyError, policy_from_mapping
from noai_guard.robots import RobotsTxt
from noai_guard.rsl import MAX_DEPTH, SIZE_LIMIT, RslFile, licence_links
from noai_guard.sitefiles import from_fetch

LIC = "https://news.example/license.xml"
NS = 'xmlns="https://rslstandard.org/rsl"'

# Shaped like the spec's examples (RSL 1.0 §3): one site-wide licence, a free section, a paid one.
DOC = f"""<?xml version="1.0" encoding="UTF-8"?>
<rsl {NS}>
  <content url="/">
    <license>
      <permits type="usage">search</permits>
      <prohibits type="usage">ai-train</prohibits>
    </license>
  </content>
  <content url="/open/*">
    <license><permits type="usage">ai-all, search</permits></license>
  </content>
  <content url="/premium/" server="https://rslcollective.example/api">
    <license>
      <permits type="usage">ai-input</permits>
      <payment type="use"><amount currency="USD">0.01</amount></payment>
    </license>
  </content>
  <content url="https://other.example/">
    <license><prohibits type="usage">all</prohibits></license>
  </content>
  <content url="/nc/">
    <license><permits type="usage">ai-train</permits><permits type="user">non-commercial</permits></license>
  </content>
</rsl>""".encode()


def _verdict(doc: bytes, url: str, purpose: str = d.AI_TRAIN, **kw: object) -> Verdict | None:
    f = RslFile.parse(doc, LIC)
    s = f.signal(url, Policy(purpose=purpose, **kw))  # type: ignore[arg-type]
    return None if s is None else s.verdict


@pytest.mark.parametrize(
    ("url", "purpose", "want"),
    [
        ("https://news.example/story", d.AI_TRAIN, Verdict.RESERVE),  # prohibits ai-train
        ("https://news.example/story", d.SEARCH, Verdict.ALLOW),  # permits search
        ("https://news.example/story", d.AI_INPUT, Verdict.UNKNOWN),  # neither
        ("https://news.example/open/a", d.AI_TRAIN, Verdict.ALLOW),  # longer pattern wins
        ("https://news.example/open/a", d.AI_INPUT, Verdict.ALLOW),  # ai-all covers ai-input
        ("https://news.example/premium/x", d.AI_INPUT, Verdict.RESERVE),  # server + paid: licence first
        ("https://news.example/premium/x", d.AI_TRAIN, Verdict.UNKNOWN),  # not among the permits
        ("https://news.example/nc/x", d.AI_TRAIN, Verdict.UNKNOWN),  # user condition
        ("https://other.example/x", d.SEARCH, Verdict.RESERVE),  # full URL binds its host; "all"
    ],
)
def test_spec_shaped_document(url: str, purpose: str, want: Verdict) -> None:
    assert _verdict(DOC, url, purpose) is want


def test_full_url_content_does_not_bind_another_host() -> None:
    doc = f'<rsl {NS}><content url="https://other.example/"><license><prohibits type="usage">all</prohibits></license></content></rsl>'
    assert _verdict(doc.encode(), "https://news.example/x") is None  # no <content> covers it


def test_dollar_and_wildcard_follow_rfc9309() -> None:
    doc = f'<rsl {NS}><content url="/*.pdf$"><license><prohibits type="usage">ai-train</prohibits></license></content></rsl>'
    assert _verdict(doc.encode(), "https://h.example/a/b.pdf") is Verdict.RESERVE
    assert _verdict(doc.encode(), "https://h.example/a/b.pdf?x=1") is None


def test_licence_required_can_be_unknown_by_policy() -> None:
    doc = f'<rsl {NS}><content url="/" server="https://ls.example/"><license/></content></rsl>'.encode()
    f = RslFile.parse(doc, LIC)
    s = f.signal("https://news.example/a", Policy())
    assert s is not None and s.verdict is Verdict.RESERVE
    assert 'server="https://ls.example/"' in s.evidence and s.source == LIC and s.scope == "/"
    p = policy_from_mapping({"rsl_licence_required": "unknown"})
    s2 = f.signal("https://news.example/a", p)
    assert s2 is not None and s2.verdict is Verdict.UNKNOWN
    assert "rsl_licence_required" in p.to_dict() and "rsl_licence_required" not in Policy().to_dict()
    with pytest.raises(PolicyError):
        policy_from_mapping({"rsl_licence_required": "allow"})


def test_paid_payment_without_server_reserves_free_payment_allows() -> None:
    paid = f'<rsl {NS}><content url="/"><license><payment type="training"><amount currency="EUR">5</amount></payment></license></content></rsl>'
    free = f'<rsl {NS}><content url="/"><license><payment type="free"/></license></content></rsl>'
    assert _verdict(paid.encode(), "https://h.example/a") is Verdict.RESERVE
    assert _verdict(free.encode(), "https://h.example/a") is Verdict.ALLOW


def test_evidence_names_licence_content_and_element() -> None:
    s = RslFile.parse(DOC, LIC).signal("https://news.example/story", Policy())
    assert s is not None
    assert s.name == d.RSL and s.source == LIC and s.location == d.LOC_RSL
    assert s.evidence == '<content url="/"> <prohibits type="usage">ai-train</prohibits>'


# -- hostile and broken documents: invalid -> unknown, never a crash, never an allow ------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><rsl xmlns="https://rslstandard.org/rsl"><content url="/">&lol9;</content></rsl>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
    b'<permits type="usage">&x;</permits></license></content></rsl>'
)
PARAM_ENTITY = b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><rsl/>'


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (BILLION_LAUGHS, "DOCTYPE"),
        (XXE, "DOCTYPE"),
        (PARAM_ENTITY, "DOCTYPE"),
        (
            b"<rsl " + NS.encode() + b">" + b"<x>" * (MAX_DEPTH + 5) + b"</x>" * (MAX_DEPTH + 5) + b"</rsl>",
            "deeper",
        ),
        (b"<rsl>" + b"<a>" * 3000 + b"</a>" * 3000 + b"</rsl>", "XML"),
        (b"<rsl " + NS.encode() + b">" + b" " * (SIZE_LIMIT + 1) + b"</rsl>", "larger"),
        (b"<rsl><content url='/'>", "not well-formed"),
        (b"\xff\xfe\x00garbage", "XML"),
        (b"<html><body>not a licence</body></html>", "root element"),
        (f"<rsl {NS}><content/></rsl>".encode(), "no <content url>"),
        (b"", "XML"),
    ],
)
def test_hostile_xml_is_invalid_unknown(body: bytes, why: str) -> None:
    f = RslFile.parse(body, LIC)
    assert f.state == "invalid" and why in f.detail
    s = f.signal("https://news.example/a", Policy())
    assert s is not None and s.verdict is Verdict.UNKNOWN and s.source == LIC


def test_fetch_outcomes() -> None:
    assert from_fetch("rsl", LIC, status=404).state == "unavailable"
    assert from_fetch("rsl", LIC, status=503).state == "unreachable"
    assert from_fetch("rsl", LIC, status=None, detail="TimeoutError").state == "unreachable"
    assert from_fetch("rsl", LIC, status=200, body=DOC, cut=True).state == "unreachable"
    assert from_fetch("rsl", LIC, status=200, body=DOC).state == "ok"


def test_link_header_discovery() -> None:
    links = licence_links(
        [
            '<https://a.example/l.xml>; rel="license"; type="application/rsl+xml", <https://a.example/x>; rel=next',
            '</terms.html>; rel="license"; type="text/html"',
        ]
    )
    assert links == ["https://a.example/l.xml"]


def test_engine_adds_the_licence_to_the_site_signals() -> None:
    robots = RobotsTxt.parse(
        b"User-agent: *\nAllow: /\nLicense: /license.xml\n", "https://news.example/robots.txt"
    )
    rsl = RslFile.parse(DOC, LIC)
    judge = Judge(Policy())
    with_rsl = judge.before_fetch(
        "https://news.example/story", SiteFiles("https://news.example", robots, rsl=rsl)
    )
    assert with_rsl.blocked and with_rsl.decision.decided_by is not None
    assert with_rsl.decision.decided_by.name == d.RSL
    without = judge.before_fetch("https://news.example/story", SiteFiles("https://news.example", robots))
    assert not without.blocked
    off = Judge(Policy(sources=frozenset(d.SIGNALS) - {d.RSL}))
    assert not off.before_fetch(
        "https://news.example/story", SiteFiles("https://news.example", robots, rsl=rsl)
    ).blocked


# -- explain --rsl -----------------------------------------------------------------------------


def test_explain_rsl(tmp_path: Path) -> None:
    (tmp_path / "robots.txt").write_text(
        "User-agent: *\nAllow: /\nLicense: https://news.example/license.xml\n"
    )
    (tmp_path / "lic.xml").write_bytes(DOC)
    cmd = [sys.executable, "-m", "noai_guard.cli", "explain", "https://news.example/story"]
    cmd += ["--robots", str(tmp_path / "robots.txt"), "--rsl", str(tmp_path / "lic.xml"), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert out.returncode == 1, out.stderr
    rec = json.loads(out.stdout)
    assert rec["verdict"] == "reserve" and rec["decided_by"]["name"] == "rsl"
    assert rec["decided_by"]["source"] == "https://news.example/license.xml"
    (tmp_path / "bomb.xml").write_bytes(BILLION_LAUGHS)
    cmd[-2] = str(tmp_path / "bomb.xml")
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    rec = json.loads(out.stdout)
    assert rec["verdict"] == "unknown" and "DOCTYPE" in rec["decided_by"]["evidence"]


# -- a live crawl --------------------------------------------------------------------------------


def test_crawl_honours_the_licence_robots_txt_names(tmp_path: Path, make_site: Callable[..., Site]) -> None:
    site = make_site(
        {
            "/robots.txt": Route(
                200, "User-agent: *\nAllow: /\nLicense: /license.xml\n", content_type="text/plain"
            ),
            "/license.xml": Route(200, DOC, content_type="application/rsl+xml"),
            "/story": Route(200, "<html><head></head><body>s</body></html>", content_type="text/html"),
            "/open/a": Route(200, "<html><head></head><body>o</body></html>", content_type="text/html"),
        }
    )
    story, opened = site.url("/story"), site.url("/open/a")
    res = run_crawl(tmp_path / "c", [story, opened])
    assert res.returncode == 0, res.log[-3000:]
    rec = res.decision_for(story)
    assert rec["action"] == "skipped" and rec["signal"] == "rsl" and rec["verdict"] == "reserve"
    assert rec["evidence_url"] == site.url("/license.xml") and rec["scope"] == "/"
    assert rec["evidence"] == '<content url="/"> <prohibits type="usage">ai-train</prohibits>'
    assert opened in res.callbacks and story not in res.callbacks
    assert site.count("/story") == 0 and site.count("/license.xml") == 1  # once per URL


def test_crawl_unreachable_licence_is_unknown_not_cached_as_allow(
    tmp_path: Path, make_site: Callable[..., Site]
) -> None:
    site = make_site(
        {
            "/robots.txt": Route(200, "User-agent: *\nLicense: /license.xml\n", content_type="text/plain"),
            "/license.xml": Route(503, "busy"),
            "/a": Route(200, "<html><head></head><body>a</body></html>", content_type="text/html"),
            "/b": Route(200, "<html><head></head><body>b</body></html>", content_type="text/html"),
        }
    )
    res = run_crawl(
        tmp_path / "c",
        [site.url("/a"), site.url("/b")],
        settings={
            "NOAI_GUARD_UNKNOWN_DEFAULT": "reserve",
            "NOAI_GUARD_RETRY_AFTER": 0,
            "CONCURRENT_REQUESTS": 1,
        },
    )
    assert res.returncode == 0, res.log[-3000:]
    rec = res.decision_for(site.url("/a"))
    assert rec["action"] == "skipped" and rec["signal"] == "rsl" and rec["verdict"] == "unknown"
    assert "HTTP 503" in rec["evidence"]
    assert res.decision_for(site.url("/b"))["verdict"] == "unknown"
    assert site.count("/license.xml") == 2  # unreachable is kept only for NOAI_GUARD_RETRY_AFTER


# -- a WARC audit --------------------------------------------------------------------------------


def _warc(path: Path, records: list[tuple[str, int, str, bytes]]) -> None:
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for url, status, ctype, body in records:
            http = StatusAndHeaders(f"{status} X", [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = w.create_warc_record(
                url,
                "response",
                payload=BytesIO(body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": "2026-01-02T03:04:05Z"},
            )
            w.write_record(rec)


def test_warc_audit_reads_the_captured_licence(tmp_path: Path) -> None:
    from noai_guard.cli import main

    page = b"<html><head></head><body>x</body></html>"
    robots = b"User-agent: *\nAllow: /\nLicense: https://news.example/license.xml\n"
    records = [
        ("https://news.example/robots.txt", 200, "text/plain", robots),
        ("https://news.example/license.xml", 200, "application/rsl+xml", DOC),
        ("https://news.example/story", 200, "text/html", page),
        ("https://news.example/open/a", 200, "text/html", page),
        ("https://plain.example/robots.txt", 200, "text/plain", robots.replace(b"news", b"plain")),
        ("https://plain.example/story", 200, "text/html", page),  # licence named, never captured
    ]
    warc = tmp_path / "a.warc.gz"
    _warc(warc, records)
    out = tmp_path / "t.jsonl"
    assert main(["audit", str(warc), "--out", str(out), "--no-progress"]) == 1
    recs = {r["url"]: r for r in map(json.loads, out.read_text().splitlines()) if r.get("type") == "decision"}
    story = recs["https://news.example/story"]
    assert story["action"] == "flagged" and story["signal"] == "rsl" and story["verdict"] == "reserve"
    assert story["evidence_url"] == "https://news.example/license.xml"
    assert story["capture"]["rsl"]["url"] == "https://news.example/license.xml"  # which capture
    assert story["evidence"] == '<content url="/"> <prohibits type="usage">ai-train</prohibits>'
    # /open/a: permitted; the licence is a site file, not a page; plain.example's licence was
    # never captured: no signal (not checked).  Only the story is flagged.
    assert set(recs) == {"https://news.example/story"}


# -- a licence named by the page: Link header, <link> in the head ------------------------------------

PAGE_DOC = f'<rsl {NS}><content url="/"><license><prohibits type="usage">ai-all</prohibits></license></content></rsl>'


def test_html_licence_links_reads_the_head_only() -> None:
    from noai_guard.rsl import html_licence_links

    body = (
        b"<html><head><link rel=stylesheet href=/s.css>"
        b"<LINK REL='License' TYPE='application/rsl+xml' HREF='/l.xml?a=1&amp;b=2'>"
        b'<link rel="license" type="text/html" href="/terms.html">'
        b'</head><body><link rel="license" type="application/rsl+xml" href="/late.xml"></body></html>'
    )
    assert html_licence_links(body) == ["/l.xml?a=1&b=2"]
    assert html_licence_links(b"<html><head><link rel=license href=/x></head></html>") == []


def test_crawl_honours_a_licence_the_page_names(tmp_path: Path, make_site: Callable[..., Site]) -> None:
    link = '</page-licence.xml>; rel="license"; type="application/rsl+xml"'
    head = '<link rel="license" type="application/rsl+xml" href="/page-licence.xml">'
    site = make_site(
        {
            "/robots.txt": Route(200, "User-agent: *\nAllow: /\n", content_type="text/plain"),
            "/page-licence.xml": Route(200, PAGE_DOC, content_type="application/rsl+xml"),
            "/by-header": Route(
                200, "<html><head></head><body>h</body></html>", [("Link", link)], content_type="text/html"
            ),
            "/by-link": Route(
                200, f"<html><head>{head}</head><body>l</body></html>", content_type="text/html"
            ),
            "/plain": Route(200, "<html><head></head><body>p</body></html>", content_type="text/html"),
        }
    )
    urls = [site.url("/by-header"), site.url("/by-link"), site.url("/plain")]
    res = run_crawl(tmp_path / "c", urls, settings={"CONCURRENT_REQUESTS": 1})
    assert res.returncode == 0, res.log[-3000:]
    for u in urls[:2]:
        rec = res.decision_for(u)
        assert rec["action"] == "dropped" and rec["signal"] == "rsl" and rec["phase"] == "post-fetch", rec
        assert rec["evidence_url"] == site.url("/page-licence.xml")
        assert rec["evidence"] == '<content url="/"> <prohibits type="usage">ai-all</prohibits>'
        assert u not in res.callbacks
    assert urls[2] in res.callbacks
    assert site.count("/page-licence.xml") == 1  # once per URL, cached


def test_warc_audit_reads_a_licence_the_record_names(tmp_path: Path) -> None:
    from noai_guard.cli import main

    head = b'<html><head><link rel="license" type="application/rsl+xml" href="/l.rsl"></head><body>x</body></html>'
    records = [
        ("https://pages.example/robots.txt", 200, "text/plain", b"User-agent: *\nAllow: /\n"),
        ("https://pages.example/l.rsl", 200, "application/xml", PAGE_DOC.encode()),
        ("https://pages.example/story", 200, "text/html", head),
        ("https://pages.example/other", 200, "text/html", head.replace(b"/l.rsl", b"/missing.rsl")),
    ]
    warc = tmp_path / "p.warc.gz"
    _warc(warc, records)
    out = tmp_path / "t.jsonl"
    assert main(["audit", str(warc), "--out", str(out), "--no-progress"]) == 1
    recs = {r["url"]: r for r in map(json.loads, out.read_text().splitlines()) if r.get("type") == "decision"}
    story = recs["https://pages.example/story"]
    assert story["action"] == "flagged" and story["signal"] == "rsl"
    assert story["evidence_url"] == "https://pages.example/l.rsl"
    assert set(recs) == {"https://pages.example/story"}  # /other's licence was never captured


@pytest.mark.parametrize(
    ("route", "why"),
    [
        (Route(200, DOC, delay=5.0, content_type="application/rsl+xml"), "TimeoutError"),  # stalls
        (
            Route(
                200, b"<rsl>" + b"<content url='/'/>" * 60000 + b"</rsl>", content_type="application/rsl+xml"
            ),
            "XML",
        ),
    ],
    ids=["stalling-licence-server", "huge-licence"],
)
def test_crawl_bad_licence_is_unknown_never_a_crash(
    tmp_path: Path, make_site: Callable[..., Site], route: Route, why: str
) -> None:
    site = make_site(
        {
            "/robots.txt": Route(200, "User-agent: *\nLicense: /license.xml\n", content_type="text/plain"),
            "/license.xml": route,
            "/a": Route(200, "<html><head></head><body>a</body></html>", content_type="text/html"),
        }
    )
    res = run_crawl(tmp_path / "c", [site.url("/a")], settings={"DOWNLOAD_TIMEOUT": 1})
    assert res.returncode == 0, res.log[-3000:]
    rec = res.decision_for(site.url("/a"))  # unknown: recorded (allowed by the default policy)
    (sig,) = [s for s in rec["signals"] if s["name"] == "rsl"]
    assert sig["verdict"] == "unknown" and why in sig["evidence"], sig
    assert "Traceback" not in res.log


def test_explain_rsl_licence_required_flag(tmp_path: Path) -> None:
    lic = tmp_path / "srv.xml"
    lic.write_text(f'<rsl {NS}><content url="/" server="https://ls.example/"><license/></content></rsl>')
    base = [sys.executable, "-m", "noai_guard.cli", "explain", "https://ex.example/a", "--rsl", str(lic)]
    run = lambda *extra: subprocess.run([*base, *extra], capture_output=True, text=True, check=False)
    assert run().returncode == 1  # reserve: a licence to obtain first
    assert run("--rsl-licence-required", "unknown").returncode == 3
    bad = run("--rsl-licence-required", "allow")
    assert bad.returncode == 2 and "--rsl-licence-required" in bad.stderr


def test_an_answer_that_is_not_a_page_names_no_licence_to_fetch() -> None:
    """A 401/402/403's licence pointer is access-required's evidence: nothing was obtained, so
    the licence is not fetched and judged for it (a 2xx page's is)."""
    judge = Judge(Policy())
    link = ['</license.xml>; rel="license"; type="application/rsl+xml"']
    url = "https://example.com/paid"
    assert judge.page_licences(url, link, None, 200) == ["https://example.com/license.xml"]
    for status in (401, 402, 403, 404, 503):
        assert judge.page_licences(url, link, None, status) == []
