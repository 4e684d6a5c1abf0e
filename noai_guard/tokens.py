"""Internal: product tokens: the crawler's own, and the packaged proxy list of AI-training tokens."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

# A crawler's name (RFC 9309 §2.2.1 product token): the leading run of letters and digits
# (any script), "_" and "-".  The RFC's token is [A-Za-z_-]+, but cutting a name at the
# first character outside that set would reduce different names to one: "Bot2000" and
# "Bot3000" to "Bot", "Wölfchen-Crawler" and "Wölfchen-Spider" to "W".  A name's identity is the
# whole token as written, so it is cut only where the name itself ends: at a version
# ("CCBot/2.0" names "CCBot"), whitespace ("Sogou web spider" names "Sogou"), or any
# other character that is neither a letter, a digit, "_" nor "-".
_NAME_RE = re.compile(r"[\w-]+")


def product_token(value: str) -> str:
    """Return the crawler name a User-Agent value (or a robots.txt user-agent value) starts with ('' if none).

    >>> product_token("Scrapy/2.19.0 (+https://scrapy.org)")
    'Scrapy'
    >>> product_token("CCBot/2.0"), product_token("Bot2000")
    ('CCBot', 'Bot2000')
    """
    m = _NAME_RE.match(value.strip())
    return m.group(0) if m else ""


@lru_cache(maxsize=1)
def _proxy_data() -> dict[str, Any]:
    raw = resources.files("noai_guard.data").joinpath("proxy_tokens.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(raw)
    return data


def proxy_tokens_info() -> dict[str, Any]:
    """Source, date and per-token notes of the packaged proxy-token list."""
    return dict(_proxy_data())


def default_proxy_tokens() -> tuple[str, ...]:
    """The packaged AI-training crawler and control tokens."""
    return tuple(t["token"] for t in _proxy_data()["tokens"])
