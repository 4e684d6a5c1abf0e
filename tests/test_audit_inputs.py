"""``noai-guard audit`` as a new user meets it (issue 14): folders, ARC and LZ4, honest caveats.

Folders holding files that are not inputs, ARC files written byte for byte, LZ4
WARCs, formats named by their magic bytes, the signals a feed cannot show, failed
``--fetch`` fetches, undated ``--robots-from`` folder files, a crawl's own trail
giving the audit its policy.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import re
import socket
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from noai_guard.archives import InputError, detect
from noai_guard.cli import main

ROBOTS = b"User-agent: *\nDisallow: /private/\n"
NOAI_PAGE = b'<html><head><meta name="robots" content="noai"><title>t</title></head><body>x</body></html>'
PLAIN_PAGE = b"<html><head><title>fine</title></head><body>fine</body></html>"


def audit(*args: str | Path) -> int:
    return main(["audit", *map(str, args), "--no-progress"])


def trail(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def decisions(path: Path) -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in trail(path) if r["type"] == "decision"}


def flagged(path: Path) -> dict[str, str]:
    return {u: r["signal"] for u, r in decisions(path).items() if r["action"] == "flagged"}


def warc(records: list[tuple[str, bytes, str, str]], *, gzip_records: bool = True) -> bytes:
    """A WARC of response records (url, body, content type, WARC-Date)."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gzip_records)
    for url, body, ctype, date in records:
        http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
        w.write_record(
            w.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": date},
            )
        )
    return buf.getvalue()


SHOP_WARC = [
    ("http://shop.example/robots.txt", ROBOTS, "text/plain", "2025-03-01T10:00:00Z"),
    ("http://shop.example/private/a", PLAIN_PAGE, "text/html", "2025-03-01T10:01:00Z"),
    ("http://shop.example/open", PLAIN_PAGE, "text/html", "2025-03-01T10:02:00Z"),
]


# --- 1. a folder with files that are not inputs ------------------------------------------------


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "crawl"
    folder.mkdir()
    (folder / "shop.warc.gz").write_bytes(warc(SHOP_WARC))
    (folder / "README.txt").write_text("Crawl of example.com, March 2024.\n")
    (folder / "index.cdx").write_text(
        " CDX N b a m s k r M S V g\n"
        "example,shop)/private/a 20250301100100 http://shop.example/private/a text/html 200 AAAA - - 300 0 "
        "shop.warc.gz\n"
    )
    return folder


def test_a_folder_skips_and_lists_what_is_not_an_input(tmp_path: Path, capsys: Any) -> None:
    folder = _folder(tmp_path)
    out = tmp_path / "t.jsonl"
    # Something was skipped: exit 5 (not 2: the rest was judged), whatever was reserved.
    assert audit(folder, "--out", out) == 5
    err = capsys.readouterr().err
    assert "SKIPPED 2 file(s)" in err
    assert f"{folder / 'README.txt'}: no 'url' column" in err
    assert f"{folder / 'index.cdx'}: a CDX index" in err
    # The WARC was judged all the same.
    assert flagged(out) == {"http://shop.example/private/a": "robots-txt"}
    summary = trail(out)[-1]
    assert summary["type"] == "summary"
    assert {s["file"]: s["reason"].split(" (")[0].split(";")[0] for s in summary["skipped_inputs"]} == {
        str(folder / "README.txt"): "no 'url' column",
        str(folder / "index.cdx"): "a CDX index: it lists captures but holds no headers or pages",
    }
    assert [i["path"] for i in summary["inputs"]] == [str(folder / "shop.warc.gz")]


def test_a_file_named_on_the_command_line_stays_an_error(tmp_path: Path, capsys: Any) -> None:
    folder = _folder(tmp_path)
    for name, says in (("README.txt", "no 'url' column"), ("index.cdx", "a CDX index")):
        capsys.readouterr()
        assert audit(folder / name, folder / "shop.warc.gz", "--out", tmp_path / "t.jsonl") == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err
    assert not (tmp_path / "t.jsonl").exists()


def test_a_folder_of_nothing_to_judge_is_an_error(tmp_path: Path, capsys: Any) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "README.txt").write_text("Crawl of example.com, March 2024.\n")
    assert audit(folder, "--out", tmp_path / "t.jsonl") == 2
    assert "no input files to judge (1 file(s) skipped" in capsys.readouterr().err


