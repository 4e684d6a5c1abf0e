"""Internal: robots.txt grammar, the file's lines read into groups and records (RFC 9309 §2.2, §2.5).

:func:`read_records` turns the text into :class:`_Group` objects (a run of
``user-agent`` lines and the rules under it) and the records outside any
group (Sitemap, RSL License, an origin-wide Content-Signal); nothing here
knows about URLs or policies.  Google's lenient readings (misspelt keys, a
line without a colon, ``User-agent: * text``) are applied here and noted on
the group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..aipref import ContentSignals, UsagePreferences, parse_content_signal, parse_content_usage
from ..tokens import product_token
from .rules import _compile, _Rule

DEFAULT_LIMIT = 512_000  # RFC 9309 §2.5: parse at least 500 KiB
# What the fetch gave (§2.3.1): a file read, no file (4xx: no rules), or none reached (5xx, network).
OK, UNAVAILABLE, UNREACHABLE = "ok", "unavailable", "unreachable"


@dataclass(slots=True)
class _UsageRule:
    rule: _Rule  # allow flag unused; "prefix" is the path (or "/" when omitted)
    prefs: UsagePreferences
    has_path: bool


@dataclass(slots=True)
class _Group:
    agents: list[tuple[str, int]] = field(default_factory=list)  # (value as written, line)
    rules: list[_Rule] = field(default_factory=list)
    usage: list[_UsageRule] = field(default_factory=list)
    content_signals: list[tuple[int, str, ContentSignals]] = field(default_factory=list)
    legacy: list[_Rule] = field(default_factory=list)
    crawl_delay: tuple[int, str] | None = None
    # Lines of the group read leniently, as Google's parser reads them (misspelt key, no
    # colon, "* text" user-agent), and such a line that ended the group: for the notes.
    odd: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Records:
    """Everything read from one file: its groups and the records outside them."""

    groups: list[_Group] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    licenses: list[tuple[int, str, str]] = field(default_factory=list)  # (line, evidence, licence URL)
    origin_signals: list[tuple[int, str, ContentSignals]] = field(default_factory=list)  # before any group


def _star_text(v: str) -> bool:
    """A value that is ``*`` followed by whitespace and more text (``* Disallow: /private/``)."""
    return len(v) > 1 and v[0] == "*" and v[1] in " \t\v\f"


def _agent_keys(value: str) -> set[str]:
    """Names a user-agent value answers to (all lowercase).

    The crawler name it starts with (§2.2.1, :func:`~noai_guard.tokens.product_token`:
    ``CCBot/2.0`` names ``ccbot``, ``Bot2000`` names ``bot2000``, never ``bot``), plus
    the value as written and the value before ``/``, so that proxy tokens that are
    not valid RFC tokens (``AI2Bot``, ``Kangaroo Bot``) can be matched as written.
    A ``*`` followed by whitespace and more text is ``*``: Google's parser (the
    RFC's reference implementation) reads it so, and sites write
    ``User-agent: * Disallow: /private/`` on one line.
    """
    v = value.strip().lower()
    if v == "*" or _star_text(v):
        return {"*"}
    keys = {v, v.split("/", 1)[0].strip()}
    tok = product_token(v).lower()
    if tok:
        keys.add(tok)
    keys.discard("")
    return keys


_LINE_SPLIT = re.compile(r"\r\n|\r|\n")

# Keys read as written (lowercased); any other key may be a misspelling (_google_key).
_KEYS = frozenset(
    {
        "user-agent",
        "allow",
        "disallow",
        "sitemap",
        "license",
        "content-signal",
        "content-usage",
        "disallowaitraining",
        "allowaitraining",
        "crawl-delay",
    }
)
# Google's parser (robots.cc, the RFC's reference implementation) takes a key that starts
# with one of these spellings as the protocol key; webmasters check their files against it.
_GOOGLE_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("user-agent", ("user-agent", "useragent", "user agent")),
    ("allow", ("allow",)),
    ("disallow", ("disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw")),
)
# A line without a colon that Google's parser still reads as "key value": two words.
_NO_COLON = re.compile(r"([^ \t]+)[ \t]+([^ \t]+)")


def _google_key(key: str) -> str | None:
    """The protocol key Google's parser reads ``key`` (lowercase) as, among user-agent/allow/disallow."""
    for name, spellings in _GOOGLE_KEYS:
        if key.startswith(spellings):
            return name
    return None


def _cut(body: bytes, limit: int) -> tuple[bytes, bool]:
    """§2.5: keep the first ``limit`` bytes, cut at the last complete line."""
    if len(body) <= limit:
        return body, False
    head = body[:limit]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return (head[: end + 1] if end >= 0 else b""), True


