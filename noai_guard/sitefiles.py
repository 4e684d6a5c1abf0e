"""Internal: per-origin files (robots.txt, /.well-known/tdmrep.json, /ai.txt): where they
live and what a fetch outcome means.  Pure: the middleware and the offline audit
fetch (or find captures), then call :func:`from_fetch` to get a parsed file.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from .robots import RobotsTxt
from .rsl import RslFile
from .tdmrep import TdmrepFile

# "rsl": the RSL 1.0 licence a robots.txt License: record names; fetched by its URL, not a
# fixed path, so it is not one of KINDS.
Kind = Literal["robots", "tdmrep", "ai-txt", "rsl"]
KINDS: tuple[Kind, ...] = ("robots", "tdmrep", "ai-txt")
PATHS: dict[Kind, str] = {"robots": "/robots.txt", "tdmrep": "/.well-known/tdmrep.json", "ai-txt": "/ai.txt"}

SiteFile = RobotsTxt | TdmrepFile | RslFile

# RFC 9309 §2.5: parse at least 500 KiB; content beyond is ignored.
SIZE_LIMIT = 500 * 1024
# RFC 9309 §2.3.1.2: follow at least five consecutive redirects.
MAX_REDIRECTS = 5
# Redirects are followed to these schemes only, as Scrapy's RedirectMiddleware does:
# a site file sent to file:, data:, ftp: ... is never read (a local file or an inline
# URL is not the origin's file); it is unavailable, as past the last redirect followed
# (RFC 9309 §2.3.1.2).
REDIRECT_SCHEMES = frozenset({"http", "https"})
# How much of a refused redirect target the detail keeps.
_TARGET_CHARS = 200


def origin_of(url: str) -> str:
    """scheme://host[:port] with the default port dropped; robots.txt scope (RFC 9309 §2.3)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[aaaa]/": no valid authority; keep it as written
        scheme, _, rest = url.partition("://")
        return f"{scheme.lower()}://{rest.split('/', 1)[0].split('?', 1)[0].lower()}"
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port is None or port == default else f"{host}:{port}"
    return f"{scheme}://{netloc}"


def file_url(origin: str, kind: Kind) -> str:
    return origin + PATHS[kind]  # "rsl" has no fixed path: fetched by the URL robots.txt names


def licence_url(robots: SiteFile | None, origin: str) -> str | None:
    """The first http(s) licence URL of robots.txt's ``License:`` records (RSL 1.0, origin-wide)."""
    from urllib.parse import urljoin

    from w3lib.url import safe_url_string

    if not isinstance(robots, RobotsTxt) or robots.state != "ok":
        return None
    for _line, _evidence, value in robots.licenses:
        url = safe_url_string(urljoin(origin + "/", value.strip()))
        if url.startswith(("http://", "https://")):
            return url
    return None


def status_class(status: int | None) -> str:
    """'2xx' / '4xx' / '5xx' / 'error' for stats and the run summary."""
    if status is None:
        return "error"
    return f"{status // 100}xx"


def redirect_refused(target: str) -> str | None:
    """Why a site file's redirect to ``target`` is not followed, or ``None`` to follow it.

    Only http(s) targets are followed (:data:`REDIRECT_SCHEMES`); the reason
    names the target, cut to a bounded length (a ``data:`` URL can be long).
    """
    scheme = target.split(":", 1)[0].strip().lower() if ":" in target else ""  # RFC 3986 §3.1
    if scheme in REDIRECT_SCHEMES:
        return None
    shown = target if len(target) <= _TARGET_CHARS else target[:_TARGET_CHARS] + "..."
    return f"redirect to a non-HTTP(S) URL not followed: {shown}"


def from_fetch(
    kind: Kind, url: str, *, status: int | None, body: bytes = b"", detail: str = "", cut: bool = False
) -> SiteFile:
    """Turn a fetch outcome into a parsed file.

    ``status=None`` is a network error (timeout, DNS, refused) named in
    ``detail``.  robots.txt and ai.txt follow RFC 9309 §2.3.1: 2xx parse,
    4xx other than 429 "unavailable" (no rules), 5xx, 429 and network errors
    "unreachable" (complete disallow).  For tdmrep.json a failure means the
    origin "does not implement the protocol" (TDMRep), recorded as such.

    ``cut`` says the body ended before its end (Scrapy's ``dataloss`` flag: a
    reset, a close before Content-Length bytes, a missing last chunk): a 2xx
    file that was not received whole is unreachable, never parsed as if its
    lost lines did not exist.
    """
    if cut and status is not None and 200 <= status < 300:
        # RFC 9309 §2.3.1.4: the file could not be received (a network error mid-body).
        detail = f"HTTP {status}, body cut short after {len(body)} bytes (dataloss)"
        if kind == "tdmrep":
            return TdmrepFile.unreachable(url, detail)
        return RobotsTxt.unreachable(url, detail, status)
    if cut and kind == "rsl" and status is not None and 200 <= status < 300:
        return RslFile.unreachable(url, f"HTTP {status}, body cut short after {len(body)} bytes (dataloss)")
    detail = detail or (f"HTTP {status}" if status is not None else "network error")
    if kind == "rsl":
        # As a site file: 2xx parsed, 4xx absent, 5xx / 429 / network errors unreachable (unknown).
        if status is not None and 200 <= status < 300:
            return RslFile.parse(body, url)
        if status is not None and 400 <= status < 500 and status != 429:
            return RslFile.unavailable(url, detail)
        return RslFile.unreachable(url, detail)
    if kind == "tdmrep":
        if status is not None and 200 <= status < 300:
            return TdmrepFile.parse(body, url)
        if status is not None and 400 <= status < 500 and status != 429:
            return TdmrepFile.unavailable(url, detail)
        return TdmrepFile.unreachable(url, detail)
    if status is not None and 200 <= status < 300:
        return RobotsTxt.parse(body, url, status=status, limit=SIZE_LIMIT)
    if status is not None and 400 <= status < 500 and status != 429:
        return RobotsTxt.unavailable(url, detail, status)
    # 5xx, 429 (treated as 5xx, as Google does), 3xx left over (too many
    # redirects are handled by the caller), network errors.
    return RobotsTxt.unreachable(url, detail, status)
