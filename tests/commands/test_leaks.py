"""Item 21: ``noai-guard leaks TRAIL... --feed FEED...`` lists reserved URLs that reached the crawl's own feed.

The trails come from real crawls (crawlutil: a real Scrapy engine against a
local server, the feed written by Scrapy's FEEDS), or are written with the
trail's own writer for the matching and input-format cases.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crawlutil import CrawlResult, Site, image, page, text

from noai_guard.auditlog import SCHEMA, run_record, write_all
from noai_guard.cli import main

ALLOW_ALL = "User-agent: *\nAllow: /\n"


def _leaks(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["leaks", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_audit_only_crawl_leaks_its_flagged_page(
    crawl: Callable[..., CrawlResult],
    make_site: Callable[..., Site],
    capsys: pytest.CaptureFixture[str],
) -> None:
    site = make_site(
        {
            "/robots.txt": text(ALLOW_ALL + "\nUser-agent: testbot\nDisallow: /private\n"),
            "/ok": page(),
            "/noai": page('<meta name="robots" content="noai">'),
            "/private": page(),
        }
    )
    r = crawl(
        [site.url("/ok"), site.url("/noai"), site.url("/private")], settings={"NOAI_GUARD_ENFORCE": False}
    )
    assert r.returncode == 0, r.log[-3000:]
    assert len(r.feed) == 3  # audit-only: every page reached the feed
    trail, feed = r.workdir / "trail.jsonl", r.workdir / "feed.jsonl"

    rc, out, err = _leaks(capsys, str(trail), "--feed", str(feed))
    assert rc == 1
    assert site.url("/noai") in out
    assert site.url("/private") in out
    assert site.url("/ok") not in out
    assert 'flagged (post-fetch) by meta-robots: <meta name="robots" content="noai">' in out
    assert "flagged (pre-fetch) by robots-txt: Disallow: /private" in out
    assert f"in {feed}:" in out
    assert "2 reserved URL(s) found in the feeds" in err

    rc, out, err = _leaks(capsys, str(r.workdir), "--feed", str(feed), "--json")  # a folder of trails
    assert rc == 1
    # The folder's other JSON lines files (the feed beside the trail) are skipped, and said so.
    assert f"{feed}: skipped: not a noai-guard audit trail" in err
    rows = [json.loads(ln) for ln in out.splitlines()]
    assert {x["url"]: x["signal"] for x in rows} == {
        site.url("/noai"): "meta-robots",
        site.url("/private"): "robots-txt",
    }
    run_id = r.trail[0]["run_id"]
    assert all(x["run_id"] == run_id and x["found"][0]["field"] == "url" for x in rows)


def test_enforcing_crawl_has_no_leak_but_its_reserved_images_are_found(
    crawl: Callable[..., CrawlResult],
    make_site: Callable[..., Site],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    site = make_site(
        {
            "/robots.txt": text(ALLOW_ALL),
            "/ok": page(body='<img src="/free.png">'),
            "/noai": page('<meta name="robots" content="noai">'),
            "/gallery": page('<meta name="robots" content="noimageai">', body='<p>x</p><img src="/art.png">'),
            "/free.png": image(),
            "/art.png": image(),
        }
    )
    r = crawl(
        [site.url("/ok"), site.url("/noai"), site.url("/gallery")],
        settings={
            "NOAI_GUARD_LENIENT_NOIMAGEAI": True,  # the gallery's text passes, its images are reserved
            "ITEM_PIPELINES": {"crawlutil.RecordPipeline": 900, "scrapy.pipelines.images.ImagesPipeline": 1},
            "IMAGES_STORE": str(tmp_path / "images"),
        },
        spider={"media": True},
    )
    assert r.returncode == 0, r.log[-3000:]
    assert r.decision_for(site.url("/art.png"))["signal"] == "embedding-page"
    trail, feed = r.workdir / "trail.jsonl", r.workdir / "feed.jsonl"
    # The feed's items keep image_urls: the reserved image is in the dataset's references.
    rc, out, _err = _leaks(capsys, str(trail), "--feed", str(feed))
    assert rc == 1
    assert site.url("/art.png") in out
    assert "skipped (pre-fetch) by embedding-page" in out
    assert "[image_urls]" in out
    assert site.url("/noai") not in out  # dropped: not in the feed
    assert site.url("/free.png") not in out
    # Only the url field: nothing the crawl reserved is in the feed.
    rc, out, err = _leaks(capsys, str(trail), "--feed", str(feed), "--url-field", "url")
    assert (rc, out) == (0, "")
    assert "0 reserved URL(s) found" in err


def _trail(path: Path, urls: dict[str, str]) -> Path:
    """A trail (the trail's own writer): one skip record per URL, with its evidence."""
    recs: list[dict[str, Any]] = [run_record(run_id="r1", mode="crawl", policy={})]
    for url, evidence in urls.items():
        recs.append(
            {
                "schema": SCHEMA,
                "type": "decision",
                "run_id": "r1",
                "mode": "crawl",
                "phase": "pre-fetch",
                "url": url,
                "verdict": "reserve",
                "blocked": True,
                "action": "skipped",
                "signal": "robots-txt",
                "evidence": evidence,
            }
        )
    recs.append(
        {
            "schema": SCHEMA,
            "type": "decision",
            "run_id": "r1",
            "url": "http://a.test/fine",
            "blocked": False,
            "action": "allowed",
        }
    )
    write_all(path, recs)
    return path


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    return _trail(
        tmp_path / "trail.jsonl",
        {
            "http://a.test/private/x": "Disallow: /private",
            "http://a.test/a%20b": "Disallow: /a",
            "http://a.test/img/c.png": "Disallow: /img",
        },
    )


def test_urls_match_as_the_crawl_keys_them(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        "\n".join(
            json.dumps(x)
            for x in [
                {"url": "http://A.TEST/private/x#section"},  # host case, fragment
                {"url": "http://a.test/a b"},  # a space, percent-encoded by the crawl
                {"url": "http://a.test/fine"},
                {"url": "http://a.test/private/y"},
            ]
        )
        + "\n"
    )
    rc, out, _err = _leaks(capsys, str(trail), "--feed", str(feed), "--json")
    assert rc == 1
    assert sorted(json.loads(ln)["url"] for ln in out.splitlines()) == [
        "http://a.test/a%20b",
        "http://a.test/private/x",
    ]


def test_feed_formats(trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [{"url": "http://a.test/ok", "image_urls": ["http://a.test/ok.png", "http://a.test/img/c.png"]}]
    # Scrapy's JSON exporter: "[", one item per line, "]".
    scrapy_json = tmp_path / "feed.json"
    scrapy_json.write_text("[\n" + ",\n".join(json.dumps(i) for i in items) + "\n]")
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(items, indent=2))
    # Scrapy's CSV exporter joins a list with ",".
    csv_feed = tmp_path / "feed.csv"
    csv_feed.write_text(
        "image_urls,url\r\n" + '"http://a.test/ok.png,http://a.test/img/c.png",http://a.test/ok\r\n'
    )
    gz = tmp_path / "feed.jsonl.gz"
    gz.write_bytes(gzip.compress((json.dumps(items[0]) + "\n").encode()))
    # The media pipelines' results: a list of {"url": ...}.
    results = tmp_path / "results.jsonl"
    results.write_text(
        json.dumps({"url": "http://a.test/ok", "images": [{"url": "http://a.test/img/c.png", "path": "x"}]})
        + "\n"
    )
    urls = tmp_path / "urls.txt"
    urls.write_text("http://a.test/img/c.png\n")
    for feed in (scrapy_json, pretty, csv_feed, gz, results, urls):
        rc, out, _err = _leaks(capsys, str(trail), "--feed", str(feed), "--json")
        assert rc == 1, feed
        assert [json.loads(ln)["url"] for ln in out.splitlines()] == ["http://a.test/img/c.png"], feed
    # Several feeds at once: each location is listed.
    rc, out, _err = _leaks(capsys, str(trail), "--feed", str(scrapy_json), str(csv_feed))
    assert rc == 1
    assert f"in {scrapy_json}:2 [image_urls]" in out
    assert f"in {csv_feed}:2 [image_urls]" in out


def test_no_leak_exits_0(trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"url": "http://a.test/fine"}) + "\n")
    assert _leaks(capsys, str(trail), "--feed", str(feed))[0] == 0


