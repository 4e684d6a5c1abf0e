"""Internal: `noai-guard report`: turn audit trails into a compliance report bundle.

Exit codes: 0 report written; 2 bad usage, or an input that cannot be read
(corrupt gzip data included: one line on stderr, no traceback).  A ``.jsonl.gz``
trail cut mid-stream is read as far as it goes: a warning line on stderr and in
the report, exit 0.  Heavy imports wait until ``run``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK = 0
EXIT_USAGE = 2
_FORMATS = ("html", "md", "json", "csv", "ai-office")
_DEFAULT = ("html", "md", "json", "csv")  # ai-office (issue 18) only when asked for
# Dataset-card fragments (noai_guard.report.cards), written only when asked for.
_CARD_FORMATS = ("croissant", "hf-card")


def _formats(value: str) -> list[str]:
    fmts = [f.strip().lower() for f in value.split(",") if f.strip()]
    bad = [f for f in fmts if f not in (*_FORMATS, *_CARD_FORMATS)]
    if bad or not fmts:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(bad) or repr(value)}; choose from {','.join((*_FORMATS, *_CARD_FORMATS))}"
        )
    return fmts


def _non_negative(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {value}")
    return n


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="write a compliance report (HTML, Markdown, JSON, CSV) from audit trails",
        description=(
            "Read audit trails (files, directories or quoted glob patterns; crawls and audits together) "
            "and write report.html, report.md, report.json, domains.csv, samples.csv and manifest.json."
        ),
    )
    p.add_argument(
        "audit", nargs="+", metavar="AUDIT", help="audit trail (.jsonl, .jsonl.gz), directory or glob"
    )
    p.add_argument(
        "--format",
        type=_formats,
        default=list(_DEFAULT),
        help=(
            "comma-separated formats: html,md,json,csv (the default), ai-office (the AI Office "
            "template's sections on crawled data and opt-outs: ai-office.md, ai-office.json), and "
            "the dataset-card fragments croissant (croissant-rai.jsonld) and hf-card (dataset-card.md)"
        ),
    )
    p.add_argument(
        "--out", default="noai-guard-report", metavar="DIR", help="output directory (default: %(default)s)"
    )
    p.add_argument(
        "--top", type=_non_negative, default=25, metavar="N", help="rows in top-N tables (default: 25)"
    )
    p.add_argument(
        "--samples",
        type=_non_negative,
        default=10,
        metavar="N",
        help="evidence samples per signal (default: 10)",
    )
    p.add_argument("--seed", default="0", metavar="S", help="sampling seed (default: 0)")
    return p


def run(args: argparse.Namespace) -> int:
    from ..report import InputError, build_report

    def warn(message: str) -> None:
        print(f"noai-guard: warning: {message}", file=sys.stderr)

    try:
        files = build_report(
            args.audit,
            args.out,
            formats=args.format,
            top=args.top,
            samples=args.samples,
            seed=args.seed,
            warn=warn,
        )
    except InputError as exc:
        print(f"noai-guard: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"noai-guard: error: {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"noai-guard: report written to {args.out}: {', '.join(files)}", file=sys.stderr)
    return EXIT_OK
