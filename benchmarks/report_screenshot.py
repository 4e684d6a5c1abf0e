"""Regenerate docs/report-first-screen.png: the first screen of the demo's report at 1280 px.

Runs ``noai-guard demo`` (the built-in sample site, on loopback), ``noai-guard
report`` over its trail, and takes a screenshot of the report's first screen
in the system's headless Chromium (Debian: ``apt-get install chromium``),
driven by Playwright, which never downloads a browser of its own::

    python benchmarks/report_screenshot.py [--out docs/report-first-screen.png] [--height 800]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("NOAI_GUARD_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "report-first-screen.png"))
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=800)
    args = ap.parse_args()
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        cli = [sys.executable, "-m", "noai_guard.cli"]
        subprocess.run([*cli, "demo", "--out", str(demo)], check=True, cwd=ROOT, capture_output=True)
        report = Path(tmp) / "report"
        subprocess.run(
            [*cli, "report", str(demo / "audit.jsonl"), "--out", str(report), "--format", "html"],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto((report / "report.html").as_uri(), wait_until="load")
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out)
            browser.close()
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
