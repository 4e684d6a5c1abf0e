"""Internal: the offline audit: an adapter that judges archived records and URL lists after the fact.

Every record is judged by :class:`noai_guard.engine.Judge` (the origin's site
files as captured, the record's own headers and HTML head, read by the
engine's page reader while the record is open), the judge the crawl runs,
and written to the trail by :mod:`noai_guard.auditlog`.

Site files as of capture time.  Each record uses the nearest capture of its
origin's robots.txt / tdmrep.json / ai.txt at or before its WARC-Date.  Files
are judged in one streaming pass with the captures known so far (``--robots-
from``, capture-only WARCs, and the file's own captures as they stream by).
A capture that turns up later but is dated at or before a record already
judged for that origin (stored after the pages, or in another input) makes
that file *stale*; stale files are judged again with the complete index and
their first-pass output is discarded.  Crawlers fetch robots.txt before the
pages, so the second pass is the exception; memory stays constant in the
number of records (the index grows with origins only).

No robots.txt capture for an origin (and no ``--fetch``): RFC 9309
§2.3.1.4's "unreachable means disallow" is about a fetch that failed, not a
file nobody looked at, so the audit does not invent a reservation.  Page
signals are still judged; if none reserves, the decision is ``unknown``,
not blocked, with the reason "robots.txt not checked", and it is written to
the trail (action ``allowed``, as the middleware records unknowns).

Image provenance.  A page whose noai / noimageai / noml (meta or
X-Robots-Tag) reserves the images it embeds makes each image record of the
inputs ``embedding-page``, with the page as evidence, whichever comes first,
in whichever input, judged by whichever worker (see :func:`merge_media`).
What grows: each worker's list of the images its reserving pages embed, and
on disk one line per allowed record not read as HTML.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import orjson

from . import auditlog, engine
from . import decision as d
from .archives import (
    Capture,
    CaptureIndex,
    Damage,
    InputInfo,
    Skipped,
    UrlItem,
    WarcPage,
    iter_urls,
    iter_warc,
)
from .decision import Decision, Verdict
from .engine import Judgement, MediaReservation, Page, PageRead, SiteFiles
from .policy import Policy
from .rsl import RslFile
from .sitefiles import KINDS, PATHS, Kind, SiteFile, licence_url, origin_of
from .sizes import MEASURE_AUDIT, add_type, media_type, sizes_section

MODE = "audit"
RemovalsFormat = Literal["url", "warc-id"]
_MAX_DAMAGE_LISTED = 100  # per input; all are counted
_PROGRESS_EVERY = 256  # records between progress counter updates

# --- what an input cannot show -----------------------------------------------------------------------

#: Signals read from a response's headers or HTML, and what of each a URL-only input (a feed
#: export, a Scrapy log, a URL list) lacks; the site files (robots.txt, tdmrep.json, ai.txt) are
#: checked from captures, ``--robots-from`` or ``--fetch``.  A record judged without them keeps its
#: verdict: "allowed, not checked for" these (as robots.txt is "not checked" without its capture).
PAGE_SIGNALS: dict[str, str] = {
    d.X_ROBOTS_TAG: "X-Robots-Tag header (noai, noimageai, noml)",
    d.META_ROBOTS: "robots <meta> (noai, noimageai, noml)",
    d.TDMREP: "tdm-reservation header and <meta> (tdmrep.json is checked)",
    d.CONTENT_USAGE: "Content-Usage header (the robots.txt record is checked)",
    d.CONTENT_SIGNAL: "Content-Signal header (the robots.txt line is checked)",
    d.EMBEDDING_PAGE: "the images, audio and video a page embeds (its HTML is not there)",
    d.IPTC_DATA_MINING: "IPTC Data Mining in an image's XMP (the file is not there)",
    d.C2PA: "a C2PA / CAWG manifest in a media file (the file is not there)",
    d.ACCESS_REQUIRED: "a 401 / 402 / 403 with a licence pointer (no status line)",
    d.RSL: "an RSL licence a page names in a Link header or <link> (robots.txt License: is checked)",
}
#: Why, in the summary record and on stderr.
URL_ONLY_WHY = "feeds, Scrapy logs and URL lists carry no response headers or HTML"


def page_signals_not_checked(policy: Policy) -> list[str]:
    """The :data:`PAGE_SIGNALS` the policy reads: not checked for a URL-only input's records."""
    return [name for name in PAGE_SIGNALS if name in policy.sources]


# --- results ---------------------------------------------------------------------------------------


