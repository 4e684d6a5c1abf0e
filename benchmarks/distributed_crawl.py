"""Benchmark (issue 17): two workers on one scrapy-redis queue, with and without the shared state.

Run: ``python benchmarks/distributed_crawl.py [--origins N] [--pages P] [--workers W] [--rounds R]``
(needs the ``[redis]`` extra and ``redis-server`` on PATH).

1. Serves ``--origins`` origins on 127.0.0.1 (one threaded HTTP server per port), each
   with a robots.txt, ``--pages`` pages and a noimageai page embedding two images; a start
   page links to every page of every origin, and each page to the next two.
2. Starts a fresh ``redis-server`` (no persistence) per crawl and runs ``--workers``
   Scrapy processes on one scrapy-redis queue and dupefilter, every noai_guard source on,
   ``--rounds`` times in each mode, interleaved:

   - ``local``: each worker its own site-file cache and reserved-image memory;
   - ``shared``: ``NOAI_GUARD_SHARED_STATE_URL`` set to the same Redis.
3. Prints, per mode, the site-file requests the servers saw per origin (robots.txt,
   tdmrep.json, ai.txt together: 3 is one fetch of each), the pages/s of the crawl (pages
   the servers answered over the wall time from the workers' start to the last one's
   end, start-up included) and the ratio shared / local; then the cost of one shared-state
   call on the reactor thread (a reserved-image lookup, made before every request), median
   over 2000 calls.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FILES = ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt")


class _Origin(ThreadingHTTPServer):
    daemon_threads = True
    pages = 0
    hits: dict[str, int]
    lock: threading.Lock
    links: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Origin

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.server
        path = self.path.split("?", 1)[0]
        with srv.lock:
            srv.hits[path] = srv.hits.get(path, 0) + 1
        status, ctype, body = 200, "text/html", b""
        if path == "/robots.txt":
            ctype, body = "text/plain", b"User-agent: *\nDisallow: /private\n"
        elif path == "/":
            body = "".join(f'<a href="{u}">x</a>' for u in srv.links).encode()
        elif path.startswith("/p"):
            n = int(path[2:] or 0)
            nxt = "".join(f'<a href="/p{m}">n</a>' for m in (n + 1, n + 2) if m < srv.pages)
            body = f"<html><head><title>t</title></head><body>{nxt}<p>text</p></body></html>".encode()
        elif path == "/gallery":
            body = (
                b'<html><head><meta name="robots" content="noimageai"></head><body>'
                b'<img src="/img/a.png"><img src="/img/b.png"><a href="/img/a.png">a</a></body></html>'
            )
        elif path.startswith("/img/"):
            ctype, body = "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64
        else:
            status, ctype, body = 404, "text/plain", b"not found"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(n_origins: int, pages: int) -> list[_Origin]:
    servers = []
    for _ in range(n_origins):
        srv = _Origin(("127.0.0.1", 0), _Handler)
        srv.pages, srv.hits, srv.lock, srv.links = pages, {}, threading.Lock(), []
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    every = [f"http://127.0.0.1:{s.server_address[1]}/p0" for s in servers]
    every += [f"http://127.0.0.1:{s.server_address[1]}/gallery" for s in servers]
    for s in servers:
        s.links = every
    return servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    args = [
        exe,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(500):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.01)
    return proc, f"redis://127.0.0.1:{port}/0"


def worker(config: str) -> None:
    """One Scrapy worker (run in its own process)."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    cfg = json.loads(Path(config).read_text())

    class Bench(scrapy.Spider):
        name = "distbench"

        async def start(self) -> Any:
            yield scrapy.Request(cfg["start"], dont_filter=True)

        def parse(self, response: Any) -> Any:
            if isinstance(response, scrapy.http.TextResponse):
                yield from response.follow_all(css="a", callback=self.parse)

    process = CrawlerProcess(cfg["settings"])
    process.crawl(Bench)
    process.start()


