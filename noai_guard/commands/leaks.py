"""Internal: ``noai-guard leaks TRAIL... --feed FEED...``: reserved URLs that reached a crawl's own feed.

Reads audit trails (a crawl's, audit-only mode included, or an offline
audit's: files, folders or globs, as ``noai-guard report`` reads them) and
collects every URL they reserved: each decision record that blocked
(``skipped``, ``dropped`` or ``flagged``), reserved embedded images included
(their records name the signal ``embedding-page``).  Then reads the feed
exports (JSON lines, JSON or CSV, as Scrapy writes them, gzip too; a plain
URL list works as well) and lists every item URL the trails reserved, with
the trail's evidence and where in the feed it was found.

URLs are matched as the crawl keys them (:func:`noai_guard.engine.media_key`:
``safe_url_string`` without the fragment), so ``http://Example.com/a b#x``
in the feed matches ``http://example.com/a%20b`` in the trail.

Item URL fields: ``url`` and, when an item has them, the media pipelines'
``image_urls``, ``file_urls``, ``images`` and ``files`` (a string, a list of
strings, or a list of ``{"url": ...}`` results); ``--url-field`` names the
fields instead (repeatable).  A CSV cell holding several URLs (Scrapy joins a
list with ",") is split before each ``scheme://``.

Exit status: 1 a reserved URL is in a feed; 0 none is (and every item was
read); 2 bad usage or bad input: a trail or feed that cannot be read, a trail
with no noai-guard records, a feed with no item holding a URL field, or item
lines that could not be read (a leak could hide in them).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

EXIT_CLEAN = 0
EXIT_LEAK = 1
EXIT_USAGE = 2

#: Item fields read when --url-field is not given: ``url``, then the media pipelines' fields.
DEFAULT_FIELDS = ("url", "image_urls", "file_urls", "images", "files")
_MAX_FOUND = 20  # feed locations listed per leaked URL (all are counted)
_MULTI_URL = re.compile(r",(?=\s*[A-Za-z][A-Za-z0-9+.-]*://)")  # Scrapy's CSV join of a list


class LeaksError(Exception):
    """Bad input (exit 2): one line naming the file."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "leaks",
        help="list URLs an audit trail reserved that are in a feed export (the crawl's own data)",
        description=(
            "Read audit trails and feed exports (JSON lines, JSON, CSV) and list every item URL the "
            "trails reserved (skipped, dropped or flagged, reserved embedded images included), with "
            "the evidence. Exit status: 1 a reserved URL is in a feed, 0 none, 2 bad usage or input."
        ),
    )
    p.add_argument(
        "trails", nargs="+", metavar="TRAIL", help="audit trail (.jsonl, .jsonl.gz), directory or glob"
    )
    p.add_argument(
        "--feed",
        dest="feeds",
        action="extend",
        nargs="+",
        required=True,
        metavar="FEED",
        help="feed export: JSON lines, JSON or CSV (gzip too); repeatable",
    )
    p.add_argument(
        "--url-field",
        dest="url_fields",
        action="append",
        metavar="NAME",
        help="item field holding URLs (repeatable; default: url, and image_urls, file_urls, images, "
        "files where present)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per leaked URL (JSON lines)")
    return p


# --- the trails --------------------------------------------------------------------------------


@dataclass
class Reserved:
    """The first record that reserved a URL key, and how many did."""

    url: str
    action: str
    phase: str
    signal: str | None
    evidence: str | None
    evidence_url: str | None
    run_id: str
    trail: str
    records: int = 1


def reserved_urls(trail_args: list[str], warn: Any = None) -> tuple[dict[str, Reserved], int]:
    """Every URL key the trails reserved, and the number of noai-guard records read.

    A file named on the command line that holds no noai-guard record is an
    error; one found in a folder or by a glob (a feed export saved beside the
    trail) is skipped, with a warning through ``warn``.
    """
    import os

    from ..engine import media_key
    from ..report.inputs import InputError, InputFile, expand_inputs, iter_records

    paths: list[tuple[str, bool]] = []  # (path, named on the command line)
    seen: set[str] = set()
    for arg in trail_args:
        try:
            found = expand_inputs([arg])
        except InputError as exc:
            raise LeaksError(str(exc)) from None
        for path in found:
            if os.path.realpath(path) not in seen:
                seen.add(os.path.realpath(path))
                paths.append((path, os.path.isfile(arg)))
    out: dict[str, Reserved] = {}
    records = 0
    for path, named in paths:
        inp = InputFile(path)
        try:
            for rec in iter_records(inp):
                records += 1
                if rec.get("type") != "decision" or rec.get("blocked") is not True:
                    continue
                url = rec.get("url")
                if not isinstance(url, str) or not url:
                    continue
                k = media_key(url)
                known = out.get(k)
                if known is not None:
                    known.records += 1
                    continue
                out[k] = Reserved(
                    url=url,
                    action=_s(rec.get("action")) or "?",
                    phase=_s(rec.get("phase")) or "?",
                    signal=_s(rec.get("signal")),
                    evidence=_s(rec.get("evidence")),
                    evidence_url=_s(rec.get("evidence_url")),
                    run_id=_s(rec.get("run_id")) or "?",
                    trail=path,
                )
        except InputError as exc:
            raise LeaksError(str(exc)) from None
        if inp.records == 0:
            if named:
                raise LeaksError(f"{path}: not a noai-guard audit trail (no noai-guard record in it)")
            if warn is not None:
                warn(f"{path}: skipped: not a noai-guard audit trail (no noai-guard record in it)")
    if records == 0:
        raise LeaksError(f"{', '.join(trail_args)}: no noai-guard audit trail found")
    return out, records