@dataclass
class InputStats:
    """Counts for one input, reported in the summary record and on stderr."""

    path: str
    kind: str
    size: int = 0
    records: int = 0  # every record / line read
    judged: int = 0
    reserved: int = 0  # blocked: flagged, in the removal list
    unknown: int = 0  # verdict unknown, not blocked
    allowed: int = 0
    captures: int = 0  # robots.txt / tdmrep.json / ai.txt captures seen
    skipped: dict[str, int] = field(default_factory=dict)  # revisit, request, metadata, ...
    non_html: int = 0  # judged by headers only
    truncated: int = 0
    damaged: int = 0  # damage entries: truncated records, unreadable stretches, bad lines
    unreadable: int = 0  # stretches that could not be read: records in them were not judged
    damage: list[dict[str, Any]] = field(default_factory=list)
    passes: int = 1
    seconds: float = 0.0
    # Signals this input cannot show (a feed, log or URL list carries no headers or HTML): every
    # record of it was judged without them, as allowed as far as the rest goes (PAGE_SIGNALS).
    not_checked: list[str] = field(default_factory=list)

    def skip(self, kind: str) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1

    def add_damage(
        self, offset: int | None, error: str, line: int | None = None, *, unread: bool = False
    ) -> None:
        """Count and list damage; ``unread``: a stretch not read, whose records were not judged."""
        if unread:
            self.unreadable += 1
            prev = self.damage[-1] if self.damage else None
            if offset is not None and prev is not None and prev["offset"] == offset and not prev["unread"]:
                # The truncated record just listed is where the file is cut (or its length wrong): one entry.
                prev.update(error=error, unread=True)
                return
        self.damaged += 1
        if len(self.damage) < _MAX_DAMAGE_LISTED:
            self.damage.append({"offset": offset, "line": line, "error": error, "unread": unread})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class FileResult:
    """What judging one input produced (picklable: it crosses process boundaries)."""

    index: int
    stats: InputStats
    trail_part: str
    removals_part: str
    origins: dict[str, dict[str, int]]
    judged_max: dict[str, float]  # origin -> latest record time judged (for staleness)
    captures: list[Capture]  # captures found in this input (not pre-indexed)
    stale: bool  # a capture of this input arrived after records it applies to
    unchecked: set[str]  # origins judged without a robots.txt capture
    # Image provenance (see merge_media): what this input's reserving pages embed, and its
    # records an embedding page may reserve, spilled to ``media_part`` (one JSON line each).
    media: list[MediaReservation] = field(default_factory=list)
    media_part: str = ""
    candidates: int = 0
    removal_lines: int = 0
    run_id: str = ""
    policy: Policy | None = None
    media_merged: bool = False  # the parent has counted the records flagged by embedding pages
    # Issue 18: origin -> [pages, payload bytes] of the WARC records judged allowed (or unknown, kept).
    sizes: dict[str, list[int]] = field(default_factory=dict)
    types: dict[str, list[int]] = field(default_factory=dict)  # media type -> [pages, bytes] kept


@dataclass
class Job:
    """One input to judge, and everything a worker process needs."""

    index: int
    info: InputInfo
    policy: Policy
    run_id: str
    trail_part: str
    removals_part: str
    removals_format: RemovalsFormat = "url"
    url_field: str = "url"
    preindexed: bool = False  # its captures are already in the base index
    final: bool = False  # second pass: the index is complete, no staleness tracking


# --- judging ---------------------------------------------------------------------------------------

_ORIGINS: dict[str, str] = {}


def fast_origin(url: str) -> str:
    """:func:`origin_of`, memoised on the URL's ``scheme://authority`` prefix (bounded)."""
    cut = url.find("/", url.find("//") + 2)
    prefix = url if cut < 0 else url[:cut]
    o = _ORIGINS.get(prefix)
    if o is None:
        if len(_ORIGINS) > 50_000:
            _ORIGINS.clear()
        o = _ORIGINS[prefix] = origin_of(prefix + "/")
    return o


def sibling_origin(origin: str) -> str | None:
    """The same host and port under the other web scheme (``http`` <-> ``https``), or None."""
    scheme, sep, rest = origin.partition("://")
    other = {"http": "https", "https": "http"}.get(scheme)
    return f"{other}{sep}{rest}" if other and sep else None


def _missing(kind: Kind, origin: str, index: CaptureIndex, ts: float, dated: bool) -> dict[str, Any]:
    when = " at or before the record's date" if dated else ""
    after = index.first_after(origin, kind, ts) if dated else None
    note = f"; first capture is later ({after.date})" if after is not None else ""
    return {"missing": f"no capture of {origin}{PATHS[kind]}{when}{note}"}


