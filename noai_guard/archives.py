"""Internal: audit inputs: detection by content, streaming readers, and the site-file capture index.

Inputs are recognised by their first bytes, not their names:

* **WARC** (``WARC/1.x``), uncompressed, gzip per record (as Common Crawl
  writes it: one gzip member per record, ISO 28500 annex D) or gzip as a whole
  file.  Read with FastWARC; only the HTTP headers and the head of an HTML
  payload are decoded (by :class:`noai_guard.content.PayloadReader`, the
  crawl's decoder), and, for a page that reserves its images, as much of
  its body as the engine reads to list them (``engine.MEDIA_SCAN_LIMIT``),
  from the payload left open while the page is judged (:class:`WarcPage`).
* **Scrapy feed exports**: JSON lines, JSON (an array; Scrapy writes one item
  per line, which is streamed; anything else is loaded whole), CSV.
* **Scrapy log files**: ``Crawled (200) <GET url>`` and
  ``Scraped from <200 url>`` lines.
* **Plain URL lists**: one URL per line, ``#`` comments allowed.

Any of the text inputs may be gzip-compressed.

Captures of ``/robots.txt``, ``/.well-known/tdmrep.json`` and ``/ai.txt``
(from WARC inputs, ``--robots-from`` WARCs or a folder) go into a
:class:`CaptureIndex`, which answers "the nearest capture of this origin's file
at or before time T".  A folder given to ``--robots-from`` is laid out as::

    ROOT/<host>[_<port>]/robots.txt
    ROOT/<host>[_<port>]/.well-known/tdmrep.json
    ROOT/<host>[_<port>]/ai.txt
    ROOT/<host>[_<port>]/robots.txt.status      (optional: the HTTP status, e.g. 404 or 503)
    ROOT/<host>[_<port>]/robots.txt.date        (optional: when it was served, ISO 8601)

A folder file applies to both ``http`` and ``https`` of that host (and port);
it is recorded with no scheme (``//host/robots.txt``, the folder and the
host).  It is undated and applies at every date, unless dated by a ``.date``
file beside it or by ``--robots-from-date``: then it applies from that date
on.  Its modification time is not used (copying a file changes it).
A ``.status`` file with no body file beside it records a failed fetch.
"""

from __future__ import annotations

import bisect
import csv
import datetime as _dt
import gzip
import io
import json
import math
import os
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlsplit

from .content import HEAD_END, PayloadReader, State
from .engine import read_page
from .evaluate import SNIFF_BYTES
from .htmlhead import Head
from .policy import Policy
from .sitefiles import KINDS, MAX_REDIRECTS, PATHS, SIZE_LIMIT, Kind, SiteFile, from_fetch, origin_of

InputKind = Literal["warc", "jsonl", "json", "csv", "scrapy-log", "url-list", "trail"]
INPUT_KINDS: tuple[InputKind, ...] = ("warc", "jsonl", "json", "csv", "scrapy-log", "url-list", "trail")

_GZIP_MAGIC = b"\x1f\x8b"
_WARC_MAGIC = b"WARC/"
_SNIFF = 64 * 1024
_LOG_LINE_RE = re.compile(rb"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\s+\[[^\]]+\]\s+[A-Z]+:")
_PATH_KIND: dict[str, Kind] = {p: k for k, p in PATHS.items()}
_SITE_SUFFIXES = tuple(PATHS.values())


class InputError(Exception):
    """An input that cannot be read or recognised (the command exits 2)."""


# --- detection ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputInfo:
    """What an input is: its kind, compression and size on disk.

    ``kind`` ``warc`` is any web archive: a WARC, or (``container`` ``arc``)
    an ARC file, the Internet Archive's older format, read with warcio.
    ``gzip`` ``lz4``: an LZ4-compressed WARC (read with FastWARC's LZ4 reader).
    ``trail``: a noai-guard audit trail (not judged: a crawl's run record
    gives the audit its policy).
    """

    path: str
    kind: InputKind
    gzip: Literal["per-record", "whole-file", "text", "lz4"] | None
    size: int
    container: Literal["warc", "arc"] = "warc"

    @property
    def label(self) -> str:
        if self.kind == "warc":
            name = "ARC" if self.container == "arc" else "WARC"
            if self.gzip == "lz4":
                return f"{name} (LZ4)"
            return f"{name} (gzip {self.gzip})" if self.gzip else name
        if self.kind == "trail":
            return "noai-guard trail"
        return self.kind.upper() if self.kind in ("json", "csv") else self.kind


def _gunzip_prefix(head: bytes) -> tuple[bytes, bool]:
    """Decompress what ``head`` holds of the first gzip member; True if more members follow."""
    d = zlib.decompressobj(31)
    try:
        out = d.decompress(head, _SNIFF)
    except zlib.error as exc:
        raise InputError(f"corrupt gzip data at the start: {exc}") from exc
    return out, d.eof and d.unused_data.startswith(_GZIP_MAGIC)


def sniff_text(prefix: bytes) -> InputKind | None:
    """The kind of a text input from its first bytes, or None."""
    text = prefix.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return None
    if text.startswith(_WARC_MAGIC):
        return "warc"
    if b"\x00" in text:
        return None  # binary
    try:
        text[: len(text) - 4].decode("utf-8")  # a multi-byte character may be cut at the end
    except UnicodeDecodeError:
        return None
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "jsonl"
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if any(_LOG_LINE_RE.match(ln) for ln in lines[:20]):
        return "scrapy-log"
    first = next((ln.strip() for ln in lines if not ln.lstrip().startswith(b"#")), b"")
    if re.match(rb"^https?://\S+$", first, re.IGNORECASE):
        return "url-list"
    if b"," in first or b";" in first or b"\t" in first or re.match(rb"^[\w\"' -]+$", first):
        return "csv"
    return None


def detect(path: str | os.PathLike[str]) -> InputInfo:
    """Recognise an input by content (raises :class:`InputError`, naming what was found)."""
    p = str(path)
    try:
        size = os.path.getsize(p)
        with open(p, "rb") as fh:
            head = fh.read(4 * 1024 * 1024)
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    if not head:
        raise InputError(f"{p}: empty file")
    gz: Literal["per-record", "whole-file", "text", "lz4"] | None = None
    prefix = head[:_SNIFF]
    if head.startswith(_LZ4_MAGIC):
        prefix = _lz4_prefix(p)
        if sniff_container(prefix) is None:
            found = "LZ4-compressed " + (_name_format(prefix) or "data that is not a WARC")
            raise InputError(
                f"{p}: {found}: only WARCs are read from LZ4; decompress it (lz4 -d FILE) and audit the result"
            )
        return InputInfo(p, "warc", "lz4", size, sniff_container(prefix) or "warc")
    if head.startswith(_GZIP_MAGIC):
        prefix, multi = _gunzip_prefix(head)
        container = sniff_container(prefix)
        if container is not None:
            return InputInfo(p, "warc", "per-record" if multi else "whole-file", size, container)
        kind = sniff_text(prefix)
        gz = "text"
    else:
        container = sniff_container(prefix)
        if container is not None:
            return InputInfo(p, "warc", None, size, container)
        kind = sniff_text(prefix)
    if kind is None:
        named = _name_format(prefix)
        if gz == "text":
            named = f"gzip-compressed {named or 'data'}"
        raise InputError(
            f"{p}: not a recognised input"
            + (f": {named}; inputs are" if named else " (expected")
            + " WARC, ARC, JSON lines, JSON, CSV, Scrapy log or URL list"
            + ("" if named else ")")
        )
    if kind == "csv" and prefix.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"CDX "):
        raise InputError(
            f"{p}: a CDX index: it lists captures but holds no headers or pages; audit the WARC or ARC "
            "files it indexes"
        )
    if kind == "jsonl" and _is_trail(prefix):
        kind = "trail"
    return InputInfo(p, kind, gz, size)


