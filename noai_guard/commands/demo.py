"""Internal: ``noai-guard demo``: crawl a built-in sample site with the add-on and show what it did.

The sample site (:mod:`noai_guard.sampleserver`) runs on 127.0.0.1 and exercises
every signal; a small spider follows its links and then requests the images it
found, in a real Scrapy ``CrawlerProcess`` with ``noai_guard.NoAIGuardAddon``
enabled.  The audit trail, the items feed and the Scrapy log go to ``--out``;
the summary table goes to stdout.  No internet access is needed.

Exit status: 0 when the crawl ran and no reserved URL reached the feed, 1 if
one did (a bug worth reporting), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.http import Response

    from ..sampleserver import SampleSite

EXIT_OK, EXIT_LEAK, EXIT_USAGE = 0, 1, 2
AUDIT_FILE, ITEMS_FILE, LOG_FILE = "audit.jsonl", "items.jsonl", "crawl.log"
REPORT_DIR = "report"  # where the printed next command writes the report

# Table order: the signals a site sets before the fetch, then those on the response.
_ROW_ORDER = (
    "robots-txt",
    "robots-txt-proxy",
    "content-usage",
    "content-signal",
    "tdmrep",
    "ai-txt",
    "rsl",
    "x-robots-tag",
    "meta-robots",
    "embedding-page",
    "legacy-ai-training",
    "rsl-license",
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="crawl a built-in sample site that exercises every signal (no internet needed)",
        description="Serve a sample site on 127.0.0.1 that carries every machine-readable AI opt-out, "
        "crawl it with Scrapy and the noai_guard add-on, and print what was skipped, dropped and "
        "allowed. The audit trail, the items feed and the crawl log are written under --out.",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default="noai-guard-demo",
        help="output directory (default: ./noai-guard-demo/); its audit.jsonl and items.jsonl are replaced",
    )
    return p


# ---------------------------------------------------------------------------
# The crawl


def _spider_class() -> type[Any]:
    """The demo spider, built lazily so that ``--help`` does not import Scrapy."""
    import scrapy
    from scrapy import signals
    from scrapy.exceptions import DontCloseSpider

    from ..evaluate import is_image
    from ..middleware import META_DECISION

    class DemoSpider(scrapy.Spider):
        """Follows links within the sample site's origins; requests images once the pages are done.

        Images wait for the pages so that a page's ``noimageai`` is always
        seen before the images it embeds are requested, as it would be on a
        real site where the image pipeline runs after the page callback.
        """

        name = "noai-guard-demo"

        def __init__(self, start_url: str, origins: Iterable[str], **kw: Any) -> None:
            super().__init__(**kw)
            self.start_url = start_url
            self.origins = tuple(o.rstrip("/") + "/" for o in origins)
            self.seen: set[str] = {start_url}
            self.images: list[str] = []

        @classmethod
        def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> DemoSpider:
            spider: DemoSpider = super().from_crawler(crawler, *args, **kwargs)
            crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
            return spider

        async def start(self) -> Any:
            yield scrapy.Request(self.start_url, callback=self.parse)

        def _ours(self, url: str) -> bool:
            return url.startswith(self.origins) and url not in self.seen

        def parse(self, response: Response) -> Iterator[Any]:
            ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
            decision = response.meta.get(META_DECISION)
            item = {
                "url": response.url,
                "status": response.status,
                "content_type": ctype,
                "bytes": len(response.body),
                "verdict": None if decision is None else str(decision.verdict),
            }
            if is_image(response.url, ctype) or not hasattr(response, "css"):
                yield {"kind": "image", **item}
                return
            title = response.css("title::text").get()
            yield {"kind": "page", "title": title, **item}
            for href in response.css("a::attr(href)").getall():
                url = response.urljoin(href)
                if not self._ours(url):
                    continue
                self.seen.add(url)
                if is_image(url, None):
                    self.images.append(url)
                else:
                    yield scrapy.Request(url, callback=self.parse)
            srcs = response.css("img::attr(src), meta[property='og:image']::attr(content)").getall()
            srcs += response.css(
                "video::attr(src), video::attr(poster), audio::attr(src), source::attr(src)"
            ).getall()
            for srcset in response.css("img::attr(srcset), source::attr(srcset)").getall():
                srcs += [part.strip().split(" ")[0] for part in srcset.split(",") if part.strip()]
            for src in srcs:
                url = response.urljoin(src)
                if self._ours(url):
                    self.seen.add(url)
                    self.images.append(url)

        def on_idle(self, spider: scrapy.Spider) -> None:
            if not self.images:
                return
            engine = self.crawler.engine
            for url in self.images:
                engine.crawl(scrapy.Request(url, callback=self.parse))
            self.images = []
            raise DontCloseSpider

    return DemoSpider


def crawl_settings(out: Path, *, token: str) -> dict[str, Any]:
    """Settings of the demo crawl: the one-line add-on plus where the outputs go."""
    from ._crawl import ADDONS, user_agent

    return {
        "ADDONS": ADDONS,
        "USER_AGENT": user_agent(token, "demo"),
        "NOAI_GUARD_USER_AGENTS": [token],
        "NOAI_GUARD_AUDIT_URI": str(out / AUDIT_FILE),
        "NOAI_GUARD_AUDIT_ALLOWED": True,  # the trail holds every decision, allowed ones too
        "ROBOTSTXT_OBEY": False,  # noai_guard reads robots.txt itself, and records why it skips
        "FEEDS": {(out / ITEMS_FILE).resolve().as_uri(): {"format": "jsonlines", "overwrite": True}},
        "LOG_FILE": str(out / LOG_FILE),
        "LOG_FILE_APPEND": False,
        "LOG_LEVEL": "DEBUG",  # a small site: every skip and drop is in the log too
        "CONCURRENT_REQUESTS": 16,
        "DOWNLOAD_TIMEOUT": 10,
        "RETRY_TIMES": 1,
    }


def run_crawl(site: SampleSite, out: Path, *, verbose: bool = False) -> dict[str, Any]:
    """Crawl ``site`` in this process; returns the crawl's Scrapy stats."""
    from ._crawl import run_spider

    return run_spider(
        _spider_class(),
        crawl_settings(out, token=site.token),
        verbose=verbose,
        start_url=site.url("/"),
        origins=list(site.origins.values()),
    )