class Judge:
    """Finds each record's site files in a capture index and hands them to the engine's judge."""

    def __init__(self, policy: Policy, index: CaptureIndex, fallback: CaptureIndex | None = None) -> None:
        self.policy = policy
        self.engine = engine.Judge(policy)
        self.index = index
        self.fallback = fallback  # today's files fetched with --fetch
        # origin -> (from, until, files, used): the site files in force for times in [from, until).
        self._cache: dict[str, tuple[float, float, dict[Kind, SiteFile], dict[str, Any]]] = {}
        # (origin, a record?) -> (used, SiteFiles): the engine's view of those files, built once
        # per ``used`` (the cache's own dict, replaced whenever the files in force change).
        self._sites: dict[tuple[str, bool], tuple[dict[str, Any], SiteFiles]] = {}

    def forget(self, origin: str) -> None:
        """A capture of ``origin`` was added to the index (it may be another origin's redirect target)."""
        self._cache.clear()

    def site_files(self, origin: str, ts: float, dated: bool) -> tuple[dict[Kind, SiteFile], dict[str, Any]]:
        hit = self._cache.get(origin)
        if hit is not None and hit[0] <= ts < hit[1]:
            return hit[2], hit[3]
        files: dict[Kind, SiteFile] = {}
        used: dict[str, Any] = {}
        lo, hi = -math.inf, math.inf
        for kind in KINDS:
            got = self.index.resolve(origin, kind, ts)
            nxt = self.index.first_after(origin, kind, ts)
            if nxt is not None:
                hi = min(hi, nxt.ts)
            sib = sibling_origin(origin) if kind == "robots" and self.policy.robots_key == "host" else None
            if sib is not None:
                # Policy.robots_key "host": the origin's own capture first, else one for the same
                # host and port under the other scheme (a filter keying robots.txt by netloc).
                later = self.index.first_after(sib, kind, ts)
                if later is not None:
                    hi = min(hi, later.ts)
                if got is None:
                    got = self.index.resolve(sib, kind, ts)
            source = "capture"
            if got is not None:
                lo = max(lo, got[1][0].ts)
            elif self.fallback is not None:
                got = self.fallback.resolve(origin, kind, math.inf)
                source = "fetched"
            if got is None:
                used[kind] = _missing(kind, origin, self.index, ts, dated)
                continue
            sf, chain = got
            files[kind] = sf
            desc = chain[0].describe()
            desc["source"] = source
            if sib is not None and chain[0].origin == sib:
                desc["keyed_by"] = "host"
            if len(chain) > 1:
                desc["redirects"] = [c.describe() for c in chain[1:]]
                for c in chain[1:]:  # a redirect target's own next capture ends the interval too
                    later = self.index.first_after(c.origin, c.kind, ts)
                    if later is not None:
                        hi = min(hi, later.ts)
            used[kind] = desc
        licence = licence_url(files.get("robots"), origin) if d.RSL in self.policy.sources else None
        if licence is not None:
            # RSL 1.0: the licence robots.txt names, from its capture in force at ts (none: not checked).
            lic = self.index.licence(licence, ts)
            if lic is None:
                used["rsl"] = {
                    "missing": f"no capture of the RSL licence {licence} at or before the record's date"
                }
            else:
                files["rsl"], cap, later = lic
                used["rsl"] = {**cap.describe(), "source": "capture"}
                lo = max(lo, cap.ts)
                if later is not None:
                    hi = min(hi, later.ts)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[origin] = (lo, hi, files, used)
        return files, used

    def decide(
        self,
        url: str,
        ts: float,
        date: str | None,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
        content_type: str | None = None,
        head: Any = None,
        page: bool = True,
        origin: str | None = None,
        unreadable: str | None = None,
        read: PageRead | None = None,
    ) -> tuple[Decision, dict[str, Any]]:
        """Judge one record (``page``: its headers and head are known) or one URL, with the engine.

        ``read``: what :func:`noai_guard.engine.read_page` read of the record's
        payload (the WARC reader reads it while the record is open); else the
        page is read from ``head`` / ``body``.
        """
        if not page:
            judgement, used = self.judge(url, ts, date, None, origin=origin)
            return judgement.decision, used
        if read is None:
            read = PageRead(body or b"", head, unreadable)
        page_obj = Page(url, headers=tuple(headers), content_type=content_type, read=read)
        judgement, used = self.judge(url, ts, date, page_obj, origin=origin)
        return judgement.decision, used

    def judge(
        self, url: str, ts: float, date: str | None, page: Page | None, *, origin: str | None = None
    ) -> tuple[Judgement, dict[str, Any]]:
        """The engine's judgement of one record (``page``) or one URL (``None``), and the captures used."""
        if origin is None:
            origin = origin_of(url)
        files, used = self.site_files(origin, ts, date is not None)
        key = (origin, page is not None)
        hit = self._sites.get(key)
        if hit is not None and hit[0] is used:
            site = hit[1]
        else:
            site = self._site(origin, files, used, page is not None)
            if len(self._sites) > 100_000:
                self._sites.clear()
            self._sites[key] = (used, site)
        before = self.engine.before_fetch(url, site)
        if page is None:
            return before, used
        judgement = self.engine.after_fetch(page, site, before)
        if not judgement.decision.blocked and d.RSL in self.policy.sources:
            judgement, used = self._page_licences(url, ts, page, site, judgement, used)
        return judgement, used

    def _page_licences(
        self, url: str, ts: float, page: Page, site: SiteFiles, judgement: Judgement, used: dict[str, Any]
    ) -> tuple[Judgement, dict[str, Any]]:
        """RSL 1.0: the licences the record names (Link header, head <link>), from their captures."""
        links = [v for k, v in page.headers if k.lower() == "link"]
        found = self.engine.page_licences(url, links, judgement.read, page.status)
        seen = site.rsl.url if site.rsl is not None else None
        licences = []
        named: list[dict[str, Any]] = []
        for lic in found:
            if lic == seen:
                continue  # the site licence: judged already
            got = self.index.licence(lic, ts)
            if got is None or not isinstance(got[0], RslFile):
                named.append(
                    {"missing": f"no capture of the RSL licence {lic} at or before the record's date"}
                )
                continue
            licences.append(got[0])
            named.append({**got[1].describe(), "source": "capture"})
        if not named:
            return judgement, used
        return self.engine.with_licences(judgement, url, licences), {**used, "page-rsl": named}

    @staticmethod
    def _site(origin: str, files: dict[Kind, SiteFile], used: dict[str, Any], record: bool) -> SiteFiles:
        missing = used.get("robots", {}).get("missing")
        if missing is not None:
            how = (
                "add its capture or give --robots-from / --fetch"
                if record
                else "give --robots-from or --fetch"
            )
            provenance: dict[str, Any] = {"robots": {"missing": f"{missing}; {how}"}}
        else:
            provenance = used
        return SiteFiles.from_kinds(origin, files, provenance)


