"""IPTC Photo Metadata "Data Mining" (plus:DataMining in XMP) and C2PA presence, read from image files.

Images are built with Pillow at test time (JPEG, PNG, WebP, TIFF) or by hand
where Pillow writes no XMP (GIF) or no C2PA box.  The signal is judged by the
engine in a real crawl, a WARC audit and ``explain --image``.
"""

from __future__ import annotations

import io
import json
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crawlutil import CrawlResult, Route, Site, page, text
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from noai_guard import imagemeta
from noai_guard.cli import main
from noai_guard.decision import C2PA, IPTC_DATA_MINING, Verdict
from noai_guard.engine import Judge, Page
from noai_guard.imagemeta import find_metadata, image_signals, parse_xmp
from noai_guard.policy import Policy

DMI = "http://ns.useplus.org/ldf/vocab/"
URL = "http://photos.example/a.jpg"


def xmp(value: str, *, constraint: str = "", attribute: bool = False, extra: str = "") -> bytes:
    """An XMP packet with one plus:DataMining value, as an element (rdf:resource) or an attribute."""
    other = (
        f'<plus:OtherConstraints><rdf:Alt><rdf:li xml:lang="x-default">{constraint}</rdf:li></rdf:Alt>'
        "</plus:OtherConstraints>"
        if constraint
        else ""
    )
    if attribute:
        desc = f'<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining="{value}">'
        body = other + extra
    else:
        desc = '<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/">'
        body = f'<plus:DataMining rdf:resource="{value}"/>' + other + extra
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"{desc}{body}</rdf:Description></rdf:RDF></x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def _im() -> Image.Image:
    return Image.new("RGB", (16, 12), (200, 30, 30))


def jpeg(packet: bytes | None) -> bytes:
    b = io.BytesIO()
    _im().save(b, "JPEG", **({"xmp": packet} if packet is not None else {}))
    return b.getvalue()


def png(packet: bytes | None, *, zip_: bool = False) -> bytes:
    info = PngImagePlugin.PngInfo()
    if packet is not None:
        info.add_itxt("XML:com.adobe.xmp", packet.decode("utf-8"), zip=zip_)
    b = io.BytesIO()
    _im().save(b, "PNG", pnginfo=info)
    return b.getvalue()


def webp(packet: bytes | None) -> bytes:
    b = io.BytesIO()
    _im().save(b, "WEBP", **({"xmp": packet} if packet is not None else {}))
    return b.getvalue()


def tiff(packet: bytes) -> bytes:
    b = io.BytesIO()
    _im().save(b, "TIFF", tiffinfo={700: packet})
    return b.getvalue()


def gif(packet: bytes) -> bytes:
    """A GIF with the XMP application extension (XMP Part 3: raw packet + 258-byte magic trailer)."""
    b = io.BytesIO()
    _im().save(b, "GIF")
    data = b.getvalue()
    trailer = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    ext = b"\x21\xff\x0bXMP DataXMP" + packet + trailer
    return data[:-1] + ext + data[-1:]  # before the trailer byte 0x3B


BUILDERS: dict[str, Callable[[bytes], bytes]] = {
    "jpeg": jpeg,
    "png": png,
    "png-compressed": lambda p: png(p, zip_=True),
    "webp": webp,
    "tiff": tiff,
    "gif": gif,
}


def signals(data: bytes, purpose: str = "ai-train", **kw: Any) -> list[Any]:
    return image_signals(data, URL, Policy(purpose=purpose), **kw)


# -- the value's meaning, per purpose --------------------------------------------------------

R, A, N, U = Verdict.RESERVE, Verdict.ALLOW, None, Verdict.UNKNOWN
CASES = [
    # value, (ai-train, ai-input, search)
    ("DMI-PROHIBITED", (R, R, R)),
    ("DMI-PROHIBITED-AIMLTRAINING", (R, N, N)),
    ("DMI-PROHIBITED-GENAIMLTRAINING", (R, N, N)),
    ("DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", (R, R, A)),
    ("DMI-PROHIBITED-SEECONSTRAINT", (R, R, R)),
    ("DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR", (R, R, R)),
    ("DMI-PROHIBITED-SEELINKEDRIGHTSEXPR", (R, R, R)),
    ("DMI-ALLOWED", (A, A, A)),
    ("DMI-UNSPECIFIED", (N, N, N)),
    ("DMI-MAYBE", (U, U, U)),  # not in the vocabulary
]


