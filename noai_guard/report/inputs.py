"""Internal: finding and streaming the audit trails a report is built from.

Arguments may be files, directories (every ``*.jsonl`` / ``*.jsonl.gz`` below
them) or glob patterns; the expansion is sorted and de-duplicated so the same
arguments always give the same input order.  Each file is hashed (SHA-256)
while it is read, so the hash in the manifest is of exactly the bytes that
were counted.  Lines are read one at a time: memory does not grow with the
size of a trail.

A run summary holds one entry per origin, so for a large crawl it is one
very long line.  Such a line (over :data:`LAZY_LINE` bytes) is not turned
into one big dict: its ``origins`` member is left as a :class:`LazyObject`
that decodes one origin at a time, so memory is bounded by the length of the
longest line rather than by the size of its parsed form.

Bad lines follow :func:`noai_guard.auditlog.read_audit`: a torn last line (a
crash mid-write) and any other unreadable line are skipped, but here they are
also counted per file, because a reviewer needs to know.  A ``.jsonl.gz``
whose gzip stream is cut (it ends before its end-of-stream marker) is read as
far as it goes and marked ``cut``; corrupt gzip data makes the file unreadable
(:class:`InputError`, one line).

Text that is not valid Unicode, a lone surrogate written as a JSON ``\\udXXX``
escape (for instance a URL from a feed that held one), cannot be written as
UTF-8: every string of such a record is given with that character as the
six-character text ``\\udXXX`` (Python's ``backslashreplace``), the same in
every output format, and the record is counted (``escaped_records``).
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRAIL_SUFFIXES: tuple[str, ...] = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
#: Lines longer than this (bytes) that hold an ``origins`` member are decoded lazily.
LAZY_LINE = 1 << 20
_LAZY_MEMBER = "origins"
_GLOB_CHARS = frozenset("*?[")


class InputError(Exception):
    """An input argument that names no readable trail (one line for the CLI)."""


@dataclass
class InputFile:
    """One trail file and what reading it found."""

    path: str
    sha256: str = ""
    size: int = 0
    records: int = 0
    bad_lines: int = 0
    torn_lines: int = 0
    foreign_records: int = 0  # JSON objects of another schema, ignored
    escaped_records: int = 0  # records with text that is not valid Unicode, escaped
    cut: str | None = None  # why reading stopped before the end (a cut gzip stream)
    by_type: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": clean_text(self.path),
            "sha256": self.sha256,
            "bytes": self.size,
            "records": self.records,
            "bad_lines": self.bad_lines,
            "torn_lines": self.torn_lines,
            "foreign_records": self.foreign_records,
            "escaped_records": self.escaped_records,
            "cut": self.cut,
        }


def clean_text(s: str) -> str:
    """``s`` with each lone surrogate (not encodable as UTF-8) as the text ``\\udXXX``."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def clean(obj: Any) -> Any:
    """:func:`clean_text` applied to every string (keys too) of a decoded JSON value."""
    if isinstance(obj, str):
        return clean_text(obj)
    if isinstance(obj, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [clean(v) for v in obj]
    return obj


# A ``\\uD800``-``\\uDFFF`` escape: the only way a trail line can hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def expand_inputs(args: list[str]) -> list[str]:
    """Expand files, directories and globs into a sorted, de-duplicated file list.

    Raises :class:`InputError` for an argument that matches nothing readable.
    """
    out: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for arg in args:
        if os.path.isdir(arg):
            found = sorted(
                str(p) for p in Path(arg).rglob("*") if p.is_file() and p.name.endswith(TRAIL_SUFFIXES)
            )
            if not found:
                raise InputError(f"{arg}: directory holds no audit trail (*.jsonl, *.jsonl.gz)")
            for p in found:
                add(p)
        elif _GLOB_CHARS & set(arg) and not os.path.exists(arg):
            matches = sorted(m for m in glob.glob(arg, recursive=True) if os.path.isfile(m))
            if not matches:
                raise InputError(f"{arg}: pattern matches no file")
            for m in matches:
                add(m)
        elif os.path.isfile(arg):
            if not os.access(arg, os.R_OK):
                raise InputError(f"{arg}: permission denied")
            add(arg)
        elif os.path.exists(arg):
            raise InputError(f"{arg}: not a regular file")
        else:
            raise InputError(f"{arg}: no such file")
    return out


class _HashingReader(io.RawIOBase):
    """A raw reader that hashes and counts every byte that passes through."""

    def __init__(self, fh: io.FileIO) -> None:
        self._fh = fh
        self.hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._fh.readinto(b)
        if n:
            view = memoryview(b)[:n]
            self.hash.update(view)
            self.size += n
        return n or 0

    def drain(self) -> None:
        while True:
            chunk = self._fh.read(1 << 20)
            if not chunk:
                return
            self.hash.update(chunk)
            self.size += len(chunk)


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def iter_records(inp: InputFile, *, schema_prefix: str = "noai-guard-audit/") -> Iterator[dict[str, Any]]:
    """Yield the trail records of one file, counting bad and foreign lines.

    Fills ``inp.sha256`` and ``inp.size`` once the file has been read to the
    end (the generator must be exhausted).  Raises :class:`InputError` when
    the file cannot be opened or its gzip data is corrupt; a cut gzip stream
    is read as far as it goes and noted in ``inp.cut``.
    """
    try:
        gz = _is_gzip(inp.path)
        raw_fh = open(inp.path, "rb", buffering=0)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"{clean_text(inp.path)}: {exc.strerror or exc}") from None
    raw = _HashingReader(raw_fh)
    stream: io.BufferedIOBase
    try:
        buffered = io.BufferedReader(raw, buffer_size=1 << 20)
        stream = gzip.GzipFile(fileobj=buffered, mode="rb") if gz else buffered
        lines = _lines(stream, inp)
        prev: bytes | None = next(lines, None)
        while prev is not None:
            cur = next(lines, None)
            line = prev
            prev = cur
            if not line.strip():
                continue
            obj: object
            try:
                if len(line) > LAZY_LINE and b'"origins"' in line:
                    obj = _lazy_loads(line)
                else:
                    obj = json.loads(line)
            except (ValueError, RecursionError, IndexError):
                obj = None
            if not isinstance(obj, dict):
                if cur is None and not line.endswith(b"\n"):
                    inp.torn_lines += 1
                else:
                    inp.bad_lines += 1
                continue
            if _SURROGATE_ESCAPE.search(line) is not None:
                fixed: dict[str, Any] = clean(obj)
                if fixed != obj:
                    inp.escaped_records += 1
                for v in fixed.values():
                    if isinstance(v, LazyObject):
                        v.escape = True
                obj = fixed
            schema = obj.get("schema")
            if not isinstance(schema, str) or not schema.startswith(schema_prefix):
                inp.foreign_records += 1
                continue
            inp.records += 1
            t = obj.get("type")
            key = t if isinstance(t, str) and t in ("run", "decision", "summary") else "other"
            inp.by_type[key] = inp.by_type.get(key, 0) + 1
            line = b""  # drop the raw bytes of a long line while its record is processed
            yield obj
        raw.drain()
    except zlib.error as exc:
        raise InputError(f"{clean_text(inp.path)}: corrupt gzip data ({exc}); not a readable trail") from None
    except gzip.BadGzipFile as exc:
        raise InputError(f"{clean_text(inp.path)}: corrupt gzip file ({exc}); not a readable trail") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{clean_text(inp.path)}: cannot read: {exc}") from None
    finally:
        raw_fh.close()
    inp.sha256 = raw.hash.hexdigest()
    inp.size = raw.size


