"""Internal: ``noai-guard audit``: find, in crawls already made, what was reserved against AI use.

Exit status: 1 when any record was reserved (blocked by the policy), 0 when
none was, 2 on bad usage or an unreadable input (one line on stderr), 4 when
part of an input (or of a ``--robots-from`` WARC) could not be read, so records
in it were not judged: listed with offsets in the summary and the trail, and
reported whether or not anything was reserved (4 is not 3, which ``check`` and
``explain`` use for "unknown"); 5 when a file found in a folder is not an
input and was skipped (listed, with why, on stderr and in the summary record),
the rest judged, whether or not anything was reserved.  4 wins over 5.

A crawl's trail among the inputs (its run record, as the middleware writes
it) is not judged: it gives the audit the crawl's policy (own tokens
included), unless ``--policy``, a policy flag or ``--no-crawl-policy`` says
otherwise; stderr and the run record say which policy was used.
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
EXIT_SKIPPED = 5  # a file in a folder is not an input: skipped, listed; the rest judged
DEFAULT_OUT = "noai-guard-audit.jsonl"

_EPILOG = f"""\
inputs are recognised by content: WARC (uncompressed, gzip per record as Common Crawl
writes it, gzip as a whole, or LZ4), ARC (the Internet Archive's older format, plain or
gzip), Scrapy feed exports (JSON lines, JSON, CSV), Scrapy log files and plain URL lists;
a folder stands for the files in it.  In a folder, a file that is not an input (a README,
a CDX index, a zstd file...) is skipped and listed with why (exit 5); named on the command
line, it is an error (exit 2).  A crawl's audit trail among the inputs is not judged: its
run record gives the policy (own tokens included) unless --policy, a policy flag or
--no-crawl-policy says otherwise.

feeds, logs and URL lists carry no response headers or HTML: their records are judged on
the site files only, and the summary, the trail ("not_checked") and the report say which
signals could not be checked (X-Robots-Tag, robots <meta>, TDMRep header and meta,
Content-Usage and Content-Signal headers, the images a page embeds).  Verdicts do not
change: "allowed" there means allowed by what could be checked.