# --- what a file is, when it is not an input ------------------------------------------------------

_LZ4_MAGIC = b"\x04\x22\x4d\x18"  # LZ4 frame format
# Magic numbers of formats an audit input may be mistaken for: what the error names, and what to do.
_FORMATS: tuple[tuple[bytes, int, str], ...] = (
    (b"\x28\xb5\x2f\xfd", 0, "zstd-compressed data: decompress it (zstd -d FILE) and audit the result"),
    (b"BZh", 0, "bzip2-compressed data: decompress it (bunzip2 FILE) and audit the result"),
    (b"\xfd7zXZ\x00", 0, "xz-compressed data: decompress it (unxz FILE) and audit the result"),
    (b"PK\x03\x04", 0, "a zip archive: unpack it and audit the folder"),
    (b"PK\x05\x06", 0, "an empty zip archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive: unpack it and audit the folder"),
    (b"Rar!\x1a\x07", 0, "a RAR archive: unpack it and audit the folder"),
    (b"ustar", 257, "a tar archive: unpack it (tar xf FILE) and audit the folder"),
    (b"%PDF-", 0, "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF8", 0, "a GIF image"),
    (b"SQLite format 3\x00", 0, "an SQLite database"),
    (b"PAR1", 0, "a Parquet file: export its URL column as CSV or JSON lines"),
    (b"\x1f\x8b", 0, "gzip-compressed data"),
)


def _name_format(prefix: bytes) -> str | None:
    """What ``prefix`` starts, by its magic number, and what to do with it (None: not known)."""
    if len(prefix) >= 4 and prefix[1:4] == b"\x2a\x4d\x18" and 0x50 <= prefix[0] <= 0x5F:
        # A zstd skippable frame: how .warc.zst files carry their dictionary.
        return "zstd-compressed data with a dictionary frame (.warc.zst): decompress it and audit the result"
    for magic, at, what in _FORMATS:
        if prefix[at : at + len(magic)] == magic:
            return what
    raw = prefix.lstrip(b"\r\n")
    if raw.startswith(b"filedesc://"):
        version = _arc_version(raw).decode("ascii", "replace") or "unknown"
        return f"an ARC file of version {version}: only ARC v1 is read; convert it to WARC and audit that"
    text = prefix.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "an HTML page: audit the WARC it was saved in, or list its URL in a URL list"
    if text.startswith(b"<?xml"):
        return "an XML document"
    return None


def sniff_container(prefix: bytes) -> Literal["warc", "arc"] | None:
    """``warc`` or ``arc`` when ``prefix`` (decompressed) starts a web archive."""
    text = prefix.lstrip(b"\r\n")
    if text.startswith(_WARC_MAGIC):
        return "warc"
    # ARC (v1, the Internet Archive's format before WARC): the file starts with a filedesc://
    # record whose second line gives the version ("1 0 ..."); v2's record lines hold more fields,
    # which the reader would take for the v1 ones (a wrong URL): not read (see _name_format).
    if text.startswith(b"filedesc://") and _arc_version(text) == b"1":
        return "arc"
    return None


def _arc_version(text: bytes) -> bytes:
    """The major version of the ARC file ``text`` starts (b"" if its version line is missing)."""
    lines = text.split(b"\n", 2)
    return lines[1].split(b" ", 1)[0].strip() if len(lines) > 1 else b""


def _lz4_prefix(path: str) -> bytes:
    """The first decompressed bytes of an LZ4 file (FastWARC's reader); :class:`InputError` if none decompress."""
    data = b""
    try:
        with open(path, "rb") as fh:
            reader = _lz4_reader(fh)
            while len(data) < _SNIFF:  # in small reads: a cut file fails the read that runs past its end
                chunk: bytes = reader.read(4096)
                if not chunk:
                    break
                data += chunk
    except (OSError, ValueError) as exc:
        if not data:
            raise InputError(
                f"{path}: LZ4-compressed data that does not decompress (cut or corrupt: {exc})"
            ) from exc
    return data


def _lz4_reader(fh: IO[bytes]) -> Any:
    """FastWARC's LZ4 reader over ``fh`` (FastWARC 2.0 and later; else :class:`InputError`)."""
    try:
        from fastwarc.stream_io import Lz4Reader
    except ImportError:
        raise InputError(
            f"{getattr(fh, 'name', '')}: an LZ4-compressed file: reading LZ4 needs FastWARC 2.0 or later "
            "(pip install -U fastwarc), or decompress it (lz4 -d FILE)"
        ) from None
    return Lz4Reader(fh)


def _is_trail(prefix: bytes) -> bool:
    """A noai-guard audit trail: its first line is a record of our schema."""
    first = prefix.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        rec = json.loads(first)
    except ValueError:
        return False
    return isinstance(rec, dict) and str(rec.get("schema", "")).startswith("noai-guard-audit/")


# --- payload decoding: noai_guard.content.PayloadReader (the crawl's decoder) ---------------------


def _parse_warc_date(value: str | None) -> float:
    global _LAST_DATE
    if not value:
        return 0.0
    last = _LAST_DATE
    if value == last[0]:  # consecutive records share their second, mostly
        return last[1]
    v = value.strip().replace("Z", "+00:00")
    try:
        dt = _dt.datetime.fromisoformat(v)
    except ValueError:
        return 0.0
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    ts = dt.timestamp()
    _LAST_DATE = (value, ts)
    return ts


_LAST_DATE: tuple[str, float] = ("", 0.0)  # the last WARC-Date parsed, and its time


# --- WARC records ----------------------------------------------------------------------------


def site_file_kind(url: str) -> Kind | None:
    """``robots`` / ``tdmrep`` / ``ai-txt`` when ``url`` is an origin's site file (no query)."""
    if not url.endswith(_SITE_SUFFIXES):
        return None
    parts = urlsplit(url)
    if parts.query:
        return None
    return _PATH_KIND.get(parts.path)


def _is_rsl_licence(url: str, ctype: str | None) -> bool:
    """A capture of an RSL 1.0 licence: served as ``application/rsl+xml``, or at a ``.rsl`` /
    ``license.xml`` path (the spec's file names), with no query."""
    if ctype is not None and ctype.split(";", 1)[0].strip().lower() == "application/rsl+xml":
        return True
    path, _, query = url.partition("?")
    return not query and path.lower().endswith((".rsl", "/license.xml"))


@dataclass(slots=True)
class Capture:
    """One captured fetch of a site file (robots.txt, tdmrep.json, ai.txt)."""

    kind: Kind
    url: str  # for a folder capture, scheme-relative: //host[:port]/robots.txt (the folder gives no scheme)
    origin: str  # scheme://host[:port], or *://host[:port] for a folder capture
    date: str  # WARC-Date, the fetch time, or a folder file's given date; "" for an undated folder file
    ts: float  # epoch seconds used for "nearest before"; -inf: applies at any time
    record_id: str | None
    status: int | None
    body: bytes = b""
    file: str = ""
    offset: int | None = None
    location: str | None = None  # redirect target for a 3xx capture
    detail: str = ""
    too_many_redirects: bool = False  # RFC 9309 §2.3.1.2: more than five (--fetch)
    folder: str | None = None  # the --robots-from folder it was read from

    def describe(self) -> dict[str, Any]:
        """The capture as a trail names it; a folder file is named by folder and host, with no scheme."""
        if self.folder is not None:
            host = self.origin.split("://", 1)[1]
            out: dict[str, Any] = {
                "url": None,
                "folder": self.folder,
                "host": host,
                "date": self.date or None,
                "record_id": None,
                "status": self.status,
                "file": self.file,
                "offset": None,
            }
            out["applies"] = (
                f"from {self.date} on (its given date), to http and https of {host}"
                if self.date
                else f"at every date (a folder file is undated), to http and https of {host}"
            )
            return out
        return {
            "url": self.url,
            "date": self.date,
            "record_id": self.record_id,
            "status": self.status,
            "file": self.file,
            "offset": self.offset,
        }


