"""``noai-guard verify DIR``: a reviewer re-verifies a report bundle and its cards from the manifest."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from noai_guard.cli import main

TRAILS = Path(__file__).resolve().parents[1] / "data" / "aioffice"


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bundle made from copies of the committed trails, with relative input paths."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(TRAILS, tmp_path / "trails", ignore=shutil.ignore_patterns("golden", "*.py"))
    rc = main(["report", "trails", "--format", "json,csv,ai-office,croissant,hf-card", "--out", "out"])
    assert rc == 0
    return tmp_path / "out"


def test_an_untouched_bundle_verifies(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["verify", str(bundle)]) == 0
    out = capsys.readouterr().out
    digest = hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    listed = json.loads((bundle / "manifest.json").read_text("utf-8"))
    assert out.startswith("verified: ")
    assert digest in out
    assert f"{len(listed['outputs'])} report file(s), {len(listed['inputs'])} input(s), 2 card(s)" in out


def test_an_edited_report_file_is_named(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (bundle / "ai-office.md").open("a", encoding="utf-8") as f:
        f.write("\n| 1 | example.org | 1 | 999 B |\n")
    capsys.readouterr()
    assert main(["verify", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert "ai-office.md: SHA-256 mismatch" in out
    assert "verified" not in out


def test_a_card_of_another_manifest_is_refused(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The manifest re-written (one space more): the cards still carry the old manifest's hash.
    manifest = bundle / "manifest.json"
    manifest.write_text(manifest.read_text("utf-8") + " ", encoding="utf-8")
    capsys.readouterr()
    assert main(["verify", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert "croissant-rai.jsonld: does not carry this manifest's SHA-256" in out
    assert "dataset-card.md: does not carry this manifest's SHA-256" in out


def test_inputs_elsewhere(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "trails" / "crawl-hand.jsonl").unlink()
    capsys.readouterr()
    assert main(["verify", str(bundle)]) == 1
    assert "crawl-hand.jsonl" in capsys.readouterr().out
    assert main(["verify", str(bundle), "--outputs-only"]) == 0
    assert "0 input(s)" in capsys.readouterr().out


def test_no_manifest_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("noai-guard: error: ") and "manifest.json" in err and err.count("\n") == 1
    (tmp_path / "manifest.json").write_text("[1, 2]", encoding="utf-8")
    assert main(["verify", str(tmp_path)]) == 2
    (tmp_path / "manifest.json").write_text('{"outputs": [{"path": "manifest.json"}]}', encoding="utf-8")
    assert main(["verify", str(tmp_path)]) == 2
    assert "malformed entry" in capsys.readouterr().err
