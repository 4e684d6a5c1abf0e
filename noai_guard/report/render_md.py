"""Internal: the Markdown report, the same sections as the HTML, as GitHub-flavoured Markdown.

It leads with the answer (evaluated, blocked, allowed, unknown, not checked,
failed open, and the fail-open statement beside the not-checked warning);
runs, hashes and policy text follow the detail.

Values from audit data are escaped for Markdown *and* HTML (Markdown
renderers pass raw HTML through): ``& < >`` become entities, Markdown
punctuation is backslash-escaped, ``|`` cannot break a table cell and line
breaks cannot end one.  URLs are never written as Markdown links, so only
what GFM autolinks by itself (``http(s)://``, ``www.``) can become a link;
``javascript:`` and other schemes stay text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..policy import canonical_json
from . import tables

# Inline Markdown punctuation.  Line-start markers (# - + 1.) cannot occur: every
# value is written after other text or inside a table cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(v: object) -> str:
    """Escape one value for Markdown text or a table cell."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    s = str(v)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = s.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return s


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Iterable[int] = ()) -> str:
    num = set(numeric)
    out = ["| " + " | ".join(md(h) for h in headers) + " |"]
    out.append("|" + "|".join("---:" if i in num else "---" for i in range(len(headers))) + "|")
    n = 0
    for r in rows:
        n += 1
        out.append("| " + " | ".join(md(c) for c in r) + " |")
    if n == 0:
        out.append("| " + " | ".join(["*none*", *[""] * (len(headers) - 1)]) + " |")
    return "\n".join(out) + "\n"


def _kv(pairs: Iterable[tuple[str, object]]) -> str:
    return "".join(f"- **{md(k)}:** {md(v)}\n" for k, v in pairs)


def _pairs(d: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in d.items()) or "—"


