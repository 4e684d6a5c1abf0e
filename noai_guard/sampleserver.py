"""A built-in sample site on 127.0.0.1 that exercises every AI opt-out signal.

``noai-guard demo`` crawls it, and the tests use it as a fixture.  The site is
generated in code (nothing to package) and served by the standard library's
:class:`~http.server.ThreadingHTTPServer`, one per origin, each in a daemon
thread:

* the **main** origin carries robots.txt (a group for the crawler's own token
  disallowing ``/private/``, a ``GPTBot`` group disallowing ``/gpt-only/``, a
  path-scoped ``Content-Usage``, a ``Content-Signal``, an RSL ``License:`` and
  a legacy ``DisallowAITraining``), ``/.well-known/tdmrep.json`` reserving
  ``/tdm/``, ``/ai.txt`` disallowing ``*.jpg``, and pages with every header and
  meta signal, images embedded by a ``noimageai`` page, an image with IPTC
  Data Mining and one with a C2PA manifest, a 401 and a 402 page, and plain pages;
* the **second** origin has a robots.txt whose ``Content-Signal`` reserves
  ``ai-train`` for the whole origin (signals are per origin);
* the **unreachable** origin answers 503 for robots.txt, so its pages are
  ``unknown`` and blocked (RFC 9309 §2.3.1.4: fail closed).

:data:`EXPECTED` says, for every URL the site offers, which signal should
decide it and whether that happens before or after the fetch.

Run ``python -m noai_guard.sampleserver`` to serve it until interrupted.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import ClassVar

from . import decision as d

#: The product token the demo crawler uses (its robots.txt group and named meta).
DEMO_TOKEN = "noai-guard-demo"

MAIN, SECOND, UNREACHABLE = "main", "second", "unreachable"
ORIGINS: tuple[str, ...] = (MAIN, SECOND, UNREACHABLE)

PRE_FETCH, POST_FETCH = "pre-fetch", "post-fetch"


@dataclass(frozen=True)
class Expectation:
    """What the default policy (purpose ``ai-train``) should do with one URL of the site."""

    origin: str  # MAIN / SECOND / UNREACHABLE
    path: str
    signal: str | None  # the deciding signal; None: allowed
    phase: str | None = None  # PRE_FETCH (skipped) / POST_FETCH (dropped); None: not blocked
    verdict: str = "reserve"  # "reserve" or "unknown" for blocked URLs; "unknown" for recorded ones
    image: bool = False
    note: str = ""

    @property
    def blocked(self) -> bool:
        return self.signal is not None and self.phase is not None

    @property
    def recorded(self) -> bool:
        """Decided by an unknown that does not block (a signal, no phase): in the trail, not blocked.

        A 401 / 402 page is not in the feed (nothing was obtained); an image whose C2PA manifest
        is not checked is (the default policy resolves that unknown to allow).
        """
        return self.signal is not None and self.phase is None


_E = Expectation
#: Every page and image of the site and what should happen to it (enforcing, default policy).
EXPECTED: tuple[Expectation, ...] = (
    # Allowed pages: no signal reserves them.
    _E(MAIN, "/", None, note="index"),
    _E(MAIN, "/about.html", None),
    _E(MAIN, "/articles/first-post.html", None),
    _E(MAIN, "/articles/second-post.html", None),
    _E(MAIN, "/articles/third-post.html", None),
    _E(MAIN, "/articles/fourth-post.html", None),
    _E(MAIN, "/gallery.html", None),
    _E(MAIN, "/legacy/notes.html", None, note="DisallowAITraining is legacy: reported, not honoured"),
    _E(MAIN, "/headers/noindex.html", None, note="X-Robots-Tag: noindex is not an AI opt-out"),
    _E(MAIN, "/images/logo.png", None, image=True),
    # Issue 15 item 7: aipref vocab-08's ai-use (our ai-input) is read, but the demo's purpose
    # is ai-train, which train-ai=y allows; ai-use=n reserves the same page for ai-input only.
    _E(MAIN, "/headers/ai-use.html", None, note="Content-Usage: train-ai=y, ai-use=n"),
    # Known before the fetch: robots.txt, tdmrep.json, ai.txt.
    _E(MAIN, "/private/staff.html", d.ROBOTS_TXT, PRE_FETCH, note="Disallow for the crawler's own token"),
    _E(MAIN, "/gpt-only/dataset.html", d.ROBOTS_TXT_PROXY, PRE_FETCH, note="Disallow for GPTBot"),
    _E(
        MAIN, "/essays/on-consent.html", d.CONTENT_USAGE, PRE_FETCH, note="Content-Usage: /essays/ train-ai=n"
    ),
    _E(MAIN, "/tdm/paper.html", d.TDMREP, PRE_FETCH, note="tdmrep.json reserves /tdm/"),
    _E(MAIN, "/licensed/report.html", d.RSL, PRE_FETCH, note="RSL licence: <prohibits> ai-train"),
    # Its tdm-reservation: 0 header overrides the file (TDMRep layering), but only a fetch can
    # show it: enforcing, the file's reservation skips it first; ``check`` (audit-only) allows it.
    _E(MAIN, "/tdm/open-paper.html", d.TDMREP, PRE_FETCH, note="tdmrep.json; its header says 0"),
    _E(MAIN, "/images/photo.jpg", d.AI_TXT, PRE_FETCH, image=True, note="ai.txt: Disallow: *.jpg"),
    _E(
        MAIN,
        "/images/gallery-1.png",
        d.EMBEDDING_PAGE,
        PRE_FETCH,
        image=True,
        note="<img src> on a noimageai page",
    ),
    _E(
        MAIN,
        "/images/gallery-2.png",
        d.EMBEDDING_PAGE,
        PRE_FETCH,
        image=True,
        note="srcset on a noimageai page",
    ),
    _E(
        MAIN, "/images/card.png", d.EMBEDDING_PAGE, PRE_FETCH, image=True, note="og:image of a noimageai page"
    ),
    # Issue 15 item 0: the video and audio a noai page embeds (the gallery embeds them too).
    _E(
        MAIN,
        "/media/trailer.mp4",
        d.EMBEDDING_PAGE,
        PRE_FETCH,
        image=True,
        note="<source src> on a noai page",
    ),
    _E(
        MAIN,
        "/media/trailer-poster.png",
        d.EMBEDDING_PAGE,
        PRE_FETCH,
        image=True,
        note="poster on a noai page",
    ),
    _E(MAIN, "/media/theme.mp3", d.EMBEDDING_PAGE, PRE_FETCH, image=True, note="<audio src> on a noai page"),
    # Known after the fetch: headers and the HTML head.
    _E(MAIN, "/headers/x-robots-noai.html", d.X_ROBOTS_TAG, POST_FETCH, note="X-Robots-Tag: noai"),
    _E(MAIN, "/headers/x-robots-scoped.html", d.X_ROBOTS_TAG, POST_FETCH, note="scoped to the own token"),
    _E(MAIN, "/headers/tdm-reservation.html", d.TDMREP, POST_FETCH, note="tdm-reservation: 1 header"),
    _E(MAIN, "/headers/content-usage.html", d.CONTENT_USAGE, POST_FETCH, note="Content-Usage: train-ai=n"),
    _E(MAIN, "/headers/content-signal.html", d.CONTENT_SIGNAL, POST_FETCH, note="Content-Signal header"),
    _E(
        MAIN,
        "/meta/robots-noai.html",
        d.META_ROBOTS,
        POST_FETCH,
        note='<meta name="robots" content="noai">, gzip',
    ),
    _E(MAIN, "/meta/named-token.html", d.META_ROBOTS, POST_FETCH, note="<meta> named for the own token"),
    _E(MAIN, "/meta/noimageai.html", d.META_ROBOTS, POST_FETCH, note="noimageai: the page and its images"),
    _E(
        MAIN,
        "/meta/tdm-reservation.html",
        d.TDMREP,
        POST_FETCH,
        note='<meta name="tdm-reservation" content="1">',
    ),
    _E(MAIN, "/images/protected.png", d.X_ROBOTS_TAG, POST_FETCH, image=True, note="X-Robots-Tag: noimageai"),
    _E(MAIN, "/images/iptc.png", d.IPTC_DATA_MINING, POST_FETCH, image=True, note="XMP plus:DataMining"),
    # Recorded as unknown, not blocked (issue 15 item 7): a login or a payment asked (nothing
    # obtained, noai_guard.access), and a C2PA manifest seen but not checked (no library, or a
    # manifest it cannot read: the sample's is not signed).
    _E(MAIN, "/access/members.html", d.ACCESS_REQUIRED, None, "unknown", note="401 with WWW-Authenticate"),
    _E(MAIN, "/access/paid.html", d.ACCESS_REQUIRED, None, "unknown", note="402 Payment Required"),
    _E(MAIN, "/images/c2pa.png", d.C2PA, None, "unknown", image=True, note="PNG caBX (JUMBF c2pa)"),
    # The second origin: Content-Signal ai-train=no for the whole origin.
    _E(SECOND, "/", d.CONTENT_SIGNAL, PRE_FETCH, note="robots.txt Content-Signal: ai-train=no"),
    _E(
        SECOND, "/news/today.html", d.CONTENT_SIGNAL, PRE_FETCH, note="robots.txt Content-Signal: ai-train=no"
    ),
    # The unreachable origin: robots.txt 503 -> unknown -> blocked.
    _E(UNREACHABLE, "/status.html", d.ROBOTS_TXT, PRE_FETCH, "unknown", note="robots.txt answers 503"),
)

# ---------------------------------------------------------------------------
# Content


def _png(rgb: tuple[int, int, int]) -> bytes:
    """A valid 4x4 single-colour PNG."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + bytes(rgb) * 4 for _ in range(4))
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def _png_xmp(rgb: tuple[int, int, int], dmi: str) -> bytes:
    """:func:`_png` with an XMP packet (iTXt "XML:com.adobe.xmp") holding IPTC plus:DataMining."""
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/">'
        f'<plus:DataMining rdf:resource="http://ns.useplus.org/ldf/vocab/{dmi}"/>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    data = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet
    itxt = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    png = _png(rgb)
    return png[:33] + itxt + png[33:]  # after the signature (8) and IHDR (25)