@dataclass(slots=True)
class WarcPage:
    """A WARC response record to judge: its HTTP headers and the decoded start of its payload.

    ``payload`` is the record's live payload reader, positioned after what
    :func:`~noai_guard.engine.read_page` read (the engine reads on from it to
    list a reserving page's images).  It is valid until the iterator advances
    or :meth:`finish` is called; ``truncated`` is final only after :meth:`finish`.
    """

    url: str
    record_id: str
    date: str
    ts: float
    offset: int
    status: int | None
    headers: tuple[tuple[str, str], ...]
    content_type: str | None
    body: bytes  # the decoded start of the payload (HTML only), enough for ``head``
    head: Head | None  # the HTML head's metas, read as the middleware reads them
    truncated: bool  # shorter than its Content-Length, or WARC-Truncated set (final after finish())
    unreadable: str | None = None  # why the head could not be read (undecodable, cut), as in the crawl
    payload: PayloadReader | None = None  # live until the iterator advances (see finish)
    error: BaseException | None = None  # the rest of the record could not be read (set by finish)
    block_length: int = 0  # the WARC Content-Length
    block_read: int = 0  # bytes of the block the file holds (set by finish)
    payload_read: int = 0  # bytes of the payload (after the HTTP headers) the file holds (set by finish)
    _rec: Any = None  # the open FastWARC record, until finish
    _live: _LiveReader | None = None

    def finish(self) -> bool:
        """Read past the rest of the record, closing ``payload``; False when it could not be read.

        The iterator calls it when it advances; a consumer that needs
        ``truncated`` before then calls it itself.  A record whose rest cannot
        be read is reported by the iterator as damage and must not be judged.
        """
        rec, self._rec = self._rec, None
        if rec is None:
            return self.error is None
        self.payload = None
        live, self._live = self._live, None
        if live is not None and live.error is not None:
            self.error = live.error  # the payload broke while the engine read on
            return False
        try:
            got = rec.reader.tell() + rec.reader.consume()
        except (OSError, ValueError, EOFError) as exc:
            self.error = exc
            return False
        expected = rec.content_length  # of the payload, after the HTTP headers
        self.block_read = self.block_length - expected + got
        self.payload_read = got
        if got < expected:
            self.truncated = True
        return True


class _LiveReader:
    """A record's payload stream as :class:`PayloadReader` reads it.

    While the head is read (``raising``) a read error propagates, as it always
    did: the record is damage, not judged.  Once the page is handed out, an
    error is kept for :meth:`WarcPage.finish` and reads as the end of the
    payload.  A payload that ends before the record's length (the file is
    cut) marks ``owner`` cut: its end is not the page's end (as the crawl's
    ``dataloss``).
    """

    __slots__ = ("error", "expected", "owner", "raising", "raw")

    def __init__(self, raw: Any, expected: int) -> None:
        self.raw = raw
        self.expected = expected
        self.error: BaseException | None = None
        self.raising = True
        self.owner: PayloadReader | None = None

    def read(self, n: int) -> bytes:
        if self.error is not None:
            return b""
        try:
            # No more than the payload holds: FastWARC zero-fills a buffer of the size asked
            # for, whatever it returns (a reserving page is read on with an 8 MB budget).
            left = self.expected - self.raw.tell()
            if 0 < left < n:
                n = left
            data: bytes = self.raw.read(n)
        except (OSError, ValueError, EOFError) as exc:
            if self.raising:
                raise
            self.error = exc
            return b""
        if not data and self.owner is not None and self.raw.tell() < self.expected:
            self.owner.cut = True
        return data


@dataclass(slots=True)
class Skipped:
    """A record that is not judged: ``revisit``, ``request``, ``metadata``, ``warcinfo``..."""

    kind: str
    offset: int


@dataclass(slots=True)
class Damage:
    """A corrupt or truncated stretch of an input, with the offset where it starts."""

    offset: int | None
    error: str
    line: int | None = None
    unread: bool = True  # records in it may not have been judged (False: read, but nothing to judge)


WarcItem = WarcPage | Capture | Skipped | Damage

_DEFAULT_POLICY = Policy()
_HEAD_END = HEAD_END  # noai_guard.content.HEAD_END


def iter_warc(
    path: str,
    *,
    policy: Policy | None = None,
    want_head: bool = True,
) -> Iterator[WarcItem]:
    """Stream a WARC file: pages, captures, skipped records and damage reports.

    Nothing that could not be read is passed over in silence: every stretch
    that was not read is reported once as :class:`Damage`, with the file
    offset where it starts and where reading resumed.  Reading resumes at the
    next gzip member header that holds a record (per-record gzip, ISO 28500
    annex D) or the next ``WARC/1.0`` / ``WARC/1.1`` line followed by a field
    (uncompressed, §5.2; damaged bytes before it need not end in a line
    break), after corrupt bytes, after a record whose ``Content-Length`` runs
    past the following records, and after bytes FastWARC stopped at.  A
    record ending short at the end of the file (the file is cut) is judged on
    what is there and reported too.  Resynchronising reads at most about four
    times the file, whatever the damage (then the rest is reported unread).
    A whole-file gzip cannot be resynchronised: a corrupt or cut stream, or a
    record running past its end, is reported and the rest of it is lost;
    its offsets are uncompressed offsets.
    """
    pol = policy if policy is not None else Policy()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        lz4, container = _archive_format(fh)
        if lz4:
            fh.seek(0)
            yield from _iter_whole(fh, path, pol, want_head, _Lz4Stream(fh), "an LZ4 file")
            return
        if container == "arc":
            yield from _iter_arc(fh, path, pol, want_head)
            return
        layout = _layout(fh, size)
        if layout == "whole-file":
            yield from _iter_whole(fh, path, pol, want_head)
            return
        from fastwarc.warc import ArchiveIterator

        per_record = layout == "per-record"
        pos = 0
        lost: tuple[int, str] | None = None  # an unread stretch (start, why), reported when it ends
        budget = 4 * size + _RESYNC_SLACK  # bytes FastWARC may read in all: linear, whatever the damage
        while True:
            fh.seek(pos)
            last: int | None = None  # offset of the last record of this run
            short: tuple[int, int] | None = None  # its (Content-Length, bytes present) if it ended short
            error: BaseException | None = None
            bad_record = False
            try:
                for rec in ArchiveIterator(fh, parse_http=False):
                    last = rec.stream_pos
                    declared = rec.content_length  # the WARC Content-Length (parse_http lowers it)
                    try:
                        item = _warc_item(rec, path, pol, want_head)
                        if type(item) is not WarcPage:
                            got = declared - rec.content_length + rec.reader.tell() + rec.reader.consume()
                    except (OSError, ValueError, EOFError) as exc:
                        error, bad_record = exc, True  # its HTTP headers or payload coding are damaged
                        break
                    if lost is not None:
                        yield Damage(lost[0], f"{lost[1]}; reading resumed at offset {last}")
                        lost = None
                    yield item  # a page's payload stays open while the consumer judges it
                    if type(item) is WarcPage:
                        if not item.finish():
                            error, bad_record = item.error, True  # its payload broke after the head
                            break
                        got = item.block_read
                    short = (declared, got) if got < declared else None
            except (OSError, ValueError, EOFError, RuntimeError) as exc:
                error = exc  # reading the record after ``last`` failed
            budget -= max(fh.tell() - pos, 1 << 16)
            why, start, search = _where_damaged(fh, size, per_record, pos, last, short, error, bad_record)
            if why is None:
                return
            if lost is None:
                lost = (start, why)
            # else: a false start after a resynchronisation, part of the stretch already open
            if budget < 0:  # records claiming lengths past each other, over and over: give up, said so
                yield Damage(
                    lost[0], f"{lost[1]}; too much damage to read on (the rest of the file not read)"
                )
                return
            nxt = _next_start(fh, per_record, max(search, pos + 1))
            if nxt is None:
                yield Damage(
                    lost[0], f"{lost[1]}; nothing readable after it (the file ends at offset {size})"
                )
                return
            pos = nxt


