"""The audit trail: one JSON object per line, written so a crash loses no decision.

Only this module writes and reads the trail, so the middleware, the offline
audit and the report share one schema (``SCHEMA``, documented in the README).

Record types (field ``type``):

- ``run``: written when a trail is opened: run id, tool version, mode, policy.
- ``decision``: one per skipped / dropped / flagged URL (and, when asked, per
  allowed URL), derived from a :class:`~noai_guard.decision.Decision`.
- ``summary``: written at close: the policy and per-origin counts.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import stat
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from . import __version__
from .decision import Decision

logger = logging.getLogger(__name__)

SCHEMA = "noai-guard-audit/1"
TOOL = "noai-guard"

# Actions: what was done with the URL.
SKIPPED = "skipped"  # blocked before the fetch
DROPPED = "dropped"  # blocked after the fetch, before anything else saw the response
FLAGGED = "flagged"  # would have been blocked; audit-only mode or an after-the-fact audit
ALLOWED = "allowed"  # let through (recorded for unknown outcomes resolved to allow)
ACTIONS = (SKIPPED, DROPPED, FLAGGED, ALLOWED)

# Phases: when the decision was taken.
PRE_FETCH = "pre-fetch"
POST_FETCH = "post-fetch"
AFTER_THE_FACT = "after-the-fact"


def utcnow() -> str:
    """UTC time, ISO 8601 with milliseconds and a ``Z``."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id() -> str:
    return uuid.uuid4().hex


