"""NoAIGuardMiddleware end to end: real crawls (in a subprocess) against local servers."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawlutil import CrawlResult, Route, Site, closed_port, html, image, page, redirect, text

Crawl = Callable[..., CrawlResult]
MakeSite = Callable[..., Site]

EPOLL = "twisted.internet.epollreactor.EPollReactor"


def assert_skipped(r: CrawlResult, site: Site, url: str, signal: str, **fields: Any) -> dict[str, Any]:
    """Skipped before the fetch: a record, never requested, never seen by the spider."""
    rec = r.decision_for(url)
    assert rec["action"] == "skipped", rec
    assert rec["phase"] == "pre-fetch"
    assert rec["signal"] == signal, rec
    for k, v in fields.items():
        assert rec[k] == v, (k, rec)
    parts = urlsplit(url)
    assert site.count(parts.path, scheme=parts.scheme) == 0, f"{url} was requested"
    assert url not in r.callbacks
    return rec


def assert_dropped(r: CrawlResult, url: str, signal: str, **fields: Any) -> dict[str, Any]:
    rec = r.decision_for(url)
    assert rec["action"] == "dropped", rec
    assert rec["phase"] == "post-fetch"
    assert rec["signal"] == signal, rec
    for k, v in fields.items():
        assert rec[k] == v, (k, rec)
    assert url not in r.callbacks
    assert url not in {i["url"] for i in r.items}
    return rec


def assert_allowed(r: CrawlResult, url: str) -> None:
    assert url in r.callbacks, (url, r.log[-4000:])
    blocked = [x for x in r.decisions() if x["url"] == url and x["action"] != "allowed"]
    assert not blocked, blocked


# -- every signal, end to end ---------------------------------------------------------


def test_each_signal_end_to_end(crawl: Crawl, make_site: MakeSite) -> None:
    own = make_site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n\nUser-agent: testbot\nDisallow: /private\n"),
            "/private/x": page(),
            "/ok": page(),
        }
    )
    proxy = make_site({"/robots.txt": text("User-agent: GPTBot\nDisallow: /\n"), "/x": page()})
    pages = make_site(
        {
            "/xrt": page(headers=[("X-Robots-Tag", "noai")]),
            "/xrt-other": page(headers=[("X-Robots-Tag", "otherbot: noai")]),
            "/meta": page('<meta name="robots" content="noai">'),
            "/meta-gz": page('<meta name="ROBOTS" content="NOAI, nofollow">', encoding="gzip"),
            "/meta-br": page('<meta name="testbot" content="noai">', encoding="br"),
            "/meta-deflate": page('<meta name="robots" content="noai">', encoding="deflate"),
            "/noimageai": page('<meta name="robots" content="noimageai">'),
            "/plain-gz": page('<meta name="robots" content="noindex">', encoding="gzip"),
        }
    )
    tdm = make_site(
        {
            "/.well-known/tdmrep.json": Route(
                body=json.dumps(
                    [
                        {"location": "/reserved/", "tdm-reservation": 1},
                        {"location": "/", "tdm-reservation": 0},
                    ]
                ),
                content_type="application/json",
            ),
            "/reserved/x": page(),
            "/hdr": page(headers=[("tdm-reservation", "1")]),
            "/hdr-meta": page(
                '<meta name="tdm-reservation" content="0">', headers=[("tdm-reservation", "1")]
            ),
            "/open": page(),
        }
    )
    usage = make_site(
        {
            "/robots.txt": text(
                "User-Agent: *\nAllow: /\nContent-Usage: train-ai=y\nContent-Usage: /no-train/ train-ai=n\n"
            ),
            "/cu-header": page(headers=[("Content-Usage", "train-ai=n")]),
            "/no-train/x": page(),
            "/cu-ok": page(),
        }
    )
    csig = make_site(
        {
            "/robots.txt": text("User-Agent: *\nContent-signal: search=yes, ai-train=no\nAllow: /\n"),
            "/x": page(),
        }
    )
    aitxt = make_site(
        {
            "/ai.txt": text("# Spawning AI\nUser-Agent: *\nDisallow: *.jpg\n"),
            "/img/a.jpg": image(),
            "/a.png": image(),
        }
    )
    urls = [
        own.url("/private/x"),
        own.url("/ok"),
        proxy.url("/x"),
        *(pages.url(p) for p in pages.routes),
        *(tdm.url(p) for p in ("/reserved/x", "/hdr", "/hdr-meta", "/open")),
        *(usage.url(p) for p in ("/cu-header", "/no-train/x", "/cu-ok")),
        csig.url("/x"),
        aitxt.url("/img/a.jpg"),
        aitxt.url("/a.png"),
    ]
    r = crawl(urls)
    assert r.returncode == 0, r.log[-3000:]

    rec = assert_skipped(r, own, own.url("/private/x"), "robots-txt", own_token=True, user_agent="testbot")
    assert rec["evidence"] == "Disallow: /private"
    assert rec["evidence_url"] == own.url("/robots.txt")
    assert rec["line"] == 5
    assert_allowed(r, own.url("/ok"))

    rec = assert_skipped(r, proxy, proxy.url("/x"), "robots-txt-proxy", own_token=False, user_agent="GPTBot")
    assert rec["evidence_url"] == proxy.url("/robots.txt")

    assert_dropped(r, pages.url("/xrt"), "x-robots-tag", evidence="noai", evidence_url=pages.url("/xrt"))
    assert_allowed(r, pages.url("/xrt-other"))
    assert_dropped(r, pages.url("/meta"), "meta-robots")
    # gzip / br / deflate bodies are decoded before the head is read.
    assert_dropped(r, pages.url("/meta-gz"), "meta-robots")
    assert_dropped(r, pages.url("/meta-br"), "meta-robots", own_token=True)
    assert_dropped(r, pages.url("/meta-deflate"), "meta-robots")
    assert_dropped(r, pages.url("/noimageai"), "meta-robots")
    assert_allowed(r, pages.url("/plain-gz"))

    rec = assert_skipped(r, tdm, tdm.url("/reserved/x"), "tdmrep")
    assert rec["evidence_url"] == tdm.url("/.well-known/tdmrep.json")
    # TDMRep layering: the header supersedes the file's 0; the meta supersedes the header.
    assert_dropped(r, tdm.url("/hdr"), "tdmrep")
    assert_allowed(r, tdm.url("/hdr-meta"))
    assert_allowed(r, tdm.url("/open"))

    # Content-Usage: the header's n combines with the robots.txt record's y (any disallow wins).
    assert_dropped(r, usage.url("/cu-header"), "content-usage")
    assert_skipped(r, usage, usage.url("/no-train/x"), "content-usage")
    assert_allowed(r, usage.url("/cu-ok"))

    assert_skipped(r, csig, csig.url("/x"), "content-signal")

    rec = assert_skipped(r, aitxt, aitxt.url("/img/a.jpg"), "ai-txt")
    assert rec["evidence_url"] == aitxt.url("/ai.txt")
    assert_allowed(r, aitxt.url("/a.png"))

    # Each site file was fetched once per origin, and every record is complete.
    for site in (own, proxy, pages, tdm, usage, csig, aitxt):
        assert site.count("/robots.txt") == 1
        assert site.count("/.well-known/tdmrep.json") == 1
        assert site.count("/ai.txt") == 1
    for rec in r.decisions():
        for key in (
            "time",
            "url",
            "purpose",
            "verdict",
            "action",
            "signal",
            "evidence",
            "evidence_url",
            "line",
            "user_agent",
            "own_token",
            "run_id",
            "version",
        ):
            assert key in rec
        assert rec["run_id"] == r.trail[0]["run_id"]
    assert r.stat("noai_guard/skipped") == 6
    assert r.stat("noai_guard/dropped") == 8
    assert r.stat("noai_guard/reason_count/meta-robots") == 5
    assert r.stat("noai_guard/request_count") == len(urls)


# -- RFC 9309 §2.3.1 status handling, under the default (epoll) reactor -------------------

DISALLOW_ALL = "User-agent: *\nDisallow: /\n"


def _chain(n: int, final: Route) -> dict[str, Route]:
    """/robots.txt -> /r1 -> ... -> /rn (n redirects), /rn serves ``final``."""
    routes: dict[str, Route] = {}
    hops = ["/robots.txt"] + [f"/r{i}" for i in range(1, n + 1)]
    for a, b in itertools.pairwise(hops):
        routes[a] = redirect(b, status=302 if len(routes) % 2 else 301)
    routes[hops[-1]] = final
    return routes


def test_rfc9309_status_cases(crawl: Crawl, make_site: MakeSite) -> None:
    big = "User-agent: testbot\nDisallow: /private\n" + "# padding padding padding\n" * 41000
    big += "User-agent: testbot\nDisallow: /late\n"  # beyond 500 KiB: not parsed (§2.5)
    assert len(big) > 1024 * 1024
    target = make_site({"/rules.txt": text(DISALLOW_ALL), "/x": page()})
    cases: dict[str, Site] = {
        "200": make_site({"/robots.txt": text(DISALLOW_ALL), "/x": page()}),
        "404": make_site({"/robots.txt": text("User-agent: *\nDisallow: /\n", status=404), "/x": page()}),
        "403": make_site({"/robots.txt": text("forbidden", status=403), "/x": page()}),
        "429": make_site({"/robots.txt": text("slow down", status=429), "/x": page()}),
        "500": make_site({"/robots.txt": text("User-agent: *\nAllow: /\n", status=500), "/x": page()}),
        "503": make_site({"/robots.txt": page(body="<h1>down</h1>", status=503), "/x": page()}),
        "timeout": make_site({"/robots.txt": text("User-agent: *\nAllow: /\n", delay=3), "/x": page()}),
        "5-redirects": make_site({**_chain(5, text(DISALLOW_ALL)), "/x": page()}),
        "6-redirects": make_site({**_chain(6, text(DISALLOW_ALL)), "/x": page()}),
        "cross-host": make_site(
            {"/robots.txt": redirect(target.url("/rules.txt", host="localhost")), "/x": page()}
        ),
        "1MiB": make_site({"/robots.txt": text(big), "/private/x": page(), "/late": page(), "/x": page()}),
    }
    refused = f"http://127.0.0.1:{closed_port()}/x"
    urls = [s.url("/x") for s in cases.values()] + [
        refused,
        cases["1MiB"].url("/private/x"),
        cases["1MiB"].url("/late"),
    ]
    r = crawl(
        urls, settings={"DOWNLOAD_TIMEOUT": 1, "TWISTED_REACTOR": EPOLL, "NOAI_GUARD_AUDIT_ALLOWED": True}
    )
    assert r.returncode == 0, r.log[-3000:]
    assert "EPollReactor" in r.log

    # 2xx: parse and obey.
    assert_skipped(r, cases["200"], cases["200"].url("/x"), "robots-txt", verdict="reserve")
    # 4xx other than 429: unavailable, no rules (§2.3.1.3), even with a rule-like body.
    assert_allowed(r, cases["404"].url("/x"))
    assert_allowed(r, cases["403"].url("/x"))
    # 429, 5xx, timeout, connection refused: unreachable, complete disallow (§2.3.1.4), never parsed.
    for name in ("429", "500", "503", "timeout"):
        rec = assert_skipped(r, cases[name], cases[name].url("/x"), "robots-txt", verdict="unknown")
        assert "2.3.1.4" in rec["resolution"], rec
    rec = r.decision_for(refused)
    assert (rec["action"], rec["signal"], rec["verdict"]) == ("skipped", "robots-txt", "unknown")
    assert "ConnectionRefused" in json.dumps(rec["signals"])
    assert "TimeoutError" in json.dumps(r.decision_for(cases["timeout"].url("/x"))["signals"])
    # Five redirects are followed (§2.3.1.2) and the rules apply to the original origin.
    assert_skipped(r, cases["5-redirects"], cases["5-redirects"].url("/x"), "robots-txt", verdict="reserve")
    assert cases["5-redirects"].count("/r5") == 1
    # A sixth redirect is taken as unavailable: no rules.
    assert_allowed(r, cases["6-redirects"].url("/x"))
    assert cases["6-redirects"].count("/r6") == 0
    assert "more than 5 redirects" in json.dumps(r.decision_for(cases["6-redirects"].url("/x"))["signals"])
    # A redirect to another host is followed; the file applies to the original origin.
    assert_skipped(r, cases["cross-host"], cases["cross-host"].url("/x"), "robots-txt", verdict="reserve")
    assert target.count("/rules.txt") == 1
    # A 1 MiB robots.txt is parsed (its first 500 KiB), not treated as a failure.
    big_site = cases["1MiB"]
    assert_skipped(r, big_site, big_site.url("/private/x"), "robots-txt", verdict="reserve")
    assert_allowed(r, big_site.url("/x"))
    assert_allowed(r, big_site.url("/late"))

    # Stats and the run summary: fetch outcomes by status class, per origin.
    assert r.stat("noai_guard/robots/response_status_count/503") == 1
    assert r.stat("noai_guard/robots/response_status_count/301") >= 3
    assert r.stat("noai_guard/unknown_count/robots-txt") == 5
    refused_keys = [k for k in r.stats if k.startswith("noai_guard/robots/exception_count/")]
    assert any(k.endswith("ConnectionRefusedError") for k in refused_keys), refused_keys
    assert any(k.endswith("TimeoutError") for k in refused_keys), refused_keys
    summary = r.trail[-1]
    assert summary["type"] == "summary"
    origins = summary["origins"]
    assert origins[cases["503"].origin]["fetch"]["robots"] == {"5xx": 1}
    assert origins[cases["404"].origin]["fetch"]["robots"] == {"4xx": 1}
    assert origins[cases["6-redirects"].origin]["fetch"]["robots"] == {"3xx": 1}
    assert origins[f"http://127.0.0.1:{refused.split(':')[2].split('/')[0]}"]["fetch"]["robots"] == {
        "error": 1
    }
    assert origins[cases["429"].origin]["skipped"] == 1
    assert origins[cases["429"].origin]["unknown"] == 1
    assert origins[cases["429"].origin]["by_signal"] == {"robots-txt": 1}


# -- once per origin, TTL, back-off, origins, ROBOTSTXT_OBEY ------------------------------


def test_one_fetch_for_200_concurrent_requests(crawl: Crawl, make_site: MakeSite) -> None:
    routes: dict[str, Route] = {"/robots.txt": text("User-agent: testbot\nDisallow: /odd/\n", delay=0.5)}
    urls = []
    for i in range(200):
        path = f"/{'odd' if i % 2 else 'even'}/{i}"
        routes[path] = page()
        urls.append(path)
    site = make_site(routes)
    r = crawl(
        [site.url(p) for p in urls],
        settings={"CONCURRENT_REQUESTS": 256, "CONCURRENT_REQUESTS_PER_DOMAIN": 64},
    )
    assert r.returncode == 0, r.log[-3000:]
    # Every request waited for one fetch of each site file (and each got the answer).
    assert site.count("/robots.txt") == 1
    assert site.count("/.well-known/tdmrep.json") == 1
    assert site.count("/ai.txt") == 1
    assert r.stat("noai_guard/request_count") == 200
    assert r.stat("noai_guard/skipped") == 100
    assert len(r.callbacks) == 100
    assert all("/even/" in u for u in r.callbacks)
    assert not any("/odd/" in p for p in site.paths())


def test_refetch_after_ttl_and_after_back_off(crawl: Crawl, make_site: MakeSite) -> None:
    down = make_site({"/robots.txt": text("oops", status=503), "/a": page(), "/b": page()})
    up = make_site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
            # Answers after the TTL and the back-off have passed, then links on.
            "/slow": page(body=f'<a href="/next">n</a><a href="{down.url("/b")}">b</a>', delay=1.6),
            "/next": page(),
        }
    )
    r = crawl(
        [up.url("/slow"), down.url("/a")],
        settings={"NOAI_GUARD_CACHE_TTL": 1, "NOAI_GUARD_RETRY_AFTER": 1},
        spider={"follow": True},
    )
    assert r.returncode == 0, r.log[-3000:]
    assert up.url("/next") in r.callbacks
    # RFC 9309 §2.4: not used beyond the TTL; fetched again for /next.
    assert up.count("/robots.txt") == 2
    # An unreachable robots.txt is kept only for the back-off, then fetched again (still 503).
    assert down.count("/robots.txt") == 2
    assert r.decision_for(down.url("/a"))["action"] == "skipped"
    assert r.decision_for(down.url("/b"))["action"] == "skipped"


def test_http_and_https_are_separate_origins_with_robotstxt_obey(crawl: Crawl, make_site: MakeSite) -> None:
    """One host and port, two schemes, two robots.txt; Scrapy's own robots.txt request is served
    from noai_guard's fetch, so each file is downloaded exactly once."""
    both = make_site(
        {"/robots.txt": text(DISALLOW_ALL), "/page": page()},
        tls=True,
        https_routes={"/robots.txt": text("User-agent: *\nDisallow: /private\n")},
    )
    status503 = make_site({"/robots.txt": text("down", status=503), "/page": page()})
    status404 = make_site({"/page": page(), "/other": page()})
    redirected = make_site(
        {**_chain(2, text("User-agent: testbot\nDisallow: /no\n")), "/page": page(), "/no": page()}
    )
    urls = [
        both.url("/page"),
        both.url("/page", scheme="https"),
        both.url("/private", scheme="https"),
        status503.url("/page"),
        status404.url("/page"),
        status404.url("/other"),
        redirected.url("/page"),
        redirected.url("/no"),
    ]
    r = crawl(urls, settings={"ROBOTSTXT_OBEY": True})
    assert r.returncode == 0, r.log[-3000:]
    assert_skipped(r, both, both.url("/page"), "robots-txt")
    assert_allowed(r, both.url("/page", scheme="https"))
    rec = r.decision_for(both.url("/private", scheme="https"))
    assert rec["action"] == "skipped"
    assert rec["evidence_url"] == both.url("/robots.txt", scheme="https")
    assert both.count("/robots.txt", scheme="http") == 1
    assert both.count("/robots.txt", scheme="https") == 1
    # Scrapy's RobotsTxtMiddleware would allow all on a 5xx; noai_guard still blocks (§2.3.1.4).
    assert r.decision_for(status503.url("/page"))["action"] == "skipped"
    assert status503.count("/robots.txt") == 1
    assert status404.count("/robots.txt") == 1
    assert_allowed(r, status404.url("/page"))
    assert redirected.count("/robots.txt") == 1
    assert redirected.count("/r2") == 1
    assert_allowed(r, redirected.url("/page"))
    assert r.decision_for(redirected.url("/no"))["action"] == "skipped"
    # Scrapy's middleware ran and was answered from noai_guard's fetch.
    assert r.stat("robotstxt/request_count") >= 3
    assert r.stat("noai_guard/robots/reused") >= 3
    assert r.stat("robotstxt/forbidden") == 0  # noai_guard decided first
    origins = r.trail[-1]["origins"]
    assert both.url("", scheme="https") in origins
    assert both.url("") in origins


