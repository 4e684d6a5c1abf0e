"""Internal: a page's embedded images without parsing the page, or ``None`` when unsure.

:func:`embedded_images_fast` returns exactly what
:func:`noai_guard.htmlhead.embedded_images` returns (same URLs, same order), or
``None``, and the caller then runs that full lxml parse.  It takes the start
tags that matter from one byte scan (:func:`noai_guard.htmlscan.media_tags`:
``img``, ``source`` with whether its parent is a ``picture``, ``meta``,
``base``), reads their attributes as lxml would (:mod:`noai_guard.tagattrs`;
values decoded only where read), and resolves the references with the same
rules, taking shortcuts only where they provably give what ``urljoin`` gives.

``None`` whenever the scan is unsure (see ``media_tags``) or not in C, a ``source`` that
lists a srcset has a parent the scan cannot name, a tag cannot be read, or the
page takes ``embedded_images``' other branch (a non-UTF-8 encoding, UTF-16, an
XML declaration: decoded text parsed as such).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from urllib.parse import urljoin, urlsplit

from noai_guard import htmlscan
from noai_guard.htmlhead import _AV_METAS, _HTML_WS, _IMAGE_METAS, _srcset_urls, _utf8_start
from noai_guard.tagattrs import attr_value, decode_value, start_tags_raw

__all__ = ["embedded_images_fast", "embedded_media_fast"]

# The start tags asked of the scan; a tag's name_index / a source's parent index into this.
MEDIA_NAMES = (b"img", b"source", b"meta", b"base", b"picture")
_IMG, _SOURCE, _META, _BASE, _PICTURE = range(5)
# With the audio and video (htmlhead.embedded_media): the same indexes, then these two.
AV_NAMES = (*MEDIA_NAMES, b"audio", b"video")
_AUDIO, _VIDEO = 5, 6
_AV_SOURCE = -2  # a kind of tag to read: a source in an audio or a video (its src)
_AV_UNKNOWN = -3  # a source in sources the first of which has a parent the scan does not know
# The meta keys worth reading: an image's, an audio's or video's (htmlhead._AV_METAS).
_AV_KEY_PARTS = (b":image", b":audio", b":video", b":stream")
_PARENT_UNKNOWN = htmlscan.PARENT_UNKNOWN
_SOURCE_UNKNOWN = -1  # a kind of tag to read: a source whose parent the scan does not know

# Far below libxml2's own limits (a 10 MB text node, no huge_tree); past this, lxml decides.
MAX_PAGE_BYTES = 8_000_000

# htmlhead._srcset_urls where no descriptor holds "(" (which would hide commas): a URL is the
# whitespace-free run, trailing commas dropped, and its descriptors run to the next comma.
_SRCSET_RE = re.compile(r"[ \t\n\f\r,]*([^ \t\n\f\r]*[^ \t\n\f\r,])[^,]*,?")
_SRCSET_DESCRIPTORS_RE = re.compile(r"[ \t\n\f\r,]*([^ \t\n\f\r]*[^ \t\n\f\r,])([^,]*),?")
# A URL scheme as urlsplit finds it (RFC 3986 §3.1), before the first ":".
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _srcset(value: str) -> list[str]:
    """``htmlhead._srcset_urls(value)``, without its per-character loop where that is safe."""
    if "(" in value:  # parentheses in a descriptor hide commas: the reference code decides
        pairs: list[tuple[str, str]] = _SRCSET_DESCRIPTORS_RE.findall(value)
        if "(" in "".join([descriptors for _, descriptors in pairs]):
            return _srcset_urls(value)
        return [url for url, _ in pairs]  # parentheses in URLs only (thumbor filters) are common
    if (
        not value.isascii()
        or "\x0b" in value
        or "\x1c" in value
        or "\x1d" in value
        or "\x1e" in value
        or "\x1f" in value
    ):
        # str.split() would also split at these (ASCII) and at non-ASCII whitespace.
        return _SRCSET_RE.findall(value)
    # The whitespace-free runs: a URL, then descriptors up to the run holding a comma.
    urls: list[str] = []
    in_descriptors = False
    for run in value.split():
        if in_descriptors:
            comma = run.find(",")
            if comma < 0:
                continue
            run = run[comma + 1 :]
            in_descriptors = False
        run = run.lstrip(",")
        if not run:
            continue
        if run[-1] == ",":  # a URL ending in "," has no descriptors
            urls.append(run.rstrip(","))
        else:
            urls.append(run)
            in_descriptors = True
    return urls


class _Resolver:
    """``urljoin(base, ref)`` and its http(s) filter, with shortcuts for the common references.

    A shortcut is taken only for a reference that ``urlsplit``/``urlunsplit`` give back
    unchanged: printable ASCII without space, ``[``, ``]`` (bracketed hosts are
    validated), ``;`` (an empty last-segment parameter is dropped), an empty query or
    fragment (dropped too), and, for a path-absolute reference, without dot segments
    (RFC 3986 §5.2.4).  Anything else goes to ``urljoin`` itself.
    """

    __slots__ = ("base", "netloc", "scheme")

    def __init__(self, base: str) -> None:
        self.base = base
        self.scheme = self.netloc = ""
        try:
            parts = urlsplit(base)
        except ValueError:
            return  # urljoin raises for every reference: the slow way says so
        if parts.scheme in ("http", "https"):
            self.scheme, self.netloc = parts.scheme, parts.netloc

    def resolve(self, ref: str) -> str | None:
        """The absolute http(s) URL of ``ref`` (stripped, non-empty), or None to skip it."""
        scheme = self.scheme
        if scheme and ref.isascii() and ref.isprintable():
            if " " in ref or "[" in ref or "]" in ref or ";" in ref or "?#" in ref or ref[-1] in "?#":
                pass
            elif ref[0] == "/":
                if ref[1:2] == "/":  # network-path reference: the base's scheme
                    host = ref[2:3]
                    if host and host not in "/?#":
                        return scheme + ":" + ref
                elif "/." not in ref and self.netloc:  # no dot segments (urljoin removes them)
                    return scheme + "://" + self.netloc + ref
            elif ref[:8] == "https://" or ref[:7] == "http://":
                host = ref[8:9] if ref[4] == "s" else ref[7:8]  # the authority's first character
                if host and host not in "/?#":
                    return ref
            m = _SCHEME_RE.match(ref)
            if m is not None and m.group()[:-1].lower() not in ("http", "https"):
                return None  # urljoin keeps another scheme's URL as it is; the filter drops it
        try:
            url = urljoin(self.base, ref)
            if urlsplit(url).scheme.lower() not in ("http", "https"):
                return None  # data:, javascript:, blob: are not fetched
        except ValueError:
            return None
        return url


def images_from_tags(
    data: bytes, tags: Sequence[tuple[int, int, int, int]], base_url: str
) -> list[str] | None:
    """The image URLs the start tags ``(name_index, start, stop, parent)`` of ``data`` give.

    ``name_index`` and ``parent`` index into :data:`MEDIA_NAMES` (``parent``, for a
    ``source``: -1 unknown, else known; only a ``picture`` parent counts).
    Mirrors the element loop and the resolution of ``htmlhead._embedded``.
    """
    found = media_from_tags(data, tags, base_url, False)
    return None if found is None else found[0]


def media_from_tags(
    data: bytes, tags: Sequence[tuple[int, int, int, int]], base_url: str, av: bool
) -> tuple[list[str], list[str]] | None:
    """``(images, audio_video)`` the start tags ``(name_index, start, stop, parent)`` of ``data`` give.

    :func:`images_from_tags`; with ``av``, the names are :data:`AV_NAMES` and the
    audio and video are listed too: a ``source`` is an audio's or a video's when its
    parent is one, or is a ``source`` (libxml2 nests a ``source`` in the one before:
    a parent ``source`` is the tag listed just before) that is.
    """
    # Pass 1: the tags whose attributes matter, read together.
    kinds: list[int] = []
    chunks: list[bytes] = []
    container = _PARENT_UNKNOWN  # the last source's first non-source ancestor (av only)
    for name, start, stop, parent in tags:
        if name == _META:
            # A media meta's key holds ":image" (":audio", ":video", ":stream" too with av; no
            # character reference spells an ASCII letter; ":" is "&colon;" or numeric): without
            # it and without "&", skip the tag.
            if data.find(b"&", start, stop) < 0:
                colon = data.find(b":", start, stop)
                if colon < 0:
                    continue
                tail = data[colon:stop].lower()
                if av:
                    if not any(part in tail for part in _AV_KEY_PARTS):
                        continue
                elif b":image" not in tail:
                    continue
        elif name == _SOURCE:
            outer = parent
            if av:
                outer = container = container if parent == _SOURCE else parent
            if parent == _PICTURE:
                pass  # a picture's: its srcset
            elif parent == _PARENT_UNKNOWN:
                name = _SOURCE_UNKNOWN
            elif av and outer in (_AUDIO, _VIDEO):
                name = _AV_SOURCE
            elif av and outer == _PARENT_UNKNOWN:
                name = _AV_UNKNOWN
            else:
                continue
        elif name != _IMG and name != _BASE and not (av and name in (_AUDIO, _VIDEO)):
            continue
        kinds.append(name)
        chunks.append(data[start:stop])
    # Pass 2: in document order, as htmlhead._embedded walks lxml's tree.
    found: list[str] = []
    found_av: list[str] = []
    href = ""
    for kind, parsed in zip(kinds, start_tags_raw(chunks), strict=True):
        if parsed is None:
            return None
        _, names, values = parsed
        if kind == _IMG:
            if "src" in names:
                found.append(decode_value(values[names.index("src")]))
            if "srcset" in names:
                found += _srcset(decode_value(values[names.index("srcset")]))
        elif kind == _META:
            key = (
                (attr_value(names, values, "property") or attr_value(names, values, "name") or "")
                .strip()
                .lower()
            )
            if key in _IMAGE_METAS:
                found.append(attr_value(names, values, "content") or "")
            elif av and key in _AV_METAS:
                found_av.append(attr_value(names, values, "content") or "")
        elif kind == _BASE:
            if not href:  # the first <base> with an href sets the base URL
                href = (attr_value(names, values, "href") or "").strip()
        elif kind in (_AUDIO, _VIDEO, _AV_SOURCE):
            if "src" in names:
                found_av.append(decode_value(values[names.index("src")]))
            if kind == _VIDEO and "poster" in names:
                found_av.append(decode_value(values[names.index("poster")]))
        elif kind == _AV_UNKNOWN:
            if "src" in names:
                return None  # in sources nested from one the scan cannot place: lxml decides
        else:  # a source: a picture's, or one whose parent the scan does not know
            if kind == _SOURCE_UNKNOWN and av and "src" in names:
                return None  # its parent may be an audio or a video: lxml decides
            if "srcset" in names:
                urls = _srcset(decode_value(values[names.index("srcset")]))
                if urls and kind == _SOURCE_UNKNOWN:
                    return None  # its parent may be a picture: lxml decides
                found += urls
    base = base_url
    if href:
        with contextlib.suppress(ValueError):
            base = urljoin(base_url, href)
    resolve = _Resolver(base).resolve
    return _resolve_all(found, resolve), _resolve_all(found_av, resolve) if av else []


def _resolve_all(found: list[str], resolve: Callable[[str], str | None]) -> list[str]:
    # Each distinct reference once, in order of first use (a repeat resolves the same way).
    refs = dict.fromkeys([ref.strip(_HTML_WS) for ref in found])
    refs.pop("", None)
    out: list[str] = []
    seen: set[str] = set()
    for ref in refs:
        url = resolve(ref)
        if url is not None and url not in seen:
            seen.add(url)
            out.append(url)
    return out


def embedded_images_fast(body: bytes, base_url: str, *, encoding: str | None = None) -> list[str] | None:
    """``htmlhead.embedded_images(body, base_url, encoding=encoding)``, or None when unsure.

    Also None when the scan is the pure-Python one (no C extension, or
    ``NOAI_GUARD_PURE_PYTHON=1``): that costs more than lxml's parse.
    """
    if htmlscan.IMPLEMENTATION != "c":
        return None
    try:
        return _embedded_images_fast(bytes(body), base_url, encoding)
    except Exception:  # noqa: BLE001  # pragma: no cover - unsure: the caller parses the page
        return None


def _embedded_images_fast(
    body: bytes, base_url: str, encoding: str | None, scan: htmlscan.MediaTags | None = None
) -> list[str] | None:
    start = _utf8_start(body, encoding)
    if start < 0 or body.startswith(b"<?xml", start) or len(body) > MAX_PAGE_BYTES:
        return None  # embedded_images decodes and parses such pages as text
    data = body[start:] if start else body
    status, tags = (scan or htmlscan.media_tags)(data, len(data), MEDIA_NAMES)
    if status != htmlscan.DONE:
        return None
    return images_from_tags(data, tags, base_url)


def embedded_media_fast(
    body: bytes, base_url: str, *, encoding: str | None = None
) -> tuple[list[str], list[str]] | None:
    """``htmlhead.embedded_media(body, base_url, encoding=encoding)``, or None when unsure.

    None too when the scan is the pure-Python one, as :func:`embedded_images_fast`.
    """
    if htmlscan.IMPLEMENTATION != "c":
        return None
    try:
        return _embedded_media_fast(bytes(body), base_url, encoding)
    except Exception:  # noqa: BLE001  # pragma: no cover - unsure: the caller parses the page
        return None


def _embedded_media_fast(
    body: bytes, base_url: str, encoding: str | None, scan: htmlscan.MediaTags | None = None
) -> tuple[list[str], list[str]] | None:
    start = _utf8_start(body, encoding)
    if start < 0 or body.startswith(b"<?xml", start) or len(body) > MAX_PAGE_BYTES:
        return None  # embedded_media decodes and parses such pages as text
    data = body[start:] if start else body
    status, tags = (scan or htmlscan.media_tags)(data, len(data), AV_NAMES)
    if status != htmlscan.DONE:
        return None
    return media_from_tags(data, tags, base_url, True)
