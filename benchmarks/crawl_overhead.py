"""Benchmark: what noai_guard costs a real Scrapy crawl.

Run: ``python benchmarks/crawl_overhead.py [--pages real|generated] [--count N] [--rounds R]``.

1. Builds a site of ``--count`` pages, about 10% of them carrying an opt-out
   (an ``X-Robots-Tag`` or ``tdm-reservation`` header, or a robots / TDMRep
   ``<meta>``), plus a robots.txt, a tdmrep.json and an ai.txt, in a temporary
   directory.  The pages are either

   - ``real`` (the default when ``../shared/realpages/pages.tar.xz`` is there,
     relative to the repository root): its 273 real documents, unpacked at run
     time into the temporary directory (never into the repository) and cycled
     to the count, the metas put into their real heads (see
     ``benchmarks/realpages.py``); or
   - ``generated``: pages of 30-120 KB with heads of 20-40 tags, 3 KB, no
     character references (the equivalence tests use this generator).
2. Serves it on 127.0.0.1 with nginx when ``nginx`` is on PATH, else with
   ``--workers`` processes of a small asyncio HTTP/1.1 server sharing one
   ``SO_REUSEPORT`` port (loopback only).
3. Crawls it ``--rounds`` times in each of five modes, interleaved (the order
   rotates per round), each crawl in its own subprocess:

   - ``plain``: plain Scrapy;
   - ``drop``: plain Scrapy plus a middleware that drops the pages carrying an
     opt-out without checking anything: what a noai_guard crawl does minus the
     checks (a dropped page skips the callback and the item pipeline, so it is
     cheaper than a scraped one, which flatters ``noai_guard`` against ``plain``);
   - ``guard``: Scrapy plus ``noai_guard.NoAIGuardAddon`` exactly as a user
     installs it (every source on): its pages/s and CPU per page against
     ``plain`` are the cost a crawl pays;
   - ``timed``: the same add-on with its hooks wrapped in timers, for the
     time spent inside noai_guard per page.  The wrappers cost time of their
     own (and change what is in the CPU caches), so this mode's pages/s is
     printed but not used for the ratio;
   - ``floor``: the same timed hooks with noai_guard's work taken out (each
     returns at once): what Scrapy calling two middleware hooks, plus the
     timers, costs per page.  The ``timed`` figure includes this floor; it is
     printed beside it so that the time spent in noai_guard's own code can be
     read off too.

The time inside noai_guard is measured by registering a subclass of the
middleware whose hooks accumulate ``time.perf_counter`` time (and
``time.thread_time``, which a loaded machine does not inflate); for coroutine
hooks only the steps that run are timed, not the awaits (a robots.txt fetch is
download time, not noai_guard time).  Targets (issue 3): at most 0.05 ms of
noai_guard time per page, and pages/s at least 0.95 of plain Scrapy.  Targets
printed (issue 13, real pages): CPU per page within 1.03x of plain Scrapy,
pages/s at least 0.97x, at most 0.10 ms per page in noai_guard's own code
(timed minus floor).  The timed and floor modes also split that time by
kind of page (the site's directories: no opt-out, header opt-outs, meta
opt-outs; the real pages embed images, so a meta opt-out there is a reserved
page with images).

Pages counted: responses that reached the spider plus those noai_guard
dropped after the fetch.  A dropped page skips the spider callback and the
item pipeline, so it costs Scrapy less than a page that becomes an item.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchbot"

# Opt-out flavours: (share of pages, directory, response header or None, head meta or None).
OPT_OUTS: tuple[tuple[float, str, tuple[str, str] | None, str | None], ...] = (
    (0.03, "x", ("X-Robots-Tag", "noai"), None),
    (0.02, "t", ("tdm-reservation", "1"), None),
    (0.03, "m", None, '<meta name="robots" content="noai, noimageai">'),
    (0.02, "d", None, '<meta name="tdm-reservation" content="1">'),
)
HEADER_DIRS: dict[str, tuple[str, str]] = {dn: h for _, dn, h, _ in OPT_OUTS if h is not None}
# Kinds of page, by directory: "a" has no opt-out.
KINDS: dict[str, str] = {
    "a": "no opt-out",
    "x": "X-Robots-Tag: noai header",
    "t": "tdm-reservation: 1 header",
    "m": "robots noai meta",
    "d": "tdm-reservation meta",
}

_VOCABULARY = (
    "data model training crawler consent licence archive article news science policy research web "
    "page content author rights reserve machine readable signal header meta robots file origin "
    "dataset corpus text image photo gallery share public private open access publisher journal "
    "review community standard protocol draft version update report analysis market culture sport "
    "travel health food music film book history city world local national weather business"
)
WORDS = tuple(_VOCABULARY.split())


# ---------------------------------------------------------------------------
# The site


def _head(rng: random.Random, title: str, n_tags: int, optout_meta: str | None) -> str:
    tags = [
        '<meta charset="utf-8">',
        f"<title>{title}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="description" content="{" ".join(rng.choices(WORDS, k=20))}">',
        '<meta name="robots" content="index, follow, max-image-preview:large">',
        f'<link rel="canonical" href="/{title.lower().replace(" ", "-")}">',
    ]
    pool = [
        lambda i: f'<meta property="og:{rng.choice(WORDS)}" content="{" ".join(rng.choices(WORDS, k=6))}">',
        lambda i: f'<meta name="twitter:{rng.choice(WORDS)}" content="{rng.choice(WORDS)}">',
        lambda i: f'<link rel="preload" href="/static/font-{i}.woff2" as="font" crossorigin>',
        lambda i: f'<link rel="stylesheet" href="/static/style-{i}.css">',
        lambda i: f'<script src="/static/app-{i}.js" defer></script>',
        lambda i: f'<link rel="alternate" hreflang="{rng.choice(["de", "fr", "es", "it"])}" href="/x/{i}">',
        lambda i: (
            '<script type="application/ld+json">{"@context":"https://schema.org","@type":"Article",'
            f'"headline":"{" ".join(rng.choices(WORDS, k=8))}"}}</script>'
        ),
        lambda i: f"<style>.c{i}{{margin:{i}px;color:#{rng.randrange(1 << 24):06x}}}</style>",
        lambda i: f'<meta name="{rng.choice(WORDS)}-{i}" content="{" ".join(rng.choices(WORDS, k=4))}">',
    ]
    while len(tags) < n_tags - (1 if optout_meta else 0):
        tags.append(rng.choice(pool)(len(tags)))
    if optout_meta:
        tags.insert(rng.randrange(2, len(tags)), optout_meta)
    return "\n".join(tags)


def _paragraphs(rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        words = rng.choices(WORDS, k=rng.randint(60, 140))
        out.append("<p>" + " ".join(words).capitalize() + ".</p>")
    return out


def _write_site_files(root: Path) -> None:
    """robots.txt, tdmrep.json and ai.txt of the benchmark site (the same for both page modes)."""
    (root / "static").mkdir(parents=True, exist_ok=True)
    robots = [f"# benchmark site\nUser-agent: {TOKEN}\nAllow: /\nDisallow: /admin/\nDisallow: /search?"]
    robots += [f"Disallow: /tmp/{w}/*.php$" for w in WORDS[:30]]
    robots += ["Content-Usage: /archive/ train-ai=n", "Content-Signal: search=yes, ai-train=yes", ""]
    robots += ["User-agent: GPTBot", "Disallow: /private-gpt/", "", "User-agent: *", "Allow: /", ""]
    (root / "robots.txt").write_text("\n".join(robots))
    (root / ".well-known").mkdir(exist_ok=True)
    (root / ".well-known" / "tdmrep.json").write_text('[{"location": "/reserved/", "tdm-reservation": 1}]\n')
    (root / "ai.txt").write_text("User-Agent: *\nDisallow: *.gif\n")


def _flavour_edges() -> list[tuple[float, str, str | None]]:
    cum = []
    acc = 0.0
    for share, dn, _, meta in OPT_OUTS:
        acc += share
        cum.append((acc, dn, meta))
    return cum


def _flavour(rng: random.Random, cum: list[tuple[float, str, str | None]]) -> tuple[str, str | None]:
    """(directory, meta or None) of the next page: the shares of ``OPT_OUTS``, the rest in ``/a/``."""
    r = rng.random()
    for edge, odn, ometa in cum:
        if r < edge:
            return odn, ometa
    return "a", None


def generate_site(root: Path, pages: int, seed: int = 1) -> list[str]:
    """Write the site under ``root``; returns the page paths (``/a/000001.html`` ...)."""
    rng = random.Random(seed)
    paras = _paragraphs(rng, 400)  # a pool: generation stays fast
    _write_site_files(root)
    paths: list[str] = []
    cum = _flavour_edges()
    for i in range(pages):
        dn, meta = _flavour(rng, cum)
        path = f"/{dn}/{i:06d}.html"
        title = " ".join(rng.choices(WORDS, k=5)).title()
        target = rng.randint(30_000, 120_000)
        head = _head(rng, title, rng.randint(20, 40), meta)
        nav = " ".join(
            f'<a href="/a/{rng.randrange(pages):06d}.html">{rng.choice(WORDS)}</a>' for _ in range(30)
        )
        body: list[str] = [f"<header><nav>{nav}</nav></header>", f"<main><h1>{title}</h1>"]
        size = len(head) + len(nav) + 200
        while size < target:
            p = rng.choice(paras)
            body.append(p)
            size += len(p) + 1
        body.append("</main><footer>(c) benchmark</footer>")
        html = f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{head}\n</head>\n<body>\n' + "\n".join(body)
        html += "\n</body>\n</html>\n"
        f = root / path.lstrip("/")
        f.parent.mkdir(exist_ok=True)
        f.write_text(html)
        paths.append(path)
    return paths


def real_site(root: Path, sources: list[Path], pages: int, work: Path, seed: int = 1) -> list[str]:
    """The site of ``pages`` real pages (``sources`` cycled), opt-outs as ``generate_site`` adds them.

    A page without a meta opt-out is a hard link to its unpacked source (a copy
    where linking fails); a meta opt-out page links to a variant of its source
    with the meta put into the real head (``realpages.inject_checked``: right
    after ``<head ...>`` or before ``</head>``, alternating, only where
    noai_guard reads it), written once per source under ``work``.  A source
    where no placement is read is skipped for meta opt-outs (the next one is
    used), so that every opt-out page is reserved and no other page is.
    """
    rp = _realpages()
    rng = random.Random(seed)
    _write_site_files(root)
    reads = rp.reserves(TOKEN)
    variants: dict[tuple[str, int], Path | None] = {}

    def variant(meta: str, k: int) -> Path | None:
        key = (meta, k)
        if key not in variants:
            src = sources[k]
            out = rp.inject_checked(src.read_bytes(), meta.encode(), at_end=k % 2 == 1, reads=reads)
            if out is None:
                variants[key] = None
            else:
                v = work / "variants" / f"{len(variants):04d}-{src.name}"
                v.parent.mkdir(parents=True, exist_ok=True)
                v.write_bytes(out)
                variants[key] = v
        return variants[key]

    paths: list[str] = []
    cum = _flavour_edges()
    for i in range(pages):
        dn, meta = _flavour(rng, cum)
        k = i % len(sources)
        src: Path | None = sources[k]
        if meta is not None:
            src = None
            for step in range(len(sources)):
                src = variant(meta, (k + step) % len(sources))
                if src is not None:
                    break
            if src is None:
                raise RuntimeError(f"no real page reads {meta!r} wherever it is put")
        path = f"/{dn}/{i:06d}.html"
        f = root / path.lstrip("/")
        f.parent.mkdir(exist_ok=True)
        assert src is not None
        try:
            os.link(src, f)
        except OSError:
            shutil.copyfile(src, f)
        paths.append(path)
    skipped = sum(1 for v in variants.values() if v is None)
    if skipped:
        print(f"      ({skipped} real page/meta pairs where noai_guard does not read the meta were not used)")
    return paths


def _realpages() -> Any:
    """``benchmarks/realpages.py``, imported from this file's directory (a script, or the tests' import)."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import realpages

    return realpages