# -- nothing reserved leaks: callback, item pipeline, feed, HTTP cache -------------------


def test_reserved_responses_never_leak(crawl: Crawl, make_site: MakeSite, tmp_path: Path) -> None:
    site = make_site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
            "/ok": page(body="<p>allowed-marker</p>"),
            "/ok-gz": page(body="<p>allowed-gz-marker</p>", encoding="gzip"),
            "/xrt": page(body="<p>secret-xrt</p>", headers=[("X-Robots-Tag", "noai")]),
            "/meta-gz": page('<meta name="robots" content="noai">', "<p>secret-gz</p>", encoding="gzip"),
            "/meta-br": page('<meta name="robots" content="noimageai">', "<p>secret-br</p>", encoding="br"),
            "/tdm": page(body="<p>secret-tdm</p>", headers=[("tdm-reservation", "1")]),
        }
    )
    cache = tmp_path / "httpcache"
    reserved = ["/xrt", "/meta-gz", "/meta-br", "/tdm"]
    r = crawl(
        [site.url(p) for p in ["/ok", "/ok-gz", *reserved]],
        settings={"HTTPCACHE_ENABLED": True, "HTTPCACHE_DIR": str(cache)},
    )
    assert r.returncode == 0, r.log[-3000:]
    for p in reserved:
        url = site.url(p)
        assert site.count(p) == 1  # fetched, then dropped
        assert r.decision_for(url)["action"] == "dropped"
        assert url not in r.callbacks
        assert url not in {i["url"] for i in r.items}
        assert url not in {i["url"] for i in r.feed}
    assert {site.url("/ok"), site.url("/ok-gz")} <= set(r.callbacks)
    assert {i["url"] for i in r.feed} == {site.url("/ok"), site.url("/ok-gz")}
    assert {i["url"] for i in r.items} == {site.url("/ok"), site.url("/ok-gz")}
    # The HTTP cache holds the allowed pages and nothing reserved.
    stored = b"".join(f.read_bytes() for f in cache.rglob("*") if f.is_file())
    assert b"/ok-gz" in stored and site.url("/ok").encode() in stored
    for p in reserved:
        assert site.url(p).encode() not in stored, p
    assert r.stat("httpcache/store") == 2
    assert r.stat("noai_guard/dropped") == 4