# --- one input ---------------------------------------------------------------------------------------


class _Counters:
    """Progress counters shared with the parent (a multiprocessing Array, or a plain list)."""

    def __init__(self, arr: Any, slot: int) -> None:
        self.arr = arr
        self.slot = slot

    def set(self, records: int, pos: int) -> None:
        if self.arr is not None:
            self.arr[2 * self.slot] = records
            self.arr[2 * self.slot + 1] = pos


# Set once per worker process by _init_worker (the base index is sent once, not per input).
_shared_counters: Any = None
_base: CaptureIndex | None = None
_fallback: CaptureIndex | None = None


def _init_worker(arr: Any, base: CaptureIndex | None, fallback: CaptureIndex | None) -> None:
    global _shared_counters, _base, _fallback
    _shared_counters, _base, _fallback = arr, base, fallback


def judge_input(job: Job, base: CaptureIndex, fallback: CaptureIndex | None = None) -> FileResult:
    """Judge every record of one input; writes its trail part and removals part."""
    t0 = time.perf_counter()
    info = job.info
    stats = InputStats(info.path, info.label, info.size, passes=2 if job.final else 1)
    local = CaptureIndex(parent=base)
    judge = Judge(job.policy, local, fallback)
    result = FileResult(job.index, stats, job.trail_part, job.removals_part, {}, {}, [], False, set())
    result.run_id, result.policy = job.run_id, job.policy
    # Image provenance is off when the policy leaves embedding-page out (as the crawl's).
    media = _Candidates(job.trail_part + ".media") if d.EMBEDDING_PAGE in job.policy.sources else None
    counters = _Counters(_shared_counters, job.index)
    with (
        auditlog.JsonLinesAuditLog(job.trail_part) as trail,
        open(job.removals_part, "w", encoding="utf-8", errors="backslashreplace") as removals,
    ):
        try:
            if info.kind == "warc":
                _judge_warc(job, judge, local, result, trail, removals, counters, media)
            else:
                _judge_urls(job, judge, result, trail, removals, counters, media)
        finally:
            if media is not None:
                media.close()
                result.media_part, result.candidates = media.path, media.n
    stats.seconds = time.perf_counter() - t0
    counters.set(stats.records, info.size)
    return result


