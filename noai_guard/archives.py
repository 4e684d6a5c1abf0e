"""Audit inputs: detection by content, streaming readers, and the site-file capture index.

Inputs are recognised by their first bytes, not their names:

* **WARC** (``WARC/1.x``), uncompressed, gzip per record (as Common Crawl
  writes it: one gzip member per record, ISO 28500 annex D) or gzip as a whole
  file.  Read with FastWARC; only the HTTP headers and the head of an HTML
  payload are decoded (chunked transfer coding, then gzip / deflate / br
  content coding), never the whole body.
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

A folder file applies to both ``http`` and ``https`` of that host (and port),
at any time (it has no capture history); its modification time is recorded.
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

from .evaluate import is_html, is_image, scan_head, wide_charset
from .htmlhead import Head
from .policy import Policy
from .sitefiles import KINDS, MAX_REDIRECTS, PATHS, SIZE_LIMIT, Kind, SiteFile, from_fetch, origin_of

InputKind = Literal["warc", "jsonl", "json", "csv", "scrapy-log", "url-list"]
INPUT_KINDS: tuple[InputKind, ...] = ("warc", "jsonl", "json", "csv", "scrapy-log", "url-list")

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
    """What an input is: its kind, compression and size on disk."""

    path: str
    kind: InputKind
    gzip: Literal["per-record", "whole-file", "text"] | None
    size: int

    @property
    def label(self) -> str:
        if self.kind == "warc" and self.gzip:
            return f"WARC (gzip {self.gzip})"
        return self.kind.upper() if self.kind in ("warc", "json", "csv") else self.kind


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
    """Recognise an input by content (raises :class:`InputError`)."""
    p = str(path)
    try:
        size = os.path.getsize(p)
        with open(p, "rb") as fh:
            head = fh.read(4 * 1024 * 1024)
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    if not head:
        raise InputError(f"{p}: empty file")
    gz: Literal["per-record", "whole-file", "text"] | None = None
    prefix = head[:_SNIFF]
    if head.startswith(_GZIP_MAGIC):
        prefix, multi = _gunzip_prefix(head)
        kind = sniff_text(prefix)
        gz = ("per-record" if multi else "whole-file") if kind == "warc" else "text"
    else:
        kind = sniff_text(prefix)
    if kind is None:
        raise InputError(
            f"{p}: not a recognised input (expected WARC, JSON lines, JSON, CSV, Scrapy log or URL list)"
        )
    return InputInfo(p, kind, gz, size)


# --- payload decoding ----------------------------------------------------------------------------


class _Dechunker:
    """Incremental decoder of the HTTP/1.1 chunked transfer coding (RFC 9112 §7.1)."""

    def __init__(self) -> None:
        self.buf = b""
        self.left = 0  # bytes left in the current chunk (+2 for its CRLF while > 0)
        self.done = False
        self.failed = False

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out: list[bytes] = []
        while not self.done and self.buf:
            if self.left == 0:
                nl = self.buf.find(b"\n")
                if nl < 0:
                    if len(self.buf) > 1024:
                        self.failed = True
                    break
                line = self.buf[:nl].split(b";", 1)[0].strip()
                self.buf = self.buf[nl + 1 :]
                if not line:
                    continue  # the CRLF after a chunk
                try:
                    size = int(line, 16)
                except ValueError:
                    self.failed = True
                    break
                if size == 0:
                    self.done = True
                    break
                self.left = size
            take = self.buf[: self.left]
            out.append(take)
            self.buf = self.buf[len(take) :]
            self.left -= len(take)
        return b"".join(out)


def _decompressor(coding: str) -> Callable[[bytes], bytes] | None:
    """A streaming decoder for one content coding (RFC 9110 §8.4.1), or None if unknown."""
    coding = coding.strip().lower()
    if coding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(47).decompress  # gzip or zlib wrapper, auto-detected
    if coding == "br":
        try:
            import brotli  # type: ignore[import-not-found, import-untyped, unused-ignore]
        except ImportError:
            return None
        fn: Callable[[bytes], bytes] = brotli.Decompressor().process
        return fn
    return None


class _Undecodable(Exception):
    pass


class PayloadReader:
    """Decoded, bounded reads of an HTTP payload stored in a WARC record.

    Transfer coding first (chunked), then the content codings in reverse order
    (RFC 9110 §8.4).  Some archivers store the payload already de-chunked or
    decoded while keeping the headers; a coding that fails to decode falls
    back to the stored bytes, as browsers and Scrapy do.
    """

    _KEEP_RAW = 8 * 1024 * 1024

    def __init__(
        self,
        reader: Any,
        headers: Iterable[tuple[str, str]] = (),
        *,
        codings: tuple[str, str] | None = None,
    ) -> None:
        """``codings``: the (Transfer-Encoding, Content-Encoding) values, when already known."""
        self.reader = reader
        if codings is None:
            te = ce = ""
            for k, v in headers:
                lk = k.lower()
                if lk == "transfer-encoding":
                    te = v.lower()
                elif lk == "content-encoding":
                    ce = v.lower()
        else:
            te, ce = codings
        self.chunked: _Dechunker | None = None
        self.decoders: list[Callable[[bytes], bytes]] = []
        if te or ce:  # the common case, an unencoded payload, sets up no decoder
            self.chunked = _Dechunker() if "chunked" in te else None
            codings_ = [c for c in ce.split(",") if c.strip() and c.strip().lower() != "identity"]
            decoders = [_decompressor(c) for c in reversed(codings_)]
            self.decoders = [dc for dc in decoders if dc is not None] if None not in decoders else []
        self.decoding = self.chunked is not None or bool(self.decoders)
        self.raw = bytearray()  # stored bytes, kept while decoding (for the fallback)
        self.out = bytearray()
        self.eof = False

    def _decode(self, data: bytes) -> bytes:
        if self.chunked is not None:
            data = self.chunked.feed(data)
            if self.chunked.failed:
                raise _Undecodable
        try:
            for dc in self.decoders:
                data = dc(data) if data else b""
        except Exception as exc:  # zlib.error, brotli.error: not actually encoded
            raise _Undecodable from exc
        return data

    def read_until(self, limit: int, stop: re.Pattern[bytes] | None = None, first: int = 16384) -> bytes:
        """Decoded bytes up to ``limit`` (the whole payload when shorter); ``stop`` ends early."""
        step = first
        out = self.out
        while len(out) < limit and not self.eof:
            prev = len(out)
            data: bytes = self.reader.read(step)
            step = min(step * 2, 256 * 1024)
            if not data:
                self.eof = True
                break
            if self.decoding:
                if len(self.raw) < self._KEEP_RAW:
                    self.raw += data
                try:
                    out += self._decode(data)
                except _Undecodable:
                    self.decoding = False
                    self.out = out = self.raw
            elif not out:
                # The first read: when it is enough (the common case), return it as it is.
                self.out = out = bytearray(data)
                if len(data) >= limit or (stop is not None and _found(stop, data, 0)):
                    return data[:limit] if len(data) > limit else data
                continue
            else:
                out += data
            if stop is not None and _found(stop, out, max(0, prev - 16)):
                break
        return bytes(out[:limit])


def _found(stop: re.Pattern[bytes], buf: bytes | bytearray, start: int) -> bool:
    """``stop.search(buf, start)``, tried first as plain lower-case finds for the head end."""
    if stop is _HEAD_END and (buf.find(b"</head", start) >= 0 or buf.find(b"<body", start) >= 0):
        return True
    return stop.search(buf, start) is not None


def _parse_warc_date(value: str | None) -> float:
    if not value:
        return 0.0
    v = value.strip().replace("Z", "+00:00")
    try:
        dt = _dt.datetime.fromisoformat(v)
    except ValueError:
        return 0.0
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    return dt.timestamp()


# --- WARC records ----------------------------------------------------------------------------


def site_file_kind(url: str) -> Kind | None:
    """``robots`` / ``tdmrep`` / ``ai-txt`` when ``url`` is an origin's site file (no query)."""
    if not url.endswith(_SITE_SUFFIXES):
        return None
    parts = urlsplit(url)
    if parts.query:
        return None
    return _PATH_KIND.get(parts.path)