# -- images: noimageai / noai reserve embedded images; real Files/ImagesPipeline -----------


def _media_settings(tmp_path: Path) -> dict[str, Any]:
    return {
        "ITEM_PIPELINES": {
            "crawlutil.RecordPipeline": 900,
            "scrapy.pipelines.images.ImagesPipeline": 1,
            "scrapy.pipelines.files.FilesPipeline": 2,
        },
        "IMAGES_STORE": str(tmp_path / "images"),
        "FILES_STORE": str(tmp_path / "files"),
    }


def test_images_of_a_reserving_page_are_skipped_by_pipelines(
    crawl: Crawl, make_site: MakeSite, tmp_path: Path
) -> None:
    cdn = make_site(
        {
            "/shared.png": image(),
            "/ok.png": image(),
            "/xrt.png": image(headers=[("X-Robots-Tag", "noimageai")]),
        }
    )
    site = make_site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
            # Reserved page (dropped): its images are remembered.
            "/noai": page(
                '<meta name="robots" content="noai"><meta property="og:image" content="/og.png">',
                f'<img src="{cdn.url("/shared.png")}"><picture><source srcset="/pic.png 2x"></picture>',
            ),
            # An allowed page, slower, embeds the same image: the pipelines ask for it and are refused.
            "/later": page(
                body=f'<img src="{cdn.url("/shared.png")}"><img src="{cdn.url("/ok.png")}"><img src="/og.png">'
                f'<img src="{cdn.url("/xrt.png")}">',
                delay=0.5,
            ),
            "/og.png": image(),
        }
    )
    r = crawl(
        [site.url("/noai"), site.url("/later")], settings=_media_settings(tmp_path), spider={"media": True}
    )
    assert r.returncode == 0, r.log[-3000:]
    page_url = site.url("/noai")
    assert r.decision_for(page_url)["action"] == "dropped"
    for url in (cdn.url("/shared.png"), site.url("/og.png")):
        rec = r.decision_for(url)
        assert rec["action"] == "skipped"
        assert rec["signal"] == "embedding-page"
        assert rec["evidence"] == '<meta name="robots" content="noai">'
        assert rec["evidence_url"] == page_url
    # Never requested from the server, by either pipeline.
    assert cdn.count("/shared.png") == 0
    assert site.count("/og.png") == 0
    # The allowed image was downloaded and stored by both pipelines.
    assert cdn.count("/ok.png") >= 1
    item = next(i for i in r.items if i["url"] == site.url("/later"))
    assert [x["url"] for x in item["images"]] == [cdn.url("/ok.png")]
    assert [x["url"] for x in item["files"]] == [cdn.url("/ok.png")]
    assert len(list((tmp_path / "images").rglob("*.jpg"))) == 1
    # An image response carrying X-Robots-Tag: noimageai is dropped after the fetch.
    rec = r.decision_for(cdn.url("/xrt.png"))
    assert (rec["action"], rec["signal"]) == ("dropped", "x-robots-tag")
    assert r.stat("noai_guard/reason_count/embedding-page") >= 2