class _Candidates:
    """Judged records not blocked that a page may embed: spilled to disk, one JSON line each.

    What grows: this file, one line per allowed (or unknown) record not read
    as HTML (an image, or anything an ``<img>`` may point at), never memory.
    Each line says where its decision record goes in the trail part and the
    removals part if a page turns out to reserve it (:func:`merge_media`).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.n = 0
        self._fh: IO[bytes] | None = None

    def add(
        self,
        url: str,
        origin: str,
        *,
        unknown: bool,
        trail_at: int,
        removals_at: int,
        removal_key: str,
        used: dict[str, Any],
        where: dict[str, Any],
        size: int | None = None,
        ctype: str | None = None,
        input_file: str | None = None,
    ) -> None:
        """``size``, ``ctype``: the record's payload bytes and media type counted in the sizes
        (``size`` None: not counted, a URL list); ``input_file``: the record's input when the
        part spans several (the datatrove filter's task), else the part's own input."""
        if self._fh is None:
            self._fh = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        line = {
            "key": media_key(url),
            "url": url,
            "origin": origin,
            "unknown": unknown,  # its own record (action allowed) is line trail_at: replaced
            "trail_at": trail_at,  # else inserted before that line of the trail part
            "removals_at": removals_at,
            "removal_key": removal_key,
            "capture": used,
            "where": where,
            "size": size,
            "ctype": ctype,
        }
        if input_file is not None:
            line["input_file"] = input_file
        self._fh.write(auditlog.dumps_line(line))
        self.n += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def media_key(url: str) -> str:
    """The key an embedded image and a record are matched on, the crawl's (:func:`engine.media_key`).

    Safe URL, no fragment; a URL w3lib cannot make safe (a port out of range,
    a lone surrogate) is matched as it is: such a URL is never a request, so
    only its very text can match.
    """
    return engine.media_key(url)


def _count_judged(result: FileResult, origin: str) -> dict[str, int]:
    """Count one judged record, overall and for its origin; the origin's counters."""
    result.stats.judged += 1
    counts = result.origins.get(origin)
    if counts is None:
        counts = result.origins[origin] = {"judged": 0, "reserved": 0, "unknown": 0}
    counts["judged"] += 1
    return counts


def _count_size(result: FileResult, origin: str, size: int, ctype: str | None, n: int = 1) -> None:
    """Count one kept WARC record's payload bytes for its origin and media type (the summary's
    ``sizes``); ``n = -1`` takes one back (a record reserved after all)."""
    row = result.sizes.get(origin)
    if row is None:
        row = result.sizes[origin] = [0, 0]
    row[0] += n
    row[1] += n * size
    add_type(result.types, media_type(ctype), n, n * size)


def audit_sizes(results: list[FileResult]) -> dict[str, Any]:
    """The audit summary's ``sizes`` (:mod:`noai_guard.sizes`), over every input."""
    merged: dict[str, list[int]] = {}
    types: dict[str, list[int]] = {}
    for r in results:
        for o, (pages, size) in r.sizes.items():
            row = merged.setdefault(o, [0, 0])
            row[0] += pages
            row[1] += size
        for t, (pages, size) in r.types.items():
            add_type(types, t, pages, size)
    return sizes_section(((o, p, b) for o, (p, b) in merged.items()), measure=MEASURE_AUDIT, types=types)


def _record(
    job: Job,
    result: FileResult,
    dec: Decision,
    used: dict[str, Any],
    trail: auditlog.JsonLinesAuditLog,
    removals: IO[str],
    origin: str,
    removal_key: str,
    **where: Any,
) -> None:
    stats = result.stats
    counts = _count_judged(result, origin)
    if dec.blocked:
        stats.reserved += 1
        counts["reserved"] += 1
        action = auditlog.FLAGGED
        removals.write(removal_key + "\n")
    elif dec.verdict is Verdict.UNKNOWN:
        stats.unknown += 1
        counts["unknown"] += 1
        action = auditlog.ALLOWED
    else:
        stats.allowed += 1
        return
    if dec.blocked:
        result.removal_lines += 1
    trail.write(
        auditlog.decision_record(
            dec,
            action=action,
            phase=auditlog.AFTER_THE_FACT,
            run_id=job.run_id,
            mode=MODE,
            capture=used,
            input_file=job.info.path,
            **where,
        )
    )


def _judge_warc(
    job: Job,
    judge: Judge,
    local: CaptureIndex,
    result: FileResult,
    trail: auditlog.JsonLinesAuditLog,
    removals: IO[str],
    counters: _Counters,
    media: _Candidates | None,
) -> None:
    stats = result.stats
    policy = job.policy
    judged_max = result.judged_max
    warc_ids = job.removals_format == "warc-id"
    track = not job.final
    n = broken = 0
    for item in iter_warc(job.info.path, policy=policy):
        n += 1
        if n % _PROGRESS_EVERY == 0:
            counters.set(n, getattr(item, "offset", None) or 0)
        if type(item) is WarcPage:
            url = item.url
            origin = fast_origin(url)
            # The page as fetched: its head already read, its payload still open (item.payload)
            # so that the engine can read on to list the images a reserving page embeds.
            # Page(url, headers=..., body=..., content_type=..., read=PageRead(...)), every field
            # given positionally (the record's status; no coding: the payload reader undoes them).
            page = engine.Page(
                url,
                item.status,
                item.headers,
                item.payload if item.payload is not None else b"",
                None,
                False,
                item.content_type,
                None,
                False,
                engine.PageRead(item.body, item.head, item.unreadable),
            )
            judgement, used = judge.judge(url, item.ts, item.date, page, origin=origin)
            dec = judgement.decision
            reserves = None
            if media is not None and judgement.page and judgement.head is not None:
                reserves = judge.engine.embedded_media(page, judgement)
            if not item.finish():
                n -= 1  # its rest could not be read: reported as damage, not judged
                continue
            if item.truncated:
                stats.truncated += 1
                stats.add_damage(item.offset, "truncated record (judged on what is there)")
            if reserves is not None and (reserves.urls or reserves.av_urls):
                result.media.append(reserves)
            if item.head is None:
                stats.non_html += 1
            if track and judged_max.get(origin, -math.inf) < item.ts:
                judged_max[origin] = item.ts
            if "source" not in used["robots"]:
                result.unchecked.add(origin)
            if not dec.blocked and dec.verdict is Verdict.ALLOW:
                # Allowed (the common case): counted, not written, without building
                # _record's keyword arguments.
                _count_judged(result, origin)
                stats.allowed += 1
                _count_size(result, origin, item.payload_read, item.content_type)
                if media is not None and item.head is None:
                    media.add(
                        url,
                        origin,
                        unknown=False,
                        trail_at=trail.records,
                        removals_at=result.removal_lines,
                        removal_key=item.record_id if warc_ids else url,
                        used=used,
                        where=_warc_where(item),
                        size=item.payload_read,
                        ctype=item.content_type,
                    )
                continue
            where = _warc_where(item)
            before = trail.records
            _record(
                job,
                result,
                dec,
                used,
                trail,
                removals,
                origin,
                (item.record_id if warc_ids else url),
                **where,
            )
            if not dec.blocked:  # unknown, kept: its content is kept too
                _count_size(result, origin, item.payload_read, item.content_type)
            if media is not None and item.head is None and not dec.blocked and trail.records > before:
                media.add(
                    url,
                    origin,
                    unknown=True,
                    trail_at=before,
                    removals_at=result.removal_lines,
                    removal_key=item.record_id if warc_ids else url,
                    used=used,
                    where=where,
                    size=item.payload_read,
                    ctype=item.content_type,
                )
        elif type(item) is Capture:
            stats.captures += 1
            if job.preindexed or job.final:
                continue
            # A capture dated at or before a record already judged for its origin: judge again.
            jm = judged_max.get(item.origin)
            if jm is not None and item.ts <= jm:
                result.stale = True
            local.add(item)
            judge.forget(item.origin)
            result.captures.append(item)
        elif type(item) is Skipped:
            stats.skip(item.kind)
        elif type(item) is Damage:
            stats.add_damage(item.offset, item.error, unread=item.unread)
            broken += 1
    stats.records = n - broken


def _warc_where(item: WarcPage) -> dict[str, Any]:
    """Where a WARC record's decision record says it was found."""
    return {
        "warc_record_id": item.record_id,
        "warc_date": item.date,
        "input_offset": item.offset,
        "http_status": item.status,
        "truncated": item.truncated or None,
    }


def _judge_urls(
    job: Job,
    judge: Judge,
    result: FileResult,
    trail: auditlog.JsonLinesAuditLog,
    removals: IO[str],
    counters: _Counters,
    media: _Candidates | None,
) -> None:
    from .archives import site_file_kind

    stats = result.stats
    # Compact, per record: the signals its input could not show (the summary says why).
    not_checked = stats.not_checked = page_signals_not_checked(job.policy)
    n = 0
    for item in iter_urls(job.info, job.url_field):
        n += 1
        if n % _PROGRESS_EVERY == 0:
            counters.set(n, 0)
        if isinstance(item, Damage):
            stats.add_damage(item.offset, item.error, item.line, unread=item.unread)
            continue
        assert isinstance(item, UrlItem)
        url = item.url
        if not url.lower().startswith(("http://", "https://")):
            stats.add_damage(None, f"not an http(s) URL: {url[:200]}", item.line)
            continue
        if site_file_kind(url) is not None:
            stats.skip("site-file")
            continue
        origin = fast_origin(url)
        dec, used = judge.decide(url, math.inf, None, page=False, origin=origin)
        if "source" not in used["robots"]:
            result.unchecked.add(origin)
        where = {
            "input_line": item.line,
            "http_status": item.status,
            "log_event": item.event,
            "not_checked": not_checked,
        }
        before = trail.records
        _record(job, result, dec, used, trail, removals, origin, url, **where)
        # A URL with an image's extension (no Content-Type here) may be embedded by a page of a WARC input.
        if media is not None and not dec.blocked and engine.is_media(url, None):
            written = trail.records > before
            media.add(
                url,
                origin,
                unknown=written,
                trail_at=trail.records - 1 if written else trail.records,
                removals_at=result.removal_lines,
                removal_key=url,
                used=used,
                where=where,
            )
    stats.records = n


# --- the whole run ---------------------------------------------------------------------------------


def stale_inputs(results: list[FileResult]) -> set[int]:
    """Inputs to judge again: a capture from elsewhere is dated at or before a record judged without it."""
    stale = {r.index for r in results if r.stale}
    by_origin: dict[str, list[tuple[float, int]]] = {}
    for r in results:
        for c in r.captures:
            by_origin.setdefault(c.origin, []).append((c.ts, r.index))
    for r in results:
        if r.index in stale:
            continue
        for origin, jm in r.judged_max.items():
            if any(idx != r.index and ts <= jm for ts, idx in by_origin.get(origin, ())):
                stale.add(r.index)
                break
    return stale


def _run_job(job: Job) -> FileResult:
    return judge_input(job, _base if _base is not None else CaptureIndex(), _fallback)


def run_jobs(
    jobs: list[Job],
    base: CaptureIndex,
    fallback: CaptureIndex | None,
    *,
    workers: int,
    progress: Progress | None,
) -> list[FileResult]:
    """Judge inputs, ``workers`` processes at a time; results in input order."""
    import multiprocessing as mp

    if not jobs:
        return []
    if workers <= 1 or len(jobs) <= 1:
        _init_worker(progress.counters if progress is not None else None, base, fallback)
        try:
            return [_run_job(j) for j in jobs]
        finally:
            _init_worker(None, None, None)
    ctx = mp.get_context("spawn")
    arr = ctx.Array("d", 2 * (max(j.index for j in jobs) + 1), lock=False)
    if progress is not None:
        progress.counters = arr
    with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker, initargs=(arr, base, fallback)) as pool:
        out = list(pool.imap_unordered(_run_job, jobs))
    out.sort(key=lambda r: r.index)
    return out


