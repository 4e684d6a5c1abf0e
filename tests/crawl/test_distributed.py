"""Distributed crawls (issue 17), first slice: the real redis-server the tests start, trails per
worker (``%(hostname)s`` / ``%(pid)s`` in NOAI_GUARD_AUDIT_URI) and the crawl they share
(NOAI_GUARD_CRAWL_ID), with two worker processes on one scrapy-redis queue.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import redis
from crawlutil import Site, collect, page, start_worker
from redisutil import RedisServer, redis_server_fixture

from noai_guard.auditlog import read_audit

redis_server = redis_server_fixture  # the fixture, under its own name


def _guard_of(settings: dict[str, Any]) -> Any:
    from scrapy.utils.test import get_crawler

    from noai_guard.middleware import NoAIGuardMiddleware

    crawler = get_crawler(settings_dict={"NOAI_GUARD_ENABLED": True, **settings})
    return NoAIGuardMiddleware.from_crawler(crawler).guard


def _no_retry(port: int) -> redis.Redis:
    # redis-py retries a refused connection three times with a back-off (~3 s): once here.
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))


# -- the real redis-server -------------------------------------------------------------


def test_redis_server_is_real_local_and_keeps_nothing(redis_server: RedisServer) -> None:
    r = redis_server.client()
    assert r.set("k", "v")
    assert r.get("k") == b"v"
    assert r.config_get("bind")["bind"] == "127.0.0.1"
    assert r.config_get("save")["save"] == ""  # no RDB snapshot
    assert r.config_get("appendonly")["appendonly"] == "no"  # no AOF
    assert Path(r.config_get("dir")["dir"]) == redis_server.workdir
    redis_server.stop()
    assert not redis_server.running
    with pytest.raises(redis.ConnectionError):
        _no_retry(redis_server.port).ping()
    assert not (redis_server.workdir / "dump.rdb").exists()


def test_redis_server_kill_is_immediate(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "r") as server:
        port = server.port
        server.kill()
        assert not server.running
        with pytest.raises(redis.ConnectionError):
            _no_retry(port).ping()


# -- trails per worker, one crawl id ---------------------------------------------------


def test_hostname_and_pid_placeholders_name_this_process(tmp_path: Path) -> None:
    guard = _guard_of({"NOAI_GUARD_AUDIT_URI": str(tmp_path / "%(name)s-%(hostname)s-%(pid)s.jsonl")})
    host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()).strip(".") or "localhost"
    assert Path(guard.audit_path) == tmp_path / f"spider-{host}-{os.getpid()}.jsonl"


def test_default_trail_names_host_and_pid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two workers started in the same second on one host (or on two hosts writing to one
    # shared directory) must not append to one file: the default names both.
    monkeypatch.chdir(tmp_path)
    path = _guard_of({}).audit_path
    host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()).strip(".") or "localhost"
    assert path.startswith("noai-guard-audit/spider-")
    assert path.endswith(f"-{host}-{os.getpid()}.jsonl")


def test_report_groups_runs_by_crawl(tmp_path: Path) -> None:
    from noai_guard.report import aggregate

    def trail(name: str, run_id: str, crawl_id: str | None, blocked: int) -> None:
        extra = {} if crawl_id is None else {"crawl_id": crawl_id}
        base = {"schema": "noai-guard-audit/1", "run_id": run_id, "mode": "crawl", "tool": "noai-guard"}
        recs = [{**base, "type": "run", "time": "2026-12-07T10:00:00Z", **extra}]
        recs += [
            {**base, "type": "decision", "time": "2026-12-07T10:00:01Z", "url": f"http://a.test/{run_id}/{i}",
             "action": "skipped", "blocked": True}
            for i in range(blocked)
        ]  # fmt: skip
        recs.append(
            {**base, "type": "summary", "time": f"2026-12-07T10:0{blocked}:00Z", "origins": {}, **extra}
        )
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in recs))

    trail("w1.jsonl", "r1", "nightly", 2)
    trail("w2.jsonl", "r2", "nightly", 3)
    trail("old.jsonl", "r3", None, 1)  # a trail from before crawl ids: a crawl of its own
    agg, doc = aggregate([str(tmp_path)])
    agg.close()
    crawls = {c["crawl_id"]: c for c in doc["crawls"]}
    assert set(crawls) == {"nightly", "r3"}
    assert sorted(crawls["nightly"]["runs"]) == ["r1", "r2"]
    assert (crawls["nightly"]["blocked"], crawls["nightly"]["unfinished"]) == (5, 0)
    assert crawls["nightly"]["ended"] == "2026-12-07T10:03:00Z"
    assert {r["run_id"]: r["crawl_id"] for r in doc["runs"]} == {"r1": "nightly", "r2": "nightly", "r3": None}
    # Both human formats show the crawl with its two workers (a crawl of one run is not repeated).
    from noai_guard.report.render_html import render_html
    from noai_guard.report.render_md import render_markdown

    html, md = render_html(doc), render_markdown(doc)
    for text in (html, md):
        assert "Crawls with several workers" in text and "nightly" in text
    section = html.split("Crawls with several workers (1)", 1)[1].split("</details>", 1)[0]
    assert ">nightly<" in section and ">r3<" not in section


def test_crawl_id_setting_is_checked_at_start(tmp_path: Path) -> None:
    from noai_guard.settings import SettingsError

    uri = str(tmp_path / "t.jsonl")
    assert _guard_of(
        {"NOAI_GUARD_AUDIT_URI": uri, "NOAI_GUARD_CRAWL_ID": " nightly-2026.12:7 "}
    ).trail.crawl_id == ("nightly-2026.12:7")
    own = _guard_of({"NOAI_GUARD_AUDIT_URI": uri}).trail
    assert own.crawl_id == own.run_id  # unset: a crawl of its own
    for bad in ("a b", "x/y", "z" * 129, 7):
        with pytest.raises(SettingsError, match="NOAI_GUARD_CRAWL_ID"):
            _guard_of({"NOAI_GUARD_AUDIT_URI": uri, "NOAI_GUARD_CRAWL_ID": bad})


def _site() -> Site:
    links = "".join(f'<a href="/p{i}">p{i}</a>' for i in range(12))
    routes: dict[str, Any] = {"/": page(body=links)}
    for i in range(12):
        # Every third page opts out of AI training: a skip record in some worker's trail.
        routes[f"/p{i}"] = page('<meta name="robots" content="noai">' if i % 3 == 0 else "")
    return Site(routes)


def test_two_workers_on_one_scrapy_redis_queue_write_two_trails_of_one_crawl(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    site = _site()
    trails = tmp_path / "trails"
    settings = {
        # scrapy-redis: one shared queue and dupefilter; the followed pages are fetched once
        # across both workers (the start page is dont_filter: each worker fetches it).
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": redis_server.url,
        "SCHEDULER_IDLE_BEFORE_CLOSE": 1,
        # Keep the queue and dupefilter when a worker closes (scrapy-redis flushes them
        # otherwise): a worker that starts after another has finished must not crawl again.
        "SCHEDULER_PERSIST": True,
        # One pattern for both workers, started together: %(time)s alone would give one file.
        "NOAI_GUARD_AUDIT_URI": str(trails / "%(name)s-%(hostname)s-%(pid)s-%(time)s.jsonl"),
        "NOAI_GUARD_CRAWL_ID": "crawl-17",
        "CONCURRENT_REQUESTS": 2,
    }
    try:
        procs = [start_worker(tmp_path / f"w{n}", site.url("/"), settings) for n in (1, 2)]
        for proc in procs:
            proc.wait(timeout=120)
        results = [collect(tmp_path / f"w{n}", p.returncode) for n, p in zip((1, 2), procs, strict=True)]
        for res in results:
            assert res.returncode == 0, res.log[-3000:]
            assert "scrapy_redis.scheduler.Scheduler" in res.log
        files = sorted(trails.glob("*.jsonl"))
        assert len(files) == 2  # one trail per worker, no collision
        assert [sum(f"-{p.pid}-" in f.name for f in files) for p in procs] == [1, 1]
        records = [list(read_audit(f)) for f in files]
        runs = [next(r for r in rs if r["type"] == "run") for rs in records]
        summaries = [next(r for r in rs if r["type"] == "summary") for rs in records]
        assert {r["crawl_id"] for r in runs + summaries} == {"crawl-17"}
        assert len({r["run_id"] for r in runs}) == 2  # two runs ...
        assert {r["run_id"] for r in summaries} == {r["run_id"] for r in runs}  # ... each closed
        # The shared dupefilter: every followed page fetched once across both workers, and
        # every opted-out page skipped by whichever worker took it.
        assert [site.count(f"/p{i}") for i in range(12)] == [1] * 12
        blocked = sorted(
            r["url"]
            for rs in records
            for r in rs
            if r.get("type") == "decision" and r["action"] in ("skipped", "dropped")
        )
        assert blocked == sorted(site.url(f"/p{i}") for i in range(0, 12, 3))
        fetched = {item["url"] for res in results for item in res.items}
        assert fetched.isdisjoint(blocked)
        assert len(fetched) == 9  # the start page and the 8 allowed pages, in one worker or the other
        # One report over both trails: one crawl of two workers, every decision of both.
        from importlib import resources

        import jsonschema

        from noai_guard.report import build_report

        build_report([str(trails)], tmp_path / "report", formats=["json", "md"])
        doc = json.loads((tmp_path / "report" / "report.json").read_text("utf-8"))
        schema = json.loads(
            resources.files("noai_guard.data").joinpath("report.schema.json").read_text("utf-8")
        )
        jsonschema.validate(doc, schema)
        [crawl] = doc["crawls"]
        assert crawl["crawl_id"] == "crawl-17"
        assert sorted(crawl["runs"]) == sorted(r["run_id"] for r in runs)
        assert crawl["blocked"] == 4 and crawl["unfinished"] == 0
        assert "| crawl-17 | 2 |" in (tmp_path / "report" / "report.md").read_text("utf-8")

    finally:
        site.close()
