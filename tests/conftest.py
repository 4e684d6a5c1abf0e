"""Shared fixtures.  Crawl helpers live in ``crawlutil.py`` (importable by any test file)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# tests/ is laid out like the package (robots/, crawl/, report/, commands/); its helper
# modules and test modules import each other by name from any folder.
_TESTS = Path(__file__).resolve().parent
for _dir in (_TESTS, *sorted(p for p in _TESTS.iterdir() if p.is_dir() and p.name != "data")):
    if (_dir == _TESTS or any(_dir.glob("*.py"))) and str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from crawlutil import CrawlResult, RawSite, Route, Send, Site, run_crawl


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


@pytest.fixture
def raw_site() -> Iterator[Callable[..., RawSite]]:
    """Start raw sites (``raw_site(routes, not_found=...)``, see ``crawlutil.RawSite``); all stopped after."""
    started: list[RawSite] = []

    def make(routes: dict[str, Send], **kw: Any) -> RawSite:
        site = RawSite(routes, **kw)
        started.append(site)
        return site

    yield make
    for site in started:
        site.close()
