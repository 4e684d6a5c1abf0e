"""Internal: the capture index of the datatrove blocks: built by a pipeline stage, read-only and sharded while the audit runs."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import os
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import orjson
from datatrove.data import DocumentsPipeline
from datatrove.io import get_datafolder, get_shard_from_paths_file
from datatrove.pipeline.base import PipelineStep

from ...archives import (
    Capture,
    CaptureIndex,
    Damage,
    InputError,
    load_folder,
    scan_captures,
)
from ...sitefiles import PATHS
from ._common import _READ_ERRORS, _local_copy, _publish, _scratch

INDEX_SCHEMA = "noai-guard-capture-index/1"
_MANIFEST = "index.json"


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
    return (
        orjson.dumps(
            [
                cap.kind,
                cap.url,
                cap.origin,
                cap.date,
                None if math.isinf(cap.ts) else cap.ts,
                cap.record_id,
                cap.status,
                cap.body.decode("latin-1"),
                cap.file,
                cap.offset,
                cap.location,
                cap.detail,
                cap.too_many_redirects,
                cap.folder,
            ]
        )
        + b"\n"
    )


def _load(line: bytes) -> Capture:
    (kind, url, origin, date, ts, rid, status, body, file, offset, loc, detail, tmr, folder) = orjson.loads(
        line
    )
    return Capture(
        kind,
        url,
        origin,
        date,
        -math.inf if ts is None else ts,
        rid,
        status,
        body.encode("latin-1"),
        file,
        offset,
        loc,
        detail,
        tmr,
        folder,
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
                            damage.append(
                                {"file": name, "offset": None, "error": f"{type(exc).__name__}: {exc}"}
                            )
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
            tf.write(
                orjson.dumps({**counts, "rank": rank, "world_size": world_size, "damage": damage[:1000]})
            )
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
        self.built: dict[str, Any] = {
            "folder": self.folder.path,
            "files": 0,
            "captures": 0,
            "damaged": 0,
            "damage": [],
        }
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