# ---------------------------------------------------------------------------
# Serving: nginx, else a multi-process asyncio server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# As nginx's types block below sends them: no charset (a real page may not be UTF-8).
_TYPES = {".html": "text/html", ".txt": "text/plain", ".json": "application/json"}


def _serve_worker(root: str, port: int) -> None:
    """One worker process: HTTP/1.1 keep-alive, GET/HEAD of static files, headers by directory."""
    base = Path(root)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                method, target, _ = [*line.split(" "), "", ""][:3]
                path = target.split("?", 1)[0]
                f = base / path.lstrip("/")
                extra = ""
                try:
                    if ".." in path or not f.is_file():
                        raise FileNotFoundError(path)
                    data = f.read_bytes()
                    status = "200 OK"
                    ctype = _TYPES.get(f.suffix, "application/octet-stream")
                    h = HEADER_DIRS.get(path[1:2]) if path[2:3] == "/" else None
                    if h:
                        extra = f"{h[0]}: {h[1]}\r\n"
                except OSError:
                    data, status, ctype = b"not found\n", "404 Not Found", "text/plain"
                writer.write(
                    (
                        f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                        f"{extra}Connection: keep-alive\r\n\r\n"
                    ).encode("latin-1")
                )
                if method != "HEAD":
                    writer.write(data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, reuse_port=True, backlog=1024)
        async with server:
            await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(main())