def render_markdown(doc: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    out: list[str] = []
    w = out.append
    tool = doc["tool"]
    tr = doc["time_range"]
    tokens = doc["tokens"]
    pl = tokens["proxy_list"]
    same = "yes" if tokens["proxy_matches_packaged_list"] else "no"
    proxy_line = (
        f"{len(tokens['proxy']):,} (packaged list: {pl['source']} @ {pl['source_commit']}, "
        f"{pl['date']}; policy list = packaged list: {same})"
    )
    w("# AI opt-out compliance report\n\n")
    n_runs = len(doc["runs"]) + doc["runs_truncated"]
    rng = f"{tr['first']} — {tr['last']} (UTC)" if tr["first"] else "no readable times"
    w(f"{n_runs:,} run(s) · {doc['records']:,} trail records · {md(rng)}\n\n")
    w(f"*{md(doc['disclaimer'])}*\n\n")
    cut = [i for i in doc["inputs"] if i.get("cut")]
    if cut:
        w(
            f"> **Warning: incomplete input.** {len(cut):,} trail(s) cut mid-stream; this report "
            "covers only the records before the cut.\n"
        )
        w("".join(f">\n> - {md(i['path'])}: {md(i['cut'])}\n" for i in cut) + "\n")
    w(_answer(doc))
    s = doc["summary"]
    rs = s["from_run_summaries"]
    u = doc["unknowns"]
    fo = u["fail_open"]
    w("\n## Summary\n\n")
    w(
        _kv(
            [
                ("URLs evaluated (run summaries)", rs["evaluated"]),
                ("Allowed", rs["allowed"]),
                ("Skipped before fetch", rs["skipped"]),
                ("Dropped after fetch", rs["dropped"]),
                ("Flagged (audit)", rs["flagged"]),
                ("Runs without a summary", rs["runs_without_summary"]),
                ("Decision records", s["decision_records"]),
                ("By action", _pairs(s["by_action"])),
                ("By mode", _pairs(s["by_mode"])),
                (
                    "Deciding rule named own token / another agent",
                    f"{s['own_token_rules']:,} / {s['other_agent_rules']:,}",
                ),
            ]
        )
    )
    w("\n### By signal\n\n")
    w(_table(*tables.by_signal(doc), numeric=range(1, 8)))
    w("\n### By purpose\n\n")
    w(_table(*tables.by_purpose(doc), numeric=range(1, 8)))

    w("\n## Unknown and not checked\n\n")
    w(
        _kv(
            [
                ("Unknown outcomes", u["total"]),
                ("Resolved to reserve (fail-closed)", u["resolved_to_reserve"]),
                ("Resolved to allow (by policy)", u["resolved_to_allow"]),
                ("… of which not checked (no evidence available)", u["not_checked"]),
                ("robots.txt unknown resolved to allow (fail-open)", fo["robots_unknown_allowed"]),
                ("Reservation recorded but URL allowed (fail-open)", fo["reservation_allowed"]),
                ("Decision records with a signal not checked (never seen)", u["unchecked_records"]),
            ]
        )
    )
    w("\n")
    w(_table(*tables.unknowns_by_signal(doc), numeric=[1, 2]))
    w("\nNot checked, by signal (the evidence was never seen):\n\n")
    w(_table(*tables.not_checked(doc), numeric=[1]))

    dm = doc["domains"]
    top = doc["parameters"]["top"]
    head = [
        "Domain",
        "Evaluated",
        "Skipped",
        "Dropped",
        "Flagged",
        "Decision records",
        "Blocked",
        "Other-agent rules",
        "Own-token rules",
    ]

    def drows(rows: list[dict[str, Any]]) -> Iterable[Sequence[object]]:
        return (
            (
                r["domain"],
                r["evaluated"],
                r["skipped"],
                r["dropped"],
                r["flagged"],
                r["decisions"],
                r["blocked"],
                r["other_agent_rules"],
                r["own_token_rules"],
            )
            for r in rows
        )

    w("\n## By registrable domain\n\n")
    w(
        _kv(
            [
                ("Registrable domains", dm["total"]),
                ("Domains whose rules named only other agents", dm["other_agents_only"]["count"]),
                ("Domains with robots.txt fetch failures", dm["with_robots_fetch_failures"]),
            ]
        )
    )
    w(f"\nTop {top} shown; `domains.csv` has every domain.\n\n### Top by skips\n\n")
    w(_table(head, drows(dm["top_by_skips"]), numeric=range(1, 9)))
    w("\n### Top by volume\n\n")
    w(_table(head, drows(dm["top_by_volume"]), numeric=range(1, 9)))
    w("\n### Rules that named only other agents\n\n")
    w(_table(head, drows(dm["other_agents_only"]["top"]), numeric=range(1, 9)))

    sm = doc["samples"]
    w(
        f"\n## Evidence samples\n\nSeed {md(sm['seed'])}, up to {sm['per_signal']} per signal. {md(sm['method'])}\n"
    )
    for g in sm["by_signal"]:
        w(
            f"\n### {md(g['signal'])} ({len(g['items']):,} of {g['population']:,})\n\n"
            f"Blocked {g['blocked']:,}, unknown {g['unknown']:,}, allowed {g['allowed']:,}; "
            "blocks shown first, then unknowns, then allows.\n\n"
        )
        w(
            _table(
                ["Time (UTC)", "URL", "Evidence", "Line", "Scope", "Own token", "Evidence from", "Action"],
                (
                    (
                        it["time"],
                        it["url"],
                        it["evidence"],
                        it["line"],
                        it["scope"] or it["location"],
                        it["own_token"],
                        it["evidence_url"],
                        it["action"],
                    )
                    for it in g["items"]
                ),
                numeric=[3],
            )
        )
    w("\n## Policy and signals\n\n")
    for p in doc["policies"]:
        w(f"### Policy `{p['hash']}`\n\n")
        w(_kv([("Runs", ", ".join(p["runs"]))]))
        w(
            "\nCanonical JSON (its SHA-256 is the policy hash):\n\n```json\n"
            + _fence(canonical_json(p["policy"]))
            + "\n```\n\n"
        )
    if not doc["policies"]:
        w("No run or summary record carried a policy.\n\n")
    w("### Signals checked\n\n")
    w(_table(*tables.signals_checked(doc)))

    w("\n## Runs and provenance\n\n")
    w(
        _kv(
            [
                ("Generated (UTC)", doc["generated_at"]),
                ("Tool", f"{tool['name']} {tool['version']}"),
                ("Tool versions in trails", _pairs(doc["tools_seen"])),
                ("Report schema", doc["schema"]),
                ("Time range (UTC)", f"{tr['first']} — {tr['last']}" if tr["first"] else "no readable times"),
                ("Runs", len(doc["runs"]) + doc["runs_truncated"]),
                ("Audit records read", doc["records"]),
                ("Policy hash(es)", ", ".join(p["hash"] for p in doc["policies"]) or "none recorded"),
                ("Own product token(s)", ", ".join(tokens["own"]) or "—"),
                ("Proxy tokens", proxy_line),
                ("Registrable domains", doc["domains"]["psl"]),
            ]
        )
    )
    w("\n")
    w(
        _table(
            [
                "Run id",
                "Run",
                "Version",
                "Started (UTC)",
                "Ended (UTC)",
                "Decision records",
                "Summary",
                "Not checked",
            ],
            (
                (
                    r["run_id"],
                    r["label"],
                    r["version"],
                    r["started"],
                    r["ended"],
                    r["decisions"],
                    r["has_summary"],
                    ", ".join(r["not_checked"]),
                )
                for r in doc["runs"][:200]
            ),
            numeric=[5],
        )
    )
    if len(doc["runs"]) > 200:
        w(f"\n{len(doc['runs']) - 200:,} more runs are listed in report.json.\n")
    for r in doc["runs"][:200]:
        for c in r.get("caveats", ()):
            w(f"\n> Caveat, run {md(r['run_id'][:12])}: {md(c)}\n")
    shared = [c for c in doc.get("crawls", ()) if len(c["runs"]) > 1]
    if shared:  # issue 17: the workers of a distributed crawl, merged
        w("\n### Crawls with several workers\n\n")
        w(
            _table(
                [
                    "Crawl id",
                    "Workers (runs)",
                    "Started (UTC)",
                    "Ended (UTC)",
                    "Decision records",
                    "Blocked",
                    "Allowed",
                    "Runs without summary",
                ],
                (
                    (
                        c["crawl_id"],
                        len(c["runs"]),
                        c["started"],
                        c["ended"],
                        c["decisions"],
                        c["blocked"],
                        c["allowed"],
                        c["unfinished"],
                    )
                    for c in shared[:200]
                ),
                numeric=[1, 4, 5, 6, 7],
            )
        )
    ex = doc["exceptions"]
    w("\n## Exceptions\n\n### Site-file fetches by status class\n\n")
    w(_table(*tables.fetch_status(doc), numeric=range(1, 6)))
    t = ex["trail"]
    ai = ex["audit_inputs"]
    w("\n")
    w(
        _kv(
            [
                (
                    "Parse failures (decisions / files)",
                    f"{ex['parse_failures']['total']:,} / {ex['parse_failures']['distinct_files']:,}",
                ),
                (
                    "Oversize files (decisions / files)",
                    f"{ex['oversize']['total']:,} / {ex['oversize']['distinct_files']:,}",
                ),
                ("Unreadable trail lines", t["bad_lines"]),
                ("Torn last lines", t["torn_lines"]),
                ("Records of another schema", t["foreign_records"]),
                ("Malformed records", t["malformed_records"]),
                ("Trails cut mid-stream (read as far as they go)", ", ".join(t["cut_files"]) or "none"),
                (
                    "Records with text that is not valid Unicode (lone surrogates, shown as \\udXXX)",
                    t["escaped_records"],
                ),
                ("Decisions under an undeclared policy hash", doc["undeclared_policy_decisions"]),
                ("Records whose policy_hash does not match their policy", doc["policy_hash_mismatches"]),
                ("Audit: truncated / damaged archive records", f"{ai['truncated']:,} / {ai['damaged']:,}"),
                ("Audit: site-file captures available (inputs and --robots-from)", ai["captures_indexed"]),
                ("Audit: … of which found inside the input archives", ai["captures"]),
                (
                    "Audit: decision records whose site files came from a capture (per record)",
                    ai["captures_cited"]["records_citing"],
                ),
                (
                    "Audit: unique capture URLs those records cite (per capture)",
                    ai["captures_cited"]["unique_cited"],
                ),
                ("Audit: stretches that could not be read (not judged)", ai.get("unreadable", 0)),
                ("Audit: origins without a robots.txt capture", ai["origins_without_robots"]),
            ]
        )
    )
    w("\n## Limitations\n\n")
    w("".join(f"- {md(x)}\n" for x in doc["limitations"]))
    w(
        "\n## Integrity\n\nSHA-256 of every input as read; `manifest.json` lists every input and output file.\n\n"
    )
    w(
        _table(
            ["Input", "Bytes", "Records", "SHA-256"],
            (
                (
                    i["path"] + (" (cut mid-stream)" if i.get("cut") else ""),
                    i["bytes"],
                    i["records"],
                    i["sha256"],
                )
                for i in doc["inputs"]
            ),
            numeric=[1, 2],
        )
    )
    return "".join(out)


def _answer(doc: dict[str, Any]) -> str:
    """The answer first: six numbers, the fail-open statement and the not-checked warning."""
    h = doc["headline"]
    rs = doc["summary"]["from_run_summaries"]
    u = doc["unknowns"]
    out = ["## Answer\n\n"]
    out.append(
        _table(
            ["Evaluated", "Blocked", "Allowed", "Unknown", "Not checked", "Failed open"],
            [(h["evaluated"], h["blocked"], h["allowed"], h["unknown"], h["not_checked"], h["failed_open"])],
            numeric=range(6),
        )
    )
    out.append(
        f"\nBlocked: skipped {rs['skipped']:,}, dropped {rs['dropped']:,}, flagged {rs['flagged']:,}. "
        f"Unknown: {h['unknown_to_reserve']:,} resolved to blocked, {h['unknown_to_allow']:,} to allowed "
        "(allowed includes them).\n\n"
    )
    fo = h["failed_open"]
    if fo == 0:
        out.append(
            "- **Nothing failed open:** every unreachable robots.txt was treated as a complete disallow and "
            "no recorded reservation was let through.\n"
        )
    else:
        out.append(f"- **{fo:,} fail-open event(s)** — see *Unknown and not checked*.\n")
    nc = h["not_checked"]
    if nc:
        per = ", ".join(f"{md(r['signal'])}: {r['records']:,}" for r in u["unchecked_by_signal"][:6])
        out.append(
            f"- **Warning: not checked: {nc:,}** record(s)"
            + (f" (decision records: {per})" if per else "")
            + ": the evidence was never seen (e.g. an audit without a robots.txt capture); "
            "the policy resolved them.\n"
        )
    for r in h["runs_not_checking"][:5]:
        n = f"{r['records']:,} record(s)" if r["records"] else "its records"
        why = f" ({md(r['why'])})" if r["why"] else " (URL-only inputs)"
        out.append(
            f"- **Warning:** run {md(r['run_id'])} ({md(r['label'])}): {n} could not be checked for "
            f"{md(', '.join(r['signals']))}{why}.\n"
        )
    if h["runs_without_summary"]:
        out.append(
            f"- {h['runs_without_summary']:,} run(s) wrote no summary: their "
            f"{h['decisions_of_runs_without_summary']:,} decision records are counted instead.\n"
        )
    return "".join(out)


def _fence(s: str) -> str:
    # A policy value cannot close the code fence.
    return s.replace("```", "`\u200b``")