@dataclass(slots=True)
class Capture:
    """One captured fetch of a site file (robots.txt, tdmrep.json, ai.txt)."""

    kind: Kind
    url: str
    origin: str  # scheme://host[:port], or *://host[:port] for a folder capture
    date: str  # WARC-Date, or the file's mtime (ISO 8601)
    ts: float  # epoch seconds used for "nearest before"; -inf: applies at any time
    record_id: str | None
    status: int | None
    body: bytes = b""
    file: str = ""
    offset: int | None = None
    location: str | None = None  # redirect target for a 3xx capture
    detail: str = ""
    too_many_redirects: bool = False  # RFC 9309 §2.3.1.2: more than five (--fetch)

    def describe(self) -> dict[str, Any]:
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
    """A WARC response record to judge: its HTTP headers and the decoded start of its payload."""

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
    truncated: bool  # shorter than its Content-Length, or WARC-Truncated set


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


WarcItem = WarcPage | Capture | Skipped | Damage

_DEFAULT_POLICY = Policy()
_HEAD_END = re.compile(rb"</head|<body", re.IGNORECASE)
_FIRST_READ = 8 * 1024  # most heads end well within the first 8 KB


def iter_warc(
    path: str,
    *,
    policy: Policy | None = None,
    want_head: bool = True,
) -> Iterator[WarcItem]:
    """Stream a WARC file: pages, captures, skipped records and damage reports.

    A corrupt gzip member or record header is reported once as :class:`Damage`
    with its offset, and reading resumes at the next gzip member (per-record
    gzip) or ``WARC/1.`` line (uncompressed).  A damaged whole-file gzip
    cannot be resynchronised: the rest of that file is lost (and said so).
    """
    from fastwarc.warc import ArchiveIterator

    pol = policy if policy is not None else Policy()
    with open(path, "rb") as fh:
        start = fh.read(4 * 1024 * 1024)
        gz = start.startswith(_GZIP_MAGIC)
        per_record = gz and _gunzip_prefix(start)[1]
        magic = (_GZIP_MAGIC + b"\x08") if per_record else (None if gz else b"WARC/1.")
        pos = 0
        resynced = False
        while True:
            fh.seek(pos)
            current: int | None = None
            failed_at: int | None = None
            try:
                for rec in ArchiveIterator(fh, parse_http=False):
                    current = rec.stream_pos
                    try:
                        item = _warc_item(rec, path, pol, want_head)
                    except (OSError, ValueError, EOFError) as exc:
                        # This record's HTTP headers or payload coding are damaged.
                        yield Damage(current if magic else None, f"{type(exc).__name__}: {exc}")
                        failed_at = current
                        break
                    resynced = False
                    yield item
                else:
                    return
            except (OSError, ValueError, EOFError, RuntimeError) as exc:
                # Reading the record after ``current`` failed: find where it starts.
                if magic is None:
                    where = "" if current is None else f" (after the record at uncompressed offset {current})"
                    yield Damage(None, f"{type(exc).__name__}: {exc}{where}; rest of the gzip stream lost")
                    return
                if current is None:
                    failed_at = pos
                elif per_record:  # the damage starts where the last good gzip member ends
                    failed_at = _member_end(fh, current) or current + 1
                else:
                    failed_at = _find(fh, magic, current + 1) or current + 1
                if not (resynced and current is None):  # a false start after a resync: same damage
                    yield Damage(failed_at, f"{type(exc).__name__}: {exc}")
            if magic is None or failed_at is None:
                return
            nxt = _find(fh, magic, failed_at + 1)
            if nxt is None:
                return
            pos, resynced = nxt, True