def _s(v: object) -> str | None:
    return v if isinstance(v, str) else None


# --- the feeds ---------------------------------------------------------------------------------


@dataclass
class FeedStats:
    """What reading one feed found."""

    path: str
    kind: str = ""
    items: int = 0
    urls: int = 0
    unreadable: list[str] = field(default_factory=list)  # lines / items that could not be read
    without_url: int = 0  # items holding none of the URL fields
    fields_seen: set[str] = field(default_factory=set)  # for the "no URL field" message


def _urls_of(value: object) -> Iterator[str]:
    """The URLs a field value holds: a string, a list of strings, {"url": ...} results."""
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, dict):
        u = value.get("url")
        if isinstance(u, str) and u:
            yield u
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, (str, dict)):
                yield from _urls_of(v)


def _open_text(path: str, gz: bool) -> IO[str]:
    import gzip

    raw: IO[bytes] = gzip.open(path, "rb") if gz else open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def _objects(path: str, kind: str, gz: bool, st: FeedStats) -> Iterator[tuple[int, object]]:
    """(line or item number, decoded item) of a JSON lines or JSON feed; unreadable ones noted in ``st``."""
    with _open_text(path, gz) as fh:
        if kind == "jsonl":
            for n, line in enumerate(fh, 1):
                s = line.strip()
                if not s:
                    continue
                try:
                    yield n, json.loads(s)
                except ValueError:
                    st.unreadable.append(f"line {n}")
            return
        # JSON: Scrapy's exporter writes "[", one item per line ending in ",", then "]":
        # read line by line; anything else (pretty-printed JSON) is read whole.
        done = 0
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
                break
            done += 1
            yield n, obj
        else:
            return
    with _open_text(path, gz) as fh:
        try:
            data = json.load(fh)
        except ValueError as exc:
            st.unreadable.append(f"not valid JSON ({exc})")
            return
    items = data if isinstance(data, list) else [data]
    yield from list(enumerate(items, 1))[done:]  # those read line by line are not read twice


def _csv_rows(path: str, gz: bool, st: FeedStats) -> Iterator[tuple[int, object]]:
    with _open_text(path, gz) as fh:
        sample = fh.read(8192)
        fh.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(fh, dialect=dialect)
        try:
            for row in reader:
                split = {
                    k: [u.strip() for u in _MULTI_URL.split(v)] if isinstance(v, str) and "://" in v else v
                    for k, v in row.items()
                    if isinstance(k, str)
                }
                yield reader.line_num, split
        except csv.Error as exc:
            st.unreadable.append(f"line {reader.line_num}: {exc}")


def feed_urls(
    path: str, fields: tuple[str, ...], explicit: bool, st: FeedStats
) -> Iterator[tuple[int, str, str]]:
    """(line, field, URL) for every URL in the feed's items; raises :class:`LeaksError` for a bad feed."""
    from ..archives import InputError, detect

    try:
        info = detect(path)
    except InputError as exc:
        raise LeaksError(str(exc)) from None
    st.kind = info.kind
    gz = info.gzip == "text"
    if info.kind == "url-list":
        with _open_text(path, gz) as fh:
            for n, line in enumerate(fh, 1):
                s = line.strip()
                if s and not s.startswith("#"):
                    st.items += 1
                    st.urls += 1
                    yield n, "", s
        return
    if info.kind not in ("jsonl", "json", "csv"):
        raise LeaksError(
            f"{path}: a {info.label}, not a feed export (JSON lines, JSON or CSV); "
            "to judge a WARC or a log, use noai-guard audit"
        )
    objects = _csv_rows(path, gz, st) if info.kind == "csv" else _objects(path, info.kind, gz, st)
    for n, obj in objects:
        if not isinstance(obj, dict):
            st.unreadable.append(f"line {n}: not a JSON object")
            continue
        st.items += 1
        if len(st.fields_seen) < 50:
            st.fields_seen.update(k for k in obj if isinstance(k, str))
        found = False
        for f in fields:
            if f not in obj:
                continue
            found = True
            for u in _urls_of(obj[f]):
                st.urls += 1
                yield n, f, u
        if not found:
            st.without_url += 1
    if st.items and st.items == st.without_url:
        names = " or ".join(repr(f) for f in (fields if explicit else fields[:1]))
        seen = ", ".join(sorted(st.fields_seen)[:20]) or "none"
        raise LeaksError(f"{path}: no item has a {names} field (fields: {seen}); name it with --url-field")