def test_lenient_noimageai_lets_text_through_but_not_images(
    crawl: Crawl, make_site: MakeSite, tmp_path: Path
) -> None:
    site = make_site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
            "/gallery": page(
                '<meta name="robots" content="noimageai">',
                '<img src="/a.png"><img srcset="/b.png 1x, /c.png 2x">',
                encoding="gzip",
            ),
            "/a.png": image(),
            "/b.png": image(),
            "/c.png": image(),
        }
    )
    r = crawl(
        [site.url("/gallery")],
        settings={**_media_settings(tmp_path), "NOAI_GUARD_LENIENT_NOIMAGEAI": True},
        spider={"media": True},
    )
    assert r.returncode == 0, r.log[-3000:]
    assert site.url("/gallery") in r.callbacks  # the text passes in lenient mode
    rec = r.decision_for(site.url("/a.png"))
    assert (rec["action"], rec["signal"], rec["evidence_url"]) == (
        "skipped",
        "embedding-page",
        site.url("/gallery"),
    )
    assert site.count("/a.png") == 0
    assert site.paths().count("/gallery") == 1
    assert r.stat("noai_guard/images/reserved") == 3
    assert not list((tmp_path / "images").rglob("*.jpg"))


# -- audit-only mode, bypass, per-spider settings --------------------------------------------