def _png_c2pa(rgb: tuple[int, int, int]) -> bytes:
    """:func:`_png` with a caBX chunk (C2PA 2.1 §A.3.2) holding a JUMBF box labelled "c2pa".

    Only the manifest store's outer box (its description box: the C2PA type UUID, the label);
    no manifest, no signature: enough to be seen, not to be validated.
    """
    c2pa_uuid = bytes.fromhex("6332706100110010800000aa00389b71")  # the manifest store's JUMBF type
    jumd_body = c2pa_uuid + b"\x03" + b"c2pa\x00"  # toggles 0b11: requestable, label present
    jumd = struct.pack(">I", 8 + len(jumd_body)) + b"jumd" + jumd_body
    jumb = struct.pack(">I", 8 + len(jumd)) + b"jumb" + jumd
    cabx = struct.pack(">I", len(jumb)) + b"caBX" + jumb + struct.pack(">I", zlib.crc32(b"caBX" + jumb))
    png = _png(rgb)
    return png[:33] + cabx + png[33:]  # after the signature (8) and IHDR (25)


# A 1x1 grey baseline JPEG (159 bytes).
_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMU"
    "FRUVDA8XGBYUGBIUFRT/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAAAP/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAI"
    "AQEAAD8AP//Z"
)

_LOREM = (
    "Machine-readable opt-outs let a site say, in a file or a header, that its content is not to be "
    "used for training AI models. A crawler that honours them reads robots.txt, TDMRep, ai.txt and "
    "the page's own headers and metas before anything reaches a dataset. "
)