def _where_damaged(
    fh: IO[bytes],
    size: int,
    per_record: bool,
    pos: int,
    last: int | None,
    short: tuple[int, int] | None,
    error: BaseException | None,
    bad_record: bool,
) -> tuple[str | None, int, int]:
    """Why a FastWARC run from ``pos`` stopped: (the damage, or None at a clean end; its start; where to search on).

    ``last`` is the offset of the run's last record, ``short`` its Content-Length and the
    bytes the file holds of it when fewer, ``error`` what stopped the run.
    """
    what = "" if error is None else f"{type(error).__name__}: {error}"
    if last is None:
        if not _has_data(fh, pos, size):  # padding (NULs, line breaks) at the end is no damage
            return None, pos, pos
        return (what or "no WARC record where one should start"), pos, pos + 1
    end = _member_end(fh, last) if per_record else _block_end(fh, last)
    if end is not None and end > size:
        end = None  # a length past the end of the file
    if bad_record:
        return f"the record at offset {last} could not be read ({what})", last, end or last + 1
    if short is not None:
        declared, got = short
        if end is None and per_record:
            why = (
                f"the file ends inside the gzip member of the record at offset {last} "
                f"(the file is cut; {got} of its {declared} bytes judged)"
            )
            return why, last, size
        why = (
            f"the record at offset {last} declares Content-Length {declared} but the file holds {got} "
            "bytes of it (a wrong length swallowing the records after it, or a cut file; judged on "
            "what is there)"
        )
        # Search on after its own gzip member, or after its WARC header (its length is not to be trusted).
        search = end if per_record and end is not None else _header_end(fh, last)
        return why, last, search or last + 1
    if end is None:
        if per_record:  # the last record's own member does not end cleanly
            why = f"the gzip member of the record at offset {last} is corrupt or cut ({what or 'no end'})"
            return why, last, last + 1
        return (what or f"the record at offset {last} has no readable Content-Length"), last, last + 1
    if not _has_data(fh, end, size):
        return None, end, end
    return (what or "data that is not a WARC record"), end, end


# Resynchronisation points.  RFC 1952 §2.3.1: ID1 ID2, CM 8 (deflate), FLG with its reserved bits 0.
_GZIP_MEMBER = re.compile(rb"\x1f\x8b\x08[\x00-\x1f]")
# ISO 28500 §5.2: a record starts with its version line, then a named field.  Wherever it is
# found (damaged bytes before it need not end with a line break); FastWARC then checks the rest.
_WARC_LINE = re.compile(rb"WARC/1\.[01]\r?\n[A-Za-z0-9_-]{1,200}[ \t]*:")
_LAYOUT_PROBE = 4 * 1024 * 1024  # compressed bytes of the first member looked at to tell the layout
_MAX_HEADER = 64 * 1024  # a WARC header longer than this is not parsed when resynchronising
_RESYNC_SLACK = 64 * 1024 * 1024
_PADDING = b"\x00\r\n \t"

WarcLayout = Literal["plain", "per-record", "whole-file"]


def _layout(fh: IO[bytes], size: int) -> WarcLayout:
    """Uncompressed, gzip per record (resynchronisable) or one gzip stream for the whole file.

    Per record (ISO 28500 annex D): the first member holds exactly one record
    and more follows it.  Otherwise the file is read as one stream of members
    (a whole-file gzip, or whole-file gzips concatenated).
    """
    fh.seek(0)
    if fh.read(2) != _GZIP_MAGIC:
        return "plain"
    end, head, total = _scan_member(fh, 0, _LAYOUT_PROBE, keep=64 * 1024)
    if end == "corrupt":
        return "per-record"  # damaged from the start: look for the next member
    if not isinstance(end, int) or not _has_data(fh, end, size):
        return "whole-file"  # one member (longer than the probe, cut, or the whole file)
    hdr = _parse_header(head)
    if hdr is not None and hdr[1] is not None and total - (hdr[0] + hdr[1]) in (0, 2, 4):
        return "per-record"
    return "whole-file"


def _scan_member(
    fh: IO[bytes], start: int, limit: int | None = None, keep: int = 0
) -> tuple[int | Literal["corrupt", "cut", "long"], bytes, int]:
    """Decompress the gzip member at ``start`` (output discarded, bounded memory).

    Returns where it ends (or why it does not), its first ``keep`` decompressed
    bytes and its decompressed size.
    """
    fh.seek(start)
    d = zlib.decompressobj(31)
    pos = start
    head = b""
    total = 0
    try:
        while not d.eof:
            if limit is not None and pos - start >= limit:
                return "long", head, total
            data = fh.read(1 << 16)
            if not data:
                return "cut", head, total
            pos += len(data)
            while data and not d.eof:
                out = d.decompress(data, 1 << 20)
                total += len(out)
                if len(head) < keep:
                    head += out[: keep - len(head)]
                data = d.unconsumed_tail
    except zlib.error:
        return "corrupt", head, total
    return pos - len(d.unused_data), head, total


def _member_end(fh: IO[bytes], start: int) -> int | None:
    """Where the gzip member starting at ``start`` ends (None if it does not end cleanly)."""
    end = _scan_member(fh, start)[0]
    return end if isinstance(end, int) else None


def _parse_header(data: bytes) -> tuple[int, int | None] | None:
    """(length of the WARC header block with its blank line, Content-Length) of a record at ``data[0]``."""
    m = re.search(rb"\r?\n\r?\n", data)
    if m is None or not data.startswith(b"WARC/1."):
        return None
    cl = re.search(rb"(?im)^content-length[ \t]*:[ \t]*(\d{1,18})[ \t]*\r?$", data[: m.start()])
    return m.end(), int(cl.group(1)) if cl else None


def _header_end(fh: IO[bytes], start: int) -> int | None:
    """Where the WARC header of the uncompressed record at ``start`` ends."""
    fh.seek(start)
    hdr = _parse_header(fh.read(_MAX_HEADER))
    return None if hdr is None else start + hdr[0]


def _block_end(fh: IO[bytes], start: int) -> int | None:
    """Where the uncompressed record at ``start`` ends (its block and the CRLF CRLF after it), by its header."""
    fh.seek(start)
    hdr = _parse_header(fh.read(_MAX_HEADER))
    if hdr is None or hdr[1] is None:
        return None
    end = start + hdr[0] + hdr[1]
    fh.seek(end)
    tail = fh.read(4)
    return end + len(tail) - len(tail.lstrip(b"\r\n"))


def _has_data(fh: IO[bytes], start: int, size: int) -> bool:
    """True when anything but padding (NUL, whitespace) lies at or after ``start``."""
    if start >= size:
        return False
    fh.seek(start)
    step = 4096  # data is usually right there: read little first
    while block := fh.read(step):
        if block.strip(_PADDING):
            return True
        step = 1 << 20
    return False


def _next_start(fh: IO[bytes], per_record: bool, start: int) -> int | None:
    """The next place at or after ``start`` where a record may start.

    Per record: a gzip member header whose data decompresses to a ``WARC/1.``
    line (so stray ``1f 8b 08`` bytes are passed over); uncompressed: a
    ``WARC/1.x`` line followed by a named field.
    """
    if per_record:
        return _search(fh, _GZIP_MEMBER, start, _gzip_record_at)
    return _search(fh, _WARC_LINE, start)


def _gzip_record_at(fh: IO[bytes], at: int) -> bool:
    """Does a gzip member holding a WARC record start at ``at``?"""
    fh.seek(at)
    try:
        out = zlib.decompressobj(31).decompress(fh.read(8192), 8)
    except zlib.error:
        return False
    return out.startswith(b"WARC/1.") or (len(out) < 7 and b"WARC/1.".startswith(out))


