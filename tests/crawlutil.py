"""Test helpers: local HTTP(S) sites, and real Scrapy crawls run in a subprocess.

Twisted's reactor cannot restart, so every crawl runs in a fresh interpreter:
:func:`run_crawl` writes a JSON config, runs :func:`main` in a subprocess and
returns what the crawl left behind (items, feed, stats, audit trail, log).

Sites are :class:`Site` objects: a threaded HTTP server on ``127.0.0.1``,
port 0, with a route table and a request log.  ``tls=True`` serves https on
the same port as http (the first byte of each connection tells them apart),
so ``http://h:p`` and ``https://h:p`` are one host and port but two origins.

Reusable by other test files::

    from crawlutil import Route, Site, run_crawl
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

USER_AGENT = "testbot/1.0 (+https://example.invalid/bot)"  # product token: testbot


# -- sites ---------------------------------------------------------------------


@dataclass
class Route:
    """One canned response."""

    status: int = 200
    body: bytes | str = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering (timeouts)
    encoding: str | None = None  # "gzip", "deflate" or "br": compress the body and say so
    content_type: str | None = None

    def render(self) -> tuple[int, list[tuple[str, str]], bytes]:
        body = self.body.encode() if isinstance(self.body, str) else self.body
        headers = list(self.headers)
        if self.content_type:
            headers.append(("Content-Type", self.content_type))
        if self.encoding == "gzip":
            body = gzip.compress(body)
        elif self.encoding == "deflate":
            body = zlib.compress(body)
        elif self.encoding == "br":
            import brotli  # type: ignore[import-untyped]

            body = brotli.compress(body)
        if self.encoding:
            headers.append(("Content-Encoding", self.encoding))
        return self.status, headers, body


def html(head: str = "", body: str = "<p>text</p>") -> str:
    return f"<!DOCTYPE html><html><head><title>t</title>{head}</head><body>{body}</body></html>"


def page(head: str = "", body: str = "<p>text</p>", **kw: Any) -> Route:
    return Route(body=html(head, body), content_type="text/html; charset=utf-8", **kw)


def text(body: str, status: int = 200, **kw: Any) -> Route:
    return Route(status=status, body=body, content_type="text/plain", **kw)


def redirect(location: str, status: int = 301) -> Route:
    return Route(status=status, headers=[("Location", location)])


def _png() -> bytes:
    """A small valid PNG, for image pipelines."""
    import io
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\xc8\x10\x10" * 4 for _ in range(4))  # 4x4 RGB
    out = io.BytesIO()
    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)))
    out.write(chunk(b"IDAT", zlib.compress(raw)))
    out.write(chunk(b"IEND", b""))
    return out.getvalue()


PNG = _png()


def image(**kw: Any) -> Route:
    return Route(body=PNG, content_type="image/png", **kw)


@dataclass
class Hit:
    scheme: str
    method: str
    path: str
    time: float
    headers: dict[str, str]


Handler = Callable[["Site", str, str], Route]


def _self_signed(tmpdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost, made with cryptography."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmpdir / "cert.pem", tmpdir / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certfile, keyfile


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    site: Site
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            try:
                first = request.recv(1, socket.MSG_PEEK)
            except OSError:
                return
            if first == b"\x16":  # a TLS ClientHello: this connection is https
                try:
                    request = self.tls.wrap_socket(request, server_side=True)
                except (OSError, ssl.SSLError):
                    return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out and hang up are expected


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        site = self.server.site
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        site.log.append(Hit(scheme, self.command, self.path, time.monotonic(), dict(self.headers.items())))
        route = site.lookup(scheme, self.path)
        if route.delay:
            time.sleep(route.delay)
        status, headers, body = route.render()
        try:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass

    do_GET = _serve
    do_HEAD = _serve


class Site:
    """A local web site: routes by path (optionally per scheme), and a log of what was asked."""

    def __init__(
        self,
        routes: dict[str, Route | Handler] | None = None,
        *,
        tls: bool = False,
        https_routes: dict[str, Route | Handler] | None = None,
    ) -> None:
        self.routes: dict[str, Route | Handler] = dict(routes or {})
        self.https_routes: dict[str, Route | Handler] = dict(https_routes or {})
        self.log: list[Hit] = []
        self._tmp = tempfile.TemporaryDirectory() if tls else None
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.site = self
        if self._tmp is not None:
            certfile, keyfile = _self_signed(Path(self._tmp.name))
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certfile, keyfile)
            self.server.tls = ctx
        self.port = self.server.server_address[1]
        self.host = "127.0.0.1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/", scheme: str = "http", host: str | None = None) -> str:
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    @property
    def origin(self) -> str:
        return self.url("")

    def lookup(self, scheme: str, path: str) -> Route:
        table = self.https_routes if scheme == "https" and path in self.https_routes else self.routes
        route = table.get(path)
        if route is None:
            route = table.get(path.split("?", 1)[0])
        if route is None:
            return Route(status=404, body=b"not found", content_type="text/plain")
        return route if isinstance(route, Route) else route(self, scheme, path)

    def count(self, path: str, scheme: str | None = None) -> int:
        return sum(1 for h in self.log if h.path == path and (scheme is None or h.scheme == scheme))

    def paths(self, scheme: str | None = None) -> list[str]:
        return [h.path for h in self.log if scheme is None or h.scheme == scheme]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()


@contextmanager
def sites(*specs: dict[str, Route | Handler]) -> Iterator[list[Site]]:
    started = [Site(s) for s in specs]
    try:
        yield started
    finally:
        for s in started:
            s.close()


def closed_port() -> int:
    """A loopback port with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- crawls --------------------------------------------------------------------


