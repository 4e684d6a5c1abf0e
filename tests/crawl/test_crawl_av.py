"""Issue 15 item 0: a page whose noai / noml reserves it reserves the audio and video it embeds.

Real crawls through a real Scrapy engine against local servers (``crawlutil``):
a reserving page is fetched (and dropped), then a slower allowed page embeds the
same media and FilesPipeline asks for them; the guard refuses them before the
fetch, with the reserving page as evidence.  ``noimageai`` reserves images only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawlutil import CrawlResult, Route, Site, image, page, text

Crawl = Callable[..., CrawlResult]
MakeSite = Callable[..., Site]

ALLOW_ALL = "User-agent: *\nAllow: /\n"
# What the spider hands FilesPipeline from each page it gets.
FILES = "img::attr(src), video::attr(src), video::attr(poster), audio::attr(src), source::attr(src)"


def media(content_type: str) -> Route:
    return Route(body=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, content_type=content_type)


def _settings(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "ITEM_PIPELINES": {"crawlutil.RecordPipeline": 900, "scrapy.pipelines.files.FilesPipeline": 1},
        "FILES_STORE": str(tmp_path / "files"),
        **extra,
    }


NOAI_HEAD = (
    '<meta name="robots" content="noai">'
    '<meta property="og:video:secure_url" content="/og.mp4">'
    '<meta property="og:audio" content="/og.mp3">'
    '<meta name="twitter:player:stream" content="/stream.mp4">'
)
NOAI_BODY = (
    '<video controls poster="/poster.jpg">\n'
    '  <source src="/v.webm" type="video/webm">\n'
    '  <source src="/v.mp4" type="video/mp4">\n'  # libxml2 nests it in the source before
    "  Your browser cannot play it.\n"
    '</video><audio src="/track.mp3"></audio>'
)
NOAI_MEDIA = ["/og.mp4", "/og.mp3", "/stream.mp4", "/poster.jpg", "/v.webm", "/v.mp4", "/track.mp3"]


def test_noai_page_reserves_its_audio_and_video_before_the_fetch(
    crawl: Crawl, make_site: MakeSite, tmp_path: Path
) -> None:
    """Before issue 15 only the images were remembered: FilesPipeline downloaded every one of these."""
    later = "".join(f'<video src="{p}"></video>' for p in NOAI_MEDIA) + '<video src="/free.mp4"></video>'
    site = make_site(
        {
            "/robots.txt": text(ALLOW_ALL),
            "/track": page(NOAI_HEAD, NOAI_BODY),
            # noml in the header: it reserves ai-train, so the song too.
            "/song": Route(
                body="<!DOCTYPE html><html><head><title>s</title></head><body><audio controls>"
                '<source src="/song.ogg" type="audio/ogg"></audio></body></html>',
                content_type="text/html; charset=utf-8",
                headers=[("X-Robots-Tag", "noml")],
            ),
            # Allowed, slower: embeds them all, so the pipeline asks for them after the reserving pages.
            "/later": page(body=later + '<audio src="/song.ogg"></audio>', delay=0.5),
            **{p: media("video/mp4") for p in NOAI_MEDIA if p != "/poster.jpg"},
            "/poster.jpg": image(),
            "/song.ogg": media("audio/ogg"),
            "/free.mp4": media("video/mp4"),
        }
    )
    r = crawl(
        [site.url("/track"), site.url("/song"), site.url("/later")],
        settings=_settings(tmp_path),
        spider={"files": FILES},
    )
    assert r.returncode == 0, r.log[-3000:]
    assert r.decision_for(site.url("/track"))["action"] == "dropped"
    for path in NOAI_MEDIA:
        rec = r.decision_for(site.url(path))
        assert (rec["action"], rec["signal"], rec["evidence_url"]) == (
            "skipped",
            "embedding-page",
            site.url("/track"),
        ), path
        assert rec["evidence"] == '<meta name="robots" content="noai">'
        assert site.count(path) == 0, path
    rec = r.decision_for(site.url("/song.ogg"))
    assert (rec["action"], rec["signal"], rec["evidence_url"]) == (
        "skipped",
        "embedding-page",
        site.url("/song"),
    )
    assert rec["evidence"] == "noml"  # the X-Robots-Tag value
    assert site.count("/song.ogg") == 0
    # What no reserving page embeds is downloaded.
    assert site.count("/free.mp4") == 1
    item = next(i for i in r.items if i["url"] == site.url("/later"))
    assert [f["url"] for f in item["files"]] == [site.url("/free.mp4")]
    assert r.stat("noai_guard/audio_video/reserved") == len(NOAI_MEDIA) + 1
    assert r.stat("noai_guard/images/reserved") == 0  # no <img>, no og:image


def test_noimageai_page_reserves_its_images_not_its_video(
    crawl: Crawl, make_site: MakeSite, tmp_path: Path
) -> None:
    """noimageai binds images only: the page's video and its audio are downloaded, its image is not."""
    body = (
        '<img src="/art.png"><video src="/clip.mp4" poster="/still.jpg"></video><audio src="/a.mp3"></audio>'
    )
    site = make_site(
        {
            "/robots.txt": text(ALLOW_ALL),
            "/art": page('<meta name="robots" content="noimageai">', body),
            "/art.png": image(),
            "/still.jpg": image(),
            "/clip.mp4": media("video/mp4"),
            "/a.mp3": media("audio/mpeg"),
        }
    )
    r = crawl(
        [site.url("/art")],
        settings=_settings(tmp_path, NOAI_GUARD_LENIENT_NOIMAGEAI=True),
        spider={"files": FILES},
    )
    assert r.returncode == 0, r.log[-3000:]
    assert site.url("/art") in r.callbacks  # lenient: the text passes, the spider asks for its media
    rec = r.decision_for(site.url("/art.png"))
    assert (rec["action"], rec["signal"]) == ("skipped", "embedding-page")
    assert site.count("/art.png") == 0
    for path in ("/clip.mp4", "/a.mp3", "/still.jpg"):
        assert site.count(path) == 1, path
    item = next(i for i in r.items if i["url"] == site.url("/art"))
    assert sorted(f["url"] for f in item["files"]) == sorted(
        site.url(p) for p in ("/clip.mp4", "/a.mp3", "/still.jpg")
    )
    assert r.stat("noai_guard/audio_video/reserved") == 0
    assert r.stat("noai_guard/images/reserved") == 1