def test_the_runs_own_trail_in_the_folder_is_not_an_input(tmp_path: Path, capsys: Any) -> None:
    folder = tmp_path / "crawl"
    folder.mkdir()
    (folder / "shop.warc.gz").write_bytes(warc(SHOP_WARC))
    out = folder / "audit.jsonl"
    assert audit(folder, "--out", out) == 1
    assert audit(folder, "--out", out) == 1  # its own previous output is left out, not skipped
    # Another audit's trail is not an input: skipped in a folder, an error when named.
    (folder / "audit.jsonl").rename(folder / "older-audit.jsonl")
    assert audit(folder, "--out", tmp_path / "t.jsonl") == 5
    (skip,) = trail(tmp_path / "t.jsonl")[-1]["skipped_inputs"]
    assert skip["file"] == str(folder / "older-audit.jsonl") and "audit trail" in skip["reason"]
    capsys.readouterr()
    assert audit(folder / "older-audit.jsonl", "--out", tmp_path / "t2.jsonl") == 2
    assert "noai-guard report" in capsys.readouterr().err


# --- 2. ARC, LZ4, and formats that are not read --------------------------------------------------


def arc_record(url: str, date: str, ctype: str, block: bytes, ip: str = "127.0.0.1") -> bytes:
    """One ARC v1 record: the header line (URL IP date content-type length), the block, a newline."""
    return f"{url} {ip} {date} {ctype} {len(block)}\n".encode() + block + b"\n"


def http(body: bytes, ctype: str, extra: str = "") -> bytes:
    return f"HTTP/1.0 200 OK\r\nContent-Type: {ctype}\r\n{extra}\r\n".encode() + body


def arc_records() -> list[bytes]:
    """A small ARC v1 file, byte for byte (the Internet Archive's format before WARC)."""
    version = b"1 0 noai-guard tests\nURL IP-address Archive-date Content-type Archive-length\n"
    return [
        arc_record("filedesc://shop.arc", "20140301095900", "text/plain", version, ip="0.0.0.0"),
        arc_record("dns:shop.example", "20140301095959", "text/dns", b"shop.example. 300 IN A 127.0.0.1\n"),
        arc_record(
            "http://shop.example/robots.txt", "20140301100000", "text/plain", http(ROBOTS, "text/plain")
        ),
        arc_record(
            "http://shop.example/private/a", "20140301100100", "text/html", http(PLAIN_PAGE, "text/html")
        ),
        arc_record("http://shop.example/news", "20140301100200", "text/html", http(NOAI_PAGE, "text/html")),
        arc_record(
            "http://shop.example/img.png",
            "20140301100300",
            "image/png",
            http(b"\x89PNG\r\n\x1a\n", "image/png", "X-Robots-Tag: noai\r\n"),
        ),
        arc_record("http://shop.example/open", "20140301100400", "text/html", http(PLAIN_PAGE, "text/html")),
    ]


ARC_FLAGGED = {
    "http://shop.example/private/a": "robots-txt",
    "http://shop.example/news": "meta-robots",
    "http://shop.example/img.png": "x-robots-tag",
}


@pytest.mark.parametrize("layout", ["plain", "gzip-per-record"])
def test_arc_files_are_read(tmp_path: Path, layout: str) -> None:
    recs = arc_records()
    data = b"".join(gzip.compress(r) for r in recs) if layout != "plain" else b"".join(recs)
    path = tmp_path / ("shop.arc" if layout == "plain" else "shop.arc.gz")
    path.write_bytes(data)
    info = detect(path)
    assert info.kind == "warc" and info.container == "arc"
    assert info.label == ("ARC" if layout == "plain" else "ARC (gzip per-record)")
    out = tmp_path / "t.jsonl"
    assert audit(path, "--out", out) == 1
    assert flagged(out) == ARC_FLAGGED
    # Offsets are the records' own in the file; ids are stable (ARC records have none).
    starts = [sum(len(x) for x in (gzip.compress(r) for r in recs[:i])) for i in range(len(recs))]
    if layout == "plain":
        starts = [sum(len(x) for x in recs[:i]) for i in range(len(recs))]
    news = decisions(out)["http://shop.example/news"]
    assert news["input_offset"] == starts[4]
    assert news["warc_record_id"] == f"<urn:noai-guard:arc:{path.name}:{starts[4]}>"
    assert news["warc_date"] == "2014-03-01T10:02:00Z"
    # The robots.txt captured in the ARC, at its date, decided /private/a.
    cap = decisions(out)["http://shop.example/private/a"]["capture"]["robots"]
    assert cap["date"] == "2014-03-01T10:00:00Z" and cap["offset"] == starts[2]
    summary = trail(out)[-1]
    assert summary["totals"]["judged"] == 4 and summary["totals"]["captures"] == 1
    assert summary["totals"]["skipped"] == {"non-http": 1, "warcinfo": 1}
    assert summary["inputs"][0]["kind"] == info.label
    assert trail(out)[0]["inputs"][0]["kind"] == info.label


