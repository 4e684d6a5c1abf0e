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

What differs from ``noai-guard audit``: image provenance across records
(``embedding-page``: a reserving page elsewhere flags the images it embeds)
needs every record's verdict at once and is not applied here; the run records
say so (``not_checked``).  ``Document.text`` is the decoded start of the page
that judging read (its head), not the whole body.
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
from typing import Any

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
from ..auditing import MODE, URL_ONLY_WHY, InputStats, Judge, fast_origin, page_signals_not_checked
from ..decision import EMBEDDING_PAGE, Verdict
from ..policy import Policy
from ..sitefiles import PATHS

__all__ = ["NoaiCaptureIndexer", "NoaiGuardFilter", "NoaiWarcReader", "ShardedCaptureIndex"]

logger = logging.getLogger(__name__)

INDEX_SCHEMA = "noai-guard-capture-index/1"
_MANIFEST = "index.json"
_READ_ERRORS = (OSError, ValueError, EOFError, RuntimeError, InputError)

# The metadata keys the reader sets and the filter reads.
_HEAD = "html_head"  # the decoded start of the payload, bytes as latin-1 text (lossless)
_HEAD_OBJ = "_noai_head"  # the Head the reader read, in process only (the filter pops it)

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
    the reader's stats), never fatal, as in ``noai-guard audit``.
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

    def _read(self, path: str, label: str, stats: InputStats) -> Iterator[Document]:
        for item in iter_warc(path, policy=self.policy):
            if type(item) is WarcPage:
                head, prefix, unreadable = item.head, item.body, item.unreadable
                whole = prefix
                if self.text_limit and item.payload is not None:
                    # A payload that breaks here: finish() below reports the record as damage.
                    with contextlib.suppress(OSError, ValueError, EOFError):
                        whole = bytes(item.payload.read_until(self.text_limit))
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
    aside and renamed to ``<rank:05d>.trail.jsonl`` when the task ends.
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
                        keep = self._judge(judge, doc, trail, tally, run_id)
                    if keep:
                        self.stat_update("kept")
                        yield doc
                    else:
                        self.stat_update("dropped")
                inputs = _TASK_INPUTS.pop(rank, [])
                trail.write(tally.summary(run_id, self.policy, inputs, index, damaged_from, time.perf_counter() - t0))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(local)  # a task that did not finish leaves no trail: its rerun writes it whole
            raise
        _publish(self.output_folder, local, name)

    def _judge(
        self, judge: Judge, doc: Document, trail: auditlog.JsonLinesAuditLog, tally: _Tally, run_id: str
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
        if not dec.blocked and dec.verdict is Verdict.ALLOW:
            return True
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
                    "why": "the datatrove filter judges each document alone: images are not matched "
                    "with the pages that embed them (noai-guard audit does this)",
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