def _search(
    fh: IO[bytes],
    pattern: re.Pattern[bytes],
    start: int,
    accept: Callable[[IO[bytes], int], bool] | None = None,
) -> int | None:
    """Offset of the first match of ``pattern`` at or after ``start`` that ``accept`` takes (1 MiB blocks)."""
    at = start
    while True:
        fh.seek(at)
        block = fh.read(1 << 20)
        i = 0
        while (m := pattern.search(block, i)) is not None:
            if accept is None or accept(fh, at + m.start()):
                return at + m.start()
            i = m.start() + 1
        if len(block) < 1 << 20:
            return None  # the end of the file
        at += len(block) - 256  # overlap: a match across the boundary (matches are shorter)


def _find(fh: IO[bytes], needle: bytes | None, start: int) -> int | None:
    """Offset of the next ``needle`` at or after ``start`` (for sampling a file's records)."""
    if needle is None:
        return None
    fh.seek(start)
    base = start
    tail = b""
    while True:
        block = fh.read(1 << 20)
        if not block:
            return None
        data = tail + block
        i = data.find(needle)
        if i >= 0:
            return base - len(tail) + i
        tail = data[-(len(needle) - 1) :]
        base += len(block)


class _Gunzip(io.RawIOBase):
    """The decompressed stream of a whole-file gzip WARC, for FastWARC.

    Concatenated members are read on (RFC 1952 §2.2) and padding after the
    last is ignored.  Corrupt data, a stream cut before its end or bytes that
    are not gzip after it end the stream cleanly and are kept in ``error``,
    with ``out`` the decompressed bytes read by then.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.d = zlib.decompressobj(31)
        self.buf = b""
        self.out = 0
        self.error: str | None = None
        self.done = False

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.out

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Only "where am I" (FastWARC asks): the stream does not go back."""
        target = offset if whence == io.SEEK_SET else self.out + offset if whence == io.SEEK_CUR else -1
        if target != self.out:
            raise io.UnsupportedOperation("seek")
        return self.out

    def readinto(self, b: Any) -> int:
        data = self._read(len(b))
        b[: len(data)] = data
        return len(data)

    def _read(self, n: int) -> bytes:
        while not self.done:
            if len(self.buf) < 4:
                more = self.fh.read(1 << 16)
                if not more and not self.buf:
                    if not self.d.eof:
                        self.error = "the gzip stream is cut (it ends before its end-of-stream marker)"
                    self.done = True
                    break
                self.buf += more
                if more:
                    continue
            if self.d.eof:  # a member ended: another member, padding, or damage follows
                if self.buf.startswith(_GZIP_MAGIC):
                    self.d = zlib.decompressobj(31)
                elif not self.buf.strip(_PADDING):
                    self.buf = b""
                    continue
                else:
                    self.error = "bytes that are not gzip after the end of the gzip stream"
                    self.done = True
                    break
            try:
                out = self.d.decompress(self.buf, n)
            except zlib.error as exc:
                self.error = f"corrupt gzip data ({exc})"
                self.done = True
                break
            self.buf = self.d.unused_data if self.d.eof else self.d.unconsumed_tail
            if out:
                self.out += len(out)
                return out
        return b""


class _Lz4Stream(_Gunzip):
    """The decompressed stream of an LZ4 WARC (FastWARC's LZ4 reader), as :class:`_Gunzip` gives gzip.

    A corrupt or cut stream ends it cleanly, kept in ``error``.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        super().__init__(fh)
        self.lz4 = _lz4_reader(fh)

    def _read(self, n: int) -> bytes:
        if self.done:
            return b""
        try:
            out: bytes = self.lz4.read(n)
        except (OSError, ValueError) as exc:
            self.error = f"the LZ4 stream is corrupt or cut ({exc})"
            out = b""
        if not out:
            self.done = True
        self.out += len(out)
        return out


def _archive_format(fh: IO[bytes]) -> tuple[bool, Literal["warc", "arc"]]:
    """(LZ4-compressed?, ``warc`` or ``arc``) from the file's first bytes."""
    fh.seek(0)
    head = fh.read(_SNIFF)
    fh.seek(0)
    if head.startswith(_LZ4_MAGIC):
        return True, "warc"
    if head.startswith(_GZIP_MAGIC):
        try:
            head = _gunzip_prefix(head)[0]
        except InputError:
            return False, "warc"
    return False, sniff_container(head) or "warc"


def _iter_whole(
    fh: IO[bytes],
    path: str,
    pol: Policy,
    want_head: bool,
    stream: _Gunzip | None = None,
    what: str = "a whole-file gzip",
) -> Iterator[WarcItem]:
    """A whole-file gzip (or LZ4) WARC: offsets are uncompressed, damage ends the reading (no resynchronisation)."""
    from fastwarc.warc import ArchiveIterator

    if stream is None:
        fh.seek(0)
        stream = _Gunzip(fh)
    last: int | None = None
    short: tuple[int, int] | None = None
    it = iter(ArchiveIterator(stream, parse_http=False))
    lost = f"; records after it, if any, were not read ({what} cannot be resynchronised)"
    while True:
        try:
            rec = next(it)
        except StopIteration:
            break
        except (OSError, ValueError, EOFError, RuntimeError) as exc:
            where = "at the start" if last is None else f"after the record at uncompressed offset {last}"
            yield Damage(None, f"{type(exc).__name__}: {exc} {where}{lost}")
            return
        last = rec.stream_pos
        declared = rec.content_length
        try:
            item = _warc_item(rec, path, pol, want_head)
            if type(item) is not WarcPage:
                got = declared - rec.content_length + rec.reader.tell() + rec.reader.consume()
        except (OSError, ValueError, EOFError) as exc:
            yield Damage(None, f"the record at uncompressed offset {last} could not be read ({exc}){lost}")
            return
        yield item  # a page's payload stays open while the consumer judges it
        if type(item) is WarcPage:
            if not item.finish():
                yield Damage(
                    None, f"the record at uncompressed offset {last} could not be read ({item.error}){lost}"
                )
                return
            got = item.block_read
        short = (declared, got) if got < declared else None
    if stream.error is not None:
        yield Damage(None, f"{stream.error} at uncompressed byte {stream.out}{lost}")
    elif short is not None:
        yield Damage(
            None,
            f"the record at uncompressed offset {last} declares Content-Length {short[0]} but the stream "
            f"holds {short[1]} bytes of it (a wrong length, or a cut file; judged on what is there){lost}",
        )


# --- ARC files (read with warcio, handed to _warc_item as FastWARC records) -------------------------


class _ArcPayload:
    """An ARC record's payload stream (warcio's), with the ``tell`` / ``consume`` of FastWARC's reader."""

    __slots__ = ("pos", "raw")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        data: bytes = self.raw.read(None if n < 0 else n)
        self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos

    def consume(self) -> int:
        n = 0
        while chunk := self.raw.read(1 << 16):
            n += len(chunk)
        self.pos += n
        return n


class _Headers:
    __slots__ = ("pairs", "status_code")

    def __init__(self, pairs: list[tuple[str, str]], status: int | None = None) -> None:
        self.pairs = pairs
        self.status_code = status

    def to_tuples(self) -> list[tuple[str, str]]:
        return self.pairs