def test_audit_only_flags_and_attaches_decisions(crawl: Crawl, make_site: MakeSite) -> None:
    site = make_site(
        {
            "/robots.txt": text("User-agent: testbot\nDisallow: /private\n"),
            "/private/x": page(headers=[("X-Robots-Tag", "noai")]),
            "/xrt": page(headers=[("X-Robots-Tag", "noai")]),
            "/ok": page(),
        }
    )
    urls = [site.url(p) for p in ("/private/x", "/xrt", "/ok")]
    r = crawl(urls, settings={"NOAI_GUARD_ENFORCE": False})
    assert r.returncode == 0, r.log[-3000:]
    assert set(r.callbacks) == set(urls)  # nothing dropped
    flagged = r.decisions("flagged")
    assert sorted(x["url"] for x in flagged) == sorted(urls[:2])  # one record per URL
    by_url = {x["url"]: x for x in flagged}
    assert (by_url[urls[0]]["phase"], by_url[urls[0]]["signal"]) == ("pre-fetch", "robots-txt")
    assert (by_url[urls[1]]["phase"], by_url[urls[1]]["signal"]) == ("post-fetch", "x-robots-tag")
    assert not r.decisions("skipped") and not r.decisions("dropped")
    items = {i["url"]: i for i in r.items}
    assert items[urls[0]]["decision"] == {"verdict": "reserve", "blocked": True, "signal": "robots-txt"}
    assert items[urls[1]]["decision"]["blocked"] is True
    assert items[urls[2]]["decision"]["blocked"] is False  # allowed decisions are attached too
    assert r.stat("noai_guard/flagged") == 2
    assert r.stat("noai_guard/skipped") == 0
    assert r.trail[0]["mode"] == "audit-only"
    assert r.trail[-1]["origins"][site.origin]["flagged"] == 2


