"""Internal: the name and attributes of one HTML start tag, as lxml (libxml2 2.14) reports them.

:func:`parse_start_tag` reads the exact bytes of one start tag, ``<`` through its
``>``, as the WHATWG tokenizer (HTML §13.2.5) does: tag name and attribute names
ASCII-lowercased, a repeated attribute name dropped (the first wins), character
references in attribute values decoded (§13.2.5.72-.80, attribute rules), NUL
as U+FFFD, CR and CRLF as LF (§13.2.3.5 input stream preprocessing), invalid
UTF-8 replaced.  libxml2 2.14 does the same in every case the tests probe (see
``tests/test_tagattrs.py``, which compares the two on random tags); where this
module cannot be sure it returns ``None`` and the caller parses with lxml.

Two readings give the same result: a fast one for the common shape (every value
quoted, all with the same quote, one attribute name before each value: the tag
split at the quote alternates names and values) and a regex tokenizer for
everything else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html.entities import html5

__all__ = ["attr_value", "decode_value", "parse_start_tag", "start_tag_raw", "start_tags_raw"]

# libxml2 refuses an attribute value of 10,000,000 bytes or more (XML_MAX_TEXT_LENGTH, no
# huge_tree) and then drops the element's attributes; far below that, nothing is guessed.
MAX_TAG_BYTES = 8_000_000

_WS = r"\t\n\f\r "

# --- the general reading: a regex tokenizer ------------------------------------------------------
# One attribute (§13.2.5.32-.39): a name, then optionally "=" and a value.  Every part is
# forced maximal by a lookahead and a value is mandatory after "=", so the regex engine cannot
# backtrack into a second reading: the only match is the tokenizer's.  (Possessive quantifiers
# would say this directly, but they need Python 3.11.)
_NAME = rf"[^{_WS}/>][^{_WS}/>=]*(?=[{_WS}/>=])"  # "=" may only start a name (§13.2.5.32)
_VALUE = (
    rf"[{_WS}]*=[{_WS}]*"
    rf"(?:\"([^\"]*)\"|'([^']*)'|([^{_WS}>\"'][^{_WS}>]*)(?=[{_WS}>])|(?=>))"
)
_ATTR = rf"[{_WS}/]*({_NAME})(?:{_VALUE}|(?![{_WS}]*=))"
_TAG_RE = re.compile(rf"<([A-Za-z][^{_WS}/>]*)(?=[{_WS}/>])(?:{_ATTR})*[{_WS}/]*>")
_ATTR_RE = re.compile(_ATTR)

# --- the fast reading: values quoted ---------------------------------------------------------------
# The tag with each quoted value (quotes included) replaced by \x01, its skeleton: the tag name,
# then for each value one attribute name and "=".  Names are printable ASCII without " & ' / = >
# (so no quote is inside a name or an unquoted value: each one opens or closes a value; anything
# else goes to the general reading).
_N = "[!#$%(-.0-<?-~]"
_SKELETON_RE = re.compile(
    rf"[A-Za-z]{_N}*[{_WS}/]+{_N}+[{_WS}]*=[{_WS}]*(?:\x01[{_WS}/]*{_N}+[{_WS}]*=[{_WS}]*)*"
)
_TAIL = "\t\n\f /"  # what may follow the last value (CR is gone by then)
_BARE_RE = re.compile(rf"<([A-Za-z]{_N}*)[{_WS}/]*>")  # a start tag without attributes

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}

# --- character references (§13.2.5.72 character reference state, in an attribute value) --------
# Numeric references run to the last digit (";" optional); a named reference's candidate is the
# whole alphanumeric run, and whether "=" follows it is captured without consuming it.
_REF_RE = re.compile(r"&(?:#[xX]([0-9A-Fa-f]+);?|#([0-9]+);?|([A-Za-z0-9]+)(;?)(?=(=?)))")
_NAMED = html5
_LEGACY = frozenset(name for name in html5 if not name.endswith(";"))


def _c1(n: int) -> str:
    """§13.2.5.80: a numeric reference to 0x80-0x9F means its windows-1252 character, if any."""
    try:
        return bytes([n]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D stay as they are
        return chr(n)


_C1 = {n: _c1(n) for n in range(0x80, 0xA0)}


def _numeric(digits: str, base: int) -> str:
    """§13.2.5.80 numeric character reference end state."""
    digits = digits.lstrip("0")
    if not digits or len(digits) > 8:  # 0, or certainly above U+10FFFF
        return "\ufffd"
    n = int(digits, base)
    if n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
        return "\ufffd"
    if 0x80 <= n <= 0x9F:
        return _C1[n]
    return chr(n)  # noncharacters and other controls are kept (parse errors only)


def _ref(m: re.Match[str]) -> str:
    hexa, dec, name, semi, eq = m.groups()
    if hexa is not None:
        return _numeric(hexa, 16)
    if dec is not None:
        return _numeric(dec, 10)
    if semi:
        # §13.2.5.73: the longest table name that prefixes the text.  A name ending in ";"
        # must hold the whole alphanumeric run; a legacy name without ";" shorter than the
        # run is followed by an alphanumeric, which in an attribute is not decoded.
        value = _NAMED.get(name + ";")
        return m.group() if value is None else value
    if name in _LEGACY and not eq:  # the attribute rule: not before "=" or an alphanumeric
        return _NAMED[name]
    return m.group()


def _decode_values(values: list[str]) -> list[str]:
    """Character references decoded in each value.

    The values are joined by NUL (gone from the text by then): a reference at the end of a
    value is followed by a character that is neither alphanumeric nor "=", as by the quote
    or the whitespace that ended it.
    """
    joined = "\x00".join(values)
    if "&" not in joined:
        return values
    return _REF_RE.sub(_ref, joined).split("\x00")


def _lower(name: str) -> str:
    """ASCII lowercase (§13.2.5.8, §13.2.5.33): libxml2 leaves other letters as they are."""
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


def _normalised(text: str) -> str:
    if "\r" in text:  # §13.2.3.5: CRLF and CR become LF before tokenization
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # NUL in a tag name, attribute name or value is U+FFFD (§13.2.5.8, .33, .36-.38).
    return text.replace("\x00", "\ufffd")


def _text(tag: bytes) -> str | None:
    if len(tag) > MAX_TAG_BYTES:
        return None
    text = tag.decode("utf-8", "replace")
    return _normalised(text) if "\r" in text or "\x00" in text else text


# The shapes of tags already read: skeleton (the tag with each double-quoted value, quotes
# included, replaced by \x01) -> tag name and attribute names.  A page's tags, and a site's
# pages, repeat a few shapes.  Bounded: cleared when full; a refused skeleton is not kept (it
# may hold unquoted values, which rarely repeat).
_SHAPES: dict[str, tuple[str, tuple[str, ...]]] = {}
_MAX_SHAPES = 4096


def _shape(skeleton: str) -> tuple[str, tuple[str, ...]] | None:
    """Tag name and attribute names of a skeleton the fast reading takes, else None."""
    shape = _SHAPES.get(skeleton)
    if shape is not None:
        return shape
    head, sep, tail = skeleton[1:-1].rpartition("\x01")
    if not sep:  # no quoted value: only a bare "<name>" is read here
        bare = _BARE_RE.fullmatch(skeleton)
        if bare is None:
            return None
        name, names = bare.group(1).lower(), []
    elif (
        skeleton[:1] != "<"
        or skeleton[-1:] != ">"
        or tail.strip(_TAIL)
        or _SKELETON_RE.fullmatch(head) is None
    ):
        return None
    else:
        name, *names = head.lower().replace("=", " ").replace("/", " ").replace("\x01", " ").split()
    if len(_SHAPES) >= _MAX_SHAPES:
        _SHAPES.clear()
    shape = _SHAPES[skeleton] = (name, tuple(names))
    return shape


def _fast(text: str) -> tuple[str, Sequence[str], list[str]] | None:
    """Tag name, lowercased attribute names and raw values, if every value is quoted alike."""
    parts = text.split('"' if '"' in text else "'")
    if not len(parts) & 1:
        return None
    shape = _shape("\x01".join(parts[0::2]))
    if shape is None:
        return None
    values = parts[1::2]
    if len(shape[1]) != len(values):  # a \x01 of the text's own
        return None
    return shape[0], shape[1], values


def _general(text: str) -> tuple[str, Sequence[str], list[str]] | None:
    m = _TAG_RE.fullmatch(text)
    if m is None:
        return None
    names: list[str] = []
    values: list[str] = []
    for raw, dq, sq, uq in _ATTR_RE.findall(text, m.end(1)):
        names.append(_lower(raw))
        values.append(dq or sq or uq)
    return _lower(m.group(1)), names, values


def start_tag_raw(tag: bytes) -> tuple[str, Sequence[str], list[str]] | None:
    """Tag name, attribute names and values in order (repeated names kept, character
    references not yet decoded: see :func:`attr_value`), or ``None``.  The names may be
    shared with other calls' results: do not change them."""
    if len(tag) > MAX_TAG_BYTES:
        return None
    text = tag.decode("utf-8", "replace")
    if "\r" in text or "\x00" in text:
        text = _normalised(text)
    return _fast(text) or _general(text)


