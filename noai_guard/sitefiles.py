"""Per-origin files (robots.txt, /.well-known/tdmrep.json, /ai.txt): where they
live and what a fetch outcome means.  Pure: the middleware and the offline audit
fetch (or find captures), then call :func:`from_fetch` to get a parsed file.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from .robots import RobotsTxt
from .tdmrep import TdmrepFile

Kind = Literal["robots", "tdmrep", "ai-txt"]
KINDS: tuple[Kind, ...] = ("robots", "tdmrep", "ai-txt")
PATHS: dict[Kind, str] = {"robots": "/robots.txt", "tdmrep": "/.well-known/tdmrep.json", "ai-txt": "/ai.txt"}

SiteFile = RobotsTxt | TdmrepFile

# RFC 9309 §2.5: parse at least 500 KiB; content beyond is ignored.
SIZE_LIMIT = 500 * 1024
# RFC 9309 §2.3.1.2: follow at least five consecutive redirects.
MAX_REDIRECTS = 5


def origin_of(url: str) -> str:
    """scheme://host[:port] with the default port dropped; robots.txt scope (RFC 9309 §2.3)."""
    parts = urlsplit(url)
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
    return origin + PATHS[kind]


def status_class(status: int | None) -> str:
    """'2xx' / '4xx' / '5xx' / 'error' for stats and the run summary."""
    if status is None:
        return "error"
    return f"{status // 100}xx"


def from_fetch(kind: Kind, url: str, *, status: int | None, body: bytes = b"", detail: str = "") -> SiteFile:
    """Turn a fetch outcome into a parsed file.

    ``status=None`` is a network error (timeout, DNS, refused) named in
    ``detail``.  robots.txt and ai.txt follow RFC 9309 §2.3.1: 2xx parse,
    4xx other than 429 "unavailable" (no rules), 5xx, 429 and network errors
    "unreachable" (complete disallow).  For tdmrep.json a failure means the
    origin "does not implement the protocol" (TDMRep), recorded as such.
    """
    detail = detail or (f"HTTP {status}" if status is not None else "network error")
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