def _lines(stream: io.BufferedIOBase, inp: InputFile) -> Iterator[bytes]:
    """The lines of a trail; a gzip stream cut before its end (RFC 1952 §2.2) ends them, noted in ``inp.cut``."""
    it = iter(stream)
    got = 0
    while True:
        try:
            line = next(it)
        except StopIteration:
            return
        except EOFError:
            inp.cut = (
                f"the gzip stream is cut (it ends before its end-of-stream marker): read as far as it "
                f"goes, {got:,} decompressed bytes; records after them are missing"
            )
            return
        got += len(line)
        yield line


# --- lazy decoding of long lines -------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _ws(s: str, i: int) -> int:
    """Index of the first non-whitespace character at or after ``i``."""
    m = _WS.match(s, i)
    return m.end() if m else i


class LazyObject:
    """A JSON object inside a long line, decoded one member at a time by :meth:`items`."""

    __slots__ = ("_start", "_text", "escape")

    def __init__(self, text: str, start: int) -> None:
        self._text = text
        self._start = start
        self.escape = False  # set when the line holds a surrogate escape: :func:`clean` each item

    def items(self) -> Iterator[tuple[str, Any]]:
        for k, v, _ in _members(self._text, self._start):
            yield (clean_text(k), clean(v)) if self.escape else (k, v)

    def materialize(self) -> dict[str, Any]:
        obj: dict[str, Any] = _DECODER.raw_decode(self._text, self._start)[0]
        return clean(obj) if self.escape else obj


