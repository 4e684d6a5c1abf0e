"""Internal: the datatrove filter: judges each document with the engine, drops what is reserved, writes each task's trail whole."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterable
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep

from ... import auditlog, engine
from ...archives import (
    CaptureIndex,
    _parse_warc_date,
    load_robots_from,
)
from ...auditing import (
    MODE,
    URL_ONLY_WHY,
    InputStats,
    Judge,
    fast_origin,
    page_signals_not_checked,
)
from ...decision import EMBEDDING_PAGE, Verdict
from ...policy import Policy
from ._common import _HEAD, _HEAD_OBJ, _MEDIA, _TASK_INPUTS, _clear_aside, _publish, _scratch
from .index import ShardedCaptureIndex
from .media import _reservation_from, _TaskMedia

# --- the filter -----------------------------------------------------------------------------------


class NoaiGuardFilter(PipelineStep):  # type: ignore[misc]  # datatrove is untyped
    """Judge each document; drop reserved ones; write a trail record per exclusion or unknown.

    Site files come from ``index`` (a :class:`NoaiCaptureIndexer` folder,
    opened read-only, only the shards needed, at most about
    ``index_max_captures`` in memory) or ``captures`` (WARC files and
    ``--robots-from`` folders read into memory by each task: small runs), as
    ``noai-guard audit`` takes them; with neither, robots.txt is "not checked".

    A reserved document is dropped and written as ``flagged`` (phase
    ``after-the-fact``, with the captures used); an ``unknown`` one is kept
    and written as ``allowed``, as ``noai-guard audit`` writes them; an
    allowed one is kept and counted.  A document with only a URL and a date
    (datatrove's own readers: ``metadata["url"]``, ``metadata["date"]``) is
    judged by its origin's captures at that date; its record lists the page
    signals it could not show (``not_checked``), as the CLI's for a URL list.
    Each task's trail (run record, decisions, summary record) is written
    aside and renamed to ``<rank:05d>.trail.jsonl`` when the task ends; with
    ``embedding-page`` in the policy, its media files
    (``<rank:05d>.media-reserved.jsonl``, ``<rank:05d>.media-candidates.jsonl``)
    are published just before it, for :class:`NoaiMediaMatcher`.
    """

    name = "🛡 noai-guard filter"
    type = "🔻 - FILTER"

    def __init__(
        self,
        output_folder: Any,
        *,
        index: Any = None,
        index_max_captures: int = 1_000_000,
        captures: Iterable[str] = (),
        robots_from_date: str | None = None,
        policy: Policy | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__()
        self.output_folder = get_datafolder(output_folder)
        self.index = index
        self.index_max_captures = index_max_captures
        self.captures = [os.fspath(p) for p in captures]
        self.robots_from_date = robots_from_date
        self.policy = policy if policy is not None else Policy()
        self.run_id = run_id or auditlog.new_run_id()

    def _index(self) -> tuple[CaptureIndex, list[dict[str, Any]]]:
        damage: list[dict[str, Any]] = []
        if self.index is not None:
            return ShardedCaptureIndex(self.index, max_captures=self.index_max_captures), damage
        index = CaptureIndex()
        for path in self.captures:
            caps, dmg = load_robots_from(path, self.robots_from_date)
            index.extend(caps)
            damage += [{"file": path, "offset": x.offset, "error": x.error} for x in dmg]
        return index, damage

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        t0 = time.perf_counter()
        index, damaged_from = self._index()
        judge = Judge(self.policy, index)
        run_id = f"{self.run_id}-{rank:05d}"
        name = f"{rank:05d}.trail.jsonl"
        _clear_aside(self.output_folder, name)
        local = _scratch(self.output_folder, name)
        tally = _Tally(page_signals_not_checked(self.policy))
        media: _TaskMedia | None = None
        if EMBEDDING_PAGE in self.policy.sources:  # image provenance is off when the policy leaves it out
            media = _TaskMedia(self.output_folder, rank)
        try:
            with auditlog.JsonLinesAuditLog(local) as trail:
                trail.write(
                    auditlog.run_record(
                        run_id=run_id,
                        mode=MODE,
                        policy=self.policy.to_dict(),
                        policy_hash=self.policy.hash,
                        phase=auditlog.AFTER_THE_FACT,
                        executor="datatrove",
                        pipeline_run=self.run_id,
                        rank=rank,
                        world_size=world_size,
                        index=str(self.index) if self.index is not None else None,
                        robots_from=self.captures,
                    )
                )
                for doc in data:
                    with self.track_time():
                        keep = self._judge(judge, doc, trail, tally, run_id, media)
                    if keep:
                        self.stat_update("kept")
                        yield doc
                    else:
                        self.stat_update("dropped")
                inputs = _TASK_INPUTS.pop(rank, [])
                trail.write(
                    tally.summary(run_id, self.policy, inputs, index, damaged_from, time.perf_counter() - t0)
                )
            if media is not None:
                media.close()
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(local)  # a task that did not finish leaves no trail: its rerun writes it whole
            if media is not None:
                media.discard()
            raise
        if media is not None:
            media.publish()  # before the trail: a published trail always has its media files
        _publish(self.output_folder, local, name)

    def _judge(
        self,
        judge: Judge,
        doc: Document,
        trail: auditlog.JsonLinesAuditLog,
        tally: _Tally,
        run_id: str,
        media: _TaskMedia | None = None,
    ) -> bool:
        meta = doc.metadata
        url = meta.get("url")
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            # Nothing to judge it by: kept, counted and listed as damage (not silently allowed).
            tally.bad_url(doc.id, url)
            self.stat_update("no_url")
            return True
        origin = fast_origin(url)
        page: engine.Page | None = None
        pre = meta.pop(_MEDIA, None)
        prefix = meta.get(_HEAD)
        if "http_status" in meta and isinstance(prefix, str):
            date = meta.get("warc_date")
            ts = meta.get("warc_ts")
            if not isinstance(ts, float):
                ts = _parse_warc_date(date)
            in_process = _HEAD_OBJ in meta
            head = meta.pop(_HEAD_OBJ, None)
            body = prefix.encode("latin-1")
            headers = tuple((str(k), str(v)) for k, v in meta.get("http_headers") or ())
            ctype = meta.get("content_type")
            if in_process:
                read = engine.PageRead(body, head, meta.get("head_unreadable"))
            else:  # stored by an earlier stage and read back: the head read again from its bytes
                src = engine.Page(url, body=body).reader(len(body))
                read = engine.read_page(src, url, ctype, self.policy, headers=headers)
            page = engine.Page(url, meta.get("http_status"), headers, body, content_type=ctype, read=read)
            where: dict[str, Any] = {
                "warc_record_id": meta.get("warc_record_id"),
                "warc_date": date,
                "input_offset": meta.get("offset"),
                "http_status": meta.get("http_status"),
                "truncated": meta.get("truncated") or None,
            }
            if read.head is None:
                tally.non_html += 1
        else:
            # URL and date only (datatrove's WarcReader, JsonlReader...): the site files at that date.
            raw = meta.get("date", meta.get("warc_date"))
            date = str(raw) if raw is not None else None
            ts = _parse_warc_date(date) if date is not None else math.inf
            where = {
                "warc_date": date,
                "document_id": doc.id,
                "not_checked": tally.not_checked,
            }
            tally.url_only += 1
        judgement, used = judge.judge(url, ts, date, page, origin=origin)
        dec = judgement.decision
        file = meta.get("file", meta.get("file_path"))
        tally.count(origin, dec, "source" not in used["robots"], file)
        # Image provenance, as noai-guard audit's worker keeps it (auditing._judge_warc): what a
        # reserving page embeds, and the records a page may reserve (not HTML; a URL list's media
        # URLs), matched across tasks by NoaiMediaMatcher.
        candidate = False
        if media is not None:
            if page is not None and judgement.page and judgement.head is not None:
                reserves: engine.MediaReservation | None
                if isinstance(pre, dict) and pre.get("policy") == self.policy.hash:
                    reserves = _reservation_from(pre)  # read by the reader on into the record's payload
                else:  # none listed by the reader, or by another policy: what the stored head shows
                    reserves = judge.engine.embedded_media(page, judgement)
                if reserves is not None and (reserves.urls or reserves.av_urls):
                    media.reserve(str(file), reserves)
            # Not read as HTML (an image, anything an <img> may point at); a URL's: a media URL.
            candidate = judgement.head is None if page is not None else engine.is_media(url, None)
        if not dec.blocked and dec.verdict is Verdict.ALLOW:
            if candidate and media is not None:
                media.candidate(url, origin, False, trail.records, used, where, file)
            return True
        before = trail.records
        trail.write(
            auditlog.decision_record(
                dec,
                action=auditlog.FLAGGED if dec.blocked else auditlog.ALLOWED,
                phase=auditlog.AFTER_THE_FACT,
                run_id=run_id,
                mode=MODE,
                capture=used,
                input_file=file,
                **where,
            )
        )
        if candidate and media is not None and not dec.blocked:  # unknown, kept: its record is replaced
            media.candidate(url, origin, True, before, used, where, file)
        return not dec.blocked


class _Tally:
    """One task's counts, for its summary record (the fields ``noai-guard audit`` writes)."""

    def __init__(self, not_checked: list[str]) -> None:
        self.not_checked = not_checked
        self.origins: dict[str, dict[str, int]] = {}
        self.by_file: dict[Any, dict[str, int]] = {}  # the reader's file label -> its counts
        self.totals = {"judged": 0, "reserved": 0, "unknown": 0, "allowed": 0}
        self.unchecked: set[str] = set()
        self.url_only = 0
        self.non_html = 0
        self.bad: list[dict[str, Any]] = []
        self.bad_count = 0

    def count(self, origin: str, dec: Any, unchecked: bool, file: Any) -> None:
        c = self.origins.get(origin)
        if c is None:
            c = self.origins[origin] = {"judged": 0, "reserved": 0, "unknown": 0}
        f = self.by_file.get(file)
        if f is None:
            f = self.by_file[file] = {"judged": 0, "reserved": 0, "unknown": 0, "allowed": 0}
        what = "reserved" if dec.blocked else "unknown" if dec.verdict is Verdict.UNKNOWN else "allowed"
        c["judged"] += 1
        f["judged"] += 1
        f[what] += 1
        self.totals["judged"] += 1
        self.totals[what] += 1
        if what != "allowed":
            c[what] += 1
        if unchecked:
            self.unchecked.add(origin)

    def bad_url(self, doc_id: Any, url: Any) -> None:
        self.bad_count += 1
        if len(self.bad) < 100:
            self.bad.append(
                {"document_id": str(doc_id), "error": f"no http(s) URL to judge: {str(url)[:200]!r}"}
            )

    def summary(
        self,
        run_id: str,
        policy: Policy,
        inputs: list[InputStats],
        index: CaptureIndex,
        damaged_from: list[dict[str, Any]],
        seconds: float,
    ) -> dict[str, Any]:
        for st in inputs:  # the reader counted what it read, the filter what it judged
            for k, v in self.by_file.get(st.path, {}).items():
                setattr(st, k, v)
        keys = ("records", "captures", "truncated", "damaged", "unreadable")
        totals: dict[str, Any] = {k: sum(getattr(s, k) for s in inputs) for k in keys}
        totals.update(self.totals)
        totals["records"] = max(totals["records"], self.totals["judged"] + self.bad_count)
        totals["damaged"] += self.bad_count
        totals["non_html"] = self.non_html
        skipped: dict[str, int] = {}
        for s in inputs:
            for k, v in s.skipped.items():
                skipped[k] = skipped.get(k, 0) + v
        totals["skipped"] = skipped
        totals["seconds"] = round(seconds, 3)
        totals["bytes"] = sum(s.size for s in inputs)
        not_checked: list[dict[str, Any]] = []
        if self.url_only and self.not_checked:
            not_checked.append(
                {"signals": self.not_checked, "why": URL_ONLY_WHY, "inputs": [], "records": self.url_only}
            )
        if EMBEDDING_PAGE in policy.sources:
            not_checked.append(
                {
                    "signals": [EMBEDDING_PAGE],
                    "why": "the datatrove filter judges each document alone: images are matched with "
                    "the pages that embed them, across tasks, by NoaiMediaMatcher (not run yet)",
                    "inputs": [],
                    "records": self.totals["judged"],
                }
            )
        return auditlog.summary_record(
            run_id=run_id,
            mode=MODE,
            policy=policy.to_dict(),
            origins=self.origins,
            totals=totals,
            inputs=[s.to_dict() for s in inputs],
            documents_without_url=self.bad,
            origins_without_robots=sorted(self.unchecked),
            not_checked=not_checked,
            captures_indexed=len(index),
            robots_from_damage=damaged_from,
            capture_index=getattr(index, "built", None),
        )