def test_a_cut_arc_file_is_damage_not_a_crash(tmp_path: Path, capsys: Any) -> None:
    data = b"".join(arc_records())
    path = tmp_path / "cut.arc"
    path.write_bytes(data[: data.index(b"http://shop.example/news") + 120])
    out = tmp_path / "t.jsonl"
    assert audit(path, "--out", out) == 4
    assert "damaged or truncated" in capsys.readouterr().err
    assert flagged(out)["http://shop.example/private/a"] == "robots-txt"
    (inp,) = trail(out)[-1]["inputs"]
    assert inp["unreadable"] == 1


def test_lz4_warc(tmp_path: Path) -> None:
    from fastwarc.stream_io import Lz4Writer

    raw = warc(
        [*SHOP_WARC, ("http://shop.example/news", NOAI_PAGE, "text/html", "2025-03-01T10:03:00Z")],
        gzip_records=False,
    )
    path = tmp_path / "shop.warc.lz4"
    with Lz4Writer(str(path)) as w:
        w.write(raw)
    assert path.read_bytes()[:4] == b"\x04\x22\x4d\x18"  # a real LZ4 frame
    info = detect(path)
    assert (info.kind, info.gzip, info.label) == ("warc", "lz4", "WARC (LZ4)")
    out = tmp_path / "t.jsonl"
    assert audit(path, "--out", out) == 1
    assert flagged(out) == {
        "http://shop.example/private/a": "robots-txt",
        "http://shop.example/news": "meta-robots",
    }
    # Offsets are uncompressed offsets, as for a whole-file gzip.
    assert decisions(out)["http://shop.example/news"]["input_offset"] == raw.index(
        b"WARC/1.0", raw.index(b"http://shop.example/news") - 400
    )
    # LZ4 that is not a WARC: named, with what to do.
    other = tmp_path / "feed.jsonl.lz4"
    with Lz4Writer(str(other)) as w:
        w.write(b'{"url": "http://shop.example/a"}\n')
    with pytest.raises(InputError, match=r"LZ4-compressed .*lz4 -d"):
        detect(other)


def _zstd(data: bytes) -> bytes:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from backports import zstd  # type: ignore[no-redef,import-not-found,unused-ignore]
    out: bytes = zstd.compress(data)
    return out


def _zip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("crawl.warc", data)
    return buf.getvalue()


FORMATS: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("x.warc.zst", _zstd, "zstd-compressed data: decompress it (zstd -d FILE)"),
    ("x.warc.bz2", bz2.compress, "bzip2-compressed data: decompress it (bunzip2 FILE)"),
    ("x.warc.xz", lzma.compress, "xz-compressed data: decompress it (unxz FILE)"),
    ("x.zip", _zip, "a zip archive: unpack it"),
]