def _page(title: str, body: str, head: str = "") -> bytes:
    html = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n'
        '<meta charset="utf-8">\n'
        f"<title>{title} - noai-guard sample site</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="description" content="{title}">\n'
        f"{head}"
        '<link rel="stylesheet" href="/style.css">\n'
        "</head>\n<body>\n"
        f"<h1>{title}</h1>\n{body}\n<p>{_LOREM}</p>\n"
        '<p><a href="/">Back to the index</a></p>\n'
        "</body>\n</html>\n"
    )
    return html.encode()


@dataclass
class Resource:
    """One URL's answer."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    gzip: bool = False  # served gzip-encoded when the client accepts it


def _main_routes(main: str, second: str, unreachable: str, token: str) -> dict[str, Resource]:
    robots = f"""\
# noai-guard sample site: every machine-readable AI opt-out signal in one place.
# RSL 1.0 licence (its <content url="/licensed/"> prohibits ai-train).
License: {main}/license.xml

# The demo crawler's own group (RFC 9309 2.2.1: only this group binds it).
User-agent: {token}
Allow: /
Disallow: /private/
# IETF aipref attach 3: a path-scoped usage preference.
Content-Usage: /essays/ train-ai=n
# Cloudflare Content Signals: search and training allowed here.
Content-Signal: search=yes, ai-train=yes
# Expired draft (draft-canel): reported as legacy, not honoured by default.
DisallowAITraining: /legacy/

