"""Internal: RSL 1.0 (Really Simple Licensing) licence documents: hardened parsing and what they say of a URL.

RSL-SPEC-1.0 (rslstandard.org/rsl, Recommendation, 2025-11-06): an
``<rsl xmlns="https://rslstandard.org/rsl">`` document holds ``<content url>``
elements (a full URL, or a server path matched by RFC 9309's rules with
``*`` and ``$``), each with one or more ``<license>`` alternatives made of
``<permits>`` / ``<prohibits>`` (``type="usage"|"user"|"geo"``, comma-separated
values) and ``<payment type>``; a ``server`` attribute names an RSL License
Server from which a licence must be obtained first.

For noai_guard's purposes (see :func:`RslFile.signal`):

* a licence alternative whose usage ``<prohibits>`` covers the purpose
  (``all``/``ai-all``/``ai-train`` for ai-train, ``all``/``ai-all``/``ai-input``
  for ai-input, ``all``/``search`` for search) reserves, when no alternative
  grants it;
* an alternative that grants the purpose for free (no ``server``, no paid
  ``<payment>``, no ``user``/``geo`` condition) allows;
* one that grants it only once a licence is obtained (``server``, a paid
  ``<payment>``) reserves by default, the terms as evidence
  (``Policy.rsl_licence_required`` may make it ``unknown``);
* anything else (granted under a ``user``/``geo`` condition, or not among the
  uses permitted) is ``unknown``.

Hardening: pure, no I/O.  The XML parser (lxml) resolves no entities, reads
no DTD and no network; a document with a DOCTYPE or an entity declaration is
refused before parsing (billion laughs, XXE), and so is one over
:data:`SIZE_LIMIT` bytes or :data:`MAX_DEPTH` elements deep, or with more than
:data:`MAX_ELEMENTS` elements.  A refused or malformed document is ``invalid``:
its signal is ``unknown``, never a crash, never an allow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import decision as d
from .decision import Signal, Verdict
from .robots.rules import _compile, url_path

if TYPE_CHECKING:
    from lxml.etree import _Element

    from .policy import Policy

__all__ = [
    "MEDIA_TYPE",
    "NAMESPACE",
    "RslContent",
    "RslFile",
    "RslLicense",
    "html_licence_links",
    "licence_links",
]

NAMESPACE = "https://rslstandard.org/rsl"
MEDIA_TYPE = "application/rsl+xml"
SPEC = "RSL 1.0 (RSL-SPEC-1.0, 2025-11-06)"
#: Bytes of a licence document parsed at most (as a site file, RFC 9309 §2.5's 500 KiB).
SIZE_LIMIT = 500 * 1024
MAX_DEPTH = 32
MAX_ELEMENTS = 20000
_EVIDENCE_CHARS = 300

# Usage values (RSL 1.0 §3.4.1) that cover each purpose.
_COVERS: dict[str, frozenset[str]] = {
    d.AI_TRAIN: frozenset({"all", "ai-all", "ai-train"}),
    d.AI_INPUT: frozenset({"all", "ai-all", "ai-input"}),
    d.SEARCH: frozenset({"all", "search"}),
}
# <payment type> values that ask for nothing to be paid (attribution is a condition, not a fee).
_FREE_PAYMENTS = frozenset({"free", "attribution"})
_DOCTYPE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_VALUES = re.compile(r"[\s,]+")


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""  # a comment or processing instruction
    return tag.rsplit("}", 1)[-1]


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EVIDENCE_CHARS else text[:_EVIDENCE_CHARS] + "..."


def _start_tag(el: _Element) -> str:
    attrs = "".join(f' {_local(str(k))}="{v!s}"' for k, v in el.attrib.items())
    return f"<{_local(el.tag)}{attrs}>"


def _element_text(el: _Element) -> str:
    """``<name attrs>text</name>`` as evidence (children's text included, bounded)."""
    name = _local(el.tag)
    return _cut(f"{_start_tag(el)}{_text(el).strip()}</{name}>")


def _text(el: _Element) -> str:
    return "".join(t if isinstance(t, str) else t.decode("utf-8", "replace") for t in el.itertext())


@dataclass(frozen=True, slots=True)
class Terms:
    """One ``<permits>`` or ``<prohibits>``: its type, its values (lower-cased), its text."""

    type: str
    values: frozenset[str]
    evidence: str


@dataclass(frozen=True, slots=True)
class RslLicense:
    """One ``<license>`` alternative of a ``<content>``."""

    permits: tuple[Terms, ...]
    prohibits: tuple[Terms, ...]
    payments: tuple[tuple[str, str], ...]  # (type, evidence)

    @property
    def paid(self) -> tuple[str, str] | None:
        """The first ``<payment>`` that asks for a fee (RSL 1.0 §3.7: the type, ``free`` when absent)."""
        for kind, ev in self.payments:
            if kind not in _FREE_PAYMENTS:
                return kind, ev
        return None


@dataclass(frozen=True, slots=True)
class RslContent:
    """One ``<content>``: its URL pattern, licence server, licences, and its start tag as evidence."""

    url: str
    server: str | None
    licenses: tuple[RslLicense, ...]
    evidence: str

    def pattern(self) -> tuple[str | None, str]:
        """(``scheme://host`` or None for a server path, the RFC 9309 path pattern)."""
        m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)(.*)", self.url)
        if m is None:
            return None, self.url if self.url.startswith(("/", "*")) else "/" + self.url
        return m.group(1).lower(), m.group(2) or "/"


