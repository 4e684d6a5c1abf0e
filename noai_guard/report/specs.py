"""Internal: spec versions, limitations and other fixed text the report cites.

Kept as data so the cover page, the JSON report and the README agree on which
version of each protocol ``noai_guard`` implements.  When a parser moves to a
new draft, change it here and bump the report schema only if a field changes.
"""

from __future__ import annotations

from .. import decision as d

#: Specification (and version) each signal is read by.  Keys are signal names
#: from :data:`noai_guard.decision.SIGNALS`.
SPEC_VERSIONS: dict[str, str] = {
    d.ROBOTS_TXT: "RFC 9309 (Robots Exclusion Protocol, Sep 2022)",
    d.ROBOTS_TXT_PROXY: "RFC 9309 groups for AI-training tokens (packaged proxy-token list)",
    d.CONTENT_USAGE: "IETF aipref: draft-ietf-aipref-vocab-08 / draft-ietf-aipref-attach-05",
    d.CONTENT_SIGNAL: "Cloudflare Content Signals Policy (2025-09)",
    d.RSL_LICENSE: "RSL 1.0 (Really Simple Licensing), License: record; informational",
    d.RSL: "RSL 1.0 (RSL-SPEC-1.0, 2025-11-06): licence document, <content url> / <permits> / <prohibits> / server / <payment>",
    d.LEGACY_AI_TRAINING: "draft-canel-robots-ai-control-00 (expired, legacy)",
    d.X_ROBOTS_TAG: "DeviantArt noai / noimageai (2022); noml (Mojeek)",
    d.META_ROBOTS: "DeviantArt noai / noimageai (2022); noml (Mojeek)",
    d.TDMREP: "W3C TDMRep, Community Group Final Report 2024-05-10",
    d.AI_TXT: "Spawning ai.txt (2023)",
    d.EMBEDDING_PAGE: (
        "DeviantArt noai / noimageai (2022), applied to embedded images, and noai / noml to embedded"
        " audio and video (noai_guard policy)"
    ),
    d.IPTC_DATA_MINING: "IPTC Photo Metadata Standard 2023.1, Data Mining (PLUS DMI vocabulary), in XMP",
    d.C2PA: "C2PA 2.1 manifest; CAWG Training and Data Mining assertion (cawg.training-mining, older c2pa.training-mining), read with noai-guard[c2pa]",
    d.ACCESS_REQUIRED: "RFC 9110 §15.5.2-4 (401, 402, 403) with RFC 8288 Link rel=license (RFC 4946); recorded only",
}

#: The fetch kinds a run summary reports status classes for.
FETCH_KINDS: tuple[str, ...] = ("robots", "tdmrep", "ai-txt")
STATUS_CLASSES: tuple[str, ...] = ("2xx", "3xx", "4xx", "5xx", "error")

#: Plain-language limitations, printed in every format.
LIMITATIONS: tuple[str, ...] = (
    (
        "The absence of a machine-readable signal is not consent. This report shows which reservations "
        "were found and honoured; it does not show that anything else may lawfully be used."
    ),
    (
        "Signals are as seen at crawl time (or, for after-the-fact audits, as preserved in the capture). "
        "A site may have added or removed a reservation since; nothing here is re-checked live."
    ),
    (
        "Only the machine-readable signals listed under 'Signals checked' were read, at the spec versions "
        "listed. Natural-language terms of service, licences in page text and reservations expressed by "
        "other means were not evaluated. Media metadata was read from the fetched files only: IPTC Data "
        "Mining in the XMP of JPEG, PNG, WebP, GIF and TIFF (first 16 MB), C2PA manifests only with the "
        "noai-guard[c2pa] extra (otherwise recorded as present, not checked)."
    ),
    (
        "Proxy tokens are a policy choice: a robots.txt rule that names another AI crawler (e.g. GPTBot) "
        "was counted as a reservation against this crawler only because the policy says so. Courts have "
        "differed on whether such rules bind other crawlers (Rb. Amsterdam, ECLI:NL:RBAMS:2024:6563)."
    ),
    (
        "robots.txt is not access control (RFC 9309 §2.7). Honouring it shows respect of a reservation, "
        "not that the content was lawfully accessible."
    ),
    (
        "An 'unknown' outcome (a file that could not be fetched or read) was resolved by the stated policy. "
        "Unknowns resolved to 'allow' are listed; an unreachable robots.txt resolved to 'allow' would be a "
        "fail-open event under RFC 9309 §2.3.1.4."
    ),
    (
        "Counts come from the audit trails named under 'Integrity'. Unless a crawl logged allowed URLs, "
        "per-URL records exist only for skipped, dropped, flagged and unknown outcomes; totals of evaluated "
        "and allowed URLs come from run summaries, which a crashed run does not write."
    ),
    (
        "Evidence samples are a seeded random sample per signal, not an exhaustive list; domains.csv and the "
        "trails themselves hold the complete record."
    ),
    (
        "Registrable domains come from the Public Suffix List bundled with the installed publicsuffixlist "
        "package; its date is stated on the cover."
    ),
    "This report documents a technical process. It is not legal advice.",
)

DISCLAIMER = (
    "Machine-readable opt-out signals detected and honoured under the stated policy. "
    "Not legal advice; see 'Limitations'."
)
