"""The real web pages of ``../shared/realpages/`` for the benchmarks.

``pages.tar.xz`` (273 documents from two other projects' test suites, see its
README) lives beside the repository, never in it: the benchmarks unpack it
into a temporary directory at run time and delete it afterwards.  When it is
missing they fall back to their generated pages and say so.

Opt-outs are added the way the generated pages carry them: a response header,
or a ``<meta>`` put into the real head, right after ``<head ...>`` or right
before ``</head>`` (alternating per page, so that a scanner cannot count on
finding it early).  :func:`inject_checked` keeps only a placement that
noai_guard actually reads (a ``</head>`` inside a script, or a head past the
byte budget, would hide it), so the benchmark's opt-out pages are reserved and
nothing else is.
"""

from __future__ import annotations

import re
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARBALL = ROOT.parent / "shared" / "realpages" / "pages.tar.xz"
PAGE_MODES = ("real", "generated")

_HEAD_OPEN = re.compile(rb"<head(?=[\s/>])[^>]*>", re.IGNORECASE)
_HEAD_CLOSE = re.compile(rb"</head\s*>", re.IGNORECASE)
_HTML_OPEN = re.compile(rb"<html(?=[\s/>])[^>]*>", re.IGNORECASE)


def available(tarball: Path = TARBALL) -> bool:
    return tarball.is_file()


def pages_option(value: str) -> str:
    """argparse type of ``--pages``: ``real`` or ``generated`` (a number is the old page count)."""
    v = value.strip().lower()
    if v in PAGE_MODES:
        return v
    import argparse

    if v.isdigit():
        raise argparse.ArgumentTypeError(
            f"{value!r}: --pages is now real|generated; give the count with --count"
        )
    raise argparse.ArgumentTypeError(f"{value!r}: expected real or generated")


def resolve(choice: str | None, tarball: Path = TARBALL) -> str:
    """The page mode to run: ``choice``, else ``real`` when the tarball is there, else ``generated``.

    Asking for ``real`` without the tarball is an error; the default falls
    back to ``generated`` with a printed note.
    """
    if choice == "generated":
        return "generated"
    if available(tarball):
        return "real"
    if choice == "real":
        raise SystemExit(f"--pages real: {tarball} not found")
    print(f"note: {tarball} not found; using the generated pages (--pages generated)", flush=True)
    return "generated"


@contextmanager
def unpacked(tarball: Path = TARBALL) -> Iterator[list[Path]]:
    """Unpack the pages into a temporary directory; yields their paths, sorted by name."""
    tmp = Path(tempfile.mkdtemp(prefix="noai-realpages-"))
    try:
        with tarfile.open(tarball, "r:xz") as tf:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(tmp, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tf.extractall(tmp)
        pages = sorted(p for p in tmp.rglob("*.html") if p.is_file())
        if not pages:
            raise SystemExit(f"{tarball}: no .html pages in it")
        yield pages
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def inject_meta(page: bytes, meta: bytes, at_end: bool) -> bytes | None:
    """``page`` with ``meta`` right after ``<head ...>`` (or right before ``</head>`` if ``at_end``).

    ``None`` when the page has no such tag.
    """
    if at_end:
        m = _HEAD_CLOSE.search(page)
        return None if m is None else page[: m.start()] + meta + page[m.start() :]
    m = _HEAD_OPEN.search(page) or _HTML_OPEN.search(page)
    return None if m is None else page[: m.end()] + meta + page[m.end() :]


def inject_checked(page: bytes, meta: bytes, at_end: bool, reads: Callable[[bytes], bool]) -> bytes | None:
    """``inject_meta`` at the asked place, else at the other one, else at the very start.

    ``reads(variant)`` says whether noai_guard sees the meta (reserves the page);
    the first placement it accepts is returned, ``None`` if none is.
    """
    for end in (at_end, not at_end):
        out = inject_meta(page, meta, end)
        if out is not None and reads(out):
            return out
    out = meta + page
    return out if reads(out) else None


def reserves(token: str = "noai-guard") -> Callable[[bytes], bool]:
    """A check that noai_guard blocks a ``text/html`` page with these bytes (no header, no site files)."""
    sys.path.insert(0, str(ROOT))
    from noai_guard.evaluate import evaluate
    from noai_guard.policy import Policy

    policy = Policy(user_agents=(token,))

    def check(body: bytes) -> bool:
        d = evaluate(
            "http://bench.example/p.html", policy, headers=[("Content-Type", "text/html")], body=body
        )
        return bool(d.blocked)

    return check
