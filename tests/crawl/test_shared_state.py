"""Distributed crawls (issue 17): workers sharing site files and reserved images through a real
redis-server, with and without scrapy-redis's scheduler and dupefilter.

Every worker is a real, separate ``scrapy`` process (:func:`crawlutil.start_crawl`) crawling
the same local site: three origins (A: robots.txt with a Disallow, pages with a noai meta,
pages whose noimageai reserves the images they embed, and pages that link to those images
one hop later; B: another origin whose image A's pages reserve; C: robots.txt answering 503).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from crawlutil import CrawlResult, Site, collect, image, page, run_crawl, start_worker, text
from redisutil import RedisServer, redis_server_fixture

from noai_guard.sitefiles import KINDS, PATHS

redis_server = redis_server_fixture  # the fixture, under its own name

CHAINS = 8  # reserving pages, each with the page that links to its image one hop later


def _sites(delay: float = 0.0) -> tuple[Site, Site, Site]:
    b = Site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
            "/b0": page(),
            "/b1": page('<meta name="robots" content="noai">'),
            "/img/b.png": image(),
        }
    )
    c = Site({"/robots.txt": text("busy", status=503), "/c0": page(), "/c1": page()})
    a = Site()
    links = [f"/chain{i}" for i in range(CHAINS)] + [f"/p{j}" for j in range(6)] + ["/private/x"]
    links += [b.url("/b0"), b.url("/b1"), c.url("/c0"), c.url("/c1")]
    a.routes.update(
        {
            "/robots.txt": text("User-agent: testbot\nDisallow: /private\n"),
            "/": page(body="".join(f'<a href="{u}">x</a>' for u in links)),
            "/private/x": page(),
            "/img/free.png": image(),
        }
    )
    for j in range(6):
        meta = '<meta name="robots" content="noai">' if j == 3 else ""
        a.routes[f"/p{j}"] = page(
            meta, body='<a href="/img/free.png">f</a>' if j == 0 else "<p>t</p>", delay=delay
        )
    for i in range(CHAINS):
        # The page reserves the images it embeds; the spider reaches them only through
        # /next{i}, which it learns from this page: the image is requested after the page
        # was judged, usually by another worker.
        extra = f'<img src="{b.url("/img/b.png")}">' if i == 0 else ""
        a.routes[f"/chain{i}"] = page(
            '<meta name="robots" content="noimageai">',
            body=f'<img src="/img/r{i}.png">{extra}<a href="/next{i}">next</a>',
            delay=delay,
        )
        more = f'<a href="{b.url("/img/b.png")}">b</a>' if i == 0 else ""
        a.routes[f"/next{i}"] = page(body=f'<a href="/img/r{i}.png">img</a>{more}', delay=delay)
        a.routes[f"/img/r{i}.png"] = image()
    return a, b, c


def _reserved(a: Site, b: Site, c: Site) -> set[str]:
    """Every URL the policy reserves (none may be fetched as a page or an image)."""
    urls = {a.url(f"/img/r{i}.png") for i in range(CHAINS)} | {b.url("/img/b.png"), a.url("/private/x")}
    return urls | {c.url("/c0"), c.url("/c1")}


def _run_workers(tmp_path: Path, start: str, settings: dict[str, Any], n: int = 2) -> list[CrawlResult]:
    procs = [start_worker(tmp_path / f"w{k}", start, settings) for k in range(n)]
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return [collect(tmp_path / f"w{k}", p.returncode) for k, p in enumerate(procs)]


def _triples(results: list[CrawlResult]) -> set[tuple[str, str, str | None]]:
    return {(r["url"], r["verdict"], r["signal"]) for res in results for r in res.decisions()}


def _file_fetches(*sites: Site) -> dict[str, int]:
    return {s.url(PATHS[k]): s.count(PATHS[k]) for s in sites for k in KINDS}


def _scrapy_redis(server: RedisServer) -> dict[str, Any]:
    return {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": server.url,
        "SCHEDULER_IDLE_BEFORE_CLOSE": 1,
        "SCHEDULER_PERSIST": True,  # a worker that ends first does not flush the queue of the others
    }


# Lenient noimageai: a page with it is crawled (its images are reserved), so the spider
# goes on to the page that links to those images.
BASE = {"NOAI_GUARD_AUDIT_ALLOWED": True, "NOAI_GUARD_LENIENT_NOIMAGEAI": True, "CONCURRENT_REQUESTS": 2}


def test_workers_on_scrapy_redis_share_site_files_and_reserved_images(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    # Slow pages: the crawl outlasts the workers' start-up skew on a loaded machine (a worker
    # that starts a second late must still find work; else one worker crawls it all).
    a, b, c = _sites(delay=0.2)
    try:
        # The single-process crawl the workers' merged trails must equal.
        single = run_crawl(tmp_path / "single", [a.url("/")], settings=BASE, spider={"follow": True})
        assert single.returncode == 0, single.log[-3000:]
        for s in (a, b, c):
            s.log.clear()
        settings = {**BASE, **_scrapy_redis(redis_server), "NOAI_GUARD_SHARED_STATE_URL": redis_server.url}
        results = _run_workers(tmp_path, a.url("/"), settings, n=3)
        for res in results:
            assert res.returncode == 0, res.log[-3000:]
            assert "scrapy_redis.scheduler.Scheduler" in res.log
            assert res.stat("noai_guard/shared_state/error_count") == 0
        # Each origin's site files fetched once across the three workers; C's robots.txt
        # (503: unreachable, every page of C blocked) too: its back-off is shared.
        assert set(_file_fetches(a, b, c).values()) == {1}, _file_fetches(a, b, c)
        assert sum(res.stat("noai_guard/shared_state/files_read") for res in results) > 0
        # Every worker that blocked C's pages says why in its own log, fetched or read.
        for res in results:
            if any(r["url"].startswith(c.origin) for r in res.decisions()):
                assert f"{c.url('/robots.txt')} is unreachable (HTTP 503)" in res.log
        # No reserved URL in any worker's feed, nor asked of the server at all.
        reserved = _reserved(a, b, c)
        for res in results:
            assert reserved.isdisjoint(item["url"] for item in res.feed)
        assert [a.count(f"/img/r{i}.png") for i in range(CHAINS)] == [0] * CHAINS
        assert (b.count("/img/b.png"), a.count("/private/x"), c.count("/c0"), c.count("/c1")) == (0, 0, 0, 0)
        assert a.count("/img/free.png") == 1  # an image no page reserves is fetched
        # The merged trails hold what the single process decided, URL by URL.
        assert _triples(results) == _triples([single])
        assert {(a.url("/img/r0.png"), "reserve", "embedding-page")} <= _triples(results)
        assert sum(bool(res.callbacks) for res in results) >= 2  # the work was shared
        # The images were reserved by pages other workers fetched: some worker knew them only
        # through the shared state (the reserving page and the image in different workers).
        assert sum(res.stat("noai_guard/shared_state/media_hits") for res in results) > 0
        runs = [next(r for r in res.trail if r["type"] == "run") for res in results]
        assert len({r["crawl_id"] for r in runs}) == 1  # the first worker's id, stored in Redis
        assert len({r["run_id"] for r in runs}) == 3
    finally:
        for s in (a, b, c):
            s.close()


def test_shared_state_without_scrapy_redis_scheduler(tmp_path: Path, redis_server: RedisServer) -> None:
    # Each worker has its own queue (Scrapy's scheduler) and crawls the whole site; the site
    # files are still fetched once across them, and what they decide is the same.
    a, b, c = _sites()
    try:
        settings = {**BASE, "NOAI_GUARD_SHARED_STATE_URL": redis_server.url, "NOAI_GUARD_CRAWL_ID": "solo"}
        results = _run_workers(tmp_path, a.url("/"), settings)
        for res in results:
            assert res.returncode == 0, res.log[-3000:]
            assert "scrapy_redis" not in res.log
        assert set(_file_fetches(a, b, c).values()) == {1}, _file_fetches(a, b, c)
        assert a.count("/p1") == 2  # each worker crawled the pages: no shared queue
        reserved = _reserved(a, b, c)
        for res in results:
            assert reserved.isdisjoint(item["url"] for item in res.feed)
        assert _triples(results[:1]) == _triples(results[1:])
        assert {r["crawl_id"] for res in results for r in res.trail if r["type"] in ("run", "summary")} == {
            "solo"
        }
    finally:
        for s in (a, b, c):
            s.close()


def test_redis_killed_mid_crawl_fails_closed(tmp_path: Path, redis_server: RedisServer) -> None:
    # Slow pages: the workers are mid-crawl when Redis dies.  Each goes on with its own
    # state (one WARNING, counted), refetching the files it does not hold; nothing reserved
    # is fetched and every decision is still the single-process one.
    a, b, c = _sites(delay=0.15)
    try:
        settings = {**BASE, "NOAI_GUARD_SHARED_STATE_URL": redis_server.url}
        procs = [start_worker(tmp_path / f"w{k}", a.url("/"), settings) for k in range(2)]
        end = time.monotonic() + 30
        while a.count("/chain0") + a.count("/p0") < 2 and time.monotonic() < end:
            time.sleep(0.05)
        redis_server.kill()
        for proc in procs:
            proc.wait(timeout=60)
        results = [collect(tmp_path / f"w{k}", p.returncode) for k, p in enumerate(procs)]
        for res in results:
            assert res.returncode == 0, res.log[-3000:]
            assert res.stat("noai_guard/shared_state/lost") == 1
            assert res.stat("noai_guard/shared_state/error_count") >= 1
            assert res.log.count("the shared state at redis://127.0.0.1") == 1  # one WARNING
            assert reserved_free(res, _reserved(a, b, c))
        assert [a.count(f"/img/r{i}.png") for i in range(CHAINS)] == [0] * CHAINS
        assert (b.count("/img/b.png"), a.count("/private/x"), c.count("/c0"), c.count("/c1")) == (0, 0, 0, 0)
        # C's robots.txt answers 503: each of its pages blocked (RFC 9309 §2.3.1.4), Redis or not.
        on_c = [r for res in results for r in res.decisions() if r["url"].startswith(c.origin)]
        assert on_c and all(r["blocked"] for r in on_c)
    finally:
        for s in (a, b, c):
            s.close()


def reserved_free(res: CrawlResult, reserved: set[str]) -> bool:
    return reserved.isdisjoint(item["url"] for item in res.feed)


def test_redis_killed_under_scrapy_redis_fails_closed(tmp_path: Path, redis_server: RedisServer) -> None:
    # With scrapy-redis the queue dies with Redis: its scheduler raises in Scrapy's engine
    # loop and the workers stop crawling (they must be restarted; scrapy-redis's behaviour,
    # not noai_guard's).  What was in flight is judged with each worker's own state: no
    # reserved URL is fetched or reaches the spider.
    a, b, c = _sites(delay=0.15)
    try:
        settings = {**BASE, **_scrapy_redis(redis_server), "NOAI_GUARD_SHARED_STATE_URL": redis_server.url}
        procs = [start_worker(tmp_path / f"w{k}", a.url("/"), settings) for k in range(2)]
        end = time.monotonic() + 30
        while a.count("/chain0") + a.count("/p0") < 2 and time.monotonic() < end:
            time.sleep(0.05)
        redis_server.kill()
        end = time.monotonic() + 4
        while any(p.poll() is None for p in procs) and time.monotonic() < end:
            time.sleep(0.1)
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
        results = [collect(tmp_path / f"w{k}", p.returncode) for k, p in enumerate(procs)]
        assert [a.count(f"/img/r{i}.png") for i in range(CHAINS)] == [0] * CHAINS
        assert (b.count("/img/b.png"), a.count("/private/x"), c.count("/c0"), c.count("/c1")) == (0, 0, 0, 0)
        reserved = _reserved(a, b, c)
        for res in results:
            assert reserved.isdisjoint(res.callbacks)  # the spider saw none of them
            assert reserved.isdisjoint(item["url"] for item in res.items)
        assert sum(len(res.callbacks) for res in results) >= 2  # it was mid-crawl
    finally:
        for s in (a, b, c):
            s.close()


def test_values_another_version_or_a_stranger_wrote_are_not_used(redis_server: RedisServer) -> None:
    from scrapy.utils.test import get_crawler

    from noai_guard.crawl.shared import FileOutcome, SharedState
    from noai_guard.decision import Signal, Verdict
    from noai_guard.engine import MediaReservation

    crawler = get_crawler()
    state = SharedState(
        crawler, redis_server.url, namespace="t:", ttl=60, media_size=2, media_scope="p", lock_timeout=5
    )
    r = redis_server.client()
    # A site file: what one worker stored, another reads back as it was fetched.
    ok = FileOutcome("fetch", 200, b"User-agent: *\nDisallow: /\n", fetched=1.5)
    token = state.file_lock("http://o", "robots")
    assert token is not None and state.file_lock("http://o", "robots") is None  # one fetcher
    state.file_put("http://o", "robots", ok, 30, token)
    got = state.file_get("http://o", "robots")
    assert got is not None and got[0] == ok and 0 < got[1] <= 30
    assert state.file_lock("http://o", "robots") is not None  # released by the put
    # Garbage, or another schema version: not used (the worker fetches the file itself).
    for raw in (
        b"",
        b"\xff\xfe",
        b'{"v": 2, "how": "fetch", "status": 200}\nbody',
        b'{"v": 1, "how": "x"}\n',
        b"[1]\n",
    ):
        r.set("t:file:robots:http://p", raw, px=30000)
        assert state.file_get("http://p", "robots") is None
    assert crawler.stats.get_value("noai_guard/shared_state/file_unreadable") == 5
    # Reserved media: stored with the page's signal, bounded (the oldest forgotten first).
    sig = Signal(
        "meta-robots",
        Verdict.RESERVE,
        "ai-train",
        '<meta name="robots" content="noimageai">',
        "http://o/p",
        "meta",
    )
    state.media_put(
        MediaReservation("http://o/p", sig, ("http://o/1.png", "http://o/2.png", "http://o/3.png#x"))
    )
    assert state.media_get("http://o/1.png") is None  # over the bound of 2
    m = state.media_get("http://o/3.png")
    assert m is not None and m.signal == sig and m.page_url == "http://o/p"
    r.hset("t:media:p", "http://o/2.png", b"not json")
    assert state.media_get("http://o/2.png") is None
    assert crawler.stats.get_value("noai_guard/shared_state/media_unreadable") == 1
    assert state.ok  # bad values are not a Redis failure
    redis_server.kill()
    assert state.media_get("http://o/3.png") is None and not state.ok  # gone: per-process from now on
    assert crawler.stats.get_value("noai_guard/shared_state/lost") == 1


def test_a_lock_left_by_a_dead_worker_expires_and_the_crawl_goes_on_meanwhile(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a, b, c = _sites()
    try:
        # A worker that died while fetching A's robots.txt left its lock (2.5 s to live).
        redis_server.client().set(f"noai_guard:guardtest:file:robots:{a.origin}:lock", "dead", px=2500)
        t0 = time.monotonic()  # the site's Hit.time clock
        settings = {**BASE, "NOAI_GUARD_SHARED_STATE_URL": redis_server.url}
        res = run_crawl(
            tmp_path / "w", [a.url("/"), b.url("/b0")], settings=settings, spider={"follow": True}
        )
        assert res.returncode == 0, res.log[-3000:]
        assert a.count("/robots.txt") == 1
        robots_at = next(h.time for h in a.log if h.path == "/robots.txt")
        assert robots_at - t0 > 2.3  # waited for the lock to expire, then fetched it itself
        assert res.stat("noai_guard/shared_state/file_waits") >= 1
        # Meanwhile the worker crawled another origin: the wait polls, it does not block the reactor.
        assert next(h.time for h in b.log if h.path == "/b0") < robots_at - 0.5
        assert res.decision_for(a.url("/private/x"))["blocked"]  # A judged once its file came
    finally:
        for s in (a, b, c):
            s.close()


def test_redis_unreachable_is_told_once_without_the_password(caplog: Any) -> None:
    from crawlutil import closed_port
    from scrapy.utils.test import get_crawler

    from noai_guard.crawl.shared import SharedState

    crawler = get_crawler()
    url = f"redis://:s3cret@127.0.0.1:{closed_port()}/0"
    state = SharedState(crawler, url, namespace="t:", ttl=60, media_size=2, media_scope="p", lock_timeout=5)
    started = time.perf_counter()
    assert state.crawl_id() is None  # the caller keeps the run's own id
    assert state.file_get("http://o", "robots") is None and state.file_lock("http://o", "robots") is None
    assert time.perf_counter() - started < 1  # refused at once: no retries, no back-off
    warnings = [r for r in caplog.records if r.name == "noai_guard.crawl.shared"]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert "s3cret" not in warnings[0].getMessage() and "127.0.0.1" in warnings[0].getMessage()
    assert crawler.stats.get_value("noai_guard/shared_state/error_count") == 3
