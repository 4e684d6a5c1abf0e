"""Shared fixtures.  Crawl helpers live in ``crawlutil.py`` (importable by any test file)."""

from __future__ import annotations

import sys
import tarfile
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


REAL_PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "realpages" / "pages.tar.xz"


@pytest.fixture(scope="session")
def real_pages(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    """The 273 real documents of ``../shared/realpages`` as (file name, bytes), unpacked once a
    session into a temporary directory (never into the repository); skipped when absent."""
    if not REAL_PAGES.is_file():
        pytest.skip(f"{REAL_PAGES} not found")
    where = tmp_path_factory.mktemp("realpages")
    with tarfile.open(REAL_PAGES, "r:xz") as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(where, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            tf.extractall(where)
    return [(p.name, p.read_bytes()) for p in sorted(where.rglob("*.html"))]
