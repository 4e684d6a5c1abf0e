"""The report as a new user reads it (issue 14, items 7, 9, 10, 11): the answer first, blocks
first in the samples, "not checked" as a warning beside the fail-open statement, capture counts
that agree with what `noai-guard audit` printed, and runs labelled by their command.

The layout in a real browser (1280 px, A4) is tested in test_report_browser.py.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from _report_fixtures import POLICY, robots_own, write_fixture_trails

from noai_guard import decision as d
from noai_guard.auditlog import (
    AFTER_THE_FACT,
    ALLOWED,
    FLAGGED,
    decision_record,
    run_record,
    summary_record,
    write_all,
)
from noai_guard.cli import main
from noai_guard.decision import Decision, Signal, Verdict
from noai_guard.policy import decide
from noai_guard.report import build_report
from noai_guard.report.htmlutil import esc


def _doc(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "report.json").read_text("utf-8"))
    return doc


def _not_checked(url: str) -> Decision:
    """An audit's decision for a page whose origin had no robots.txt capture."""
    sig = Signal(
        d.ROBOTS_TXT, Verdict.UNKNOWN, d.AI_TRAIN, "no robots.txt capture for origin", url, d.LOC_ROBOTS,
        checked=False,
    )  # fmt: skip
    return Decision(
        url, d.AI_TRAIN, Verdict.UNKNOWN, False, sig, "robots.txt not checked", (sig,), "not checked"
    )


def _audit_trail(path: Path, unchecked: int, blocked_hosts: tuple[str, ...] = ("blocked.example",)) -> None:
    """One audit run: ``unchecked`` 'no capture' allows and one real robots.txt block per host."""
    recs: list[dict[str, Any]] = [
        run_record(run_id="audit-1", mode="audit", policy=POLICY.to_dict(), phase=AFTER_THE_FACT)
    ]
    for i in range(unchecked):
        recs.append(
            decision_record(
                _not_checked(f"http://nocap{i}.example/p{i}"),
                action=ALLOWED,
                phase=AFTER_THE_FACT,
                run_id="audit-1",
                mode="audit",
            )
        )
    for host in blocked_hosts:
        dec = decide(f"http://{host}/private", [robots_own(f"http://{host}", "/private")], POLICY)
        assert dec.blocked
        recs.append(
            decision_record(dec, action=FLAGGED, phase=AFTER_THE_FACT, run_id="audit-1", mode="audit")
        )
    write_all(path, recs)


# -- item 7: the answer first ---------------------------------------------------


def test_html_leads_with_the_answer(tmp_path: Path) -> None:
    trails = write_fixture_trails(tmp_path / "trails")
    out = tmp_path / "out"
    build_report([str(t) for t in trails], out)
    html = (out / "report.html").read_text("utf-8")
    doc = _doc(out)
    answer = html.index('id="answer"')
    # The six numbers, in this order, inside the answer section...
    section = html[answer : html.index("</section>", answer)]
    labels = [m.group(1) for m in re.finditer(r'<div class="k">([^<]*)</div>', section)]
    assert labels == ["evaluated", "blocked", "allowed", "unknown", "not checked", "failed open"]
    h = doc["headline"]
    values = [int(v.replace(",", "")) for v in re.findall(r'<div class="v">([^<]*)</div>', section)]
    assert values == [
        h["evaluated"],
        h["blocked"],
        h["allowed"],
        h["unknown"],
        h["not_checked"],
        h["failed_open"],
    ]
    rs = doc["summary"]["from_run_summaries"]
    assert h["blocked"] >= rs["skipped"] + rs["dropped"] + rs["flagged"] > 0
    assert h["evaluated"] == h["blocked"] + h["allowed"]
    # ...before any hash or run id (the detail comes after the answer).
    assert answer < html.index(doc["policies"][0]["hash"])
    for r in doc["runs"]:
        assert answer < html.index(r["run_id"])
    assert answer < html.index('id="runs"') and answer < html.index('id="policy"')


