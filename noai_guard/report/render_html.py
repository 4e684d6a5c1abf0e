"""Internal: the HTML report, one self-contained file a reviewer can open offline and print.

No external resources, no scripts: inline CSS, inline SVG charts
(:mod:`.svg`), and a Content-Security-Policy that forbids everything else, so
even a mistake in escaping could not load or run anything.  Every value from
the audit data goes through :func:`.htmlutil.esc` (``html.escape`` with
``quote=True``); URLs are shown as text, never as links.

The first screen answers the question (issue 14): evaluated, blocked,
allowed, unknown, not checked, failed open, with the fail-open statement and
the not-checked warning side by side; the detail follows, and the hashes,
run ids and policy text come after it.  It fits a 1280 px window: every cell
wraps long URLs and evidence anywhere (``overflow-wrap:anywhere``), the
evidence tables have fixed column widths, tables are cut at ``--top`` rows
(the complete per-domain table is ``domains.csv``); ``@media print`` lays the
same content out for A4 (``@page``) with every section expanded.
"""

from __future__ import annotations

import json
from typing import Any

from ..policy import canonical_json
from . import tables
from .htmlutil import Markup, esc, join, table, tag
from .svg import column_chart, hbar_chart

_CSS = """
:root{--fg:#1d232b;--muted:#5b6470;--line:#d8dde3;--bg:#fff;--soft:#f5f7f9;--accent:#1f5f99;
--skipped:#c0392b;--dropped:#e67e22;--flagged:#8e44ad;--allowed:#2e8b57;--unknown:#7f8c8d;
--volume:#1f5f99;--other:#95a5a6;--ok:#1e7b43;--bad:#b3261e;--warn:#9a5b00}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;color:var(--fg);background:var(--bg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,sans-serif}
.wrap{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
header.cover{border-bottom:3px solid var(--accent);padding-bottom:12px;margin-bottom:16px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px;padding-top:8px;
border-top:1px solid var(--line)}h3{font-size:16px;margin:20px 0 6px}
.sub{color:var(--muted);margin:0 0 12px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;overflow-wrap:anywhere}
nav.toc{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:8px 14px;
margin:12px 0}nav.toc ol{margin:4px 0;padding-left:20px;columns:3}
nav.toc a{color:var(--accent);text-decoration:none}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px;margin:10px 0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px;background:var(--soft)}
.card .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.card .k{color:var(--muted);font-size:12px}
.card.ok{border-color:var(--ok)}.card.ok .v{color:var(--ok)}
.card.bad{border-color:var(--bad)}.card.bad .v{color:var(--bad)}
.card.warn{border-color:var(--warn)}.card.warn .v{color:var(--warn)}
.card .d{color:var(--muted);font-size:12px;margin-top:2px}
.cards.headline{grid-template-columns:repeat(6,minmax(0,1fr))}.headline .v{font-size:28px}
.scope{color:var(--muted);margin:0 0 4px}
.verdict{padding:8px 12px;border-radius:6px;margin:8px 0;font-weight:600}
.verdict.ok{background:#e8f5ec;color:var(--ok)}.verdict.bad{background:#fdecea;color:var(--bad)}
.verdict.warn{background:#fff4e0;color:var(--warn)}
.verdict .note{font-weight:400;display:block;margin-top:2px}
.status{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:0 12px}
.status .verdict{margin:4px 0}
.tbl{max-height:70vh;overflow:auto;border:1px solid var(--line);border-radius:4px;margin:6px 0 12px}
table{border-collapse:collapse;width:100%;font-size:13px}
caption{text-align:left;color:var(--muted);padding:4px 6px}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}th{overflow-wrap:break-word;hyphens:auto}
.samples table{table-layout:fixed}
.samples th:nth-child(1){width:11%}.samples th:nth-child(2){width:17%}.samples th:nth-child(3){width:16%}
.samples th:nth-child(4){width:14%}.samples th:nth-child(5){width:13%}.samples th:nth-child(6){width:16%}
.samples th:nth-child(7){width:13%}
.samples pre{max-height:none;font-size:11px;padding:4px}
thead th{position:sticky;top:0;background:#eef1f4;z-index:1}
tbody tr:nth-child(even){background:#fafbfc}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.n{white-space:nowrap}
td.code,pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
td.code{white-space:pre-wrap;overflow-wrap:anywhere}
td.empty,p.empty{color:var(--muted);font-style:italic}
pre{background:var(--soft);border:1px solid var(--line);padding:8px;overflow:auto;max-height:50vh;
white-space:pre-wrap;overflow-wrap:anywhere}
details{margin:6px 0}details>summary{cursor:pointer;font-weight:600;padding:4px 0}
.note{color:var(--muted);font-size:13px}
.charts{display:flex;flex-wrap:wrap;gap:8px 24px}
figure{margin:8px 0;break-inside:avoid}figcaption{font-weight:600;font-size:13px;margin-bottom:2px}
svg.chart{max-width:100%;height:auto;font:12px system-ui,sans-serif}
svg .label,svg .value,svg .legend,svg .tick{fill:var(--fg)}svg .axis{stroke:var(--muted)}
.c-skipped{fill:var(--skipped)}.c-dropped{fill:var(--dropped)}.c-flagged{fill:var(--flagged)}
.c-allowed{fill:var(--allowed)}.c-unknown{fill:var(--unknown)}.c-volume{fill:var(--volume)}
.c-other{fill:var(--other)}
ul.lim li{margin:4px 0}
footer{margin-top:32px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
@page{size:A4;margin:14mm 12mm}
@media print{
body{font-size:10pt}.wrap{max-width:none;padding:0}
nav.toc{display:none}
table{font-size:8.5pt}th,td{padding:2px 4px}
td.code,pre,code{font-size:8pt}
.cards.headline{grid-template-columns:repeat(3,minmax(0,1fr))}.headline .v{font-size:18pt}
.verdict{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.tbl{max-height:none;overflow:visible;border:none}
thead{display:table-header-group}thead th{position:static;background:#eee}
tr,.card,svg.chart,dl.kv{break-inside:avoid}
h2,h3{break-after:avoid}h2{break-before:auto}
details::details-content{content-visibility:visible;display:contents}
details>summary{list-style:none}details>summary::-webkit-details-marker{display:none}
pre{max-height:none;overflow:visible}
.cards{grid-template-columns:repeat(4,minmax(0,1fr))}
}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_SECTIONS: tuple[tuple[str, str], ...] = (
    ("answer", "Answer"),
    ("summary", "Summary"),
    ("unknowns", "Unknown and not checked"),
    ("timeline", "Over time"),
    ("domains", "By domain"),
    ("samples", "Evidence samples"),
    ("policy", "Policy and signals"),
    ("runs", "Runs and provenance"),
    ("exceptions", "Exceptions"),
    ("limitations", "Limitations"),
    ("integrity", "Integrity"),
)


def _kv(pairs: list[tuple[str, object]]) -> Markup:
    return Markup(
        '<dl class="kv">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs) + "</dl>"
    )


def _card(label: str, value: object, state: str = "", detail: object = "") -> Markup:
    c = f"card {state}".strip()
    d = f'<div class="d">{esc(detail)}</div>' if detail else ""
    return Markup(
        f'<div class="{esc(c)}"><div class="v">{esc(value)}</div><div class="k">{esc(label)}</div>{d}</div>'
    )


def _code(v: object) -> Markup:
    return tag("code", v)


def _section(sid: str, title: str, *parts: object) -> Markup:
    return Markup(f'<section id="{esc(sid)}"><h2>{esc(title)}</h2>{join(parts)}</section>')


def _details(summary: object, *parts: object, open_: bool = True) -> Markup:
    o = " open" if open_ else ""
    return Markup(f"<details{o}><summary>{esc(summary)}</summary>{join(parts)}</details>")


def _range(doc: dict[str, Any]) -> str:
    tr = doc["time_range"]
    if not tr["first"]:
        return "no readable times"
    return f"{tr['first']} — {tr['last']} (UTC)"


def _masthead(doc: dict[str, Any]) -> Markup:
    """Title, disclaimer and one line of scope: what the answer below is about."""
    runs = doc["runs"]
    n_runs = len(runs) + doc["runs_truncated"]
    labels: dict[str, int] = {}
    for r in runs:
        labels[r["label"].split(",")[0]] = labels.get(r["label"].split(",")[0], 0) + 1
    kinds = ", ".join(f"{v:,} {k}" for k, v in labels.items())
    scope = (
        f"{n_runs:,} run(s)" + (f" ({kinds})" if kinds else "") + f" · {doc['records']:,} trail records"
        f" · {_range(doc)}"
    )
    return Markup(
        '<header class="cover" id="cover">'
        "<h1>AI opt-out compliance report</h1>"
        f'<p class="scope">{esc(scope)}</p>'
        f'<p class="sub">{esc(doc["disclaimer"])}</p>'
        "</header>"
    )


def _headline(doc: dict[str, Any]) -> Markup:
    """The answer: six numbers, then the fail-open statement beside the not-checked warning."""
    h = doc["headline"]
    fo, nc = h["failed_open"], h["not_checked"]
    rs = doc["summary"]["from_run_summaries"]
    cards = [
        _card("evaluated", h["evaluated"], detail="URLs judged (run summaries)"),
        _card(
            "blocked",
            h["blocked"],
            "bad" if h["blocked"] else "",
            f"skipped {rs['skipped']:,} · dropped {rs['dropped']:,} · flagged {rs['flagged']:,}",
        ),
        _card("allowed", h["allowed"], detail="unknowns allowed by policy included"),
        _card(
            "unknown",
            h["unknown"],
            "warn" if h["unknown"] else "",
            f"→ blocked {h['unknown_to_reserve']:,} · → allowed {h['unknown_to_allow']:,}",
        ),
        _card("not checked", nc, "warn" if nc else "ok", "decision records with a signal never seen"),
        _card("failed open", fo, "bad" if fo else "ok", "unreadable signal or reservation let through"),
    ]
    if fo == 0:
        fail = Markup(
            '<p class="verdict ok">Nothing failed open: every unreachable robots.txt was treated as a '
            "complete disallow and no recorded reservation was let through.</p>"
        )
    else:
        fail = Markup(
            f'<p class="verdict bad">{esc(fo)} fail-open event(s): an unreachable robots.txt or a recorded '
            'reservation was let through; see "Unknown and not checked".</p>'
        )
    status = [fail, _not_checked_banner(doc)]
    note: object = ""
    if h["runs_without_summary"]:
        note = tag(
            "p",
            f"{h['runs_without_summary']:,} run(s) wrote no summary (crashed or still running): their "
            f"{h['decisions_of_runs_without_summary']:,} decision records are counted instead.",
            cls="note",
        )
    return Markup(
        '<section id="answer" aria-label="Answer">'
        '<div class="cards headline">' + "".join(cards) + "</div>"
        '<div class="status">' + join(status) + "</div>" + esc(note) + "</section>"
    )


def _not_checked_banner(doc: dict[str, Any]) -> Markup:
    """A warning with the count of records never checked, per signal, and the runs that checked none."""
    h = doc["headline"]
    u = doc["unknowns"]
    nc = h["not_checked"]
    per_sig = ", ".join(f"{r['signal']}: {r['records']:,}" for r in u["unchecked_by_signal"][:6])
    runs = h["runs_not_checking"]
    if not nc and not runs:
        return Markup('<p class="verdict ok">Every decision record had each signal it names checked.</p>')
    parts = []
    if nc:
        parts.append(
            f"{nc:,} record(s) not checked for some signal"
            + (f" (decision records: {per_sig})" if per_sig else "")
            + ": the evidence was never seen (e.g. an audit without a robots.txt capture); "
            "the policy resolved them."
        )
    for r in runs[:5]:
        n = f"{r['records']:,} record(s)" if r["records"] else "its records"
        why = f" ({r['why']})" if r["why"] else " (URL-only inputs)"
        parts.append(
            f"Run {r['run_id'][:12]} ({r['label']}): {n} could not be checked for "
            f"{', '.join(r['signals'])}{why}."
        )
    return Markup(
        f'<p class="verdict warn" role="status">Not checked: {esc(nc)}'
        f'<span class="note">{esc(" ".join(parts))}</span></p>'
    )


def _runs(doc: dict[str, Any]) -> Markup:
    """Provenance: tool, schema, hashes and every run (the detail the answer rests on)."""
    tool = doc["tool"]
    runs = doc["runs"]
    pols = doc["policies"]
    kv: list[tuple[str, object]] = [
        ("Generated (UTC)", doc["generated_at"]),
        ("Tool", f"{tool['name']} {tool['version']}"),
        (
            "Tool versions in trails",
            ", ".join(f"{k} ({v:,} runs)" for k, v in doc["tools_seen"].items()) or "—",
        ),
        ("Report schema", doc["schema"]),
        ("Time range", _range(doc)),
        (
            "Runs",
            f"{len(runs):,}" + (f" (+{doc['runs_truncated']:,} not listed)" if doc["runs_truncated"] else ""),
        ),
        ("Audit records read", doc["records"]),
        ("Policy hash(es)", ", ".join(p["hash"] for p in pols) or "none recorded"),
        ("Own product token(s)", ", ".join(doc["tokens"]["own"]) or "—"),
        ("Registrable domains", doc["domains"]["psl"]),
    ]
    run_rows = (
        (
            r["run_id"],
            r["label"],
            r["version"],
            _lines(r["started"], r["ended"]),
            r["decisions"],
            (r["finish_reason"] or "yes") if r["has_summary"] else "no",
            _lines(r["spider"] or "; ".join(r["inputs"]), _unchecked_note(r["not_checked"])),
        )
        for r in runs[:1000]
    )
    more = len(runs) - 1000
    return _section(
        "runs",
        "Runs and provenance",
        _kv(kv),
        _details(
            f"Runs ({len(runs):,})",
            table(
                [
                    "Run id",
                    "Run",
                    "Version",
                    "Started / ended (UTC)",
                    "Decision records",
                    "Summary",
                    "Spider / inputs",
                ],
                run_rows,
                numeric=[4],
                code=[0],
            ),
            tag("p", f"{more:,} more runs are listed in report.json.", cls="note") if more > 0 else "",
            open_=len(runs) <= 20,
        ),
        join(
            tag("p", f"Caveat, run {r['run_id'][:12]}: {c}", cls="note caveat")
            for r in runs[:1000]
            for c in r.get("caveats", ())
        ),
        _crawls(doc),
    )


def _crawls(doc: dict[str, Any]) -> Markup:
    """The workers of each distributed crawl (runs sharing a ``crawl_id``), merged; nothing if none."""
    shared = [c for c in doc.get("crawls", ()) if len(c["runs"]) > 1]
    if not shared:
        return Markup("")
    return _details(
        f"Crawls with several workers ({len(shared):,})",
        table(
            ["Crawl id", "Workers (runs)", "Started (UTC)", "Ended (UTC)", "Decision records", "Blocked",
             "Allowed", "Runs without summary"],
            (
                (c["crawl_id"], len(c["runs"]), c["started"], c["ended"], c["decisions"], c["blocked"],
                 c["allowed"], c["unfinished"])
                for c in shared[:200]
            ),
            numeric=[1, 4, 5, 6, 7],
            code=[0],
        ),
        open_=True,
    )  # fmt: skip


def _unchecked_note(signals: list[str]) -> str:
    return f"not checked: {', '.join(signals)}" if signals else ""


def _cut_warning(doc: dict[str, Any]) -> Markup:
    """A visible warning when a trail was read only in part (a cut gzip stream)."""
    cut = [i for i in doc["inputs"] if i.get("cut")]
    if not cut:
        return Markup("")
    items = "".join(f"<li><code>{esc(i['path'])}</code>: {esc(i['cut'])}</li>" for i in cut)
    return Markup(
        '<div class="verdict bad" role="alert">Incomplete input: '
        f"{len(cut):,} trail(s) cut mid-stream; this report covers only the records before the cut."
        f"<ul>{items}</ul></div>"
    )


def _toc() -> Markup:
    items = "".join(f'<li><a href="#{esc(s)}">{esc(t)}</a></li>' for s, t in _SECTIONS if s != "answer")
    return Markup(f'<nav class="toc" aria-label="Contents"><ol>{items}</ol></nav>')


def _policy(doc: dict[str, Any]) -> Markup:
    parts: list[object] = []
    tokens = doc["tokens"]
    pl = tokens["proxy_list"]
    parts.append(tag("h3", "Crawler identity"))
    parts.append(
        _kv(
            [
                ("Own product token(s)", ", ".join(tokens["own"]) or "—"),
                ("Proxy tokens in policy", f"{len(tokens['proxy']):,}"),
                (
                    "Packaged proxy list",
                    f"{pl['source']} @ {pl['source_commit']} ({pl['date']}, {pl['tokens']} tokens)",
                ),
                (
                    "Policy list = packaged list",
                    "yes" if tokens["proxy_matches_packaged_list"] else "no (the policy names its own list)",
                ),
            ]
        )
    )
    parts.append(
        _details("Proxy tokens", tag("p", ", ".join(tokens["proxy"]) or "none", cls="note"), open_=False)
    )
    parts.append(tag("h3", "Policy in effect"))
    if not doc["policies"]:
        parts.append(tag("p", "No run or summary record carried a policy.", cls="empty"))
    for p in doc["policies"]:
        pol = p["policy"]
        rows: list[tuple[str, object]] = [("Hash (SHA-256)", p["hash"]), ("Runs", ", ".join(p["runs"]))]
        for k in (
            "purpose",
            "user_agents",
            "sources",
            "unknown_as",
            "unknown_default",
            "honour_legacy",
            "lenient_noimageai",
            "html_strict",
        ):
            if k in pol:
                v = pol[k]
                rows.append((k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)))
        parts.append(_kv(rows))
        parts.append(
            _details(
                "Full policy (canonical JSON: its SHA-256 is the policy hash)",
                tag("pre", canonical_json(pol)),
                open_=False,
            )
        )
    if doc["policies_truncated"]:
        parts.append(tag("p", f"{doc['policies_truncated']:,} further policies not listed.", cls="note"))
    parts.append(tag("h3", "Signals checked"))
    parts.append(table(*tables.signals_checked(doc), code=[0]))
    hashes = doc["decision_policy_hashes"]
    if hashes:
        parts.append(
            _details(
                "Policy hashes named by decision records",
                table(
                    ["Policy hash", "Decisions", "Status"],
                    ((h["hash"], h["decisions"], h["status"]) for h in hashes),
                    numeric=[1],
                    code=[0],
                ),
                open_=doc["undeclared_policy_decisions"] > 0,
            )
        )
    return _section("policy", "Policy and signals", *parts)


def _summary(doc: dict[str, Any]) -> Markup:
    s = doc["summary"]
    rs = s["from_run_summaries"]
    u = doc["unknowns"]
    totals = _kv(
        [
            ("URLs evaluated (run summaries)", rs["evaluated"]),
            ("Allowed", rs["allowed"]),
            ("Skipped before fetch", rs["skipped"]),
            ("Dropped after fetch", rs["dropped"]),
            ("Flagged (audit, or audit-only crawl)", rs["flagged"]),
            ("Decision records", s["decision_records"]),
            (
                "Unknown → reserve (fail-closed) / → allow (by policy)",
                f"{u['resolved_to_reserve']:,} / {u['resolved_to_allow']:,}",
            ),
            (
                "Runs with / without a summary",
                f"{rs['runs_with_summary']:,} / {rs['runs_without_summary']:,}",
            ),
        ]
    )
    note = ""
    if rs["runs_without_summary"]:
        note = tag(
            "p",
            f"{rs['runs_without_summary']:,} run(s) wrote no summary (crashed or still running): their "
            "evaluated/allowed totals are missing here; their decision records are counted.",
            cls="note",
        )
    sig_rows = [
        (r["signal"], [("skipped", r["skipped"]), ("dropped", r["dropped"]), ("flagged", r["flagged"])])
        for r in s["by_signal"]
        if r["skipped"] + r["dropped"] + r["flagged"]
    ]
    pur_rows = [
        (r["purpose"], [("skipped", r["skipped"]), ("dropped", r["dropped"]), ("flagged", r["flagged"])])
        for r in s["by_purpose"]
    ]
    charts = Markup(
        '<div class="charts">'
        + hbar_chart("Skips by signal", sig_rows[:20])
        + hbar_chart("Skips by purpose", pur_rows[:10])
        + "</div>"
    )
    sig_table = table(*tables.by_signal(doc), numeric=range(1, 8), code=[0], caption="By deciding signal")
    pur_table = table(*tables.by_purpose(doc), numeric=range(1, 8), caption="By purpose")
    matrix = table(
        ["Signal", "Purpose", "Skipped / dropped / flagged"],
        ((m["signal"], m["purpose"], m["count"]) for m in s["signal_purpose"]),
        numeric=[2],
        code=[0],
        caption="Signal × purpose",
    )
    modes = _kv(
        [
            ("By action", _pairs(s["by_action"])),
            ("By verdict", _pairs(s["by_verdict"])),
            ("By mode", _pairs(s["by_mode"])),
            ("By phase", _pairs(s["by_phase"])),
            ("Deciding rule named own token", s["own_token_rules"]),
            ("Deciding rule named another agent", s["other_agent_rules"]),
        ]
    )
    return _section(
        "summary",
        "Summary",
        totals,
        note,
        charts,
        sig_table,
        pur_table,
        matrix,
        modes,
    )


def _pairs(d: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in d.items()) or "—"


def _unknowns(doc: dict[str, Any]) -> Markup:
    u = doc["unknowns"]
    fo = u["fail_open"]
    parts: list[object] = [
        tag(
            "p",
            "An 'unknown' outcome means a signal could not be read (for example a robots.txt that answered "
            "5xx or did not answer). The policy resolves it; resolving to 'reserve' is fail-closed.",
            cls="note",
        ),
        _kv(
            [
                ("Unknown outcomes", u["total"]),
                ("Resolved to reserve (fail-closed)", u["resolved_to_reserve"]),
                ("Resolved to allow (by policy)", u["resolved_to_allow"]),
                ("… of which not checked: no evidence was available (e.g. no capture)", u["not_checked"]),
                (
                    "robots.txt unknown resolved to allow (fail-open, RFC 9309 §2.3.1.4)",
                    fo["robots_unknown_allowed"],
                ),
                ("Reservation recorded but URL allowed (fail-open)", fo["reservation_allowed"]),
                ("Decision records with a signal not checked (never seen)", u["unchecked_records"]),
            ]
        ),
        table(
            *tables.unknowns_by_signal(doc), numeric=[1, 2], code=[0], caption="Unknown outcomes by signal"
        ),
        table(
            *tables.not_checked(doc),
            numeric=[1],
            code=[0],
            caption="Not checked, by signal: the evidence was never seen (no capture, or an input without it)",
        ),
        table(
            ["Resolution", "Decisions"],
            ((r["resolution"], r["count"]) for r in u["resolutions"]),
            numeric=[1],
            caption="Resolutions recorded",
        ),
    ]
    if fo["samples"]:
        parts.append(tag("h3", "Fail-open events (sample)"))
        parts.append(_sample_table(fo["samples"]))
    return _section("unknowns", "Unknown and not checked", *parts)


def _timeline(doc: dict[str, Any]) -> Markup:
    tl = doc["timeline"]
    suffix = ":00" if tl["bucket"] == "hour" else ""
    buckets = [
        (
            b["start"] + suffix,
            [("skipped", b["skipped"]), ("dropped", b["dropped"]), ("flagged", b["flagged"])],
        )
        for b in tl["buckets"]
    ]
    return _section(
        "timeline",
        "Skips over time",
        column_chart(f"Skipped, dropped and flagged URLs per {tl['bucket']} (UTC)", buckets),
        tag("p", f"One column per {tl['bucket']} (UTC), from decision record times.", cls="note"),
    )


_DOM_HEAD = [
    "Domain",
    "Evaluated",
    "Allowed",
    "Skipped",
    "Dropped",
    "Flagged",
    "Unknown",
    "Own-token rules",
    "Other-agent rules",
    "robots.txt failures",
    "Deciding signals",
]


def _dom_rows(rows: list[dict[str, Any]]) -> list[list[object]]:
    return [
        [
            r["domain"],
            r["evaluated"],
            r["allowed"],
            r["skipped"],
            r["dropped"],
            r["flagged"],
            r["unknown"],
            r["own_token_rules"],
            r["other_agent_rules"],
            r["robots_fetch_failures"],
            ", ".join(f"{k}: {v:,}" for k, v in sorted(r["by_signal"].items())),
        ]
        for r in rows
    ]


def _dom_table(rows: list[dict[str, Any]]) -> Markup:
    return table(_DOM_HEAD, _dom_rows(rows), numeric=range(1, 10), code=[0], wide=[10])


def _domains(doc: dict[str, Any]) -> Markup:
    dm = doc["domains"]
    top = doc["parameters"]["top"]
    skip_rows = [
        (
            r["domain"],
            [
                ("skipped", r["records_skipped"]),
                ("dropped", r["records_dropped"]),
                ("flagged", r["records_flagged"]),
            ],
        )
        for r in dm["top_by_skips"][:15]
        if r["blocked"] or r["records_flagged"]
    ]
    vol_rows = [
        (r["domain"], [("volume", r["evaluated"])]) for r in dm["top_by_volume"][:15] if r["evaluated"]
    ]
    oa = dm["other_agents_only"]
    return _section(
        "domains",
        "By registrable domain",
        _kv(
            [
                ("Registrable domains", dm["total"]),
                ("Public Suffix List", dm["psl"]),
                ("Domains whose rules named only other agents", oa["count"]),
                ("Domains with robots.txt fetch failures", dm["with_robots_fetch_failures"]),
            ]
        ),
        Markup(
            '<div class="charts">'
            + hbar_chart(f"Top {len(skip_rows)} domains by skips", skip_rows)
            + hbar_chart(f"Top {len(vol_rows)} domains by URLs evaluated", vol_rows)
            + "</div>"
        ),
        tag("p", f"Tables show the top {top}; domains.csv has every domain.", cls="note"),
        _details(
            f"Top {top} by skips",
            _dom_table(dm["top_by_skips"]),
        ),
        _details(
            f"Top {top} by volume",
            _dom_table(dm["top_by_volume"]),
        ),
        tag("h3", "Rules that named only other agents"),
        tag(
            "p",
            "Domains where every deciding robots rule named another crawler's token (a proxy token such as "
            "GPTBot), never this crawler's own: the reservation was honoured by policy, but a court may not "
            "see it as binding this crawler (Rb. Amsterdam, ECLI:NL:RBAMS:2024:6563).",
            cls="note",
        ),
        _dom_table(oa["top"]),
    )


_SAMPLE_HEAD = ["Time (UTC) / run", "URL", "Evidence", "Where", "Evidence from", "Outcome", "Capture"]


def _lines(*parts: object) -> Markup:
    """Escaped parts, one per line (empty parts left out)."""
    return Markup("<br>".join(esc(p) for p in parts if p not in (None, "")))


def _sample_rows(items: list[dict[str, Any]], capture: bool) -> list[list[object]]:
    out: list[list[object]] = []
    for it in items:
        own = "" if it["own_token"] is None else ("own token: yes" if it["own_token"] else "own token: no")
        where = _lines(
            it["location"] + (f", line {it['line']}" if it["line"] is not None else ""),
            it["scope"],
            f"user agent: {it['user_agent']}" if it["user_agent"] else "",
            own,
        )
        outcome = _lines(
            f"{it['action']} ({it['verdict']})",
            f"{it['purpose']}, {it['phase']}",
            tag("span", it["resolution"], cls="note") if it["resolution"] else "",
        )
        row: list[object] = [
            _lines(it["time"].replace("T", " "), tag("span", it["run_id"], cls="note")),
            it["url"],
            it["evidence"],
            where,
            it["evidence_url"],
            outcome,
        ]
        if capture:
            row.append(_locator(it["locator"]))
        out.append(row)
    return out


def _locator(loc: dict[str, str]) -> Markup:
    """Record locator fields one per line; a long nested one (an audit's ``capture``) collapsed."""
    short = [f"{k}={v}" for k, v in loc.items() if len(v) <= 120]
    long = [(k, v) for k, v in loc.items() if len(v) > 120]
    parts = [_lines(*short)] if short else []
    parts += [_details(k, tag("pre", v), open_=False) for k, v in long]
    return join(parts)


def _sample_table(items: list[dict[str, Any]]) -> Markup:
    capture = any(it["locator"] for it in items)
    head = _SAMPLE_HEAD if capture else _SAMPLE_HEAD[:-1]
    return table(head, _sample_rows(items, capture), code=[1, 2, 4, 6], wide=[3, 6], cls="samples")


def _samples(doc: dict[str, Any]) -> Markup:
    sm = doc["samples"]
    parts: list[object] = [
        tag("p", f"Seed {sm['seed']}, up to {sm['per_signal']} per signal. {sm['method']}", cls="note")
    ]
    if not sm["by_signal"]:
        parts.append(tag("p", "No decision record named a signal.", cls="empty"))
    for g in sm["by_signal"]:
        mix = f"blocked {g['blocked']:,} · unknown {g['unknown']:,} · allowed {g['allowed']:,}"
        parts.append(
            _details(
                Markup(
                    f"{_code(g['signal'])} — {esc(len(g['items']))} of {esc(g['population'])} decisions "
                    f'<span class="note">({esc(mix)}; blocks shown first, then unknowns, then allows)</span>'
                ),
                _sample_table(g["items"]),
            )
        )
    return _section("samples", "Evidence samples", *parts)


def _exceptions(doc: dict[str, Any]) -> Markup:
    ex = doc["exceptions"]
    tr = ex["trail"]
    pf = ex["parse_failures"]
    ov = ex["oversize"]
    ai = ex["audit_inputs"]
    return _section(
        "exceptions",
        "Exceptions",
        tag("h3", "Site-file fetches by status class (run summaries)"),
        table(*tables.fetch_status(doc), numeric=range(1, 6)),
        tag(
            "p",
            "RFC 9309 §2.3.1: 4xx means no robots.txt (everything allowed); 5xx and network errors mean "
            "complete disallow. For tdmrep.json a failure means the origin does not implement TDMRep.",
            cls="note",
        ),
        tag("h3", "Parse failures"),
        _kv(
            [
                ("Decisions affected", pf["total"]),
                ("Distinct files", pf["distinct_files"]),
                ("By signal", _pairs(pf["by_signal"])),
            ]
        ),
        table(
            ["File", "Decisions"], ((f["url"], f["decisions"]) for f in pf["files"]), numeric=[1], code=[0]
        ),
        tag("h3", "Oversize files (read up to the limit)"),
        _kv([("Decisions affected", ov["total"]), ("Distinct files", ov["distinct_files"])]),
        table(
            ["File", "Decisions"], ((f["url"], f["decisions"]) for f in ov["files"]), numeric=[1], code=[0]
        ),
        tag("h3", "After-the-fact audit inputs (audit summaries)"),
        _kv(
            [
                ("Archive records read", ai["records"]),
                ("Records judged", ai["judged"]),
                *_capture_rows(ai),
                ("Non-HTML records", ai["non_html"]),
                ("Truncated records", ai["truncated"]),
                ("Damaged records", ai["damaged"]),
                ("Stretches that could not be read (records in them not judged)", ai.get("unreadable", 0)),
                ("Origins without a robots.txt capture (not checked)", ai["origins_without_robots"]),
            ]
        ),
        tag("h3", "Audit trail problems"),
        _kv(
            [
                ("Unreadable lines skipped", tr["bad_lines"]),
                ("Torn last lines (crash mid-write) skipped", tr["torn_lines"]),
                ("Records of another schema ignored", tr["foreign_records"]),
                ("Malformed records", tr["malformed_records"]),
                ("Trails cut mid-stream (read as far as they go)", ", ".join(tr["cut_files"]) or "none"),
                (
                    "Records with text that is not valid Unicode (lone surrogates, shown as \\udXXX)",
                    tr["escaped_records"],
                ),
                ("Unreadable times", doc["time_range"]["unreadable_times"]),
                ("Decisions under an undeclared policy hash", doc["undeclared_policy_decisions"]),
                ("Records whose policy_hash does not match their policy", doc["policy_hash_mismatches"]),
                (
                    "Runs summarised more than once (counts may repeat)",
                    ", ".join(tr["runs_summarised_more_than_once"]) or "none",
                ),
            ]
        ),
    )


def _capture_rows(ai: dict[str, Any]) -> list[tuple[str, object]]:
    """Site-file captures of audits, per record and per unique capture URL, each labelled."""
    cc = ai["captures_cited"]
    capped = " (at least: too many to track)" if cc["unique_capped"] else ""
    return [
        (
            "Site-file captures available (inputs and --robots-from; the audit's “captures:”)",
            ai["captures_indexed"],
        ),
        ("… of which found inside the input archives", ai["captures"]),
        (
            "Decision records whose site files came from a capture (per record)",
            f"{cc['records_citing']:,}"
            + (f" ({_pairs(cc['records_by_kind'])})" if cc["records_by_kind"] else ""),
        ),
        (
            "Unique capture URLs those records cite (per capture)",
            f"{cc['unique_cited']:,}{capped}"
            + (f" ({_pairs(cc['unique_by_kind'])})" if cc["unique_by_kind"] else ""),
        ),
        ("Decision records with no capture for a site file", cc["records_without"]),
    ]


def _limitations(doc: dict[str, Any]) -> Markup:
    items = "".join(f"<li>{esc(x)}</li>" for x in doc["limitations"])
    return _section("limitations", "Limitations", Markup(f'<ul class="lim">{items}</ul>'))


def _integrity(doc: dict[str, Any]) -> Markup:
    p = doc["parameters"]
    cmd = "noai-guard report " + " ".join(i["path"] for i in doc["inputs"])
    cmd += f" --top {p['top']} --samples {p['samples']} --seed {p['seed']}"
    return _section(
        "integrity",
        "Integrity",
        tag(
            "p",
            "SHA-256 of every input trail as read. manifest.json, written beside this file, lists the SHA-256 "
            "of every input and every output file (this report included).",
            cls="note",
        ),
        table(
            ["Input", "Bytes", "Records", "Unreadable lines", "SHA-256"],
            (
                (
                    i["path"] + (" (cut mid-stream)" if i.get("cut") else ""),
                    i["bytes"],
                    i["records"],
                    i["bad_lines"] + i["torn_lines"],
                    i["sha256"],
                )
                for i in doc["inputs"]
            ),
            numeric=[1, 2, 3],
            code=[0, 4],
        ),
        tag("h3", "Regenerate"),
        tag("pre", cmd),
    )


def render_html(doc: dict[str, Any]) -> str:
    """The whole report as one HTML document."""
    title = f"AI opt-out compliance report — {doc['tool']['name']} {doc['tool']['version']}"
    body = join(
        [
            _masthead(doc),
            _cut_warning(doc),
            _headline(doc),
            _toc(),
            _summary(doc),
            _unknowns(doc),
            _timeline(doc),
            _domains(doc),
            _samples(doc),
            _policy(doc),
            _runs(doc),
            _exceptions(doc),
            _limitations(doc),
            _integrity(doc),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_CSP)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="{esc(doc["tool"]["name"])} {esc(doc["tool"]["version"])}">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f'<body>\n<div class="wrap">\n{body}\n'
        f"<footer>{esc(doc['disclaimer'])} Generated {esc(doc['generated_at'])} by "
        f"{esc(doc['tool']['name'])} {esc(doc['tool']['version'])}; schema {esc(doc['schema'])}.</footer>\n"
        "</div>\n</body>\n</html>\n"
    )
