"""C2PA / CAWG training-and-data-mining assertion, read with the C2PA library (``noai-guard[c2pa]``).

Manifests are signed at test time with ``c2pa-python``'s Builder and a
certificate chain made with ``cryptography`` (a test CA: the library reports
the signer as untrusted, and the manifest as validated).
"""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crawlutil import CrawlResult, Route, Site, text
from PIL import Image

from noai_guard import c2pameta
from noai_guard.cli import main
from noai_guard.decision import C2PA, Verdict
from noai_guard.engine import Judge, Page
from noai_guard.policy import Policy

c2pa = pytest.importorskip("c2pa")

URL = "http://photos.example/signed.jpg"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def signer() -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "T")])

    def usage(sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(sign, False, False, False, False, not sign, not sign, False, False)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test CA"))
        .issuer_name(name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("test signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pkey = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain, private_key=pkey, ta_url=None))


ENTRIES = {
    "cawg.ai_generative_training": {"use": "notAllowed"},
    "cawg.ai_inference": {"use": "constrained", "constraint_info": "licence: ai@photos.example"},
    "cawg.data_mining": {"use": "allowed"},
}


def sign(signer: Any, media: bytes, mime: str, entries: dict[str, Any] = ENTRIES) -> bytes:
    manifest = {
        "claim_generator_info": [{"name": "noai-guard-test", "version": "1"}],
        "title": "test",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
                        }
                    ]
                },
            },
            {"label": "cawg.training-mining", "data": {"entries": entries}},
        ],
    }
    out = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, mime, io.BytesIO(media), out)
    return out.getvalue()


def jpeg() -> bytes:
    b = io.BytesIO()
    Image.new("RGB", (32, 24), (20, 120, 200)).save(b, "JPEG")
    return b.getvalue()


def wav() -> bytes:
    b = io.BytesIO()
    with wave.open(b, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 800)
    return b.getvalue()


def judge(data: bytes, purpose: str, ctype: str = "image/jpeg", url: str = URL) -> Any:
    return Judge(Policy(purpose=purpose)).after_fetch(Page(url, content_type=ctype, body=data), None)


def test_entries_reserve_and_allow_their_purposes(signer: Any) -> None:
    data = sign(signer, jpeg(), "image/jpeg")
    train = judge(data, "ai-train").decision
    assert (train.verdict, train.signal) == (Verdict.RESERVE, C2PA)
    assert train.decided_by is not None
    assert train.decided_by.evidence == "cawg.training-mining: cawg.ai_generative_training use=notAllowed"
    assert train.decided_by.scope == "JPEG APP11"
    # The validation is recorded: signed, but by a certificate no trust list holds.
    assert "manifest validation: Valid (signingCredential.untrusted)" in train.decided_by.note
    inference = judge(data, "ai-input").decision
    assert inference.verdict is Verdict.RESERVE and inference.decided_by is not None
    assert inference.decided_by.evidence == (
        "cawg.training-mining: cawg.ai_inference use=constrained (licence: ai@photos.example)"
    )
    search = judge(data, "search")
    assert search.decision.verdict is Verdict.ALLOW
    assert [(s.name, s.verdict) for s in search.page] == [(C2PA, Verdict.ALLOW)]


def test_an_altered_file_does_not_allow(signer: Any) -> None:
    data = bytearray(sign(signer, jpeg(), "image/jpeg", {"cawg.data_mining": {"use": "allowed"}}))
    data[-10] ^= 0xFF  # in the scan data, which the manifest's hash covers
    j = judge(bytes(data), "ai-train")
    (s,) = j.page
    assert (s.name, s.verdict) == (C2PA, Verdict.UNKNOWN)
    assert "manifest validation: Invalid" in s.note