@pytest.mark.parametrize(("code", "expected"), CASES)
@pytest.mark.parametrize("fmt", sorted(BUILDERS))
def test_each_value_in_each_format(fmt: str, code: str, expected: tuple[Verdict | None, ...]) -> None:
    data = BUILDERS[fmt](xmp(DMI + code))
    assert find_metadata(data).format == fmt.split("-")[0]
    for purpose, want in zip(("ai-train", "ai-input", "search"), expected, strict=True):
        (s,) = signals(data, purpose)
        assert s.name == IPTC_DATA_MINING
        assert (s.verdict, s.purpose) == (want, purpose)
        assert s.evidence == f"plus:DataMining = {DMI}{code}"
        assert s.source == URL and s.location == "image" and s.scope


def test_attribute_form_and_constraint_evidence() -> None:
    data = jpeg(xmp(DMI + "DMI-PROHIBITED-SEECONSTRAINT", constraint="Licence needed: ai@photos.example", attribute=True))
    (s,) = signals(data)
    assert s.verdict is Verdict.RESERVE
    assert s.evidence == (
        f"plus:DataMining = {DMI}DMI-PROHIBITED-SEECONSTRAINT; constraint: Licence needed: ai@photos.example"
    )
    assert s.scope == "JPEG APP1"


def test_linked_rights_expression_is_the_evidence() -> None:
    extra = (
        '<Iptc4xmpExt:LinkedEncRightsExpr xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        '<rdf:Bag><rdf:li rdf:parseType="Resource">'
        "<Iptc4xmpExt:LinkedRightsExpr>https://photos.example/rights.odrl</Iptc4xmpExt:LinkedRightsExpr>"
        "</rdf:li></rdf:Bag></Iptc4xmpExt:LinkedEncRightsExpr>"
    )
    (s,) = signals(png(xmp(DMI + "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR", extra=extra)))
    assert s.verdict is Verdict.RESERVE
    assert s.evidence.endswith("; constraint: https://photos.example/rights.odrl")


