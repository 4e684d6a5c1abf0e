"""datatrove pipeline blocks: index site-file captures, read WARC files for judging, drop what is reserved.

Install with ``pip install 'noai-guard[datatrove]'`` (issue 16).  Three blocks
compose in the datatrove way; datatrove's executors (Local, Slurm, Ray) run
them, its completions make reruns skip finished tasks::

    LocalPipelineExecutor(pipeline=[                      # stage 1: the capture index
        NoaiCaptureIndexer("capidx/", warcs="robotstxt/"),
    ], tasks=4, logging_dir="logs/index").run()
    LocalPipelineExecutor(pipeline=[                      # stage 2: the audit
        NoaiWarcReader("crawl/"),
        NoaiGuardFilter("trails/", index="capidx/"),
        JsonlWriter("kept/"),
    ], tasks=4, workers=2, logging_dir="logs/audit").run()

:class:`NoaiCaptureIndexer` reads site-file captures (Common Crawl's
``robotstxt/`` WARCs, any WARC's captures, ``--robots-from`` folders) into an
on-disk index keyed by origin and capture date, sharded by a hash of the host
so that a task of the audit opens only the shards of the hosts it meets
(:class:`ShardedCaptureIndex`, read-only).  :class:`NoaiWarcReader` reads WARC
files with :func:`noai_guard.archives.iter_warc` (FastWARC), the audit's reader,
and keeps what judging needs in ``Document.metadata``.  :class:`NoaiGuardFilter`
judges each document with :class:`noai_guard.auditing.Judge` (the audit's
capture selection: the capture at or before the record's date) and the
engine, drops reserved documents and writes each task's trail
``<rank>.trail.jsonl`` in the audit schema (:mod:`noai_guard.auditlog`),
whole or not at all (written aside, renamed at the task's end), which
``noai-guard report`` reads.

Remote inputs (``s3://``, ``https://``: any datatrove / fsspec file system)
are copied to a local temporary file one at a time, since FastWARC reads a
local file; outputs are written locally and moved into place at the task's end.

Image provenance across records (``embedding-page``: a reserving page
anywhere in the inputs flags the images, audio and video it embeds) needs
every task's output at once: the filter keeps what ``noai-guard audit``'s
worker keeps (the reserving pages' media, the records a page may reserve) and
publishes it beside its trail; :class:`NoaiMediaMatcher`, a last stage
(``tasks=1``, ``depends=`` on the audit), matches them with the audit's own
code, brings the trails up to date and lists the records to take out of what
the audit stage kept.  Until it has run, the summaries say ``embedding-page``
is not checked.  ``Document.text`` is the decoded start of the page that
judging read (its head), not the whole body.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import math
import os
import shutil
import tempfile
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolder, get_datafolder, get_shard_from_paths_file
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers.base import BaseDiskReader

from .. import auditlog, engine
from ..archives import (
    Capture,
    CaptureIndex,
    Damage,
    InputError,
    Skipped,
    WarcPage,
    _parse_warc_date,
    iter_warc,
    load_folder,
    load_robots_from,
    scan_captures,
)
from ..auditing import (
    MODE,
    URL_ONLY_WHY,
    FileResult,
    InputStats,
    Judge,
    RemovalsFormat,
    _Candidates,
    _media_hits,
    _merge_part,
    _patch_summary,
    fast_origin,
    merge_media,
    page_signals_not_checked,
    reserved_media,
)
from ..decision import EMBEDDING_PAGE, Signal, Verdict
from ..policy import Policy
from ..sitefiles import PATHS

__all__ = [
    "NoaiCaptureIndexer",
    "NoaiGuardFilter",
    "NoaiMediaMatcher",
    "NoaiWarcReader",
    "ShardedCaptureIndex",
    "match_media",
]

logger = logging.getLogger(__name__)

INDEX_SCHEMA = "noai-guard-capture-index/1"
_MANIFEST = "index.json"
_READ_ERRORS = (OSError, ValueError, EOFError, RuntimeError, InputError)

# The metadata keys the reader sets and the filter reads.
_HEAD = "html_head"  # the decoded start of the payload, bytes as latin-1 text (lossless)
_HEAD_OBJ = "_noai_head"  # the Head the reader read, in process only (the filter pops it)
# What a reserving page reserves of the media it embeds (JSON: the policy's hash and the
# reservation), read by the reader while the record's payload is open (the body past the head);
# kept through storage between stages, popped by the filter.
_MEDIA = "noai_media"

# rank -> the reader's per-file counts and damage in this process, for the filter's summary record
# (the reader and the filter of one task run in one process, the reader's generator feeding the filter).
_TASK_INPUTS: dict[int, list[InputStats]] = {}


# --- files on datatrove's file systems ----------------------------------------------------------


@contextlib.contextmanager
def _local_copy(folder: DataFolder, name: str) -> Iterator[str]:
    """A local path for ``name`` of ``folder``: itself when local, else a temporary copy."""
    if folder.is_local():
        yield folder.resolve_paths(name)
        return
    tmp = tempfile.mkdtemp(prefix="noai-guard-")
    try:
        local = os.path.join(tmp, os.path.basename(name) or "input")
        folder.get_file(name, local)
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _publish(folder: DataFolder, local: str, name: str) -> None:
    """Move the finished local file ``local`` to ``name`` in ``folder``, whole or not at all."""
    if folder.is_local():
        dest = folder.resolve_paths(name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.replace(local, dest)  # same file system: written aside in the output folder
        return
    part = f"{name}.part-{uuid.uuid4().hex[:8]}"
    folder.put_file(local, part)
    folder.mv(part, name)
    os.unlink(local)


def _clear_aside(folder: DataFolder, name: str) -> None:
    """Remove what a killed earlier attempt of this task left aside for ``name`` (local folders)."""
    if not folder.is_local():
        return  # written to the machine's temporary folder, never beside the output
    dest = folder.resolve_paths(name)
    d, base = os.path.split(dest)
    with contextlib.suppress(OSError):
        for entry in os.listdir(d):
            if entry.startswith("." + base + ".") and entry.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(d, entry))


def _scratch(folder: DataFolder, name: str) -> str:
    """A local path to write ``name`` to before :func:`_publish` (beside it when the folder is local)."""
    if folder.is_local():
        dest = folder.resolve_paths(name)
        d = os.path.dirname(dest)
        os.makedirs(d, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="." + os.path.basename(dest) + ".", suffix=".tmp", dir=d)
    else:
        fd, path = tempfile.mkstemp(prefix="noai-guard-", suffix=".tmp")
    os.close(fd)
    return path


# --- the capture index ----------------------------------------------------------------------------


def _host(key: str) -> str:
    """The host[:port] of an index key (``scheme://host/robots.txt``, ``*://host/...``, a licence URL)."""
    rest = key.split("://", 1)[-1]
    return rest.split("/", 1)[0].lower()


def shard_of(key: str, shards: int) -> int:
    """The shard holding an index key: a stable hash of its host, so that http, https and a
    ``--robots-from`` folder's ``*://`` file of one host share a shard."""
    h = hashlib.blake2b(_host(key).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(h, "big") % shards


def _key(cap: Capture) -> str:
    return cap.url if cap.kind == "rsl" else cap.origin + PATHS[cap.kind]


def _dump(cap: Capture) -> bytes:
    return orjson.dumps(
        [
            cap.kind, cap.url, cap.origin, cap.date, None if math.isinf(cap.ts) else cap.ts,
            cap.record_id, cap.status, cap.body.decode("latin-1"), cap.file, cap.offset,
            cap.location, cap.detail, cap.too_many_redirects, cap.folder,
        ]
    ) + b"\n"


def _load(line: bytes) -> Capture:
    (kind, url, origin, date, ts, rid, status, body, file, offset, loc, detail, tmr, folder) = orjson.loads(line)
    return Capture(
        kind, url, origin, date, -math.inf if ts is None else ts, rid, status, body.encode("latin-1"),
        file, offset, loc, detail, tmr, folder,
    )


class NoaiCaptureIndexer(PipelineStep):  # type: ignore[misc]  # datatrove is untyped
    """Build the on-disk capture index: ``output_folder/shards/<shard>/<rank>.jsonl.gz``.

    ``warcs``: a folder of WARC files (any datatrove / fsspec path; with
    ``glob_pattern``, e.g. Common Crawl's ``*/robotstxt/*.warc.gz`` under a
    crawl's ``segments/``) whose site-file captures are indexed: a page WARC's
    own captures count, as in ``noai-guard audit``.  ``robots_from``: local
    ``--robots-from`` folders (``robots_from_date`` as ``--robots-from-date``).
    Each task indexes its share of the files (datatrove's sharding; folder
    ``i`` goes to task ``i % tasks``; ``paths_file``: a list of paths under
    ``warcs``, as datatrove's readers take it, e.g. Common Crawl's
    ``robotstxt.paths.gz``) and writes one fragment per shard it has
    captures for, and ``tasks/<rank>.json`` (its counts and damage) last, each
    file whole (written aside, then renamed).  A rerun task rewrites its own
    fragments: the index is the same.  A damaged capture file is counted and
    listed in ``tasks/<rank>.json``, never fatal.
    """

    name = "🛡 noai-guard capture index"
    type = "🗂 - INDEX"

    def __init__(
        self,
        output_folder: Any,
        *,
        warcs: Any = None,
        glob_pattern: str | None = None,
        paths_file: Any = None,
        robots_from: Iterable[str] = (),
        robots_from_date: str | None = None,
        shards: int = 64,
    ) -> None:
        super().__init__()
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.output_folder = get_datafolder(output_folder)
        self.warcs = get_datafolder(warcs) if warcs is not None else None
        self.glob_pattern = glob_pattern
        self.paths_file = paths_file
        self.robots_from = [os.fspath(p) for p in robots_from]
        self.robots_from_date = robots_from_date
        self.shards = shards

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        out = self.output_folder
        manifest = {"schema": INDEX_SCHEMA, "shards": self.shards, "tasks": world_size}
        if out.exists(_MANIFEST):
            had = orjson.loads(out.read_bytes(_MANIFEST))
            if had != manifest:  # another build's fragments would mix with this one's
                raise ValueError(
                    f"{out.path}: holds a capture index built with {had.get('shards')} shards by "
                    f"{had.get('tasks')} tasks, not {self.shards} by {world_size}: use a new folder"
                )
        else:
            local = _scratch(out, _MANIFEST)
            with open(local, "wb") as mf:
                mf.write(orjson.dumps(manifest))
            _publish(out, local, _MANIFEST)
        writers: dict[int, tuple[str, gzip.GzipFile]] = {}
        counts = {"files": 0, "captures": 0, "damaged": 0}
        damage: list[dict[str, Any]] = []

        def add(cap: Capture) -> None:
            s = shard_of(_key(cap), self.shards)
            w = writers.get(s)
            if w is None:
                name = f"shards/{s:05d}/{rank:05d}.jsonl.gz"
                local = _scratch(out, name)
                w = writers[s] = (local, gzip.open(local, "wb", compresslevel=3))  # noqa: SIM115
            w[1].write(_dump(cap))
            counts["captures"] += 1

        try:
            if self.warcs is None:
                files: list[str] = []
            elif self.paths_file is not None:  # e.g. Common Crawl's robotstxt.paths.gz
                files = list(get_shard_from_paths_file(self.paths_file, rank, world_size))
            else:
                files = self.warcs.get_shard(rank, world_size, glob_pattern=self.glob_pattern)
            for name in files:
                with self.track_time():
                    counts["files"] += 1
                    with _local_copy(self.warcs, name) as path:
                        try:
                            for item in scan_captures(path):
                                if type(item) is Capture:
                                    add(item)
                                else:
                                    assert isinstance(item, Damage)
                                    counts["damaged"] += 1
                                    damage.append({"file": name, "offset": item.offset, "error": item.error})
                        except _READ_ERRORS as exc:  # not a WARC, unreadable: listed, the rest indexed
                            counts["damaged"] += 1
                            damage.append({"file": name, "offset": None, "error": f"{type(exc).__name__}: {exc}"})
            for i, folder in enumerate(self.robots_from):
                if i % world_size != rank:
                    continue
                counts["files"] += 1
                try:
                    for cap in load_folder(folder, self.robots_from_date):
                        add(cap)
                except _READ_ERRORS as exc:
                    counts["damaged"] += 1
                    damage.append({"file": folder, "offset": None, "error": str(exc)})
        except BaseException:
            for local, fh in writers.values():
                fh.close()
                with contextlib.suppress(OSError):
                    os.unlink(local)
            raise
        for s, (local, fh) in sorted(writers.items()):
            fh.close()
            _publish(out, local, f"shards/{s:05d}/{rank:05d}.jsonl.gz")
        self.stat_update("captures", value=counts["captures"])
        self.stat_update("damaged", value=counts["damaged"])
        done = _scratch(out, f"tasks/{rank:05d}.json")
        with open(done, "wb") as tf:
            tf.write(orjson.dumps({**counts, "rank": rank, "world_size": world_size, "damage": damage[:1000]}))
        _publish(out, done, f"tasks/{rank:05d}.json")


class ShardedCaptureIndex(CaptureIndex):
    """The on-disk index of :class:`NoaiCaptureIndexer`, read-only, its shards opened on first use.

    The audit's :class:`~noai_guard.archives.CaptureIndex` selection (the
    capture at or before a time, redirects, the ``*://`` folder files) runs
    unchanged on the shards loaded so far: a key's shard is loaded before it
    is looked up.  At most about ``max_captures`` captures are held: past it
    the least recently used shards are dropped (and read again if needed), so
    memory stays bounded when a task meets every host of a crawl.  Raises
    :class:`InputError` for a folder that is not a finished index (a build
    task missing).
    """

    def __init__(self, folder: Any, *, max_captures: int = 1_000_000) -> None:
        super().__init__()
        self.folder = get_datafolder(folder)
        self.max_captures = max_captures  # held in memory: least recently used shards dropped past it
        if not self.folder.exists(_MANIFEST):
            raise InputError(f"{self.folder.path}: not a noai-guard capture index (no {_MANIFEST})")
        manifest = orjson.loads(self.folder.read_bytes(_MANIFEST))
        if not isinstance(manifest, dict) or manifest.get("schema") != INDEX_SCHEMA:
            raise InputError(f"{self.folder.path}: not a {INDEX_SCHEMA} capture index")
        self.shards = int(manifest["shards"])
        tasks = int(manifest["tasks"])
        done = self.folder.glob("tasks/*.json") if self.folder.exists("tasks") else []
        if len(done) < tasks:
            raise InputError(
                f"{self.folder.path}: unfinished capture index: {len(done)} of {tasks} build tasks done"
            )
        # What the build read and could not: said in every trail that uses the index.
        self.built: dict[str, Any] = {"folder": self.folder.path, "files": 0, "captures": 0, "damaged": 0, "damage": []}
        for name in sorted(done):
            t = orjson.loads(self.folder.read_bytes(name))
            for k in ("files", "captures", "damaged"):
                self.built[k] += int(t.get(k, 0))
            self.built["damage"] += t.get("damage", [])[: max(0, 100 - len(self.built["damage"]))]
        # shard -> (its keys, its captures), least recently used first
        self._shards: OrderedDict[int, tuple[list[str], int]] = OrderedDict()
        self.captures_loaded = 0  # now in memory
        self.shard_loads = 0  # shard files read, reloads included

    @property
    def loaded(self) -> set[int]:
        return set(self._shards)

    def add(self, cap: Capture) -> None:
        raise TypeError("the capture index is read-only while the audit runs")

    def _open(self, key: str) -> None:
        s = shard_of(key, self.shards)
        if s in self._shards:
            self._shards.move_to_end(s)
            return
        while self._shards and self.captures_loaded >= self.max_captures:
            _, (keys, n) = self._shards.popitem(last=False)
            for k in keys:
                self.by_url.pop(k, None)
            self.captures_loaded -= n
            self._parsed.clear()
        before = set(self.by_url)
        n = 0
        d = f"shards/{s:05d}"
        if self.folder.exists(d):
            for name in sorted(self.folder.glob(f"{d}/*.jsonl.gz")):
                with self.folder.open(name, "rb") as raw, gzip.open(raw, "rb") as fh:
                    for line in fh:
                        CaptureIndex.add(self, _load(line))
                        n += 1
        self.shard_loads += 1
        self.captures_loaded += n
        self._shards[s] = ([k for k in self.by_url if k not in before], n)

    def _nearest(self, key: str, ts: float) -> Capture | None:
        self._open(key)
        return super()._nearest(key, ts)

    def _first_after(self, key: str, ts: float) -> Capture | None:
        self._open(key)
        return super()._first_after(key, ts)

    def __len__(self) -> int:
        return self.captures_loaded


# --- the reader -----------------------------------------------------------------------------------


class NoaiWarcReader(BaseDiskReader):  # type: ignore[misc]  # datatrove is untyped
    """Read WARC response records as documents carrying what the judge needs.

    ``Document.metadata``: ``url``, ``warc_record_id``, ``warc_date`` (and its
    epoch seconds ``warc_ts``), ``http_status``, ``http_headers`` (pairs, in
    order), ``content_type``, ``html_head`` (the decoded start of the payload
    the head was read from, bytes as latin-1 text), ``head_unreadable``,
    ``truncated``, ``file`` and ``offset``.  ``Document.text``: the decoded
    start of the page that judging read, or with ``text_limit`` the decoded
    payload up to that many bytes (as UTF-8).  Captures of site files, request,
    metadata and revisit records are not documents: counted.  A corrupt
    stretch or file is counted and listed (in the filter's summary record and
    the reader's stats), never fatal, as in ``noai-guard audit``.  An HTML
    record whose own noai / noimageai / noml reserves what it embeds has its
    media listed while its payload is open (past the head the document keeps),
    in ``noai_media`` (JSON, kept through storage between stages; the filter
    pops it).
    """

    name = "🛡 noai-guard WARC"

    def __init__(
        self, data_folder: Any, *, policy: Policy | None = None, text_limit: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(data_folder, **kwargs)
        self.policy = policy if policy is not None else Policy()
        # 0: Document.text is the start of the page judging read (its head); else the decoded
        # payload (content codings undone) up to this many bytes, for the steps after the filter.
        self.text_limit = text_limit
        self._engine: engine.Judge | None = None

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._rank = rank
        _TASK_INPUTS[rank] = []
        yield from super().run(data, rank, world_size)

    def read_file(self, filepath: str) -> DocumentsPipeline:
        label = self.data_folder.resolve_paths(filepath)
        stats = InputStats(label, "WARC")
        _TASK_INPUTS.setdefault(getattr(self, "_rank", 0), []).append(stats)
        with _local_copy(self.data_folder, filepath) as path:
            with contextlib.suppress(OSError):
                stats.size = os.path.getsize(path)
            try:
                yield from self._read(path, label, stats)
            except _READ_ERRORS as exc:  # not a WARC, unreadable: listed, the other files read
                logger.warning("%s: not read: %s", label, exc)
                stats.add_damage(None, f"file not read: {type(exc).__name__}: {exc}", unread=True)
                self.stat_update("damaged")

    def _embedded(self, item: WarcPage) -> engine.MediaReservation | None:
        """The media an HTML record reserves by its own noai / noimageai / noml (the engine's
        :meth:`~noai_guard.engine.Judge.embedded_media`, as ``noai-guard audit`` reads it: on
        into the open payload, past the head the document keeps)."""
        eng = self._engine
        if eng is None:
            eng = self._engine = engine.Judge(self.policy)
        page = engine.Page(
            item.url,
            item.status,
            item.headers,
            item.payload if item.payload is not None else b"",
            content_type=item.content_type,
            read=engine.PageRead(item.body, item.head, item.unreadable),
        )
        judgement = eng.after_fetch(page, None)  # the page's own signals: all a reservation reads
        if not judgement.page or judgement.head is None:
            return None
        with contextlib.suppress(OSError, ValueError, EOFError):
            return eng.embedded_media(page, judgement)
        return None

    def _read(self, path: str, label: str, stats: InputStats) -> Iterator[Document]:
        for item in iter_warc(path, policy=self.policy):
            if type(item) is WarcPage:
                head, prefix, unreadable = item.head, item.body, item.unreadable
                whole = prefix
                if self.text_limit and item.payload is not None:
                    # A payload that breaks here: finish() below reports the record as damage.
                    with contextlib.suppress(OSError, ValueError, EOFError):
                        whole = bytes(item.payload.read_until(self.text_limit))
                media = None
                if head is not None and EMBEDDING_PAGE in self.policy.sources:
                    media = self._embedded(item)
                if not item.finish():
                    continue  # its rest could not be read: the iterator reports it as damage
                stats.records += 1
                if item.truncated:
                    stats.truncated += 1
                    stats.add_damage(item.offset, "truncated record (judged on what is there)")
                meta: dict[str, Any] = {
                    "url": item.url,
                    "warc_record_id": item.record_id,
                    "warc_date": item.date,
                    "warc_ts": item.ts,
                    "http_status": item.status,
                    "http_headers": [list(kv) for kv in item.headers],
                    "content_type": item.content_type,
                    _HEAD: prefix.decode("latin-1"),
                    "head_unreadable": unreadable,
                    "truncated": item.truncated,
                    "file": label,
                    "offset": item.offset,
                    _HEAD_OBJ: head,
                }
                if media is not None and (media.urls or media.av_urls):
                    meta[_MEDIA] = {"policy": self.policy.hash, **_reservation_dict(media)}
                text = whole.decode("utf-8", "replace")
                yield Document(text=text, id=item.record_id or f"{label}#{item.offset}", metadata=meta)
            elif type(item) is Damage:
                stats.add_damage(item.offset, item.error, unread=item.unread)
                self.stat_update("damaged")
                logger.warning("%s: offset %s: %s", label, item.offset, item.error)
            elif type(item) is Capture:
                stats.captures += 1
                self.stat_update("captures")
            elif type(item) is Skipped:
                stats.skip(item.kind)
                self.stat_update("skipped")


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
                trail.write(tally.summary(run_id, self.policy, inputs, index, damaged_from, time.perf_counter() - t0))
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
            self.bad.append({"document_id": str(doc_id), "error": f"no http(s) URL to judge: {str(url)[:200]!r}"})

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
        self, url: str, origin: str, unknown: bool, trail_at: int, used: dict[str, Any], where: dict[str, Any],
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
        raise InputError(f"{path}: not a whole trail of the datatrove filter (run record first, summary last)")
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
            pol = Policy.from_dict(run["policy"]) if isinstance(run.get("policy"), dict) else policy or Policy()
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
                self.trails_folder, removals=self.removals, removals_format=self.removals_format, policy=self.policy
            )
            for k, v in got.items():
                self.stat_update(k, value=v)
            logger.info("media matched: %s", got)
        if data is not None:
            yield from data
