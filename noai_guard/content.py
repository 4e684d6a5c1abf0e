"""Internal: bounded decoding of HTTP message bodies: the one decoder of the crawl and the audit.

The transfer coding (``chunked``, RFC 9112 §7.1) and the content codings
(RFC 9110 §8.4.1: ``gzip``/``x-gzip``, ``deflate`` with the zlib wrapper or
raw, ``br``, ``zstd``; ``identity`` is no coding) are undone as Scrapy's
``HttpCompressionMiddleware`` undoes them, so the bytes read here are the
bytes the spider gets (``scrapy.utils.gz.gunzip``,
``scrapy.utils._compression``):

- gzip: every member, zero padding between members skipped, CRC and length
  checked after each member's data; a member that fails its check, or bytes
  after a member that start no new one, end the body there (Scrapy hands the
  spider what came before);
- deflate: the zlib wrapper, else raw deflate (the fallback Scrapy takes when
  the first 64 KiB do not decode); bytes after the stream are ignored;
- br: one stream; zstd: every frame (skippable frames included);
- several ``Content-Encoding`` field lines and comma lists, undone last first;
  as Scrapy, the codings after the last one it cannot undo are undone, and
  the body is then undecodable (what decoded is kept: the spider gets it).

Where Scrapy's own reading loses bytes (a cut zstd stream keeps whole 64 KiB
reads only) the last step keeps them: never less text than Scrapy, sometimes
more; a step before the last gives the next exactly what Scrapy gives it.  A
body is whole only when every step ended cleanly.

Every step is bounded: the last one by the caller's ``limit`` (one byte past
it tells "the body goes on"), every earlier one by :func:`step_cap`, and the
number of gzip members / zstd frames by :data:`MAX_MEMBERS`; the steps run as
a pipeline of generators, each producing at most 64 KiB at a time, so a
``gzip, gzip`` bomb stops at the budget whatever its ratio.  Only the
decoders' own errors are caught: a ``MemoryError`` is never read as
"undecodable".

The result is a :class:`Decoded`: the bytes (at most ``limit``), and whether
they are the whole body, a cut one (:attr:`State.TRUNCATED`: a coding's stream
ends early; :attr:`State.LIMIT`: stopped at the budget) or an undecodable one
(:attr:`State.UNDECODABLE`, with why and whatever decoded before the error).
Pure code: no I/O beyond the byte source it is given.
"""

from __future__ import annotations

import enum
import importlib
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "HEAD_END",
    "MAX_CODINGS",
    "MAX_MEMBERS",
    "SCRAPY_CODINGS",
    "BodyReader",
    "Decoded",
    "PayloadReader",
    "State",
    "StreamDecoder",
    "decode",
    "is_chunked",
    "kept_by_scrapy",
    "parse_codings",
    "step_cap",
]

# scrapy.utils._compression._CHUNK_SIZE: the output of one decoding call, and the
# first-call window of Scrapy's deflate (zlib wrapper, else raw).
CHUNK = 64 * 1024
# Input handed to a decoder per call: gzip.py reads io.DEFAULT_BUFFER_SIZE; small slices
# keep the bytes after a member (unused_data, copied by zlib) cheap with many members.
_FEED = 8 * 1024
# More gzip members / zstd frames than this in one step: stop (State.LIMIT).  Empty
# members cost a decoder each and produce nothing: a cheap way to burn CPU.
MAX_MEMBERS = 16 * 1024
# More content codings than this: undecodable (each is a pipeline stage).
MAX_CODINGS = 16
# What Scrapy's HttpCompressionMiddleware decodes (ACCEPTED_ENCODINGS + x-gzip).
SCRAPY_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd"})
# bytes.strip()'s whitespace: Scrapy strips each coding with it (_split_encodings).
_WS = " \t\n\r\x0b\x0c"


