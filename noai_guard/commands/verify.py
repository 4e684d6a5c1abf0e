"""Internal: ``noai-guard verify DIR``: re-verify a report bundle from its manifest.

Re-hashes every report file and input trail ``manifest.json`` lists, and checks
that each dataset-card fragment beside it carries the manifest's own SHA-256.
Exit status: 0 verified, 1 a mismatch or a missing file (one line each on
stdout), 2 no readable manifest in DIR.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="re-verify a report bundle: every file its manifest.json lists, and the cards' manifest hash",
        description=(
            "Re-hash every report file and input trail that DIR/manifest.json lists (input paths as "
            "recorded: run it where the report was made, or give --outputs-only), and check that the "
            "dataset-card fragments in DIR carry the SHA-256 of that manifest. Exit status: 0 verified, "
            "1 a mismatch or a missing file, 2 no readable manifest."
        ),
    )
    p.add_argument("bundle", metavar="DIR", help="the report bundle's folder (noai-guard report --out)")
    p.add_argument(
        "--outputs-only",
        action="store_true",
        help="do not re-hash the input trails (they were moved, or are not at hand)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from ..report import verify_manifest
    from ..report.cards import CARD_FILES
    from ..report.writer import sha256_file

    out = Path(args.bundle)
    manifest = out / "manifest.json"
    try:
        listed = json.loads(manifest.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"noai-guard: error: {manifest}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(listed, dict):
        print(f"noai-guard: error: {manifest}: not a JSON object", file=sys.stderr)
        return EXIT_USAGE
    try:
        problems = verify_manifest(out, inputs=not args.outputs_only)
    except (KeyError, TypeError, ValueError) as exc:
        print(f"noai-guard: error: {manifest}: malformed entry ({exc})", file=sys.stderr)
        return EXIT_USAGE
    digest = sha256_file(manifest)[0]
    cards = 0
    for name in CARD_FILES.values():
        card = out / name
        if not card.exists():
            continue
        cards += 1
        # Both fragments state the manifest's SHA-256 verbatim (lower-case hex).
        if digest not in card.read_text("utf-8", errors="replace"):
            problems.append(f"{card}: does not carry this manifest's SHA-256 ({digest})")
    for line in problems:
        print(line)
    if problems:
        return EXIT_MISMATCH
    n_out = len(listed.get("outputs") or [])
    n_in = 0 if args.outputs_only else len(listed.get("inputs") or [])
    print(f"verified: manifest.json sha256 {digest}; {n_out} report file(s), {n_in} input(s), {cards} card(s)")
    return EXIT_OK
