"""Internal: the datatrove reader of WARC files: what judging needs, in each document's metadata."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseDiskReader

from ... import engine
from ...archives import (
    Capture,
    Damage,
    Skipped,
    WarcPage,
    iter_warc,
)
from ...auditing import (
    InputStats,
)
from ...decision import EMBEDDING_PAGE
from ...policy import Policy
from ._common import _HEAD, _HEAD_OBJ, _MEDIA, _READ_ERRORS, _TASK_INPUTS, _local_copy
from .media import _reservation_dict

logger = logging.getLogger(__name__)

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