def _member_end(fh: IO[bytes], start: int) -> int | None:
    """Where the gzip member starting at ``start`` ends (None if it does not end cleanly)."""
    fh.seek(start)
    d = zlib.decompressobj(31)
    pos = start
    try:
        while not d.eof:
            block = fh.read(1 << 16)
            if not block:
                return None
            d.decompress(block)
            pos += len(block)
            while d.unconsumed_tail and not d.eof:
                d.decompress(d.unconsumed_tail)
    except zlib.error:
        return None
    return pos - len(d.unused_data)


def _find(fh: IO[bytes], needle: bytes | None, start: int) -> int | None:
    """Offset of the next ``needle`` at or after ``start`` (for resynchronising)."""
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
    rec.parse_http()
    hh = rec.http_headers
    headers = hh.to_tuples()
    status = hh.status_code
    # One pass over the HTTP headers: the first Content-Type and Location (as
    # HeaderMap.get), the last Transfer-Encoding and Content-Encoding (as PayloadReader).
    ctype: str | None = None
    location: str | None = None
    te = ce = ""
    for k, v in headers:
        lk = k.lower()
        if lk == "content-type":
            if ctype is None:
                ctype = v
        elif lk == "transfer-encoding":
            te = v.lower()
        elif lk == "content-encoding":
            ce = v.lower()
        elif lk == "location" and location is None:
            location = v
    date = wh.get("warc-date") or ""
    ts = _parse_warc_date(date)
    record_id = (wh.get("warc-record-id") or "").strip()
    expected = rec.content_length
    reader = rec.reader
    kind = site_file_kind(url)
    if kind is not None:
        pr = PayloadReader(reader, codings=(te, ce))
        body = pr.read_until(SIZE_LIMIT) if status is not None and 200 <= status < 300 else b""
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
        )
    body = b""
    head = None
    if want_head and (ctype is None or "html" in ctype.lower() or not ctype.strip()):
        body, head = _read_html_head(PayloadReader(reader, codings=(te, ce)), url, ctype, policy)
    got = reader.tell() + reader.consume()
    truncated = got < expected or bool(wh.get("warc-truncated"))
    return WarcPage(url, record_id, date, ts, offset, status, headers, ctype, body, head, truncated)


