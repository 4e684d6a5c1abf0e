"""Image provenance offline: ``noai-guard audit`` flags an image a reserving page embeds.

A page whose noai / noimageai / noml (meta or X-Robots-Tag) reserves the
images it embeds makes each of them ``embedding-page``, the page as evidence,
as the crawl decides an image it meets on such a page; offline, the page and
the image may come in either order, in one WARC or in two, judged by one
worker process or several.  WARCs are written with warcio at test time.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from noai_guard import auditing
from noai_guard.archives import CaptureIndex, InputInfo, WarcPage, detect, iter_warc
from noai_guard.cli import main
from noai_guard.decision import EMBEDDING_PAGE, SIGNALS
from noai_guard.engine import Judge, Page
from noai_guard.policy import Policy

SHOP = "http://shop.example"
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
NOIMAGEAI = '<meta name="robots" content="noimageai">'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def gallery(metas: str = NOIMAGEAI, images: str = '<img src="/img/a.png"><img src="b.png#top">') -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>gallery</title>{metas}</head>"
        f"<body><h1>gallery</h1>{images}</body></html>"
    ).encode()


def record(
    url: str,
    body: bytes,
    ctype: str = "text/html; charset=utf-8",
    *,
    minute: int = 1,
    headers: tuple[tuple[str, str], ...] = (),
    warc_headers: dict[str, str] | None = None,
    length: int | None = None,
) -> bytes:
    """One response record, one gzip member (as Common Crawl writes them)."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    http = StatusAndHeaders(
        "200 OK",
        [("Content-Type", ctype), ("Content-Length", str(len(body) if length is None else length)), *headers],
        protocol="HTTP/1.1",
    )
    rec = w.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        http_headers=http,
        warc_headers_dict={"WARC-Date": f"2025-03-01T10:{minute:02d}:00Z", **(warc_headers or {})},
    )
    w.write_record(rec)
    return buf.getvalue()


ROBOTS_REC = record(f"{SHOP}/robots.txt", ROBOTS, "text/plain", minute=0)
PAGE_REC = record(f"{SHOP}/gallery/", gallery(), minute=2)
IMG_A = record(f"{SHOP}/img/a.png", PNG, "image/png", minute=3)
IMG_B = record(f"{SHOP}/gallery/b.png", PNG, "image/png", minute=4)
OTHER = record(f"{SHOP}/img/other.png", PNG, "image/png", minute=5)  # embedded by no page


def audit(tmp_path: Path, *inputs: Path, jobs: int = 1, name: str = "trail") -> dict[str, Any]:
    out, rm = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.removals"
    rc = main(
        [
            "audit",
            *map(str, inputs),
            "-j",
            str(jobs),
            "--out",
            str(out),
            "--removals",
            str(rm),
            "--no-progress",
        ]
    )
    recs = [json.loads(x) for x in out.read_text("utf-8").splitlines() if x.strip()]
    return {
        "rc": rc,
        "decisions": [r for r in recs if r["type"] == "decision"],
        "summary": recs[-1],
        "removals": rm.read_text("utf-8").split(),
    }


def write(path: Path, *recs: bytes) -> Path:
    path.write_bytes(b"".join(recs))
    return path


