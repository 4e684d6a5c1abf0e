"""Compliance reports from audit trails: HTML, Markdown, JSON and CSV.

Reads any number of ``noai-guard-audit/1`` trails (crawls and after-the-fact
audits together) in one streaming pass with bounded memory, and writes a
bundle a reviewer can read and re-verify (see :mod:`.writer`)::

    from noai_guard.report import build_report
    files = build_report(["crawl.jsonl", "audit-*.jsonl"], "report/", formats=("html", "json"))

The JSON document follows ``noai-guard-report/1``, whose JSON Schema ships as
``noai_guard/data/report.schema.json``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from .aggregate import REPORT_SCHEMA, Aggregator
from .cards import embed_croissant
from .inputs import InputError, expand_inputs
from .writer import ALL_FORMATS, DEFAULT_FORMATS, FORMATS, MANIFEST_SCHEMA, verify_manifest, write_bundle

__all__ = [
    "ALL_FORMATS",
    "DEFAULT_FORMATS",
    "FORMATS",
    "MANIFEST_SCHEMA",
    "REPORT_SCHEMA",
    "Aggregator",
    "InputError",
    "aggregate",
    "build_report",
    "embed_croissant",
    "expand_inputs",
    "verify_manifest",
]


def aggregate(
    paths: Sequence[str],
    *,
    top: int = 25,
    samples: int = 10,
    seed: int | str = 0,
    buffer_domains: int = 20000,
    parameters: dict[str, Any] | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[Aggregator, dict[str, Any]]:
    """Read the trails (files, directories or globs) and return the aggregator and the document.

    The caller must ``close()`` the aggregator (it holds a temporary SQLite file).
    ``warn`` gets one line per trail read only in part (a cut gzip stream).
    """
    files = expand_inputs(list(paths))
    agg = Aggregator(samples=samples, seed=seed, buffer_domains=buffer_domains, warn=warn)
    try:
        for f in files:
            agg.read(f)
        doc = agg.document(top=top, parameters=parameters)
    except BaseException:
        agg.close()
        raise
    return agg, doc


def build_report(
    paths: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] = DEFAULT_FORMATS,
    top: int = 25,
    samples: int = 10,
    seed: int | str = 0,
    buffer_domains: int = 20000,
    warn: Callable[[str], None] | None = None,
) -> list[str]:
    """Aggregate the trails and write the report bundle; return the file names written.

    ``formats``: any of :data:`ALL_FORMATS` (the report's, and the dataset-card fragments).
    """
    unknown = [f for f in formats if f not in ALL_FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s): {', '.join(unknown)}")
    agg, doc = aggregate(
        paths,
        top=top,
        samples=samples,
        seed=seed,
        buffer_domains=buffer_domains,
        parameters={"formats": [f for f in ALL_FORMATS if f in formats]},
        warn=warn,
    )
    try:
        return write_bundle(agg, doc, out_dir, formats)
    finally:
        agg.close()
