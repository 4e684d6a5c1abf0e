"""Everything in an audit trail is attacker-controlled: the report must escape all of it.

Script-injection payloads go through every field a trail can carry (URL and
host, evidence, evidence URL, scope, user agent, reason, resolution, run id,
mode, purpose, signal name, location, extra locator fields, policy values,
summary origins and counters) and then the HTML must contain no element,
attribute, link or style the renderer did not write itself; the Markdown no
raw HTML; the CSV no cell a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from noai_guard.auditlog import SCHEMA, decision_record, run_record, summary_record, write_all
from noai_guard.decision import Decision, Signal, Verdict
from noai_guard.report import build_report
from noai_guard.report.writer import csv_safe

PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "javascript:alert(1)",
    "</style><script>alert(2)</script>",
    "</title></textarea></svg><iframe src=//evil.example>",
    '<a href="javascript:alert(3)">x</a>',
    "]]><!--<base href=//evil.example/>-->",
    "`</pre>```\n# owned\n<details open ontoggle=alert(4)>",
    "{{7*7}} ${alert(5)} | --- |",
    "&lt;script&gt;already-escaped",
)

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "div", "header", "nav", "ol", "ul", "li", "a", "section",
    "h1", "h2", "h3", "p", "dl", "dt", "dd", "details", "summary", "table", "caption", "thead", "tbody", "tr",
    "th", "td", "code", "pre", "figure", "figcaption", "footer", "svg", "rect", "text", "g", "line",
    "br", "span",
}  # fmt: skip
ALLOWED_ATTRS = {
    "class", "id", "href", "lang", "charset", "http-equiv", "content", "name", "scope", "colspan", "open",
    "role", "aria-label", "viewbox", "width", "height", "xmlns", "x", "y", "x1", "x2", "y1", "y2",
    "text-anchor",
}  # fmt: skip


def _hostile_trail(path: Path, payload: str, i: int) -> None:
    host = f"x{i}.example.com"
    url = f"https://{host}/{payload}"
    sig = Signal(
        name=payload,
        verdict=Verdict.RESERVE,
        purpose=payload,
        evidence=payload,
        source=payload,
        location=payload,
        line=3,
        scope=payload,
        user_agent=payload,
        own_token=False,
        note=payload + " truncated unparseable",
    )
    dec = Decision(url, payload, Verdict.RESERVE, True, sig, payload, (sig,), payload, payload)
    policy: dict[str, Any] = {
        "purpose": payload,
        "user_agents": [payload],
        "proxy_tokens": [payload],
        "sources": [payload],
        "unknown_as": {payload: payload},
        "unknown_default": payload,
        payload: payload,
    }
    recs = [
        {
            **run_record(run_id=payload, mode=payload, policy=policy, command=payload, not_checked=[payload]),
            "tool": payload,
            "version": payload,
        },
        decision_record(
            dec, action="skipped", phase=payload, run_id=payload, mode=payload, **{payload: payload}
        ),
        decision_record(dec, action="flagged", phase=payload, run_id=payload, mode=payload, capture=payload),
        decision_record(
            dec,
            action="flagged",
            phase=payload,
            run_id=payload,
            mode=payload,
            capture={payload: {"url": payload, "date": payload}, "robots": {"missing": payload}},
        ),
        # A hostile host: urlsplit keeps it, so it becomes the "registrable domain".
        {
            **decision_record(dec, action="dropped", phase=payload, run_id=payload),
            "url": f"http://{payload.replace('/', '').replace(' ', '')}/",
        },
        summary_record(
            run_id=payload,
            mode=payload,
            policy=policy,
            origins={
                f"https://{payload}": {
                    "evaluated": 3,
                    "allowed": 1,
                    "skipped": 2,
                    "by_signal": {payload: 2},
                    "fetch": {"robots": {payload: 1, "5xx": 1}, payload: {"2xx": 1}},
                }
            },
        ),
        {"schema": SCHEMA, "type": payload, "time": payload},
    ]
    write_all(path, recs)


def hostile_trails(base: Path) -> list[str]:
    """One trail per payload in ``base``; their paths."""
    trails = []
    for i, p in enumerate(PAYLOADS):
        t = base / f"t{i}.jsonl"
        _hostile_trail(t, p, i)
        trails.append(str(t))
    return trails


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    out = base / "out"
    build_report(hostile_trails(base), out, top=100, samples=50)
    return out


def test_payloads_reach_the_report(hostile_report: Path) -> None:
    # The test is only meaningful if the payloads are shown (escaped), not dropped.
    doc = json.loads((hostile_report / "report.json").read_text("utf-8"))
    blob = json.dumps(doc)
    for p in PAYLOADS:
        assert json.dumps(p)[1:-1] in blob
    html = (hostile_report / "report.html").read_text("utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&amp;lt;script&amp;gt;already-escaped" in html
    # The run's command labels it, and the signals it could not check are listed (escaped).
    doc_runs = {r["run_id"]: r for r in doc["runs"]}
    assert doc_runs[PAYLOADS[0]]["command"] == PAYLOADS[0]
    assert doc_runs[PAYLOADS[0]]["not_checked"] == [PAYLOADS[0]]
    assert "<td>scrapy &lt;script&gt;alert(1)&lt;/script&gt;</td>" in html
    assert doc["exceptions"]["audit_inputs"]["captures_cited"]["unique_cited"] == len(PAYLOADS)


def test_html_has_only_renderer_markup(hostile_report: Path) -> None:
    import html5lib

    text = (hostile_report / "report.html").read_text("utf-8")
    tree = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)
    styles = 0
    for el in tree.iter():
        tag = el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""
        if not tag:
            continue  # comments
        assert tag.lower() in ALLOWED_TAGS, tag
        if tag == "style":
            styles += 1
            assert "alert" not in (el.text or "")
        for qattr, value in el.attrib.items():
            attr = qattr.rsplit("}", 1)[-1]
            assert attr.lower() in ALLOWED_ATTRS, (tag, attr)
            assert not attr.lower().startswith("on")
            assert "javascript:" not in value.lower()
            if attr == "href":
                assert value.startswith("#") and value[1:].isalpha(), value
    assert styles == 1
    assert tree.find(".//script") is None


def test_html_raw_text_has_no_live_payload(hostile_report: Path) -> None:
    text = (hostile_report / "report.html").read_text("utf-8").lower()
    # Escaped copies read "&lt;script", "alert(1)&gt;": these only match live markup.
    for needle in (
        "<script",
        "<img",
        "<iframe",
        "<base",
        "<svg onload",
        "onerror=alert(1)>",
        "ontoggle=alert(4)>",
    ):
        assert needle not in text, needle
    assert text.count("<style>") == 1 and text.count("</style>") == 1
    assert 'href="javascript' not in text and "href='javascript" not in text


def test_markdown_has_no_raw_html_or_links(hostile_report: Path) -> None:
    md = (hostile_report / "report.md").read_text("utf-8")
    outside = []
    fenced = False
    for line in md.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            outside.append(line)
    body = "\n".join(outside)
    assert "<" not in body and ">" not in body.replace("&gt;", "")
    assert "](" not in body.replace("\\](", "")
    # Table rows keep their shape: a payload's '|' and newline cannot add cells or rows.
    for line in outside:
        if line.startswith("| ") and "\\|" in line:
            assert line.endswith(" |")


def test_csv_cells_cannot_be_formulas(hostile_report: Path, tmp_path: Path) -> None:
    for name in ("domains.csv", "samples.csv"):
        with open(hostile_report / name, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain", "plain"),
        ("a=1", "a=1"),
        (5, 5),
        (None, ""),
        (True, "true"),
    ],
)
def test_csv_safe(value: object, expected: object) -> None:
    assert csv_safe(value) == expected


def test_formula_payloads_in_every_csv_column(tmp_path: Path) -> None:
    formulas = ["=cmd|' /C calc'!A0", "+1", "-1", "@x", "\tx", "\rx"]
    trails = []
    for i, f in enumerate(formulas):
        t = tmp_path / f"f{i}.jsonl"
        _hostile_trail(t, f, i)
        trails.append(str(t))
    out = tmp_path / "o"
    build_report(trails, out, formats=("csv",))
    n = 0
    for name in ("domains.csv", "samples.csv"):
        with open(out / name, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    n += 1
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    assert n > 100
    text = (out / "samples.csv").read_text("utf-8")
    assert "'=cmd|' /C calc'!A0" in text


def test_hostile_report_json_still_follows_the_schema(hostile_report: Path) -> None:
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("noai_guard.data").joinpath("report.schema.json").read_text("utf-8"))
    jsonschema.validate(json.loads((hostile_report / "report.json").read_text("utf-8")), schema)
