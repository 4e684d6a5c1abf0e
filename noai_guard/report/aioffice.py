"""Internal: ``noai-guard report --format ai-office``: the AI Office template's crawling and opt-out sections.

The AI Act (Art. 53(1)(d)) has providers of general-purpose AI models publish
a summary of their training content on the AI Office's "Template for the
Public Summary of Training Content for general-purpose AI models".  Two of its
sections are about what a crawl's trails can show:

* 2.3 "Data crawled and scraped from online sources" (the crawlers, their
  purposes and behaviour, the period, the content and modalities, and the most
  relevant domain names by size of content: the top 10 % of all domains, or
  for smaller providers the top 5 % or 1,000 domains, whichever is lower);
* 3.1 "Respect of reservation of rights from text and data mining exception or
  limitation" (the measures that honour Art. 4(3) reservations).

:func:`ai_office_document` pre-fills those fields from the report's
aggregate (:mod:`.aggregate`, :mod:`.runs`, :mod:`.domains`,
:mod:`.contentsize`); a field the trails cannot know holds
:data:`TO_FILL`.  Field labels follow the template's field names; the prose
is ours.  :func:`render_ai_office_md` writes it as Markdown, every value
escaped as the report escapes it (:func:`.render_md.md`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .render_md import _table, md

if TYPE_CHECKING:
    from .aggregate import Aggregator

AI_OFFICE_SCHEMA = "noai-guard-ai-office/1"
#: What a field the trails cannot fill holds.
TO_FILL = "[to be filled by the provider]"
TEMPLATE = (
    "AI Office, Template for the Public Summary of Training Content for general-purpose AI models "
    "(AI Act Art. 53(1)(d); annexed to the Commission's Explanatory Notice, July 2025)"
)
SECTION_2_3 = "Data crawled and scraped from online sources"
SECTION_3_1 = "Respect of reservation of rights from text and data mining exception or limitation"
#: The template's thresholds for the most relevant domain names (share of all domains).
SHARE_ALL = 0.10
SHARE_SMALLER = 0.05
CAP_SMALLER = 1000
#: Media type prefixes -> the template's modalities.
_MODALITIES = (("text/", "text"), ("image/", "image"), ("audio/", "audio"), ("video/", "video"))
_TEXT_TYPES = frozenset(
    {"application/xhtml+xml", "application/xml", "application/json", "application/ld+json", "application/pdf"}
)
_CRAWL_MODES = frozenset({"crawl", "audit-only"})

NOTES: tuple[str, ...] = (
    (
        "Pre-filled from noai-guard audit trails: what the crawler saw and did at crawl time (or, for "
        "after-the-fact audits, what the archived captures show). A site may have added or removed a "
        "reservation since; nothing is re-checked."
    ),
    (
        "The absence of a machine-readable opt-out is not consent: the figures show which reservations were "
        "found and honoured, not that anything else may lawfully be used."
    ),
    (
        "Sizes are the content kept (allowed): a crawl counts response body bytes as the spider received "
        "them, an audit the stored payload of archived responses. Each run names its origins with the most "
        "bytes (see the limit); the rest of its content is counted without a name, so a ranking near that "
        "limit may miss a domain."
    ),
    "Domains are registrable domains (Public Suffix List bundled with the installed publicsuffixlist "
    "package). Every field marked '" + TO_FILL + "' is for the provider to complete; the provider "
    "remains responsible for the published summary. Not legal advice.",
)


def _field(number: str, label: str, value: Any, *, provider: str | None = None) -> dict[str, Any]:
    """One template field: ``value`` pre-filled from the trails (``TO_FILL`` if unknown), and
    ``provider``: the part only the provider can add (``None`` when the trails answer it)."""
    return {
        "number": number,
        "label": label,
        "value": value,
        "prefilled": value != TO_FILL,
        "provider": f"{TO_FILL}: {provider}" if provider else None,
    }


def _modality(media_type: str) -> str:
    for prefix, name in _MODALITIES:
        if media_type.startswith(prefix):
            return name
    return "text" if media_type in _TEXT_TYPES else "other"


def _thresholds(n: int) -> dict[str, Any]:
    k_all = math.ceil(n * SHARE_ALL) if n else 0
    k_small = min(math.ceil(n * SHARE_SMALLER), CAP_SMALLER) if n else 0
    return {
        "domains_total": n,
        "all_providers": {"rule": "top 10 % of all domains", "count": k_all},
        "smaller_providers": {
            "rule": "top 5 % of all domains or 1,000 domains, whichever is lower (SMEs)",
            "count": k_small,
        },
        "applies": f"{TO_FILL}: which rule applies to the provider",
    }


def _top_domains(agg: Aggregator) -> dict[str, Any]:
    t = agg.sizes
    # All domains: those whose content was kept (allowed) per the run summaries, or named in a size.
    n = max(agg.domains.count_where("allowed > 0"), len(t.domains))
    th = _thresholds(n)
    status = (
        "recorded"
        if t.runs_with and not t.runs_without
        else "partly recorded"
        if t.runs_with
        else "not recorded"
    )
    total_bytes = t.total[1]
    rows = []
    if t.runs_with:
        for i, (dom, pages, size) in enumerate(t.ranked(th["all_providers"]["count"]), 1):
            rows.append(
                {
                    "rank": i,
                    "domain": dom,
                    "pages": pages,
                    "bytes": size,
                    "share_of_bytes": round(size / total_bytes, 6) if total_bytes else 0.0,
                    "in_smaller_provider_list": i <= th["smaller_providers"]["count"],
                }
            )
    return {
        "sizes": status,
        "runs_with_sizes": t.runs_with,
        "runs_without_sizes": t.runs_without,
        "measures": list(t.measures),
        "per_run_origin_limit": sorted(t.limits),
        "total": {"pages": t.total[0], "bytes": total_bytes},
        "unattributed": {"pages": t.unattributed[0], "bytes": t.unattributed[1]},
        "thresholds": th,
        "ranking": rows,
    }


def ai_office_document(agg: Aggregator, doc: dict[str, Any]) -> dict[str, Any]:
    """The ai-office document (``noai-guard-ai-office/1``) from the aggregate and the report document."""
    runs = doc["runs"]
    crawls = [r for r in runs if r["mode"] in _CRAWL_MODES]
    audits = [r for r in runs if r["mode"] not in _CRAWL_MODES]
    tokens = doc["tokens"]
    purposes = sorted({str(p["policy"].get("purpose", "")) for p in doc["policies"]} - {""})
    spiders = sorted({r["spider"] for r in crawls if r["spider"]})
    top = _top_domains(agg)
    rs = doc["summary"]["from_run_summaries"]

    # 2.3.(iv): the crawl runs' own dates; an audit's runs date the audit, not the captures.
    starts = [r["started"] for r in crawls if r["started"]]
    ends = [r["ended"] for r in crawls if r["ended"]]
    period: Any = (
        {"from": min(starts), "to": max(ends or starts), "source": "crawl runs' run and summary records"}
        if starts
        else TO_FILL
    )
    audit_dates = (
        {
            "audit_runs": len(audits),
            "from": min((r["started"] for r in audits if r["started"]), default=None),
            "to": max(
                (r["ended"] or r["started"] for r in audits if r["ended"] or r["started"]), default=None
            ),
        }
        if audits
        else None
    )
    types = [
        {"media_type": mt, "modality": _modality(mt), "pages": p, "bytes": b}
        for mt, p, b in agg.sizes.types_ranked()
    ]
    modalities = sorted({_modality(mt) for mt, _p, _b in agg.sizes.types_ranked()})
    enforcing = sum(1 for r in crawls if r["enforce"] is not False and r["mode"] == "crawl")
    behaviour = (
        f"{len(crawls)} crawl run(s) ({enforcing} enforcing, {len(crawls) - enforcing} audit-only) and "
        f"{len(audits)} after-the-fact audit run(s) of archived captures. Before each fetch the crawler "
        "read the origin's site files (robots.txt, /.well-known/tdmrep.json, /ai.txt) and skipped what "
        "they reserve; after each fetch it read the response headers and the HTML head and dropped "
        "reserved pages (audit-only runs flag them instead). The protocols and their versions are "
        "listed under 3.1."
        if runs
        else TO_FILL
    )
    honoured = [
        {"protocol": s["signal"], "description": s["description"], "spec": s["spec"], "enabled": s["enabled"]}
        for s in doc["signals_checked"]
        if s["enabled"] != "none"
    ]
    skipped = {
        "evaluated": rs["evaluated"],
        "allowed": rs["allowed"],
        "skipped_before_fetch": rs["skipped"],
        "dropped_after_fetch": rs["dropped"],
        "flagged_audit_only_or_audit": rs["flagged"],
        "unknown_resolved_by_policy": doc["headline"]["unknown"],
        "unknown_to_allow": doc["headline"]["unknown_to_allow"],
        "failed_open": doc["headline"]["failed_open"],
        "runs_without_summary": rs["runs_without_summary"],
        "by_signal": [
            {
                "signal": g["signal"],
                "blocked": g["blocked"],
                "skipped": g["skipped"],
                "dropped": g["dropped"],
                "flagged": g["flagged"],
            }
            for g in doc["summary"]["by_signal"]
            if g["blocked"]
        ],
    }
    if not top["ranking"]:
        domains_value: Any = (
            "not recorded: the trails predate content sizes (noai-guard records them in run summaries "
            "from this version on)"
            if top["sizes"] == "not recorded"
            else "no content kept"
        )
    else:
        domains_value = {
            "thresholds": top["thresholds"],
            "ranking": "see top_domains.ranking (by bytes kept)",
            "sizes": top["sizes"],
        }
    s23 = [
        _field(
            "2.3",
            "Were crawlers used by the provider or on its behalf?",
            "Yes" if crawls else TO_FILL,
            provider=None if crawls else "the trails hold no crawl run (audits of archives only)",
        ),
        _field(
            "2.3.(i)",
            "Crawler name(s)/identifier(s)",
            {"product_tokens": tokens["own"], "spiders": spiders} if tokens["own"] else TO_FILL,
            provider="the full User-Agent string(s) and any other crawler used",
        ),
        _field(
            "2.3.(ii)",
            "Purposes of the crawler(s)",
            {"opt_outs_judged_for": purposes} if purposes else TO_FILL,
            provider="the purposes in the provider's own words",
        ),
        _field(
            "2.3.(iii)",
            "General description of crawler behaviour",
            behaviour,
            provider="behaviour towards captchas, paywalls and logins; rate limits",
        ),
        _field(
            "2.3.(iv)",
            "Period of data collection",
            period,
            provider=(
                "the capture dates of the archives audited after the fact"
                if audits
                else None
                if starts
                else "the collection period"
            ),
        ),
        _field(
            "2.3.(v)",
            "Comprehensive description of the type of content and online sources crawled",
            {"content_types_kept": types} if types else TO_FILL,
            provider="a description of the content and online sources",
        ),
        _field(
            "2.3.(vi)",
            "Type of modality covered",
            modalities or TO_FILL,
            provider=None if modalities else "the modalities",
        ),
        _field(
            "2.3.(vii)",
            "Summary of the most relevant domain names crawled",
            domains_value,
            provider="which threshold applies (10 %, or 5 % / 1,000 for smaller providers)"
            if top["ranking"]
            else "the most relevant domain names by size of content",
        ),
        _field(
            "2.3.(viii)",
            "Additional comments (optional)",
            {"not_kept_in_aggregate": skipped},
            provider=None,
        ),
    ]
    s31 = [
        _field(
            "3.1",
            "Measures implemented to identify and comply with reservations of rights (Art. 4(3) of "
            "Directive (EU) 2019/790)",
            {
                "protocols_honoured": honoured,
                "own_tokens": tokens["own"],
                "proxy_tokens": len(tokens["proxy"]),
                "proxy_token_list": tokens["proxy_list"],
                "policy_hashes": [p["hash"] for p in doc["policies"]],
            }
            if doc["policies"]
            else TO_FILL,
            provider="other measures (e.g. licensing, opt-out registries, removal on request)",
        ),
        _field("3.1.(a)", "Signatory of the General-Purpose AI Code of Practice?", TO_FILL),
        _field(
            "3.1.(i)",
            "Additional comments (optional)",
            {
                "blocked_by_protocol": skipped["by_signal"],
                "unknown_resolved_by_policy": skipped["unknown_resolved_by_policy"],
                "failed_open": skipped["failed_open"],
            },
        ),
    ]
    return {
        "schema": AI_OFFICE_SCHEMA,
        "template": TEMPLATE,
        "generated_at": doc["generated_at"],
        "tool": doc["tool"],
        "report_schema": doc["schema"],
        "placeholder": TO_FILL,
        "sections": [
            {"number": "2.3", "title": SECTION_2_3, "fields": s23},
            {"number": "3.1", "title": SECTION_3_1, "fields": s31},
        ],
        "top_domains": top,
        "audit_runs": audit_dates,
        "inputs": [{"path": i["path"], "sha256": i["sha256"]} for i in doc["inputs"]],
        "notes": list(NOTES),
    }


# -- Markdown ------------------------------------------------------------------------------------


def _value_md(v: Any) -> str:
    """A field's value as Markdown (every leaf escaped by :func:`md`)."""
    if isinstance(v, dict):
        return "".join(
            f"- {md(k)}: {_inline(x)}\n" for k, x in v.items() if not isinstance(x, list | dict)
        ) + "".join(f"- {md(k)}: {_inline(x)}\n" for k, x in v.items() if isinstance(x, list | dict))
    if isinstance(v, list):
        return (", ".join(md(x) for x in v) or "—") + "\n"
    return md(v) + "\n"