# ---------------------------------------------------------------------------
# The summary

_BLOCKING = ("skipped", "dropped", "flagged")
_PHASE_RANK = {"skipped": 0, "dropped": 1, "flagged": 2}


@dataclass
class Row:
    """One signal's line of the table."""

    skipped: int = 0
    dropped: int = 0
    flagged: int = 0
    unknown: int = 0
    # (action rank, url, evidence, where, evidence URL): skipped before dropped, then by URL.
    example: tuple[int, str, str, str, str] | None = None
    observed: str = ""  # evidence of a signal seen in some decision without deciding it
    recorded: int = 0  # allowed URLs it decided as unknown without blocking (access-required, c2pa)
    recorded_example: tuple[str, str] | None = None  # (url, text): the first URL in order

    @property
    def blocked(self) -> int:
        return self.skipped + self.dropped + self.flagged + self.unknown


@dataclass
class Summary:
    """What the trail says, folded for the table."""

    rows: dict[str, Row] = field(default_factory=dict)
    records: Counter[str] = field(default_factory=Counter)
    blocked_urls: set[str] = field(default_factory=set)
    allowed_urls: set[str] = field(default_factory=set)
    unknown_notes: list[str] = field(default_factory=list)
    recorded_notes: list[str] = field(default_factory=list)
    origins: dict[str, Any] = field(default_factory=dict)

    def row(self, name: str) -> Row:
        return self.rows.setdefault(name, Row())


def _where(location: Any, line: Any, source: Any) -> str:
    loc = str(location or "")
    src = str(source or "")
    if src.endswith(("/robots.txt", "/ai.txt", "/tdmrep.json")):
        loc = src.rsplit("/", 1)[-1]
    return f"{loc}:{line}" if line else loc