class Progress:
    """A one-line progress bar on stderr (only on a terminal): records/s, MB/s, ETA."""

    def __init__(self, total_bytes: int, slots: int, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = total_bytes
        self.counters: Any = [0.0] * (2 * slots)
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self.render()

    def render(self, final: bool = False) -> None:
        c = list(self.counters)
        records = sum(c[0::2])
        done = sum(c[1::2])
        dt = max(time.monotonic() - self.t0, 1e-6)
        rate, mbs = records / dt, done / dt / 1e6
        eta = ""
        if self.total and done and not final:
            left = max(self.total - done, 0) / max(done / dt, 1)
            eta = f"  ETA {int(left) // 60}:{int(left) % 60:02d}"
        done = min(done, self.total) if self.total else done  # whole-file gzip counts uncompressed bytes
        pct = f" {100 * done / self.total:5.1f}%" if self.total else ""
        line = (
            f"\r{pct} {int(records):,} records ({rate:,.0f}/s)  {done / 1e6:,.1f} MB ({mbs:,.1f} MB/s){eta}"
        )
        self.stream.write(line.ljust(78) + ("\n" if final else ""))
        self.stream.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.render(final=True)


# --- image provenance across inputs -----------------------------------------------------------------
#
# A page that reserves its images (noai / noimageai / noml, engine.Judge.embedded_media) may come
# before or after the image's record, in the same input or another one, judged by another worker
# process.  Each worker lists what its reserving pages embed (FileResult.media: grows with the
# images of reserving pages) and spills its records that a page may reserve to disk
# (_Candidates: grows with the allowed image records, on disk only).  The parent matches them
# here, once every input is judged: a match is flagged with signal ``embedding-page`` (the page as
# evidence, engine.Judge.by_embedding_page, as the crawl decides an image it met on such a page),
# in the trail part and the removal list where the record's own decision would have been.


def reserved_media(results: list[FileResult]) -> dict[str, MediaReservation]:
    """Every media URL a reserving page embeds (:func:`media_key`) -> the first such page in input order."""
    reserved: dict[str, MediaReservation] = {}
    for r in results:
        for m in r.media:
            for part in m.parts():  # the images, then the audio and video, each with its signal
                for u in part.urls:
                    reserved.setdefault(media_key(u), part)
    return reserved


def _media_hits(
    r: FileResult, reserved: dict[str, MediaReservation]
) -> Iterator[tuple[dict[str, Any], MediaReservation]]:
    """This input's spilled records that a page reserves, in record order."""
    if not r.candidates or not r.media_part or not reserved:
        return
    with open(r.media_part, "rb") as fh:
        for line in fh:
            try:
                c = orjson.loads(line)
            except orjson.JSONDecodeError:  # a lone surrogate, escaped by dumps_line's fallback
                c = json.loads(line)
            m = reserved.get(c["key"])
            if m is not None:
                yield c, m


def merge_media(
    results: list[FileResult], reserved: dict[str, MediaReservation] | None = None
) -> dict[str, Any]:
    """Count the records embedding pages reserve, in each result's stats and origins (once per result).

    Each moves from allowed (or unknown) to reserved.  Returns what moved:
    ``{"totals": {name: delta}, "origins": {origin: {name: delta}}}``.
    """
    if reserved is None:
        reserved = reserved_media(results)
    totals = {"reserved": 0, "allowed": 0, "unknown": 0}
    origins: dict[str, dict[str, int]] = {}
    for r in results:
        if r.media_merged:
            continue
        r.media_merged = True
        st = r.stats
        for c, _m in _media_hits(r, reserved):
            counts = r.origins.setdefault(c["origin"], {"judged": 0, "reserved": 0, "unknown": 0})
            moved = origins.setdefault(c["origin"], {"reserved": 0, "unknown": 0})
            st.reserved += 1
            counts["reserved"] += 1
            moved["reserved"] += 1
            totals["reserved"] += 1
            if c["unknown"]:
                st.unknown -= 1
                counts["unknown"] -= 1
                moved["unknown"] -= 1
                totals["unknown"] -= 1
            else:
                st.allowed -= 1
                totals["allowed"] -= 1
            size = c.get("size")
            if isinstance(size, int) and c["origin"] in r.sizes:  # reserved after all: not kept
                _count_size(r, c["origin"], size, c.get("ctype"), -1)
    return {"totals": totals, "origins": origins}


def _patch_summary(summary_rec: dict[str, Any], results: list[FileResult], moved: dict[str, Any]) -> None:
    """Bring a summary record made before :func:`merge_media` up to date (in place)."""
    totals = summary_rec.get("totals")
    if isinstance(totals, dict):
        for k, v in moved["totals"].items():
            totals[k] = totals.get(k, 0) + v
    inputs = summary_rec.get("inputs")
    if isinstance(inputs, list) and len(inputs) == len(results):
        for i, r in enumerate(results):
            inputs[i] = r.stats.to_dict()
    if "sizes" in summary_rec:
        summary_rec["sizes"] = audit_sizes(results)
    origins = summary_rec.get("origins")
    if isinstance(origins, dict):
        for o, delta in moved["origins"].items():
            cur = origins.setdefault(o, {"judged": 0, "reserved": 0, "unknown": 0})
            for k, v in delta.items():
                cur[k] = cur.get(k, 0) + v


def _copy_lines(src: IO[bytes], dst: IO[bytes], upto: int, done: int) -> int:
    """Copy lines of ``src`` until ``upto`` lines are copied in all; returns the new count."""
    while done < upto:
        line = src.readline()
        if not line:
            break
        dst.write(line)
        done += 1
    return done


def _merge_part(
    r: FileResult,
    reserved: dict[str, MediaReservation],
    judges: dict[str, engine.Judge],
    trail: IO[bytes],
    removals: IO[bytes] | None,
) -> None:
    """Copy one input's trail and removals parts, each flagged record where its decision would be."""
    with open(r.trail_part, "rb") as tsrc, open(r.removals_part, "rb") as rsrc:
        tline = rline = 0
        for c, m in _media_hits(r, reserved):
            policy = r.policy if r.policy is not None else Policy()
            judge = judges.get(policy.hash)
            if judge is None:
                judge = judges[policy.hash] = engine.Judge(policy)
            dec = judge.by_embedding_page(c["url"], m).decision
            rec = auditlog.decision_record(
                dec,
                action=auditlog.FLAGGED,
                phase=auditlog.AFTER_THE_FACT,
                run_id=r.run_id,
                mode=MODE,
                capture=c["capture"],
                input_file=c.get("input_file", r.stats.path),
                **c["where"],
            )
            tline = _copy_lines(tsrc, trail, c["trail_at"], tline)
            if c["unknown"] and tsrc.readline():  # its own record (unknown, allowed): replaced
                tline += 1
            trail.write(auditlog.dumps_line(rec))
            if removals is not None:
                rline = _copy_lines(rsrc, removals, c["removals_at"], rline)
                removals.write((c["removal_key"] + "\n").encode("utf-8", "backslashreplace"))
        _copy(tsrc, trail)
        if removals is not None:
            _copy(rsrc, removals)


def merge_outputs(
    results: list[FileResult],
    out: str,
    removals: str | None,
    run_rec: dict[str, Any],
    summary_rec: dict[str, Any],
) -> None:
    """Write the trail (run record, each input's part in input order, summary) and the removal list.

    Records that pages of the inputs reserve as embedded images are flagged
    here (see :func:`merge_media`); a ``summary_rec`` made before that is
    brought up to date in place (its totals, inputs and origins).
    """
    reserved = reserved_media(results)
    if reserved and not all(r.media_merged for r in results):
        _patch_summary(summary_rec, results, merge_media(results, reserved))
    judges: dict[str, engine.Judge] = {}
    with contextlib.suppress(FileNotFoundError):
        os.remove(out)
    with auditlog.JsonLinesAuditLog(out) as log:
        log.write(run_rec)
        log.close()
        with open(out, "ab") as fh, open(removals, "wb") if removals else contextlib.nullcontext() as rm:
            for r in results:
                _merge_part(r, reserved, judges, fh, rm)
        log.open()
        log.write(summary_rec)


def _copy(src: IO[bytes], dst: IO[bytes]) -> None:
    import shutil

    shutil.copyfileobj(src, dst, 1 << 20)
