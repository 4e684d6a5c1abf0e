"""Issue 15 item 0 offline: ``noai-guard audit`` flags the audio and video a noai / noml page embeds.

As the crawl decides them: ``embedding-page``, the page as evidence, whichever
order the page and the media records come in; ``noimageai`` flags the page's
images, not its audio or video.  WARCs are written with warcio at test time
(``test_audit_media``'s helpers).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_audit_media import PNG, ROBOTS_REC, SHOP, audit, by_url, record, write

from noai_guard.decision import EMBEDDING_PAGE
from noai_guard.engine import Judge, Page, is_media
from noai_guard.policy import Policy

NOAI = '<meta name="robots" content="noai">'
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


def player(metas: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head><title>track</title>"
        f'{metas}<meta property="og:video:url" content="/og/clip.mp4">'
        '<meta name="twitter:player:stream" content="https://cdn.example/stream.mp4"></head>'
        '<body><img src="/cover.png"><video controls poster="/poster.png">'
        '<source src="/v/clip.webm" type="video/webm"><source src="/v/clip.mp4" type="video/mp4"></video>'
        '<audio src="/a/song.mp3"></audio></body></html>'
    ).encode()


AV = {
    f"{SHOP}/og/clip.mp4": "video/mp4",
    "https://cdn.example/stream.mp4": "video/mp4",
    f"{SHOP}/poster.png": "image/png",
    f"{SHOP}/v/clip.webm": "video/webm",
    f"{SHOP}/v/clip.mp4": "video/mp4",
    f"{SHOP}/a/song.mp3": "audio/mpeg",
}
COVER = f"{SHOP}/cover.png"
FREE = f"{SHOP}/v/free.mp4"  # embedded by no page


def media_records() -> list[bytes]:
    recs = [record(url, MP4, ctype, minute=3 + i) for i, (url, ctype) in enumerate(AV.items())]
    return [*recs, record(COVER, PNG, "image/png", minute=20), record(FREE, MP4, "video/mp4", minute=21)]


@pytest.mark.parametrize("page_first", [True, False])
def test_noai_page_flags_its_audio_and_video(tmp_path: Path, page_first: bool) -> None:
    """Before issue 15 only the cover image was flagged; the video, its poster and the song were allowed."""
    page = record(f"{SHOP}/track", player(NOAI), minute=2)
    recs = [page, *media_records()] if page_first else [*media_records(), page]
    got = audit(tmp_path, write(tmp_path / "av.warc.gz", ROBOTS_REC, *recs))
    decisions = by_url(got["decisions"])
    for url in [*AV, COVER]:
        r = decisions[url]
        assert (r["action"], r["verdict"], r["signal"]) == ("flagged", "reserve", EMBEDDING_PAGE), url
        assert (r["evidence"], r["evidence_url"]) == (NOAI, f"{SHOP}/track")
        assert url in got["removals"]
    assert FREE not in decisions and FREE not in got["removals"]
    totals = got["summary"]["totals"]
    n = len(AV) + 2  # the page, its media
    assert (totals["reserved"], totals["allowed"]) == (n, 1)
    assert got["rc"] == 1


def test_noml_header_flags_the_audio_and_video_of_a_url_list(tmp_path: Path) -> None:
    """X-Robots-Tag: noml reserves ai-train: the media URLs of a URL list (no Content-Type) are matched too."""
    page = record(f"{SHOP}/track", player(""), minute=2, headers=(("X-Robots-Tag", "noml"),))
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{SHOP}/a/song.mp3\n{SHOP}/v/clip.webm\n{FREE}\n", "utf-8")
    got = audit(tmp_path, urls, write(tmp_path / "noml.warc.gz", ROBOTS_REC, page))
    decisions = by_url(got["decisions"])
    for url, line in ((f"{SHOP}/a/song.mp3", 1), (f"{SHOP}/v/clip.webm", 2)):
        r = decisions[url]
        assert (r["signal"], r["evidence"], r["evidence_url"], r["input_line"], r["action"]) == (
            EMBEDDING_PAGE,
            "noml",
            f"{SHOP}/track",
            line,
            "flagged",
        )
    assert decisions[FREE]["verdict"] == "unknown"  # not checked: no capture for a URL list


def test_noimageai_page_flags_images_not_audio_or_video(tmp_path: Path) -> None:
    noimageai = '<meta name="robots" content="noimageai">'
    page = record(f"{SHOP}/track", player(noimageai), minute=2)
    got = audit(tmp_path, write(tmp_path / "img.warc.gz", ROBOTS_REC, page, *media_records()))
    decisions = by_url(got["decisions"])
    assert decisions[COVER]["signal"] == EMBEDDING_PAGE
    assert decisions[COVER]["evidence"] == noimageai
    for url in AV:
        # Allowed (not written), or for the CDN without a robots.txt capture, unknown: never flagged.
        assert decisions.get(url, {}).get("signal") != EMBEDDING_PAGE, url
        assert url not in got["removals"]
    assert decisions["https://cdn.example/stream.mp4"]["verdict"] == "unknown"
    totals = got["summary"]["totals"]
    assert (totals["reserved"], totals["allowed"], totals["unknown"]) == (2, len(AV), 1)


def test_engine_reservation_splits_images_from_audio_and_video() -> None:
    """What the crawl and the audit remember: the images by the page as binding an image, the rest by the page."""
    url = f"{SHOP}/track"
    judge = Judge(Policy())
    for metas, images, av in (
        (NOAI, (COVER,), tuple(AV)),
        ('<meta name="robots" content="noimageai">', (COVER,), ()),
        ('<meta name="robots" content="noml">', (COVER,), tuple(AV)),
        ('<meta name="robots" content="noindex">', None, None),
    ):
        page = Page(url, 200, [("Content-Type", "text/html")], player(metas))
        media = judge.embedded_media(page, judge.after_fetch(page, None))
        if images is None:
            assert media is None
            continue
        assert media is not None
        assert (media.urls, media.av_urls) == (images, av), metas
        parts = media.parts()
        assert [p.urls for p in parts] == [x for x in (images, av) if x]
        if av:
            assert media.av_signal is not None and media.av_signal.evidence == metas
            assert judge.by_embedding_page(f"{SHOP}/v/clip.mp4", parts[-1]).decision.blocked
    # Lenient noimageai: still images only.
    lenient = Judge(Policy(lenient_noimageai=True))
    page = Page(url, 200, [("Content-Type", "text/html")], player('<meta name="robots" content="noimageai">'))
    media = lenient.embedded_media(page, lenient.after_fetch(page, None))
    assert media is not None and (media.urls, media.av_urls) == ((COVER,), ())


@pytest.mark.parametrize(
    ("url", "ctype", "expected"),
    [
        ("http://x.example/a.mp4", None, True),
        ("http://x.example/a.MP3?x=1", None, True),
        ("http://x.example/a.webm#t=1", None, True),
        ("http://x.example/a", "video/mp4", True),
        ("http://x.example/a", "audio/ogg; codecs=opus", True),
        ("http://x.example/a.png", None, True),
        ("http://x.example/a.mp4", "text/html", False),
        ("http://x.example/page", None, False),
    ],
)
def test_is_media(url: str, ctype: str | None, expected: bool) -> None:
    assert is_media(url, ctype) is expected
