"""Internal: writing the report bundle, the chosen formats plus ``manifest.json``.

=============  ==========================================================
file           content
=============  ==========================================================
report.html    self-contained HTML (:mod:`.render_html`)
report.md      Markdown (:mod:`.render_md`)
report.json    the ``noai-guard-report/1`` document
domains.csv    every registrable domain with its counters
samples.csv    every evidence sample, one row each
ai-office.md   the AI Office template's sections 2.3 and 3.1, pre-filled
ai-office.json (:mod:`.aioffice`; only with ``--format ai-office``)
manifest.json  SHA-256 and size of every input and output, tool version,
               policy hashes, parameters (always written, after the above)
=============  ==========================================================

The dataset-card fragments (``--format croissant``: ``croissant-rai.jsonld``;
``--format hf-card``: ``dataset-card.md``; see :mod:`.cards`) carry the
manifest's SHA-256, so they are written after it and are not listed in it.

CSV cells that a spreadsheet would read as a formula (starting with ``=``,
``+``, ``-``, ``@``, TAB or CR) get a leading ``'``.  Every file is written
to a temporary name and renamed into place, as UTF-8: text that is not valid
Unicode (a lone surrogate) is written as the text ``\\udXXX`` in every format
(see :mod:`.inputs`, which escapes it as trails are read).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .aggregate import Aggregator
from .aioffice import ai_office_document, render_ai_office_md
from .cards import CARD_FORMATS, write_cards
from .domains import COUNTERS, SIGNAL_COLUMN_NAMES
from .inputs import clean
from .render_html import render_html
from .render_md import render_markdown

MANIFEST_SCHEMA = "noai-guard-report-manifest/1"
FORMATS: tuple[str, ...] = ("html", "md", "json", "csv", "ai-office")
#: What ``noai-guard report`` writes when no format is named (ai-office only on request).
DEFAULT_FORMATS: tuple[str, ...] = ("html", "md", "json", "csv")
#: Every ``--format``: the bundle's and the dataset-card fragments (:mod:`.cards`).
ALL_FORMATS: tuple[str, ...] = (*FORMATS, *CARD_FORMATS)
FILES: dict[str, tuple[str, ...]] = {
    "html": ("report.html",),
    "md": ("report.md",),
    "json": ("report.json",),
    "csv": ("domains.csv", "samples.csv"),
    "ai-office": ("ai-office.md", "ai-office.json"),  # issue 18: the AI Office template's sections
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

DOMAIN_COLUMNS: tuple[str, ...] = ("domain", *COUNTERS, *SIGNAL_COLUMN_NAMES, "first_seen", "last_seen")
SAMPLE_COLUMNS: tuple[str, ...] = (
    "signal", "time", "url", "domain", "evidence", "line", "location", "scope", "user_agent", "own_token",
    "evidence_url", "action", "verdict", "blocked", "purpose", "mode", "phase", "run_id", "reason", "resolution",
    "policy_hash", "fail_open", "locator",
)  # fmt: skip


def csv_safe(v: object) -> object:
    """Neutralise spreadsheet formulas: text starting with = + - @ TAB CR gets a leading quote."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return v
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)
    return "'" + s if s.startswith(_FORMULA_START) else s


def _csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterable[str]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    yield buf.getvalue()
    for r in rows:
        buf.seek(0)
        buf.truncate()
        w.writerow([csv_safe(r.get(c)) for c in columns])
        yield buf.getvalue()


def _write(path: Path, chunks: Iterable[str]) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    # backslashreplace: the same escape as inputs.clean_text, for text from elsewhere (arguments).
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace", newline="") as fh:
        fh.writelines(chunks)
    os.replace(tmp, path)


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def write_bundle(
    agg: Aggregator, doc: dict[str, Any], out_dir: str | os.PathLike[str], formats: Sequence[str]
) -> list[str]:
    """Write the chosen formats and the manifest into ``out_dir``; return the file names written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for fmt in FORMATS:
        if fmt not in formats:
            continue
        if fmt == "html":
            _write(out / "report.html", [render_html(doc)])
        elif fmt == "md":
            _write(out / "report.md", [render_markdown(doc)])
        elif fmt == "json":
            _write(out / "report.json", [json.dumps(clean(doc), indent=2, ensure_ascii=False) + "\n"])
        elif fmt == "csv":
            _write(out / "domains.csv", _csv(DOMAIN_COLUMNS, agg.domains.rows(order="blocked")))
            rows = ({"signal": g["signal"], **it} for g in doc["samples"]["by_signal"] for it in g["items"])
            _write(out / "samples.csv", _csv(SAMPLE_COLUMNS, rows))
        elif fmt == "ai-office":
            ao = clean(ai_office_document(agg, doc))
            _write(out / "ai-office.md", [render_ai_office_md(ao)])
            _write(out / "ai-office.json", [json.dumps(ao, indent=2, ensure_ascii=False) + "\n"])
        written.extend(FILES[fmt])
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "report_schema": doc["schema"],
        "tool": doc["tool"],
        "generated_at": doc["generated_at"],
        "parameters": doc["parameters"],
        "policy_hashes": [p["hash"] for p in doc["policies"]],
        "decision_policy_hashes": [h["hash"] for h in doc["decision_policy_hashes"]],
        "proxy_list": doc["tokens"]["proxy_list"],
        "psl": doc["domains"]["psl"],
        "inputs": [{"path": i["path"], "sha256": i["sha256"], "bytes": i["bytes"]} for i in doc["inputs"]],
        "outputs": [],
    }
    for name in written:
        digest, size = sha256_file(out / name)
        manifest["outputs"].append({"path": name, "sha256": digest, "bytes": size})
    _write(out / "manifest.json", [json.dumps(clean(manifest), indent=2, ensure_ascii=False) + "\n"])
    # The card fragments carry the manifest's SHA-256, so they come after it (and are not in it).
    cards = write_cards(doc, sha256_file(out / "manifest.json")[0], formats)
    for name, text in cards:
        _write(out / name, [text])
    return [*written, "manifest.json", *(name for name, _ in cards)]


def verify_manifest(out_dir: str | os.PathLike[str], *, inputs: bool = True) -> list[str]:
    """Re-hash every file the manifest names; return the problems found (empty: all verified).

    Output paths are relative to ``out_dir``; input paths as recorded (relative
    to the working directory the report was made in).
    """
    out = Path(out_dir)
    m = json.loads((out / "manifest.json").read_text("utf-8"))
    problems: list[str] = []
    entries = [(out / e["path"], e) for e in m.get("outputs", [])]
    if inputs:
        entries += [(Path(e["path"]), e) for e in m.get("inputs", [])]
    for path, e in entries:
        try:
            digest, size = sha256_file(path)
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or exc}")
            continue
        if digest != e["sha256"] or size != e["bytes"]:
            problems.append(f"{path}: SHA-256 mismatch")
    return problems