@dataclass
class CrawlResult:
    returncode: int
    items: list[dict[str, Any]]  # seen by the item pipeline
    feed: list[dict[str, Any]]  # written by FEEDS
    callbacks: list[str]  # response URLs the spider callback saw
    errbacks: list[str]  # request URLs whose errback was called
    stats: dict[str, Any]
    trail: list[dict[str, Any]]
    log: str
    workdir: Path

    def decisions(self, action: str | None = None) -> list[dict[str, Any]]:
        return [
            r for r in self.trail if r.get("type") == "decision" and (action is None or r["action"] == action)
        ]

    def decision_for(self, url: str) -> dict[str, Any]:
        found = [r for r in self.decisions() if r["url"] == url]
        assert found, f"no decision record for {url}"
        return found[-1]

    def stat(self, key: str) -> Any:
        return self.stats.get(key, 0)


def run_crawl(
    workdir: Path,
    start_urls: list[str],
    *,
    settings: dict[str, Any] | None = None,
    spider: dict[str, Any] | None = None,
    timeout: float = 90,
    wait: bool = True,
) -> CrawlResult:
    """Crawl ``start_urls`` with noai_guard (the add-on) in a subprocess.

    ``spider`` configures :class:`GuardSpider`: ``follow`` (follow ``<a href>``),
    ``media`` (yield ``image_urls``/``file_urls`` from ``<img src>``),
    ``custom_settings``, ``priorities`` ({url: priority}), ``meta`` ({url: meta}),
    ``block_on`` (a URL whose callback writes ``blocked.flag`` and sleeps).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "start_urls": start_urls,
        "settings": settings or {},
        "spider": spider or {},
        "workdir": str(workdir),
    }
    cfg = workdir / "config.json"
    cfg.write_text(json.dumps(config), encoding="utf-8")
    proc = start_crawl(cfg)
    if not wait:
        raise ValueError("use start_crawl() for a crawl that is not waited for")
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return collect(workdir, proc.returncode)


def start_crawl(cfg: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    code = "import sys, crawlutil; crawlutil.main(sys.argv[1])"
    workdir = cfg.parent
    return subprocess.Popen(
        [sys.executable, "-c", code, str(cfg)],
        cwd=workdir,
        env=env,
        stdout=open(workdir / "stdout.txt", "wb"),
        stderr=subprocess.STDOUT,
    )


def start_worker(workdir: Path, start: str, settings: dict[str, Any]) -> subprocess.Popen[bytes]:
    """One worker of a multi-process crawl: a following spider from ``start``, in its own folder."""
    workdir.mkdir(parents=True)
    cfg = workdir / "config.json"
    cfg.write_text(
        json.dumps(
            {"start_urls": [start], "settings": settings, "spider": {"follow": True}, "workdir": str(workdir)}
        )
    )
    return start_crawl(cfg)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def collect(workdir: Path, returncode: int) -> CrawlResult:
    from noai_guard.auditlog import read_audit

    trail_path = workdir / "trail.jsonl"
    trail = list(read_audit(trail_path)) if trail_path.exists() else []
    stats_path = workdir / "stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    log_path = workdir / "crawl.log"
    log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    return CrawlResult(
        returncode=returncode,
        items=_jsonl(workdir / "pipeline.jsonl"),
        feed=_jsonl(workdir / "feed.jsonl"),
        callbacks=[r["url"] for r in _jsonl(workdir / "callbacks.jsonl")],
        errbacks=[r["url"] for r in _jsonl(workdir / "errbacks.jsonl")],
        stats=stats,
        trail=trail,
        log=log,
        workdir=workdir,
    )


# -- the crawling side (runs in the subprocess) ---------------------------------

_WORKDIR = Path(".")


def _append(name: str, record: dict[str, Any]) -> None:
    with open(_WORKDIR / name, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")
        fh.flush()


class RecordPipeline:
    """An item pipeline that writes every item it is given (the pipeline leak check)."""

    def process_item(self, item: Any) -> Any:
        _append("pipeline.jsonl", dict(item))
        return item


def _decision_summary(meta: dict[str, Any]) -> dict[str, Any] | None:
    dec = meta.get("noai_guard_decision")
    if dec is None:
        return None
    return {"verdict": dec.verdict.value, "blocked": dec.blocked, "signal": dec.signal}


def _make_spider(config: dict[str, Any]) -> type:
    import scrapy

    sp = config["spider"]

    class GuardSpider(scrapy.Spider):
        name = sp.get("name", "guardtest")
        custom_settings = sp.get("custom_settings") or None

        async def start(self) -> Any:
            prio = sp.get("priorities", {})
            metas = sp.get("meta", {})
            for url in config["start_urls"]:
                yield scrapy.Request(
                    url,
                    callback=self.parse,
                    errback=self.failed,
                    priority=prio.get(url, 0),
                    meta=dict(metas.get(url, {})),
                    dont_filter=True,
                )

        def parse(self, response: Any) -> Any:
            _append("callbacks.jsonl", {"url": response.url})
            item: dict[str, Any] = {"url": response.url, "status": response.status}
            decision = _decision_summary(response.meta)
            if decision is not None:
                item["decision"] = decision
            is_text = hasattr(response, "text") and isinstance(response, scrapy.http.TextResponse)
            if sp.get("media") and is_text:
                imgs = [response.urljoin(u) for u in response.css("img::attr(src)").getall()]
                item["image_urls"] = imgs
                item["file_urls"] = imgs
            if sp.get("files") and is_text:  # a CSS selector: what FilesPipeline downloads
                item["file_urls"] = [response.urljoin(u) for u in response.css(sp["files"]).getall()]
            yield item
            if sp.get("follow") and is_text:
                for href in response.css("a::attr(href)").getall():
                    yield response.follow(href, callback=self.parse, errback=self.failed)
            if sp.get("block_on") == response.url:
                (_WORKDIR / "blocked.flag").write_text("1")
                time.sleep(120)  # the test kills the crawl now (SIGKILL)

        def failed(self, failure: Any) -> None:
            _append("errbacks.jsonl", {"url": failure.request.url, "error": type(failure.value).__name__})

    return GuardSpider


def main(config_path: str) -> None:
    global _WORKDIR
    from scrapy.crawler import CrawlerProcess

    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    _WORKDIR = Path(config["workdir"])
    settings: dict[str, Any] = {
        "ADDONS": {"noai_guard.NoAIGuardAddon": 0},
        "USER_AGENT": USER_AGENT,
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "DEBUG",
        "LOG_FILE": str(_WORKDIR / "crawl.log"),
        "TELNETCONSOLE_ENABLED": False,
        "DOWNLOAD_TIMEOUT": 10,
        "RETRY_ENABLED": False,
        "NOAI_GUARD_AUDIT_URI": str(_WORKDIR / "trail.jsonl"),
        "ITEM_PIPELINES": {"crawlutil.RecordPipeline": 900},
        "FEEDS": {str(_WORKDIR / "feed.jsonl"): {"format": "jsonlines"}},
        "CONCURRENT_REQUESTS": 32,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    }
    settings.update(config["settings"])
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(_make_spider(config))
    process.crawl(crawler)
    process.start()
    assert crawler.stats is not None
    (_WORKDIR / "stats.json").write_text(json.dumps(crawler.stats.get_stats(), default=str))


if __name__ == "__main__":
    main(sys.argv[1])


# -- a raw HTTP server: each path answered by a function writing bytes as they are --------------------

Send = Callable[[socket.socket], None]


def _not_found(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


class RawSite:
    """HTTP/1.1 on 127.0.0.1, port 0: each path answered by a function writing raw bytes.

    For what a well-behaved server will not send: cut bodies, resets, bytes as stored.
    """

    def __init__(self, routes: dict[str, Send], not_found: Send = _not_found) -> None:
        self.routes = routes
        self.not_found = not_found
        self.log: list[str] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> int:
        return self.log.count(path)

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            path = data.split(b" ", 2)[1].decode("latin-1")
            self.log.append(path)
            with contextlib.suppress(OSError):  # the client hung up
                self.routes.get(path, self.not_found)(conn)

    def close(self) -> None:
        self._closed = True
        self.sock.close()