def test_bad_input_exits_2(trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"link": "http://a.test/private/x", "title": "t"}) + "\n")
    rc, out, err = _leaks(capsys, str(trail), "--feed", str(feed))
    assert (rc, out) == (2, "")
    assert "no item has a 'url' field (fields: link, title); name it with --url-field" in err
    assert _leaks(capsys, str(trail), "--feed", str(feed), "--url-field", "link")[0] == 1

    # The feed given as the trail: not a noai-guard trail.
    rc, _out, err = _leaks(capsys, str(feed), "--feed", str(feed))
    assert rc == 2
    assert "not a noai-guard audit trail" in err
    # A folder with no trail in it.
    feeds_only = tmp_path / "feeds"
    feeds_only.mkdir()
    (feeds_only / "items.jsonl").write_text(feed.read_text())
    rc, _out, err = _leaks(capsys, str(feeds_only), "--feed", str(feed))
    assert rc == 2
    assert "no noai-guard audit trail found" in err
    # A WARC is not a feed export.
    warc = tmp_path / "crawl.warc"
    warc.write_text("WARC/1.0\r\nWARC-Type: warcinfo\r\n\r\n")
    rc, _out, err = _leaks(capsys, str(trail), "--feed", str(warc))
    assert rc == 2
    assert "not a feed export" in err
    assert _leaks(capsys, str(trail), "--feed", str(tmp_path / "missing.jsonl"))[0] == 2
    assert _leaks(capsys, str(tmp_path / "missing.jsonl"), "--feed", str(feed))[0] == 2
    with pytest.raises(SystemExit) as exc:  # no --feed: usage error
        main(["leaks", str(trail)])
    assert exc.value.code == 2


def test_unreadable_items_are_not_a_clean_result(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"url": "http://a.test/fine"})
        + "\n{not json\n"
        + json.dumps({"url": "http://a.test/x"})
        + "\n"
    )
    rc, _out, err = _leaks(capsys, str(trail), "--feed", str(feed))
    assert rc == 2  # a leak could hide in the line that could not be read
    assert "1 item(s) could not be read: line 2" in err
    # ... but a leak found elsewhere is still a leak.
    feed.write_text("{not json\n" + json.dumps({"url": "http://a.test/private/x"}) + "\n")
    assert _leaks(capsys, str(trail), "--feed", str(feed))[0] == 1
