"""``noai-guard audit``: WARCs recorded from real HTTP traffic, feeds and logs from real crawls."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from warcio.warcwriter import WARCWriter

from noai_guard.archives import CaptureIndex, Damage, WarcPage, detect, iter_warc, load_folder, sniff_text
from noai_guard.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "audit"


def _load_make_sample() -> Any:
    spec = importlib.util.spec_from_file_location("make_sample", DATA / "make_sample.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_sample"] = mod
    spec.loader.exec_module(mod)
    return mod


ms = _load_make_sample()

# What the sample WARC must yield: URL -> (deciding signal, verdict) for every blocked record.
EXPECTED_FLAGGED = {
    "http://shop.example/articles/spring": ("robots-txt-proxy", "reserve"),
    "http://shop.example/news/today": ("meta-robots", "reserve"),
    "http://shop.example/about": ("tdmrep", "reserve"),
    "http://shop.example/img/cover.jpg": ("x-robots-tag", "reserve"),
    "http://blog.example/post/1": ("robots-txt", "unknown"),
    "http://shop.example/": ("content-usage", "reserve"),  # the 11:05 capture, after robots.txt changed
}


def audit(*args: str | Path, capsys: pytest.CaptureFixture[str] | None = None) -> int:
    return main(["audit", *map(str, args), "--no-progress"])


def trail(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def decisions(path: Path, action: str | None = None) -> list[dict[str, Any]]:
    return [r for r in trail(path) if r["type"] == "decision" and (action is None or r["action"] == action)]


def flagged(path: Path) -> dict[str, tuple[str, str]]:
    return {r["url"]: (r["signal"], r["verdict"]) for r in decisions(path, "flagged")}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample WARC, recorded afresh from the local server (per-record gzip)."""
    out: Path = ms.make_sample(tmp_path_factory.mktemp("warc") / "sample.warc.gz")
    return out