def _inline(v: Any) -> str:
    if isinstance(v, list):
        if v and all(isinstance(x, dict) for x in v):
            return "; ".join(", ".join(f"{md(k)} {md(x)}" for k, x in d.items()) for d in v)
        return ", ".join(md(x) for x in v) or "—"
    if isinstance(v, dict):
        return "; ".join(f"{md(k)} {_inline(x)}" for k, x in v.items()) or "—"
    return md(v)


def _size(n: int) -> str:
    return f"{n:,} B"


def render_ai_office_md(ao: dict[str, Any]) -> str:
    """The ai-office document as Markdown (GitHub-flavoured)."""
    out: list[str] = []
    w = out.append
    w("# Public summary of training content: crawled data and opt-outs (draft)\n\n")
    w(f"Pre-filled for the {md(ao['template'])}, sections 2.3 and 3.1. ")
    w(f"Generated {md(ao['generated_at'])} by {md(ao['tool']['name'])} {md(ao['tool']['version'])}. ")
    w(f"Every field marked {md(TO_FILL)} is for the provider to complete.\n\n")
    w("## What these figures mean\n\n")
    for n in ao["notes"]:
        w(f"- {md(n)}\n")
    w("\n")
    top = ao["top_domains"]
    for sec in ao["sections"]:
        w(f"## {md(sec['number'])}. {md(sec['title'])}\n\n")
        for f in sec["fields"]:
            w(f"### {md(f['number'])} {md(f['label'])}\n\n")
            v = f["value"]
            if f["number"] == "2.3.(v)" and isinstance(v, dict):
                rows = [
                    (t["media_type"], t["modality"], t["pages"], _size(t["bytes"]))
                    for t in v["content_types_kept"]
                ]
                w(_table(("Media type", "Modality", "Pages kept", "Bytes kept"), rows, numeric=(2, 3)))
            elif f["number"] == "2.3.(vii)" and isinstance(v, dict):
                w(_domains_md(top))
            elif f["number"] == "2.3.(viii)" or f["number"] == "3.1.(i)":
                w(_skipped_md(v))
            elif f["number"] == "3.1" and isinstance(v, dict):
                prows = [(p["protocol"], p["spec"], p["enabled"]) for p in v["protocols_honoured"]]
                w("Machine-readable reservation protocols honoured:\n\n")
                w(_table(("Protocol", "Specification (version)", "Read by the policies"), prows))
                w("\n")
                pl = v["proxy_token_list"]
                w(
                    f"- Own product token(s): {_inline(v['own_tokens'])}\n"
                    f"- Proxy tokens honoured (rules for other AI crawlers): {md(v['proxy_tokens'])} "
                    f"(packaged list {md(pl['source'])} @ {md(pl['source_commit'])}, {md(pl['date'])})\n"
                    f"- Policy hash(es): {_inline(v['policy_hashes'])}\n"
                )
            else:
                w(_value_md(v))
            if f["provider"]:
                w(f"\n{md(f['provider'])}\n")
            w("\n")
    if ao["audit_runs"]:
        a = ao["audit_runs"]
        w(
            f"*After-the-fact audits: {md(a['audit_runs'])} run(s), run dates {md(a['from'])} to {md(a['to'])} "
            "(the dates of the audit, not of the captures).*\n\n"
        )
    w("## Inputs\n\n")
    w(_table(("Trail", "SHA-256"), [(i["path"], i["sha256"]) for i in ao["inputs"]]))
    return "".join(out)


