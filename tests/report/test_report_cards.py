"""`noai-guard report --format croissant,hf-card`: the dataset-card fragments.

Golden outputs from a multi-run trail set (two crawls under two policies and an
audit), the Croissant fragment embedded into a minimal Croissant dataset and
validated by mlcroissant (offline), hostile trail values escaped as the report
escapes them, and the manifest hash each card carries equal to the SHA-256 of
the manifest.json written beside it.

Regenerate the golden files after an intended change with
``NOAI_GUARD_REGEN_GOLDEN=1 pytest tests/report/test_report_cards.py``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from _report_fixtures import POLICY, audit_records, crawl_records
from test_report_security import PAYLOADS, hostile_trails

from noai_guard import __version__
from noai_guard.auditlog import write_all
from noai_guard.cli import main
from noai_guard.policy import Policy
from noai_guard.report import build_report, embed_croissant, verify_manifest
from noai_guard.report.cards import CROISSANT_FILE, HF_CARD_FILE, RAI_CONFORMS_TO
from noai_guard.report.render_md import md

GOLDEN = Path(__file__).parent / "golden"
POLICY2 = Policy(user_agents=("noai-guard", "ExampleDataBot"))
SDE = "1767225600"  # SOURCE_DATE_EPOCH: 2026-01-01T00:00:00Z


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_trail_set(directory: Path) -> list[str]:
    """Two crawls (the second under another policy) and an audit, as three trails."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "crawl-1.jsonl": crawl_records("crawl-run-1"),
        "crawl-2.jsonl": crawl_records("crawl-run-2", per_origin=2, policy=POLICY2),
        "audit.jsonl": audit_records(),
    }
    files["audit.jsonl"][0]["inputs"] = [{"path": "crawl-00001.warc.gz"}]
    for name, recs in files.items():
        write_all(directory / name, recs)
    return [str(directory / n) for n in files]


@pytest.fixture
def card_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cards of the trail set, made with relative input paths and a fixed report time."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", SDE)
    write_trail_set(Path("trails"))
    assert main(["report", "trails", "--format", "croissant,hf-card", "--out", "cards"]) == 0
    return tmp_path / "cards"


def fragment(out: Path) -> dict[str, Any]:
    frag: dict[str, Any] = json.loads((out / CROISSANT_FILE).read_text("utf-8"))
    return frag


# -- bundle and manifest -------------------------------------------------------------


def test_cards_are_written_after_the_manifest_and_only_when_asked(card_dir: Path, tmp_path: Path) -> None:
    assert {p.name for p in card_dir.iterdir()} == {"manifest.json", CROISSANT_FILE, HF_CARD_FILE}
    m = json.loads((card_dir / "manifest.json").read_text("utf-8"))
    assert m["outputs"] == []  # the cards carry its hash, so it cannot list them
    assert m["parameters"]["formats"] == ["croissant", "hf-card"]
    assert m["policy_hashes"] == [POLICY.hash, POLICY2.hash]
    assert verify_manifest(card_dir) == []
    # The default formats write no card.
    files = build_report(["trails"], tmp_path / "plain")
    assert CROISSANT_FILE not in files and HF_CARD_FILE not in files
    assert not (tmp_path / "plain" / HF_CARD_FILE).exists()


def test_manifest_hash_in_both_cards_is_the_written_manifest(card_dir: Path) -> None:
    digest = sha256(card_dir / "manifest.json")
    card = (card_dir / HF_CARD_FILE).read_text("utf-8")
    assert f"- **Report manifest (manifest.json) SHA-256:** `{digest}`" in card
    frag = fragment(card_dir)
    assert frag["subjectOf"]["sha256"] == digest
    assert f"Report manifest (manifest.json) SHA-256: {digest}." in frag["rai:dataCollection"]
    assert "sha256sum" in frag["subjectOf"]["description"] and "noai-guard verify" in card


