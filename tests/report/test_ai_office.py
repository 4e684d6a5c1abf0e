"""`noai-guard report --format ai-office` (issue 18 item 2): the AI Office template's sections 2.3 and 3.1.

The trail set under ``tests/data/aioffice`` (made by its ``make_trails.py``: hand-written
records, a real crawl, a real audit) is rendered and compared with the golden Markdown and
JSON beside it.  ``NOAI_GUARD_UPDATE_GOLDEN=1`` rewrites the golden files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from noai_guard import __version__
from noai_guard.cli import main
from noai_guard.report import aggregate, verify_manifest
from noai_guard.report.aioffice import TO_FILL

DATA = Path(__file__).resolve().parent.parent / "data" / "aioffice"
GOLDEN = DATA / "golden"
TRAILS = ("audit-warc.jsonl", "crawl-hand.jsonl", "crawl-live.jsonl", "crawl-old.jsonl")
EPOCH = "1767225600"  # 2026-01-01T00:00:00Z
HOSTILE_DOMAIN = "evil|name<script>.example"
HOSTILE_TOKEN = "bad|bot<img src=x>*"


def _report(out: Path, trails: tuple[str, ...] = TRAILS) -> int:
    cwd = os.getcwd()
    os.chdir(DATA)  # input paths are shown as given: relative, so the golden files are stable
    try:
        return main(["report", *trails, "--format", "ai-office", "--out", str(out)])
    finally:
        os.chdir(cwd)


def _normalise(text: str, doc: dict[str, Any]) -> str:
    """The parts that change with the installed package, not with the trails: version, proxy list."""
    pl = doc["tokens_proxy_list"]
    for v, name in ((pl["source_commit"], "COMMIT"), (pl["date"], "DATE"), (pl["source"], "SOURCE")):
        if v:
            text = text.replace(v, name)
    return text.replace(f"noai-guard {__version__}", "noai-guard VERSION").replace(
        f'"version": "{__version__}"', '"version": "VERSION"'
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ao") / "out"
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
    try:
        assert _report(out) == 0
    finally:
        mp.undo()
    return out


def _ao(bundle: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((bundle / "ai-office.json").read_text("utf-8"))
    return doc


def _field(doc: dict[str, Any], number: str) -> dict[str, Any]:
    for sec in doc["sections"]:
        for f in sec["fields"]:
            if f["number"] == number:
                return dict(f)
    raise AssertionError(number)


def test_golden_markdown_and_json(bundle: Path) -> None:
    doc = _ao(bundle)
    pl = _field(doc, "3.1")["value"]["proxy_token_list"]
    norm = {"tokens_proxy_list": pl}
    for name in ("ai-office.md", "ai-office.json"):
        got = _normalise((bundle / name).read_text("utf-8"), norm)
        golden = GOLDEN / name
        if os.environ.get("NOAI_GUARD_UPDATE_GOLDEN"):
            golden.parent.mkdir(exist_ok=True)
            golden.write_text(got, encoding="utf-8")
        assert got == golden.read_text("utf-8"), f"{name} differs from {golden} (NOAI_GUARD_UPDATE_GOLDEN=1)"


def test_bundle_lists_both_files_in_the_manifest(bundle: Path) -> None:
    assert {p.name for p in bundle.iterdir()} == {"ai-office.md", "ai-office.json", "manifest.json"}
    m = json.loads((bundle / "manifest.json").read_text("utf-8"))
    assert [o["path"] for o in m["outputs"]] == ["ai-office.md", "ai-office.json"]
    assert m["parameters"]["formats"] == ["ai-office"]
    assert verify_manifest(bundle, inputs=False) == []


def test_template_sections_and_field_names(bundle: Path) -> None:
    doc = _ao(bundle)
    assert [(s["number"], s["title"]) for s in doc["sections"]] == [
        ("2.3", "Data crawled and scraped from online sources"),
        ("3.1", "Respect of reservation of rights from text and data mining exception or limitation"),
    ]
    labels = [f["label"] for f in doc["sections"][0]["fields"]]
    assert labels[1:8] == [
        "Crawler name(s)/identifier(s)",
        "Purposes of the crawler(s)",
        "General description of crawler behaviour",
        "Period of data collection",
        "Comprehensive description of the type of content and online sources crawled",
        "Type of modality covered",
        "Summary of the most relevant domain names crawled",
    ]
    # Pre-filled from the trails ...
    assert HOSTILE_TOKEN in _field(doc, "2.3.(i)")["value"]["product_tokens"]
    assert _field(doc, "2.3.(ii)")["value"] == {"opt_outs_judged_for": ["ai-train"]}
    assert _field(doc, "2.3.(iv)")["value"]["from"] == "2025-11-20T10:00:00.000Z"  # the old crawl's run record
    assert _field(doc, "2.3.(vi)")["value"] == ["image", "text"]
    protocols = {p["protocol"]: p["spec"] for p in _field(doc, "3.1")["value"]["protocols_honoured"]}
    assert protocols["robots-txt"].startswith("RFC 9309")
    assert protocols["tdmrep"].startswith("W3C TDMRep")
    # ... and what only the provider knows is marked for the provider.
    assert _field(doc, "3.1.(a)")["value"] == TO_FILL
    assert _field(doc, "2.3.(iii)")["provider"].startswith(TO_FILL)
    md = (bundle / "ai-office.md").read_text("utf-8")
    assert "absence of a machine-readable opt-out is not consent" in md


def test_domain_ranking_by_size_equals_a_hand_count(bundle: Path) -> None:
    # crawl-hand.jsonl alone: its sizes name five origins (limit 5), the rest are "other".
    agg, _doc = aggregate([str(DATA / "crawl-hand.jsonl")])
    try:
        assert agg.sizes.ranked(100) == [
            (HOSTILE_DOMAIN, 2, 600_000),
            ("big.example", 40 + 10, 400_000 + 100_000),  # www. and cdn. are one registrable domain
            ("mid.example", 30, 300_000),
            ("small.example", 5, 5_000),
        ]
        # tiny (1 page, 100 B) and s0..s9 (1 page each, 10..19 B) were past the run's limit.
        assert agg.sizes.unattributed == [11, 100 + sum(range(10, 20))]
    finally:
        agg.close()
    # The whole set: 20 domains with content kept -> top 10 % = 2, smaller providers 5 % = 1.
    top = _ao(bundle)["top_domains"]
    assert top["thresholds"]["domains_total"] == 20
    assert top["thresholds"]["all_providers"]["count"] == 2
    assert top["thresholds"]["smaller_providers"]["count"] == 1
    assert [(r["domain"], r["bytes"], r["in_smaller_provider_list"]) for r in top["ranking"]] == [
        (HOSTILE_DOMAIN, 600_000, True),
        ("big.example", 500_000, False),
    ]
    assert top["sizes"] == "partly recorded" and top["runs_without_sizes"] == 1


def test_hostile_fields_are_escaped_in_markdown(bundle: Path) -> None:
    md = (bundle / "ai-office.md").read_text("utf-8")
    assert "<script" not in md and "<img" not in md
    assert "evil\\|name&lt;script&gt;.example" in md
    assert "bad\\|bot&lt;img src=x&gt;\\*" in md
    assert "news\\_\\[spider\\]" in md
    # Every table row keeps its column count: an escaped | cannot split a cell.
    for line in md.splitlines():
        if line.startswith("| 1 | evil"):
            assert line.replace("\\|", "").count("|") == 7


def test_old_trails_without_sizes_say_not_recorded(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert _report(out, ("crawl-old.jsonl",)) == 0
    doc = _ao(out)
    f = _field(doc, "2.3.(vii)")
    assert isinstance(f["value"], str) and f["value"].startswith("not recorded")
    assert doc["top_domains"]["sizes"] == "not recorded"
    assert doc["top_domains"]["ranking"] == []
    assert _field(doc, "2.3.(v)")["value"] == TO_FILL  # no content types without sizes
    assert "not recorded" in (out / "ai-office.md").read_text("utf-8")


def test_malformed_sizes_never_crash(tmp_path: Path) -> None:
    base = json.loads((DATA / "crawl-old.jsonl").read_text("utf-8").splitlines()[1])
    bad = [
        {**base, "run_id": "r1", "sizes": "garbage"},
        {**base, "run_id": "r2", "sizes": {"origins": {"https://x.example": "no", "https://y.example": {"bytes": -5}}}},
        {**base, "run_id": "r3", "sizes": {"origins": [], "other": 7, "content_types": {"a": 1}, "limit": "x"}},
        {**base, "run_id": "r4", "sizes": {"origins": {"https://z.example": {"pages": 1e300, "bytes": "9"}}}},
    ]
    trail = tmp_path / "bad.jsonl"
    trail.write_text("".join(json.dumps(r) + "\n" for r in bad), encoding="utf-8")
    out = tmp_path / "o"
    assert main(["report", str(trail), "--format", "ai-office", "--out", str(out)]) == 0
    doc = _ao(out)
    # Values of the wrong type count as 0: nothing negative, nothing invented.
    assert doc["top_domains"]["total"] == {"pages": 0, "bytes": 0}
    assert doc["top_domains"]["runs_without_sizes"] == 1  # "garbage" is no sizes object
