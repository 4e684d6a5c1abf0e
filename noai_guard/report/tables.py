"""Internal: tables the HTML and Markdown reports share, headers and rows from the report document.

Each function returns ``(headers, rows)`` with raw values; the renderers do
their own escaping and formatting (numeric / code column hints in HTML,
Markdown escaping and alignment).
"""

from __future__ import annotations

from typing import Any

Table = tuple[list[str], list[tuple[object, ...]]]

FETCH_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")


def signals_checked(doc: dict[str, Any]) -> Table:
    """The signals the policy reads, with spec version, purposes and whether enabled."""
    headers = ["Signal", "Spec version", "What is read", "Purposes", "Enabled"]
    rows: list[tuple[object, ...]] = [
        (
            s["signal"],
            s["spec"],
            s["description"],
            ", ".join(s["purposes"]) or "informational",
            s["enabled"],
        )
        for s in doc["signals_checked"]
    ]
    return headers, rows


def by_signal(doc: dict[str, Any]) -> Table:
    """Decision outcomes per deciding signal (columns 1-7 are counts)."""
    headers = [
        "Signal",
        "Decision records",
        "Skipped",
        "Dropped",
        "Flagged",
        "Allowed",
        "Unknown",
        "In run summaries",
    ]
    rows: list[tuple[object, ...]] = [
        (
            r["signal"],
            r["decisions"],
            r["skipped"],
            r["dropped"],
            r["flagged"],
            r["allowed"],
            r["unknown"],
            r["summary_count"],
        )
        for r in doc["summary"]["by_signal"]
    ]
    return headers, rows


def by_purpose(doc: dict[str, Any]) -> Table:
    """Decision outcomes per purpose (columns 1-7 are counts)."""
    headers = [
        "Purpose",
        "Decision records",
        "Blocked",
        "Skipped",
        "Dropped",
        "Flagged",
        "Allowed",
        "Unknown",
    ]
    rows: list[tuple[object, ...]] = [
        (
            r["purpose"],
            r["decisions"],
            r["blocked"],
            r["skipped"],
            r["dropped"],
            r["flagged"],
            r["allowed"],
            r["unknown"],
        )
        for r in doc["summary"]["by_purpose"]
    ]
    return headers, rows


def unknowns_by_signal(doc: dict[str, Any]) -> Table:
    """How each signal's unknown outcomes were resolved (columns 1-2 are counts)."""
    headers = ["Signal", "Resolved to reserve", "Resolved to allow"]
    rows: list[tuple[object, ...]] = [
        (r["signal"], r["reserve"], r["allow"]) for r in doc["unknowns"]["by_signal"]
    ]
    return headers, rows


def not_checked(doc: dict[str, Any]) -> Table:
    """Decision records per signal marked not checked (column 1 is a count)."""
    headers = ["Signal", "Decision records not checked"]
    rows: list[tuple[object, ...]] = [
        (r["signal"], r["records"]) for r in doc["unknowns"]["unchecked_by_signal"]
    ]
    return headers, rows


def fetch_status(doc: dict[str, Any]) -> Table:
    """Site-file fetches by status class (columns 1-5 are counts)."""
    headers = ["File", "2xx", "3xx", "4xx", "5xx", "Network error"]
    rows: list[tuple[object, ...]] = [
        (k, *(v.get(c, 0) for c in FETCH_CLASSES)) for k, v in doc["exceptions"]["fetch"].items()
    ]
    return headers, rows