def test_headline_counts_runs_without_a_summary_from_their_records(tmp_path: Path) -> None:
    trail = tmp_path / "a.jsonl"
    _audit_trail(trail, unchecked=4, blocked_hosts=("b1.example", "b2.example"))
    out = tmp_path / "o"
    build_report([str(trail)], out, formats=("json",))
    h = _doc(out)["headline"]
    # No summary: the 6 decision records stand in for the totals.
    assert (h["evaluated"], h["blocked"], h["allowed"]) == (6, 2, 4)
    assert (h["unknown"], h["unknown_to_allow"], h["not_checked"], h["failed_open"]) == (4, 4, 4, 0)
    assert h["runs_without_summary"] == 1 and h["decisions_of_runs_without_summary"] == 6


def test_markdown_leads_with_the_answer(tmp_path: Path) -> None:
    trails = write_fixture_trails(tmp_path / "trails")
    out = tmp_path / "out"
    build_report([str(t) for t in trails], out, formats=("md", "json"))
    md = (out / "report.md").read_text("utf-8")
    doc = _doc(out)
    headings = re.findall(r"^## (.+)$", md, flags=re.MULTILINE)
    assert headings[0] == "Answer"
    assert headings.index("Runs and provenance") > headings.index("Evidence samples")
    h = doc["headline"]
    row = f"| {h['evaluated']:,} | {h['blocked']:,} | {h['allowed']:,} | {h['unknown']:,} | {h['not_checked']:,} | {h['failed_open']:,} |"
    assert row in md
    answer = md.index("## Answer")
    assert answer < md.index(doc["policies"][0]["hash"])
    assert answer < md.index(row) < md.index("## Summary")


# -- item 9: blocks first ---------------------------------------------------------


def test_samples_show_blocks_first_then_unknowns(tmp_path: Path) -> None:
    trail = tmp_path / "a.jsonl"
    _audit_trail(trail, unchecked=30)  # 30 "no capture" allows hide one real block
    out = tmp_path / "o"
    build_report([str(trail)], out, samples=3, formats=("json", "html", "md"))
    (g,) = [g for g in _doc(out)["samples"]["by_signal"] if g["signal"] == d.ROBOTS_TXT]
    assert (g["population"], g["blocked"], g["unknown"], g["allowed"]) == (31, 1, 30, 0)
    items = g["items"]
    assert len(items) == 3
    assert items[0]["url"] == "http://blocked.example/private" and items[0]["action"] == FLAGGED
    assert all(it["verdict"] == "unknown" and not it["blocked"] for it in items[1:])
    html = (out / "report.html").read_text("utf-8")
    assert html.index("http://blocked.example/private") < html.index("http://nocap")
    md = (out / "report.md").read_text("utf-8")
    samples = md[md.index("## Evidence samples") :]
    assert samples.index("http://blocked.example/private") < samples.index("http://nocap")