class _ArcRecord:
    """A warcio ARC record (read with ``arc2warc``) as :func:`_warc_item` reads a FastWARC record.

    ARC records have no record id: ``WARC-Record-ID`` is ``<urn:noai-guard:arc:FILE:OFFSET>``,
    stable from run to run (warcio's is random), naming the file and the record's offset.
    """

    def __init__(self, rec: Any, offset: int, path: str, response_type: Any, other_type: Any) -> None:
        pairs = [(k, v) for k, v in rec.rec_headers.headers if k.lower() != "warc-record-id"]
        pairs.append(("WARC-Record-ID", f"<urn:noai-guard:arc:{os.path.basename(path)}:{offset}>"))
        self.headers = _Headers(pairs)
        self.stream_pos = offset
        self.record_type = response_type if rec.rec_type == "response" else other_type
        self._type_name = rec.rec_type
        http = rec.http_headers
        url = rec.rec_headers.get_header("WARC-Target-URI") or ""
        self.is_http = http is not None and url.lower().startswith(("http:", "https:"))
        self._block = max(int(rec.length or 0), 0)
        self._payload = rec.payload_length if rec.payload_length >= 0 else self._block
        self.content_length = self._block
        status: int | None
        try:
            status = int(http.get_statuscode()) if http is not None else None
        except (TypeError, ValueError):
            status = None
        self.http_headers = _Headers(list(http.headers) if http is not None else [], status)
        self.reader = _ArcPayload(rec.raw_stream)

    def parse_http(self) -> None:
        self.content_length = self._payload  # as FastWARC: the payload's length after the HTTP headers


def _iter_arc(fh: IO[bytes], path: str, pol: Policy, want_head: bool) -> Iterator[WarcItem]:
    """An ARC file (v1; plain or gzip per record), read with warcio's ``ArchiveIterator(arc2warc=True)``.

    Each record is judged as a WARC response record.  Damage ends the reading
    (warcio does not resynchronise): reported, with the offset where it starts.
    """
    from fastwarc.warc import WarcRecordType
    from warcio.archiveiterator import ArchiveIterator as WarcioIterator
    from warcio.exceptions import ArchiveLoadFailed

    fh.seek(0)
    it = WarcioIterator(fh, arc2warc=True)
    records = iter(it)
    last: int | None = None
    lost = "; the rest of the file was not read (an ARC file is not resynchronised)"
    while True:
        try:
            rec = next(records)
            offset = int(it.offset)  # the record's start (get_record_offset would read it to its end)
        except StopIteration:
            return
        except (ArchiveLoadFailed, OSError, ValueError, EOFError, zlib.error) as exc:
            where = "at the start" if last is None else f"after the record at offset {last}"
            yield Damage(last, f"{type(exc).__name__}: {exc} {where}{lost}")
            return
        last = offset
        arc = _ArcRecord(rec, offset, path, WarcRecordType.response, WarcRecordType.warcinfo)
        if arc.record_type is not WarcRecordType.response:
            yield Skipped(arc._type_name, offset)
            continue
        declared = arc.content_length
        try:
            item = _warc_item(arc, path, pol, want_head)
            if type(item) is not WarcPage:
                got = declared - arc.content_length + arc.reader.tell() + arc.reader.consume()
        except (OSError, ValueError, EOFError, zlib.error) as exc:
            yield Damage(offset, f"the record at offset {offset} could not be read ({exc}){lost}")
            return
        yield item
        if type(item) is WarcPage:
            if not item.finish():
                yield Damage(offset, f"the record at offset {offset} could not be read ({item.error}){lost}")
                return
            got = item.block_read
        if got < declared:
            yield Damage(
                offset,
                f"the record at offset {offset} declares length {declared} but the file holds {got} bytes "
                f"of it (a cut file; judged on what is there){lost}",
            )
            return


_RESPONSE_TYPES: tuple[Any, ...] = ()


def _warc_item(rec: Any, path: str, policy: Policy, want_head: bool) -> WarcItem:
    global _RESPONSE_TYPES
    if not _RESPONSE_TYPES:
        from fastwarc.warc import WarcRecordType

        _RESPONSE_TYPES = (WarcRecordType.response, WarcRecordType.resource)
    rtype = rec.record_type
    offset: int = rec.stream_pos
    if rtype != _RESPONSE_TYPES[0] and rtype != _RESPONSE_TYPES[1]:
        return Skipped(str(rtype), offset)
    # One pass over the WARC headers (HeaderMap.get is case-insensitive, first match wins).
    wh: dict[str, str] = {}
    for k, v in rec.headers.to_tuples():
        wh.setdefault(k.lower(), v)
    url = (wh.get("warc-target-uri") or "").strip().strip("<>")
    if not url or not rec.is_http:
        return Skipped("non-http", offset)
    declared = rec.content_length  # the WARC Content-Length (parse_http lowers it)
    rec.parse_http()
    hh = rec.http_headers
    headers = hh.to_tuples()
    status = hh.status_code
    # One pass over the HTTP headers: the last Content-Type (as Scrapy reads it), the first
    # Location (as HeaderMap.get), every Transfer-Encoding and Content-Encoding line (RFC 9110 §5.3).
    ctype: str | None = None
    location: str | None = None
    te = ce = ""
    for k, v in headers:
        lk = k.lower()
        if lk == "content-type":
            ctype = v  # the last line, as Scrapy's Headers.get reads it (the crawl's reading)
        elif lk == "transfer-encoding":
            te = f"{te}, {v}" if te else v
        elif lk == "content-encoding":
            ce = f"{ce}, {v}" if ce else v
        elif lk == "location" and location is None:
            location = v
    date = wh.get("warc-date") or ""
    ts = _parse_warc_date(date)
    record_id = (wh.get("warc-record-id") or "").strip()
    expected = rec.content_length
    reader = rec.reader
    kind = site_file_kind(url)
    if kind is None and _is_rsl_licence(url, ctype):
        kind = "rsl"  # RSL 1.0: a licence capture, looked up by the URL robots.txt names
    if kind is not None:
        pr = PayloadReader(reader, codings=(te, ce))
        body = b""
        detail = ""
        if status is not None and 200 <= status < 300:
            body = pr.read_until(SIZE_LIMIT)
            state, why = pr.state
            if state is State.UNDECODABLE or state is State.TRUNCATED:
                # As a fetch whose body does not decode: unreachable (RFC 9309 §2.3.1.4).
                detail = f"HTTP {status}, body {'not decodable' if state is State.UNDECODABLE else 'cut'}: {why}"
                status = None
        return Capture(
            kind,
            url,
            origin_of(url),
            date,
            ts,
            record_id,
            status,
            body,
            path,
            offset,
            location,
            detail,
        )
    body = b""
    head = None
    unreadable = None
    payload: PayloadReader | None = None
    live: _LiveReader | None = None
    # WARC-Truncated (ISO 28500 §5.13): the payload is not the whole body, as the crawl's dataloss.
    cut = bool(wh.get("warc-truncated"))
    if want_head:
        limit = max(policy.html_budget + 1, SNIFF_BYTES)  # what the crawl decodes
        live = _LiveReader(reader, expected)
        payload = PayloadReader(live, codings=(te, ce), limit=limit, cut=cut)
        live.owner = payload
        body, head, unreadable = _read_page(payload, url, ctype, policy, headers)
        live.raising = False
    # Not consumed here: the page is handed out with its payload open (WarcPage.finish).
    item = WarcPage(url, record_id, date, ts, offset, status, headers, ctype, body, head, cut, unreadable)
    item.payload = payload
    item.block_length = declared
    item._rec = rec
    item._live = live
    return item


def _read_html_head(
    pr: PayloadReader, url: str, ctype: str | None, policy: Policy
) -> tuple[bytes, Head | None]:
    """The payload prefix and head :func:`noai_guard.engine.read_page` reads."""
    got = read_page(pr, url, ctype, policy)
    return got.body, got.head


def _read_page(
    pr: PayloadReader,
    url: str,
    ctype: str | None,
    policy: Policy,
    headers: Iterable[tuple[str, str]] | None = None,
) -> tuple[bytes, Head | None, str | None]:
    got = read_page(pr, url, ctype, policy, headers=headers)
    return got.body, got.head, got.unreadable


def scan_captures(path: str) -> Iterator[Capture | Damage]:
    """Only the captures of a WARC (for ``--robots-from`` and capture-only inputs)."""
    for item in iter_warc(path, want_head=False):
        if isinstance(item, (Capture, Damage)):
            yield item


