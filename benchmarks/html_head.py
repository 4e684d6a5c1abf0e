"""Benchmark: bounded head read (:func:`noai_guard.htmlhead.read_head`) against a full lxml parse.

Run: ``python benchmarks/html_head.py [--repeats N]``.  Pages of about 10 KB,
100 KB and 2 MB share one realistic head (30 tags: metas, links, an inline
script and style) and differ in the size of the body.  Prints the median time
of each and the median per-sample ratio; the head read should stay flat as the page grows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from noai_guard.htmlhead import read_head

HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>An article about something – Example News</title>
<meta name="description" content="A realistic description of the page, long enough to look like one.">
<meta name="robots" content="index, follow, max-image-preview:large, noai, noimageai">
<meta name="GPTBot" content="noai">
<meta property="og:title" content="An article about something">
<meta property="og:type" content="article">
<meta property="og:url" content="https://news.example.com/2026/11/article">
<meta property="og:image" content="https://cdn.example.com/img/hero-1200x630.jpg">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:site" content="@example">
<meta name="theme-color" content="#ffffff">
<link rel="canonical" href="https://news.example.com/2026/11/article">
<link rel="icon" href="/favicon.ico" sizes="any">
<link rel="apple-touch-icon" href="/apple-touch-icon.png">
<link rel="manifest" href="/site.webmanifest">
<link rel="preconnect" href="https://cdn.example.com" crossorigin>
<link rel="preload" href="/fonts/inter.woff2" as="font" type="font/woff2" crossorigin>
<link rel="stylesheet" href="/css/main.3f9a2c.css">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
<style>
  :root { --fg: #111; --bg: #fff; } body { margin: 0; font: 16px/1.5 Inter, sans-serif; }
  .hero img { width: 100%; height: auto; } .nav a[href^="http"]::after { content: "<meta>"; }
</style>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);} gtag('js', new Date());
  var s = '<meta name="robots" content="noindex">'; if (1 < 2 && 3 > 2) { gtag('config', 'G-XXXX'); }
</script>
<script src="/js/app.7c1e.js" defer></script>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle","headline":"x"}</script>
</head>
"""

PARAGRAPH = (
    '<div class="para"><p>Lorem ipsum dolor sit amet, <a href="/x/{i}">consectetur</a> adipiscing elit, '
    "sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. <em>Ut enim</em> ad minim veniam, "
    'quis nostrud exercitation.</p><img src="/img/{i}.jpg" srcset="/img/{i}@2x.jpg 2x" alt="figure {i}">'
    "</div>\n"
)


def make_page(size: int) -> bytes:
    """A page of about ``size`` bytes: the head above and a body of paragraphs."""
    parts = [HEAD, '<body>\n<header><nav><a href="/">Home</a></nav></header>\n<main>\n']
    total = sum(len(p) for p in parts)
    i = 0
    while total < size - 30:
        p = PARAGRAPH.format(i=i)
        parts.append(p)
        total += len(p)
        i += 1
    parts.append("</main>\n</body>\n</html>\n")
    return "".join(parts).encode("utf-8")


def full_parse(page: bytes) -> None:
    etree.HTML(page)


def head_read(page: bytes) -> None:
    read_head(page)


def _batch_time(fn: Callable[[bytes], None], page: bytes, batch: int) -> float:
    t0 = time.perf_counter()
    for _ in range(batch):
        fn(page)
    return (time.perf_counter() - t0) / batch


def measure(page: bytes, repeats: int) -> tuple[float, float, float]:
    """Median seconds per call of the full parse and of read_head, and the median ratio.

    Each sample times a small batch of each, back to back, so that load on a
    shared machine hits both alike; the ratio is taken per sample.
    """
    full_batch = max(1, 400 // max(1, len(page) // 1024))
    head_batch = 20
    full_parse(page)  # warm up
    head_read(page)
    fulls, heads, ratios = [], [], []
    for _ in range(repeats):
        f = _batch_time(full_parse, page, full_batch)
        head_read(page)  # untimed: the full parse just evicted caches and returned memory
        h = _batch_time(head_read, page, head_batch)
        fulls.append(f)
        heads.append(h)
        ratios.append(f / h)
    return statistics.median(fulls), statistics.median(heads), statistics.median(ratios)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=41, help="samples per measurement (median reported)")
    args = ap.parse_args(argv)
    head = read_head(make_page(10_000))
    assert head.complete and any(m.name == "robots" for m in head.metas), head
    print(
        f"lxml {'.'.join(map(str, etree.LXML_VERSION))}, libxml2 {'.'.join(map(str, etree.LIBXML_VERSION))}"
    )
    print(f"{'page':>9} {'full parse':>12} {'read_head':>11} {'ratio':>7}")
    for size in (10_000, 100_000, 2_000_000):
        page = make_page(size)
        full, head_t, ratio = measure(page, args.repeats)
        print(f"{len(page) / 1024:>7.0f}KB {full * 1e6:>10.0f}µs {head_t * 1e6:>9.1f}µs {ratio:>6.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
