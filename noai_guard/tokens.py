"""Product tokens: the crawler's own, and the packaged proxy list of AI-training tokens."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

# RFC 9309 §2.2.1: a product token is made of [A-Za-z_-]; a user-agent value is
# reduced to its leading token characters, so "CCBot/2.0" names "CCBot".
_TOKEN_RE = re.compile(r"[A-Za-z_-]+")


def product_token(value: str) -> str:
    """Return the leading RFC 9309 product token of a User-Agent value ('' if none).

    >>> product_token("Scrapy/2.19.0 (+https://scrapy.org)")
    'Scrapy'
    """
    m = _TOKEN_RE.match(value.strip())
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