def is_capture_file(path: str, sample: int = 20) -> bool:
    """True when a WARC holds site-file captures only, judged from samples.

    Common Crawl ships robots.txt captures in WARCs of their own; indexing
    those before any page is judged spares the page WARCs a second pass.  The
    first ``sample`` records must all be captures, and so must the records
    found at the middle and near the end of the file (resynchronised on a
    gzip member or ``WARC/1.`` line), so that a crawl that merely starts
    with robots.txt fetches is not read twice.
    """
    with open(path, "rb") as fh:
        if _archive_format(fh) != (False, "warc"):
            return False  # ARC and LZ4 files are read once, captures and pages together
    if _first_records_are_captures(path, 0, sample) is not True:
        return False
    size = os.path.getsize(path)
    if size < 1 << 20:
        return True
    with open(path, "rb") as fh:
        gz = fh.read(2) == _GZIP_MAGIC
        magic = _GZIP_MAGIC + b"\x08" if gz else b"WARC/1."
        for frac in (0.5, 0.9):
            at = _find(fh, magic, int(size * frac))
            if at is not None and _first_records_are_captures(path, at, 3) is False:
                return False
    return True


def _first_records_are_captures(path: str, start: int, n: int) -> bool | None:
    """Whether the first ``n`` judged-or-captured records from ``start`` are captures (None: unreadable)."""
    from fastwarc.warc import ArchiveIterator

    seen = 0
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            for rec in ArchiveIterator(fh, parse_http=False):
                item = _warc_item(rec, path, _DEFAULT_POLICY, False)
                if isinstance(item, WarcPage):
                    return False
                if isinstance(item, Capture):
                    seen += 1
                    if seen >= n:
                        return True
    except (OSError, ValueError, EOFError, RuntimeError):
        return None if seen == 0 else True
    return seen > 0


# --- URL-only inputs -----------------------------------------------------------------------------


@dataclass(slots=True)
class UrlItem:
    """A URL read from a feed, log or list, with where it was found."""

    url: str
    line: int
    status: int | None = None
    event: str | None = None  # scrapy-log: "crawled" / "scraped"


def _open_text(path: str, gz: bool) -> IO[str]:
    raw: IO[bytes] = gzip.open(path, "rb") if gz else open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


_CRAWLED_RE = re.compile(r"\bCrawled \((\d{3})\) <([A-Z]+) (\S+?)>")
_SCRAPED_RE = re.compile(r"\bScraped from <(\d{3}) (\S+?)>")


def iter_urls(info: InputInfo, url_field: str = "url") -> Iterator[UrlItem | Damage]:
    """Stream the URLs of a feed, log or URL list (constant memory)."""
    gz = info.gzip == "text"
    with _open_text(info.path, gz) as fh:
        if info.kind == "jsonl":
            yield from _iter_jsonl(fh, url_field)
        elif info.kind == "json":
            yield from _iter_json(fh, info, url_field)
        elif info.kind == "csv":
            yield from _iter_csv(fh, url_field)
        elif info.kind == "scrapy-log":
            yield from _iter_log(fh)
        else:
            for n, line in enumerate(fh, 1):
                s = line.strip()
                if s and not s.startswith("#"):
                    yield UrlItem(s, n)


def _field(obj: Any, url_field: str) -> str | None:
    if isinstance(obj, dict):
        v = obj.get(url_field)
        if isinstance(v, str) and v:
            return v
    return None


def _iter_jsonl(fh: IO[str], url_field: str) -> Iterator[UrlItem | Damage]:
    for n, line in enumerate(fh, 1):
        s = line.strip()
        if not s:
            continue
        try:
            obj = json.loads(s)
        except ValueError as exc:
            yield Damage(None, f"line {n}: not JSON ({exc})", n)
            continue
        url = _field(obj, url_field)
        if url is None:
            yield Damage(None, f"line {n}: no {url_field!r} field", n, unread=False)
        else:
            yield UrlItem(url, n)


def _iter_json(fh: IO[str], info: InputInfo, url_field: str) -> Iterator[UrlItem | Damage]:
    # Scrapy's JSON exporter writes "[", then one item per line ending in ",", then "]".
    lines_ok = True
    out: list[UrlItem | Damage] = []
    for n, line in enumerate(fh, 1):
        s = line.strip().rstrip(",")
        if s in ("", "[", "]"):
            continue
        s = s.removeprefix("[")
        if s.endswith("]") and not s.endswith("]]"):
            s = s[:-1]
        try:
            obj = json.loads(s)
        except ValueError:
            lines_ok = False
            break
        url = _field(obj, url_field)
        yield (
            UrlItem(url, n)
            if url is not None
            else Damage(None, f"line {n}: no {url_field!r} field", n, False)
        )
    if lines_ok:
        return
    # Pretty-printed JSON: load it whole (the one input kind that is not streamed).
    with _open_text(info.path, info.gzip == "text") as fh2:
        try:
            data = json.load(fh2)
        except ValueError as exc:
            yield Damage(None, f"not valid JSON: {exc}")
            return
    items = data if isinstance(data, list) else [data]
    for i, obj in enumerate(items, 1):
        url = _field(obj, url_field)
        out.append(
            UrlItem(url, i) if url is not None else Damage(None, f"item {i}: no {url_field!r}", i, False)
        )
    yield from out


def _iter_csv(fh: IO[str], url_field: str) -> Iterator[UrlItem | Damage]:
    sample = fh.read(8192)
    fh.seek(0)
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(fh, dialect=dialect)
    if reader.fieldnames is None or url_field not in reader.fieldnames:
        yield Damage(None, f"no {url_field!r} column (columns: {', '.join(reader.fieldnames or [])})", 1)
        return
    for row in reader:
        url = row.get(url_field)
        n = reader.line_num
        if url:
            yield UrlItem(url.strip(), n)
        else:
            yield Damage(None, f"line {n}: empty {url_field!r}", n, unread=False)


def _iter_log(fh: IO[str]) -> Iterator[UrlItem | Damage]:
    # A scraped item follows the crawl of its page; skip URLs seen very recently (bounded).
    recent: OrderedDict[str, None] = OrderedDict()
    for n, line in enumerate(fh, 1):
        m = _CRAWLED_RE.search(line)
        if m:
            status, url, event = int(m.group(1)), m.group(3), "crawled"
        else:
            m2 = _SCRAPED_RE.search(line)
            if not m2:
                continue
            status, url, event = int(m2.group(1)), m2.group(2), "scraped"
        if url in recent:
            recent.move_to_end(url)
            continue
        recent[url] = None
        if len(recent) > 10000:
            recent.popitem(last=False)
        yield UrlItem(url, n, status, event)


def check_url_field(info: InputInfo, url_field: str) -> None:
    """Raise :class:`InputError` when a feed's first item has no ``url_field`` (bad ``--url-field``)."""
    if info.kind not in ("jsonl", "json", "csv"):
        return
    for item in iter_urls(info, url_field):
        if isinstance(item, UrlItem):
            return
        if "column" in item.error or item.line in (None, 1):
            raise InputError(f"{info.path}: {item.error}; name the URL field with --url-field")
        return


# --- the capture index ---------------------------------------------------------------------------