@pytest.mark.parametrize(("name", "compress", "says"), FORMATS, ids=[f[0] for f in FORMATS])
def test_other_formats_are_named_with_what_to_do(
    tmp_path: Path, capsys: Any, name: str, compress: Callable[[bytes], bytes], says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(compress(warc(SHOP_WARC, gzip_records=False)))
    assert audit(path, "--out", tmp_path / "t.jsonl") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "Traceback" not in err
    # In a folder: skipped with the same reason, the rest judged.
    folder = tmp_path / "f"
    folder.mkdir()
    path.rename(folder / name)
    (folder / "shop.warc.gz").write_bytes(warc(SHOP_WARC))
    assert audit(folder, "--out", tmp_path / "t.jsonl") == 5
    (skip,) = trail(tmp_path / "t.jsonl")[-1]["skipped_inputs"]
    assert says in skip["reason"]


# --- 3. feeds and logs: the signals they cannot show ---------------------------------------------


def _robots_folder(tmp_path: Path, host: str, body: bytes = ROBOTS) -> Path:
    folder = tmp_path / "robots"
    (folder / host).mkdir(parents=True, exist_ok=True)
    (folder / host / "robots.txt").write_bytes(body)
    return folder


def test_feed_records_say_what_was_not_checked(tmp_path: Path, capsys: Any) -> None:
    feed = tmp_path / "items.jsonl"
    urls = [f"http://shop.example/p/{i}" for i in range(12)] + ["http://shop.example/private/x"]
    feed.write_text("".join(json.dumps({"url": u}) + "\n" for u in urls))
    pages = tmp_path / "pages.warc.gz"
    pages.write_bytes(warc(SHOP_WARC))
    out = tmp_path / "t.jsonl"
    folder = _robots_folder(tmp_path, "shop.example")
    assert audit(feed, pages, "--robots-from", folder, "--out", out) == 1
    err = capsys.readouterr().err
    # The verdicts stand: 12 allowed, 1 blocked by robots.txt; the caveat is said beside them.
    assert "allowed: 13 (12 of them with page signals not checked)" in err
    assert re.search(
        r"not checked for 13 record\(s\) of 1 input\(s\) \(feeds, .*\): x-robots-tag, meta-robots", err
    )
    summary = trail(out)[-1]
    assert summary["totals"]["allowed"] == 13 and summary["totals"]["reserved"] == 2
    (group,) = summary["not_checked"]
    assert group["signals"] == [
        "x-robots-tag",
        "meta-robots",
        "tdmrep",
        "content-usage",
        "content-signal",
        "embedding-page",
        "iptc-data-mining",
        "c2pa",
        "access-required",
        "rsl",
    ]
    assert group["inputs"] == [str(feed)] and group["records"] == 13 and group["allowed"] == 12
    by_input = {i["path"]: i["not_checked"] for i in summary["inputs"]}
    assert by_input == {str(feed): group["signals"], str(pages): []}
    # Per record, compact: the feed's record names them; the WARC's (headers and HTML read) does not.
    recs = decisions(out)
    assert recs["http://shop.example/private/x"]["not_checked"] == group["signals"]
    assert recs["http://shop.example/private/x"]["verdict"] == "reserve"
    assert "not_checked" not in recs["http://shop.example/private/a"]
    # Only what the policy reads.
    out2 = tmp_path / "t2.jsonl"
    assert audit(feed, "--robots-from", folder, "--no-source", "x-robots-tag", "--out", out2) == 1
    assert "x-robots-tag" not in trail(out2)[-1]["not_checked"][0]["signals"]


def test_the_report_carries_the_caveat_per_run(tmp_path: Path) -> None:
    feed = tmp_path / "items.jsonl"
    feed.write_text('{"url": "http://shop.example/a"}\n{"url": "http://shop.example/private/b"}\n')
    out = tmp_path / "t.jsonl"
    assert audit(feed, "--robots-from", _robots_folder(tmp_path, "shop.example"), "--out", out) == 1
    rep = tmp_path / "report"
    assert main(["report", str(out), "--out", str(rep)]) == 0
    doc = json.loads((rep / "report.json").read_text())
    (run,) = doc["runs"]
    (caveat,) = run["caveats"]
    assert caveat.startswith("2 record(s) not checked for x-robots-tag, meta-robots")
    assert "1 allowed on the site files alone" in caveat
    assert (
        "Caveat, run" in (rep / "report.html").read_text()
        and caveat.split(" (")[0] in (rep / "report.html").read_text()
    )
    assert caveat.split(" (")[0] in (rep / "report.md").read_text()


# --- 4. --fetch with no network -------------------------------------------------------------------


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()  # nothing listens there now: connections are refused, on loopback
    return port


def test_failed_fetches_are_counted_and_shown(tmp_path: Path, capsys: Any) -> None:
    port = _closed_port()
    urls = tmp_path / "urls.txt"
    urls.write_text(f"http://127.0.0.1:{port}/a\nhttp://127.0.0.1:{port}/b\n")
    out = tmp_path / "t.jsonl"
    assert audit(urls, "--fetch", "--out", out) == 1  # unreachable robots.txt: blocked (RFC 9309 §2.3.1.4)
    err = capsys.readouterr().err
    assert "--fetch: 3 of 3 site-file fetch(es) failed, for 1 origin(s)" in err
    assert "no fetch succeeded: is this machine offline?" in err and "--robots-from" in err
    assert re.search(rf"http://127\.0\.0\.1:{port}: robots: .*Connect", err)
    ff = trail(out)[-1]["fetch_failures"]
    assert ff["fetches"] == 3 and ff["total"] == 3
    assert set(ff["origins"][f"http://127.0.0.1:{port}"]) == {"robots", "tdmrep", "ai-txt"}
    assert all(r["blocked"] for r in decisions(out).values())


# --- 5. --robots-from FOLDER: no guessed scheme, undated unless dated -----------------------------


OLD_PAGE = [("http://shop.example/private/a", PLAIN_PAGE, "text/html", "2014-05-01T10:00:00Z")]


def test_folder_capture_has_no_scheme_and_no_date(tmp_path: Path) -> None:
    pages = tmp_path / "pages.warc.gz"
    pages.write_bytes(warc(OLD_PAGE))
    folder = _robots_folder(tmp_path, "shop.example")
    out = tmp_path / "t.jsonl"
    assert audit(pages, "--robots-from", folder, "--out", out) == 1
    rec = decisions(out)["http://shop.example/private/a"]
    cap = rec["capture"]["robots"]
    assert cap["url"] is None and cap["date"] is None
    assert cap["folder"] == str(folder) and cap["host"] == "shop.example"
    assert cap["file"] == str(folder / "shop.example" / "robots.txt")
    assert "every date" in cap["applies"] and "http and https" in cap["applies"]
    # The evidence is the robots.txt of the record's own origin, http as the record is.
    assert rec["evidence_url"] == "http://shop.example/robots.txt"


def test_folder_capture_dated_by_a_date_file_or_the_option(tmp_path: Path, capsys: Any) -> None:
    pages = tmp_path / "pages.warc.gz"
    pages.write_bytes(warc(OLD_PAGE))
    folder = _robots_folder(tmp_path, "shop.example")
    out = tmp_path / "t.jsonl"
    # Served from 2010 on: applies to the 2014 record.
    assert audit(pages, "--robots-from", folder, "--robots-from-date", "2010-01-01", "--out", out) == 1
    cap = decisions(out)["http://shop.example/private/a"]["capture"]["robots"]
    assert cap["date"] == "2010-01-01T00:00:00Z" and cap["applies"].startswith("from 2010-01-01T00:00:00Z on")
    # A date file beside it wins: first served in 2015, so the 2014 record had no robots.txt capture.
    (folder / "shop.example" / "robots.txt.date").write_text("2015-01-01T00:00:00Z\n")
    assert audit(pages, "--robots-from", folder, "--robots-from-date", "2010-01-01", "--out", out) == 0
    rec = decisions(out)["http://shop.example/private/a"]
    assert rec["verdict"] == "unknown" and "first capture is later (2015-01-01T00:00:00Z)" in json.dumps(rec)
    # A bad date: one line naming the file.
    (folder / "shop.example" / "robots.txt.date").write_text("last spring\n")
    capsys.readouterr()
    assert audit(pages, "--robots-from", folder, "--out", out) == 2
    err = capsys.readouterr().err
    assert "robots.txt.date: not an ISO 8601 date" in err and err.count("\n") == 1
    assert audit(pages, "--robots-from-date", "2010-01-01", "--out", out) == 2  # no folder to date


# --- 6. a crawl's trail gives the audit its policy ------------------------------------------------


@pytest.fixture
def crawl_output(make_site: Callable[..., Any], crawl: Callable[..., Any], tmp_path: Path) -> dict[str, Any]:
    """A real crawl with its own token (shopbot): its items feed and its trail, in one folder."""
    from crawlutil import page

    site = make_site({"/": page(body='<a href="/shelf/a">a</a>'), "/shelf/a": page()})
    res = crawl(
        [site.url("/")],
        settings={"NOAI_GUARD_USER_AGENTS": ["shopbot"], "NOAI_GUARD_PURPOSE": "ai-input"},
        spider={"follow": True},
    )
    assert res.returncode == 0, res.log[-2000:]
    folder = tmp_path / "output"
    folder.mkdir()
    (folder / "items.jsonl").write_bytes((res.workdir / "feed.jsonl").read_bytes())
    (folder / "crawl-trail.jsonl").write_bytes((res.workdir / "trail.jsonl").read_bytes())
    # Since then, the site says no to shopbot (and to no one else).
    robots = _robots_folder(tmp_path, f"127.0.0.1_{site.port}", b"User-agent: shopbot\nDisallow: /shelf/\n")
    return {"site": site, "folder": folder, "robots": robots}


def test_a_crawl_trail_gives_its_tokens_and_policy(
    crawl_output: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    site, folder, robots = crawl_output["site"], crawl_output["folder"], crawl_output["robots"]
    out = tmp_path / "t.jsonl"
    assert audit(folder, "--robots-from", robots, "--out", out) == 1
    err = capsys.readouterr().err
    trail_file = folder / "crawl-trail.jsonl"
    assert f"policy of the crawl's run record in {trail_file}" in err and "own token(s) shopbot" in err
    assert "purpose ai-input" in err
    run = trail(out)[0]
    assert run["policy"]["user_agents"] == ["shopbot"] and run["policy"]["purpose"] == "ai-input"
    assert run["policy_from"]["file"] == str(trail_file) and run["crawl_trails"] == [str(trail_file)]
    assert [i["file"] for i in run["inputs"]] == [str(folder / "items.jsonl")]  # the trail is not judged
    assert flagged(out) == {site.url("/shelf/a"): "robots-txt"}
    # Told otherwise on the command line: a flag overrides its field, and says so.
    assert audit(folder, "--robots-from", robots, "--user-agent", "otherbot", "--out", out) == 0
    err = capsys.readouterr().err
    assert "overridden on the command line by --user-agent" in err
    assert trail(out)[0]["policy"]["user_agents"] == ["otherbot"]
    assert trail(out)[0]["policy"]["purpose"] == "ai-input"
    # --no-crawl-policy: the defaults (token noai-guard).
    assert audit(folder, "--robots-from", robots, "--no-crawl-policy", "--out", out) == 0
    assert trail(out)[0]["policy"]["user_agents"] == ["noai-guard"] and trail(out)[0]["policy_from"] is None


def test_crawl_trails_with_different_policies(
    crawl_output: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    folder = crawl_output["folder"]
    lines = (folder / "crawl-trail.jsonl").read_text().splitlines()
    run = json.loads(lines[0])
    run["policy"]["purpose"] = "search"
    run["run_id"] = "0" * 32
    (folder / "other-trail.jsonl").write_text(json.dumps(run) + "\n")
    capsys.readouterr()
    assert audit(folder, "--out", tmp_path / "t.jsonl") == 2
    err = capsys.readouterr().err
    assert "ran with different policies; choose one with --policy TRAIL" in err and err.count("\n") == 1
    assert audit(folder, "--policy", folder / "other-trail.jsonl", "--out", tmp_path / "t.jsonl") == 0
    assert trail(tmp_path / "t.jsonl")[0]["policy"]["purpose"] == "search"


@pytest.mark.parametrize("layout", ["plain", "gzip-per-record"])
def test_arc_v2_is_named_not_misread(tmp_path: Path, layout: str) -> None:
    """ARC v2's record lines hold more fields than v1's: read as v1 they give wrong URLs. Named instead."""
    version = b"2 0 noai-guard tests\nURL IP-address Archive-date Content-type Result-code Checksum ...\n"
    recs = [arc_record("filedesc://old.arc", "20140301095900", "text/plain", version, ip="0.0.0.0")]
    recs.append(b"http://shop.example/ 127.0.0.1 20140301100000 text/html 200 abc - - 0 old.arc 4\nbody\n")
    data = b"".join(gzip.compress(r) for r in recs) if layout != "plain" else b"".join(recs)
    path = tmp_path / ("old.arc" if layout == "plain" else "old.arc.gz")
    path.write_bytes(data)
    with pytest.raises(InputError, match="ARC file of version 2: only ARC v1 is read"):
        detect(path)
    assert audit(path, "--out", tmp_path / "t.jsonl") == 2