@dataclass(frozen=True, slots=True)
class RslFile:
    """A licence document as fetched and parsed: ``ok``, ``invalid``, ``unavailable`` or ``unreachable``."""

    url: str
    state: str
    detail: str = ""
    contents: tuple[RslContent, ...] = field(default_factory=tuple)

    # -- building ------------------------------------------------------------------

    @classmethod
    def unreachable(cls, url: str, detail: str) -> RslFile:
        return cls(url, "unreachable", detail)

    @classmethod
    def unavailable(cls, url: str, detail: str) -> RslFile:
        return cls(url, "unavailable", detail)

    @classmethod
    def parse(cls, body: bytes, url: str) -> RslFile:
        """Parse a licence document; bad or hostile input gives ``invalid`` with the reason."""
        if len(body) > SIZE_LIMIT:
            return cls(url, "invalid", f"larger than {SIZE_LIMIT} bytes: not read")
        if _DOCTYPE.search(body):
            # No DTD is ever read: entity expansion (billion laughs) and external entities
            # (XXE) are refused before the parser sees the document.
            return cls(url, "invalid", "a DOCTYPE or ENTITY declaration: refused (no DTD is read)")
        try:
            from lxml import etree

            from .xmlparse import hardened_parser
        except ImportError:  # pragma: no cover - lxml comes with Scrapy
            return cls(url, "invalid", "lxml is not installed")
        parser = hardened_parser()
        try:
            root = etree.fromstring(body, parser)
        except (etree.XMLSyntaxError, ValueError) as exc:
            return cls(url, "invalid", _cut(f"not well-formed XML: {exc}"))
        if root is None:
            return cls(url, "invalid", "empty document")
        problem = _shape_problem(root)
        if problem is not None:
            return cls(url, "invalid", problem)
        if _local(root.tag) != "rsl":
            return cls(url, "invalid", f"root element <{_local(root.tag)}>, not <rsl> (RSL 1.0 §3.1)")
        notes = ""
        if _ns(root.tag) != NAMESPACE:
            notes = f"<rsl> not in the namespace {NAMESPACE} (RSL 1.0 §3.1); read anyway"
        contents = []
        for el in root:
            if _local(el.tag) != "content":
                continue
            href = (el.get("url") or "").strip()
            if not href:
                continue  # §3.2: url is required; a <content> without one licenses nothing
            server = (el.get("server") or "").strip() or None
            licenses = tuple(_license(lic) for lic in el if _local(lic.tag) == "license")
            contents.append(RslContent(href, server, licenses, _cut(_start_tag(el))))
        if not contents:
            return cls(url, "invalid", "no <content url> element (RSL 1.0 §3.2)")
        return cls(url, "ok", notes, tuple(contents))

    # -- judging -------------------------------------------------------------------

    def matching(self, url: str) -> RslContent | None:
        """The ``<content>`` that covers ``url``: RFC 9309 matching, the longest pattern wins.

        RSL 1.0 §3.2: ``url`` is a full URL or a server path following RFC 9309's
        URL matching (``*``, ``$``); a full URL binds its own scheme and host.
        Several matching are resolved as RFC 9309 §2.2.2 resolves rules: the
        most specific (longest) pattern; at equal length a full URL before a path.
        """
        path = url_path(url)
        m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)", url)
        origin = m.group(1).lower() if m else ""
        best: tuple[tuple[int, bool], RslContent] | None = None
        for c in self.contents:
            host, pat = c.pattern()
            if host is not None and host != origin:
                continue
            rule = _compile(False, pat, c.evidence, 0, False)
            rank = (rule.length, host is not None)  # a full URL is more specific than a path alike
            if rule.matches(path) and (best is None or rank > best[0]):
                best = (rank, c)
        return None if best is None else best[1]

    def signal(self, url: str, policy: Policy) -> Signal | None:
        """What the licence says of ``url`` for the policy's purpose; None when no ``<content>`` covers it."""
        purpose = policy.purpose

        def sig(verdict: Verdict, evidence: str, note: str, scope: str | None = None) -> Signal:
            return Signal(d.RSL, verdict, purpose, evidence, self.url, d.LOC_RSL, scope=scope, note=note)

        if self.state != "ok":
            return sig(
                Verdict.UNKNOWN,
                self.detail,
                f"RSL licence {self.state} ({self.detail}): its terms could not be read",
            )
        content = self.matching(url)
        if content is None:
            return None
        return _judge_content(content, purpose, policy, sig)


