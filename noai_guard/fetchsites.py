"""Internal: ``audit --fetch``: today's robots.txt, tdmrep.json and ai.txt, fetched through Scrapy.

For origins with no capture, the audit fetches each origin's three site files
with a small Scrapy spider run in a subprocess (a fresh Twisted reactor,
whatever the caller runs), politely:

* one request at a time per origin (``CONCURRENT_REQUESTS_PER_DOMAIN = 1``),
  robots.txt first, then tdmrep.json and ai.txt;
* the robots.txt ``Crawl-delay`` for the audit's own token (capped at 60 s)
  becomes the origin's download delay before the next file is requested;
* RFC 9309 §2.3.1.2: redirects are followed up to five times (Scrapy's
  ``REDIRECT_MAX_TIMES``); more make the file unavailable.  Status handling is
  :func:`noai_guard.sitefiles.from_fetch` (4xx no rules, 5xx / errors
  unreachable), as everywhere else.

The subprocess writes one JSON object per fetched file; the parent turns them
into :class:`~noai_guard.archives.Capture` values dated now.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from .archives import Capture, CaptureIndex, InputInfo, iter_urls, site_file_kind
from .policy import Policy
from .sitefiles import KINDS, MAX_REDIRECTS, PATHS, Kind, origin_of

MAX_CRAWL_DELAY = 60.0
TOO_MANY_REDIRECTS = f"more than {MAX_REDIRECTS} redirects"


class FetchError(Exception):
    """The fetch subprocess failed (the command exits 2)."""


def origins_needing_fetch(infos: Iterable[InputInfo], base: CaptureIndex, url_field: str = "url") -> set[str]:
    """Origins of the inputs' URLs with no robots.txt capture in ``base`` or in the WARC inputs."""
    origins: set[str] = set()
    captured: set[str] = set()
    for info in infos:
        if info.kind == "warc" and (info.container == "arc" or info.gzip == "lz4"):
            from .archives import Capture as _Capture
            from .archives import WarcPage, iter_warc

            for rec_item in iter_warc(info.path, want_head=False):
                if isinstance(rec_item, _Capture) and rec_item.kind == "robots":
                    captured.add(rec_item.origin)
                elif isinstance(rec_item, WarcPage):
                    origins.add(origin_of(rec_item.url))
        elif info.kind == "warc":
            from fastwarc.warc import ArchiveIterator, WarcRecordType

            for rec in ArchiveIterator(
                info.path, record_types=WarcRecordType.response | WarcRecordType.resource, parse_http=False
            ):
                url = (rec.headers.get("WARC-Target-URI") or "").strip().strip("<>")
                if not url.startswith(("http://", "https://")):
                    continue
                if site_file_kind(url) == "robots":
                    captured.add(origin_of(url))
                else:
                    origins.add(origin_of(url))
        else:
            for item in iter_urls(info, url_field):
                url = getattr(item, "url", "")
                if url.startswith(("http://", "https://")):
                    origins.add(origin_of(url))
    return {o for o in origins - captured if base.nearest(o, "robots", math.inf) is None}


