"""Internal: dataset-card fragments from the report document: Croissant RAI (JSON-LD) and a Hugging Face card section.

``noai-guard report --format croissant`` writes ``croissant-rai.jsonld``: the
dataset-level properties of the Croissant Responsible-AI vocabulary
(http://mlcommons.org/croissant/RAI/1.0: ``rai:dataCollection``,
``rai:dataCollectionType``, ``rai:dataCollectionTimeframe``,
``rai:dataCollectionRawData``, ``rai:dataPreprocessingProtocol``,
``rai:dataUseCases``, ``rai:dataLimitations``) and PROV-O provenance as the
Croissant 1.1 spec recommends ("Provenance Representation":
``prov:wasGeneratedBy`` activities, one per run, each associated with the
tool and with the policy as its ``prov:Plan``), to merge into a Croissant
dataset description (:func:`embed_croissant`).  ``--format hf-card`` writes
``dataset-card.md``: the "Data Collection and Processing" section of the
Hugging Face dataset card template (under "Dataset Creation" > "Source
Data").  The other sections of either card (licence, personal and sensitive
information, biases ...) are the dataset builder's to write.

Both carry the policy hash(es) and the SHA-256 of the bundle's
``manifest.json``, which pins every input trail and report file; so they are
written after the manifest, and are not listed in it.

Trail values are untrusted: the Markdown escapes them as the Markdown report
does (:func:`.render_md.md`); the JSON-LD is JSON with ``< > &`` written as
``\\u003c \\u003e \\u0026``, so that it can be pasted into a web page's
``<script type="application/ld+json">`` (Croissant 1.1, "Croissant in Web
Pages") without ending the script element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .inputs import clean
from .render_md import md
from .specs import LIMITATIONS

CROISSANT_FILE = "croissant-rai.jsonld"
HF_CARD_FILE = "dataset-card.md"
#: ``--format`` values of the card fragments, and the file each one writes.
CARD_FILES: dict[str, str] = {"croissant": CROISSANT_FILE, "hf-card": HF_CARD_FILE}
CARD_FORMATS: tuple[str, ...] = tuple(CARD_FILES)

RAI_CONFORMS_TO = "http://mlcommons.org/croissant/RAI/1.0"
CONTEXT: dict[str, str] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
}
#: Recommended ``rai:dataCollectionType`` value (Croissant RAI 1.0, property table).
COLLECTION_TYPE = "Web Scraping"
#: Runs listed one by one (as PROV activities, as table rows); the rest are counted.
MAX_CARD_RUNS = 50

_HEX64 = re.compile(r"[0-9a-f]{64}")


def verify_hint(bundle: str = "REPORT_DIR") -> str:
    """How a reviewer re-verifies the hashes a card carries (plain text)."""
    return (
        f"with {bundle} the folder of the report bundle, `sha256sum {bundle}/manifest.json` prints the "
        f"manifest SHA-256 above; `noai-guard verify {bundle}` re-hashes every input trail and report file "
        "manifest.json lists and checks that the cards carry the manifest's SHA-256, and prints 'verified' "
        "(run it where the report was made: input paths are recorded as given; --outputs-only skips the "
        "inputs); a policy hash is the SHA-256 of the policy's canonical JSON, shown under "
        "'Policies' in report.html and report.json."
    )


# -- facts both cards state ----------------------------------------------------


def _honoured(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The signals some policy read, with their spec versions; informational ones marked."""
    return [s for s in doc["signals_checked"] if s["enabled"] != "none"]