def _domains_md(top: dict[str, Any]) -> str:
    th = top["thresholds"]
    out = [
        (
            f"Domains with content kept: {md(th['domains_total'])}. "
            f"Top 10 % of all domains: {md(th['all_providers']['count'])} domain(s); "
            f"smaller providers, top 5 % or 1,000 whichever is lower: {md(th['smaller_providers']['count'])} "
            f"domain(s) (marked ✓). Sizes {md(top['sizes'])} "
            f"({md(top['runs_with_sizes'])} run(s) with sizes, {md(top['runs_without_sizes'])} without). "
            f"Content kept: {md(_size(top['total']['bytes']))} in {md(top['total']['pages'])} page(s), of which "
            f"{md(_size(top['unattributed']['bytes']))} not attributed to a named origin.\n\n"
        ),
    ]
    rows = [
        (
            r["rank"],
            r["domain"],
            r["pages"],
            _size(r["bytes"]),
            f"{r['share_of_bytes'] * 100:.2f} %",
            "✓" if r["in_smaller_provider_list"] else "",
        )
        for r in top["ranking"]
    ]
    out.append(
        _table(
            ("#", "Domain", "Pages kept", "Bytes kept", "Share of bytes", "5 % / 1,000"), rows, (0, 2, 3, 4)
        )
    )
    return "".join(out)


def _skipped_md(v: dict[str, Any]) -> str:
    agg = v.get("not_kept_in_aggregate", v)
    pairs = [(k.replace("_", " "), x) for k, x in agg.items() if not isinstance(x, list | dict)]
    out = "".join(f"- {md(k)}: {md(x)}\n" for k, x in pairs)
    rows = agg.get("by_signal") or agg.get("blocked_by_protocol") or []
    headers = ("Protocol (signal)", "Blocked", "Skipped", "Dropped", "Flagged")
    table = _table(
        headers,
        [(r["signal"], r["blocked"], r["skipped"], r["dropped"], r["flagged"]) for r in rows],
        (1, 2, 3, 4),
    )
    return out + "\nNot kept, by the protocol that reserved it:\n\n" + table