def test_shipped_sample_matches_generator(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    assert audit(DATA / "sample.warc.gz", "--out", out) == 1
    assert flagged(out) == EXPECTED_FLAGGED


def test_warc_record_by_record(sample: Path, tmp_path: Path) -> None:
    out, rm = tmp_path / "trail.jsonl", tmp_path / "removals.txt"
    assert audit(sample, "--out", out, "--removals", rm) == 1
    recs = trail(out)
    assert recs[0]["type"] == "run" and recs[-1]["type"] == "summary"
    assert recs[0]["mode"] == "audit" and recs[0]["run_id"] == recs[-1]["run_id"]
    assert flagged(out) == EXPECTED_FLAGGED
    for r in decisions(out):
        assert r["phase"] == "after-the-fact" and r["mode"] == "audit"
        assert r["warc_record_id"].startswith("<urn:uuid:") and isinstance(r["input_offset"], int)
        assert r["input_file"] == str(sample)
    by_url = {r["url"]: r for r in decisions(out, "flagged")}
    # The nearest capture at or before the record: robots.txt changed at 11:00.
    assert by_url["http://shop.example/"]["capture"]["robots"]["date"] == "2025-03-01T11:00:00Z"
    assert by_url["http://shop.example/about"]["capture"]["robots"]["date"] == "2025-03-01T10:00:00Z"
    assert by_url["http://shop.example/about"]["capture"]["robots"]["record_id"].startswith("<urn:uuid:")
    # A 5xx capture is unreachable: unknown, blocked by RFC 9309 §2.3.1.4.
    blog = by_url["http://blog.example/post/1"]
    assert blog["capture"]["robots"]["status"] == 503 and blog["blocked"] is True
    # gzip + chunked payload: the meta in the head was read.
    assert "noai" in by_url["http://shop.example/news/today"]["evidence"]
    # No robots.txt capture: unknown, said plainly, not blocked.
    (story,) = [r for r in decisions(out) if r["url"] == "http://news.example/story"]
    assert story["verdict"] == "unknown" and story["blocked"] is False and story["action"] == "allowed"
    assert "robots.txt not checked" in story["reason"]
    assert "no capture of http://news.example/robots.txt" in story["capture"]["robots"]["missing"]
    # Removals: one URL per blocked record.
    assert rm.read_text().split() == [r["url"] for r in decisions(out, "flagged")]
    summary = recs[-1]["totals"]
    assert summary["skipped"] == {"request": 1, "revisit": 1}
    assert summary["captures"] == 3 and summary["judged"] == 9 and summary["reserved"] == 6
    assert summary["non_html"] == 2  # the image and the PDF, judged by their headers


def test_removals_warc_id(sample: Path, tmp_path: Path) -> None:
    out, rm = tmp_path / "trail.jsonl", tmp_path / "ids.txt"
    assert audit(sample, "--out", out, "--removals", rm, "--removals-format", "warc-id") == 1
    ids = rm.read_text().split()
    assert ids == [r["warc_record_id"] for r in decisions(out, "flagged")]
    assert all(i.startswith("<urn:uuid:") for i in ids)


def test_uncompressed_and_whole_file_gzip(sample: Path, tmp_path: Path) -> None:
    raw = gzip.decompress(sample.read_bytes())
    plain, whole = tmp_path / "s.warc", tmp_path / "s-whole.warc.gz"
    plain.write_bytes(raw)
    whole.write_bytes(gzip.compress(raw))
    assert detect(sample).gzip == "per-record"
    assert detect(whole).gzip == "whole-file"
    assert detect(plain).kind == "warc" and detect(plain).gzip is None
    for f in (plain, whole):
        out = tmp_path / (f.name + ".jsonl")
        assert audit(f, "--out", out) == 1
        assert flagged(out) == EXPECTED_FLAGGED


def _split_sample(sample: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two WARCs from the sample: the pages, and the robots.txt captures (as Common Crawl ships them)."""
    from warcio.archiveiterator import ArchiveIterator

    pages, robots = tmp_path / "pages.warc.gz", tmp_path / "robots.warc.gz"
    with open(sample, "rb") as fh, open(pages, "wb") as p, open(robots, "wb") as r:
        wp, wr = WARCWriter(p, gzip=True), WARCWriter(r, gzip=True)
        for rec in ArchiveIterator(fh):
            uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
            (wr if uri.endswith("/robots.txt") else wp).write_record(rec)
    return pages, robots


def test_captures_in_another_input_or_robots_from(sample: Path, tmp_path: Path) -> None:
    pages, robots = _split_sample(sample, tmp_path)
    for args in ([pages, robots], [robots, pages], [pages, "--robots-from", robots]):
        out = tmp_path / "t.jsonl"
        assert audit(*args, "--out", out) == 1
        assert flagged(out) == EXPECTED_FLAGGED, args


def test_capture_stored_after_the_pages(sample: Path, tmp_path: Path) -> None:
    """A robots.txt capture written after the pages it applies to: the file is judged again."""
    pages, robots = _split_sample(sample, tmp_path)
    late = tmp_path / "late.warc.gz"
    late.write_bytes(pages.read_bytes() + robots.read_bytes())
    out = tmp_path / "t.jsonl"
    assert audit(late, "--out", out) == 1
    assert flagged(out) == EXPECTED_FLAGGED
    (inp,) = trail(out)[-1]["inputs"]
    assert inp["passes"] == 2


def test_pages_without_any_capture_are_unknown(sample: Path, tmp_path: Path) -> None:
    pages, _ = _split_sample(sample, tmp_path)
    out = tmp_path / "t.jsonl"
    assert audit(pages, "--out", out) == 1  # the page-level signals still reserve
    got = flagged(out)
    assert set(got) == {
        "http://shop.example/news/today",
        "http://shop.example/about",
        "http://shop.example/img/cover.jpg",
    }
    unknown = {r["url"] for r in decisions(out, "allowed")}
    assert "http://shop.example/articles/spring" in unknown


def test_robots_from_folder(sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pages, _ = _split_sample(sample, tmp_path)
    folder = tmp_path / "robots"
    (folder / "shop.example").mkdir(parents=True)
    (folder / "shop.example" / "robots.txt").write_text("User-agent: GPTBot\nDisallow: /articles/\n")
    (folder / "blog.example").mkdir()
    (folder / "blog.example" / "robots.txt.status").write_text("503\n")
    caps = list(load_folder(folder))
    assert {(c.origin, c.status) for c in caps} == {("*://shop.example", 200), ("*://blog.example", 503)}
    out = tmp_path / "t.jsonl"
    assert audit(pages, "--robots-from", folder, "--out", out) == 1
    got = flagged(out)
    assert got["http://shop.example/articles/spring"] == ("robots-txt-proxy", "reserve")
    assert got["http://blog.example/post/1"] == ("robots-txt", "unknown")
    # The summary counts the captures given with --robots-from (the pages file holds none).
    assert "  captures: 2 " in capsys.readouterr().err


def test_corrupt_record_is_counted_not_fatal(sample: Path, tmp_path: Path, capsys: Any) -> None:
    data = bytearray(sample.read_bytes())
    (target,) = [
        i.offset for i in iter_warc(str(sample)) if isinstance(i, WarcPage) and i.url.endswith("/about")
    ]
    data[target + 40 : target + 80] = b"\x00" * 40  # inside its gzip member's deflate data
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(bytes(data))
    out = tmp_path / "t.jsonl"
    rc = audit(bad, "--out", out)
    assert rc == 4  # a record could not be read: exit 4, whatever else was reserved
    err = capsys.readouterr().err
    assert "damaged or truncated: 1" in err and f"offset {target}" in err
    (inp,) = trail(out)[-1]["inputs"]
    assert inp["damaged"] == 1 and inp["damage"][0]["offset"] == target
    assert set(flagged(out)) == set(EXPECTED_FLAGGED) - {"http://shop.example/about"}


def test_truncated_file(sample: Path, tmp_path: Path, capsys: Any) -> None:
    raw = gzip.decompress(sample.read_bytes())
    cut = tmp_path / "cut.warc"
    cut.write_bytes(raw[: len(raw) - 300])  # the last record loses its end
    out = tmp_path / "t.jsonl"
    audit(cut, "--out", out)
    (inp,) = trail(out)[-1]["inputs"]
    assert inp["damaged"] >= 1
    assert "damaged or truncated" in capsys.readouterr().err
    cutgz = tmp_path / "cut.warc.gz"
    cutgz.write_bytes(sample.read_bytes()[:-200])
    out2 = tmp_path / "t2.jsonl"
    assert audit(cutgz, "--out", out2) == 4  # the file is cut: its end could not be read
    assert trail(out2)[-1]["inputs"][0]["damaged"] >= 1


def test_garbage_between_records(sample: Path, tmp_path: Path) -> None:
    data = sample.read_bytes()
    offsets = [i.offset for i in iter_warc(str(sample)) if not isinstance(i, Damage)]
    mid = offsets[5]
    bad = tmp_path / "garbage.warc.gz"
    bad.write_bytes(data[:mid] + b"this is not gzip" * 10 + data[mid:])
    items = list(iter_warc(str(bad)))
    dmg = [i for i in items if isinstance(i, Damage)]
    assert len(dmg) == 1 and dmg[0].offset == mid
    assert sum(isinstance(i, WarcPage) for i in items) == 9  # every page is still read


def test_exit_codes_and_errors(sample: Path, tmp_path: Path, capsys: Any) -> None:
    clean = tmp_path / "clean.warc.gz"
    site = {
        ("ok.example", "/robots.txt"): (
            200,
            [("Content-Type", "text/plain")],
            b"User-agent: *\nAllow: /\n",
            {},
        )
    }
    site[("ok.example", "/")] = (200, [("Content-Type", "text/html")], ms.page("fine"), {})
    with ms.serve(site) as addr, open(clean, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        ms.record(w, addr, "http://ok.example/robots.txt", "2025-01-01T00:00:00Z")
        ms.record(w, addr, "http://ok.example/", "2025-01-01T00:01:00Z")
    assert audit(clean, "--out", tmp_path / "c.jsonl") == 0
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(2000).replace(b"\x1f", b"x"))
    capsys.readouterr()
    assert audit(junk, "--out", tmp_path / "j.jsonl") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a recognised input" in err and "Traceback" not in err
    assert audit(tmp_path / "missing.warc", "--out", tmp_path / "m.jsonl") == 2
    assert "cannot read" in capsys.readouterr().err
    assert audit(sample, "--purpose", "nonsense", "--out", tmp_path / "p.jsonl") == 2
    assert audit(sample, "-j", "0") == 2
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--removals-format", "bogus", str(sample)])
    assert exc.value.code == 2


def test_jobs_two_merges_trails(sample: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.warc.gz"
    copy.write_bytes(sample.read_bytes())
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    rm1, rm2 = tmp_path / "rm1", tmp_path / "rm2"
    assert audit(sample, copy, "--out", one, "--removals", rm1) == 1
    assert audit(sample, copy, "-j", "2", "--out", two, "--removals", rm2) == 1
    key = lambda r: (r["input_file"], r["input_offset"], r["signal"], r["verdict"])
    assert [key(r) for r in decisions(one)] == [key(r) for r in decisions(two)]
    recs = trail(two)
    assert [r["type"] for r in recs].count("run") == 1 and [r["type"] for r in recs].count("summary") == 1
    assert len({r["run_id"] for r in recs}) == 1
    assert rm1.read_text() == rm2.read_text()
    assert recs[-1]["totals"]["reserved"] == 2 * len(EXPECTED_FLAGGED)


def test_progress_bar_when_asked(sample: Path, tmp_path: Path, capsys: Any) -> None:
    assert main(["audit", str(sample), "--out", str(tmp_path / "t.jsonl"), "--progress"]) == 1
    err = capsys.readouterr().err
    assert "\r" in err and "records (" in err and "MB/s" in err
    assert main(["audit", str(sample), "--out", str(tmp_path / "t.jsonl")]) == 1  # not a TTY: quiet
    assert "\r" not in capsys.readouterr().err


def test_sniffing() -> None:
    assert sniff_text(b"WARC/1.1\r\n") == "warc"
    assert sniff_text(b'{"url": "x"}\n') == "jsonl"
    assert sniff_text(b'[\n{"url": "x"}\n]') == "json"
    assert sniff_text(b"url,title\nhttp://a/,t\n") == "csv"
    assert sniff_text(b"# list\nhttps://a.example/\n") == "url-list"
    log = b"2025-01-01 10:00:00 [scrapy.core.engine] DEBUG: Crawled (200) <GET http://a/> (referer: None)\n"
    assert sniff_text(log) == "scrapy-log"
    assert sniff_text(b"\x00\x01binary") is None


def test_capture_index_nearest_and_redirects() -> None:
    from noai_guard.archives import Capture

    def cap(
        url: str, ts: float, status: int = 200, body: bytes = b"", location: str | None = None
    ) -> Capture:
        from noai_guard.sitefiles import origin_of

        return Capture(
            "robots", url, origin_of(url), str(ts), ts, f"<id{ts}>", status, body, location=location
        )

    idx = CaptureIndex(
        [
            cap("http://a.example/robots.txt", 10, body=b"User-agent: *\nDisallow: /x\n"),
            cap("http://a.example/robots.txt", 20, 301, location="https://a.example/robots.txt"),
            cap("https://a.example/robots.txt", 19, body=b"User-agent: *\nDisallow: /y\n"),
        ]
    )
    assert idx.nearest("http://a.example", "robots", 5) is None
    assert idx.nearest("http://a.example", "robots", 15).ts == 10  # type: ignore[union-attr]
    got = idx.resolve("http://a.example", "robots", 25)
    assert got is not None
    _sf, chain = got
    assert [c.ts for c in chain] == [20, 19]  # followed the redirect to the https capture
    loop = CaptureIndex(
        [
            cap(f"http://l{i}.example/robots.txt", 1, 302, location=f"http://l{i + 1}.example/robots.txt")
            for i in range(7)
        ]
    )
    loop.add(cap("http://l7.example/robots.txt", 1))
    got2 = loop.resolve("http://l0.example", "robots", 5)
    assert got2 is not None and "redirects" in got2[0].detail  # type: ignore[union-attr]


# --- feeds, logs and URL lists from a real Scrapy crawl ----------------------------------------------


@pytest.fixture
def crawled(make_site: Callable[..., Any], crawl: Callable[..., Any], tmp_path: Path) -> dict[str, Any]:
    from crawlutil import page

    site = make_site(
        {
            "/": page(body='<a href="/private/a">a</a> <a href="/public/b">b</a> <a href="/noai">c</a>'),
            "/private/a": page(),
            "/public/b": page(),
            "/noai": page('<meta name="robots" content="noai">'),
        }
    )
    out = tmp_path / "feeds"
    out.mkdir()
    res = crawl(
        [site.url("/")],
        settings={
            "ADDONS": {},
            "FEEDS": {
                str(out / "items.jsonl"): {"format": "jsonlines"},
                str(out / "items.json"): {"format": "json"},
                str(out / "items.csv"): {"format": "csv", "fields": ["status", "url"]},
            },
        },
        spider={"follow": True},
    )
    assert res.returncode == 0, res.log[-2000:]
    return {"site": site, "dir": out, "log": res.workdir / "crawl.log"}


def test_feeds_and_log_from_a_real_crawl(crawled: dict[str, Any], tmp_path: Path) -> None:
    site = crawled["site"]
    folder = tmp_path / "robots"
    host = folder / f"127.0.0.1_{site.port}"
    host.mkdir(parents=True)
    (host / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    expected = {site.url("/private/a")}
    feeds = [crawled["dir"] / n for n in ("items.jsonl", "items.json", "items.csv")] + [crawled["log"]]
    kinds = [detect(f).kind for f in feeds]
    assert kinds == ["jsonl", "json", "csv", "scrapy-log"]
    for f in feeds:
        out, rm = tmp_path / f"{f.name}.trail", tmp_path / f"{f.name}.rm"
        assert audit(f, "--robots-from", folder, "--out", out, "--removals", rm) == 1, f
        assert set(rm.read_text().split()) == expected, f
        (rec,) = decisions(out, "flagged")
        assert rec["signal"] == "robots-txt" and rec["capture"]["robots"]["file"] == str(host / "robots.txt")
        assert isinstance(rec["input_line"], int)
    # URL inputs without captures: unknown, said plainly; nothing reserved.
    out = tmp_path / "none.trail"
    assert audit(crawled["dir"] / "items.jsonl", "--out", out) == 0
    recs = decisions(out)
    assert len(recs) == 4 and all(r["verdict"] == "unknown" and not r["blocked"] for r in recs)
    assert all("robots.txt not checked" in r["reason"] for r in recs)


def test_url_list_and_url_field(tmp_path: Path) -> None:
    folder = tmp_path / "r" / "a.example"
    folder.mkdir(parents=True)
    (folder / "robots.txt").write_text("User-agent: *\nDisallow: /no/\n")
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "# crawl list\nhttps://a.example/no/1\nhttps://a.example/yes/2\nhttps://a.example/robots.txt\n"
    )
    out = tmp_path / "t.jsonl"
    assert audit(urls, "--robots-from", tmp_path / "r", "--out", out) == 1
    assert list(flagged(out)) == ["https://a.example/no/1"]
    feed = tmp_path / "f.jsonl.gz"
    feed.write_bytes(gzip.compress(b'{"link": "https://a.example/no/3"}\n{"other": 1}\n'))
    out2 = tmp_path / "t2.jsonl"
    assert audit(feed, "--url-field", "link", "--robots-from", tmp_path / "r", "--out", out2) == 1
    assert list(flagged(out2)) == ["https://a.example/no/3"]
    assert trail(out2)[-1]["inputs"][0]["damaged"] == 1  # the line without the field


def test_fetch_through_scrapy(make_site: Callable[..., Any], tmp_path: Path) -> None:
    from crawlutil import redirect, text

    site = make_site(
        {
            "/robots.txt": text("User-agent: *\nDisallow: /private/\nCrawl-delay: 0.2\n"),
            "/.well-known/tdmrep.json": Route_json('[{"location": "/tdm/*", "tdm-reservation": 1}]'),
            "/ai.txt": text("", status=404),
        }
    )
    loop = make_site(
        {"/robots.txt": redirect("/r1")} | {f"/r{i}": redirect(f"/r{i + 1}") for i in range(1, 9)}
    )
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "\n".join([site.url("/private/x"), site.url("/tdm/y"), site.url("/open"), loop.url("/private/z")])
        + "\n"
    )
    out = tmp_path / "t.jsonl"
    assert audit(urls, "--fetch", "--out", out) == 1
    got = flagged(out)
    assert got == {
        site.url("/private/x"): ("robots-txt", "reserve"),
        site.url("/tdm/y"): ("tdmrep", "reserve"),
    }
    recs = {r["url"]: r for r in decisions(out)}
    assert recs[site.url("/private/x")]["capture"]["robots"]["source"] == "fetched"
    # More than five redirects: robots.txt unavailable, so no rules: allowed (not in the trail).
    assert loop.url("/private/z") not in recs
    assert site.count("/robots.txt") == 1 and site.count("/.well-known/tdmrep.json") == 1
    hits = [h for h in site.log if h.path in ("/robots.txt", "/.well-known/tdmrep.json")]
    assert hits[1].time - hits[0].time >= 0.15  # Crawl-delay honoured between the origin's fetches


def Route_json(body: str) -> Any:
    from crawlutil import Route

    return Route(body=body, content_type="application/json")


def test_command_in_a_subprocess(sample: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "noai_guard.cli", "audit", str(sample), "--out", str(tmp_path / "t.jsonl")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "blocked: 6   unknown, allowed by policy: 1   allowed: 2" in proc.stderr and proc.stdout == ""


def test_head_is_read_like_the_middleware(tmp_path: Path) -> None:
    """A head longer than the first prefix, and a meta after </head> before <body>."""
    from noai_guard.evaluate import response_signals
    from noai_guard.policy import Policy

    long_head = "".join(f'<meta name="x{i}" content="{"y" * 200}">' for i in range(400))
    body = (
        f'<html><head>{long_head}</head>\n<meta name="robots" content="noai">\n<body><p>x</p></body></html>'
    )
    site = {("h.example", "/"): (200, [("Content-Type", "text/html")], body.encode(), {"gzip": True})}
    warc = tmp_path / "h.warc.gz"
    with ms.serve(site) as addr, open(warc, "wb") as fh:
        ms.record(WARCWriter(fh, gzip=True), addr, "http://h.example/", "2025-01-01T00:00:00Z")
    (pg,) = [i for i in iter_warc(str(warc)) if isinstance(i, WarcPage)]
    policy = Policy()
    whole = response_signals(
        "http://h.example/", policy, headers=[("Content-Type", "text/html")], body=body.encode()
    )
    mine = response_signals("http://h.example/", policy, headers=pg.headers, body=pg.body, head=pg.head)
    assert [(s.name, s.verdict) for s in mine] == [(s.name, s.verdict) for s in whole]
    assert any(s.name == "meta-robots" for s in mine)


def test_payload_codings() -> None:
    from noai_guard.archives import PayloadReader

    html = b"<html><head><title>t</title></head><body>" + b"x" * 50000 + b"</body></html>"
    gz = gzip.compress(html)
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(gz[i : i + 999]), gz[i : i + 999]) for i in range(0, len(gz), 999)
    )
    chunked += b"0\r\n\r\n"
    hdrs = [("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]
    assert PayloadReader(io.BytesIO(chunked), hdrs).read_until(10**6) == html
    # Stored already decoded though the headers still say gzip + chunked: undecodable, as the
    # crawl would find it (an unknown), never the stored bytes read as the page.
    pr = PayloadReader(io.BytesIO(html), hdrs)
    assert pr.read_until(10**6) == b"" and pr.state[0].value == "undecodable"


@pytest.mark.parametrize(
    "doc",
    [
        "<html><head><title>t</title><meta name=description content=x></head><body>x</body></html>",
        '<html><head><meta name="robots" content="index, follow"></head><body>x</body></html>',
        '<html><head><meta name="ROBOTS" content="NOAI"></head><body>x</body></html>',
        '<html><head><meta name="r&#111;bots" content="n&#111;ai"></head><body>x</body></html>',
        '<head><script>var s = "<body>";</script><meta name="robots" content="noai"></head><body>x',
        '<head><!-- <body> --><meta name="tdm-reservation" content="1"></head><body>x',
        '<head><meta name="GPTBot" content="noai"></head><body>x',
        '<head><meta name="noai-guard" content="noml"></head><body>x',
        "<head><title>no body tag at all</title>",
        '<head><title>x</title></head><meta name="robots" content="noai"><body>after head',
    ],
)
def test_parser_skip_gives_the_parsers_answer(doc: str) -> None:
    """Reading a prefix of the payload gives what the middleware gets from the whole body."""
    from noai_guard.archives import PayloadReader, _read_html_head
    from noai_guard.evaluate import response_signals
    from noai_guard.policy import Policy

    policy = Policy()
    body = doc.encode()
    hdrs = [("Content-Type", "text/html")]
    _, head = _read_html_head(PayloadReader(io.BytesIO(body), hdrs), "http://a/", "text/html", policy)
    fast = response_signals("http://a/", policy, headers=hdrs, body=body, head=head)
    full = response_signals("http://a/", policy, headers=hdrs, body=body)
    assert [s.to_dict() for s in fast] == [s.to_dict() for s in full]
