"""``noai-guard explain``: verdicts, evidence, JSON shape and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from noai_guard.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
URL = "https://news.example/2026/story"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["explain", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_readme_example_reserves_with_meta_evidence(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(
        capsys,
        URL,
        "--robots",
        str(EXAMPLES / "robots.txt"),
        "--headers",
        str(EXAMPLES / "headers.txt"),
        "--html",
        str(EXAMPLES / "page.html"),
        "--user-agent",
        "ExampleBot",
    )
    assert rc == 1
    assert "verdict: reserve" in out
    assert '<meta name="robots" content="max-image-preview:large, noimageai">' in out
    # Every observed signal is listed, the allowing ones too.
    for name in (
        "robots-txt ",
        "robots-txt-proxy",
        "content-signal",
        "x-robots-tag",
        "tdmrep",
        "meta-robots",
    ):
        assert name in out


def test_json_has_the_contract_fields(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    robots = tmp_path / "robots.txt"
    robots.write_text("User-agent: *\nDisallow: /admin/\n\nUser-agent: GPTBot\nDisallow: /\n")
    rc, out, _ = run(capsys, URL, "--robots", str(robots), "--user-agent", "ExampleBot", "--json")
    assert rc == 1
    doc = json.loads(out)
    assert doc["url"] == URL
    assert doc["purpose"] == "ai-train"
    assert doc["verdict"] == "reserve"
    by = doc["decided_by"]
    assert by["name"] == "robots-txt-proxy"
    assert by["evidence"] == "Disallow: /"
    assert by["line"] == 5
    assert by["own_token"] is False
    assert "GPTBot" in by["scope"]
    assert {s["name"] for s in doc["signals"]} == {"robots-txt", "robots-txt-proxy"}


def test_no_proxy_tokens_and_search_purpose_allow(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    robots = tmp_path / "robots.txt"
    robots.write_text("User-agent: GPTBot\nDisallow: /\n")
    assert run(capsys, URL, "--robots", str(robots), "--no-proxy-tokens")[0] == 0
    assert run(capsys, URL, "--robots", str(robots), "--purpose", "search")[0] == 0


def test_nothing_given_is_allow(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, URL, "--json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["verdict"] == "allow"
    # robots.txt not given is treated as a 404: recorded, no rules.
    assert doc["signals"][0]["name"] == "robots-txt"
    assert "404" in doc["signals"][0]["evidence"] + doc["signals"][0]["note"]


def test_unknown_exits_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    headers = tmp_path / "h.txt"
    headers.write_text("Content-Usage: Train-AI=n\n")
    rc, out, _ = run(capsys, URL, "--headers", str(headers))
    assert rc == 3
    assert "verdict: unknown" in out


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["ftp://x/y"], "not an http(s) URL"),
        ([URL, "--robots", "/nonexistent/robots.txt"], "cannot read"),
        ([URL, "--purpose", "training"], "invalid choice"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args: list[str], msg: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "noai_guard.cli", "explain", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert msg in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_headers_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    headers = tmp_path / "h.txt"
    headers.write_text("this is not a header line\n")
    rc, _, err = run(capsys, URL, "--headers", str(headers))
    assert rc == 2
    assert "not 'Name: value'" in err


def test_binary_garbage_inputs_do_not_crash(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(bytes(range(256)) * 64)
    rc, out, _ = run(
        capsys, URL, "--robots", str(junk), "--html", str(junk), "--tdmrep", str(junk), "--ai-txt", str(junk)
    )
    assert rc in (0, 1, 3)
    assert "verdict:" in out
