"""Internal: ``noai-guard audit``: find, in crawls already made, what was reserved against AI use.

Exit status: 1 when any record was reserved (blocked by the policy), 0 when
none was, 2 on bad usage or an unreadable input (one line on stderr), 4 when
part of an input (or of a ``--robots-from`` WARC) could not be read, so records
in it were not judged: listed with offsets in the summary and the trail, and
reported whether or not anything was reserved (4 is not 3, which ``check`` and
``explain`` use for "unknown").
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from typing import Any

from ._policy import add_policy_args

EXIT_CLEAN = 0
EXIT_RESERVED = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 4  # damage: part of an input could not be read, its records not judged
DEFAULT_OUT = "noai-guard-audit.jsonl"

_EPILOG = f"""\
inputs are recognised by content: WARC (uncompressed, gzip per record as Common Crawl
writes it, or gzip as a whole), Scrapy feed exports (JSON lines, JSON, CSV), Scrapy log
files and plain URL lists; a folder stands for the files in it.

site files: each WARC record uses the nearest capture of its origin's robots.txt,
/.well-known/tdmrep.json and /ai.txt at or before its WARC-Date, found in the inputs
or in --robots-from (WARCs, or a folder laid out as HOST[_PORT]/robots.txt,
HOST[_PORT]/.well-known/tdmrep.json, HOST[_PORT]/ai.txt). Feeds, logs and URL lists
carry no captures: they use --robots-from, or --fetch for today's files. Without a
robots.txt the decision is "unknown" (robots.txt not checked), not "reserved"
(unless --not-checked-as reserve).

policy: --policy FILE (a JSON object of policy fields) or --policy TRAIL (replays the
policy of a crawl's or an audit's run record, so the decisions carry the same policy_hash),
then the flags, each overriding one field.

output: the audit trail ({DEFAULT_OUT} unless --out; overwritten) has a run
record, one record per reserved (action "flagged") or unknown (action "allowed")
URL with its evidence and the capture used, and a summary record. --removals writes
one URL (or WARC-Record-ID) per reserved record.

damage: a corrupt or cut stretch of a WARC is skipped up to the next gzip member or
WARC/1.x line and reading goes on; what could not be read is listed with its offset.
exit status: 0 nothing reserved, 1 something reserved, 2 bad usage or unreadable input,
4 part of an input could not be read (its records were not judged), whatever was reserved.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="audit WARCs, Scrapy feeds, logs or URL lists after the fact",
        description="Judge archived crawls against AI opt-out signals, as the middleware would have.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="WARC(.gz), feed export, Scrapy log, URL list, folder"
    )
    p.add_argument(
        "--out", "-o", default=DEFAULT_OUT, metavar="FILE", help=f"audit trail (default {DEFAULT_OUT})"
    )
    p.add_argument("--removals", metavar="FILE", help="write the removal list here")
    p.add_argument(
        "--removals-format",
        choices=("url", "warc-id"),
        default="url",
        help="one URL per line (default) or one WARC-Record-ID per line",
    )
    add_policy_args(p, user_agent_help="; matched against robots.txt groups")
    p.add_argument(
        "--robots-from",
        action="append",
        default=[],
        metavar="PATH",
        help="robots.txt / tdmrep.json / ai.txt captures: a WARC or a folder (repeatable)",
    )
    p.add_argument(
        "--fetch",
        action="store_true",
        help="fetch today's robots.txt, tdmrep.json and ai.txt (through Scrapy, politely) "
        "for origins with no capture",
    )
    p.add_argument(
        "--url-field", default="url", metavar="NAME", help="URL field of feed exports (default url)"
    )
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="processes across input files")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )
    return p


def _fail(message: str) -> int:
    print(f"noai-guard: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _expand(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(x for x in dirs if not x.startswith("."))
                out += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".")]
        else:
            out.append(p)
    return out


