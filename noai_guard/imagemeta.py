"""Internal: rights metadata embedded in an image file: IPTC "Data Mining" (XMP) and a C2PA manifest's presence.

Photographers put their reservation inside the file, where no header or
robots.txt carries it.  This module reads it from the bytes of an image:

- :func:`find_metadata` walks the container (JPEG segments, PNG chunks, WebP
  RIFF chunks, GIF extensions, TIFF's first IFD) within the bytes it is given
  and returns the XMP packet and where a C2PA manifest (JUMBF) was seen;
- :func:`parse_xmp` reads the packet with a hardened XML parser (no DTD, no
  entities, no network, bounded size and depth) and returns the IPTC Photo
  Metadata "Data Mining" values (``plus:DataMining``, IPTC Photo Metadata
  Standard 2023.1, PLUS namespace ``http://ns.useplus.org/ldf/xmp/1.0/``)
  with the constraint text they point to;
- :func:`image_signals` turns them into :class:`~noai_guard.decision.Signal`
  values for one purpose.

Pure code: no I/O.  Bad input (a corrupt container, malformed or hostile
XML, an unknown value) gives an ``unknown`` signal with the reason, never an
exception and never an allow.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from . import decision as d
from .decision import Signal, Verdict
from .xmlparse import hardened_parser

if TYPE_CHECKING:
    from .policy import Policy

__all__ = [
    "IMAGE_META_BUDGET",
    "C2paSeen",
    "DataMining",
    "ImageMeta",
    "XmpRead",
    "find_metadata",
    "image_format",
    "image_signals",
    "parse_xmp",
]

#: Bytes of an image body read to find its metadata (WebP and PNG may put XMP after the pixels).
IMAGE_META_BUDGET = 16 * 1024 * 1024
#: The largest XMP packet read (JPEG's is under 64 KB; PNG and WebP have no limit of their own).
XMP_MAX = 1024 * 1024
#: Element nesting read in an XMP packet (real packets nest under 10 deep).
XMP_MAX_DEPTH = 64
#: Elements read in an XMP packet.
XMP_MAX_ELEMENTS = 100_000
#: Characters of constraint text kept as evidence.
EVIDENCE_MAX = 500

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DMI_PREFIX = "http://ns.useplus.org/ldf/vocab/"

_JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_XMP_EXT = b"http://ns.adobe.com/xmp/extension/\x00"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_XMP_KEY = b"XML:com.adobe.xmp"
_GIF_XMP = b"\x21\xff\x0bXMP DataXMP"

_DTD = re.compile(rb"<!(?i:doctype|entity)")

_R, _A = Verdict.RESERVE, Verdict.ALLOW
# IPTC Photo Metadata Standard 2023.1, "Data Mining" controlled vocabulary (PLUS DMI-*):
# code -> {purpose: verdict}; a purpose not named gets no verdict (the value speaks to others).
DMI_VALUES: dict[str, dict[str, Verdict]] = {
    "DMI-UNSPECIFIED": {},  # "Unspecified - no prohibition defined": no preference
    "DMI-ALLOWED": {d.AI_TRAIN: _A, d.AI_INPUT: _A, d.SEARCH: _A},
    "DMI-PROHIBITED-AIMLTRAINING": {d.AI_TRAIN: _R},
    "DMI-PROHIBITED-GENAIMLTRAINING": {d.AI_TRAIN: _R},  # generative training is training
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": {d.AI_TRAIN: _R, d.AI_INPUT: _R, d.SEARCH: _A},
    "DMI-PROHIBITED": {d.AI_TRAIN: _R, d.AI_INPUT: _R, d.SEARCH: _R},
    "DMI-PROHIBITED-SEECONSTRAINT": {d.AI_TRAIN: _R, d.AI_INPUT: _R, d.SEARCH: _R},
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": {d.AI_TRAIN: _R, d.AI_INPUT: _R, d.SEARCH: _R},
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": {d.AI_TRAIN: _R, d.AI_INPUT: _R, d.SEARCH: _R},
}


# --- the container ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class C2paSeen:
    """A C2PA manifest store seen in the file (JUMBF box labelled ``c2pa``), not read."""

    where: str  # "JPEG APP11", "PNG caBX", "WebP C2PA"


@dataclass(frozen=True, slots=True)
class ImageMeta:
    """What :func:`find_metadata` found in an image's bytes."""

    format: str | None  # jpeg, png, webp, gif, tiff; None: not a format read here
    xmp: bytes | None = None  # the XMP packet
    where: str = ""  # where the packet was: "JPEG APP1", "PNG iTXt", ...
    c2pa: C2paSeen | None = None
    problem: str | None = None  # why the file could not be read to its metadata's end


