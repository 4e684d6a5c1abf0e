"""report.html in a real browser: headless Chromium at 1280 px, and printed to A4 PDF (issue 14, item 13).

The report is built from real trails: the demo crawl (`noai-guard demo`, in a
subprocess), an audit of a WARC with ``--robots-from`` captures, and a trail
of very long unbroken URLs, evidence and run ids.  Chromium comes from the
system's packages (Debian: ``apt-get install chromium``, /usr/bin/chromium),
driven by Playwright, which is never allowed to download a browser.  The page
is opened from ``file://`` and every other request goes to a dead proxy on
loopback, so nothing leaves the machine.

Without Chromium or Playwright the tests skip with the reason, unless
``NOAI_GUARD_REQUIRE_BROWSER=1`` (set by ``.ci/run``): then they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _report_fixtures import POLICY
from test_report_layout import _audit_trail, _pages_warc

from noai_guard import decision as d
from noai_guard.auditlog import DROPPED, POST_FETCH, decision_record, run_record, summary_record, write_all
from noai_guard.cli import main
from noai_guard.decision import Decision, Signal, Verdict

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("NOAI_GUARD_CHROMIUM", "/usr/bin/chromium")
WIDTH = 1280
#: Flags for a quiet, offline Chromium: no sandbox (root in CI), no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-domain-reliability",
    "--no-default-browser-check",
    # Any request the page or the browser makes goes to a closed loopback port.
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
]

#: Cells, scroll boxes and preformatted text whose content must fit their box horizontally.
OVERFLOW_JS = """(limit) => {
  const out = [];
  const visible = el => el.getClientRects().length > 0;
  for (const el of document.querySelectorAll('td, th, .tbl, pre, dd, .card, .verdict, figure')) {
    if (!visible(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1)
      out.push(`${el.tagName}.${el.className}: content ${el.scrollWidth}px in ${el.clientWidth}px: `
               + el.textContent.slice(0, 80));
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (!visible(el) || el.closest('.tbl')) continue;
    const r = el.getBoundingClientRect();
    if (r.right > limit + 1) out.push(`${el.tagName}.${el.className} ends at ${Math.round(r.right)}px`);
  }
  return out;
}"""


def _browser_missing() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


def _long_trail(path: Path) -> None:
    """Decisions whose URL, evidence, evidence URL and run id are single 600-character words."""
    word = "x" * 600
    run_id = "run-" + "r" * 200
    recs: list[dict[str, Any]] = [
        run_record(run_id=run_id, mode="crawl", policy=POLICY.to_dict(), spider=word)
    ]
    for i in range(3):
        url = f"https://long{i}.example/{word}?q={word}"
        sig = Signal(
            d.X_ROBOTS_TAG, Verdict.RESERVE, d.AI_TRAIN, "noai," + word, url, "header:X-Robots-Tag",
            scope=word, user_agent=word, own_token=False, note="n",
        )  # fmt: skip
        dec = Decision(url, d.AI_TRAIN, Verdict.RESERVE, True, sig, "reason " + word, (sig,))
        recs.append(
            decision_record(
                dec, action=DROPPED, phase=POST_FETCH, run_id=run_id, **{"capture_" + word[:40]: word}
            )
        )
    origins = {f"https://long{i}.example": {"evaluated": 1, "dropped": 1} for i in range(3)}
    recs.append(summary_record(run_id=run_id, mode="crawl", policy=POLICY.to_dict(), origins=origins))
    write_all(path, recs)


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("browser")
    demo = base / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "noai_guard.cli", "demo", "--out", str(demo)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    warc = base / "pages.warc.gz"
    _pages_warc(warc)
    robots = base / "robots" / "a.example"
    robots.mkdir(parents=True)
    (robots / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n", "utf-8")
    audit = base / "audit.jsonl"
    assert (
        main(["audit", str(warc), "--robots-from", str(robots.parent), "--out", str(audit), "--no-progress"])
        == 1
    )
    unchecked = base / "unchecked.jsonl"
    _audit_trail(unchecked, unchecked=30)
    long = base / "long.jsonl"
    _long_trail(long)
    out = base / "report"
    trails = [str(demo / "audit.jsonl"), str(audit), str(unchecked), str(long)]
    assert main(["report", *trails, "--out", str(out), "--format", "html"]) == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("NOAI_GUARD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required (NOAI_GUARD_REQUIRE_BROWSER=1) but {missing}")
        pytest.skip(missing)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, report_html: Path) -> Iterator[tuple[Any, list[str]]]:
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 900}, java_script_enabled=True)
    pg = ctx.new_page()
    pg.set_default_timeout(10_000)
    problems: list[str] = []
    pg.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    pg.goto(report_html.as_uri(), wait_until="load")
    try:
        yield pg, problems
    finally:
        ctx.close()


def test_no_console_errors(page: tuple[Any, list[str]]) -> None:
    pg, problems = page
    assert pg.title().startswith("AI opt-out compliance report")
    # Inline styles and SVG render under the report's own CSP, and nothing is requested.
    assert pg.evaluate("document.styleSheets.length") == 1
    assert problems == []


def test_fits_1280px(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    pg.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert pg.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert pg.evaluate(OVERFLOW_JS, WIDTH) == []
    # The evidence tables' Outcome column is wide enough for "skipped (reserve)" on one line.
    widths = pg.evaluate(
        "Array.from(document.querySelectorAll('.samples thead th:nth-child(6)')).map(th => th.clientWidth)"
    )
    assert widths and min(widths) >= 140, widths
    capture = pg.evaluate(
        "Array.from(document.querySelectorAll('.samples thead th:nth-child(7)')).map(th => th.textContent)"
    )
    assert "Capture" in capture


def test_first_screen_is_the_answer(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    box = pg.locator("#answer").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900
    cards = pg.locator("#answer .card .k").all_text_contents()
    assert cards == ["evaluated", "blocked", "allowed", "unknown", "not checked", "failed open"]
    assert "Not checked: 39" in pg.locator("#answer .verdict.warn").inner_text()


def test_prints_to_a4(page: tuple[Any, list[str]], tmp_path: Path) -> None:
    pg, problems = page
    pdf = pg.pdf(prefer_css_page_size=True, print_background=True)
    (tmp_path / "report.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    assert 3 <= pages <= 40, pages
    sizes = {
        tuple(round(float(x)) for x in m)
        for m in re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    }
    assert sizes == {(595, 842)} or sizes == {(596, 842)} or sizes == {(596, 843)}, sizes  # A4 in points
    # Laid out for print at A4's width inside the margins (210 - 2 x 12 mm = 186 mm = 703 px), nothing overflows.
    pg.emulate_media(media="print")
    pg.set_viewport_size({"width": 703, "height": 1000})
    assert pg.evaluate("document.documentElement.scrollWidth") <= 703
    assert pg.evaluate(OVERFLOW_JS, 703) == []
    assert problems == []


def test_chromium_cli_prints_a_pdf_too(report_html: Path, tmp_path: Path) -> None:
    """The same report through Chromium's own command line (no driver): a PDF with A4 pages."""
    if _browser_missing() and os.environ.get("NOAI_GUARD_REQUIRE_BROWSER") != "1":
        pytest.skip(_browser_missing() or "")
    assert shutil.which(CHROMIUM) or os.path.isfile(CHROMIUM), f"no Chromium at {CHROMIUM}"
    pdf = tmp_path / "cli.pdf"
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            *CHROMIUM_ARGS,
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            report_html.as_uri(),
        ],
        check=False,
        capture_output=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert 3 <= len(re.findall(rb"/Type\s*/Page(?![s\w])", data)) <= 40