def _read_html_head(
    pr: PayloadReader, url: str, ctype: str | None, policy: Policy
) -> tuple[bytes, Head | None]:
    """The shortest payload prefix on which the head reader gives what the whole body gives.

    The middleware hands :func:`~noai_guard.evaluate.scan_head` the whole body;
    the scan cuts at the body start (and ``read_head`` stops there), so a
    prefix in which the head ended (``complete``, the prefix read as the start
    of a longer document) gives the same metas.  Otherwise the prefix grows
    (x4) until the payload or the budget runs out.
    """
    budget, strict = policy.html_budget, policy.html_strict
    size = budget if strict else min(budget, 32 * 1024)
    while True:
        body = pr.read_until(size, None if strict else _HEAD_END, _FIRST_READ)
        if not body or is_image(url, ctype) or not is_html(ctype, body):
            return body, None
        head = scan_head(body, policy, eof=pr.eof, encoding=wide_charset(ctype))
        if pr.eof or len(body) >= budget or head.complete or strict:
            return body, head
        size = min(budget, size * 4)


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
            yield Damage(None, f"line {n}: no {url_field!r} field", n)
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
        yield UrlItem(url, n) if url is not None else Damage(None, f"line {n}: no {url_field!r} field", n)
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
        out.append(UrlItem(url, i) if url is not None else Damage(None, f"item {i}: no {url_field!r}", i))
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
            yield Damage(None, f"line {n}: empty {url_field!r}", n)


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
        key = cap.origin + PATHS[cap.kind]
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

    def first_after(self, origin: str, kind: Kind, ts: float) -> Capture | None:
        """The first capture strictly after ``ts`` (named in the trail when none is before)."""
        found: Capture | None = None
        lst = self.by_url.get(origin + PATHS[kind])
        if lst:
            i = bisect.bisect_right(lst, (ts, math.inf))
            found = lst[i][2] if i < len(lst) else None
        if self.parent is not None:
            other = self.parent.first_after(origin, kind, ts)
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
        return self.parsed(cap, kind, chain[0].url), chain

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


def load_folder(root: str | os.PathLike[str]) -> Iterator[Capture]:
    """Captures from a ``--robots-from`` folder (layout in the module docstring)."""
    base = Path(root)
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
            ref = f if f.is_file() else st
            mtime = _dt.datetime.fromtimestamp(ref.stat().st_mtime, _dt.timezone.utc)
            yield Capture(
                kind,
                f"https://{netloc}{PATHS[kind]}",
                f"*://{netloc}",
                mtime.isoformat(timespec="seconds").replace("+00:00", "Z"),
                float("-inf"),
                None,
                status,
                body,
                str(f),
                None,
                detail="" if status is not None else "unreadable status file",
            )


def load_robots_from(path: str) -> tuple[list[Capture], list[Damage]]:
    """Captures from a ``--robots-from`` path: a folder, or a WARC (raises :class:`InputError`)."""
    if os.path.isdir(path):
        return list(load_folder(path)), []
    info = detect(path)
    if info.kind != "warc":
        raise InputError(f"{path}: --robots-from takes a WARC or a folder, not {info.label}")
    caps: list[Capture] = []
    dmg: list[Damage] = []
    for item in scan_captures(path):
        (caps if isinstance(item, Capture) else dmg).append(item)  # type: ignore[arg-type]
    return caps, dmg