site files: each WARC record uses the nearest capture of its origin's robots.txt,
/.well-known/tdmrep.json and /ai.txt at or before its WARC-Date, found in the inputs
or in --robots-from (WARCs, or a folder laid out as HOST[_PORT]/robots.txt,
HOST[_PORT]/.well-known/tdmrep.json, HOST[_PORT]/ai.txt). A folder file applies to
http and https of its host and is undated: it applies at every date, unless a
FILE.date beside it (e.g. robots.txt.date holding 2014-03-01) or --robots-from-date
dates it; then it applies from that date on. Feeds, logs and URL lists carry no
captures: they use --robots-from, or --fetch for today's files (failed fetches are
counted and listed; with no network, use --robots-from). Without a robots.txt the
decision is "unknown" (robots.txt not checked), not "reserved" (unless
--not-checked-as reserve).

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
4 part of an input could not be read (its records were not judged), whatever was reserved,
5 a file in a folder was not an input and was skipped (the rest judged), whatever was
reserved (4 wins over 5).
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
        "--robots-from-date",
        metavar="DATE",
        help="date the files of --robots-from folders (ISO 8601, e.g. 2014-03-01): they apply from "
        "then on (default: undated, applying at every date; a FILE.date beside a file wins)",
    )
    p.add_argument(
        "--no-crawl-policy",
        action="store_true",
        help="don't take the policy from a crawl's trail among the inputs",
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


def _expand(paths: list[str], own: set[str]) -> list[tuple[str, bool]]:
    """The files to read, each with whether it was found in a folder (not named on the command line).

    ``own``: this run's outputs (absolute paths), left out of a folder (they are overwritten).
    """
    out: list[tuple[str, bool]] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(x for x in dirs if not x.startswith("."))
                for f in sorted(files):
                    path = os.path.join(root, f)
                    if not f.startswith(".") and os.path.abspath(path) not in own:
                        out.append((path, True))
        else:
            out.append((p, False))
    return out


def _why(exc: Exception, path: str) -> str:
    """An :class:`InputError`'s message without the file name it starts with."""
    return str(exc).removeprefix(f"{path}: ")


# The flags that set a policy field: given, they override the crawl's policy field by field.
_POLICY_FLAGS = {
    "purpose": "--purpose",
    "user_agent": "--user-agent",
    "proxy_token": "--proxy-token",
    "no_proxy_tokens": "--no-proxy-tokens",
    "directive": "--directive",
    "source": "--source",
    "sources": "--sources",
    "no_source": "--no-source",
    "unknown": "--unknown",
    "unknown_default": "--unknown-default",
    "not_checked_as": "--not-checked-as",
    "lenient_noimageai": "--lenient-noimageai",
    "honour_legacy": "--honour-legacy",
    "html_strict": "--html-strict",
    "head_budget": "--head-budget",
    "robots_key": "--robots-key",
}


def _trail_mode(path: str) -> str:
    """The mode of a trail's first run record (``crawl``, ``audit-only``, ``audit``...), or ""."""
    from ..auditlog import TrailReadError, read_audit

    try:
        for rec in read_audit(path):
            if rec.get("type") == "run":
                return str(rec.get("mode") or "")
    except (TrailReadError, OSError, ValueError):
        return ""
    return ""


def _crawl_policy(trails: list[str]) -> tuple[str | None, str | None, str | None]:
    """(the trail whose policy to use, its run id, an error): one policy, or the trails that differ."""
    from ..policy import policy_hash
    from ..policyfile import PolicyFileError, load_policy_file

    chosen: tuple[str, str | None, str] | None = None
    for t in trails:
        try:
            src = load_policy_file(t)
        except PolicyFileError as exc:
            return None, None, f"{exc}; choose with --policy, or give --no-crawl-policy"
        h = policy_hash(src.data)
        if chosen is None:
            chosen = (t, src.run_id, h)
        elif chosen[2] != h:
            err = (
                f"the crawl trails {chosen[0]} (run {chosen[1]}) and {t} (run {src.run_id}) ran with "
                "different policies; choose one with --policy TRAIL, or give --no-crawl-policy"
            )
            return None, None, err
    if chosen is None:
        return None, None, None
    return chosen[0], chosen[1], None


def run(args: argparse.Namespace) -> int:
    from ..archives import (
        CaptureIndex,
        InputError,
        InputInfo,
        check_url_field,
        detect,
        is_capture_file,
        load_robots_from,
    )
    from ..auditing import Job, Progress, merge_outputs, run_jobs, stale_inputs
    from ._policy import PolicyArgsError, policy_from_args, preset_fields

    if args.jobs < 1:
        return _fail("-j must be at least 1")
    try:
        policy = policy_from_args(args)  # bad flags are usage errors, before any input is read
    except PolicyArgsError as exc:
        return _fail(str(exc))
    own = {os.path.abspath(x) for x in (args.out, args.removals) if x}
    expanded = _expand(args.inputs, own)
    if not expanded:
        return _fail("no input files")
    # Recognise every file first.  In a folder, what is not an input is skipped and listed
    # (exit 5); named on the command line, it is an error (exit 2).
    infos: list[InputInfo] = []
    skipped: list[dict[str, str]] = []
    crawl_trails: list[str] = []
    for path, in_folder in expanded:
        try:
            info = detect(path)
            check_url_field(info, args.url_field)
            if info.kind == "trail":
                mode = _trail_mode(path)
                if mode in ("", "audit"):
                    raise InputError(
                        f"{path}: a noai-guard audit trail (an audit's output), not an input: give it to "
                        "`noai-guard report`, or to --policy to replay its policy"
                    )
                crawl_trails.append(path)
                continue
        except InputError as exc:
            if not in_folder:
                return _fail(str(exc))
            skipped.append({"file": path, "reason": _why(exc, path)})
            continue
        infos.append(info)
    # A crawl's trail gives the policy it ran with, unless the command line says otherwise.
    policy_from: dict[str, Any] | None = None
    given = ((flag, getattr(args, dest, None)) for dest, flag in _POLICY_FLAGS.items())
    overridden = [flag for flag, value in given if value not in (None, False, [])]
    if crawl_trails and not args.policy and not args.preset and not args.no_crawl_policy:
        trail, run_of, err = _crawl_policy(crawl_trails)
        if err is not None:
            return _fail(err)
        if trail is not None:
            args.policy = trail
            policy_from = {"file": trail, "run_id": run_of, "overridden_by": overridden}
            try:
                policy = policy_from_args(args)
            except PolicyArgsError as exc:
                return _fail(str(exc))
    if not infos:
        what = f" ({len(skipped)} file(s) skipped: not inputs)" if skipped else ""
        if crawl_trails:
            what += f" ({len(crawl_trails)} crawl trail(s), which give a policy but are not judged)"
        return _fail(f"no input files to judge{what}")
    try:
        base = CaptureIndex()
        damaged_from: list[dict[str, Any]] = []  # --robots-from WARC damage: captures may be missing
        for rf in args.robots_from:
            if not os.path.exists(rf):
                return _fail(f"{rf}: no such file or folder")
            caps, dmg = load_robots_from(rf, args.robots_from_date)
            base.extend(caps)
            damaged_from += [{"file": rf, "offset": x.offset, "error": x.error} for x in dmg]
        if args.robots_from_date and not any(os.path.isdir(rf) for rf in args.robots_from):
            return _fail("--robots-from-date: dates the files of a --robots-from folder; none was given")
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
    fetch_failed: dict[str, Any] | None = None
    if args.fetch:
        from ..fetchsites import FetchError, fetch_failures, fetch_for_inputs

        try:
            fallback = fetch_for_inputs(infos, base, policy, url_field=args.url_field)
        except FetchError as exc:
            return _fail(str(exc))
        fetch_failed = fetch_failures(fallback)

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
        summary["skipped_inputs"] = skipped
        summary["fetch_failures"] = fetch_failed
        run_rec = auditlog.run_record(
            run_id=run_id,
            mode="audit",
            policy=policy.to_dict(),
            policy_hash=policy.hash,
            phase=auditlog.AFTER_THE_FACT,
            inputs=[{"file": i.path, "kind": i.label, "size": i.size} for i in infos],
            robots_from=list(args.robots_from),
            robots_from_date=args.robots_from_date,
            fetch=bool(args.fetch),
            policy_from=policy_from,
            crawl_trails=crawl_trails,
            **preset_fields(args, policy),
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
    if policy_from is not None:
        _print_policy_from(policy_from, policy)
    extra = [f"{d['file']}: offset {d['offset']}: {d['error']}" for d in damaged_from]
    _print_summary(summary_rec, out, args.removals, extra)
    if summary_rec["totals"]["unreadable"] or damaged_from:
        return EXIT_INCOMPLETE
    if skipped:
        return EXIT_SKIPPED
    return EXIT_RESERVED if summary_rec["totals"]["reserved"] else EXIT_CLEAN


def _print_policy_from(src: dict[str, Any], policy: Any) -> None:
    over = src["overridden_by"]
    sys.stderr.write(
        f"noai-guard audit: policy of the crawl's run record in {src['file']} (run {src['run_id']}): "
        f"own token(s) {', '.join(policy.user_agents) or '-'}, purpose {policy.purpose}, "
        f"policy {policy.hash[:12]}"
        + (f"; overridden on the command line by {', '.join(over)}" if over else "")
        + " (--policy or --no-crawl-policy to use another)\n"
    )


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
        "sizes": _sizes(results),  # issue 18: pages and bytes kept per origin
        "not_checked": _not_checked(results),
        "captures_indexed": len(base) + sum(len(r.captures) for r in results),
        "fetched": len(fallback) if fallback is not None else None,
    }


def _sizes(results: list[Any]) -> dict[str, Any]:
    from ..auditing import audit_sizes

    return audit_sizes(results)


def _not_checked(results: list[Any]) -> list[dict[str, Any]]:
    """The signals records could not be checked for, by why: the summary record's ``not_checked``.

    One entry per group of inputs (today: feeds, logs and URL lists, which carry no
    headers or HTML): ``signals``, ``why``, the ``inputs``, and their ``records`` judged,
    ``allowed`` (allowed by what could be checked) and ``unknown``.  Verdicts are not changed.
    """
    from ..auditing import URL_ONLY_WHY

    urls = [r for r in results if r.stats.not_checked]
    if not urls:
        return []
    signals: list[str] = []
    for r in urls:
        signals += [x for x in r.stats.not_checked if x not in signals]
    return [
        {
            "signals": signals,
            "why": URL_ONLY_WHY,
            "inputs": [r.stats.path for r in urls],
            "records": sum(r.stats.judged for r in urls),
            "allowed": sum(r.stats.allowed for r in urls),
            "unknown": sum(r.stats.unknown for r in urls),
        }
    ]


def _print_summary(rec: dict[str, Any], out: str, removals: str | None, extra: list[str]) -> None:
    t = rec["totals"]
    w = sys.stderr.write
    secs = max(t["seconds"], 1e-9)
    w(
        f"noai-guard audit: {t['judged']:,} judged of {t['records']:,} records in {len(rec['inputs'])} input(s) "
        f"({t['seconds']:.1f} s, {t['records'] / secs:,.0f} records/s, {t['bytes'] / secs / 1e6:,.1f} MB/s)\n"
    )
    # "reserved" in the record counts every blocked URL, an unknown resolved to reserve included.
    unchecked_allowed = sum(g["allowed"] for g in rec.get("not_checked") or [])
    w(
        f"  blocked: {t['reserved']:,}   unknown, allowed by policy: {t['unknown']:,}   "
        f"allowed: {t['allowed']:,}"
        + (f" ({unchecked_allowed:,} of them with page signals not checked)" if unchecked_allowed else "")
        + "\n"
    )
    for g in rec.get("not_checked") or []:
        w(
            f"  not checked for {g['records']:,} record(s) of {len(g['inputs']):,} input(s) ({g['why']}): "
            f"{', '.join(g['signals'])}; their verdicts stand on the site files alone\n"
        )
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(t["skipped"].items()))
    w(
        # Site-file captures of the inputs plus those given with --robots-from.
        f"  captures: {rec['captures_indexed']:,}   non-HTML judged by headers and file metadata: {t['non_html']:,}"
        + (f"   skipped: {skipped}" if skipped else "")
        + "\n"
    )
    nur = len(rec["origins_without_robots"])
    if nur:
        w(f"  robots.txt not checked for {nur:,} origin(s): no capture (give --robots-from or --fetch)\n")
    ff = rec.get("fetch_failures")
    if ff and ff["total"]:
        w(
            f"  --fetch: {ff['total']:,} of {ff['fetches']:,} site-file fetch(es) failed, for "
            f"{len(ff['origins']):,} origin(s); an origin whose robots.txt could not be fetched is "
            "blocked (RFC 9309 §2.3.1.4: unreachable means disallow)\n"
        )
        for origin, files in list(ff["origins"].items())[:10]:
            w(f"    {origin}: " + "; ".join(f"{k}: {v}" for k, v in files.items()) + "\n")
        if len(ff["origins"]) > 10:
            w(f"    ... {len(ff['origins']) - 10:,} more origins in the trail's summary record\n")
        if ff["total"] == ff["fetches"]:
            w("    no fetch succeeded: is this machine offline? ")
        else:
            w("    ")
        w("give the site files with --robots-from (a folder or the crawl's WARCs) instead\n")
    skipped_inputs = rec.get("skipped_inputs") or []
    if skipped_inputs:
        w(f"  SKIPPED {len(skipped_inputs):,} file(s) found in folders, not inputs (exit {EXIT_SKIPPED}):\n")
        for sk in skipped_inputs[:20]:
            w(f"    {sk['file']}: {sk['reason']}\n")
        if len(skipped_inputs) > 20:
            w(f"    ... {len(skipped_inputs) - 20:,} more in the trail's summary record\n")
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