def _members(s: str, i: int) -> Iterator[tuple[str, Any, int]]:
    """Members of the JSON object at ``s[i]``: (key, value, index after the value).

    The last item's index is the one after the closing brace (value None).
    Raises ValueError / IndexError on malformed input.
    """
    if s[i] != "{":
        raise ValueError("not an object")
    i = _ws(s, i + 1)
    if s[i] == "}":
        return
    while True:
        if s[i] != '"':
            raise ValueError("expected a key")
        k, i = _DECODER.raw_decode(s, i)
        i = _ws(s, i)
        if s[i] != ":":
            raise ValueError("expected ':'")
        i = _ws(s, i + 1)
        v, i = _DECODER.raw_decode(s, i)
        i = _ws(s, i)
        yield k, v, i
        if s[i] == ",":
            i = _ws(s, i + 1)
            continue
        if s[i] == "}":
            return
        raise ValueError("expected ',' or '}'")


def _skip_object(s: str, i: int) -> int:
    """Index after the JSON object at ``s[i]`` (each member decoded and dropped)."""
    end = _ws(s, i + 1)
    for member in _members(s, i):
        end = member[2]
    if s[end] != "}":
        raise ValueError("unterminated object")
    return end + 1


def _lazy_loads(line: bytes) -> dict[str, Any] | None:
    """Decode a long line; its ``origins`` object (if any) becomes a :class:`LazyObject`."""
    s = line.decode("utf-8")
    i = _ws(s, 0)
    if s[i] != "{":
        return None
    out: dict[str, Any] = {}
    j = _ws(s, i + 1)
    if s[j] == "}":
        return out
    while True:
        if s[j] != '"':
            raise ValueError("expected a key")
        k, j = _DECODER.raw_decode(s, j)
        j = _ws(s, j)
        if s[j] != ":":
            raise ValueError("expected ':'")
        j = _ws(s, j + 1)
        if k == _LAZY_MEMBER and s[j] == "{":
            out[k] = LazyObject(s, j)
            j = _skip_object(s, j)
        else:
            out[k], j = _DECODER.raw_decode(s, j)
        j = _ws(s, j)
        if s[j] == ",":
            j = _ws(s, j + 1)
            continue
        if s[j] == "}":
            break
        raise ValueError("expected ',' or '}'")
    if s[j + 1 :].strip():
        raise ValueError("extra data")
    if out.get("type") != "summary" and isinstance(out.get(_LAZY_MEMBER), LazyObject):
        out[_LAZY_MEMBER] = out[_LAZY_MEMBER].materialize()
    return out