def test_dont_obey_noai_and_per_spider_custom_settings(
    crawl: Crawl, make_site: MakeSite, tmp_path: Path
) -> None:
    site = make_site(
        {
            "/robots.txt": text(
                "User-agent: custombot\nDisallow: /mine\n\nUser-agent: testbot\nDisallow: /\n"
            ),
            "/mine": page(),
            "/bypass": page(headers=[("X-Robots-Tag", "noai")]),
            "/other": page(),
        }
    )
    trail = tmp_path / "custom" / "%(name)s.jsonl"
    r = crawl(
        [site.url("/mine"), site.url("/bypass"), site.url("/other")],
        # The project enables nothing; the spider lists the add-on and its own settings.
        settings={"ADDONS": {}, "NOAI_GUARD_AUDIT_URI": "unused.jsonl"},
        spider={
            "name": "perspider",
            "custom_settings": {
                "ADDONS": {"noai_guard.NoAIGuardAddon": 0},
                "NOAI_GUARD_USER_AGENTS": ["custombot"],
                "NOAI_GUARD_PROXY_TOKENS": [],
                "NOAI_GUARD_AUDIT_URI": str(trail),
            },
            "meta": {site.url("/bypass"): {"dont_obey_noai": True}},
        },
    )
    assert r.returncode == 0, r.log[-3000:]
    from noai_guard.auditlog import read_audit

    records = list(read_audit(tmp_path / "custom" / "perspider.jsonl"))
    run = records[0]
    assert run["policy"]["user_agents"] == ["custombot"]
    assert run["policy"]["proxy_tokens"] == []
    skipped = [x for x in records if x.get("action") == "skipped"]
    assert [x["url"] for x in skipped] == [site.url("/mine")]
    assert skipped[0]["user_agent"] == "custombot"
    # testbot's Disallow: / does not bind custombot; the bypassed request is not checked.
    assert site.url("/other") in r.callbacks
    assert site.url("/bypass") in r.callbacks
    assert not [x for x in records if x.get("url") == site.url("/bypass")]
    assert r.stat("noai_guard/bypassed") == 1
    assert not (r.workdir / "unused.jsonl").exists()