def _nginx_conf(root: Path, port: int, workdir: Path, workers: int) -> str:
    locations = "\n".join(
        f'    location /{dn}/ {{ add_header {h[0]} "{h[1]}"; }}' for dn, h in HEADER_DIRS.items()
    )
    # Run as root, nginx's workers would switch to "nobody", who cannot read the
    # site in a mkdtemp directory (mode 0700): keep them as the user who runs this.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""
{user}worker_processes {workers};
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 60;
  client_body_temp_path {workdir}/body;
  proxy_temp_path {workdir}/proxy;
  fastcgi_temp_path {workdir}/fastcgi;
  uwsgi_temp_path {workdir}/uwsgi;
  scgi_temp_path {workdir}/scgi;
  types {{ text/html html; text/plain txt; application/json json; }}
  server {{
    listen 127.0.0.1:{port};
    root {root};
{locations}
  }}
}}
"""


@contextmanager
def serve(root: Path, workers: int) -> Iterator[tuple[str, str]]:
    """Serve ``root`` on a loopback port; yields (base URL, server description)."""
    port = _free_port()
    procs: list[subprocess.Popen[bytes]] = []
    nginx = shutil.which("nginx")
    workdir = Path(tempfile.mkdtemp(prefix="noai-bench-nginx-"))
    try:
        if nginx:
            conf = workdir / "nginx.conf"
            conf.write_text(_nginx_conf(root, port, workdir, workers))
            procs.append(subprocess.Popen([nginx, "-c", str(conf), "-p", str(workdir)]))
            what = f"nginx ({workers} workers)"
        else:
            code = (
                "import sys; sys.path.insert(0, sys.argv[3]); import crawl_overhead as c; "
                "c._serve_worker(sys.argv[1], int(sys.argv[2]))"
            )
            for _ in range(workers):
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-c", code, str(root), str(port), str(Path(__file__).parent)]
                    )
                )
            what = f"asyncio HTTP/1.1 server, {workers} processes on one SO_REUSEPORT socket"
        base = f"http://127.0.0.1:{port}"
        _wait_for(port)
        yield base, what
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the benchmark server did not come up on port {port}")


# ---------------------------------------------------------------------------
# The crawl (run in a subprocess: ``--child``)


class _Timer:
    """Time spent in the wrapped hooks: wall (perf_counter) and CPU of this thread (thread_time).

    The CPU figure does not count time the process spent preempted, so it stays
    meaningful on a loaded machine; the wall figure is what the issue asks for.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0
        self.calls = 0
        # The same, split by the kind of page the time was spent on (see _page_kind).
        self.by_kind: dict[str, list[float]] = {}
        self._kind = "other"

    def at(self, kind: str) -> _Timer:
        """``with timer.at(kind):`` times the block and books it under ``kind`` too."""
        self._kind = kind
        return self

    def __enter__(self) -> None:
        self._t0 = time.perf_counter()
        self._c0 = time.thread_time()

    def __exit__(self, *exc: object) -> None:
        dt = time.perf_counter() - self._t0
        dc = time.thread_time() - self._c0
        self.seconds += dt
        self.cpu += dc
        acc = self.by_kind.get(self._kind)
        if acc is None:
            acc = self.by_kind[self._kind] = [0.0, 0.0]
        acc[0] += dt
        acc[1] += dc


