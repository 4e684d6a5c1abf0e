"""Internal: the Markdown report, the same sections as the HTML, as GitHub-flavoured Markdown.

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
    w(f"*{md(doc['disclaimer'])}*\n\n")
    cut = [i for i in doc["inputs"] if i.get("cut")]
    if cut:
        w(
            f"> **Warning: incomplete input.** {len(cut):,} trail(s) cut mid-stream; this report "
            "covers only the records before the cut.\n"
        )
        w("".join(f">\n> - {md(i['path'])}: {md(i['cut'])}\n" for i in cut) + "\n")
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
    w("\n## Runs\n\n")
    w(
        _table(
            ["Run id", "Mode", "Version", "Started (UTC)", "Ended (UTC)", "Decision records", "Summary"],
            (
                (
                    r["run_id"],
                    r["mode"],
                    r["version"],
                    r["started"],
                    r["ended"],
                    r["decisions"],
                    r["has_summary"],
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
            w(f"\n> Caveat, run {r['run_id'][:12]}: {c}\n")

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
    if fo["total"] == 0:
        w(
            "\n**Nothing failed open:** every unreachable robots.txt was treated as a complete disallow and no "
            "recorded reservation was let through.\n"
        )
    else:
        w(f"\n**{fo['total']:,} fail-open event(s)** — see *Unknown outcomes*.\n")
    w("\n### By signal\n\n")
    w(_table(*tables.by_signal(doc), numeric=range(1, 8)))
    w("\n### By purpose\n\n")
    w(_table(*tables.by_purpose(doc), numeric=range(1, 8)))

    w("\n## Unknown outcomes and fail-closed events\n\n")
    w(
        _kv(
            [
                ("Unknown outcomes", u["total"]),
                ("Resolved to reserve (fail-closed)", u["resolved_to_reserve"]),
                ("Resolved to allow (by policy)", u["resolved_to_allow"]),
                ("… of which not checked (no evidence available)", u["not_checked"]),
                ("robots.txt unknown resolved to allow (fail-open)", fo["robots_unknown_allowed"]),
                ("Reservation recorded but URL allowed (fail-open)", fo["reservation_allowed"]),
            ]
        )
    )
    w("\n")
    w(_table(*tables.unknowns_by_signal(doc), numeric=[1, 2]))

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
        w(f"\n### {md(g['signal'])} ({len(g['items']):,} of {g['population']:,})\n\n")
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


def _fence(s: str) -> str:
    # A policy value cannot close the code fence.
    return s.replace("```", "`\u200b``")