def test_disabled_without_the_addon(crawl: Crawl, make_site: MakeSite) -> None:
    site = make_site({"/robots.txt": text(DISALLOW_ALL), "/x": page(headers=[("X-Robots-Tag", "noai")])})
    r = crawl([site.url("/x")], settings={"ADDONS": {}})
    assert r.returncode == 0
    assert site.url("/x") in r.callbacks
    assert not r.trail
    assert not [k for k in r.stats if k.startswith("noai_guard/")]
    assert site.count("/robots.txt") == 0


def test_bad_settings_stop_the_crawl_at_start(crawl: Crawl, make_site: MakeSite) -> None:
    site = make_site({"/x": page()})
    r = crawl([site.url("/x")], settings={"NOAI_GUARD_UNKNOWN": {"robots-txt": "maybe"}})
    assert "NOAI_GUARD_UNKNOWN" in (r.workdir / "stdout.txt").read_text() + r.log
    assert site.count("/x") == 0


def test_unknowns_of_a_switched_off_source_are_not_counted(crawl: Crawl, make_site: MakeSite) -> None:
    # robots.txt is still fetched for Content-Usage / Content-Signal; its robots-txt signal is off.
    site = make_site({"/robots.txt": text("down", status=503), "/x": page()})
    r = crawl([site.url("/x")], settings={"NOAI_GUARD_SOURCES": ["content-usage", "content-signal"]})
    assert_allowed(r, site.url("/x"))
    assert site.count("/robots.txt") >= 1
    assert r.stat("noai_guard/robots/response_status_count/503") >= 1
    assert r.stat("noai_guard/unknown_count/robots-txt") == 0
    summary = r.trail[-1]
    assert summary["origins"][site.origin]["unknown"] == 0
    # The same server with the source on: the unknown is counted and blocks (RFC 9309 §2.3.1.4).
    r = crawl([site.url("/x")])
    assert r.stat("noai_guard/unknown_count/robots-txt") == 1
    assert r.decision_for(site.url("/x"))["action"] == "skipped"