def test_stratified_samples_are_reproducible_in_any_order(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    _audit_trail(a, unchecked=20, blocked_hosts=tuple(f"b{i}.example" for i in range(8)))
    lines = a.read_text("utf-8").splitlines(keepends=True)
    b = tmp_path / "b.jsonl"
    b.write_text(lines[0] + "".join(reversed(lines[1:])), "utf-8")
    got = []
    for t in (a, b):
        out = tmp_path / t.stem
        build_report([str(t)], out, samples=5, seed=3, formats=("json",))
        got.append(
            [(it["url"], it["action"]) for g in _doc(out)["samples"]["by_signal"] for it in g["items"]]
        )
    assert got[0] == got[1]
    assert [a for _, a in got[0]] == [FLAGGED] * 5  # 8 blocks: the sample is all blocks


# -- item 10: "not checked" is a warning beside the fail-open statement -------------


def test_not_checked_is_a_warning_beside_nothing_failed_open(tmp_path: Path) -> None:
    trail = tmp_path / "a.jsonl"
    _audit_trail(trail, unchecked=16)
    out = tmp_path / "o"
    build_report([str(trail)], out, formats=("html", "md", "json"))
    html = (out / "report.html").read_text("utf-8")
    status = re.search(r'<div class="status">(.*?)</div>', html, flags=re.DOTALL)
    assert status is not None
    box = status.group(1)
    assert '<p class="verdict ok">Nothing failed open' in box
    warn = re.search(r'<p class="verdict warn"[^>]*>Not checked: 16<span class="note">([^<]*)</span>', box)
    assert warn is not None and "decision records: robots-txt: 16" in warn.group(1)
    # The card is a warning too, not a green "ok".
    assert '<div class="card warn"><div class="v">16</div><div class="k">not checked</div>' in html
    md = (out / "report.md").read_text("utf-8")
    answer = md[: md.index("## Summary")]
    assert "**Nothing failed open:**" in answer and "**Warning: not checked: 16**" in answer
    u = _doc(out)["unknowns"]
    assert u["unchecked_records"] == 16 and u["unchecked_by_signal"] == [
        {"signal": d.ROBOTS_TXT, "records": 16}
    ]


def test_nothing_unchecked_is_said_plainly(tmp_path: Path) -> None:
    trails = write_fixture_trails(tmp_path / "trails")
    out = tmp_path / "out"
    build_report([str(trails[0])], out, formats=("html", "json"))
    assert _doc(out)["headline"]["not_checked"] == 0
    html = (out / "report.html").read_text("utf-8")
    assert '<div class="card ok"><div class="v">0</div><div class="k">not checked</div>' in html
    assert "verdict warn" not in html


# -- item 11: site-file captures, per record and per unique URL ---------------------


def _pages_warc(path: Path) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for host in ("a.example", "b.example", "c.example", "d.example"):
            for p in ("/", "/private/x", "/page"):
                h = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
                body = io.BytesIO(b"<html><head><title>t</title></head><body>hi</body></html>")
                w.write_record(
                    w.create_warc_record(f"http://{host}{p}", "response", payload=body, http_headers=h)
                )


def test_robots_from_folder_captures_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warc = tmp_path / "pages.warc.gz"
    _pages_warc(warc)
    folder = tmp_path / "robots"
    rules = {"a.example": "Disallow: /private/", "b.example": "Disallow: /", "c.example": "Allow: /"}
    for host, rule in rules.items():
        (folder / host).mkdir(parents=True)
        (folder / host / "robots.txt").write_text(f"User-agent: *\n{rule}\n", "utf-8")
    trail = tmp_path / "trail.jsonl"
    rc = main(["audit", str(warc), "--robots-from", str(folder), "--out", str(trail), "--no-progress"])
    assert rc == 1  # reservations found
    printed = re.search(r"captures: (\d+)", capsys.readouterr().err)
    assert printed is not None and printed.group(1) == "3"
    out = tmp_path / "rep"
    assert main(["report", str(trail), "--out", str(out)]) == 0
    ai = _doc(out)["exceptions"]["audit_inputs"]
    assert ai["captures_indexed"] == 3  # what the audit printed
    assert ai["captures"] == 0  # none inside the WARC itself
    cc = ai["captures_cited"]
    # a.example: 1 block; b.example: 3 blocks (c.example's allows are not written, d.example has none).
    assert cc["records_citing"] == 4 and cc["records_by_kind"] == {"robots": 4}
    assert cc["unique_cited"] == 2 and cc["unique_by_kind"] == {"robots": 2}
    assert cc["records_without"] == 3 and not cc["unique_capped"]
    html = (out / "report.html").read_text("utf-8")
    assert "Site-file captures used" not in html
    for label, value in (
        ("Site-file captures available (inputs and --robots-from; the audit's “captures:”)", "3"),
        ("Decision records whose site files came from a capture (per record)", "4 (robots: 4)"),
        ("Unique capture URLs those records cite (per capture)", "2 (robots: 2)"),
    ):
        assert f"<dt>{esc(label)}</dt><dd>{value}</dd>" in html
    md = (out / "report.md").read_text("utf-8")
    assert "**Audit: site-file captures available (inputs and --robots-from):** 3" in md
    assert "**Audit: unique capture URLs those records cite (per capture):** 2" in md


# -- runs labelled by their command ---------------------------------------------------


def test_runs_are_labelled_by_command_when_recorded(tmp_path: Path) -> None:
    trail = tmp_path / "t.jsonl"
    pol = POLICY.to_dict()
    write_all(
        trail,
        [
            run_record(
                run_id="r-shell", mode="crawl", policy=pol, spider="default", enforce=True, command="shell"
            ),
            run_record(run_id="r-crawl", mode="crawl", policy=pol, spider="shop", enforce=True),
            run_record(
                run_id="r-feed", mode="audit", policy=pol, not_checked=["meta-robots", "x-robots-tag"]
            ),
        ],
    )
    out = tmp_path / "o"
    build_report([str(trail)], out, formats=("json", "html", "md"))
    runs = {r["run_id"]: r for r in _doc(out)["runs"]}
    assert runs["r-shell"]["label"] == "scrapy shell, enforcing" and runs["r-shell"]["command"] == "shell"
    assert runs["r-crawl"]["label"] == "crawl, enforcing" and runs["r-crawl"]["command"] == ""
    assert runs["r-feed"]["not_checked"] == ["meta-robots", "x-robots-tag"]
    html = (out / "report.html").read_text("utf-8")
    assert "<td>scrapy shell, enforcing</td>" in html
    assert "its records could not be checked for meta-robots, x-robots-tag (URL-only inputs)" in html
    assert "verdict warn" in html
    md = (out / "report.md").read_text("utf-8")
    assert "| r-shell | scrapy shell, enforcing |" in md


def test_url_only_inputs_count_as_not_checked(tmp_path: Path) -> None:
    """An audit summary's ``not_checked`` groups (feeds, logs: no headers or HTML) add their records;
    decision records inside a group (with their own ``not_checked`` list) are not counted twice."""
    pol = POLICY.to_dict()
    page_signals = [d.META_ROBOTS, d.X_ROBOTS_TAG, d.TDMREP]
    recs: list[dict[str, Any]] = [run_record(run_id="feed-1", mode="audit", policy=pol)]
    for i in range(5):  # the feed's records that were written (unknown robots.txt: no capture)
        recs.append(
            decision_record(
                _not_checked(f"http://feed{i}.example/"),
                action=ALLOWED,
                phase=AFTER_THE_FACT,
                run_id="feed-1",
                mode="audit",
                not_checked=page_signals,
                input_file="feed.jsonl",
            )
        )
    for i in range(2):  # a WARC's records in the same run, robots.txt not checked
        recs.append(
            decision_record(
                _not_checked(f"http://warc{i}.example/"),
                action=ALLOWED,
                phase=AFTER_THE_FACT,
                run_id="feed-1",
                mode="audit",
                input_file="pages.warc.gz",
            )
        )
    group = {
        "signals": page_signals,
        "why": "feeds carry no headers",
        "inputs": ["feed.jsonl"],
        "records": 12,
    }
    recs.append(summary_record(run_id="feed-1", mode="audit", policy=pol, origins={}, not_checked=[group]))
    trail = tmp_path / "t.jsonl"
    write_all(trail, recs)
    out = tmp_path / "o"
    build_report([str(trail)], out, formats=("json", "html", "md"))
    doc = _doc(out)
    h = doc["headline"]
    assert h["not_checked"] == 12 + 2
    (r,) = h["runs_not_checking"]
    assert (r["signals"], r["records"], r["why"]) == (page_signals, 12, "feeds carry no headers")
    by = {x["signal"]: x["records"] for x in doc["unknowns"]["unchecked_by_signal"]}
    assert by == {d.ROBOTS_TXT: 7, d.META_ROBOTS: 5, d.X_ROBOTS_TAG: 5, d.TDMREP: 5}
    html = (out / "report.html").read_text("utf-8")
    assert "Not checked: 14" in html
    said = "12 record(s) could not be checked for meta-robots, x-robots-tag, tdmrep (feeds carry no headers)"
    assert said in html
    assert said in (out / "report.md").read_text("utf-8")


def test_run_labels_name_the_mode_once() -> None:
    """An audit-only crawl's mode already says so: its label is not "audit-only, audit-only"."""
    from noai_guard.report.runs import _Run

    assert _Run("r", mode="audit-only", enforce=False).label == "audit-only"
    assert _Run("r", mode="crawl", enforce=True).label == "crawl, enforcing"
    assert _Run("r", mode="audit-only", enforce=False, command="fetch").label == "scrapy fetch, audit-only"
    assert _Run("r", mode="audit", enforce=None).label == "audit"