def test_manifest_hash_with_every_format(tmp_path: Path) -> None:
    trails = write_trail_set(tmp_path / "trails")
    out = tmp_path / "all"
    files = build_report(trails, out, formats=("html", "md", "json", "csv", "croissant", "hf-card"))
    assert files[-3:] == ["manifest.json", CROISSANT_FILE, HF_CARD_FILE]
    m = json.loads((out / "manifest.json").read_text("utf-8"))
    assert {o["path"] for o in m["outputs"]} == {
        "report.html", "report.md", "report.json", "domains.csv", "samples.csv"
    }  # fmt: skip
    digest = sha256(out / "manifest.json")
    assert fragment(out)["subjectOf"]["sha256"] == digest
    assert f"`{digest}`" in (out / HF_CARD_FILE).read_text("utf-8")
    assert verify_manifest(out) == []


def test_cli_rejects_an_unknown_card_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trails = write_trail_set(tmp_path / "trails")
    with pytest.raises(SystemExit) as exc:
        main(["report", trails[0], "--format", "croissant,datacard", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown format datacard" in err and "croissant,hf-card" in err
    with pytest.raises(ValueError, match="datacard"):
        build_report(trails, tmp_path / "o", formats=("datacard",))


# -- golden outputs ------------------------------------------------------------------


def normalised(text: str, manifest_digest: str) -> str:
    """The card with what changes between installs (versions, hashes of versioned data) as placeholders."""
    text = text.replace(manifest_digest, "<MANIFEST_SHA256>")
    text = text.replace(POLICY.hash, "<POLICY_1_SHA256>").replace(POLICY2.hash, "<POLICY_2_SHA256>")
    return re.sub(rf"noai-guard {re.escape(__version__)}\b", "noai-guard <VERSION>", text)


@pytest.mark.parametrize("name", [HF_CARD_FILE, CROISSANT_FILE])
def test_golden(card_dir: Path, name: str) -> None:
    got = normalised((card_dir / name).read_text("utf-8"), sha256(card_dir / "manifest.json"))
    golden = GOLDEN / name
    if os.environ.get("NOAI_GUARD_REGEN_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(got, "utf-8")
    assert got == golden.read_text("utf-8")


def test_card_figures_match_the_trails(card_dir: Path) -> None:
    """Hand counts of the trail set: 13 origins, 4 + 2 URLs each plus 3 allowed without a record, twice."""
    card = (card_dir / HF_CARD_FILE).read_text("utf-8")
    # crawl-run-1: 13 origins x (4 + 3) = 91 evaluated; crawl-run-2: 13 x (2 + 3) = 65; the audit wrote no
    # summary, so its 11 flagged records count (the 13 origins less the allowing and the bad-tdmrep one).
    # Blocked: 11 blocking origins x 4 + 11 x 2 + 11 = 77.
    assert "- **Outcomes:** 167 URLs evaluated: 77 blocked" in card
    # robots.txt (own token): news + blog + down (unreachable) + big (truncated) = 4 origins skipped.
    assert "| robots-txt | 24 | 0 | 4 | 24 |" in card
    assert "| x-robots-tag | 0 | 6 | 1 | 6 |" in card
    assert "- **Crawler tokens (robots.txt user agents):** noai-guard, ExampleDataBot" in card
    assert "2026-03-01T12:00:00.000Z to 2026-03-02T12:10:00.000Z" in card
    frag = fragment(card_dir)
    assert frag["rai:dataCollectionTimeframe"] == ["2026-03-01T12:00:00.000Z", "2026-03-02T12:10:00.000Z"]
    assert [a["prov:label"] for a in frag["prov:wasGeneratedBy"]] == [
        "crawl crawl-run-1", "crawl crawl-run-2", "audit audit-run-1"
    ]  # fmt: skip
    plans = [
        a["prov:qualifiedAssociation"]["prov:hadPlan"]["identifier"] for a in frag["prov:wasGeneratedBy"]
    ]
    assert plans == [f"sha256:{POLICY.hash}", f"sha256:{POLICY2.hash}", f"sha256:{POLICY.hash}"]
    assert frag["prov:wasGeneratedBy"][2]["prov:used"] == [
        {"@type": "prov:Entity", "prov:label": "crawl-00001.warc.gz"}
    ]
    assert "prov:used" not in frag["prov:wasGeneratedBy"][0]


# -- Croissant validation ---------------------------------------------------------------


def minimal_croissant(version: str) -> dict[str, Any]:
    """A small valid Croissant dataset: one CSV file, one record set with one field."""
    from mlcroissant._src.core.rdf import make_context

    return {
        "@context": make_context(),
        "@type": "sc:Dataset",
        "name": "crawled-pages",
        "description": "Pages of a test crawl.",
        "conformsTo": f"http://mlcommons.org/croissant/{version}",
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "url": "https://data.example.org/crawled-pages",
        "datePublished": "2026-04-01",
        "version": "1.0.0",
        "citeAs": "crawled-pages",
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": "pages.csv",
                "name": "pages.csv",
                "contentUrl": "pages.csv",
                "encodingFormat": "text/csv",
                "sha256": "0" * 64,
            }
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "pages",
                "name": "pages",
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": "pages/text",
                        "name": "text",
                        "dataType": "sc:Text",
                        "source": {"fileObject": {"@id": "pages.csv"}, "extract": {"column": "text"}},
                    }
                ],
            }
        ],
    }