def _skips(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per deciding signal: skipped, dropped, flagged records and the run summaries' count."""
    return [
        {
            "signal": r["signal"],
            "skipped": r["skipped"],
            "dropped": r["dropped"],
            "flagged": r["flagged"],
            "summary_count": r["summary_count"],
        }
        for r in doc["summary"]["by_signal"]
        if r["skipped"] or r["dropped"] or r["flagged"] or r["summary_count"]
    ]


def _purposes(doc: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for p in doc["policies"]:
        v = p["policy"].get("purpose")
        if isinstance(v, str) and v not in out:
            out.append(v)
    return out


def _hashes(doc: dict[str, Any]) -> list[str]:
    return [p["hash"] for p in doc["policies"]]


def _period(doc: dict[str, Any]) -> tuple[str | None, str | None]:
    tr = doc["time_range"]
    return tr["first"], tr["last"]


def _counts_sentence(doc: dict[str, Any]) -> str:
    """The report's headline: run summaries, plus the decision records of runs that wrote none."""
    h = doc["headline"]
    return (
        f"{h['evaluated']:,} URLs evaluated: {h['blocked']:,} blocked (skipped before the fetch, dropped "
        f"after it or flagged by an audit), {h['allowed']:,} allowed; {h['unknown']:,} unknown outcomes "
        f"resolved by the policy ({h['unknown_to_reserve']:,} to reserve, {h['unknown_to_allow']:,} to "
        f"allow); {h['failed_open']:,} failed open; {h['not_checked']:,} records not checked for some signal"
    )


def _runs_sentence(doc: dict[str, Any]) -> str:
    runs = doc["runs"]
    n = len(runs) + doc["runs_truncated"]
    by_label: dict[str, int] = {}
    for r in runs:
        by_label[r["label"]] = by_label.get(r["label"], 0) + 1
    kinds = "; ".join(f"{k}: {v:,}" for k, v in by_label.items())
    return f"{n:,} run(s)" + (f" ({kinds})" if kinds else "")


def _tokens_sentence(doc: dict[str, Any]) -> tuple[str, str]:
    t = doc["tokens"]
    pl = t["proxy_list"]
    same = "the packaged list" if t["proxy_matches_packaged_list"] else "not the packaged list"
    proxy = (
        f"{len(t['proxy']):,} proxy tokens of other AI crawlers whose robots.txt rules were honoured as "
        f"reservations ({same}: {pl['source']} @ {pl['source_commit']}, {pl['date']}, {pl['tokens']:,} tokens)"
    )
    return ", ".join(t["own"]) or "(none declared)", proxy


# -- Croissant RAI fragment -------------------------------------------------------


def croissant_fragment(doc: dict[str, Any], manifest_sha256: str) -> dict[str, Any]:
    """The Croissant RAI / PROV-O fragment: dataset-level properties plus their ``@context``."""
    tool = doc["tool"]
    first, last = _period(doc)
    own, proxy = _tokens_sentence(doc)
    hashes = _hashes(doc)
    protocols = "; ".join(
        f"{s['signal']} ({s['spec']})" + ("" if s["purposes"] else ", recorded only") for s in _honoured(doc)
    )
    collection = (
        f"Web pages were crawled with {tool['name']} {tool['version']}, which checked machine-readable AI "
        "opt-outs before and after fetching each URL and skipped or dropped what they reserved "
        f"for the purpose(s) checked ({', '.join(_purposes(doc)) or 'none declared'}). Crawler tokens: {own}; "
        f"{proxy}. Protocols honoured: {protocols or 'none declared'}. Period (UTC): "
        f"{first or 'unknown'} to {last or 'unknown'}; {_runs_sentence(doc)}. {_counts_sentence(doc)}. "
        f"Policy SHA-256: {', '.join(hashes) or 'none declared'}. Report manifest (manifest.json) SHA-256: "
        f"{manifest_sha256}. To re-verify: {verify_hint()}"
    )
    skips = _skips(doc)
    per_signal = "; ".join(
        f"{r['signal']}: {r['skipped']:,} skipped before fetch, {r['dropped']:,} dropped after fetch, "
        f"{r['flagged']:,} flagged (run summaries: {r['summary_count']:,})"
        for r in skips
    )
    frag: dict[str, Any] = {
        "@context": dict(CONTEXT),
        "dct:conformsTo": RAI_CONFORMS_TO,
        "rai:dataCollection": collection,
        "rai:dataCollectionType": [COLLECTION_TYPE],
    }
    if first and last:
        # The vocabulary's spelling (croissant_rai.ttl, RAI spec table), and the one mlcroissant 1.1
        # reads and checks as ISO 8601 (constants.ML_COMMONS_RAI_DATA_COLLECTION_TIME_FRAME).
        frag["rai:dataCollectionTimeframe"] = [first, last]
        frag["rai:dataCollectionTimeFrame"] = [first, last]
    frag["rai:dataCollectionRawData"] = (
        f"Web content from {doc['domains']['total']:,} registrable domains, as served at crawl time."
    )
    frag["rai:dataPreprocessingProtocol"] = [
        "Filtering by machine-readable AI opt-outs, per deciding signal: "
        + (per_signal or "nothing was skipped")
    ]
    purposes = ", ".join(_purposes(doc)) or "none declared"
    frag["rai:dataUseCases"] = [
        f"Opt-outs were checked and honoured for the purpose(s) {purposes} only; other uses were not checked."
    ]
    frag["rai:dataLimitations"] = [LIMITATIONS[0], LIMITATIONS[1], LIMITATIONS[-1]]
    frag["prov:wasGeneratedBy"] = [_activity(r) for r in doc["runs"][:MAX_CARD_RUNS]]
    frag["subjectOf"] = {
        "@type": "CreativeWork",
        "name": "manifest.json",
        "description": (
            f"Manifest of the {tool['name']} report bundle on these crawls: SHA-256 of every input trail and "
            f"report file, tool version and policy hashes. To re-verify: {verify_hint()}"
        ),
        "encodingFormat": "application/json",
        "sha256": manifest_sha256,
    }
    return dict(clean(frag))


def _activity(run: dict[str, Any]) -> dict[str, Any]:
    """One run as a ``prov:Activity`` (PROV-O §3.1), associated with the tool and the policy (its plan).

    An audit's inputs are the entities it used (``prov:used``, at most the 8 the report keeps).
    """
    agent = {"@type": "prov:SoftwareAgent", "prov:label": f"{run['tool']} {run['version']}".strip()}
    act: dict[str, Any] = {
        "@type": "prov:Activity",
        "prov:label": f"{run['label'] or run['mode'] or 'run'} {run['run_id']}",
        "prov:wasAssociatedWith": agent,
    }
    if run["started"]:
        act["prov:startedAtTime"] = run["started"]
    if run["ended"]:
        act["prov:endedAtTime"] = run["ended"]
    if run["inputs"]:
        # An audit's inputs (WARCs, feeds, logs): the captures it judged.
        act["prov:used"] = [{"@type": "prov:Entity", "prov:label": name} for name in run["inputs"]]
    if run["policy_hash"]:
        act["prov:qualifiedAssociation"] = {
            "@type": "prov:Association",
            "prov:agent": agent,
            "prov:hadPlan": {
                "@type": "prov:Plan",
                "prov:label": "noai-guard policy (SHA-256 of its canonical JSON)",
                "identifier": f"sha256:{run['policy_hash']}",
            },
        }
    return act


def embed_croissant(dataset: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """A copy of a Croissant ``dataset`` description with ``fragment``'s properties merged in.

    The contexts are merged, the RAI conformance is added to the dataset's
    ``conformsTo`` (Croissant 1.1, "Namespaces": it may be a list), and every
    other property is copied to the dataset level.
    """
    out = dict(dataset)
    ctx = out.get("@context")
    out["@context"] = {**fragment.get("@context", {}), **(ctx if isinstance(ctx, dict) else {})}
    key = "conformsTo" if "conformsTo" in out else "dct:conformsTo"
    have = out.get(key, [])
    conforms = [*(have if isinstance(have, list) else [have])]
    rai = fragment.get("dct:conformsTo")
    if rai and rai not in conforms:
        conforms.append(rai)
    out[key] = conforms[0] if len(conforms) == 1 else conforms
    for k, v in fragment.items():
        if k not in ("@context", "dct:conformsTo"):
            out[k] = v
    return out


def render_croissant(doc: dict[str, Any], manifest_sha256: str) -> str:
    """The fragment as JSON text, safe inside ``<script type="application/ld+json">``."""
    text = json.dumps(croissant_fragment(doc, manifest_sha256), indent=2, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") + "\n"


# -- Hugging Face dataset card section ---------------------------------------------


def _hex(v: str) -> str:
    """A SHA-256 as inline code; anything else escaped as text."""
    return f"`{v}`" if _HEX64.fullmatch(v) else md(v)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Iterable[int] = ()) -> str:
    num = set(numeric)
    out = ["| " + " | ".join(headers) + " |"]
    out.append("|" + "|".join("---:" if i in num else "---" for i in range(len(headers))) + "|")
    n = len(out)
    out.extend("| " + " | ".join(md(c) for c in r) + " |" for r in rows)
    if len(out) == n:
        out.append("| " + " | ".join(["*none*", *[""] * (len(headers) - 1)]) + " |")
    return "\n".join(out) + "\n"


def render_hf_card(doc: dict[str, Any], manifest_sha256: str) -> str:
    """The "Data Collection and Processing" section of a Hugging Face dataset card, as Markdown."""
    tool = doc["tool"]
    first, last = _period(doc)
    own, proxy = _tokens_sentence(doc)
    out: list[str] = []
    w = out.append
    w("#### Data Collection and Processing\n\n")
    w(
        f"<!-- Written by `{tool['name']} report --format hf-card` from the audit trails. It belongs under "
        '"Dataset Creation" > "Source Data"; the other sections ("Personal and Sensitive Information", '
        "licence, biases ...) are yours to write. -->\n\n"
    )
    w(
        f"The web pages were crawled with {md(tool['name'])} {md(tool['version'])}, which checked "
        "machine-readable AI opt-outs before and after fetching each URL and skipped or dropped what they "
        "reserved. The figures below come from the crawls' audit trails.\n\n"
    )
    w(f"- **Crawler tokens (robots.txt user agents):** {md(own)}\n")
    w(f"- **Other AI crawlers' tokens:** {md(proxy)}\n")
    w(f"- **Purpose(s) checked:** {md(', '.join(_purposes(doc)) or 'none declared')}\n")
    w(f"- **Collection period (UTC):** {md(first or 'unknown')} to {md(last or 'unknown')}\n")
    w(f"- **Runs:** {md(_runs_sentence(doc))}\n")
    w(f"- **Outcomes:** {md(_counts_sentence(doc))}\n")
    w(f"- **Registrable domains:** {doc['domains']['total']:,}\n")
    w("\n**Opt-out protocols honoured**\n\n")
    w(
        _table(
            ["Signal", "Specification (version)", "Read by"],
            [
                (s["signal"], s["spec"], ("all policies" if s["enabled"] == "all" else "some policies")
                 + ("" if s["purposes"] else "; recorded only"))
                for s in _honoured(doc)
            ],
        )
    )  # fmt: skip
    w("\n**What was skipped, per deciding signal**\n\n")
    w(
        _table(
            ["Signal", "Skipped before fetch", "Dropped after fetch", "Flagged (audit)", "In run summaries"],
            [
                (r["signal"], r["skipped"], r["dropped"], r["flagged"], r["summary_count"])
                for r in _skips(doc)
            ],
            numeric=range(1, 5),
        )
    )
    runs = doc["runs"]
    if runs:
        w("\n**Runs**\n\n")
        w(
            _table(
                ["Run", "Kind", "Started (UTC)", "Ended (UTC)", "Policy SHA-256"],
                [
                    (r["run_id"], r["label"], r["started"] or "", r["ended"] or "", r["policy_hash"] or "")
                    for r in runs[:MAX_CARD_RUNS]
                ],
            )
        )
        more = len(runs) - MAX_CARD_RUNS + doc["runs_truncated"]
        if more > 0:
            w(f"\n{more:,} more run(s) are listed in report.json.\n")
    w("\n**Verification**\n\n")
    hashes = _hashes(doc)
    w(f"- **Policy SHA-256:** {', '.join(_hex(h) for h in hashes) or 'none declared'}\n")
    w(f"- **Report manifest (manifest.json) SHA-256:** {_hex(manifest_sha256)}\n")
    w(f"- **How to re-verify:** {verify_hint()}\n")
    w("\n" + "".join(f"*{md(x)}*\n" for x in (LIMITATIONS[0], LIMITATIONS[1], LIMITATIONS[-1])))
    return "".join(out)


def write_cards(doc: dict[str, Any], manifest_sha256: str, formats: Sequence[str]) -> list[tuple[str, str]]:
    """``(file name, text)`` of each card format in ``formats``."""
    out: list[tuple[str, str]] = []
    for fmt in CARD_FORMATS:
        if fmt in formats:
            render = render_croissant if fmt == "croissant" else render_hf_card
            out.append((CARD_FILES[fmt], render(doc, manifest_sha256)))
    return out