def run(args: argparse.Namespace) -> int:
    from ..archives import (
        CaptureIndex,
        InputError,
        check_url_field,
        detect,
        is_capture_file,
        load_robots_from,
    )
    from ..auditing import Job, Progress, merge_outputs, run_jobs, stale_inputs
    from ._policy import PolicyArgsError, policy_from_args

    if args.jobs < 1:
        return _fail("-j must be at least 1")
    try:
        policy = policy_from_args(args)
    except PolicyArgsError as exc:
        return _fail(str(exc))
    paths = _expand(args.inputs)
    if not paths:
        return _fail("no input files")
    try:
        infos = [detect(p) for p in paths]
        for info in infos:
            check_url_field(info, args.url_field)
        base = CaptureIndex()
        damaged_from: list[dict[str, Any]] = []  # --robots-from WARC damage: captures may be missing
        for rf in args.robots_from:
            if not os.path.exists(rf):
                return _fail(f"{rf}: no such file or folder")
            caps, dmg = load_robots_from(rf)
            base.extend(caps)
            damaged_from += [{"file": rf, "offset": x.offset, "error": x.error} for x in dmg]
        # Capture-only WARCs (Common Crawl's robots.txt WARCs) are indexed before any page is judged.
        preindexed = set()
        for i, info in enumerate(infos):
            if info.kind == "warc" and is_capture_file(info.path):
                caps, dmg = load_robots_from(info.path)
                base.extend(caps)
                preindexed.add(i)
    except InputError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}")

    fallback: CaptureIndex | None = None
    if args.fetch:
        from ..fetchsites import FetchError, fetch_for_inputs

        try:
            fallback = fetch_for_inputs(infos, base, policy, url_field=args.url_field)
        except FetchError as exc:
            return _fail(str(exc))

    import uuid

    from .. import auditlog

    run_id = auditlog.new_run_id()
    out = args.out
    out_dir = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(out_dir, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".noai-guard-audit-", dir=out_dir)
    except OSError as exc:
        return _fail(f"{out}: cannot write: {exc.strerror or exc}")
    show = sys.stderr.isatty() if args.progress is None else args.progress
    t0 = time.perf_counter()
    try:

        def jobs_for(indexes: list[int], final: bool) -> list[Job]:
            tag = uuid.uuid4().hex[:8]
            return [
                Job(
                    index=i,
                    info=infos[i],
                    policy=policy,
                    run_id=run_id,
                    trail_part=os.path.join(tmp, f"{i:06d}-{tag}.jsonl"),
                    removals_part=os.path.join(tmp, f"{i:06d}-{tag}.removals"),
                    removals_format=args.removals_format,
                    url_field=args.url_field,
                    preindexed=i in preindexed,
                    final=final,
                )
                for i in indexes
            ]

        progress = Progress(sum(i.size for i in infos), len(infos)) if show else None
        if progress is not None:
            progress.start()
        try:
            results = run_jobs(
                jobs_for(list(range(len(infos))), False), base, fallback, workers=args.jobs, progress=progress
            )
            stale = sorted(stale_inputs(results))
            if stale:
                full = CaptureIndex(parent=base)
                for r in results:
                    full.extend(r.captures)
                again = run_jobs(jobs_for(stale, True), full, fallback, workers=args.jobs, progress=progress)
                for r in again:
                    results[r.index] = r
        finally:
            if progress is not None:
                progress.stop()
        elapsed = time.perf_counter() - t0
        summary = _summarise(results, base, fallback, elapsed)
        summary["robots_from_damage"] = damaged_from
        run_rec = auditlog.run_record(
            run_id=run_id,
            mode="audit",
            policy=policy.to_dict(),
            policy_hash=policy.hash,
            phase=auditlog.AFTER_THE_FACT,
            inputs=[{"file": i.path, "kind": i.label, "size": i.size} for i in infos],
            robots_from=list(args.robots_from),
            fetch=bool(args.fetch),
        )
        summary_rec = auditlog.summary_record(
            run_id=run_id,
            mode="audit",
            policy=policy.to_dict(),
            origins=summary.pop("origins"),
            **summary,
        )
        try:
            merge_outputs(results, out, args.removals, run_rec, summary_rec)
        except OSError as exc:
            return _fail(f"cannot write output: {exc.strerror or exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    extra = [f"{d['file']}: offset {d['offset']}: {d['error']}" for d in damaged_from]
    _print_summary(summary_rec, out, args.removals, extra)
    if summary_rec["totals"]["unreadable"] or damaged_from:
        return EXIT_INCOMPLETE
    return EXIT_RESERVED if summary_rec["totals"]["reserved"] else EXIT_CLEAN


def _summarise(results: list[Any], base: Any, fallback: Any, elapsed: float) -> dict[str, Any]:
    keys = (
        "records",
        "judged",
        "reserved",
        "unknown",
        "allowed",
        "captures",
        "non_html",
        "truncated",
        "damaged",
        "unreadable",
    )
    totals: dict[str, Any] = dict.fromkeys(keys, 0)
    skipped: dict[str, int] = {}
    origins: dict[str, dict[str, int]] = {}
    unchecked: set[str] = set()
    size = 0
    for r in results:
        st = r.stats
        for k in keys:
            totals[k] += getattr(st, k)
        for k, v in st.skipped.items():
            skipped[k] = skipped.get(k, 0) + v
        for o, c in r.origins.items():
            cur = origins.setdefault(o, {"judged": 0, "reserved": 0, "unknown": 0})
            for k, v in c.items():
                cur[k] += v
        unchecked |= r.unchecked
        size += st.size
    totals["skipped"] = skipped
    totals["seconds"] = round(elapsed, 3)
    totals["bytes"] = size
    return {
        "origins": origins,
        "totals": totals,
        "inputs": [r.stats.to_dict() for r in results],
        "origins_without_robots": sorted(unchecked),
        "captures_indexed": len(base) + sum(len(r.captures) for r in results),
        "fetched": len(fallback) if fallback is not None else None,
    }


def _print_summary(rec: dict[str, Any], out: str, removals: str | None, extra: list[str]) -> None:
    t = rec["totals"]
    w = sys.stderr.write
    secs = max(t["seconds"], 1e-9)
    w(
        f"noai-guard audit: {t['judged']:,} judged of {t['records']:,} records in {len(rec['inputs'])} input(s) "
        f"({t['seconds']:.1f} s, {t['records'] / secs:,.0f} records/s, {t['bytes'] / secs / 1e6:,.1f} MB/s)\n"
    )
    # "reserved" in the record counts every blocked URL, an unknown resolved to reserve included.
    w(
        f"  blocked: {t['reserved']:,}   unknown, allowed by policy: {t['unknown']:,}   "
        f"allowed: {t['allowed']:,}\n"
    )
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(t["skipped"].items()))
    w(
        # Site-file captures of the inputs plus those given with --robots-from.
        f"  captures: {rec['captures_indexed']:,}   non-HTML judged by headers: {t['non_html']:,}"
        + (f"   skipped: {skipped}" if skipped else "")
        + "\n"
    )
    nur = len(rec["origins_without_robots"])
    if nur:
        w(f"  robots.txt not checked for {nur:,} origin(s): no capture (give --robots-from or --fetch)\n")
    if t["damaged"] or extra:
        w(f"  damaged or truncated: {t['damaged']:,}\n")
        if t["unreadable"] or extra:
            w(
                f"  NOT JUDGED: {t['unreadable'] + len(extra):,} stretch(es) of input could not be read; "
                f"records in them were not judged (exit {EXIT_INCOMPLETE})\n"
            )
        # What could not be read first, then truncated records and bad lines.
        listed = [(inp["path"], d) for inp in rec["inputs"] for d in inp["damage"]]
        listed.sort(key=lambda x: not x[1].get("unread"))
        for path, dmg in listed[:10]:
            where = (
                f"offset {dmg['offset']}: "
                if dmg["offset"] is not None
                else (f"line {dmg['line']}: " if dmg["line"] is not None else "")
            )
            w(f"    {path}: {where}{dmg['error']}\n")
        if len(listed) > 10:
            w(f"    ... {len(listed) - 10:,} more in the trail's summary record\n")
        for line in extra[:10]:
            w(f"    {line}\n")
    w(f"  trail: {out}" + (f"   removals: {removals}" if removals else "") + "\n")