def image_format(data: bytes) -> str | None:
    """The image format by its magic bytes (the formats :func:`find_metadata` reads)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(_PNG_SIG):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    return None


def find_metadata(data: bytes, *, whole: bool = True) -> ImageMeta:
    """The XMP packet and C2PA presence of the image ``data`` starts (``whole``: it is the entire file).

    A structure that runs past ``data`` is "beyond the byte budget" when the
    file goes on, "corrupt" when ``data`` is all of it.
    """
    fmt = image_format(data)
    if fmt is None:
        return ImageMeta(None)
    reader = _READERS[fmt]
    try:
        return reader(data, whole)
    except (struct.error, IndexError, ValueError, zlib.error) as exc:  # a walk past a corrupt length
        return ImageMeta(fmt, problem=f"corrupt {fmt.upper()}: {exc}")


def _short(fmt: str, what: str, whole: bool, budget: int) -> str:
    if whole:
        return f"corrupt {fmt}: {what} runs past the end of the file"
    return f"{what} lies beyond the {budget}-byte budget read of the file"


def _jpeg(data: bytes, whole: bool) -> ImageMeta:
    # ITU T.81 B.1.1: marker segments up to SOS; XMP in APP1 (XMP Specification Part 3 §1.1.3),
    # C2PA in APP11 JUMBF (C2PA 2.1 §A.3.1); both come before the scan.
    pos, n = 2, len(data)
    xmp: bytes | None = None
    c2pa: C2paSeen | None = None
    while True:
        if pos + 4 > n:
            return ImageMeta("jpeg", xmp, "JPEG APP1", c2pa, _short("JPEG", "a marker segment", whole, n))
        if data[pos] != 0xFF:
            return ImageMeta("jpeg", xmp, "JPEG APP1", c2pa, f"corrupt JPEG: no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD9, 0xDA):  # EOI, SOS: no metadata segment follows
            return ImageMeta("jpeg", xmp, "JPEG APP1", c2pa)
        if 0xD0 <= marker <= 0xD7 or marker in (0x01, 0xD8):  # no length
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            return ImageMeta("jpeg", xmp, "JPEG APP1", c2pa, f"corrupt JPEG: segment length {length}")
        end = pos + 2 + length
        if end > n:
            what = "the XMP segment" if data[pos + 4 : pos + 4 + len(_JPEG_XMP)] == _JPEG_XMP else "a segment"
            return ImageMeta("jpeg", xmp, "JPEG APP1", c2pa, _short("JPEG", what, whole, n))
        seg = data[pos + 4 : end]
        if marker == 0xE1 and xmp is None and seg.startswith(_JPEG_XMP):
            xmp = seg[len(_JPEG_XMP) :]
        elif marker == 0xEB and c2pa is None and seg.startswith(b"JP") and b"jumb" in seg and b"c2pa" in seg:
            c2pa = C2paSeen("JPEG APP11")
        pos = end


def _png(data: bytes, whole: bool) -> ImageMeta:
    # PNG 3rd ed. §5.3 chunks; XMP in iTXt keyword "XML:com.adobe.xmp" (XMP Part 3 §1.1.5),
    # C2PA in a caBX chunk (C2PA 2.1 §A.3.2).  Either may follow the image data.
    pos, n = 8, len(data)
    xmp: bytes | None = None
    c2pa: C2paSeen | None = None
    while True:
        if pos + 8 > n:
            return ImageMeta("png", xmp, "PNG iTXt", c2pa, _short("PNG", "a chunk", whole, n))
        (length,) = struct.unpack_from(">I", data, pos)
        ctype = data[pos + 4 : pos + 8]
        if length > 0x7FFFFFFF:
            return ImageMeta("png", xmp, "PNG iTXt", c2pa, f"corrupt PNG: chunk length {length}")
        start, end = pos + 8, pos + 8 + length
        if ctype == b"IEND":
            return ImageMeta("png", xmp, "PNG iTXt", c2pa)
        if ctype == b"caBX" and c2pa is None:
            c2pa = C2paSeen("PNG caBX")
        if ctype == b"iTXt" and xmp is None:
            if end > n:
                what = "the XMP iTXt chunk" if data[start : start + 17] == _PNG_XMP_KEY else "an iTXt chunk"
                return ImageMeta("png", xmp, "PNG iTXt", c2pa, _short("PNG", what, whole, n))
            body = data[start:end]
            if body.startswith(_PNG_XMP_KEY + b"\x00"):
                xmp = _itxt_text(body[len(_PNG_XMP_KEY) + 1 :])
        pos = end + 4  # the CRC


def _itxt_text(rest: bytes) -> bytes:
    """The text of an iTXt chunk after its keyword (PNG §11.3.3.4): inflated when compressed, bounded."""
    flag, method = rest[0], rest[1]
    lang_end = rest.index(b"\x00", 2)
    trans_end = rest.index(b"\x00", lang_end + 1)
    text = rest[trans_end + 1 :]
    if flag == 0:
        return text
    if method != 0:
        raise ValueError(f"iTXt compression method {method}")
    z = zlib.decompressobj()
    out = z.decompress(text, XMP_MAX + 1)  # bounded: a zip bomb stops here
    return out


def _webp(data: bytes, whole: bool) -> ImageMeta:
    # WebP container (RFC 9649 §2.7): RIFF chunks; the extended format's "XMP " chunk comes
    # after the image data; C2PA in a "C2PA" chunk (C2PA 2.1 §A.3.5).
    (riff_size,) = struct.unpack_from("<I", data, 4)
    stop = min(8 + riff_size, 0xFFFFFFFF)
    pos, n = 12, len(data)
    xmp: bytes | None = None
    c2pa: C2paSeen | None = None
    while pos + 8 <= stop:
        if pos + 8 > n:
            return ImageMeta("webp", xmp, "WebP XMP chunk", c2pa, _short("WebP", "a chunk", whole, n))
        fourcc = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        start, end = pos + 8, pos + 8 + size
        if fourcc == b"XMP " and xmp is None:
            if end > n:
                return ImageMeta("webp", xmp, "WebP XMP chunk", c2pa, _short("WebP", "the XMP chunk", whole, n))
            xmp = data[start:end]
        elif fourcc == b"C2PA" and c2pa is None:
            c2pa = C2paSeen("WebP C2PA")
        pos = end + (size & 1)
    return ImageMeta("webp", xmp, "WebP XMP chunk", c2pa)


def _gif(data: bytes, whole: bool) -> ImageMeta:
    # XMP Part 3 §1.1.2: an application extension "XMP DataXMP" whose data is the packet
    # itself, followed by a 258-byte "magic trailer"; the packet ends at its xpacket end PI.
    at = data.find(_GIF_XMP)
    if at < 0:
        if whole:
            return ImageMeta("gif")
        return ImageMeta("gif", problem=_short("GIF", "an XMP extension", whole, len(data)))
    start = at + len(_GIF_XMP)
    end = data.find(b"<?xpacket end", start)
    if end >= 0:
        close = data.find(b"?>", end)
        if close >= 0:
            return ImageMeta("gif", data[start : close + 2], "GIF XMP extension")
    end = data.find(b"</x:xmpmeta>", start)
    if end >= 0:
        return ImageMeta("gif", data[start : end + len(b"</x:xmpmeta>")], "GIF XMP extension")
    return ImageMeta("gif", problem=_short("GIF", "the XMP extension", whole, len(data)))


def _tiff(data: bytes, whole: bool) -> ImageMeta:
    # TIFF 6.0 §2: IFD0's entries; XMP in tag 700 (XMLPacket), XMP Part 3 §1.1.6.
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    n = len(data)
    if ifd + 2 > n:
        return ImageMeta("tiff", problem=_short("TIFF", "the first IFD", whole, n))
    (count,) = struct.unpack_from(order + "H", data, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > n:
            return ImageMeta("tiff", problem=_short("TIFF", "the first IFD", whole, n))
        tag, typ, num = struct.unpack_from(order + "HHI", data, entry)
        if tag == 700 and typ in (1, 7):  # BYTE or UNDEFINED
            if num <= 4:
                return ImageMeta("tiff", data[entry + 8 : entry + 8 + num], "TIFF tag 700")
            (off,) = struct.unpack_from(order + "I", data, entry + 8)
            if off + num > n:
                return ImageMeta("tiff", problem=_short("TIFF", "the XMP packet (tag 700)", whole, n))
            return ImageMeta("tiff", data[off : off + num], "TIFF tag 700")
    return ImageMeta("tiff")


_READERS = {"jpeg": _jpeg, "png": _png, "webp": _webp, "gif": _gif, "tiff": _tiff}


# --- the XMP packet ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataMining:
    """One ``plus:DataMining`` value with the text it points to (SEE* values)."""

    value: str  # as written
    code: str | None  # the DMI-* code, None when the value is not in the vocabulary
    constraint: str = ""  # plus:OtherConstraints, or the rights expression it points to


@dataclass(frozen=True, slots=True)
class XmpRead:
    """What :func:`parse_xmp` read: the Data Mining values, or why the packet could not be read."""

    values: tuple[DataMining, ...] = ()
    problem: str | None = None


def parse_xmp(packet: bytes) -> XmpRead:
    """The ``plus:DataMining`` values of an XMP packet; a packet that cannot be read safely is a problem."""
    if len(packet) > XMP_MAX:
        return XmpRead(problem=f"XMP packet of {len(packet)} bytes, over the {XMP_MAX}-byte limit")
    packet = packet.strip(b"\x00 \t\r\n")
    if not packet:
        return XmpRead(problem="empty XMP packet")
    if _DTD.search(packet):
        # XMP Part 1 §7.3: a packet is RDF/XML with no DTD; a DTD is how entity bombs come.
        return XmpRead(problem="XMP packet with a DTD or entity declaration (not read)")
    if b"useplus" not in packet and b"\x00" not in packet:
        # No PLUS namespace in the bytes (an ASCII-compatible encoding): no Data Mining value.
        return XmpRead()
    try:
        root = etree.fromstring(packet, hardened_parser())
    except (etree.LxmlError, ValueError) as exc:
        return XmpRead(problem=f"malformed XMP: {str(exc)[:200]}")
    if root is None:
        return XmpRead(problem="malformed XMP: no root element")
    depth = 0
    elements = 0
    for event, _el in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            depth += 1
            elements += 1
            if depth > XMP_MAX_DEPTH:
                return XmpRead(problem=f"XMP nested over {XMP_MAX_DEPTH} elements deep")
            if elements > XMP_MAX_ELEMENTS:
                return XmpRead(problem=f"XMP of over {XMP_MAX_ELEMENTS} elements")
        else:
            depth -= 1
    raw: list[str] = []
    dm_tag = f"{{{PLUS_NS}}}DataMining"
    oc_tag = f"{{{PLUS_NS}}}OtherConstraints"
    rdf_res = f"{{{RDF_NS}}}resource"
    other: list[str] = []
    embedded: list[str] = []
    linked: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        attr = el.get(dm_tag)
        if attr is not None:  # rdf:Description shorthand: plus:DataMining="..."
            raw.append(attr)
        attr = el.get(oc_tag)
        if attr is not None:
            other.append(attr)
        if el.tag == dm_tag:
            res = el.get(rdf_res)
            raw.append(res if res is not None else _text(el))
        elif el.tag == oc_tag:
            other.append(_text(el))
        elif el.tag == f"{{{IPTC_EXT_NS}}}EncRightsExpr":
            embedded.append(_text(el))
        elif el.tag == f"{{{IPTC_EXT_NS}}}LinkedRightsExpr":
            res = el.get(rdf_res)
            linked.append(res if res is not None else _text(el))
    values = []
    for v in raw:
        code = _dmi_code(v)
        constraint = ""
        if code == "DMI-PROHIBITED-SEECONSTRAINT":
            constraint = " | ".join(t for t in other if t)
        elif code == "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR":
            constraint = " | ".join(t for t in embedded if t)
        elif code == "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR":
            constraint = " | ".join(t for t in linked if t)
        if len(constraint) > EVIDENCE_MAX:
            constraint = constraint[:EVIDENCE_MAX] + "…"
        values.append(DataMining(v.strip(), code, constraint))
    return XmpRead(tuple(values))


def _text(el: etree._Element) -> str:
    """An element's text: its own, or its rdf:Alt / rdf:Seq / rdf:Bag items' joined."""
    own = (el.text or "").strip()
    if own:
        return own
    items = [(li.text or "").strip() for li in el.iter(f"{{{RDF_NS}}}li")]
    return " | ".join(t for t in items if t)


def _dmi_code(value: str) -> str | None:
    v = value.strip()
    for prefix in (DMI_PREFIX, "https://ns.useplus.org/ldf/vocab/"):
        if v.startswith(prefix):
            code = v[len(prefix) :].upper()
            return code if code in DMI_VALUES else None
    return None


# --- the signals -------------------------------------------------------------------------------

_NOTE = "IPTC Photo Metadata Standard 2023.1, Data Mining (plus:DataMining, PLUS DMI vocabulary)"


def image_signals(data: bytes, url: str, policy: Policy, *, whole: bool = True) -> list[Signal]:
    """The signals an image's own metadata gives for ``policy.purpose``.

    ``iptc-data-mining``: one per ``plus:DataMining`` value (``unknown`` for
    a value outside the vocabulary, for XMP that cannot be read, for a file
    whose metadata lies beyond the bytes given).  ``c2pa``: a manifest seen
    and not read is ``unknown`` ("present, not checked").
    """
    meta = find_metadata(data, whole=whole)
    if meta.format is None:
        return []
    out: list[Signal] = []
    purpose = policy.purpose
    where = f"{meta.format.upper()} file" if not meta.where else meta.where
    if meta.xmp is not None:
        read = parse_xmp(meta.xmp)
        if read.problem is not None:
            out.append(_unknown(url, purpose, where, read.problem))
        for v in read.values:
            evidence = f"plus:DataMining = {v.value}"
            if v.code is None:
                out.append(
                    Signal(
                        d.IPTC_DATA_MINING,
                        Verdict.UNKNOWN,
                        purpose,
                        evidence,
                        url,
                        d.LOC_IMAGE,
                        scope=where,
                        note=f"{_NOTE}: value not in the vocabulary",
                    )
                )
                continue
            if v.constraint:
                evidence += f"; constraint: {v.constraint}"
            verdict = DMI_VALUES[v.code].get(purpose)
            if verdict is None:
                note = f"{_NOTE}: {v.code} states no preference for {purpose}"
            else:
                note = f"{_NOTE}: {v.code} {'reserves' if verdict is _R else 'allows'} {purpose}"
            out.append(Signal(d.IPTC_DATA_MINING, verdict, purpose, evidence, url, d.LOC_IMAGE, scope=where, note=note))
    if meta.problem is not None and meta.xmp is None and (not whole or "XMP" in meta.problem or b"useplus" in data):
        # Metadata that may lie past the bytes given, an XMP container cut or broken, or a
        # corrupt file that holds the PLUS namespace: unknown (every problem that concerns
        # the packet names "XMP").  A whole, corrupt file with no trace of XMP carries no value.
        out.append(_unknown(url, purpose, where, meta.problem))
    if meta.c2pa is not None:
        out.append(
            Signal(
                d.C2PA,
                Verdict.UNKNOWN,
                purpose,
                f"C2PA manifest present ({meta.c2pa.where}), not checked",
                url,
                d.LOC_IMAGE,
                scope=meta.c2pa.where,
                note="C2PA 2.1 / CAWG training-and-data-mining assertion: the manifest was not read "
                "(install noai-guard[c2pa] to read it)",
            )
        )
    return out


def _unknown(url: str, purpose: str, where: str, problem: str) -> Signal:
    return Signal(
        d.IPTC_DATA_MINING,
        Verdict.UNKNOWN,
        purpose,
        problem,
        url,
        d.LOC_IMAGE,
        scope=where,
        note=f"{_NOTE}: the image's metadata could not be read",
    )
