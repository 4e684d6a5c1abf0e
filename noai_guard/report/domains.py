"""Internal: per-registrable-domain counters in bounded memory.

Registrable domains ("eTLD+1") come from the Public Suffix List bundled with
the ``publicsuffixlist`` package, loaded from its packaged file (never
downloaded).  IP literals, ``localhost`` and bare public suffixes stand for
themselves.

Counts are exact for every domain.  Up to ``buffer_domains`` domains are
counted in a dict; when it fills, the buffer is added into an on-disk SQLite
table (``INSERT ... ON CONFLICT DO UPDATE``) in a temporary directory and
cleared.  Memory is bounded by the buffer, whatever the number of domains;
the top-N queries and the full ``domains.csv`` are then read back from SQLite
in sorted order without loading the table.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from importlib import metadata
from typing import Any

from .. import decision as d

#: Fixed per-domain counter columns (the CSV's column order).
COUNTERS: tuple[str, ...] = (
    "evaluated",  # from run summaries
    "allowed",  # from run summaries
    "skipped",  # from run summaries
    "dropped",  # from run summaries
    "flagged",  # from run summaries
    "decisions",  # decision records
    "blocked",  # decision records with blocked = true
    "records_skipped",  # decision records by action
    "records_dropped",
    "records_flagged",
    "records_allowed",
    "unknown",  # verdict unknown
    "unknown_to_reserve",
    "unknown_to_allow",
    "own_token_rules",  # the deciding rule named the crawler's own token
    "other_agent_rules",  # the deciding rule named another agent (own_token false)
    "robots_fetch_failures",  # robots.txt fetches with 5xx / network error, from summaries
)
SIGNAL_COLUMNS: tuple[str, ...] = (*d.SIGNALS, "other")
_SIG_COL = {name: "sig_" + name.replace("-", "_") for name in SIGNAL_COLUMNS}
SIGNAL_COLUMN_NAMES: tuple[str, ...] = tuple(_SIG_COL[s] for s in SIGNAL_COLUMNS)
_ALL = (*COUNTERS, *SIGNAL_COLUMN_NAMES)
_IDX = {c: i for i, c in enumerate(_ALL)}
_N = len(_ALL)
_FIRST = _N  # index of first_seen in a buffer row
_LAST = _N + 1


@functools.lru_cache(maxsize=1)
def _psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    # The constructor reads the list shipped inside the package; it has no
    # network code path (updates need the separate ``update`` module).
    return PublicSuffixList()


def psl_version() -> str:
    """The installed publicsuffixlist package version (its last part is the list's date)."""
    try:
        return metadata.version("publicsuffixlist")
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        return "unknown"


@functools.lru_cache(maxsize=16384)
def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` (lower-cased), or the host itself when there is none."""
    h = host.strip().strip(".").lower()
    if not h:
        return "(no host)"
    if h[-1].isdigit() or ":" in h:
        try:
            ipaddress.ip_address(h.strip("[]"))
            return h
        except ValueError:
            pass
    try:
        r = _psl().privatesuffix(h)
    except Exception:  # noqa: BLE001 - hostile input must never stop a report
        r = None
    return r if isinstance(r, str) and r else h


_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


def domain_of_url(url: object) -> str:
    """Registrable domain of a URL (``(no host)`` when it has none)."""
    if not isinstance(url, str):
        return "(no host)"
    m = _AUTHORITY.match(url)
    return _domain_of_authority(m.group(1)) if m else "(no host)"


@functools.lru_cache(maxsize=16384)
def _domain_of_authority(netloc: str) -> str:
    host = netloc.rpartition("@")[2]
    if host.startswith("["):  # IPv6 literal, maybe with a port
        end = host.find("]")
        host = host[: end + 1] if end > 0 else ""
    else:
        name, sep, port = host.rpartition(":")
        if sep and (port.isdigit() or not port):
            host = name
    return registrable_domain(host) if host else "(no host)"


def signal_column(signal: str) -> str:
    return _SIG_COL.get(signal, _SIG_COL["other"])


class DomainTable:
    """Exact per-domain counters, spilled to SQLite beyond ``buffer_domains`` domains."""

    def __init__(self, *, buffer_domains: int = 20000, tmpdir: str | None = None) -> None:
        self.buffer_domains = buffer_domains
        self._buf: dict[str, list[Any]] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="noai-guard-report-", dir=tmpdir)
        self._db = sqlite3.connect(os.path.join(self._tmp.name, "domains.sqlite"))
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        cols = ", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in _ALL)
        self._db.execute(
            f"CREATE TABLE dom (domain TEXT PRIMARY KEY, {cols}, first_seen TEXT, last_seen TEXT)"
        )
        self.spills = 0

    def _row(self, domain: str) -> list[Any]:
        row = self._buf.get(domain)
        if row is None:
            if len(self._buf) >= self.buffer_domains:
                self.flush()
            row = [0] * _N + [None, None]
            self._buf[domain] = row
        return row

    def add(self, domain: str, counts: dict[str, int], time: str | None = None) -> None:
        row = self._row(domain)
        for k, v in counts.items():
            row[_IDX[k]] += v
        if time is not None:
            if row[_FIRST] is None or time < row[_FIRST]:
                row[_FIRST] = time
            if row[_LAST] is None or time > row[_LAST]:
                row[_LAST] = time

    def flush(self) -> None:
        if not self._buf:
            return
        cols = ", ".join(_ALL)
        marks = ", ".join("?" for _ in range(_N + 3))
        upd = ", ".join(f"{c} = {c} + excluded.{c}" for c in _ALL)
        sql = (
            f"INSERT INTO dom (domain, {cols}, first_seen, last_seen) VALUES ({marks}) "
            f"ON CONFLICT(domain) DO UPDATE SET {upd}, "
            "first_seen = CASE WHEN first_seen IS NULL OR excluded.first_seen < first_seen "
            "THEN COALESCE(excluded.first_seen, first_seen) ELSE first_seen END, "
            "last_seen = CASE WHEN last_seen IS NULL OR excluded.last_seen > last_seen "
            "THEN COALESCE(excluded.last_seen, last_seen) ELSE last_seen END"
        )
        with self._db:
            self._db.executemany(sql, ((k, *v) for k, v in self._buf.items()))
        self._buf.clear()
        self.spills += 1

    def count(self) -> int:
        self.flush()
        n: int = self._db.execute("SELECT COUNT(*) FROM dom").fetchone()[0]
        return n

    def count_where(self, where: str) -> int:
        self.flush()
        n: int = self._db.execute(f"SELECT COUNT(*) FROM dom WHERE {where}").fetchone()[0]
        return n

    def rows(
        self, *, order: str = "blocked", where: str = "", limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Rows as dicts, largest ``order`` first (ties by volume, then domain name)."""
        if order not in _IDX:
            raise ValueError(order)
        self.flush()
        sql = f"SELECT domain, {', '.join(_ALL)}, first_seen, last_seen FROM dom"
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {order} DESC, evaluated DESC, decisions DESC, domain ASC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        names = ("domain", *_ALL, "first_seen", "last_seen")
        for r in self._db.execute(sql):
            yield dict(zip(names, r, strict=True))

    def close(self) -> None:
        self._db.close()
        self._tmp.cleanup()


#: ``where`` clause: domains where a rule for another agent decided, and none for the own token.
OTHER_AGENTS_ONLY = "other_agent_rules > 0 AND own_token_rules = 0"
#: ``order`` for "by volume": evaluated URLs (summaries), then decision records.
VOLUME = "evaluated"


def domains_section(table: DomainTable, top: int) -> dict[str, Any]:
    """The report's ``domains`` section: totals and the top ``top`` domains by skips, by volume."""
    return {
        "total": table.count(),
        "psl": f"publicsuffixlist {psl_version()} (bundled list, offline)",
        "buffer_spills": table.spills,
        "top_by_skips": [_domain_row(r) for r in table.rows(order="blocked", limit=top)],
        "top_by_volume": [_domain_row(r) for r in table.rows(order=VOLUME, limit=top)],
        "other_agents_only": {
            "count": table.count_where(OTHER_AGENTS_ONLY),
            "top": [
                _domain_row(r)
                for r in table.rows(order="other_agent_rules", where=OTHER_AGENTS_ONLY, limit=top)
            ],
        },
        "with_robots_fetch_failures": table.count_where("robots_fetch_failures > 0"),
    }


def _domain_row(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"domain": r["domain"]}
    by_signal: dict[str, int] = {}
    for k, v in r.items():
        if k.startswith("sig_"):
            if v:
                by_signal[k[4:].replace("_", "-")] = v
        elif k != "domain":
            out[k] = v
    out["by_signal"] = by_signal
    return out
