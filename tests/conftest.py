"""Shared fixtures.  Crawl helpers live in ``crawlutil.py`` (importable by any test file)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawlutil import CrawlResult, Route, Site, run_crawl


@pytest.fixture
def make_site() -> Iterator[Callable[..., Site]]:
    """Start local sites (``make_site(routes, tls=False)``); all are stopped after the test."""
    started: list[Site] = []

    def make(routes: dict[str, Any] | None = None, **kw: Any) -> Site:
        site = Site(routes, **kw)
        started.append(site)
        return site

    yield make
    for site in started:
        site.close()


@pytest.fixture
def crawl(tmp_path: Path) -> Callable[..., CrawlResult]:
    """Run a real crawl in a subprocess: ``crawl(start_urls, settings={...}, spider={...})``."""
    n = 0

    def run(start_urls: list[str], **kw: Any) -> CrawlResult:
        nonlocal n
        n += 1
        return run_crawl(tmp_path / f"crawl{n}", start_urls, **kw)

    return run


__all__ = ["Route", "Site"]