def fetch_captures(
    origins: Iterable[str], user_agent: str, token: str, timeout: float = 30.0
) -> list[Capture]:
    """Fetch the site files of ``origins`` through Scrapy in a subprocess."""
    origins = sorted(set(origins))
    if not origins:
        return []
    with tempfile.TemporaryDirectory(prefix="noai-guard-fetch-") as tmp:
        src = os.path.join(tmp, "origins.json")
        out = os.path.join(tmp, "fetched.jsonl")
        with open(src, "w", encoding="utf-8") as fh:
            json.dump(origins, fh)
        cmd = [sys.executable, "-m", "noai_guard.fetchsites", src, out, "--user-agent", user_agent]
        cmd += ["--token", token, "--timeout", str(timeout)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not os.path.exists(out):
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise FetchError(f"--fetch: the Scrapy fetch failed: {tail}")
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        caps = []
        with open(out, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                kind: Kind = r["kind"]
                caps.append(
                    Capture(
                        kind,
                        r["url"],
                        origin_of(r["url"]),
                        now,
                        _dt.datetime.now(_dt.timezone.utc).timestamp(),
                        None,
                        r["status"],
                        base64.b64decode(r["body"]),
                        "fetched",
                        None,
                        detail=r.get("detail", ""),
                        too_many_redirects=r.get("detail") == TOO_MANY_REDIRECTS,
                    )
                )
        return caps


def fetch_for_inputs(
    infos: list[InputInfo], base: CaptureIndex, policy: Policy, url_field: str = "url"
) -> CaptureIndex:
    """The fallback index for ``--fetch``: today's files for origins the captures do not cover."""
    from . import __version__
    from .presets import fetch_token

    token = fetch_token(policy)  # never a token a preset judges for (GPTBot ...)
    ua = f"{token}/{__version__} (noai-guard audit --fetch)"
    try:
        caps = fetch_captures(origins_needing_fetch(infos, base, url_field), ua, token)
    except OSError as exc:
        raise FetchError(f"--fetch: {exc}") from exc
    return CaptureIndex(caps)


def fetch_failures(fetched: CaptureIndex) -> dict[str, Any]:
    """The fetches of ``--fetch`` that got no response, for the summary record and stderr.

    ``{"fetches": n, "total": failed, "origins": {origin: {kind: error}}}``: a DNS
    error, a refused connection or a timeout (RFC 9309 §2.3.1.4: robots.txt
    unreachable).  More than five redirects is an answer, not a failure.
    """
    origins: dict[str, dict[str, str]] = {}
    n = failed = 0
    for cap in sorted(fetched.captures(), key=lambda c: (c.origin, KINDS.index(c.kind))):
        n += 1
        if cap.status is None and not cap.too_many_redirects:
            failed += 1
            origins.setdefault(cap.origin, {})[cap.kind] = cap.detail or "no response"
    return {"fetches": n, "total": failed, "origins": origins}


# --- the subprocess: a Scrapy spider -----------------------------------------------------------------


def _spider_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m noai_guard.fetchsites")
    ap.add_argument("origins")
    ap.add_argument("out")
    ap.add_argument("--user-agent", default="noai-guard")
    ap.add_argument("--token", default="noai-guard")
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args(argv)

    import scrapy
    from scrapy.crawler import CrawlerProcess

    from .robots import RobotsTxt

    with open(a.origins, encoding="utf-8") as fh:
        origins: list[str] = json.load(fh)
    out = open(a.out, "w", encoding="utf-8")  # noqa: SIM115 - closed after the crawl

    def emit(kind: str, url: str, status: int | None, body: bytes = b"", detail: str = "") -> None:
        rec = {
            "kind": kind,
            "url": url,
            "status": status,
            "body": base64.b64encode(body).decode(),
            "detail": detail,
        }
        out.write(json.dumps(rec) + "\n")
        out.flush()

    # The spider sees 4xx and 5xx (not dropped by HttpErrorMiddleware); 3xx go to RedirectMiddleware.
    statuses = list(range(400, 600))

    class SiteFilesSpider(scrapy.Spider):
        name = "noai-guard-sitefiles"

        async def start(self) -> Any:
            for o in origins:
                yield self._req(o, 0)

        def start_requests(self) -> Iterator[Any]:  # Scrapy < 2.13
            for o in origins:
                yield self._req(o, 0)

        def _req(self, origin: str, i: int) -> Any:
            kind = KINDS[i]
            url = origin + PATHS[kind]
            meta = {"kind": kind, "i": i, "origin": origin, "handle_httpstatus_list": statuses}
            return scrapy.Request(url, callback=self.parsed, errback=self.failed, meta=meta, dont_filter=True)

        def _next(self, meta: dict[str, Any]) -> Iterator[Any]:
            if meta["i"] + 1 < len(KINDS):
                yield self._req(meta["origin"], meta["i"] + 1)

        def parsed(self, response: Any) -> Iterator[Any]:
            meta = response.meta
            kind, url = meta["kind"], meta["origin"] + PATHS[meta["kind"]]
            emit(kind, url, response.status, response.body)
            if kind == "robots" and 200 <= response.status < 300:
                delay = RobotsTxt.parse(response.body, url).crawl_delay(a.token)
                if delay:
                    slot_key = response.meta.get("download_slot")
                    slots = self.crawler.engine.downloader.slots
                    if slot_key in slots:
                        slot = slots[slot_key]
                        slot.delay = min(float(delay), MAX_CRAWL_DELAY)
                        # The site asked for this gap: not Scrapy's random 0.5x-1.5x of it.
                        if hasattr(slot, "jitter"):  # Scrapy >= 2.14
                            slot.jitter = 0.0
                        else:  # pragma: no cover - older Scrapy
                            slot.randomize_delay = False
            yield from self._next(meta)

        def failed(self, failure: Any) -> Iterator[Any]:
            req = failure.request
            meta = req.meta
            kind, url = meta["kind"], meta["origin"] + PATHS[meta["kind"]]
            msg = str(failure.value)
            if "max redirections" in msg.lower() or "redirect" in type(failure.value).__name__.lower():
                emit(kind, url, None, b"", TOO_MANY_REDIRECTS)
            else:
                emit(kind, url, None, b"", f"{type(failure.value).__name__}: {msg}"[:300])
            yield from self._next(meta)

    proc = CrawlerProcess(
        settings={
            "USER_AGENT": a.user_agent,
            "ROBOTSTXT_OBEY": False,  # these are the robots.txt fetches themselves
            "CONCURRENT_REQUESTS": 16,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            "REDIRECT_MAX_TIMES": MAX_REDIRECTS,
            "DOWNLOAD_TIMEOUT": a.timeout,
            "DOWNLOAD_MAXSIZE": 4 * 1024 * 1024,
            "RETRY_TIMES": 1,
            "LOG_LEVEL": "ERROR",
            "TELNETCONSOLE_ENABLED": False,
        },
        install_root_handler=True,
    )
    proc.crawl(SiteFilesSpider)
    proc.start()
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(_spider_main())
