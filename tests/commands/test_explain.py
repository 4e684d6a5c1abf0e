"""``noai-guard explain``: verdicts, evidence, JSON shape and exit codes."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from noai_guard.cli import main

ROOT = Path(__file__).resolve().parents[2]
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
        ([URL, "--purpose", "training"], "--purpose: 'training' is not a purpose; allowed: ai-train, "),
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


# --- explain judges through the engine: the body as received, as the crawl reads it ---------------

HEAD_NOAI = b'<html><head><meta name="robots" content="noai"></head><body>' + b"x" * 200 + b"</body></html>"


def _files(tmp_path: Path, headers: str, body: bytes) -> list[str]:
    h = tmp_path / "headers.txt"
    h.write_text(headers)
    b = tmp_path / "body.bin"
    b.write_bytes(body)
    return ["--headers", str(h), "--html", str(b)]


def _chunked(body: bytes, size: int = 50) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ("Content-Encoding: gzip\n", gzip.compress(HEAD_NOAI)),
        # A second gzip member holds the meta: every member is read, as the crawl reads them.
        ("Content-Encoding: gzip\n", gzip.compress(HEAD_NOAI[:20]) + gzip.compress(HEAD_NOAI[20:])),
        ("Content-Encoding: deflate\n", zlib.compress(HEAD_NOAI)),
        ("Transfer-Encoding: chunked\n", _chunked(HEAD_NOAI)),
        ("Transfer-Encoding: chunked\nContent-Encoding: gzip\n", _chunked(gzip.compress(HEAD_NOAI))),
        # Two Content-Encoding field lines: undone last first (RFC 9110 §8.4).
        ("Content-Encoding: deflate\nContent-Encoding: gzip\n", gzip.compress(zlib.compress(HEAD_NOAI))),
    ],
    ids=["gzip", "gzip-members", "deflate", "chunked", "chunked-gzip", "two-codings"],
)
def test_encoded_body_is_decoded_as_the_crawl_decodes_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, headers: str, body: bytes
) -> None:
    rc, out, _ = run(capsys, URL, *_files(tmp_path, "Content-Type: text/html\n" + headers, body), "--json")
    assert rc == 1, out
    doc = json.loads(out)
    assert doc["decided_by"]["name"] == "meta-robots"
    assert doc["decided_by"]["evidence"] == '<meta name="robots" content="noai">'


def test_undecodable_body_is_unknown_not_allow(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Content-Encoding says gzip, the bytes are not: the head cannot be read (never "allow").
    files = _files(tmp_path, "Content-Type: text/html\nContent-Encoding: gzip\n", HEAD_NOAI)
    rc, out, _ = run(capsys, URL, *files, "--json")
    assert rc == 3, out
    doc = json.loads(out)
    assert doc["verdict"] == "unknown" and doc["decided_by"]["name"] == "meta-robots"
    assert "the HTML head could not be read" in doc["decided_by"]["note"]
    # The policy resolves that unknown like every other one.
    rc, out, _ = run(capsys, URL, *files, "--unknown", "meta-robots=reserve", "--json")
    assert rc == 3 and json.loads(out)["blocked"] is True
    # --decoded: the file is the decoded body; the header is not applied to it again.
    assert run(capsys, URL, *files, "--decoded")[0] == 1


def test_cut_stream_before_the_head_ends_is_unknown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pad = "".join(f"<!-- {i * 7919 % 10007} -->" for i in range(2000)).encode()
    whole = gzip.compress(
        b"<html><head><title>t</title>" + pad + b'<meta name="robots" content="noai"></head>'
    )
    cut = whole[: len(whole) // 2]
    rc, out, _ = run(capsys, URL, *_files(tmp_path, "Content-Encoding: gzip\n", cut))
    assert rc == 3, out
    assert "could not be read" in out


def test_head_past_the_budget_is_unknown(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    late = (
        b"<html><head>" + b"<link rel=x>" * 400 + b'<meta name="robots" content="noai"></head><body>x</body>'
    )
    files = _files(tmp_path, "Content-Type: text/html\n", late)
    assert run(capsys, URL, *files)[0] == 1  # within the default budget
    rc, out, _ = run(capsys, URL, *files, "--head-budget", "2048")
    assert rc == 3, out
    assert "verdict: unknown" in out


def test_url_alone_is_judged_before_the_fetch(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from noai_guard.engine import Judge, SiteFiles
    from noai_guard.policy import Policy
    from noai_guard.robots import RobotsTxt

    robots = tmp_path / "robots.txt"
    robots.write_text("User-agent: *\nDisallow: /2026/\n")
    rc, out, _ = run(capsys, URL, "--robots", str(robots), "--json")
    assert rc == 1
    files = SiteFiles(
        "https://news.example", RobotsTxt.parse(robots.read_bytes(), "https://news.example/robots.txt")
    )
    want = Judge(Policy()).before_fetch(URL, files).decision
    assert json.loads(out) == want.to_dict()