def _clip(text: str, n: int = 44) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def summarise(trail: Path) -> Summary:
    """Fold the trail's records into per-signal counts, with one example of evidence each."""
    from ..auditlog import read_audit

    s = Summary()
    for rec in read_audit(trail):
        kind = str(rec.get("type"))
        s.records[kind] += 1
        if kind == "summary":
            s.origins = dict(rec.get("origins") or {})
        if kind != "decision":
            continue
        url, action = str(rec.get("url")), rec.get("action")
        for sig in rec.get("signals") or ():
            if sig.get("superseded") or sig.get("verdict") is None:
                row = s.row(str(sig.get("name")))
                if not row.observed and sig.get("evidence"):
                    where = _where(sig.get("location"), sig.get("line"), sig.get("source"))
                    row.observed = f"{_clip(str(sig['evidence']))}  [{where}]"
        name = rec.get("signal")
        if action == "allowed" and name and rec.get("verdict") == "unknown":
            # Not blocked, not a reservation either: a login or payment asked (nothing obtained,
            # so nothing in the feed), a C2PA manifest not checked (resolved to allow by policy).
            row = s.row(str(name))
            row.recorded += 1
            evidence = str(rec.get("evidence") or rec.get("reason") or "")
            shown = (url, f"{_clip(evidence)}  [/{url.split('/', 3)[-1]}]")
            row.recorded_example = min(row.recorded_example or shown, shown)
            s.recorded_notes.append(f"{url}: {evidence} ({rec.get('resolution') or 'unknown, not blocked'})")
            if name != "access-required":
                s.allowed_urls.add(url)
            continue
        if action not in _BLOCKING or not name:
            if action == "allowed":
                s.allowed_urls.add(url)
            continue
        s.blocked_urls.add(url)
        row = s.row(str(name))
        # Skipped and dropped count every blocked URL, as the origin table does; "unknown"
        # says how many of them an unreadable signal decided.
        setattr(row, str(action), getattr(row, str(action)) + 1)
        if rec.get("verdict") == "unknown":
            row.unknown += 1
            s.unknown_notes.append(f"{url}: {rec.get('evidence') or rec.get('reason')}")
        else:
            where = _where(rec.get("location"), rec.get("line"), rec.get("evidence_url"))
            evidence = _clip(str(rec.get("evidence") or ""))
            example = (_PHASE_RANK[str(action)], url, evidence, where, str(rec.get("evidence_url") or ""))
            if row.example is None or example < row.example:
                row.example = example
    return s