def by_url(decisions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in decisions:
        assert r["url"] not in out, f"two decision records for {r['url']}"
        out[r["url"]] = r
    return out


def check_flagged_images(got: dict[str, Any]) -> None:
    """Both images the page embeds are flagged as embedding-page, the page as evidence; the other is not."""
    recs = by_url(got["decisions"])
    for url in (f"{SHOP}/img/a.png", f"{SHOP}/gallery/b.png"):
        r = recs[url]
        assert (r["action"], r["verdict"], r["blocked"]) == ("flagged", "reserve", True)
        assert r["signal"] == EMBEDDING_PAGE
        assert r["evidence"] == NOIMAGEAI and r["evidence_url"] == f"{SHOP}/gallery/"
        assert r["phase"] == "after-the-fact" and r["mode"] == "audit"
        assert r["warc_record_id"].startswith("<urn:uuid:") and isinstance(r["input_offset"], int)
        assert r["capture"]["robots"]["url"] == f"{SHOP}/robots.txt"
        assert url in got["removals"]
    assert recs[f"{SHOP}/gallery/"]["signal"] == "meta-robots"
    assert f"{SHOP}/img/other.png" not in recs and f"{SHOP}/img/other.png" not in got["removals"]
    totals = got["summary"]["totals"]
    assert (totals["judged"], totals["reserved"], totals["allowed"], totals["unknown"]) == (4, 3, 1, 0)
    assert got["summary"]["origins"][SHOP] == {"judged": 4, "reserved": 3, "unknown": 0}
    assert got["rc"] == 1


@pytest.mark.parametrize("order", ["page first", "images first", "page between"])
def test_one_warc_either_order(tmp_path: Path, order: str) -> None:
    recs = {
        "page first": (ROBOTS_REC, PAGE_REC, IMG_A, OTHER, IMG_B),
        "images first": (ROBOTS_REC, IMG_A, OTHER, IMG_B, PAGE_REC),
        "page between": (ROBOTS_REC, IMG_A, PAGE_REC, OTHER, IMG_B),
    }[order]
    got = audit(tmp_path, write(tmp_path / "one.warc.gz", *recs))
    check_flagged_images(got)
    # Each flagged record is where the image's own decision would be: the trail and the
    # removal list follow the order of the records.
    order_urls = [u for u in (_url(r) for r in recs) if u in {d["url"] for d in got["decisions"]}]
    assert [d["url"] for d in got["decisions"]] == order_urls
    assert got["removals"] == order_urls


def _url(raw: bytes) -> str:
    import gzip

    head = gzip.decompress(raw).split(b"\r\n\r\n", 1)[0].decode()
    return next(ln.split(": ", 1)[1] for ln in head.splitlines() if ln.startswith("WARC-Target-URI"))


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("page_in_first", [True, False])
def test_across_warc_files_and_worker_processes(tmp_path: Path, jobs: int, page_in_first: bool) -> None:
    pages = write(tmp_path / "pages.warc.gz", ROBOTS_REC, PAGE_REC)
    images = write(tmp_path / "images.warc.gz", ROBOTS_REC, IMG_A, OTHER, IMG_B)
    inputs = (pages, images) if page_in_first else (images, pages)
    got = audit(tmp_path, *inputs, jobs=jobs)
    recs = by_url(got["decisions"])
    for url in (f"{SHOP}/img/a.png", f"{SHOP}/gallery/b.png"):
        assert (recs[url]["signal"], recs[url]["evidence"]) == (EMBEDDING_PAGE, NOIMAGEAI)
        assert recs[url]["input_file"] == str(images)
    totals = got["summary"]["totals"]
    assert (totals["reserved"], totals["allowed"]) == (3, 1)
    per_input = {i["path"]: i for i in got["summary"]["inputs"]}
    assert (per_input[str(images)]["reserved"], per_input[str(images)]["allowed"]) == (2, 1)
    assert per_input[str(pages)]["reserved"] == 1
    assert got["rc"] == 1


def test_unknown_image_record_is_replaced_not_duplicated(tmp_path: Path) -> None:
    """No robots.txt capture: the image is unknown (written, action allowed); the embedding page reserves it."""
    warc = write(tmp_path / "nocap.warc.gz", IMG_A, PAGE_REC, OTHER)
    got = audit(tmp_path, warc)
    recs = by_url(got["decisions"])  # one record per URL
    assert recs[f"{SHOP}/img/a.png"]["signal"] == EMBEDDING_PAGE
    assert recs[f"{SHOP}/img/a.png"]["action"] == "flagged"
    assert "robots.txt not checked" in recs[f"{SHOP}/img/other.png"]["reason"]
    assert recs[f"{SHOP}/img/other.png"]["action"] == "allowed"
    totals = got["summary"]["totals"]
    assert (totals["reserved"], totals["unknown"], totals["allowed"]) == (2, 1, 0)
    assert got["summary"]["origins"][SHOP] == {"judged": 3, "reserved": 2, "unknown": 1}
    assert [d["url"] for d in got["decisions"]] == [
        f"{SHOP}/img/a.png",
        f"{SHOP}/gallery/",
        f"{SHOP}/img/other.png",
    ]


def test_x_robots_tag_page_and_a_url_list(tmp_path: Path) -> None:
    """X-Robots-Tag noai on the page reserves its images; an image URL of a URL list is matched too."""
    page = record(f"{SHOP}/gallery/", gallery(metas=""), minute=2, headers=(("X-Robots-Tag", "noai"),))
    warc = write(tmp_path / "xrt.warc.gz", ROBOTS_REC, page)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{SHOP}/img/a.png\n{SHOP}/img/other.png\n", "utf-8")
    got = audit(tmp_path, urls, warc)
    recs = by_url(got["decisions"])  # the URL's own record (unknown: no capture for a URL list) is replaced
    r = recs[f"{SHOP}/img/a.png"]
    assert (r["signal"], r["evidence"], r["input_line"], r["action"]) == (
        EMBEDDING_PAGE,
        "noai",
        1,
        "flagged",
    )
    assert recs[f"{SHOP}/img/other.png"]["verdict"] == "unknown"
    assert got["removals"] == [f"{SHOP}/img/a.png", f"{SHOP}/gallery/"]


def test_a_page_that_does_not_reserve_images(tmp_path: Path) -> None:
    """noindex, or no image directive at all, reserves nothing the page embeds."""
    page = record(f"{SHOP}/gallery/", gallery(metas='<meta name="robots" content="noindex">'), minute=2)
    got = audit(tmp_path, write(tmp_path / "n.warc.gz", ROBOTS_REC, IMG_A, page, IMG_B))
    assert got["decisions"] == [] and got["removals"] == [] and got["rc"] == 0


def test_image_blocked_on_its_own_keeps_its_own_decision(tmp_path: Path) -> None:
    """An image already reserved by its own signal is flagged once, for that signal."""
    img = record(f"{SHOP}/img/a.png", PNG, "image/png", minute=3, headers=(("X-Robots-Tag", "noai"),))
    got = audit(tmp_path, write(tmp_path / "o.warc.gz", ROBOTS_REC, img, PAGE_REC))
    assert by_url(got["decisions"])[f"{SHOP}/img/a.png"]["signal"] == "x-robots-tag"
    assert got["removals"].count(f"{SHOP}/img/a.png") == 1


def test_images_listed_past_the_head_budget(tmp_path: Path) -> None:
    """The engine reads on from the record's open payload: an image far into the body is found."""
    filler = "<p>" + "x" * 100 + "</p>\n"
    body = gallery(images=filler * 20_000 + '<img src="/img/a.png">')  # ~2 MB before the image
    assert len(body) > 8 * Policy().html_budget
    got = audit(
        tmp_path, write(tmp_path / "far.warc.gz", ROBOTS_REC, IMG_A, record(f"{SHOP}/gallery/", body))
    )
    assert by_url(got["decisions"])[f"{SHOP}/img/a.png"]["signal"] == EMBEDDING_PAGE


def test_a_page_whose_payload_breaks_is_damage_and_reserves_nothing(tmp_path: Path) -> None:
    """The page's gzip member is corrupt past its head: as before, damage, not judged; its images are not used."""
    filler = random.Random(3).randbytes(600_000).hex()
    body = gallery(images='<img src="/img/a.png"><p>' + filler + "</p>")
    page = bytearray(record(f"{SHOP}/gallery/", body, minute=2))
    at = len(page) * 3 // 4
    page[at : at + 64] = b"\x00" * 64
    got = audit(tmp_path, write(tmp_path / "broken.warc.gz", ROBOTS_REC, bytes(page), IMG_A))
    assert got["rc"] == 4
    assert got["decisions"] == []  # the image stays allowed
    (inp,) = got["summary"]["inputs"]
    assert inp["unreadable"] == 1 and "could not be read" in inp["damage"][0]["error"]
    assert (inp["records"], inp["judged"]) == (2, 1)


def test_off_when_the_policy_leaves_embedding_page_out(tmp_path: Path) -> None:
    warc = write(tmp_path / "off.warc.gz", ROBOTS_REC, IMG_A, PAGE_REC)
    info = detect(warc)
    for sources, expect in ((frozenset(SIGNALS), 2), (frozenset(SIGNALS) - {EMBEDDING_PAGE}, 1)):
        policy = Policy(sources=sources)
        results = _run(tmp_path, info, policy)
        out = tmp_path / "off.jsonl"
        summary: dict[str, Any] = {"totals": {"reserved": results[0].stats.reserved}}
        auditing.merge_outputs(results, str(out), None, {"type": "run"}, summary)
        assert summary["totals"]["reserved"] == expect
        assert results[0].candidates == (1 if expect == 2 else 0)


def _run(tmp_path: Path, info: InputInfo, policy: Policy) -> list[auditing.FileResult]:
    job = auditing.Job(
        index=0,
        info=info,
        policy=policy,
        run_id="r",
        trail_part=str(tmp_path / "part.jsonl"),
        removals_part=str(tmp_path / "part.removals"),
    )
    return auditing.run_jobs([job], CaptureIndex(), None, workers=1, progress=None)


def test_record_reserved_media_matches_the_engine(tmp_path: Path) -> None:
    """What the worker lists for a page is the engine's embedded_media of that page, as read from the WARC."""
    warc = write(tmp_path / "m.warc.gz", ROBOTS_REC, PAGE_REC)
    (result,) = _run(tmp_path, detect(warc), Policy())
    (media,) = result.media
    judge = Judge(Policy())
    page = Page(f"{SHOP}/gallery/", headers=(("Content-Type", "text/html; charset=utf-8"),), body=gallery())
    expected = judge.embedded_media(page, judge.after_fetch(page, None))
    assert expected is not None
    assert media == expected
    assert media.urls == (f"{SHOP}/img/a.png", f"{SHOP}/gallery/b.png#top")


# -- a page cut short in the WARC: its end is not the page's end (as the crawl's dataloss) ----------

CUT_PAGE = b'<!DOCTYPE html><html><head><title>t</title><link rel="stylesheet" href="/a.css">'


def test_warc_truncated_page_with_its_head_open_is_unknown(tmp_path: Path) -> None:
    rec = record(f"{SHOP}/cut", CUT_PAGE, warc_headers={"WARC-Truncated": "disconnect"}, length=5000)
    got = audit(tmp_path, write(tmp_path / "cut.warc.gz", ROBOTS_REC, rec))
    (r,) = got["decisions"]
    assert (r["verdict"], r["signal"], r["action"], r["truncated"]) == (
        "unknown",
        "meta-robots",
        "allowed",
        True,
    )
    assert "cut" in r["reason"] or "cut" in json.dumps(r["signals"])


def test_record_cut_by_the_end_of_the_file_is_read_as_cut(tmp_path: Path) -> None:
    """A record shorter than its Content-Length (the file ends inside it): the head left open is unknown."""
    import gzip as _gzip

    full = _gzip.decompress(ROBOTS_REC) + _gzip.decompress(record(f"{SHOP}/cut", CUT_PAGE + b"x" * 4000))
    head_end = full.index(CUT_PAGE) + len(CUT_PAGE)
    warc = tmp_path / "short.warc"
    warc.write_bytes(full[:head_end])
    pages = [i for i in iter_warc(str(warc)) if isinstance(i, WarcPage)]
    assert pages and pages[0].truncated
    got = audit(tmp_path, warc)
    (r,) = got["decisions"]
    assert (r["verdict"], r["signal"]) == ("unknown", "meta-robots")


def test_media_key_is_the_crawls_and_never_raises() -> None:
    """safe_url_string and no fragment, as the crawl keys remembered images; a URL w3lib refuses is kept."""
    assert auditing.media_key("http://shop.example/a b.png#x") == "http://shop.example/a%20b.png"
    assert auditing.media_key("http://shop.example/\u00e9.png") == "http://shop.example/%C3%A9.png"
    assert auditing.media_key("http://shop.example:99999/a.png#x") == "http://shop.example:99999/a.png"
    assert auditing.media_key("http://shop.example/\ud800.png") == "http://shop.example/\ud800.png"
