"""The offline audit engine: judge archived records and URL lists after the fact.

Every record is judged by :mod:`noai_guard.evaluate` (``site_signals`` with the
origin's site files as captured, ``response_signals`` with the record's own
headers and HTML head) and :func:`noai_guard.policy.decide`, the same code the
middleware runs, and written to the trail by :mod:`noai_guard.auditlog`.

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
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Literal, cast

from . import auditlog
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
from .decision import Decision, Signal, Verdict
from .evaluate import response_signals, site_signals
from .policy import Policy, decide
from .sitefiles import KINDS, PATHS, Kind, SiteFile, origin_of

if TYPE_CHECKING:
    from .robots import RobotsTxt
    from .tdmrep import TdmrepFile

MODE = "audit"
RemovalsFormat = Literal["url", "warc-id"]
_MAX_DAMAGE_LISTED = 100  # per input; all are counted
_PROGRESS_EVERY = 256  # records between progress counter updates

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
    damaged: int = 0
    damage: list[dict[str, Any]] = field(default_factory=list)
    passes: int = 1
    seconds: float = 0.0

    def skip(self, kind: str) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1

    def add_damage(self, offset: int | None, error: str, line: int | None = None) -> None:
        self.damaged += 1
        if len(self.damage) < _MAX_DAMAGE_LISTED:
            self.damage.append({"offset": offset, "line": line, "error": error})

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


def _missing(kind: Kind, origin: str, index: CaptureIndex, ts: float, dated: bool) -> dict[str, Any]:
    when = " at or before the record's date" if dated else ""
    after = index.first_after(origin, kind, ts) if dated else None
    note = f"; first capture is later ({after.date})" if after is not None else ""
    return {"missing": f"no capture of {origin}{PATHS[kind]}{when}{note}"}


def _not_checked(url: str, policy: Policy, evidence: str) -> Signal:
    return Signal(
        d.ROBOTS_TXT,
        None,
        policy.purpose,
        evidence,
        origin_of(url) + PATHS["robots"],
        d.LOC_ROBOTS,
        note=(
            "robots.txt not checked: RFC 9309 §2.3.1.4 (unreachable means disallow) applies to a "
            "failed fetch, not to a file the audit never saw"
        ),
    )


class Judge:
    """Judges one record or URL at a time against a capture index."""

    def __init__(self, policy: Policy, index: CaptureIndex, fallback: CaptureIndex | None = None) -> None:
        self.policy = policy
        self.index = index
        self.fallback = fallback  # today's files fetched with --fetch
        # origin -> (from, until, files, used): the site files in force for times in [from, until).
        self._cache: dict[str, tuple[float, float, dict[Kind, SiteFile], dict[str, Any]]] = {}

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
            if len(chain) > 1:
                desc["redirects"] = [c.describe() for c in chain[1:]]
                for c in chain[1:]:  # a redirect target's own next capture ends the interval too
                    later = self.index.first_after(c.origin, c.kind, ts)
                    if later is not None:
                        hi = min(hi, later.ts)
            used[kind] = desc
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
    ) -> tuple[Decision, dict[str, Any]]:
        policy = self.policy
        if origin is None:
            origin = origin_of(url)
        files, used = self.site_files(origin, ts, date is not None)
        sigs = site_signals(
            url,
            policy,
            robots=cast("RobotsTxt | None", files.get("robots")),
            tdmrep_file=cast("TdmrepFile | None", files.get("tdmrep")),
            ai_txt=cast("RobotsTxt | None", files.get("ai-txt")),
        )
        if page:
            sigs += response_signals(
                url, policy, headers=tuple(headers), body=body, content_type=content_type, head=head
            )
        dec = decide(url, sigs, policy)
        if "robots" not in files and not dec.blocked:
            what = "no robots.txt capture for origin" if page else "no robots.txt for origin"
            sig = _not_checked(url, policy, what)
            how = (
                "give --robots-from or --fetch"
                if not page
                else "add its capture or give --robots-from / --fetch"
            )
            reason = f"robots.txt not checked ({used['robots']['missing']}); {how}"
            if dec.verdict is Verdict.ALLOW:
                reason = f"{reason}; the {'record' if page else 'URL'}'s own signals do not reserve"
            dec = dataclasses.replace(
                dec,
                verdict=Verdict.UNKNOWN,
                decided_by=sig,
                reason=reason,
                resolution="not checked: unknown, not counted as reserved",
                signals=(*dec.signals, sig),
            )
        return dec, used


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
    counters = _Counters(_shared_counters, job.index)
    with (
        auditlog.JsonLinesAuditLog(job.trail_part) as trail,
        open(job.removals_part, "w", encoding="utf-8") as removals,
    ):
        if info.kind == "warc":
            _judge_warc(job, judge, local, result, trail, removals, counters)
        else:
            _judge_urls(job, judge, result, trail, removals, counters)
    stats.seconds = time.perf_counter() - t0
    counters.set(stats.records, info.size)
    return result


def _count_judged(result: FileResult, origin: str) -> dict[str, int]:
    """Count one judged record, overall and for its origin; the origin's counters."""
    result.stats.judged += 1
    counts = result.origins.get(origin)
    if counts is None:
        counts = result.origins[origin] = {"judged": 0, "reserved": 0, "unknown": 0}
    counts["judged"] += 1
    return counts


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
            if item.truncated:
                stats.truncated += 1
                stats.add_damage(item.offset, "truncated record (judged on what is there)")
            url = item.url
            origin = fast_origin(url)
            dec, used = judge.decide(
                url,
                item.ts,
                item.date,
                headers=item.headers,
                body=item.body,
                content_type=item.content_type,
                head=item.head,
                origin=origin,
            )
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
                continue
            _record(
                job,
                result,
                dec,
                used,
                trail,
                removals,
                origin,
                (item.record_id if warc_ids else url),
                warc_record_id=item.record_id,
                warc_date=item.date,
                input_offset=item.offset,
                http_status=item.status,
                truncated=item.truncated or None,
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
            stats.add_damage(item.offset, item.error)
            broken += 1
    stats.records = n - broken


def _judge_urls(
    job: Job,
    judge: Judge,
    result: FileResult,
    trail: auditlog.JsonLinesAuditLog,
    removals: IO[str],
    counters: _Counters,
) -> None:
    from .archives import site_file_kind

    stats = result.stats
    n = 0
    for item in iter_urls(job.info, job.url_field):
        n += 1
        if n % _PROGRESS_EVERY == 0:
            counters.set(n, 0)
        if isinstance(item, Damage):
            stats.add_damage(item.offset, item.error, item.line)
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
        _record(
            job,
            result,
            dec,
            used,
            trail,
            removals,
            origin,
            url,
            input_line=item.line,
            http_status=item.status,
            log_event=item.event,
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


def merge_outputs(
    results: list[FileResult],
    out: str,
    removals: str | None,
    run_rec: dict[str, Any],
    summary_rec: dict[str, Any],
) -> None:
    """Write the trail (run record, each input's part in input order, summary) and the removal list."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(out)
    with auditlog.JsonLinesAuditLog(out) as log:
        log.write(run_rec)
        log.close()
        with open(out, "ab") as fh:
            for r in results:
                with open(r.trail_part, "rb") as part:
                    _copy(part, fh)
        log.open()
        log.write(summary_rec)
    if removals:
        with open(removals, "wb") as fh:
            for r in results:
                with open(r.removals_part, "rb") as part:
                    _copy(part, fh)


def _copy(src: IO[bytes], dst: IO[bytes]) -> None:
    import shutil

    shutil.copyfileobj(src, dst, 1 << 20)