def test_no_metadata_no_signal() -> None:
    for data in (jpeg(None), png(None), webp(None)):
        assert signals(data) == []
    # XMP without the PLUS namespace: not a Data Mining signal.
    assert signals(jpeg(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')) == []
    assert signals(b"<html>not an image</html>") == []


# -- hostile and broken input ------------------------------------------------------------------


def _unknown(sigs: list[Any]) -> str:
    (s,) = sigs
    assert (s.name, s.verdict) == (IPTC_DATA_MINING, Verdict.UNKNOWN), s
    return str(s.evidence)


def test_xml_bomb_is_unknown_and_fast() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "useplus useplus useplus useplus">'
        + b"".join(b'<!ENTITY %c "%s">' % (ord("b") + i, (b"&%c;" % (ord("a") + i)) * 10) for i in range(9))
        + b']><x xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining="&j;"/>'
    )
    t = time.perf_counter()
    assert "DTD" in _unknown(signals(png(bomb)))
    assert time.perf_counter() - t < 1.0
    # Straight to the parser, without the DTD check, the hardened parser still expands nothing.
    read = parse_xmp(b'<x xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining="&lol;"/>')
    assert read.problem is not None and read.values == ()


def test_huge_xmp_is_unknown() -> None:
    big = xmp(DMI + "DMI-PROHIBITED", extra="<!-- " + "x" * (2 * 1024 * 1024) + " -->")
    assert "over the" in _unknown(signals(png(big)))
    assert "over the" in _unknown(signals(webp(big)))


def test_zip_bomb_itxt_is_bounded() -> None:
    packet = xmp(DMI + "DMI-PROHIBITED", extra="<!-- " + " " * (50 * 1024 * 1024) + " -->")
    data = png(packet, zip_=True)
    assert len(data) < 200_000
    t = time.perf_counter()
    assert "over the" in _unknown(signals(data))  # inflated to the bound only
    assert time.perf_counter() - t < 2.0


def test_malformed_and_deep_xmp_is_unknown() -> None:
    bad = xmp(DMI + "DMI-PROHIBITED").replace(b"</rdf:RDF>", b"")
    assert "malformed XMP" in _unknown(signals(jpeg(bad)))
    deep = xmp(DMI + "DMI-PROHIBITED", extra="<a>" * 100 + "</a>" * 100)
    assert "nested over" in _unknown(signals(jpeg(deep)))


def test_corrupt_and_cut_images() -> None:
    good = jpeg(xmp(DMI + "DMI-PROHIBITED"))
    at = good.index(b"http://ns.adobe.com/xap/1.0/")
    cut = good[: at + 40]
    # The XMP segment runs past the end: a whole file is corrupt, a prefix is beyond the budget.
    assert "corrupt JPEG" in _unknown(signals(cut, whole=True))
    assert "beyond the" in _unknown(signals(cut, whole=False))
    # A corrupt segment length.
    broken = bytearray(good)
    broken[4:6] = b"\x00\x01"
    assert "corrupt JPEG" in _unknown(signals(bytes(broken)))
    # WebP puts XMP after the pixels: a prefix without it is unknown, not "no preference".
    w = webp(xmp(DMI + "DMI-PROHIBITED"))
    assert "beyond the" in _unknown(signals(w[:40], whole=False))
    # A corrupt whole file with no trace of the PLUS namespace carries no value: no signal.
    assert signals(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(sorted(BUILDERS)), st.integers(0, 2000))
def test_random_damage_never_raises(noise: bytes, fmt: str, at: int) -> None:
    data = BUILDERS[fmt](xmp(DMI + "DMI-PROHIBITED"))
    at = min(at, len(data))
    damaged = data[:at] + noise + data[at + len(noise) :]
    for whole in (True, False):
        for s in signals(damaged, whole=whole):
            # Never a silent allow: damage gives a reservation (value intact) or unknown.
            assert s.verdict in (Verdict.RESERVE, Verdict.UNKNOWN)


# -- C2PA present, not checked --------------------------------------------------------------------


def _jumbf() -> bytes:
    # ISO 19566-5 JUMBF superbox: jumd (C2PA manifest store UUID, label "c2pa").
    label = b"c2pa\x00"
    jumd = b"jumd" + bytes.fromhex("6332706100110010800000aa00389b71") + b"\x03" + label
    jumd = struct.pack(">I", len(jumd) + 4) + jumd
    return struct.pack(">I", len(jumd) + 8) + b"jumb" + jumd


def jpeg_c2pa(base: bytes) -> bytes:
    payload = b"JP" + b"\x00\x01" + b"\x00\x00\x00\x01" + _jumbf()
    seg = b"\xff\xeb" + struct.pack(">H", len(payload) + 2) + payload
    return base[:2] + seg + base[2:]


def png_c2pa(base: bytes) -> bytes:
    data = _jumbf()
    chunk = struct.pack(">I", len(data)) + b"caBX" + data + struct.pack(">I", zlib.crc32(b"caBX" + data))
    at = base.index(b"IDAT") - 4
    return base[:at] + chunk + base[at:]


def test_c2pa_present_not_checked() -> None:
    for data, where in ((jpeg_c2pa(jpeg(None)), "JPEG APP11"), (png_c2pa(png(None)), "PNG caBX")):
        (s,) = signals(data)
        assert (s.name, s.verdict, s.scope) == (C2PA, Verdict.UNKNOWN, where)
        assert s.evidence == f"C2PA manifest present ({where}), not checked"
    both = signals(jpeg_c2pa(jpeg(xmp(DMI + "DMI-PROHIBITED"))))
    assert [(s.name, s.verdict) for s in both] == [(IPTC_DATA_MINING, R), (C2PA, U)]


# -- the engine: a fetched image ----------------------------------------------------------------


def test_engine_judges_a_fetched_image() -> None:
    judge = Judge(Policy())
    data = jpeg(xmp(DMI + "DMI-PROHIBITED-AIMLTRAINING"))
    j = judge.after_fetch(Page(URL, headers=(("Content-Type", "image/jpeg"),), body=data), None)
    assert j.decision.blocked and j.decision.signal == IPTC_DATA_MINING
    assert j.decision.decided_by is not None and "DMI-PROHIBITED-AIMLTRAINING" in j.decision.decided_by.evidence
    # gzip-coded body: decoded first; untyped body: the magic bytes decide.
    gz = Page(URL, headers=(("Content-Type", "image/jpeg"),), body=_gzip(data), content_encoding="gzip")
    assert judge.after_fetch(gz, None).decision.signal == IPTC_DATA_MINING
    assert judge.after_fetch(Page("http://photos.example/x", body=data), None).decision.blocked
    # Not for an error page, nor when the policy leaves the signal out.
    assert not judge.after_fetch(Page(URL, status=404, content_type="image/jpeg", body=data), None).decision.blocked
    off = Judge(Policy(sources=frozenset({"robots-txt"})))
    assert off.after_fetch(Page(URL, content_type="image/jpeg", body=data), None).page == []


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data)