def test_audio_manifest(signer: Any) -> None:
    data = sign(signer, wav(), "audio/wav", {"cawg.ai_training": {"use": "notAllowed"}})
    d = judge(data, "ai-train", "audio/wav", "http://music.example/t.wav").decision
    assert (d.verdict, d.signal) == (Verdict.RESERVE, C2PA)
    assert d.decided_by is not None and d.decided_by.evidence.endswith("cawg.ai_training use=notAllowed")
    # Audio without a manifest: no signal.
    assert judge(wav(), "ai-train", "audio/wav", "http://music.example/u.wav").page == []


def test_older_label_and_odd_stores() -> None:
    store = {
        "active_manifest": "m",
        "manifests": {
            "m": {
                "assertions": [
                    {"label": "c2pa.training-mining", "data": {"entries": {"c2pa.ai_training": {"use": "notAllowed"}}}}
                ]
            }
        },
        "validation_state": "Valid",
    }
    read = c2pameta._from_store(store)
    (s,) = c2pameta.c2pa_signals(read, URL, Policy(), "JPEG APP11")
    assert (s.verdict, s.evidence) == (Verdict.RESERVE, "c2pa.training-mining: c2pa.ai_training use=notAllowed")
    for odd in (None, [], {"active_manifest": 3}, {"active_manifest": "m", "manifests": {"m": {"assertions": [1]}}}):
        got = c2pameta._from_store(odd)
        for sig in c2pameta.c2pa_signals(got, URL, Policy(), "x"):
            assert sig.verdict is Verdict.UNKNOWN
    weird = {"active_manifest": "m", "manifests": {"m": {"assertions": [
        {"label": "cawg.training-mining", "data": {"entries": {"cawg.ai_training": {"use": "maybe"}}}}]}}}
    (w,) = c2pameta.c2pa_signals(c2pameta._from_store(weird), URL, Policy(), "x")
    assert w.verdict is Verdict.UNKNOWN


def test_garbage_with_a_c2pa_label_is_unknown_not_a_crash() -> None:
    from test_imagemeta import jpeg_c2pa  # a JUMBF box the library cannot read as a manifest store

    b = io.BytesIO()
    Image.new("RGB", (8, 8)).save(b, "JPEG")
    (s,) = judge(jpeg_c2pa(b.getvalue()), "ai-train").page
    assert (s.name, s.verdict, s.scope) == (C2PA, Verdict.UNKNOWN, "JPEG APP11")
    assert s.evidence.startswith("C2PA manifest not readable")


def test_without_the_library_present_not_checked(signer: Any, tmp_path: Path) -> None:
    f = tmp_path / "signed.jpg"
    f.write_bytes(sign(signer, jpeg(), "image/jpeg"))
    code = (
        "import sys; sys.modules['c2pa'] = None\n"  # as if the extra were not installed
        "from noai_guard.engine import Judge, Page; from noai_guard.policy import Policy\n"
        f"j = Judge(Policy()).after_fetch(Page({URL!r}, content_type='image/jpeg', body=open({str(f)!r}, 'rb').read()), None)\n"
        "print([(s.name, s.verdict.value, s.evidence) for s in j.page])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[('c2pa', 'unknown', 'C2PA manifest present (JPEG APP11), not checked')]"


def test_explain_and_crawl(
    signer: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    crawl: Callable[..., CrawlResult],
    make_site: Callable[..., Site],
) -> None:
    data = sign(signer, jpeg(), "image/jpeg")
    f = tmp_path / "signed.jpg"
    f.write_bytes(data)
    assert main(["explain", URL, "--image", str(f)]) == 1
    assert "cawg.ai_generative_training use=notAllowed" in capsys.readouterr().out
    site = make_site(
        {
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
            "/signed.jpg": Route(body=data, content_type="image/jpeg"),
            "/plain.jpg": Route(body=jpeg(), content_type="image/jpeg"),
        }
    )
    r = crawl([site.url("/signed.jpg"), site.url("/plain.jpg")])
    rec = r.decision_for(site.url("/signed.jpg"))
    assert (rec["action"], rec["signal"]) == ("dropped", C2PA)
    assert site.url("/plain.jpg") in r.callbacks