def decision_record(
    decision: Decision,
    *,
    action: str,
    phase: str,
    run_id: str,
    mode: str = "crawl",
    time: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The audit record for a decision: the deciding signal flattened, all signals kept."""
    s = decision.decided_by
    rec: dict[str, Any] = {
        "schema": SCHEMA,
        "type": "decision",
        "time": time or utcnow(),
        "run_id": run_id,
        "tool": TOOL,
        "version": __version__,
        "mode": mode,
        "phase": phase,
        "url": decision.url,
        "purpose": decision.purpose,
        "verdict": decision.verdict.value,
        "blocked": decision.blocked,
        "action": action,
        "signal": None if s is None else s.name,
        "evidence": None if s is None else s.evidence,
        "evidence_url": None if s is None else s.source,
        "location": None if s is None else s.location,
        "line": None if s is None else s.line,
        "scope": None if s is None else s.scope,
        "user_agent": None if s is None else s.user_agent,
        "own_token": None if s is None else s.own_token,
        "reason": decision.reason,
        "resolution": decision.resolution,
        "policy_hash": decision.policy_hash,
        "signals": [x.to_dict() for x in decision.signals],
    }
    rec.update(extra)
    return rec


def run_record(*, run_id: str, mode: str, policy: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "type": "run",
        "time": utcnow(),
        "run_id": run_id,
        "tool": TOOL,
        "version": __version__,
        "mode": mode,
        "policy": policy,
        **extra,
    }


def summary_record(
    *, run_id: str, mode: str, policy: dict[str, Any], origins: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "type": "summary",
        "time": utcnow(),
        "run_id": run_id,
        "tool": TOOL,
        "version": __version__,
        "mode": mode,
        "policy": policy,
        "origins": origins,
        **extra,
    }


def expand_uri(uri: str, **params: Any) -> str:
    """Fill ``%(name)s`` / ``%(time)s`` placeholders, as Scrapy's FEEDS URIs do."""
    if "%(" not in uri:
        return uri
    values = {"time": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ"), **params}
    return uri % values


_ORJSON_OPTS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def dumps_line(record: dict[str, Any]) -> bytes:
    """One trail line: compact UTF-8 JSON and a newline.

    orjson writes a blocked page's record in a tenth of the time ``json`` takes.
    Text it cannot encode as UTF-8 (a lone surrogate from a badly decoded URL)
    falls back to ``json`` with ASCII escapes, so a record is never lost to it.
    """
    try:
        return orjson.dumps(record, default=str, option=_ORJSON_OPTS)
    except TypeError:  # orjson.JSONEncodeError
        return (json.dumps(record, ensure_ascii=True, separators=(",", ":"), default=str) + "\n").encode()


def unwritable(path: str | os.PathLike[str]) -> str | None:
    """Why a trail could not be created or appended to at ``path``, or ``None``.

    Looks only (``stat`` / ``access``), creates nothing: the path must not be a
    directory, and the nearest existing ancestor must be a directory the
    process may create entries in.  A device that accepts the open but not the
    writes (``/dev/full``, a full disk) passes: that is found at the first write.
    """
    p = Path(path).absolute()  # not normalised: "file/../x" fails as the open would
    for node in (p, *p.parents):
        try:
            st = node.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue  # missing (created by open), or under a file (found further up)
        except OSError as exc:  # EACCES on a parent, ELOOP, ...
            return f"{node}: {exc.strerror or exc}"
        if node == p:
            if stat.S_ISDIR(st.st_mode):
                return "it is a directory"
            return None if os.access(node, os.W_OK) else "permission denied"
        if not stat.S_ISDIR(st.st_mode):
            return f"{node} is not a directory"
        if not os.access(node, os.W_OK | os.X_OK):
            return f"cannot create files in {node}: permission denied"
        return None
    return None  # pragma: no cover - the root directory exists


class JsonLinesAuditLog:
    """Append-only JSON-lines trail.

    Each record is written and flushed before the caller acts on the decision,
    so it reaches the OS even if the process is killed next; with ``fsync`` it
    also reaches the disk before a power loss.  After a failed write the trail
    is :attr:`broken`: later writes raise the same error without touching the
    file, so no line is written after a lost one (or torn by a retried flush).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.records = 0
        self.errors = 0
        self.broken: OSError | None = None
        self._fh: IO[bytes] | None = None

    def open(self) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")  # noqa: SIM115 - kept open for the run

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` and flush it; raises OSError if it could not be written."""
        if self.broken is not None:
            self.errors += 1
            # A new exception each time (re-raising one instance would grow its traceback).
            raise OSError(self.broken.errno, f"{self.broken.strerror} (an earlier write failed)")
        if self._fh is None:
            self.open()
        assert self._fh is not None
        line = dumps_line(record)
        try:
            self._fh.write(line)
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())
        except OSError as exc:
            self.errors += 1
            self.broken = exc
            raise
        self.records += 1

    def close(self) -> None:
        """Close the file; raises OSError if buffered bytes cannot be flushed (the handle is released)."""
        fh, self._fh = self._fh, None
        if fh is not None:
            if self.broken is not None:
                # What is left to flush is the record that already failed, reported then.
                with contextlib.suppress(OSError):
                    fh.close()
                return
            fh.close()

    def __enter__(self) -> JsonLinesAuditLog:  # noqa: PYI034 - Self needs Python 3.11
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TrailReadError(ValueError):
    """A trail that cannot be read (one line, with file and line): a line that is not
    a JSON object (with ``strict``), or corrupt gzip data."""


def read_audit(path: str | os.PathLike[str], *, strict: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the records of a trail: JSON lines, plain or gzip-compressed (known by content).

    A torn last line (a crash mid-write) is skipped with a warning; a bad line
    elsewhere is skipped and logged too, or raises with ``strict``.  A gzip
    stream cut before its end is read as far as it goes, with a warning;
    corrupt gzip data raises :class:`TrailReadError`.
    """
    p = Path(path)
    with open(p, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
        lines = _gzip_lines(fh, p) if gz else iter(fh)
        prev: bytes | None = next(lines, None)
        lineno = 0
        while prev is not None:
            lineno += 1
            cur = next(lines, None)
            raw = prev
            prev = cur
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
                if not isinstance(obj, dict):
                    raise TypeError("not a JSON object")
            except (ValueError, TypeError) as exc:
                torn = cur is None and not raw.endswith(b"\n")
                if torn:
                    logger.warning("%(path)s: skipping torn last line %(line)d", {"path": p, "line": lineno})
                    continue
                if strict:
                    raise TrailReadError(f"{p}:{lineno}: {exc}") from exc
                logger.warning("%(path)s:%(line)d: skipping unreadable line", {"path": p, "line": lineno})
                continue
            yield obj


def _gzip_lines(fh: IO[bytes], p: Path) -> Iterator[bytes]:
    """The lines of a gzip trail; a cut stream ends them (warned), corrupt data raises."""
    import gzip
    import zlib

    it = iter(gzip.GzipFile(fileobj=fh, mode="rb"))
    n = 0
    while True:
        try:
            line = next(it)
        except StopIteration:
            return
        except EOFError:  # RFC 1952: the stream ends before its end-of-stream marker
            logger.warning(
                "%(path)s: the gzip stream is cut after line %(line)d: read as far as it goes",
                {"path": p, "line": n},
            )
            return
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise TrailReadError(f"{p}: corrupt gzip data after line {n}: {exc}") from None
        n += 1
        yield line


def write_all(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    n = 0
    with JsonLinesAuditLog(path) as log:
        for r in records:
            log.write(r)
            n += 1
    return n