def _judge_content(
    content: RslContent, purpose: str, policy: Policy, sig: Callable[[Verdict, str, str, str | None], Signal]
) -> Signal:
    covers = _COVERS[purpose]
    where = f"{SPEC}, <content url={content.url!r}>"
    needs: str | None = None
    prohibit: str | None = None
    conditional: str | None = None
    licenses = content.licenses or (RslLicense((), (), ()),)  # §3.3: no <license>: no restriction stated
    for lic in licenses:
        banned = next((t for t in lic.prohibits if t.type == "usage" and t.values & covers), None)
        if banned is not None:
            prohibit = prohibit or banned.evidence
            continue
        usage = [t for t in lic.permits if t.type == "usage"]
        granted = next((t for t in usage if t.values & covers), None)
        if usage and granted is None:
            continue  # §3.4: only the listed uses are permitted by this licence
        grant_ev = granted.evidence if granted is not None else 'no <permits type="usage">: every use'
        paid = lic.paid
        if content.server is not None or paid is not None:
            terms = [f'server="{content.server}"'] if content.server else []
            if paid is not None:
                terms.append(paid[1])
            needs = needs or f"{content.evidence} {grant_ev} {' '.join(terms)}"
            continue
        cond = [t for t in (*lic.permits, *lic.prohibits) if t.type in ("user", "geo")]
        if cond:
            conditional = conditional or f"{content.evidence} {grant_ev} {cond[0].evidence}"
            continue
        return sig(
            Verdict.ALLOW,
            _cut(f"{content.evidence} {grant_ev}"),
            f"{where}: a licence permits {purpose} for free, with no licence server",
            content.url,
        )
    if needs is not None:
        reserve = policy.rsl_licence_required is Verdict.RESERVE
        return sig(
            Verdict.RESERVE if reserve else Verdict.UNKNOWN,
            _cut(needs),
            f"{where}: {purpose} only under a licence obtained first (§3.2 server / §3.7 payment); "
            + ("reserved until one is obtained" if reserve else "unknown (rsl_licence_required)"),
            content.url,
        )
    if prohibit is not None:
        return sig(
            Verdict.RESERVE,
            _cut(f"{content.evidence} {prohibit}"),
            f'{where}: <prohibits type="usage"> covers {purpose} (§3.5)',
            content.url,
        )
    if conditional is not None:
        return sig(
            Verdict.UNKNOWN,
            _cut(conditional),
            f"{where}: {purpose} permitted only under a user/geo condition the crawler cannot prove",
            content.url,
        )
    return sig(
        Verdict.UNKNOWN,
        _cut(content.evidence),
        f"{where}: {purpose} is not among the uses the licence permits, nor prohibited",
        content.url,
    )