def _crawl(servers: list[_Origin], workers: int, shared: bool, tmp: Path) -> dict[str, float]:
    for s in servers:
        s.hits.clear()
    rproc, url = _redis(tmp)
    try:
        settings = {
            "ADDONS": {"noai_guard.NoAIGuardAddon": 0},
            "USER_AGENT": "benchbot/1.0",
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
            "ROBOTSTXT_OBEY": False,
            "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "REDIS_URL": url,
            "SCHEDULER_PERSIST": True,
            "SCHEDULER_IDLE_BEFORE_CLOSE": 1,
            "CONCURRENT_REQUESTS": 16,
            "NOAI_GUARD_AUDIT_URI": str(tmp / "trail-%(pid)s.jsonl"),
            "NOAI_GUARD_LENIENT_NOIMAGEAI": True,  # the gallery is crawled, its images reserved
        }
        if shared:
            settings["NOAI_GUARD_SHARED_STATE_URL"] = url
        start = f"http://127.0.0.1:{servers[0].server_address[1]}/"
        procs = []
        t0 = time.perf_counter()
        for k in range(workers):
            cfg = tmp / f"w{k}.json"
            cfg.write_text(json.dumps({"start": start, "settings": settings}))
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            procs.append(subprocess.Popen([sys.executable, __file__, "--worker", str(cfg)], env=env))
        for p in procs:
            p.wait()
        wall = time.perf_counter() - t0
    finally:
        rproc.kill()
        rproc.wait()
    files = [sum(s.hits.get(f, 0) for f in FILES) for s in servers]
    pages = sum(n for s in servers for path, n in s.hits.items() if path not in FILES)
    images = sum(n for s in servers for path, n in s.hits.items() if path.startswith("/img/"))
    return {
        "files_per_origin": statistics.mean(files),
        "files_max": max(files),
        "pages": pages,
        "reserved_images_fetched": images,
        "wall": wall,
        "pages_per_s": pages / wall,
    }


def _call_cost(tmp: Path) -> float:
    """Median µs of one reserved-image lookup (SharedState.media_get) on loopback."""
    from scrapy.utils.test import get_crawler

    from noai_guard.crawl.shared import SharedState

    rproc, url = _redis(tmp)
    try:
        state = SharedState(
            get_crawler(), url, namespace="b:", ttl=60, media_size=10, media_scope="p", lock_timeout=5
        )
        times = []
        for i in range(2000):
            t = time.perf_counter()
            state.media_get(f"http://h/{i}.png")
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1e6
    finally:
        rproc.kill()
        rproc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--origins", type=int, default=20)
    ap.add_argument("--pages", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    servers = _serve(args.origins, args.pages)
    results: dict[str, list[dict[str, float]]] = {"local": [], "shared": []}
    with tempfile.TemporaryDirectory() as td:
        for r in range(args.rounds):
            for mode in ("local", "shared") if r % 2 == 0 else ("shared", "local"):
                tmp = Path(td) / f"{mode}{r}"
                tmp.mkdir()
                results[mode].append(_crawl(servers, args.workers, mode == "shared", tmp))
        cost = _call_cost(Path(td))
    print(
        f"{args.workers} workers, {args.origins} origins x ({args.pages} pages + a gallery), {args.rounds} rounds"
    )
    print(f"{'mode':8} {'file req/origin':>16} {'max':>5} {'pages':>6} {'reserved imgs':>14} {'pages/s':>9}")
    med: dict[str, float] = {}
    for mode, rs in results.items():
        med[mode] = statistics.median(x["pages_per_s"] for x in rs)
        print(
            f"{mode:8} {statistics.mean(x['files_per_origin'] for x in rs):16.2f} "
            f"{max(x['files_max'] for x in rs):5.0f} {statistics.mean(x['pages'] for x in rs):6.0f} "
            f"{max(x['reserved_images_fetched'] for x in rs):14.0f} {med[mode]:9.1f}  "
            f"(rounds: {', '.join(format(x['pages_per_s'], '.0f') for x in rs)}; wall s: "
            f"{', '.join(format(x['wall'], '.1f') for x in rs)})"
        )
    print(f"pages/s shared / local: {med['shared'] / med['local']:.2f}")
    print(f"one shared-state lookup on the reactor thread (loopback): {cost:.0f} µs (median)")


if __name__ == "__main__":
    main()