def _page_kind(url: str) -> str:
    """The site directory of a page URL (``a``, ``x``, ``t``, ``m``, ``d``), else ``files``."""
    path = url.split("://", 1)[-1]
    path = path[path.find("/") :] if "/" in path else "/"
    if len(path) > 3 and path[2] == "/" and path[1] in KINDS:
        return path[1]
    return "files"  # robots.txt, tdmrep.json, ai.txt


def _hook_kind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The page kind of a downloader hook call ``(self, request, ...)`` (Scrapy may pass ``request=``)."""
    request = kwargs.get("request", args[1] if len(args) > 1 else None)
    url = getattr(request, "url", None)
    return _page_kind(url) if isinstance(url, str) else "other"


def _timed_await(coro: Any, timer: _Timer, kind: str = "other") -> Generator[Any, Any, Any]:
    """Drive ``coro`` step by step, timing each step but not the awaits between them."""
    it = coro.__await__()
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            with timer.at(kind):
                yielded = it.throw(throw) if throw is not None else it.send(send)
        except StopIteration as stop:
            return stop.value
        try:
            send, throw = (yield yielded), None
        except BaseException as exc:  # noqa: BLE001 - handed back to the coroutine
            send, throw = None, exc


class _TimedCoroutine:
    def __init__(self, coro: Any, timer: _Timer, kind: str = "other") -> None:
        self._coro = coro
        self._timer = timer
        self._kind = kind

    def __await__(self) -> Generator[Any, Any, Any]:
        return _timed_await(self._coro, self._timer, self._kind)


def _wrap_handler(fn: Callable[..., Any], timer: _Timer) -> Callable[..., Any]:
    """Time a signal handler, keeping its signature as pydispatch sees it.

    pydispatch's ``robustApply`` reads the receiver's ``__code__`` and passes only
    the keyword arguments it names, unless it takes ``**kwargs``.  A plain
    ``(*a, **kw)`` wrapper would receive ``signal=``/``sender=`` and hand them to
    a handler that does not accept them: every call would raise and be logged
    with a traceback, so the handler would never run and the crawl would pay
    for the error logging.  Filter the keywords here, outside the timed span
    (Scrapy's dispatcher does the same filtering for the real handler).
    """
    import inspect

    params = inspect.signature(fn).parameters.values()
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    names = frozenset(p.name for p in params)

    def handler(*a: Any, **kw: Any) -> Any:
        if not takes_any:
            kw = {k: v for k, v in kw.items() if k in names}
        timer.calls += 1
        with timer.at("signals"):
            return fn(*a, **kw)

    return handler


def _wrap(fn: Callable[..., Any], timer: _Timer) -> Callable[..., Any]:
    import inspect

    if inspect.iscoroutinefunction(fn):

        async def awrapper(*a: Any, **kw: Any) -> Any:
            timer.calls += 1
            return await _TimedCoroutine(fn(*a, **kw), timer, _hook_kind(a, kw))

        return awrapper

    def wrapper(*a: Any, **kw: Any) -> Any:
        timer.calls += 1
        kind = _hook_kind(a, kw)
        with timer.at(kind):
            out = fn(*a, **kw)
        # A synchronous hook may hand Scrapy a coroutine to await (noai_guard does when
        # a site file must be fetched first): its steps are noai_guard time too.
        return _TimedCoroutine(out, timer, kind) if inspect.iscoroutine(out) else out

    return wrapper


_DOWNLOADER_HOOKS = ("process_request", "process_response", "process_exception")
MODES = ("plain", "drop", "guard", "timed", "floor")


def _noop_hook(name: str) -> Callable[..., Any]:
    """A hook that does nothing: ``process_response`` passes the response on, the others return None."""
    if name == "process_response":

        def process_response(self: Any, request: Any, response: Any, spider: Any = None) -> Any:
            return response

        return process_response

    def hook(self: Any, *a: Any, **kw: Any) -> Any:
        return None

    return hook


def _timed_subclass(cls: type[Any], timer: _Timer, empty: bool = False) -> type[Any]:
    """``cls`` with each downloader-middleware hook it defines wrapped by :func:`_wrap`.

    With ``empty``, the wrapped hooks do nothing (``floor`` mode).
    """
    ns = {
        name: _wrap(_noop_hook(name) if empty else getattr(cls, name), timer)
        for name in _DOWNLOADER_HOOKS
        if callable(getattr(cls, name, None))
    }
    sub = type(cls.__name__, (cls,), ns)
    # Same name as the real class: noai_guard checks its components (and their order
    # against HttpCacheMiddleware) by class name and would log errors otherwise.
    sub.__qualname__ = cls.__qualname__
    return sub


def _instrument(timer: _Timer, empty: bool = False) -> tuple[type[Any], set[type[Any]]]:
    """An add-on that installs noai_guard's components as timed subclasses (doing nothing if ``empty``).

    Whatever downloader middlewares the real add-on installs from the
    ``noai_guard`` package are swapped for subclasses whose hooks are timed;
    the shared per-crawler object's signal handlers (``spider_opened``,
    ``spider_closed``, and ``bytes_received``, connected while a site file
    downloads) are timed too, keeping the signatures pydispatch inspects.
    """
    from scrapy.utils.misc import load_object

    from noai_guard import middleware
    from noai_guard.addon import NoAIGuardAddon

    swapped: set[type[Any]] = set()
    # Where the handlers live: noai_guard.crawl (guard: spider_opened/closed; sitefetch:
    # bytes_received), or middleware._Guard in trees before the split.
    holders: list[Any] = [getattr(middleware, "_Guard", None)]
    try:
        from noai_guard.crawl import guard as crawl_guard
        from noai_guard.crawl import sitefetch
    except ImportError:
        pass
    else:
        holders += [crawl_guard.Guard, sitefetch.SiteFetcher]
    for holder in holders:
        if holder is None:
            continue
        for name in ("bytes_received", "spider_opened", "spider_closed"):
            if callable(getattr(holder, name, None)):
                setattr(holder, name, _wrap_handler(getattr(holder, name), timer))

    class TimedAddon(NoAIGuardAddon):
        """The real add-on, with its components swapped for timed subclasses."""

        def update_settings(self, settings: Any) -> None:
            super().update_settings(settings)
            mws = settings.getdict("DOWNLOADER_MIDDLEWARES")
            out: dict[Any, Any] = {}
            for key, prio in mws.items():
                cls = load_object(key) if isinstance(key, str) else key
                if isinstance(cls, type) and cls.__module__.startswith("noai_guard."):
                    swapped.add(cls)
                    cls = _timed_subclass(cls, timer, empty)
                out[cls] = prio
            settings.set("DOWNLOADER_MIDDLEWARES", out, priority="addon")

    return TimedAddon, swapped


class DropOptOutPages:
    """``drop`` mode: raise IgnoreRequest for the pages that carry an opt-out, checking nothing.

    Those pages live outside ``/a/`` (see ``generate_site``); noai_guard drops
    exactly them, so this crawl does what a noai_guard crawl does minus the checks.
    """

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> DropOptOutPages:
        return cls(crawler.stats)

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        from scrapy.exceptions import IgnoreRequest

        if "/a/" not in request.url:
            self.stats.inc_value("bench/dropped")
            raise IgnoreRequest("drop mode")
        return response


def child(args: argparse.Namespace) -> int:
    """One crawl: all URLs of ``--urls`` once; writes a JSON result to ``--result``."""
    sys.path.insert(0, str(ROOT))
    from scrapy import Request, Spider, signals
    from scrapy.crawler import CrawlerProcess

    urls = Path(args.urls).read_text().split()
    timer = _Timer()
    marks: dict[str, Any] = {}

    class BenchSpider(Spider):
        name = "bench"

        async def start(self) -> Any:
            for u in urls:
                yield Request(u, callback=self.parse)

        def parse(self, response: Any) -> Any:
            yield {"url": response.url, "size": len(response.body)}

    settings: dict[str, Any] = {
        "USER_AGENT": f"{TOKEN}/1.0",
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "DOWNLOAD_DELAY": 0,
        "RETRY_ENABLED": False,
        "COOKIES_ENABLED": False,
    }
    swapped: set[type[Any]] = set()
    if args.mode == "drop":
        # The same pages dropped as noai_guard drops them, by a middleware that checks nothing.
        settings["DOWNLOADER_MIDDLEWARES"] = {DropOptOutPages: 950}
    if args.mode in ("guard", "timed", "floor"):
        from noai_guard import NoAIGuardAddon

        addon: Any = NoAIGuardAddon
        if args.mode in ("timed", "floor"):
            addon, swapped = _instrument(timer, empty=args.mode == "floor")
        settings.update(
            {
                "ADDONS": {addon: 0},
                "NOAI_GUARD_USER_AGENTS": [TOKEN],
                "NOAI_GUARD_AUDIT_URI": str(Path(args.result).with_suffix(".audit.jsonl")),
                "NOAI_GUARD_SOURCES": None,  # every source on
            }
        )

    def opened(spider: Any) -> None:
        marks["t0"] = time.perf_counter()
        marks["r0"] = resource.getrusage(resource.RUSAGE_SELF)

    def closed(spider: Any) -> None:
        marks["t1"] = time.perf_counter()
        marks["r1"] = resource.getrusage(resource.RUSAGE_SELF)

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BenchSpider)
    crawler.signals.connect(opened, signal=signals.spider_opened)
    crawler.signals.connect(closed, signal=signals.spider_closed)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    r0, r1 = marks["r0"], marks["r1"]
    result = {
        "mode": args.mode,
        "seconds": marks["t1"] - marks["t0"],
        "cpu_crawl": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
        # Pages fetched: those that reached the spider plus those noai_guard dropped after the
        # fetch (its own robots.txt / tdmrep.json / ai.txt requests are not pages).
        "responses": int(stats.get("item_scraped_count", 0))
        + int(stats.get("noai_guard/dropped", 0))
        + int(stats.get("bench/dropped", 0)),
        "skipped": int(stats.get("noai_guard/skipped", 0)),
        "urls": len(urls),
        "errors": int(stats.get("log_count/ERROR", 0)),
        "guard_seconds": timer.seconds,
        "guard_cpu": timer.cpu,
        "guard_calls": timer.calls,
        "guard_by_kind": timer.by_kind,
        "swapped": sorted(c.__name__ for c in swapped),
        "noai_guard_stats": {k: v for k, v in stats.items() if str(k).startswith("noai_guard/")},
    }
    Path(args.result).write_text(json.dumps(result, default=str))
    return 0


def run_child(mode: str, urls_file: Path, result: Path, concurrency: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--urls",
        str(urls_file),
        "--result",
        str(result),
        "--concurrency",
        str(concurrency),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not result.exists():
        sys.stderr.write(err.decode(errors="replace")[-4000:])
        raise RuntimeError(f"{mode} crawl failed with exit status {proc.returncode}")
    out: dict[str, Any] = json.loads(result.read_text())
    out["cpu_process"] = usage.ru_utime + usage.ru_stime
    out["error_lines"] = [ln for ln in err.decode(errors="replace").splitlines() if "] ERROR:" in ln][:3]
    return out


# ---------------------------------------------------------------------------
# Main


def _fmt_ms(x: float) -> str:
    return f"{x * 1000:.4f} ms"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    p.add_argument(
        "--pages",
        type=_realpages().pages_option,
        default=None,
        metavar="real|generated",
        help="the real pages of ../shared/realpages/ (default when present) or generated ones",
    )
    p.add_argument("--count", type=int, default=5000, help="pages in the site (default 5000)")
    p.add_argument("--rounds", type=int, default=5, help="crawls per mode, interleaved (default 5)")
    p.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    p.add_argument("--concurrency", type=int, default=16, help="CONCURRENT_REQUESTS (default 16)")
    p.add_argument("--site", type=Path, help="generate into / reuse this directory instead of a temp dir")
    p.add_argument("--child", choices=MODES, dest="mode", help=argparse.SUPPRESS)
    p.add_argument("--urls", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.mode:
        return child(args)

    rp = _realpages()
    kind = rp.resolve(args.pages)
    tmp = Path(tempfile.mkdtemp(prefix="noai-bench-"))
    site = args.site or tmp / "site"
    try:
        t = time.perf_counter()
        marker = site / ".pages"
        tag = f"{kind}:{args.count}"
        if marker.exists() and marker.read_text().split("\n", 1)[0] == tag:
            paths = marker.read_text().split("\n", 1)[1].split()
            print(f"site: reusing {len(paths)} {kind} pages in {site}")
        else:
            if kind == "real":
                with rp.unpacked() as sources:
                    paths = real_site(site, sources, args.count, tmp)
                print(
                    f"site: {len(paths)} real pages ({len(sources)} documents of {rp.TARBALL} cycled) "
                    f"in {site} in {time.perf_counter() - t:.1f} s"
                )
            else:
                paths = generate_site(site, args.count)
                print(f"site: generated {len(paths)} pages in {site} in {time.perf_counter() - t:.1f} s")
            marker.write_text(f"{tag}\n" + "\n".join(paths))
        sizes = [(site / q.lstrip("/")).stat().st_size for q in paths]
        optouts = sum(1 for q in paths if not q.startswith("/a/"))
        print(
            f"      {statistics.mean(sizes) / 1024:.0f} KB mean page ({min(sizes) // 1024}-{max(sizes) // 1024} KB), "
            f"{optouts} pages ({optouts / len(paths):.0%}) with an opt-out in a header or meta"
        )
        kinds = {k: sum(1 for q in paths if q[1:2] == k) for k in KINDS}
        with serve(site, args.workers) as (base, what):
            print(f"server: {what} at {base}")
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"load average before the crawls: {load} ({os.cpu_count()} CPUs)")
            urls_file = tmp / "urls.txt"
            urls_file.write_text("\n".join(base + q for q in paths))
            results: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
            for r in range(args.rounds):
                for mode in MODES[r % len(MODES) :] + MODES[: r % len(MODES)]:
                    res = run_child(mode, urls_file, tmp / f"{mode}-{r}.json", args.concurrency)
                    results[mode].append(res)
                    print(
                        f"  round {r + 1} {mode:5}: {res['responses']} pages in {res['seconds']:.2f} s = "
                        f"{res['responses'] / res['seconds']:.0f} pages/s, "
                        f"cpu {res['cpu_process']:.2f} s"
                        + (
                            f", noai_guard {_fmt_ms(res['guard_seconds'] / max(res['responses'], 1))}/page"
                            f" ({_fmt_ms(res['guard_cpu'] / max(res['responses'], 1))} CPU)"
                            if mode in ("timed", "floor")
                            else ""
                        ),
                        flush=True,
                    )
        report(results, kinds)
        print(
            f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)"
        )
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Issue 13's targets (real pages, medians of >= 5 interleaved rounds).
TARGET_PAGES_RATIO = 0.97  # pages/s of noai_guard / plain Scrapy, at least
TARGET_CPU_RATIO = 1.03  # CPU per page of noai_guard / plain Scrapy, at most
TARGET_OWN_MS = 0.10  # ms per page in noai_guard's own code (timed minus floor), at most
TARGET_RESERVED_MS = 0.5  # ms per reserved page with images, at most


def report(results: dict[str, list[dict[str, Any]]], kinds: dict[str, int] | None = None) -> None:
    def med(mode: str, f: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(f(r) for r in results[mode])

    def pps(r: dict[str, Any]) -> float:
        return float(r["responses"]) / float(r["seconds"])

    def per_page(key: str) -> Callable[[dict[str, Any]], float]:
        return lambda r: float(r[key]) / max(int(r["responses"]), 1)

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    n = len(results["plain"])
    pages = {mode: med(mode, pps) for mode in MODES}
    print()
    print(f"{'':28}" + "".join(f"{m:>12}" for m in MODES) + f"   (medians of {n} rounds each)")
    print(f"{'pages/s':28}" + "".join(f"{pages[m]:>12.0f}" for m in MODES))
    for label, key in (("CPU per page, process", "cpu_process"), ("CPU per page, crawl only", "cpu_crawl")):
        print(f"{label:28}" + "".join(f"{med(m, per_page(key)) * 1000:>9.3f} ms" for m in MODES))
    print()
    ratio = pages["guard"] / pages["plain"]
    # Rounds pair up by index: each round ran every mode once, back to back.
    ratios = [pps(g) / pps(p) for p, g in zip(results["plain"], results["guard"], strict=False)]
    cpu_plain, cpu_guard = med("plain", per_page("cpu_process")), med("guard", per_page("cpu_process"))
    cpu_ratios = [
        per_page("cpu_process")(g) / per_page("cpu_process")(p)
        for p, g in zip(results["plain"], results["guard"], strict=False)
    ]
    print(
        f"pages/s ratio noai_guard/plain (ratio of medians): {ratio:.3f}  target >= {TARGET_PAGES_RATIO}: "
        f"{met(ratio >= TARGET_PAGES_RATIO)}"
        f"\n  per round: {', '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.3f})"
        f"\n  timed/plain (hooks wrapped in timers, not the cost a user pays): "
        f"{pages['timed'] / pages['plain']:.3f}"
    )
    cpu_ratio = cpu_guard / cpu_plain
    print(
        f"CPU per page ratio noai_guard/plain (ratio of medians): {cpu_ratio:.3f} "
        f"({(cpu_guard - cpu_plain) * 1000:+.3f} ms)  target <= {TARGET_CPU_RATIO}: "
        f"{met(cpu_ratio <= TARGET_CPU_RATIO)}"
        f"\n  per round: {', '.join(f'{x:.2f}' for x in cpu_ratios)} (median {statistics.median(cpu_ratios):.3f})"
    )
    drop_ratios = [pps(g) / pps(p) for p, g in zip(results["drop"], results["guard"], strict=False)]
    print(
        f"pages/s ratio noai_guard/drop (the same pages dropped, nothing checked): "
        f"{pages['guard'] / pages['drop']:.3f}"
        f"\n  per round: {', '.join(f'{x:.2f}' for x in drop_ratios)} (median {statistics.median(drop_ratios):.3f})"
        f"\n  CPU per page ratio noai_guard/drop: {cpu_guard / med('drop', per_page('cpu_process')):.3f}"
    )
    timed = results["timed"]
    wall, cpu = med("timed", per_page("guard_seconds")), med("timed", per_page("guard_cpu"))
    floor_wall = med("floor", per_page("guard_seconds"))
    floor_cpu = med("floor", per_page("guard_cpu"))
    own = wall - floor_wall
    print(
        f"time inside noai_guard per page: {_fmt_ms(wall)} wall, {_fmt_ms(cpu)} CPU "
        f"(median of rounds; {timed[-1]['guard_calls']} hook calls in the last round)"
        f"\n  of which the floor (the same timed hooks doing nothing): {_fmt_ms(floor_wall)} wall, "
        f"{_fmt_ms(floor_cpu)} CPU"
        f"\n  noai_guard's own code (timed minus floor): {_fmt_ms(own)} wall, {_fmt_ms(cpu - floor_cpu)} CPU"
        f"  target <= {TARGET_OWN_MS:.2f} ms: {met(own <= TARGET_OWN_MS / 1000)}"
    )
    if kinds:
        _report_kinds(results, kinds)
    short = [r for mode in results.values() for r in mode if r["responses"] + r["skipped"] != r["urls"]]
    if short:
        print(f"warning: {len(short)} crawls did not fetch or skip every URL (download errors?)")
    errors = [r for mode in results.values() for r in mode if r.get("errors")]
    if errors:
        print(f"warning: {len(errors)} crawls logged errors (a broken wrapper or handler skews the figures)")
        for r in errors:
            print(f"  {r['mode']}: " + " | ".join(r.get("error_lines", []))[:500])
    if not all(r["swapped"] for r in timed + results["floor"]):
        print("warning: the add-on's middleware was not found; noai_guard time was not measured")
    st = results["guard"][-1]["noai_guard_stats"]
    if st:
        keys = sorted(st)
        print("noai_guard stats (last round): " + ", ".join(f"{k.split('/', 1)[1]}={st[k]}" for k in keys))
    if kinds:
        expected = sum(v for k, v in kinds.items() if k != "a")
        dropped = [int(r["noai_guard_stats"].get("noai_guard/dropped", 0)) for r in results["guard"]]
        if any(d != expected for d in dropped):
            print(
                f"warning: noai_guard dropped {', '.join(map(str, dropped))} pages per round, "
                f"the site has {expected} opt-out pages (drop mode drops exactly those)"
            )


def _report_kinds(results: dict[str, list[dict[str, Any]]], kinds: dict[str, int]) -> None:
    """Time inside noai_guard per page, by kind of page (timed, floor, and their difference)."""

    def per(mode: str, kind: str, i: int) -> float:
        vals = [float(r.get("guard_by_kind", {}).get(kind, [0.0, 0.0])[i]) for r in results[mode]]
        return statistics.median(vals) / kinds[kind]

    print(
        "  by kind of page (ms per page, wall; median of rounds; site-file fetches and signals not included):"
    )
    print(f"    {'':32}{'pages':>7}{'timed':>9}{'floor':>9}{'own':>9}{'own CPU':>9}")
    for k, label in KINDS.items():
        if not kinds.get(k):
            continue
        t, f = per("timed", k, 0), per("floor", k, 0)
        own_cpu = per("timed", k, 1) - per("floor", k, 1)
        print(
            f"    {k} {label:30}{kinds[k]:>7}{t * 1000:>9.4f}{f * 1000:>9.4f}{(t - f) * 1000:>9.4f}"
            f"{own_cpu * 1000:>9.4f}"
        )
    reserved_meta = [k for k in ("m", "d") if kinds.get(k)]
    if reserved_meta:
        worst = max((per("timed", k, 0) - per("floor", k, 0)) for k in reserved_meta)
        worst_cpu = max((per("timed", k, 1) - per("floor", k, 1)) for k in reserved_meta)
        print(
            f"    meta opt-outs (reserved; real pages embed images, generated ones do not): up to {worst * 1000:.3f} ms own code"
            f" ({worst_cpu * 1000:.3f} ms CPU)  target <= {TARGET_RESERVED_MS} ms: "
            f"{'met' if worst <= TARGET_RESERVED_MS / 1000 else 'NOT met'}"
        )
    other = {
        key: statistics.median(float(r.get("guard_by_kind", {}).get(key, [0.0])[0]) for r in results["timed"])
        for key in ("files", "signals", "other")
    }
    print(
        "    outside the pages (total per crawl, timed): "
        + ", ".join(f"{key} {v * 1000:.1f} ms" for key, v in other.items())
    )


if __name__ == "__main__":
    raise SystemExit(main())
