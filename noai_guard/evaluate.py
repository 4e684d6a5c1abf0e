"""Glue: run every parser that has input and fold the signals into a decision.

Pure code.  The middleware, ``explain`` and the offline audit all call these
functions, so a URL gets the same decision wherever it is judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import aipref, directives, tdmrep
from .decision import Decision, Headers, Signal
from .htmlhead import Head, read_head
from .policy import Policy, decide

if TYPE_CHECKING:
    from .robots import RobotsTxt
    from .tdmrep import TdmrepFile

_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp", ".tif", ".tiff", ".svg", ".heic")


def is_image(url: str, content_type: str | None) -> bool:
    """An image response: by Content-Type, else by the path's extension."""
    if content_type:
        return content_type.strip().lower().startswith("image/")
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    return path.endswith(_IMAGE_EXTS)


def is_html(content_type: str | None, body: bytes) -> bool:
    """HTML by Content-Type, or by a sniff of the first bytes when it is missing."""
    if content_type:
        ct = content_type.strip().lower()
        return "html" in ct
    start = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<!--"))


def header_value(headers: Headers, name: str) -> str | None:
    """First value of a header, compared case-insensitively."""
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


def site_signals(
    url: str,
    policy: Policy,
    *,
    robots: RobotsTxt | None = None,
    tdmrep_file: TdmrepFile | None = None,
    ai_txt: RobotsTxt | None = None,
) -> list[Signal]:
    """Signals known before the fetch: robots.txt, tdmrep.json and ai.txt of the origin."""
    from .robots import ai_txt_signals

    out: list[Signal] = []
    if robots is not None:
        out += robots.signals(url, policy)
    if tdmrep_file is not None:
        out += tdmrep_file.signals(url, policy)
    if ai_txt is not None:
        out += ai_txt_signals(ai_txt, url, policy)
    return out


def response_signals(
    url: str,
    policy: Policy,
    *,
    headers: Headers = (),
    body: bytes | None = None,
    content_type: str | None = None,
    head: Head | None = None,
) -> list[Signal]:
    """Signals known after the fetch: response headers and the HTML head's metas."""
    if content_type is None:
        content_type = header_value(headers, "Content-Type")
    image = is_image(url, content_type)
    out: list[Signal] = []
    if headers:
        out += directives.header_signals(headers, url, policy, is_image=image)
        out += tdmrep.header_signals(headers, url, policy)
        out += aipref.header_signals(headers, url, policy)
    if head is None and body and not image and is_html(content_type, body):
        head = read_head(body, budget=policy.html_budget, strict=policy.html_strict)
    if head is not None:
        out += directives.meta_signals(head, url, policy, is_image=image)
        out += tdmrep.meta_signals(head, url, policy)
    return out


def evaluate(
    url: str,
    policy: Policy,
    *,
    robots: RobotsTxt | None = None,
    tdmrep_file: TdmrepFile | None = None,
    ai_txt: RobotsTxt | None = None,
    headers: Headers = (),
    body: bytes | None = None,
    content_type: str | None = None,
    extra: list[Signal] | None = None,
) -> Decision:
    """Decide ``url`` for ``policy.purpose`` from whatever inputs are given.

    An input left as ``None`` was not checked and yields no signal; callers
    that want "absent" (a 404) pass ``RobotsTxt.unavailable(...)``.
    """
    sigs = site_signals(url, policy, robots=robots, tdmrep_file=tdmrep_file, ai_txt=ai_txt)
    sigs += response_signals(url, policy, headers=headers, body=body, content_type=content_type)
    if extra:
        sigs += extra
    return decide(url, sigs, policy)