def _terms(el: _Element) -> Terms:
    kind = (el.get("type") or "usage").strip().lower()
    text = _text(el)
    values = frozenset(v.lower() for v in _VALUES.split(text) if v)
    return Terms(kind, values, _element_text(el))


def _license(el: _Element) -> RslLicense:
    permits: list[Terms] = []
    prohibits: list[Terms] = []
    payments: list[tuple[str, str]] = []
    for child in el:
        name = _local(child.tag)
        if name == "permits":
            permits.append(_terms(child))
        elif name == "prohibits":
            prohibits.append(_terms(child))
        elif name == "payment":
            payments.append(((child.get("type") or "free").strip().lower(), _element_text(child)))
    return RslLicense(tuple(permits), tuple(prohibits), tuple(payments))


def _shape_problem(root: _Element) -> str | None:
    """Too deep or too many elements (a bounded walk, no recursion)."""
    n = 0
    stack: list[tuple[_Element, int]] = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        n += 1
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} elements: refused"
        if n > MAX_ELEMENTS:
            return f"more than {MAX_ELEMENTS} elements: refused"
        stack.extend((child, depth + 1) for child in el)
    return None


# --- discovery ---------------------------------------------------------------------------------

_LINK = re.compile(r"<([^>]*)>([^,<]*)")
_PARAM = re.compile(r';\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)')


def licence_links(values: Iterable[str]) -> list[str]:
    """The RSL licence URLs of HTTP ``Link`` field values (RFC 8288): ``rel="license"``, ``type=application/rsl+xml``."""
    out: list[str] = []
    for value in values:
        for m in _LINK.finditer(value):
            params = {k.lower(): v.strip('"').strip() for k, v in _PARAM.findall(m.group(2))}
            rels = params.get("rel", "").lower().split()
            if "license" in rels and params.get("type", "").lower() == MEDIA_TYPE:
                out.append(m.group(1).strip())
    return out


_LINK_TAG = re.compile(rb"(?i)<link\b([^>]*)>")
_ATTR = re.compile(rb"""([^\s=/>]+)\s*(?:=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")


def html_licence_links(body: bytes, limit: int = 256 * 1024) -> list[str]:
    """The hrefs of ``<link rel="license" type="application/rsl+xml">`` in a document's head.

    RSL 1.0 ("Adding RSL to web pages"): a page names its licence with such a
    ``<link>``.  Screened with one search for the media type (most pages have
    none); the head is what precedes ``<body`` or ``</head>``.  Hrefs are
    returned as written (HTML character references decoded), to be resolved
    against the page URL by the caller.
    """
    # The head ends at "<body" or "</head>": plain searches for the usual spellings (a
    # case-insensitive regex over a whole page cost ~30x more); a lower-cased copy only
    # when neither is found.
    whole = end = min(limit, len(body))
    for mark in (b"<body", b"</head", b"<BODY", b"</HEAD"):
        i = body.find(mark, 0, end)
        if i >= 0:
            end = i
    if end == whole:
        low = body[:end].lower()
        for mark in (b"<body", b"</head"):
            i = low.find(mark, 0, end)
            if i >= 0:
                end = i
    head = body[:end]
    if b"rsl+xml" not in head.lower():
        return []
    import html

    out: list[str] = []
    for m in _LINK_TAG.finditer(head):
        attrs: dict[str, str] = {}
        for am in _ATTR.finditer(m.group(1)):
            name = am.group(1).decode("latin-1").lower()
            raw = (am.group(2) or b"").strip(b"\"'")
            attrs.setdefault(name, html.unescape(raw.decode("utf-8", "replace")).strip())
        rels = attrs.get("rel", "").lower().split()
        if "license" in rels and attrs.get("type", "").lower() == MEDIA_TYPE and attrs.get("href"):
            out.append(attrs["href"])
    return out