def _read_items(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    items = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            if isinstance(obj, dict):
                items.append(obj)
    return items


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def format_summary(
    summary: Summary, items: list[dict[str, Any]], out: Path, site: SampleSite, seconds: float
) -> str:
    """The table printed by the command (plain text, fixed-width columns)."""
    from ..decision import SIGNALS

    lines = [
        (
            f"noai-guard demo: crawled the built-in sample site in {seconds:.1f} s "
            f"({len(site.origins)} origins on {site.host}, no internet used)"
        ),
        f"policy: own token {site.token}, purpose ai-train, proxy tokens on, enforcing",
        "",
        f"{'signal':<20} {'skipped':>7} {'dropped':>7} {'unknown':>7}  evidence (first URL it blocked)",
    ]
    total = Row()
    names = [n for n in _ROW_ORDER if n in SIGNALS] + sorted(set(summary.rows) - set(_ROW_ORDER))
    for name in names:
        row = summary.rows.get(name, Row())
        if not row.blocked:
            seen = (
                "recorded; the licence it names is judged as rsl"
                if name == "rsl-license"
                else "seen, not enforced"
            )
            note = f"{seen}: {row.observed}" if row.observed else "not seen"
            if row.recorded_example:
                note = f"recorded {row.recorded}x as unknown, not blocked: {row.recorded_example[1]}"
            lines.append(f"{name:<20} {'-':>7} {'-':>7} {'-':>7}  {note}")
            continue
        total.skipped += row.skipped
        total.dropped += row.dropped
        total.unknown += row.unknown
        example = ""
        if row.example:
            _, _, evidence, where, source = row.example
            role = next((r for r, o in site.origins.items() if source.startswith(o + "/")), "")
            example = f"{evidence}  [{where if role in ('main', '') else f'{role} origin {where}'}]"
        lines.append(f"{name:<20} {row.skipped:>7} {row.dropped:>7} {row.unknown:>7}  {example}")
    lines += [
        f"{'total':<20} {total.skipped:>7} {total.dropped:>7} {total.unknown:>7}",
        "(unknown: of those skipped or dropped, the ones a signal that could not be read decided)",
        "",
    ]

    roles = {origin: role for role, origin in site.origins.items()}
    width = max(len(f"{o} ({roles.get(o, '')})") for o in summary.origins) if summary.origins else 10
    lines.append(
        f"{'origin':<{width}} {'evaluated':>9} {'allowed':>7} {'skipped':>7} {'dropped':>7}  robots.txt"
    )
    order = {origin: i for i, origin in enumerate(site.origins.values())}
    for origin, c in sorted(summary.origins.items(), key=lambda kv: order.get(kv[0], len(order))):
        fetched = (c.get("fetch") or {}).get("robots", {})
        robots = ", ".join(f"{k} x{v}" for k, v in sorted(fetched.items()))
        # Only a robots.txt that was not read (not 2xx, not 4xx: RFC 9309 §2.3.1.3) blocks the origin;
        # the origin's other unknowns (a 401 page, a C2PA manifest not checked) do not.
        if c.get("unknown") and set(fetched) - {"2xx", "4xx"}:
            robots += " -> unknown, blocked (RFC 9309 §2.3.1.4)"
        label = f"{origin} ({roles.get(origin, '?')})"
        lines.append(
            f"{label:<{width}} {c.get('evaluated', 0):>9} {c.get('allowed', 0):>7} "
            f"{c.get('skipped', 0):>7} {c.get('dropped', 0):>7}  {robots}"
        )
    lines.append("")
    pages = sum(1 for i in items if i.get("kind") == "page")
    images = sum(1 for i in items if i.get("kind") == "image")
    lines.append(
        f"allowed:  {_plural(len(summary.allowed_urls), 'URL')}; {_plural(len(items), 'item')} in the feed "
        f"({_plural(pages, 'page')}, {_plural(images, 'image')})"
    )
    lines += [f"unknown:  {note}" for note in summary.unknown_notes]
    lines += [f"recorded: {note}" for note in sorted(summary.recorded_notes)]
    leaked = sorted(summary.blocked_urls & {str(i.get("url")) for i in items})
    lines.append(
        "leaks:    " + (", ".join(leaked) if leaked else "none: no skipped or dropped URL is in the feed")
    )
    recs = ", ".join(_plural(n, k) for k, n in sorted(summary.records.items()))
    lines += [
        f"trail:    {out / AUDIT_FILE} ({recs})",
        f"items:    {out / ITEMS_FILE}",
        f"log:      {out / LOG_FILE}",
    ]
    return "\n".join(lines)


def next_command(out: Path) -> str:
    """The line that says what to run next: the report of this demo's trail, with the real paths."""
    import shlex

    trail, report = shlex.quote(str(out / AUDIT_FILE)), shlex.quote(str(out / REPORT_DIR))
    return (
        f"next:     noai-guard report {trail} --out {report}\n"
        f"          (then open {out / REPORT_DIR / 'report.html'})"
    )


def run(args: argparse.Namespace) -> int:
    from ..sampleserver import SampleSite

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in (AUDIT_FILE, ITEMS_FILE):
            (out / name).unlink(missing_ok=True)  # the trail appends: start this run's afresh
    except OSError as exc:
        print(f"noai-guard demo: error: cannot use {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    started = time.monotonic()
    with SampleSite() as site:
        run_crawl(site, out, verbose=bool(getattr(args, "verbose", False)))
        seconds = time.monotonic() - started
        trail = out / AUDIT_FILE
        if not trail.exists():
            print(f"noai-guard demo: error: no audit trail at {trail}; see {out / LOG_FILE}", file=sys.stderr)
            return EXIT_LEAK
        summary = summarise(trail)
        items = _read_items(out / ITEMS_FILE)
        print(format_summary(summary, items, out, site, seconds))
        print(next_command(out))
    leaked = summary.blocked_urls & {str(i.get("url")) for i in items}
    return EXIT_LEAK if leaked else EXIT_OK