# --- the command -------------------------------------------------------------------------------


@dataclass
class Leak:
    reserved: Reserved
    found: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        r = self.reserved
        return {
            "url": r.url,
            "action": r.action,
            "phase": r.phase,
            "signal": r.signal,
            "evidence": r.evidence,
            "evidence_url": r.evidence_url,
            "run_id": r.run_id,
            "trail": r.trail,
            "trail_records": r.records,
            "in_feeds": self.count,
            "found": self.found,
        }


def run(args: argparse.Namespace) -> int:
    from ..engine import media_key

    explicit = bool(args.url_fields)
    fields = (
        tuple(dict.fromkeys(f.strip() for f in args.url_fields if f.strip())) if explicit else DEFAULT_FIELDS
    )
    if not fields:
        print("noai-guard: error: --url-field is empty", file=sys.stderr)
        return EXIT_USAGE
    try:
        reserved, records = reserved_urls(
            args.trails, warn=lambda m: print(f"noai-guard: warning: {m}", file=sys.stderr)
        )
        leaks: dict[str, Leak] = {}
        feeds: list[FeedStats] = []
        for path in args.feeds:
            st = FeedStats(path)
            feeds.append(st)
            try:
                for line, fld, url in feed_urls(path, fields, explicit, st):
                    k = media_key(url)
                    res = reserved.get(k)
                    if res is None:
                        continue
                    leak = leaks.get(k)
                    if leak is None:
                        leak = leaks[k] = Leak(res)
                    leak.count += 1
                    if len(leak.found) < _MAX_FOUND:
                        leak.found.append({"feed": path, "line": line, "field": fld or None, "url": url})
            except OSError as exc:
                raise LeaksError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except LeaksError as exc:
        print(f"noai-guard: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    for leak in leaks.values():
        if args.json:
            sys.stdout.write(json.dumps(leak.to_dict(), ensure_ascii=False) + "\n")
            continue
        r = leak.reserved
        by = f" by {r.signal}" if r.signal else ""
        print(f"{r.url}\t{r.action} ({r.phase}){by}: {r.evidence or '(no evidence)'}")
        print(f"    run {r.run_id} in {r.trail}" + (f" ({r.records} records)" if r.records > 1 else ""))
        for at in leak.found:
            where = f"{at['feed']}:{at['line']}" + (f" [{at['field']}]" if at["field"] else "")
            print(f"    in {where}")
        if leak.count > len(leak.found):
            print(f"    ... and {leak.count - len(leak.found)} more")
    items = sum(f.items for f in feeds)
    urls = sum(f.urls for f in feeds)
    print(
        f"noai-guard: {len(leaks)} reserved URL(s) found in the feeds "
        f"({sum(lk.count for lk in leaks.values())} occurrence(s)); the trails reserved {len(reserved)} URL(s) "
        f"in {records} record(s); the feeds held {items} item(s), {urls} URL(s)",
        file=sys.stderr,
    )
    bad = [f for f in feeds if f.unreadable]
    for f in bad:
        shown = ", ".join(f.unreadable[:5]) + (
            f" (+{len(f.unreadable) - 5} more)" if len(f.unreadable) > 5 else ""
        )
        print(
            f"noai-guard: error: {f.path}: {len(f.unreadable)} item(s) could not be read: {shown}",
            file=sys.stderr,
        )
    for f in feeds:
        if f.without_url:
            print(
                f"noai-guard: warning: {f.path}: {f.without_url} item(s) hold none of the URL fields "
                f"({', '.join(fields)})",
                file=sys.stderr,
            )
    if leaks:
        return EXIT_LEAK
    if bad:
        print(
            "noai-guard: error: no reserved URL in what could be read, but a leak may hide in the rest",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return EXIT_CLEAN
