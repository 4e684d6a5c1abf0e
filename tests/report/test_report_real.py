"""`noai-guard report` on trails written by a real demo crawl and a real after-the-fact audit.

The demo crawls the built-in sample site with the Scrapy add-on (in a
subprocess, as a user would run it); the audit judges the shipped sample
WARC.  The report over both must be valid, verifiable and say what the
trails say.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from noai_guard.cli import main
from noai_guard.report import verify_manifest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_WARC = Path(__file__).resolve().parents[1] / "data" / "audit" / "sample.warc.gz"


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def demo_trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "noai_guard.cli", "demo", "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    trail = out / "audit.jsonl"
    assert trail.is_file()
    return trail


@pytest.fixture(scope="module")
def audit_trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert SAMPLE_WARC.is_file(), "the sample WARC ships with the tests"
    out = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    rc = main(["audit", str(SAMPLE_WARC), "--out", str(out), "--no-progress"])
    assert rc in (0, 1)  # 1: reservations were found, which is the point of the sample
    return out


@pytest.fixture(scope="module")
def both_report(tmp_path_factory: pytest.TempPathFactory, demo_trail: Path, audit_trail: Path) -> Path:
    out = tmp_path_factory.mktemp("report") / "r"
    assert main(["report", str(demo_trail), str(audit_trail), "--out", str(out), "--seed", "1"]) == 0
    return out


def _doc(out: Path) -> dict[str, Any]:
    d: dict[str, Any] = json.loads((out / "report.json").read_text("utf-8"))
    return d


def test_demo_report_matches_the_trail(demo_trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert main(["report", str(demo_trail), "--out", str(out)]) == 0
    doc = _doc(out)
    recs = _records(demo_trail)
    decisions = [r for r in recs if r["type"] == "decision"]
    assert doc["summary"]["decision_records"] == len(decisions)
    assert doc["records"] == len(recs)
    run_ids = {r["run_id"] for r in recs}
    assert {r["run_id"] for r in doc["runs"]} == run_ids
    assert all(r["has_summary"] for r in doc["runs"])
    # The policy the run declared is the one every decision names.
    assert doc["undeclared_policy_decisions"] == 0
    assert doc["policies"] and doc["tokens"]["own"]
    # Blocked decisions by signal agree with the trail.
    blocked: dict[str, int] = {}
    for r in decisions:
        if r["blocked"]:
            blocked[r["signal"]] = blocked.get(r["signal"], 0) + 1
    got = {r["signal"]: r["blocked"] for r in doc["summary"]["by_signal"] if r["blocked"]}
    assert got == blocked
    # Totals from the run summary.
    summ = [r for r in recs if r["type"] == "summary"]
    evaluated = sum(o.get("evaluated", 0) for s in summ for o in s["origins"].values())
    assert doc["summary"]["from_run_summaries"]["evaluated"] == evaluated
    # The sample site has an unreachable robots.txt: fail-closed, nothing failed open.
    u = doc["unknowns"]
    assert u["resolved_to_reserve"] >= 1
    assert u["fail_open"]["total"] == 0
    assert doc["exceptions"]["fetch"]["robots"]["5xx"] + doc["exceptions"]["fetch"]["robots"]["error"] >= 1
    # Samples carry the evidence exactly as the trail does.
    by_url = {(r["url"], r["signal"]): r for r in decisions}
    n = 0
    for g in doc["samples"]["by_signal"]:
        for it in g["items"]:
            src = by_url[(it["url"], it["signal"])]
            assert it["evidence"] == (src["evidence"] or "")
            assert it["evidence_url"] == (src["evidence_url"] or "")
            assert it["line"] == src["line"]
            n += 1
    assert n > 0
    assert verify_manifest(out) == []


def test_audit_report_matches_the_trail(audit_trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert main(["report", str(audit_trail), "--out", str(out)]) == 0
    doc = _doc(out)
    decisions = [r for r in _records(audit_trail) if r["type"] == "decision"]
    assert doc["summary"]["decision_records"] == len(decisions)
    flagged = [r for r in decisions if r["action"] == "flagged"]
    assert doc["summary"]["by_action"].get("flagged", 0) == len(flagged)
    assert doc["summary"]["by_mode"] == {"audit": len(decisions)}
    assert doc["summary"]["by_phase"] == {"after-the-fact": len(decisions)}
    # Origins without a robots.txt capture are "not checked", which is not a fail-open.
    unchecked = [r for r in decisions if r["verdict"] == "unknown" and not r["blocked"]]
    assert doc["unknowns"]["not_checked"] == len(unchecked)
    assert doc["unknowns"]["fail_open"]["total"] == 0
    summ = [r for r in _records(audit_trail) if r["type"] == "summary"]
    if summ and "totals" in summ[0]:
        assert doc["exceptions"]["audit_inputs"]["judged"] == summ[0]["totals"]["judged"]
        assert doc["summary"]["from_run_summaries"]["flagged"] == summ[0]["totals"]["reserved"]
    assert verify_manifest(out) == []


def test_crawl_and_audit_together(both_report: Path, demo_trail: Path, audit_trail: Path) -> None:
    doc = _doc(both_report)
    assert {r["mode"] for r in doc["runs"]} == {"crawl", "audit"}
    assert [i["path"] for i in doc["inputs"]] == [str(demo_trail), str(audit_trail)]
    assert verify_manifest(both_report) == []
    m = json.loads((both_report / "manifest.json").read_text("utf-8"))
    assert {p["hash"] for p in doc["policies"]} <= set(m["policy_hashes"])


def test_real_report_is_valid_html_and_schema(both_report: Path) -> None:
    import html5lib

    html5lib.HTMLParser(strict=True).parse((both_report / "report.html").read_text("utf-8"))
    import jsonschema

    schema = json.loads(resources.files("noai_guard.data").joinpath("report.schema.json").read_text("utf-8"))
    jsonschema.validate(_doc(both_report), schema)