class CaptureIndex:
    """Site-file captures by URL, each list sorted by capture time.

    Memory grows with the number of origins (and their captures), never with
    the number of page records.  A child index sees its parent's captures
    too (the per-input overlay on the shared base index).
    """

    def __init__(self, captures: Iterable[Capture] = (), parent: CaptureIndex | None = None) -> None:
        self.by_url: dict[str, list[tuple[float, int, Capture]]] = {}
        self.parent = parent
        self._parsed: dict[tuple[Any, ...], SiteFile] = {}
        self._seq = 0
        self.extend(captures)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_url.values()) + (len(self.parent) if self.parent else 0)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_parsed"] = {}  # parsed files are rebuilt on demand in the receiving process
        return state

    def add(self, cap: Capture) -> None:
        # An RSL licence has no fixed path: kept by its URL (RSL 1.0, named by robots.txt).
        key = cap.url if cap.kind == "rsl" else cap.origin + PATHS[cap.kind]
        self._seq += 1
        bisect.insort(self.by_url.setdefault(key, []), (cap.ts, self._seq, cap))

    def extend(self, caps: Iterable[Capture]) -> None:
        for c in caps:
            self.add(c)

    def captures(self) -> Iterator[Capture]:
        for lst in self.by_url.values():
            for _, _, c in lst:
                yield c

    def _nearest(self, key: str, ts: float) -> Capture | None:
        found: Capture | None = None
        lst = self.by_url.get(key)
        if lst:
            i = bisect.bisect_right(lst, (ts, math.inf))  # at or before ts
            found = lst[i - 1][2] if i else None
        if self.parent is not None:
            other = self.parent._nearest(key, ts)
            if other is not None and (found is None or other.ts > found.ts):
                found = other
        return found

    def nearest(self, origin: str, kind: Kind, ts: float) -> Capture | None:
        """The latest capture of ``origin``'s ``kind`` file at or before ``ts``."""
        path = PATHS[kind]
        cap = self._nearest(origin + path, ts)
        if cap is None and "://" in origin:
            cap = self._nearest("*://" + origin.split("://", 1)[1] + path, ts)
        return cap

    def licence(self, url: str, ts: float) -> tuple[SiteFile, Capture, Capture | None] | None:
        """The RSL licence captured at ``url`` in force at ``ts``, its capture and the next one.

        No redirect is followed: a 3xx capture is parsed as its status says (unreachable).
        """
        cap = self._nearest(url, ts)
        if cap is None:
            return None
        return self.parsed(cap, "rsl", url), cap, self._first_after(url, ts)

    def first_after(self, origin: str, kind: Kind, ts: float) -> Capture | None:
        """The first capture strictly after ``ts`` (named in the trail when none is before)."""
        found = self._first_after(origin + PATHS[kind], ts)
        if "://" in origin and not origin.startswith("*://"):
            other = self._first_after("*://" + origin.split("://", 1)[1] + PATHS[kind], ts)
            if other is not None and (found is None or other.ts < found.ts):
                found = other
        return found

    def _first_after(self, key: str, ts: float) -> Capture | None:
        found: Capture | None = None
        lst = self.by_url.get(key)
        if lst:
            i = bisect.bisect_right(lst, (ts, math.inf))
            found = lst[i][2] if i < len(lst) else None
        if self.parent is not None:
            other = self.parent._first_after(key, ts)
            if other is not None and (found is None or other.ts < found.ts):
                found = other
        return found

    def resolve(self, origin: str, kind: Kind, ts: float) -> tuple[SiteFile, list[Capture]] | None:
        """The parsed file in force at ``ts`` and the captures used (redirects followed).

        RFC 9309 §2.3.1.2: follow at least five redirects; more, or a
        redirect target outside the captures, leaves the file not checked
        (``None``) or, past five hops, unavailable.
        """
        cap = self.nearest(origin, kind, ts)
        if cap is None:
            return None
        chain = [cap]
        while cap.status is not None and 300 <= cap.status < 400:
            if len(chain) > MAX_REDIRECTS:
                return _unavailable(kind, chain[0].url, f"more than {MAX_REDIRECTS} redirects"), chain
            target = _redirect_target(cap)
            nxt = None
            if target is not None:
                tkind = site_file_kind(target)
                if tkind is not None:
                    nxt = self._nearest(origin_of(target) + PATHS[tkind], ts)
            if nxt is None or nxt in chain:
                return None
            chain.append(nxt)
            cap = nxt
        # A folder file names no scheme: it is parsed as the file of the origin asking for it.
        url = origin + PATHS[kind] if chain[0].folder is not None else chain[0].url
        return self.parsed(cap, kind, url), chain

    def parsed(self, cap: Capture, kind: Kind, url: str) -> SiteFile:
        key = (cap.url, cap.ts, cap.record_id, cap.file, cap.offset, url)
        sf = self._parsed.get(key)
        if sf is None and cap.too_many_redirects:
            sf = _unavailable(kind, url, cap.detail)
        if sf is None:
            sf = from_fetch(kind, url, status=cap.status, body=cap.body, detail=cap.detail)
            self._parsed[key] = sf
        return sf


def _unavailable(kind: Kind, url: str, detail: str) -> SiteFile:
    """RFC 9309 §2.3.1.2: past five redirects the crawler MAY assume the file unavailable."""
    from .robots import RobotsTxt
    from .tdmrep import TdmrepFile

    if kind == "tdmrep":
        return TdmrepFile.unavailable(url, detail)
    return RobotsTxt.unavailable(url, detail)


def _redirect_target(cap: Capture) -> str | None:
    if not cap.location:
        return None
    from urllib.parse import urljoin

    return urljoin(cap.url, cap.location.strip())


def load_folder(root: str | os.PathLike[str], date: str | None = None) -> Iterator[Capture]:
    """Captures from a ``--robots-from`` folder (layout in the module docstring).

    A folder file names a host, not a scheme: it applies to http and https of
    that host (and port), and its URL is recorded scheme-relative
    (``//host/robots.txt``).  It is undated, so it applies at every date,
    unless a date is given: ``FILE.date`` beside it (an ISO 8601 date or
    time), else ``date`` (``--robots-from-date``); dated, it applies from that
    date on, as a WARC capture does.  Its modification time says nothing of
    when the site served it and is not used.  A bad date raises :class:`InputError`.
    """
    base = Path(root)
    default = _parse_given_date(date, "--robots-from-date") if date else None
    for host_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        name = host_dir.name
        host, _, port = name.rpartition("_") if re.fullmatch(r".+_\d+", name) else (name, "", "")
        netloc = f"{host}:{port}" if port else host
        for kind in KINDS:
            f = host_dir / PATHS[kind].lstrip("/")
            st = f.with_name(f.name + ".status")
            status: int | None = 200
            if st.is_file():
                try:
                    status = int(st.read_text().strip().split()[0])
                except (ValueError, IndexError):
                    status = None
            elif not f.is_file():
                continue
            body = f.read_bytes()[:SIZE_LIMIT] if f.is_file() else b""
            dated = f.with_name(f.name + ".date")
            given = (
                _parse_given_date(dated.read_text(encoding="utf-8", errors="replace").strip(), str(dated))
                if dated.is_file()
                else default
            )
            iso, ts = given if given is not None else ("", float("-inf"))
            yield Capture(
                kind,
                f"//{netloc}{PATHS[kind]}",
                f"*://{netloc}",
                iso,
                ts,
                None,
                status,
                body,
                str(f if f.is_file() else st),
                None,
                detail="" if status is not None else "unreadable status file",
                folder=str(base),
            )


def _parse_given_date(value: str, where: str) -> tuple[str, float]:
    """An ISO 8601 date or time (UTC unless it says otherwise): (normalised, epoch seconds)."""
    v = value.strip()
    try:
        dt = _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{where}: not an ISO 8601 date or time: {v[:60]!r} (e.g. 2014-03-01 or 2014-03-01T12:00:00Z)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    iso = dt.astimezone(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return iso, dt.timestamp()


def load_robots_from(path: str, date: str | None = None) -> tuple[list[Capture], list[Damage]]:
    """Captures from a ``--robots-from`` path: a folder (``date``: see :func:`load_folder`), or a WARC.

    Raises :class:`InputError`.
    """
    if os.path.isdir(path):
        return list(load_folder(path, date)), []
    info = detect(path)
    if info.kind != "warc":
        raise InputError(f"{path}: --robots-from takes a WARC or a folder, not {info.label}")
    caps: list[Capture] = []
    dmg: list[Damage] = []
    for item in scan_captures(path):
        (caps if isinstance(item, Capture) else dmg).append(item)  # type: ignore[arg-type]
    return caps, dmg