def validated(doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """mlcroissant's metadata for ``doc``, offline; fails the test on any error or warning."""
    mlc = pytest.importorskip("mlcroissant")

    def no_network(*a: object, **k: object) -> None:
        raise AssertionError("network access")

    with monkeypatch.context() as m:
        m.setattr(socket, "socket", no_network)
        m.setattr(socket, "create_connection", no_network)
        meta = mlc.Dataset(jsonld=doc).metadata
    assert meta.ctx.issues.errors == set() and meta.ctx.issues.warnings == set()
    return meta


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_fragment_validates_with_mlcroissant(
    card_dir: Path, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    frag = fragment(card_dir)
    doc = embed_croissant(minimal_croissant(version), frag)
    assert doc["conformsTo"] == [f"http://mlcommons.org/croissant/{version}", RAI_CONFORMS_TO]
    meta = validated(doc, monkeypatch)
    assert meta.data_collection == frag["rai:dataCollection"]
    assert meta.data_collection_type == ["Web Scraping"]
    assert meta.data_collection_timeframe == [
        dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 3, 2, 12, 10, tzinfo=dt.timezone.utc),
    ]
    assert meta.data_use_cases == frag["rai:dataUseCases"]
    assert meta.data_limitations == frag["rai:dataLimitations"]
    assert meta.data_preprocessing_protocol == frag["rai:dataPreprocessingProtocol"]
    assert meta.data_collection_raw_data == frag["rai:dataCollectionRawData"]
    # The provenance survives mlcroissant's round trip.
    out = meta.to_json()
    assert out["subjectOf"]["sha256"] == sha256(card_dir / "manifest.json")
    assert len(out["prov:wasGeneratedBy"]) == 3


def test_mlcroissant_rejects_a_broken_fragment(card_dir: Path) -> None:
    """The validation is real: a time frame that is not ISO 8601 fails it."""
    mlc = pytest.importorskip("mlcroissant")
    frag = copy.deepcopy(fragment(card_dir))
    frag["rai:dataCollectionTimeFrame"] = ["the spring crawl"]
    with pytest.raises(mlc.ValidationError, match="ISO 8601"):
        mlc.Dataset(jsonld=embed_croissant(minimal_croissant("1.0"), frag))


def test_embed_keeps_the_dataset_and_adds_rai_conformance() -> None:
    ds = {"@context": {"@vocab": "https://schema.org/", "x": "urn:x:"}, "conformsTo": ["a", RAI_CONFORMS_TO]}
    frag = {"@context": {"rai": "r:", "x": "urn:other:"}, "dct:conformsTo": RAI_CONFORMS_TO, "rai:y": 1}
    out = embed_croissant(ds, frag)
    assert out["@context"] == {"rai": "r:", "x": "urn:x:", "@vocab": "https://schema.org/"}
    assert out["conformsTo"] == ["a", RAI_CONFORMS_TO] and out["rai:y"] == 1
    assert "dct:conformsTo" not in out and ds["conformsTo"] == ["a", RAI_CONFORMS_TO]


# -- hostile trails ------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_cards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile-cards")
    out = base / "out"
    build_report(hostile_trails(base), out, formats=("croissant", "hf-card"))
    return out


def test_hostile_markdown_card_is_escaped_as_the_report(hostile_cards: Path) -> None:
    card = (hostile_cards / HF_CARD_FILE).read_text("utf-8")
    lines = card.splitlines()
    # The one comment line is the renderer's own, fixed text.
    comments = [ln for ln in lines if "<!--" in ln]
    assert len(comments) == 1 and comments[0].startswith("<!-- Written by `noai-guard report")
    body = "\n".join(ln for ln in lines if ln not in comments)
    assert "<" not in body and ">" not in body.replace("&gt;", "")
    assert "](" not in body.replace("\\](", "")
    assert "\n# owned" not in card and "\n```" not in card
    for p in PAYLOADS:
        # Run ids, signal names and crawler tokens are payloads: each shows as the report's md() text.
        assert md(p) in body, p


def test_hostile_markdown_tables_keep_their_shape(hostile_cards: Path) -> None:
    lines = (hostile_cards / HF_CARD_FILE).read_text("utf-8").splitlines()
    cells_by_table: list[int] = []
    for ln in lines:
        if ln.startswith("|"):
            # A payload's '|' is escaped, so only the renderer's separators count.
            cells = len(re.split(r"(?<!\\)\|", ln)) - 2
            cells_by_table.append(cells)
        elif cells_by_table:
            assert len(set(cells_by_table)) == 1, cells_by_table
            cells_by_table = []


def test_hostile_jsonld_is_escaped_and_still_valid(
    hostile_cards: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (hostile_cards / CROISSANT_FILE).read_text("utf-8")
    # Safe inside <script type="application/ld+json">: no raw < > & at all.
    assert not set("<>&") & set(text)
    frag = json.loads(text)
    labels = {a["prov:label"] for a in frag["prov:wasGeneratedBy"]}
    for p in PAYLOADS:
        assert any(p in label for label in labels), p  # the JSON decodes back to the exact payload
        assert p in frag["rai:dataPreprocessingProtocol"][0]  # signal names
    meta = validated(embed_croissant(minimal_croissant("1.0"), frag), monkeypatch)
    assert meta.data_collection == frag["rai:dataCollection"]


def test_a_trail_without_run_records_policies_or_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to fill is said so ('unknown', 'none declared'), never a crash or an invalid time frame."""
    from _report_fixtures import robots_own

    from noai_guard.auditlog import SKIPPED, decision_record
    from noai_guard.policy import decide

    dec = decide("https://a.example/x", [robots_own("https://a.example")], POLICY)
    rec = {**decision_record(dec, action=SKIPPED, phase="pre-fetch", run_id="r"), "time": "yesterday"}
    write_all(tmp_path / "t.jsonl", [rec])
    out = tmp_path / "o"
    build_report([str(tmp_path / "t.jsonl")], out, formats=("croissant", "hf-card"))
    card = (out / HF_CARD_FILE).read_text("utf-8")
    assert "- **Collection period (UTC):** unknown to unknown" in card
    assert "- **Policy SHA-256:** none declared" in card
    assert f"`{sha256(out / 'manifest.json')}`" in card
    frag = fragment(out)
    assert "rai:dataCollectionTimeframe" not in frag and "rai:dataCollectionTimeFrame" not in frag
    assert "prov:qualifiedAssociation" not in frag["prov:wasGeneratedBy"][0]
    validated(embed_croissant(minimal_croissant("1.0"), frag), monkeypatch)


def test_report_json_with_card_formats_follows_the_schema(tmp_path: Path) -> None:
    from importlib import resources

    import jsonschema

    out = tmp_path / "o"
    build_report(write_trail_set(tmp_path / "trails"), out, formats=("json", "croissant", "hf-card"))
    doc = json.loads((out / "report.json").read_text("utf-8"))
    assert doc["parameters"]["formats"] == ["json", "croissant", "hf-card"]
    schema = json.loads(resources.files("noai_guard.data").joinpath("report.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator(schema).validate(doc)
