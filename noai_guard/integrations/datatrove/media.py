"""Internal: image provenance across datatrove tasks: the embedding-page matching of ``noai-guard audit``, as a last stage."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import IO, Any

import orjson
from datatrove.data import DocumentsPipeline
from datatrove.io import DataFolder, get_datafolder
from datatrove.pipeline.base import PipelineStep

from ... import auditlog, engine
from ...archives import (
    InputError,
)
from ...auditing import (
    FileResult,
    InputStats,
    RemovalsFormat,
    _Candidates,
    _media_hits,
    _merge_part,
    _patch_summary,
    merge_media,
    reserved_media,
)
from ...decision import EMBEDDING_PAGE, Signal
from ...policy import Policy
from ._common import _clear_aside, _local_copy, _publish, _scratch

logger = logging.getLogger(__name__)

# --- image provenance across tasks ------------------------------------------------------------------
#
# noai-guard audit's worker keeps, per input, what its reserving pages embed (FileResult.media) and
# the records a page may reserve, spilled to disk (auditing._Candidates); its parent matches them
# once every input is judged (auditing.reserved_media, merge_media, _merge_part).  The filter keeps
# the same two per task, published beside the task's trail (<rank>.media-reserved.jsonl,
# <rank>.media-candidates.jsonl, before the trail); NoaiMediaMatcher, a last stage, matches them
# with that very code.

_RESERVED = ".media-reserved.jsonl"
_CANDIDATES = ".media-candidates.jsonl"
_TRAIL = ".trail.jsonl"
MATCHED = "embedding_page"  # the summary record's mark of a trail the matcher has brought up to date
REMOVALS = "embedding-page.removals.txt"


class _TaskMedia:
    """One task's reserving pages' media and candidate records, written aside, published with its trail."""

    def __init__(self, folder: DataFolder, rank: int) -> None:
        self.folder = folder
        self.names = (f"{rank:05d}{_RESERVED}", f"{rank:05d}{_CANDIDATES}")
        for n in self.names:
            _clear_aside(folder, n)
        self.paths = (_scratch(folder, self.names[0]), _scratch(folder, self.names[1]))
        self.reserved: IO[bytes] | None = open(self.paths[0], "wb")  # noqa: SIM115 - closed by close()
        self.candidates = _Candidates(self.paths[1])

    def reserve(self, file: str, m: engine.MediaReservation) -> None:
        assert self.reserved is not None
        self.reserved.write(auditlog.dumps_line({"file": file, **_reservation_dict(m)}))

    def candidate(
        self,
        url: str,
        origin: str,
        unknown: bool,
        trail_at: int,
        used: dict[str, Any],
        where: dict[str, Any],
        file: Any,
    ) -> None:
        self.candidates.add(
            url,
            origin,
            unknown=unknown,
            trail_at=trail_at,
            removals_at=0,  # the filter writes no removal list: the matcher's holds only these
            removal_key=url,
            used=used,
            where=where,
            input_file=None if file is None else str(file),
        )

    def close(self) -> None:
        if self.reserved is not None:
            self.reserved.close()
            self.reserved = None
        self.candidates.close()

    def discard(self) -> None:
        self.close()
        for p in self.paths:
            with contextlib.suppress(OSError):
                os.unlink(p)

    def publish(self) -> None:
        for p, n in zip(self.paths, self.names, strict=True):
            _publish(self.folder, p, n)


def _reservation_dict(m: engine.MediaReservation) -> dict[str, Any]:
    """A :class:`~noai_guard.engine.MediaReservation` as JSON (a document's metadata, a media file line)."""
    return {
        "page_url": m.page_url,
        "signal": m.signal.to_dict(),
        "urls": list(m.urls),
        "av_urls": list(m.av_urls),
        "av_signal": m.av_signal.to_dict() if m.av_signal is not None else None,
    }


def _reservation_from(r: dict[str, Any]) -> engine.MediaReservation:
    av = r.get("av_signal")
    return engine.MediaReservation(
        r["page_url"],
        Signal.from_dict(r["signal"]),
        tuple(r["urls"]),
        tuple(r["av_urls"]),
        Signal.from_dict(av) if av is not None else None,
    )


def _load_reservation(line: bytes) -> tuple[str, engine.MediaReservation]:
    r = orjson.loads(line)
    return str(r["file"]), _reservation_from(r)


def _ends(path: str) -> tuple[dict[str, Any], dict[str, Any], int]:
    """A published trail's run record, summary record, and the byte offset its summary line starts at."""
    with open(path, "rb") as fh:
        run = orjson.loads(fh.readline())
        size = fh.seek(0, os.SEEK_END)
        back = min(size, 1 << 16)
        while True:
            fh.seek(size - back)
            tail = fh.read(back)
            cut = tail.rstrip(b"\n").rfind(b"\n")
            if cut >= 0 or back == size:
                break
            back = min(size, back * 4)
        start = size - back + cut + 1
        summary = orjson.loads(tail[cut + 1 :])
    if run.get("type") != "run" or summary.get("type") != "summary":
        raise InputError(
            f"{path}: not a whole trail of the datatrove filter (run record first, summary last)"
        )
    return run, summary, start


def _task_result(rank: int, trail: str, candidates: str, run: dict[str, Any], policy: Policy) -> FileResult:
    """A task as the audit's parent sees an input (:class:`noai_guard.auditing.FileResult`)."""
    r = FileResult(rank, InputStats("", "WARC"), trail, os.devnull, {}, {}, [], False, set())
    r.media_part, r.candidates = candidates, int(os.path.getsize(candidates) > 0)
    r.run_id, r.policy = str(run.get("run_id", "")), policy
    return r


def match_media(
    trails_folder: Any,
    *,
    removals: str = REMOVALS,
    removals_format: RemovalsFormat = "url",
    policy: Policy | None = None,
) -> dict[str, int]:
    """Flag the records reserving pages embed, across every task's trail of ``trails_folder``.

    Exactly as ``noai-guard audit`` does across its inputs (:func:`noai_guard.auditing.reserved_media`,
    :func:`~noai_guard.auditing.merge_media`, :func:`~noai_guard.auditing._merge_part`): each match is
    written ``flagged`` with signal ``embedding-page`` (the page as evidence) where the record's own
    decision record was (an unknown's, replaced) or would have been, and the task's summary record is
    brought up to date (totals, origins, inputs; marked :data:`MATCHED`).  Those records went
    downstream before the match: ``removals`` (in the folder, ``--removals`` format: URLs or
    WARC-Record-IDs) lists them, written last.  Each trail is replaced whole (aside, renamed); a
    rerun skips the trails already marked and rewrites nothing that is the same.  ``policy``: for
    trails whose run record has none.  Returns counts (trails, patched, flagged, reserving pages).

    Every task of the audit stage must have published its trail (a page in a missing task may
    reserve a record of any other): a folder short of its run records' ``world_size`` is refused
    (:class:`~noai_guard.archives.InputError`), before anything is written.
    """
    folder = get_datafolder(trails_folder)
    names = sorted(n for n in folder.list_files(recursive=False, glob_pattern="*" + _TRAIL) if "/" not in n)
    _check_complete(folder, names)
    # Every reserving page, in input order (the CLI's: files sorted, records in order).
    by_file: dict[str, list[engine.MediaReservation]] = {}
    pages = 0
    for name in names:
        res = name[: -len(_TRAIL)] + _RESERVED
        if not folder.exists(res):
            continue
        with _local_copy(folder, res) as path, open(path, "rb") as fh:
            for line in fh:
                file, m = _load_reservation(line)
                by_file.setdefault(file, []).append(m)
                pages += 1
    inputs: list[FileResult] = []
    for file in sorted(by_file):
        r = FileResult(len(inputs), InputStats(file, "WARC"), "", "", {}, {}, [], False, set())
        r.media = by_file[file]
        inputs.append(r)
    reserved = reserved_media(inputs)
    judges: dict[str, engine.Judge] = {}
    keys: list[str] = []
    patched = 0
    for name in names:
        prefix = name[: -len(_TRAIL)]
        rank = int(prefix) if prefix.isdigit() else 0
        cand = prefix + _CANDIDATES
        with contextlib.ExitStack() as stack:
            trail = stack.enter_context(_local_copy(folder, name))
            run, summary, _start = _ends(trail)
            cpath = stack.enter_context(_local_copy(folder, cand)) if folder.exists(cand) else os.devnull
            pol = (
                Policy.from_dict(run["policy"]) if isinstance(run.get("policy"), dict) else policy or Policy()
            )
            r = _task_result(rank, trail, cpath, run, pol)
            hits = list(_media_hits(r, reserved))
            for c, _m in hits:
                wid = c["where"].get("warc_record_id") if removals_format == "warc-id" else None
                keys.append(str(wid or c["url"]))
            if MATCHED in summary or EMBEDDING_PAGE not in pol.sources:
                continue  # brought up to date by an earlier run; or a policy without image provenance
            _patch_trail(folder, name, r, reserved, judges, summary, hits, pages)
            patched += 1
    _write_if_changed(folder, removals, "".join(k + "\n" for k in keys))
    return {"trails": len(names), "patched": patched, "flagged": len(keys), "reserving_pages": pages}


def _check_complete(folder: DataFolder, names: list[str]) -> None:
    """Refuse a folder where some task of the audit stage has no published trail yet."""
    ranks: set[int] = set()
    world = 0
    for name in names:
        with folder.open(name, "rb") as fh:
            run = orjson.loads(fh.readline())
        if isinstance(run.get("rank"), int):
            ranks.add(run["rank"])
        if isinstance(run.get("world_size"), int):
            world = max(world, run["world_size"])
    missing = sorted(set(range(world)) - ranks)
    if missing:
        raise InputError(
            f"{folder.path}: {world - len(missing)} of {world} tasks' trails published (missing rank "
            f"{', '.join(map(str, missing[:10]))}{' ...' if len(missing) > 10 else ''}): "
            "finish the audit stage before matching embedded media"
        )


def _patch_trail(
    folder: DataFolder,
    name: str,
    r: FileResult,
    reserved: dict[str, engine.MediaReservation],
    judges: dict[str, engine.Judge],
    summary: dict[str, Any],
    hits: list[tuple[dict[str, Any], engine.MediaReservation]],
    pages: int,
) -> None:
    """Write one task's trail again with its matches flagged and its summary brought up to date."""
    moved = merge_media([r], reserved)
    per_input = summary.pop("inputs", None)
    _patch_summary(summary, [r], moved)  # totals and origins (the task's inputs: below, by file)
    if isinstance(per_input, list):
        by_path = {i.get("path"): i for i in per_input if isinstance(i, dict)}
        for c, _m in hits:
            st = by_path.get(c.get("input_file"))
            if st is not None:
                st["reserved"] = st.get("reserved", 0) + 1
                what = "unknown" if c["unknown"] else "allowed"
                st[what] = st.get(what, 0) - 1
        summary["inputs"] = per_input
    summary["not_checked"] = [
        g for g in summary.get("not_checked") or () if list(g.get("signals") or ()) != [EMBEDDING_PAGE]
    ]
    summary[MATCHED] = {"matched_by": "NoaiMediaMatcher", "flagged": len(hits), "reserving_pages": pages}
    _clear_aside(folder, name)  # what a killed earlier run left aside
    local = _scratch(folder, name)
    try:
        with open(local, "wb") as out:
            _merge_part(r, reserved, judges, out, None)  # every line, each match where its decision is
        # The summary record (copied last) replaced by the one brought up to date.
        _run, _old, start = _ends(local)
        with open(local, "r+b") as out:
            out.truncate(start)
            out.seek(start)
            out.write(auditlog.dumps_line(summary))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(local)
        raise
    _publish(folder, local, name)


def _write_if_changed(folder: DataFolder, name: str, text: str) -> None:
    """Publish ``text`` as ``name`` (aside, renamed) unless it is there already, the same."""
    if folder.exists(name):
        with folder.open(name, "rt", encoding="utf-8") as fh:
            if fh.read() == text:
                return
    _clear_aside(folder, name)
    local = _scratch(folder, name)
    with open(local, "w", encoding="utf-8") as fh:
        fh.write(text)
    _publish(folder, local, name)


class NoaiMediaMatcher(PipelineStep):  # type: ignore[misc]  # datatrove is untyped
    """The last stage: images, audio and video that reserving pages embed, matched across tasks.

    Run it with ``tasks=1`` and ``depends=`` on the audit stage; it reads every
    task's published media files beside the trails (``trails_folder``) and applies
    :func:`match_media` (rank 0 only).  Afterwards ``noai-guard report`` over the
    trails counts what ``noai-guard audit`` counts over the same inputs, and
    ``removals`` lists the records to take out of what the audit stage kept.
    """

    name = "🛡 noai-guard media matcher"
    type = "🔗 - MATCH"

    def __init__(
        self,
        trails_folder: Any,
        *,
        removals: str = REMOVALS,
        removals_format: RemovalsFormat = "url",
        policy: Policy | None = None,
    ) -> None:
        super().__init__()
        self.trails_folder = trails_folder
        self.removals = removals
        self.removals_format = removals_format
        self.policy = policy

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if rank == 0:
            got = match_media(
                self.trails_folder,
                removals=self.removals,
                removals_format=self.removals_format,
                policy=self.policy,
            )
            for k, v in got.items():
                self.stat_update(k, value=v)
            logger.info("media matched: %s", got)
        if data is not None:
            yield from data