# A known AI-training crawler: a site-level opt-out for /gpt-only/ (proxy token).
User-agent: GPTBot
Disallow: /gpt-only/

User-agent: *
Allow: /
"""
    tdmrep = f"""\
[
  {{"location": "/tdm/", "tdm-reservation": 1, "tdm-policy": "{main}/tdm-policy.json"}}
]
"""
    ai_txt = """\
# Spawning AI
# Prevent datasets from using the following file types
User-Agent: *
Disallow: *.jpg
Disallow: *.jpeg
"""
    license_xml = f"""\
<?xml version="1.0" encoding="UTF-8"?>
<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/licensed/">
    <license>
      <permits type="usage">search</permits>
      <prohibits type="usage">ai-train</prohibits>
    </license>
  </content>
  <!-- sample licence of {main} -->
</rsl>
"""
    links = [
        ("About this site", "/about.html"),
        ("First post", "/articles/first-post.html"),
        ("Second post", "/articles/second-post.html"),
        ("Gallery", "/gallery.html"),
        ("Notes (legacy DisallowAITraining)", "/legacy/notes.html"),
        ("X-Robots-Tag: noindex (not an AI opt-out)", "/headers/noindex.html"),
        ("Open paper (tdm-reservation: 0 header)", "/tdm/open-paper.html"),
        ("Staff pages (robots.txt, own token)", "/private/staff.html"),
        ("Dataset (robots.txt, GPTBot only)", "/gpt-only/dataset.html"),
        ("Essay (Content-Usage in robots.txt)", "/essays/on-consent.html"),
        ("Paper (tdmrep.json)", "/tdm/paper.html"),
        ("Report (RSL licence prohibits ai-train)", "/licensed/report.html"),
        ("X-Robots-Tag: noai", "/headers/x-robots-noai.html"),
        ("X-Robots-Tag scoped to our token", "/headers/x-robots-scoped.html"),
        ("tdm-reservation: 1 header", "/headers/tdm-reservation.html"),
        ("Content-Usage header", "/headers/content-usage.html"),
        ("Content-Signal header", "/headers/content-signal.html"),
        ("Content-Usage: train-ai=y, ai-use=n (aipref vocab-08)", "/headers/ai-use.html"),
        ("Members only (401)", "/access/members.html"),
        ("Paid article (402)", "/access/paid.html"),
        ('<meta name="robots" content="noai">', "/meta/robots-noai.html"),
        ("<meta> for our token", "/meta/named-token.html"),
        ("noimageai gallery", "/meta/noimageai.html"),
        ("tdm-reservation meta", "/meta/tdm-reservation.html"),
        ("Photo (ai.txt *.jpg)", "/images/photo.jpg"),
        ("Protected image (X-Robots-Tag: noimageai)", "/images/protected.png"),
        ("Photo whose XMP says DMI-PROHIBITED-AIMLTRAINING (IPTC)", "/images/iptc.png"),
        ("Card image (og:image of the noimageai page)", "/images/card.png"),
        ("Photo with a C2PA manifest (PNG caBX)", "/images/c2pa.png"),
        ("Second origin (Content-Signal ai-train=no)", f"{second}/"),
        ("Second origin news", f"{second}/news/today.html"),
        ("Unreachable origin (robots.txt 503)", f"{unreachable}/status.html"),
    ]
    items = "\n".join(f'<li><a href="{href}">{text.replace("<", "&lt;")}</a></li>' for text, href in links)
    index = _page(
        "noai-guard sample site",
        f"<p>Every machine-readable AI opt-out signal, on one small site.</p>\n<ul>\n{items}\n</ul>",
        head='<meta property="og:title" content="noai-guard sample site">\n',
    )

    def article(n: str, nxt: str | None) -> bytes:
        more = f'<p><a href="/articles/{nxt}.html">Next post</a></p>' if nxt else ""
        return _page(f"The {n} post", f'<p>{_LOREM * 3}</p>\n<img src="/images/logo.png" alt="logo">\n{more}')

    noimageai_head = (
        '<meta name="robots" content="noimageai">\n'
        f'<meta property="og:image" content="{main}/images/card.png">\n'
    )
    gallery_imgs = (
        '<img src="/images/gallery-1.png" alt="one">\n'
        '<picture><source srcset="/images/gallery-2.png 2x"><img src="/images/gallery-1.png" alt="two">'
        "</picture>\n"
    )
    av = (
        '<video controls poster="/media/trailer-poster.png">\n'
        '<source src="/media/trailer.mp4" type="video/mp4"></video>\n'
        '<audio controls src="/media/theme.mp3"></audio>\n'
    )
    return {
        "/robots.txt": Resource(robots.encode(), "text/plain; charset=utf-8"),
        "/.well-known/tdmrep.json": Resource(tdmrep.encode(), "application/json"),
        "/ai.txt": Resource(ai_txt.encode(), "text/plain; charset=utf-8"),
        "/license.xml": Resource(license_xml.encode(), "application/rsl+xml"),
        "/style.css": Resource(b"body { font-family: sans-serif; }\n", "text/css"),
        "/": Resource(index),
        "/about.html": Resource(
            _page("About", f"<p>{_LOREM}</p>\n<p><a href='/articles/third-post.html'>Archive</a></p>")
        ),
        "/articles/first-post.html": Resource(article("first", "second-post")),
        "/articles/second-post.html": Resource(article("second", None)),
        "/articles/third-post.html": Resource(article("third", "fourth-post")),
        "/articles/fourth-post.html": Resource(article("fourth", None)),
        "/gallery.html": Resource(
            _page(
                "Gallery",
                '<img src="/images/logo.png" alt="logo">\n<img src="/images/photo.jpg" alt="photo">\n'
                + gallery_imgs
                + av,
            )
        ),
        "/legacy/notes.html": Resource(_page("Notes", "<p>Under a legacy DisallowAITraining rule.</p>")),
        "/headers/noindex.html": Resource(
            _page("Not indexed", "<p>noindex is about search.</p>"),
            headers=[("X-Robots-Tag", "noindex, nofollow")],
        ),
        "/tdm/open-paper.html": Resource(
            _page("Open paper", "<p>The header lifts the file's reservation.</p>"),
            headers=[("tdm-reservation", "0")],
        ),
        "/tdm-policy.json": Resource(b'{"@context": [], "@type": "Offer"}\n', "application/json"),
        "/private/staff.html": Resource(_page("Staff", "<p>Disallowed for our token.</p>")),
        "/gpt-only/dataset.html": Resource(_page("Dataset", "<p>Disallowed for GPTBot.</p>")),
        "/licensed/report.html": Resource(_page("Report", "<p>Under an RSL licence.</p>")),
        "/essays/on-consent.html": Resource(_page("On consent", "<p>train-ai=n in robots.txt.</p>")),
        "/tdm/paper.html": Resource(_page("Paper", "<p>Reserved by tdmrep.json.</p>")),
        "/headers/x-robots-noai.html": Resource(
            _page("X-Robots-Tag noai", "<p>Header opt-out.</p>"), headers=[("X-Robots-Tag", "noai")]
        ),
        "/headers/x-robots-scoped.html": Resource(
            _page("Scoped X-Robots-Tag", "<p>Opt-out for one agent.</p>"),
            headers=[("X-Robots-Tag", f"noindex, {token}: noai")],
        ),
        "/headers/tdm-reservation.html": Resource(
            _page("TDMRep header", "<p>Reserved by header.</p>"),
            headers=[("tdm-reservation", "1"), ("tdm-policy", f"{main}/tdm-policy.json")],
        ),
        "/headers/content-usage.html": Resource(
            _page("Content-Usage header", "<p>aipref header.</p>"), headers=[("Content-Usage", "train-ai=n")]
        ),
        "/headers/ai-use.html": Resource(
            _page(
                "ai-use header", "<p>aipref vocab-08: ai-use=n reserves AI use (ai-input), not training.</p>"
            ),
            headers=[("Content-Usage", "train-ai=y, ai-use=n")],
        ),
        "/access/members.html": Resource(
            _page("Members only", "<p>Log in to read this page.</p>"),
            status=401,
            headers=[("WWW-Authenticate", 'Basic realm="members"')],
        ),
        "/access/paid.html": Resource(_page("Paid article", "<p>This article is sold.</p>"), status=402),
        "/headers/content-signal.html": Resource(
            _page("Content-Signal header", "<p>Cloudflare header.</p>"),
            headers=[("Content-Signal", "search=yes, ai-train=no")],
        ),
        "/meta/robots-noai.html": Resource(
            _page(
                "meta robots noai",
                "<p>Served gzip-encoded; its video and audio are reserved with it.</p>\n" + av,
                head='<meta name="robots" content="noai">\n',
            ),
            gzip=True,
        ),
        "/meta/named-token.html": Resource(
            _page("meta for our token", "<p>Named meta.</p>", head=f'<meta name="{token}" content="noai">\n')
        ),
        "/meta/noimageai.html": Resource(_page("noimageai gallery", gallery_imgs, head=noimageai_head)),
        "/meta/tdm-reservation.html": Resource(
            _page(
                "TDMRep meta", "<p>Reserved by meta.</p>", head='<meta name="tdm-reservation" content="1">\n'
            )
        ),
        "/images/logo.png": Resource(_png((40, 120, 200)), "image/png"),
        "/images/photo.jpg": Resource(_JPEG, "image/jpeg"),
        "/images/gallery-1.png": Resource(_png((200, 40, 40)), "image/png"),
        "/images/gallery-2.png": Resource(_png((40, 200, 40)), "image/png"),
        "/images/card.png": Resource(_png((120, 120, 120)), "image/png"),
        # Not real media (no decoder reads them here): bytes with the files' signatures.
        "/media/trailer.mp4": Resource(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4"),
        "/media/trailer-poster.png": Resource(_png((20, 20, 20)), "image/png"),
        "/media/theme.mp3": Resource(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 64, "audio/mpeg"),
        "/images/c2pa.png": Resource(_png_c2pa((30, 90, 60)), "image/png"),
        "/images/iptc.png": Resource(_png_xmp((90, 60, 30), "DMI-PROHIBITED-AIMLTRAINING"), "image/png"),
        "/images/protected.png": Resource(
            _png((0, 0, 0)), "image/png", headers=[("X-Robots-Tag", "noimageai")]
        ),
    }


def _second_routes(main: str) -> dict[str, Resource]:
    robots = """\