def start_tags_raw(tags: Sequence[bytes]) -> list[tuple[str, Sequence[str], list[str]] | None]:
    """:func:`start_tag_raw` of each tag, the common shape read for all of them at once.

    The tags are joined by \x02 and split at ``"`` together: when each tag holds an even
    number of quotes, every \x02 falls outside the values, and the joined skeleton splits
    back into one skeleton a tag.  Otherwise, or when a tag holds \x01 or \x02 itself, each
    tag is read on its own.
    """
    n = len(tags)
    joined = b"\x02".join(tags)
    if n < 2 or len(joined) > MAX_TAG_BYTES or joined.count(b"\x02") != n - 1 or b"\x01" in joined:
        return [start_tag_raw(tag) for tag in tags]
    text = joined.decode("utf-8", "replace")  # a tag starts at "<" and ends at ">": same bytes
    if "\r" in text or "\x00" in text:
        text = _normalised(text)  # neither CRLF nor NUL spans a tag's end
    parts = text.split('"')
    skeletons = "\x01".join(parts[0::2]).split("\x02")
    if not len(parts) & 1 or len(skeletons) != n:
        return [start_tag_raw(tag) for tag in tags]
    values = parts[1::2]
    out: list[tuple[str, Sequence[str], list[str]] | None] = []
    pos = 0
    for tag, skeleton in zip(tags, skeletons, strict=True):
        shape = _shape(skeleton)
        if shape is None:
            out.append(start_tag_raw(tag))
            pos += skeleton.count("\x01")
        else:
            end = pos + len(shape[1])
            out.append((shape[0], shape[1], values[pos:end]))
            pos = end
    return out