def test_bodies_read_as_scrapy_reads_them(crawl: Crawl, make_site: MakeSite) -> None:
    """Headers sent as several field lines, UTF-16 pages, heads past the budget, gzip members."""
    import gzip

    import brotli  # type: ignore[import-untyped]

    noai = html('<meta name="robots" content="noai">').encode()
    long_head = html(
        "".join(f'<meta name="x{i}" content="{"y" * 60}">' for i in range(40))
        + '<meta name="robots" content="noai">'
    )
    site = make_site(
        {
            # Content-Encoding in two field lines (RFC 9110 §5.3): br(gzip(page)).
            "/two-lines": Route(
                body=brotli.compress(gzip.compress(noai)),
                headers=[("Content-Encoding", "gzip"), ("Content-Encoding", "br")],
                content_type="text/html",
            ),
            # UTF-16LE without a BOM, labelled by the Content-Type only.
            "/utf16": Route(
                body=html('<meta name="robots" content="noai">').encode("utf-16-le"),
                content_type="text/html; charset=utf-16le",
            ),
            # Two gzip members.
            "/members": Route(
                body=gzip.compress(noai[:40]) + gzip.compress(noai[40:]),
                headers=[("Content-Encoding", "gzip")],
                content_type="text/html",
            ),
            # The noai meta lies past the head budget: unknown, blocked by this policy.
            "/long-head": Route(body=long_head, content_type="text/html"),
            "/ok": page(),
        }
    )
    urls = [site.url(p) for p in ("/two-lines", "/utf16", "/members", "/long-head", "/ok")]
    r = crawl(
        urls, settings={"NOAI_GUARD_HEAD_BUDGET": 2048, "NOAI_GUARD_UNKNOWN": {"meta-robots": "reserve"}}
    )
    for path in ("/two-lines", "/utf16", "/members"):
        assert_dropped(
            r,
            site.url(path),
            "meta-robots",
            verdict="reserve",
            evidence='<meta name="robots" content="noai">',
        )
    rec = assert_dropped(r, site.url("/long-head"), "meta-robots", verdict="unknown")
    assert "2048" in rec["evidence"], rec
    assert_allowed(r, site.url("/ok"))
