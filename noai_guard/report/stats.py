"""Internal: bounded-memory building blocks for streaming aggregation.

- :class:`BoundedCounter`: exact counts for at most ``max_keys`` distinct keys;
  later keys go to one overflow bucket, so a trail full of made-up names (the
  trail is attacker-influenced) cannot grow memory.
- :class:`BottomKSampler`: a seeded, reproducible uniform sample without
  replacement ("bottom-k" / priority reservoir sampling).  Each item's
  priority is a keyed BLAKE2b hash of its identity, and the ``k`` smallest
  priorities are kept in a heap: the same items and seed give the same sample
  in any input order, in O(k) memory.
- :class:`TimeHistogram`: counts per time bucket that start at one second and
  coarsen (minute, hour, day, month, year) whenever the number of buckets
  would pass ``max_buckets``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import heapq
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

OVERFLOW = "(other)"


class BoundedCounter:
    """A counter that tracks at most ``max_keys`` keys exactly; the rest share :data:`OVERFLOW`."""

    __slots__ = ("_d", "max_keys", "overflow_keys")

    def __init__(self, max_keys: int = 256) -> None:
        self._d: dict[str, int] = {}
        self.max_keys = max_keys
        self.overflow_keys = 0  # distinct-key arrivals that were folded into OVERFLOW

    def add(self, key: str, n: int = 1) -> None:
        d = self._d
        if key in d:
            d[key] += n
        elif len(d) < self.max_keys:
            d[key] = n
        else:
            self.overflow_keys += 1
            d[OVERFLOW] = d.get(OVERFLOW, 0) + n

    def get(self, key: str) -> int:
        return self._d.get(key, 0)

    def items(self) -> list[tuple[str, int]]:
        """Items by count descending, then key (deterministic)."""
        return sorted(self._d.items(), key=lambda kv: (-kv[1], kv[0]))

    def total(self) -> int:
        return sum(self._d.values())

    def to_dict(self) -> dict[str, int]:
        return dict(self.items())

    def __len__(self) -> int:
        return len(self._d)


class _Entry:
    """A kept sample; the heap root is the worst kept entry (highest priority)."""

    __slots__ = ("identity", "item", "neg")

    def __init__(self, neg: int, identity: str, item: dict[str, Any]) -> None:
        self.neg = neg
        self.identity = identity
        self.item = item

    def __lt__(self, other: _Entry) -> bool:
        # Total order: priority ascending, then identity descending (ties are
        # astronomically rare with 64-bit priorities, but must still be decided).
        return (self.neg, self.identity) < (other.neg, other.identity)


class BottomKSampler:
    """Keep the ``k`` items with the smallest keyed-hash priority.

    ``offer(identity, item)``: ``identity`` is the text the priority is drawn
    from (it should identify the record: run, time, URL, evidence, ...);
    ``item`` is what is kept.  The result is a pure function of the multiset
    of offered identities and the seed, whatever the input order.
    """

    __slots__ = ("_heap", "_key", "k", "population")

    def __init__(self, k: int, seed: int | str) -> None:
        self.k = k
        self._key = hashlib.blake2b(str(seed).encode(), digest_size=32).digest()
        self._heap: list[_Entry] = []
        self.population = 0

    def priority(self, identity: str) -> int:
        h = hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), key=self._key, digest_size=8)
        return int.from_bytes(h.digest(), "big")

    def offer(self, identity: str, item: Callable[[], dict[str, Any]]) -> None:
        """Offer one record; ``item()`` builds what is kept and is called only if it is kept."""
        self.population += 1
        if self.k <= 0:
            return
        neg = -self.priority(identity)
        heap = self._heap
        if len(heap) < self.k:
            heapq.heappush(heap, _Entry(neg, identity, item()))
        elif (neg, identity) > (heap[0].neg, heap[0].identity):
            heapq.heapreplace(heap, _Entry(neg, identity, item()))

    def sample(self) -> list[dict[str, Any]]:
        """The kept items, best priority first (the order they were drawn in)."""
        return [e.item for e in sorted(self._heap, reverse=True)]


# --- time --------------------------------------------------------------------

_ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z\Z")

#: Bucket levels: name and the length of the ISO prefix that identifies a bucket.
LEVELS: tuple[tuple[str, int], ...] = (
    ("second", 19),
    ("minute", 16),
    ("hour", 13),
    ("day", 10),
    ("month", 7),
    ("year", 4),
)


def normalize_time(value: object) -> str | None:
    """An ISO 8601 time as ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` (UTC), or None if unreadable."""
    if not isinstance(value, str):
        return None
    if _ISO_Z.match(value):
        return value
    if len(value) > 64:
        return None
    try:
        t = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        return None  # a time without an offset cannot be placed on the UTC axis
    t = t.astimezone(_dt.timezone.utc)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TimeHistogram:
    """Counts per time bucket, coarsening when there would be more than ``max_buckets``."""

    __slots__ = ("_counts", "_level", "max_buckets")

    def __init__(self, max_buckets: int = 4096) -> None:
        self._counts: dict[tuple[str, str], int] = {}  # (bucket prefix, series) -> n
        self._level = 0
        self.max_buckets = max_buckets

    @property
    def level(self) -> str:
        return LEVELS[self._level][0]

    def add(self, t: str, series: str, n: int = 1) -> None:
        """Add ``n`` at normalized time ``t`` to ``series``."""
        key = (t[: LEVELS[self._level][1]], series)
        c = self._counts
        if key in c:
            c[key] += n
            return
        c[key] = n
        while len(c) > self.max_buckets and self._level < len(LEVELS) - 1:
            self._coarsen()
            c = self._counts

    def _coarsen(self) -> None:
        self._level += 1
        width = LEVELS[self._level][1]
        out: dict[tuple[str, str], int] = {}
        for (prefix, series), n in self._counts.items():
            k = (prefix[:width], series)
            out[k] = out.get(k, 0) + n
        self._counts = out

    def rebucket(self, max_bars: int = 60) -> tuple[str, list[tuple[str, dict[str, int]]]]:
        """Contiguous buckets (empty ones included) at the finest level that spans the range in ``max_bars``.

        Buckets whose time is not a real date (the fast path only checks the
        shape) are left out.  If even years do not fit, only non-empty years
        are returned.
        """
        by_prefix: dict[str, dict[str, int]] = {}
        for (p, series), n in self._counts.items():
            if _parse_prefix(p, self._level) is None:
                continue
            row = by_prefix.setdefault(p, {})
            row[series] = row.get(series, 0) + n
        if not by_prefix:
            return self.level, []
        level = self._level
        while True:
            width = LEVELS[level][1]
            prefixes = sorted({p[:width] for p in by_prefix})
            span = _span(prefixes[0], prefixes[-1], level)
            if span <= max_bars or level == len(LEVELS) - 1:
                break
            level += 1
        rows: dict[str, dict[str, int]] = {}
        for p, row in by_prefix.items():
            tgt = rows.setdefault(p[:width], {})
            for series, n in row.items():
                tgt[series] = tgt.get(series, 0) + n
        if span <= max_bars:
            for p in _walk(prefixes[0], prefixes[-1], level):
                rows.setdefault(p, {})
        return LEVELS[level][0], sorted(rows.items())


_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H", "%Y-%m-%d", "%Y-%m", "%Y")
_STEPS = (1, 60, 3600, 86400)


def _parse_prefix(p: str, level: int) -> _dt.datetime | None:
    try:
        return _dt.datetime.strptime(p, _FORMATS[level])
    except ValueError:
        return None


def _span(first: str, last: str, level: int) -> int:
    a = _parse_prefix(first, level)
    b = _parse_prefix(last, level)
    if a is None or b is None:
        return 1
    if level < len(_STEPS):
        return int((b - a).total_seconds()) // _STEPS[level] + 1
    if level == 4:
        return (b.year - a.year) * 12 + b.month - a.month + 1
    return b.year - a.year + 1


def _walk(first: str, last: str, level: int) -> Iterator[str]:
    cur = _parse_prefix(first, level)
    end = _parse_prefix(last, level)
    if cur is None or end is None:
        return
    fmt = _FORMATS[level]
    while cur <= end:
        yield cur.strftime(fmt)
        if level < len(_STEPS):
            cur += _dt.timedelta(seconds=_STEPS[level])
        elif level == 4:
            cur = cur.replace(year=cur.year + cur.month // 12, month=cur.month % 12 + 1)
        else:
            if cur.year >= 9999:
                return
            cur = cur.replace(year=cur.year + 1)


def top_items(pairs: Iterable[tuple[str, int]], n: int) -> list[tuple[str, int]]:
    """The ``n`` largest counts, ties broken by key."""
    return heapq.nsmallest(n, pairs, key=lambda kv: (-kv[1], kv[0]))