# -- explain --image -----------------------------------------------------------------------------


def test_explain_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "a.webp"
    f.write_bytes(webp(xmp(DMI + "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING")))
    rc = main(["explain", "https://photos.example/a.webp", "--image", str(f)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "decided by iptc-data-mining" in out and "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING" in out
    rc = main(["explain", "https://photos.example/a.webp", "--image", str(f), "--purpose", "search", "--json"])
    got = json.loads(capsys.readouterr().out)
    assert rc == 0 and got["verdict"] == "allow"
    rc = main(["explain", "https://photos.example/a.webp", "--image", str(f), "--html", str(f)])
    assert rc == 2
    capsys.readouterr()


# -- a real crawl and a WARC audit -----------------------------------------------------------------


def test_crawl_drops_an_image_its_metadata_reserves(
    crawl: Callable[..., CrawlResult], make_site: Callable[..., Site]
) -> None:
    site = make_site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
            "/gallery": page(body='<img src="/reserved.jpg"><img src="/open.png"><img src="/bad.png">'),
            "/reserved.jpg": Route(body=jpeg(xmp(DMI + "DMI-PROHIBITED")), content_type="image/jpeg"),
            "/open.png": Route(body=png(xmp(DMI + "DMI-ALLOWED")), content_type="image/png"),
            "/bad.png": Route(
                body=png(xmp(DMI + "DMI-PROHIBITED").replace(b"</rdf:RDF>", b"")), content_type="image/png"
            ),
        }
    )
    r = crawl([site.url("/reserved.jpg"), site.url("/open.png"), site.url("/bad.png")])
    rec = r.decision_for(site.url("/reserved.jpg"))
    assert (rec["action"], rec["phase"], rec["signal"]) == ("dropped", "post-fetch", IPTC_DATA_MINING)
    assert rec["evidence"] == f"plus:DataMining = {DMI}DMI-PROHIBITED"
    assert site.url("/reserved.jpg") not in r.callbacks
    assert site.url("/open.png") in r.callbacks
    # Malformed XMP: unknown, recorded, resolved to allow by the default policy.
    bad = r.decision_for(site.url("/bad.png"))
    assert (bad["verdict"], bad["signal"]) == ("unknown", IPTC_DATA_MINING)
    assert site.url("/bad.png") in r.callbacks


def test_warc_audit_flags_an_image_its_metadata_reserves(tmp_path: Path) -> None:
    from test_audit_media import ROBOTS_REC, SHOP, audit, by_url, record, write

    warc = write(
        tmp_path / "a.warc.gz",
        ROBOTS_REC,
        record(f"{SHOP}/p/a.jpg", jpeg(xmp(DMI + "DMI-PROHIBITED-GENAIMLTRAINING")), "image/jpeg", minute=2),
        # XMP after 300 KB of pixels (past the head budget the page read stops at).
        record(f"{SHOP}/p/b.webp", _big_webp(xmp(DMI + "DMI-PROHIBITED")), "image/webp", minute=3),
        record(f"{SHOP}/p/c.png", png(xmp(DMI + "DMI-ALLOWED")), "image/png", minute=4),
    )
    got = audit(tmp_path, warc)
    recs = by_url(got["decisions"])
    a = recs[f"{SHOP}/p/a.jpg"]
    assert (a["action"], a["signal"], a["verdict"]) == ("flagged", IPTC_DATA_MINING, "reserve")
    assert a["evidence"] == f"plus:DataMining = {DMI}DMI-PROHIBITED-GENAIMLTRAINING"
    assert recs[f"{SHOP}/p/b.webp"]["signal"] == IPTC_DATA_MINING
    assert f"{SHOP}/p/c.png" not in recs
    assert f"{SHOP}/p/a.jpg" in got["removals"] and f"{SHOP}/p/b.webp" in got["removals"]
    assert got["summary"]["totals"]["reserved"] == 2


def _big_webp(packet: bytes) -> bytes:
    """A WebP whose XMP chunk follows ~300 KB of other chunks (WebP extended format order)."""
    w = webp(packet)
    at = w.index(b"XMP ")
    pad = b"ZZZZ" + struct.pack("<I", 300_000) + b"\x00" * 300_000
    out = w[:at] + pad + w[at:]
    return out[:4] + struct.pack("<I", len(out) - 8) + out[8:]


def test_budget_constant_is_sane() -> None:
    assert imagemeta.IMAGE_META_BUDGET >= 8 * 1024 * 1024