def _utf16(data: bytes) -> str | None:
    """The UTF-16 codec of ``data`` (by BOM, else by NULs in every other byte of an ASCII text), or None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # the codec reads the BOM
    head = data[:64]
    if len(head) >= 8 and b"\x00" in head:
        if head[1::2].count(0) == len(head[1::2]) and head[0::2].count(0) == 0:
            return "utf-16-le"
        if head[0::2].count(0) == len(head[0::2]) and head[1::2].count(0) == 0:
            return "utf-16-be"
    return None


def decode_text(data: bytes) -> tuple[str, bool]:
    """The file's text and whether it was read as UTF-16 (RFC 9309 §2.3 asks for UTF-8)."""
    wide = _utf16(data)
    # A UTF-16 file is still the site's rules, read as such.
    text = data.decode(wide, "replace") if wide is not None else data.decode("utf-8", "replace")
    return text.removeprefix("\ufeff"), wide is not None  # BOM


def read_records(text: str, lenient: bool) -> _Records:
    """The groups and records of a robots.txt (or ai.txt) text (pure: no I/O).

    ``lenient`` reads patterns that start with neither ``/`` nor ``*`` as if
    prefixed by ``/`` (ai.txt extension patterns such as ``.jpg``).
    """
    out = _Records()
    cur: _Group | None = None
    in_agents = False  # the last protocol record was a user-agent line
    for lineno, raw in enumerate(_LINE_SPLIT.split(text), 1):
        line = raw.split("#", 1)[0].strip()
        key, sep, value = line.partition(":")
        odd = ""
        if sep:
            key = key.strip().lower()
            if key not in _KEYS:
                google = _google_key(key)
                if google is not None:
                    odd = f"line {lineno} {line!r}: key {key!r} read as {google!r} (misspelt)"
                    key = google
        else:
            # No colon: not a record (§2.2), but Google's parser takes whitespace for the
            # colon when the line is exactly two words; done for its three keys only.
            m = _NO_COLON.fullmatch(line)
            google = _google_key(m.group(1).lower()) if m is not None else None
            if m is None or google is None:
                continue
            odd = f"line {lineno} {line!r} read as a {google!r} record (no colon)"
            key, value = google, m.group(2)
        value = value.strip()
        if key == "user-agent":
            if cur is None or not in_agents:  # §2.2.1: consecutive lines start one group
                if odd and cur is not None:  # read strictly, the line would not end it
                    cur.odd.append(f"the group ends at {odd}")
                cur = _Group()
                out.groups.append(cur)
            if _star_text(value):
                star = (
                    f"line {lineno} {line!r} read as 'User-agent: *' (the text after '*' is not a rule)"
                )
                odd = f"{odd}; {star}" if odd else star
            cur.agents.append((value, lineno))
            if odd:
                cur.odd.append(odd)
            in_agents = True
        elif key in ("allow", "disallow"):
            if odd and cur is not None:
                cur.odd.append(odd + (" (it ends the group's user-agent lines)" if in_agents else ""))
            in_agents = False
            if cur is not None and value:  # empty value: no rule; outside a group: ignored
                cur.rules.append(_compile(key == "allow", value, line, lineno, lenient))
        # Other records (Sitemap, License, Crawl-delay, unknown lines) neither end a
        # group nor close its user-agent lines (§2.2.4: MUST NOT interfere).
        elif key == "sitemap":
            if value:
                out.sitemaps.append(value)
        elif key == "license":  # RSL 1.0: not tied to any user agent
            if value:
                out.licenses.append((lineno, line, value))
        # Group-member records of the extensions (Content-Signal "inside a User-Agent
        # group", aipref attach §3 rules, draft-canel rules) are rules of the group:
        # like allow/disallow they close the run of user-agent lines.
        elif key == "content-signal":
            rec = (lineno, line, parse_content_signal(value))
            (cur.content_signals if cur is not None else out.origin_signals).append(rec)
            in_agents = False
        elif key == "content-usage":
            if cur is not None:  # attach §3: group-scoped; outside a group ignored
                cur.usage.append(_usage_rule(value, line, lineno))
            in_agents = False
        elif key in ("disallowaitraining", "allowaitraining"):
            if cur is not None and value:
                cur.legacy.append(_compile(key == "allowaitraining", value, line, lineno, lenient))
            in_agents = False
        elif key == "crawl-delay" and cur is not None and cur.crawl_delay is None:
            cur.crawl_delay = (lineno, value)
    return out


def _usage_rule(value: str, line: str, lineno: int) -> _UsageRule:
    """attach §3: ``[path-pattern 1*WS] usage-pref``; a value starting with ``/`` carries a path."""
    path = "/"
    has_path = value.startswith("/")
    if has_path:
        m = re.match(r"(\S+)[ \t]*(.*)", value)
        assert m is not None
        path, value = m.group(1), m.group(2)
    # A rule without a path covers all paths, i.e. the same scope as "/".
    return _UsageRule(_compile(False, path, line, lineno, False), parse_content_usage(value), has_path)