def decode_value(value: str) -> str:
    """An attribute value from :func:`start_tag_raw` with its character references decoded."""
    return _REF_RE.sub(_ref, value) if "&" in value else value


def attr_value(names: Sequence[str], values: Sequence[str], key: str) -> str | None:
    """The decoded value of attribute ``key`` (the first of a repeated name), or ``None``."""
    if key not in names:
        return None
    value = values[names.index(key)]
    return _REF_RE.sub(_ref, value) if "&" in value else value


def parse_start_tag(tag: bytes) -> tuple[str, list[tuple[str, str]]] | None:
    """The tag name and attributes of one start tag (``<`` through ``>``), or ``None`` if unsure.

    ``None`` when the bytes are not exactly one start tag (no ``<`` + ASCII letter
    at the start, or a ``>`` that ends the tag before the last byte), or when the
    tag is longer than libxml2 takes whole.  An attribute without ``=`` has the
    value ``""``; a repeated attribute is dropped (§13.2.5.33, as libxml2 does).
    """
    parsed = start_tag_raw(tag)
    if parsed is None:
        return None
    name, names, values = parsed
    values = _decode_values(values)
    if len(set(names)) == len(names):
        return name, list(zip(names, values, strict=True))
    attrs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, value in zip(names, values, strict=True):
        if key not in seen:
            seen.add(key)
            attrs.append((key, value))
    return name, attrs