def _optional(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


# The modules Scrapy decodes with: brotli (brotlicffi on PyPy), and the
# compression.zstd API (Python 3.14, else the backports.zstd package).
_brotli: Any = _optional("brotli", "brotlicffi")
if _brotli is not None and not hasattr(_brotli.Decompressor, "can_accept_more_data"):
    _brotli = None  # before 1.2: no bounded output (Scrapy needs 1.2 too)
_zstd: Any = _optional("compression.zstd", "backports.zstd")
_BROTLI_ERRORS: tuple[type[BaseException], ...] = (_brotli.error,) if _brotli is not None else ()
_ZSTD_ERRORS: tuple[type[BaseException], ...] = (_zstd.ZstdError,) if _zstd is not None else ()


class State(enum.Enum):
    """How much of the body a :class:`Decoded` holds."""

    WHOLE = "whole"  # all of it
    TRUNCATED = "truncated"  # a coding's stream ends before its end: the body is cut
    LIMIT = "limit"  # stopped at the byte budget: the body goes on
    UNDECODABLE = "undecodable"  # an unknown coding or a corrupt stream


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded body: at most ``limit`` bytes, and how they relate to the whole body.

    ``detail`` says why a body is cut or undecodable; for a whole body, what was
    read past (a gzip member failing its CRC, bytes after the last member), if
    anything.  An undecodable body keeps what decoded before the error.
    """

    body: bytes
    state: State
    detail: str = ""

    @property
    def whole(self) -> bool:
        """The body's end is the end of the document."""
        return self.state is State.WHOLE

    @property
    def decodable(self) -> bool:
        return self.state is not State.UNDECODABLE


def parse_codings(values: str | bytes | Iterable[str | bytes] | None) -> tuple[str, ...]:
    """The content codings of ``Content-Encoding`` field values, in the order applied.

    Several field lines and comma lists make one list (RFC 9110 §5.3, §8.4);
    each coding is stripped and lowercased as Scrapy does; empty list elements
    are dropped.
    """
    if values is None:
        return ()
    if isinstance(values, (str, bytes)):
        values = (values,)
    out: list[str] = []
    for value in values:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        for part in text.split(","):
            coding = part.strip(_WS).lower()
            if coding:
                out.append(coding)
    return tuple(out)


def is_chunked(transfer_encoding: str | bytes | Iterable[str | bytes] | None) -> bool:
    """``Transfer-Encoding`` values end with ``chunked`` (RFC 9112 §6.1: it comes last)."""
    codings = parse_codings(transfer_encoding)
    return bool(codings) and codings[-1] == "chunked"


def kept_by_scrapy(codings: Iterable[str]) -> tuple[str, ...]:
    """The codings Scrapy leaves in ``Content-Encoding`` after decoding (its ``_split_encodings``).

    Scrapy undoes codings from the last while it knows them and keeps the rest
    (``identity`` included); its response class is chosen with what is kept.
    """
    left = list(codings)
    while left and left[-1] in SCRAPY_CODINGS:
        left.pop()
    return tuple(left)


def step_cap(limit: int) -> int:
    """The most bytes a step before the last may produce when the last is limited to ``limit``."""
    return max(4 * limit, 4 * 1024 * 1024)


# --- the pipeline -------------------------------------------------------------------------------


class _Run:
    """What the stages of one pipeline found (the first of each kind wins)."""

    __slots__ = ("error", "limit", "notes", "truncated")

    def __init__(self) -> None:
        self.error = ""
        self.truncated = ""
        self.limit = ""
        self.notes: list[str] = []

    def fail(self, what: str) -> None:
        self.error = self.error or what

    def cut(self, what: str) -> None:
        self.truncated = self.truncated or what

    def stop(self, what: str) -> None:
        self.limit = self.limit or what


class _Input:
    """Bytes pulled from an iterator of chunks, read by position (no copy of the rest)."""

    __slots__ = ("buf", "pos", "src")

    def __init__(self, src: Iterator[bytes]) -> None:
        self.src = src
        self.buf = b""
        self.pos = 0

    def _more(self) -> bool:
        for chunk in self.src:
            if chunk:
                self.buf = self.buf[self.pos :] + chunk if self.pos < len(self.buf) else chunk
                self.pos = 0
                return True
        return False

    def take(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the input)."""
        while len(self.buf) - self.pos < n and self._more():
            pass
        out = self.buf[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def some(self, n: int) -> bytes:
        """At most ``n`` bytes, at least one unless the input has ended."""
        if self.pos >= len(self.buf) and not self._more():
            return b""
        out = self.buf[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def back(self, data: bytes) -> None:
        """Return the last ``len(data)`` bytes taken (a decoder's unused input)."""
        self.pos -= len(data)

    def skip_through(self, byte: bytes) -> None:
        """Skip past the next ``byte`` (or to the end of the input)."""
        while True:
            i = self.buf.find(byte, self.pos)
            if i >= 0:
                self.pos = i + 1
                return
            self.pos = len(self.buf)
            if not self._more():
                return

    def skip_zeros(self) -> None:
        """Skip NUL bytes (gzip.py ``_read_eof``: padding after a member)."""
        while True:
            m = _NONZERO.search(self.buf, self.pos)
            if m is not None:
                self.pos = m.start()
                return
            self.pos = len(self.buf)
            if not self._more():
                return

    def at_end(self) -> bool:
        """Only NUL bytes are left (skipped)."""
        self.skip_zeros()
        return self.pos >= len(self.buf) and not self._more()

    def prepend(self, data: bytes) -> None:
        """Read ``data`` again before what is left."""
        self.buf = data + self.buf[self.pos :]
        self.pos = 0


_NONZERO = re.compile(rb"[^\x00]")


def _capped(stage: Iterator[bytes], run: _Run, name: str, cap: int) -> Iterator[bytes]:
    """``stage`` until it has produced ``cap`` bytes; past that, State.LIMIT."""
    total = 0
    for chunk in stage:
        total += len(chunk)
        if total > cap:
            run.stop(f"{name}: more than {cap} bytes decoded in an intermediate step")
            return
        yield chunk


_FTEXT, _FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 1, 2, 4, 8, 16


def _gunzip(src: Iterator[bytes], run: _Run) -> Iterator[bytes]:
    """gzip (RFC 1952) as ``scrapy.utils.gz.gunzip`` reads it through Python's ``gzip.GzipFile``.

    GzipFile yields each member's data as it inflates, then checks the CRC and
    size, skips NUL padding and reads the next header.  ``gunzip`` stops at the
    first ``OSError``/``EOFError`` (a failed check, a non-gzip byte, the end of
    the input inside a member) and keeps what it had, unless it had nothing;
    a ``zlib.error`` (corrupt deflate data) is not caught: no body at all.
    """
    inp = _Input(src)
    produced = 0
    members = 0

    def stop(why: str) -> None:  # an OSError in gunzip: the body ends here
        if produced:
            run.notes.append(f"gzip: {why}; the data before it is read, as Scrapy reads it")
        else:
            run.fail(f"gzip: {why}")

    def ended(why: str) -> None:  # an EOFError: the stream was cut
        if produced:
            run.cut(f"gzip: {why}")
        else:
            run.fail(f"gzip: {why}")

    while True:
        if members:
            inp.skip_zeros()
        magic = inp.take(2)
        if not magic:
            return
        if magic != b"\x1f\x8b":
            stop("bytes that are not a gzip member" if members else "not a gzip stream")
            return
        members += 1
        if members > MAX_MEMBERS:
            run.stop(f"gzip: more than {MAX_MEMBERS} members")
            return
        header = inp.take(8)
        if len(header) < 8:
            ended("the stream ends inside a member header")
            return
        method, flags = header[0], header[1]
        if method != 8:
            stop("unknown compression method")
            return
        if flags & _FEXTRA:
            xlen = inp.take(2)
            n = struct.unpack("<H", xlen)[0] if len(xlen) == 2 else -1
            if n < 0 or len(inp.take(n)) < n:
                ended("the stream ends inside a member header")
                return
        if flags & _FNAME:
            inp.skip_through(b"\x00")
        if flags & _FCOMMENT:
            inp.skip_through(b"\x00")
        if flags & _FHCRC and len(inp.take(2)) < 2:
            ended("the stream ends inside a member header")
            return
        d = zlib.decompressobj(-zlib.MAX_WBITS)
        held: list[bytes] = []  # the member's data, for its CRC
        size = 0
        while not d.eof:
            data = inp.some(_FEED)
            if not data:
                ended("the stream ends inside a member")
                return
            try:
                for out in _zfeed(d, data):
                    held.append(out)
                    size += len(out)
                    produced += len(out)
                    yield out
            except zlib.error as exc:
                run.fail(f"gzip: corrupt deflate data: {exc}")
                return
        inp.back(d.unused_data)
        trailer = inp.take(8)
        if len(trailer) < 8:
            ended("the stream ends inside a member trailer")
            return
        if produced and inp.at_end():
            # Nothing but padding follows: a failed check would end the body here all the
            # same, with the same bytes, so the CRC is not computed (the usual last member).
            return
        want_crc, want_size = struct.unpack("<II", trailer)
        crc = 0
        for out in held:
            crc = zlib.crc32(out, crc)
        if want_crc != crc:
            stop(f"CRC check failed in member {members}")
            return
        if want_size != size & 0xFFFFFFFF:
            stop(f"wrong data length in member {members}")
            return


def _zfeed(d: Any, data: bytes) -> Iterator[bytes]:
    """All that zlib decompressor ``d`` gives for ``data``, 64 KiB at a time (zlib.error propagates)."""
    while True:
        out = d.decompress(data, CHUNK)
        if out:
            yield out
        data = d.unconsumed_tail
        # Output short of the maximum with no input left: nothing is pending in zlib.
        if d.eof or (not data and len(out) < CHUNK):
            return


def _inflate(src: Iterator[bytes], run: _Run) -> Iterator[bytes]:
    """deflate as ``scrapy.utils._compression._inflate``: zlib wrapper, else raw deflate.

    Scrapy decodes the first 64 KiB with the zlib wrapper and starts again as raw
    deflate when that fails; an error later is not caught (no body at all).  The
    input of that first window is kept to start again; bytes after the stream
    are ignored; a stream without its end decodes to what it holds.
    """
    inp = _Input(src)
    seen: list[bytes] = []
    first = bytearray()
    d = zlib.decompressobj()
    data = b""
    try:
        # One decompress(body, max_length=64 KiB) call in Scrapy, fed here a slice at a time.
        while len(first) < CHUNK and not d.eof:
            data = inp.some(_FEED)
            if not data:
                break
            seen.append(data)
            while True:
                first += d.decompress(data, CHUNK - len(first))
                data = d.unconsumed_tail
                if not data or len(first) >= CHUNK or d.eof:
                    break
    except zlib.error:
        # Scrapy: "to work with raw deflate content that may be sent by microsoft servers"
        inp.prepend(b"".join(seen))
        yield from _inflate_rest(inp, zlib.decompressobj(-zlib.MAX_WBITS), run, b"", "deflate (raw)")
        return
    if first:
        yield bytes(first)
    if not d.eof:
        yield from _inflate_rest(inp, d, run, data, "deflate")


def _inflate_rest(inp: _Input, d: Any, run: _Run, data: bytes, what: str) -> Iterator[bytes]:
    try:
        yield from _zfeed(d, data)  # also what zlib still holds from a full first window
        while not d.eof:
            data = inp.some(_FEED)
            if not data:
                run.cut(f"{what}: the stream ends before its end")
                return
            yield from _zfeed(d, data)
    except zlib.error as exc:
        run.fail(f"{what}: corrupt data: {exc}")


def _unbrotli(src: Iterator[bytes], run: _Run) -> Iterator[bytes]:
    """br (RFC 7932) as ``scrapy.utils._compression._unbrotli``: one stream, errors not caught.

    Scrapy hands the decoder the whole body in one call, 64 KiB of output at a
    time: bytes after the stream fail that call unless its output filled first.
    The same call is made here on the first :data:`_BR_WINDOW` bytes (the whole
    body of any page), later input fed as it comes.
    """
    d = _brotli.Decompressor()
    window = bytearray()
    for data in src:
        window += data
        if len(window) >= _BR_WINDOW:
            break
    try:
        data = bytes(window)
        while data:
            if d.is_finished():
                run.fail("br: bytes after the end of the stream")
                return
            out = d.process(data, output_buffer_limit=CHUNK)
            if out:
                yield out
            while not d.can_accept_more_data():
                out = d.process(b"", output_buffer_limit=CHUNK)
                if not out:
                    break
                yield out
            data = next((c for c in src if c), b"")
        while not d.is_finished():  # input the decoder kept while its output was full
            out = d.process(b"", output_buffer_limit=CHUNK)
            if not out:
                break
            yield out
    except _BROTLI_ERRORS as exc:
        run.fail(f"br: corrupt data: {exc}")
        return
    if not d.is_finished():
        run.cut("br: the stream ends before its end")


_BR_WINDOW = 4 * 1024 * 1024


def _unzstd(src: Iterator[bytes], run: _Run, exact: bool = False) -> Iterator[bytes]:
    """zstd (RFC 8878) as ``scrapy.utils._compression._unzstd`` reads it through ``ZstdFile``.

    Every frame in turn; a stream that ends inside a frame decodes to what it
    holds (Scrapy catches the EOFError); a corrupt frame, or bytes after the
    last frame that start no valid one, raise in Scrapy (no body at all).

    ``exact``: give a step before the last exactly what Scrapy gives the next
    one.  Scrapy reads ``ZstdFile.read(65536)``, and a read cut by the end of
    the input loses what it had read: of a cut stream, Scrapy keeps whole
    64 KiB reads only.  The last step keeps everything (more text, never less).
    """
    inp = _Input(src)
    d = _zstd.ZstdDecompressor()
    frames = 1
    held = bytearray()  # exact: the read in progress
    try:
        while True:
            # compression._common._streams.DecompressReader.read, one step at a time.
            if d.eof:
                rest = d.unused_data
                if rest:
                    inp.back(rest)
                data = inp.some(_FEED)
                if not data:
                    if held:
                        yield bytes(held)
                    return
                frames += 1
                if frames > MAX_MEMBERS:
                    run.stop(f"zstd: more than {MAX_MEMBERS} frames")
                    return
                d = _zstd.ZstdDecompressor()
            elif d.needs_input:
                data = inp.some(_FEED)
                if not data:
                    run.cut("zstd: the stream ends inside a frame")
                    return
            else:
                data = b""
            out = d.decompress(data, CHUNK)
            if out and exact:
                held += out
                if len(held) >= CHUNK:
                    yield bytes(held[:CHUNK])
                    del held[:CHUNK]
            elif out:
                yield out
    except _ZSTD_ERRORS as exc:
        run.fail(f"zstd: corrupt data: {exc}")


_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_LINE_MAX = 4096


def _dechunk(src: Iterator[bytes], run: _Run) -> Iterator[bytes]:
    """The chunked transfer coding (RFC 9112 §7.1): chunk data up to the last chunk.

    A chunk-size line is hex digits, optional whitespace and extensions (§7.1.1);
    each chunk's data ends with CRLF (a bare LF is taken too, §2.2).  The
    trailer section is not read.
    """
    inp = _Input(src)
    while True:
        line = bytearray()
        ended = False
        while True:
            part = inp.some(_LINE_MAX)
            if not part:
                ended = True
                break
            nl = part.find(b"\n")
            if nl >= 0:
                line += part[:nl]
                inp.back(part[nl + 1 :])
                break
            line += part
            if len(line) > _LINE_MAX:
                run.fail("chunked: a chunk-size line longer than 4096 bytes")
                return
        size_text = bytes(line).split(b";", 1)[0].strip(b" \t\r")
        if ended and not line.strip():
            run.cut("chunked: the payload ends before the last chunk")
            return
        if not _HEX.fullmatch(size_text):
            run.fail(f"chunked: not a chunk size: {bytes(line[:40])!r}")
            return
        if ended:
            run.cut("chunked: the payload ends inside a chunk-size line")
            return
        size = int(size_text, 16)
        if size == 0:
            return
        while size:
            data = inp.some(min(size, CHUNK))
            if not data:
                run.cut("chunked: the payload ends inside a chunk")
                return
            size -= len(data)
            yield data
        end = inp.take(1)
        if end == b"\r":
            end = inp.take(1)
        if end != b"\n":
            if not end:
                run.cut("chunked: the payload ends inside a chunk")
            else:
                run.fail("chunked: chunk data not followed by CRLF")
            return


_Stage = Callable[[Iterator[bytes], _Run], Iterator[bytes]]
_STAGES: dict[str, tuple[_Stage, bool]] = {
    "gzip": (_gunzip, True),
    "x-gzip": (_gunzip, True),
    "deflate": (_inflate, True),
    "br": (_unbrotli, _brotli is not None),
    "zstd": (_unzstd, _zstd is not None),
}


def _pipeline(
    source: Iterator[bytes], codings: tuple[str, ...], chunked: bool, run: _Run, cap: int
) -> Iterator[bytes]:
    """The stages for ``codings`` (undone last first) over ``source``; the first unknown one stops it.

    As Scrapy, the codings after the last one it cannot undo are undone and the
    rest left: what decodes is kept, and the body is undecodable.
    """
    stream = _dechunk(source, run) if chunked else source
    todo = [c for c in codings if c != "identity"]  # RFC 9110 §8.4.1: no coding
    if len(todo) > MAX_CODINGS:
        run.fail(f"more than {MAX_CODINGS} content codings")
        return iter(())
    for n, coding in enumerate(reversed(todo)):
        entry = _STAGES.get(coding)
        if entry is None or not entry[1]:
            why = "no decoder installed for" if entry is not None else "unsupported"
            run.fail(f"{why} content coding {coding!r}")
            break
        if n:  # the previous stage's output is an intermediate step
            stream = _capped(stream, run, todo[len(todo) - n], cap)
        if coding == "zstd" and n < len(todo) - 1:
            stage: _Stage = _exact_zstd
        else:
            stage = entry[0]
        stream = stage(stream, run) if not (n or chunked) else _draining(stage, stream, run)
    return stream


def _exact_zstd(src: Iterator[bytes], run: _Run) -> Iterator[bytes]:
    return _unzstd(src, run, exact=True)


def _draining(stage: _Stage, src: Iterator[bytes], run: _Run) -> Iterator[bytes]:
    """``stage`` over ``src``, then the rest of ``src`` read to its end.

    Scrapy undoes each coding in full before the next: a step before ends cut or
    corrupt even when the stream inside it ends first, and the body is not whole.
    """
    yield from stage(src, run)
    for _ in src:
        pass


class StreamDecoder:
    """Decoded bytes of a body pulled from ``source``, a chunk at a time.

    ``read()`` returns the next decoded bytes (at most 64 KiB), ``b""`` at the
    end; :meth:`state` then says how the body ended.  ``cap`` bounds each step
    before the last (see :func:`step_cap`); the caller bounds the last by how
    much it reads.
    """

    def __init__(
        self,
        source: Iterable[bytes],
        codings: tuple[str, ...],
        *,
        chunked: bool = False,
        cap: int = 4 * 1024 * 1024,
    ) -> None:
        self._run = _Run()
        self._stages = _pipeline(iter(source), codings, chunked, self._run, cap)
        self.ended = False

    def read(self) -> bytes:
        if self.ended:
            return b""
        for chunk in self._stages:
            if chunk:
                return chunk
        self.ended = True
        return b""

    def state(self) -> tuple[State, str]:
        """How the body ended (State.LIMIT while it has not)."""
        run = self._run
        if run.error:
            return State.UNDECODABLE, run.error
        if run.limit:
            return State.LIMIT, run.limit
        if not self.ended:
            return State.LIMIT, "stopped at the byte budget"
        if run.truncated:
            return State.TRUNCATED, run.truncated
        return State.WHOLE, "; ".join(run.notes)


def decode(
    body: bytes,
    codings: str | bytes | Iterable[str | bytes] | None,
    limit: int,
    *,
    chunked: bool = False,
) -> Decoded:
    """The first ``limit`` bytes of ``body`` with its codings undone, and how they end.

    ``codings`` are ``Content-Encoding`` field values (or already parsed codings);
    ``chunked`` undoes the chunked transfer coding first.
    """
    todo = parse_codings(codings) if codings is not None else ()
    if not chunked and all(c == "identity" for c in todo):
        if len(body) <= limit:
            return Decoded(body, State.WHOLE)
        return Decoded(body[:limit], State.LIMIT, "stopped at the byte budget")
    dec = StreamDecoder((body,), todo, chunked=chunked, cap=step_cap(limit))
    chunks: list[bytes] = []
    size = 0
    while size <= limit:  # one byte past the limit tells "the body goes on"
        chunk = dec.read()
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    state, detail = dec.state()
    out = b"".join(chunks)  # one chunk (the usual page) is not copied
    if size > limit:
        out = out[:limit]
        if state is State.WHOLE or state is State.TRUNCATED:
            state, detail = State.LIMIT, "stopped at the byte budget"
    return Decoded(out, state, detail)


# --- bounded reads of a body: the page reader's source -------------------------------------------

# Where an HTML head ends at the latest: a prefix holding one of these has the whole head.
HEAD_END = re.compile(rb"</head|<body", re.IGNORECASE)


class BodyReader(Protocol):
    """Decoded, bounded, growing reads of one body (what :func:`noai_guard.engine.read_page` reads)."""

    HEAD_END: re.Pattern[bytes]
    decoding: bool  # a coding is undone
    streaming: bool  # the body comes from a stream: read it a prefix at a time
    cut: bool  # the transport lost bytes: its end is not the body's end
    eof: bool  # nothing more to read

    @property
    def state(self) -> tuple[State, str]: ...

    def read_until(self, limit: int, stop: re.Pattern[bytes] | None = None, first: int = 16384) -> bytes: ...


class PayloadReader:
    """Decoded, bounded reads of an HTTP body, from a stream (a WARC record) or from memory (a crawl).

    The chunked transfer coding first, then the content codings of every
    ``Content-Encoding`` field line, undone last first (RFC 9110 §8.4), by
    :class:`StreamDecoder`: the crawl and the audit read a page with the same
    code.  A body that does not decode is undecodable (:attr:`state`), never
    read as the stored bytes; a stream cut short is not a whole body, and
    neither is one whose transport lost bytes (``cut``: Scrapy's ``dataloss``).
    """

    HEAD_END = HEAD_END

    def __init__(
        self,
        reader: Any,
        headers: Iterable[tuple[str, str]] = (),
        *,
        codings: tuple[str, str] | None = None,
        limit: int = 512 * 1024,
        cut: bool = False,
        streaming: bool = True,
    ) -> None:
        """``reader`` has ``read(n)``; ``codings``: the (Transfer-Encoding, Content-Encoding)
        values, when already known, else read from ``headers``.

        ``limit``: the most the caller reads; each step before the last is
        bounded by :func:`step_cap` of it.  ``streaming=False``: the body is in
        memory (a crawl's response), read to the budget at once.
        """
        self.reader = reader
        if codings is None:
            te_lines: list[str] = []
            ce_lines: list[str] = []
            for k, v in headers:
                lk = k.lower()
                if lk == "transfer-encoding":
                    te_lines.append(v)
                elif lk == "content-encoding":
                    ce_lines.append(v)
            te, ce = ", ".join(te_lines), ", ".join(ce_lines)
        else:
            te, ce = codings
        self._decoder: StreamDecoder | None = None
        if te or ce:  # the common case, an unencoded payload, sets up no decoder
            chunked = is_chunked(te)
            todo = parse_codings(ce)
            if chunked or any(c != "identity" for c in todo):
                self._decoder = StreamDecoder(self._stored(), todo, chunked=chunked, cap=step_cap(limit))
        self.decoding = self._decoder is not None
        self.streaming = streaming
        self.cut = cut
        self.out: bytes | bytearray = bytearray()  # what was read (the first read is kept as it is)
        self._owned = True  # ``out`` is this reader's own buffer, not the first read's object
        self.eof = False  # nothing more to read

    def _stored(self) -> Iterator[bytes]:
        step = 16384
        while data := self.reader.read(step):
            yield data
            step = min(step * 2, 256 * 1024)

    @property
    def state(self) -> tuple[State, str]:
        """How what was read relates to the whole payload (see :class:`State`)."""
        if self._decoder is not None:
            state, detail = self._decoder.state()
        else:
            state, detail = (State.WHOLE, "") if self.eof else (State.LIMIT, "stopped at the byte budget")
        if self.cut and state is State.WHOLE:
            return State.TRUNCATED, "the body was cut short (dataloss)"
        return state, detail

    @property
    def whole(self) -> bool:
        """All of the payload was read, and it decoded whole."""
        return self.eof and self.state[0] is State.WHOLE

    def read_until(self, limit: int, stop: re.Pattern[bytes] | None = None, first: int = 16384) -> bytes:
        """Decoded bytes up to ``limit`` (the whole payload when shorter); ``stop`` ends early."""
        out = self.out
        if self._decoder is not None:
            while len(out) < limit and not self.eof:
                prev = len(out)
                decoded = self._decoder.read()
                if not decoded:
                    self.eof = True
                    break
                out += decoded
                if stop is not None and _found(stop, out, max(0, prev - 16)):
                    break
            return _prefix(out, limit)
        if stop is None and self.streaming:
            return self._read_to(limit)
        # In steps from ``first`` when a stop pattern may end the read early; else what is
        # missing up to ``limit`` in one read (no buffer to grow, nothing to search).
        step = first if self.streaming and stop is not None else max(limit - len(out), 1)
        while len(out) < limit and not self.eof:
            prev = len(out)
            data: bytes = self.reader.read(step)
            step = min(step * 2, 256 * 1024)
            if not data:
                self.eof = True
                break
            if not out:
                # The first read: when it is enough (the common case), return it as it is,
                # not copied (into a growing buffer only if a later read adds to it).
                self.out = out = data
                self._owned = False
                if not self.streaming and len(data) < limit:
                    self.eof = True  # an in-memory body shorter than the read is all there is
                if len(data) >= limit or self.eof or (stop is not None and _found(stop, data, 0)):
                    return data[:limit] if len(data) > limit else data
                continue
            if not self._owned:
                self.out = out = bytearray(out)
                self._owned = True
            out += data
            if stop is not None and _found(stop, out, max(0, prev - 16)):
                break
        return _prefix(out, limit)


    def _read_to(self, limit: int) -> bytes:
        """A stream's bytes up to ``limit``: what is missing asked for at once, the reads joined once.

        The bytes and ``eof`` of the stepped loop (a read returning nothing ends
        the stream); a later call goes on from here.
        """
        out = self.out
        have = len(out)
        if have >= limit or self.eof:
            return _prefix(out, limit)
        chunks: list[bytes | bytearray] = [out] if have else []
        while have < limit:
            data: bytes = self.reader.read(limit - have)
            if not data:
                self.eof = True
                break
            chunks.append(data)
            have += len(data)
        first = chunks[0] if chunks else b""
        joined = first if len(chunks) == 1 and isinstance(first, bytes) else b"".join(chunks)
        self.out, self._owned = joined, False  # a later read copies it into a buffer first
        return joined


def _prefix(out: bytes | bytearray, limit: int) -> bytes:
    """``bytes(out[:limit])`` with one copy at most (none for ``bytes`` no longer than ``limit``)."""
    if len(out) <= limit:
        return out if type(out) is bytes else bytes(out)
    return bytes(memoryview(out)[:limit])


def _found(stop: re.Pattern[bytes], buf: bytes | bytearray, start: int) -> bool:
    """``stop.search(buf, start)``, tried first as plain lower-case finds for the head end."""
    if stop is HEAD_END and (buf.find(b"</head", start) >= 0 or buf.find(b"<body", start) >= 0):
        return True
    return stop.search(buf, start) is not None