# Content Signals Policy, as a managed robots.txt writes it: for the whole origin.
User-agent: *
Content-Signal: search=yes, ai-train=no
Allow: /
"""
    return {
        "/robots.txt": Resource(robots.encode(), "text/plain; charset=utf-8"),
        "/": Resource(
            _page("Second origin", f'<p><a href="/news/today.html">News</a> <a href="{main}/">Main</a></p>')
        ),
        "/news/today.html": Resource(
            _page("Today's news", "<p>Reserved by the origin's Content-Signal.</p>")
        ),
    }


def _unreachable_routes() -> dict[str, Resource]:
    return {
        "/robots.txt": Resource(
            b"Service Unavailable\n", "text/plain", status=503, headers=[("Retry-After", "3600")]
        ),
        "/status.html": Resource(_page("Status", "<p>Never fetched: robots.txt is unreachable.</p>")),
    }


# ---------------------------------------------------------------------------
# Serving


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "noai-guard-sample/1"

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        res = self.server.routes.get(path)
        if res is None:
            res = Resource(b"Not Found\n", "text/plain", status=404)
        self.server.hits.append(path)
        payload = res.body
        extra = list(res.headers)
        if res.gzip and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            payload = gzip.compress(payload)
            extra.append(("Content-Encoding", "gzip"))
        self.send_response(res.status)
        self.send_header("Content-Type", res.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Resource]
    hits: list[str]


class SampleSite:
    """The sample site's origins, served on ``host`` from a background thread each.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with SampleSite() as site:
            print(site.url("/"))
    """

    roles: ClassVar[tuple[str, ...]] = ORIGINS

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token: str = DEMO_TOKEN) -> None:
        self.host = host
        self.token = token
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []
        for i, role in enumerate(self.roles):
            # Port 0 everywhere by default; a fixed port for the main origin puts the others after it.
            self._servers[role] = _Server((host, port + i if port else 0), _Handler)
            self._servers[role].hits = []
        self.origins: dict[str, str] = {
            role: f"http://{host}:{srv.server_address[1]}" for role, srv in self._servers.items()
        }
        main, second, unreachable = (self.origins[r] for r in (MAIN, SECOND, UNREACHABLE))
        self._servers[MAIN].routes = _main_routes(main, second, unreachable, token)
        self._servers[SECOND].routes = _second_routes(main)
        self._servers[UNREACHABLE].routes = _unreachable_routes()

    @property
    def main(self) -> str:
        return self.origins[MAIN]

    def url(self, path: str, origin: str = MAIN) -> str:
        return self.origins[origin] + path

    def resource(self, path: str, origin: str = MAIN) -> Resource | None:
        """What the site serves at ``path`` of ``origin`` (None: 404)."""
        return self._servers[origin].routes.get(path)

    def hits(self, origin: str = MAIN) -> list[str]:
        """Paths requested from ``origin`` so far, in order (a copy)."""
        return list(self._servers[origin].hits)

    def expected(self) -> Iterator[tuple[str, Expectation]]:
        """(absolute URL, expectation) for every URL of :data:`EXPECTED`."""
        for e in EXPECTED:
            yield self.url(e.path, e.origin), e

    def start(self) -> SampleSite:
        for role, srv in self._servers.items():
            t = threading.Thread(target=srv.serve_forever, name=f"noai-guard-sample-{role}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        for srv in self._servers.values():
            if self._threads:
                srv.shutdown()
            srv.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> SampleSite:  # noqa: PYI034 - Self needs Python 3.11
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Serve the noai-guard sample site until interrupted.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="port of the main origin (0: any free port)")
    p.add_argument("--token", default=DEMO_TOKEN, help="the crawler token the site's own rules name")
    args = p.parse_args(argv)
    site = SampleSite(args.host, args.port, token=args.token).start()
    for role, origin in site.origins.items():
        print(f"{role:12} {origin}/", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
