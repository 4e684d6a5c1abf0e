"""`noai-guard report`: content, formats, schema, manifest, sampling, bounded state."""

from __future__ import annotations

import csv
import functools
import gzip
import json
import shutil
import socket
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from _report_fixtures import (
    POLICY,
    audit_records,
    crawl_records,
    robots_unreachable,
    ts,
    write_fixture_trails,
)

from noai_guard import decision as d
from noai_guard.auditlog import ALLOWED, PRE_FETCH, decision_record, run_record, write_all
from noai_guard.cli import main
from noai_guard.policy import Policy, decide
from noai_guard.report import aggregate, build_report, verify_manifest
from noai_guard.report.domains import DomainTable, registrable_domain
from noai_guard.report.specs import SPEC_VERSIONS
from noai_guard.report.stats import BottomKSampler, BoundedCounter, TimeHistogram

ALL_FILES = {"report.html", "report.md", "report.json", "domains.csv", "samples.csv", "manifest.json"}


@pytest.fixture
def trails(tmp_path: Path) -> list[Path]:
    return write_fixture_trails(tmp_path / "trails")


@pytest.fixture
def report_dir(tmp_path: Path, trails: list[Path]) -> Path:
    out = tmp_path / "out"
    rc = main(["report", str(trails[0].parent / "*.jsonl"), "--out", str(out), "--seed", "7"])
    assert rc == 0
    return out


def load(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "report.json").read_text("utf-8"))
    return doc


# -- CLI -----------------------------------------------------------------------


def test_cli_writes_every_format_and_a_manifest(report_dir: Path) -> None:
    assert {p.name for p in report_dir.iterdir()} == ALL_FILES


def test_cli_format_subset(tmp_path: Path, trails: list[Path]) -> None:
    out = tmp_path / "o"
    assert main(["report", *map(str, trails), "--format", "json,csv", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"report.json", "domains.csv", "samples.csv", "manifest.json"}


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "/nonexistent/trail.jsonl"],
        ["report", "/nonexistent/*.jsonl"],
        ["report", "TRAIL", "--format", "pdf"],
        ["report", "TRAIL", "--top", "-1"],
        ["report", "TRAIL", "--samples", "x"],
        ["report"],
    ],
)
def test_cli_bad_usage_exits_2_with_one_line(
    argv: list[str], trails: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(trails[0]) if a == "TRAIL" else a for a in argv] + ["--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_cli_garbage_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\x00\xff not json\n<html>\n")
    assert main(["report", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a noai-guard audit trail" in err and len(err.splitlines()) == 1


def test_cli_corrupt_gzip_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"a": 1}\n' * 100)[:40])
    assert main(["report", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_directory_and_gzip_inputs(tmp_path: Path, trails: list[Path]) -> None:
    gz = trails[0].parent / "crawl2.jsonl.gz"
    gz.write_bytes(gzip.compress(trails[0].read_bytes()))
    out = tmp_path / "o"
    assert main(["report", str(trails[0].parent), "--out", str(out), "--format", "json"]) == 0
    doc = load(out)
    assert len(doc["inputs"]) == 3
    # The crawl run appears in two files and is summarised twice: reported, not hidden.
    assert doc["exceptions"]["trail"]["runs_summarised_more_than_once"] == ["crawl-run-1"]


# -- content -------------------------------------------------------------------


def test_cover_policy_tokens_and_spec_versions(report_dir: Path) -> None:
    doc = load(report_dir)
    assert doc["schema"] == "noai-guard-report/1"
    assert doc["tool"]["name"] == "noai-guard"
    assert {r["run_id"] for r in doc["runs"]} == {"crawl-run-1", "audit-run-1"}
    assert [p["hash"] for p in doc["policies"]] == [POLICY.hash]
    assert doc["tokens"]["own"] == ["noai-guard"]
    assert "GPTBot" in doc["tokens"]["proxy"]
    assert doc["tokens"]["proxy_matches_packaged_list"] is True
    assert doc["tokens"]["proxy_list"]["date"]
    assert doc["time_range"]["first"] == ts(0)
    specs = {s["signal"]: s["spec"] for s in doc["signals_checked"]}
    assert set(specs) == set(d.SIGNALS)
    assert "RFC 9309" in specs[d.ROBOTS_TXT]
    assert "2024-05-10" in specs[d.TDMREP]
    assert "vocab-08" in specs[d.CONTENT_USAGE] and "attach-05" in specs[d.CONTENT_USAGE]
    assert "expired" in specs[d.LEGACY_AI_TRAINING]
    assert set(SPEC_VERSIONS) == set(d.SIGNALS)
    # Every decision's policy hash is one the runs declared.
    assert doc["undeclared_policy_decisions"] == 0


def test_summary_counts(report_dir: Path) -> None:
    doc = load(report_dir)
    s = doc["summary"]
    rs = s["from_run_summaries"]
    # 13 origins x (4 evaluated with records or not + 3 allowed without records).
    assert rs["evaluated"] == 13 * 7
    assert rs["skipped"] + rs["dropped"] + rs["allowed"] == rs["evaluated"]
    assert rs["runs_without_summary"] == 1  # the audit fixture writes none
    by_signal = {r["signal"]: r for r in s["by_signal"]}
    assert by_signal[d.X_ROBOTS_TAG]["dropped"] == 4
    assert by_signal[d.X_ROBOTS_TAG]["flagged"] == 1
    assert by_signal[d.ROBOTS_TXT_PROXY]["skipped"] == 4
    assert s["by_mode"] == {"crawl": 48, "audit": 11}
    assert {r["purpose"] for r in s["by_purpose"]} == {"ai-train"}


def test_unknowns_resolved_and_nothing_failed_open(report_dir: Path) -> None:
    u = load(report_dir)["unknowns"]
    by = {r["signal"]: r for r in u["by_signal"]}
    assert by[d.ROBOTS_TXT] == {"signal": d.ROBOTS_TXT, "reserve": 5, "allow": 0}
    assert by[d.TDMREP] == {"signal": d.TDMREP, "reserve": 0, "allow": 4}
    assert u["resolved_to_reserve"] == 5 and u["resolved_to_allow"] == 4
    assert u["fail_open"]["total"] == 0
    html = (report_dir / "report.html").read_text("utf-8")
    assert "Nothing failed open" in html


def test_fail_open_is_visible(tmp_path: Path) -> None:
    lax = Policy(unknown_as={})  # unreachable robots.txt resolved to allow: fails open
    url = "https://down.example.io/x"
    dec = decide(url, [robots_unreachable("https://down.example.io")], lax)
    assert not dec.blocked
    trail = tmp_path / "lax.jsonl"
    write_all(
        trail,
        [
            run_record(run_id="lax", mode="crawl", policy=lax.to_dict()),
            decision_record(dec, action=ALLOWED, phase=PRE_FETCH, run_id="lax"),
        ],
    )
    out = tmp_path / "o"
    build_report([str(trail)], out)
    fo = load(out)["unknowns"]["fail_open"]
    assert fo["robots_unknown_allowed"] == 1 and fo["total"] == 1
    assert fo["samples"][0]["url"] == url
    html = (out / "report.html").read_text("utf-8")
    assert "Nothing failed open" not in html and "fail-open event(s)" in html


def test_unknown_without_evidence_is_not_checked_not_fail_open(tmp_path: Path) -> None:
    from noai_guard.decision import Decision, Signal, Verdict

    url = "http://news.example/story"
    sig = Signal(d.ROBOTS_TXT, None, d.AI_TRAIN, "no robots.txt capture for origin", url, d.LOC_ROBOTS)
    dec = Decision(
        url, d.AI_TRAIN, Verdict.UNKNOWN, False, sig, "robots.txt not checked", (sig,), "not checked"
    )
    trail = tmp_path / "a.jsonl"
    write_all(trail, [decision_record(dec, action=ALLOWED, phase="after-the-fact", run_id="a", mode="audit")])
    agg, doc = aggregate([str(trail)])
    agg.close()
    u = doc["unknowns"]
    assert u["not_checked"] == 1 and u["resolved_to_allow"] == 1
    assert u["fail_open"]["total"] == 0


def test_domains_psl_and_other_agents_only(report_dir: Path) -> None:
    dm = load(report_dir)["domains"]
    names = {r["domain"] for r in dm["top_by_volume"]}
    # news.example.co.uk and blog.news.example.co.uk are one registrable domain.
    assert "example.co.uk" in names and "news.example.co.uk" not in names
    top = dm["top_by_skips"][0]
    assert top["domain"] == "example.co.uk" and top["records_skipped"] == 8
    assert [r["domain"] for r in dm["other_agents_only"]["top"]] == ["example.com"]
    assert dm["other_agents_only"]["count"] == 1
    assert dm["with_robots_fetch_failures"] == 1
    rows = list(csv.DictReader((report_dir / "domains.csv").open(encoding="utf-8")))
    assert len(rows) == dm["total"] == 12
    assert sum(int(r["evaluated"]) for r in rows) == 13 * 7


def test_evidence_samples_carry_evidence(report_dir: Path) -> None:
    sm = load(report_dir)["samples"]
    groups = {g["signal"]: g for g in sm["by_signal"]}
    own = groups[d.ROBOTS_TXT_PROXY]["items"][0]
    assert own["evidence"] == "Disallow: /"
    assert own["line"] == 7
    assert own["user_agent"] == "GPTBot" and own["own_token"] is False
    assert own["evidence_url"] == "https://shop.example.com/robots.txt"
    audit = [it for g in sm["by_signal"] for it in g["items"] if it["mode"] == "audit"]
    assert audit and audit[0]["locator"]["warc_file"] == "crawl-00001.warc.gz"
    assert "capture" in audit[0]["locator"]


def test_exceptions(report_dir: Path) -> None:
    ex = load(report_dir)["exceptions"]
    assert ex["fetch"]["robots"]["5xx"] == 1
    assert ex["fetch"]["robots"]["2xx"] == 12
    assert ex["oversize"]["files"][0]["url"] == "https://big.example.de/robots.txt"
    assert ex["parse_failures"]["files"][0]["url"] == "https://broken.example.es/.well-known/tdmrep.json"
    assert ex["trail"]["bad_lines"] == 0


def test_torn_and_bad_lines_are_counted(tmp_path: Path) -> None:
    trail = tmp_path / "t.jsonl"
    write_all(trail, crawl_records())
    with open(trail, "ab") as fh:
        fh.write(b"not json\n")
        fh.write(b'{"schema": "other/1", "type": "x"}\n')
        fh.write(b'{"schema": "noai-guard-audit/1", "type": "decis')  # torn
    agg, doc = aggregate([str(trail)])
    agg.close()
    tr = doc["exceptions"]["trail"]
    assert (tr["bad_lines"], tr["torn_lines"], tr["foreign_records"]) == (1, 1, 1)


def test_malformed_records_do_not_crash(tmp_path: Path) -> None:
    trail = tmp_path / "m.jsonl"
    base = {"schema": "noai-guard-audit/1"}
    recs: list[dict[str, Any]] = [
        {**base, "type": "decision", "url": ["x"], "signal": {"a": 1}, "line": "7", "signals": "nope"},
        {**base, "type": "summary", "origins": {"https://a.example": "nope", "x": {"fetch": {"robots": 3}}}},
        {**base, "type": "run", "policy": ["not", "a", "dict"], "time": "yesterday"},
        {**base, "type": "decision", "time": 12, "blocked": "yes", "own_token": "no", "url": "http://[::1/"},
        {**base, "type": "mystery"},
    ]
    write_all(trail, recs)
    out = tmp_path / "o"
    build_report([str(trail)], out)
    doc = load(out)
    assert doc["records"] == 5
    assert doc["exceptions"]["trail"]["malformed_records"] >= 2
    assert doc["time_range"]["unreadable_times"] >= 2


# -- formats -------------------------------------------------------------------


def test_json_validates_against_schema(report_dir: Path) -> None:
    import jsonschema

    schema = json.loads(resources.files("noai_guard.data").joinpath("report.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(load(report_dir))


def test_json_schema_rejects_a_wrong_document(report_dir: Path) -> None:
    import jsonschema

    schema = json.loads(resources.files("noai_guard.data").joinpath("report.schema.json").read_text("utf-8"))
    doc = load(report_dir)
    doc["summary"]["decision_records"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_html_is_valid_self_contained_html(report_dir: Path) -> None:
    import html5lib

    text = (report_dir / "report.html").read_text("utf-8")
    # strict=True raises on any parse error (unclosed tags, bad nesting, bad attributes ...).
    tree = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)
    assert tree.find("head/style") is not None
    for el in tree.iter():
        assert el.tag not in ("script", "link", "img", "iframe", "object", "embed", "base", "form")
        for attr in ("src", "srcset", "action", "formaction", "data", "poster", "background"):
            assert attr not in el.attrib, (el.tag, attr)
        href = el.get("href")
        assert href is None or href.startswith("#"), href
    ids = [el.get("id") for el in tree.iter() if el.get("id")]
    assert len(ids) == len(set(ids))
    assert "@media print" in text
    assert "Content-Security-Policy" in text


def test_html_parses_with_lxml_too(report_dir: Path) -> None:
    import lxml.html

    doc = lxml.html.document_fromstring((report_dir / "report.html").read_bytes())
    assert len(doc.findall(".//section")) == 11  # the answer, then 10 sections of detail
    assert len(doc.findall(".//svg")) >= 5
    assert doc.xpath("//table/thead/tr/th")


def test_markdown_has_every_section(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text("utf-8")
    for h in ("## Summary", "## Unknown and not checked", "## By registrable domain", "## Evidence samples",
              "## Exceptions", "## Limitations", "## Integrity"):  # fmt: skip
        assert h in md
    assert "absence of a machine\\-readable signal is not consent" in md or "is not consent" in md


def test_manifest_hashes_verify(report_dir: Path, trails: list[Path]) -> None:
    m = json.loads((report_dir / "manifest.json").read_text("utf-8"))
    assert {o["path"] for o in m["outputs"]} == ALL_FILES - {"manifest.json"}
    assert len(m["inputs"]) == 2 and m["policy_hashes"] == [POLICY.hash]
    assert verify_manifest(report_dir) == []
    (report_dir / "report.md").write_text("tampered", "utf-8")
    assert verify_manifest(report_dir) == [f"{report_dir / 'report.md'}: SHA-256 mismatch"]
    with open(trails[0], "ab") as fh:
        fh.write(b"\n")
    assert len(verify_manifest(report_dir)) == 2


def test_report_is_reproducible(tmp_path: Path, trails: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    a, b = tmp_path / "a", tmp_path / "b"
    build_report([str(p) for p in trails], a, seed=3)
    build_report([str(p) for p in trails], b, seed=3)
    for name in ALL_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


# -- sampling ------------------------------------------------------------------


def _many(tmp_path: Path, n: int = 300) -> list[Path]:
    recs: list[dict[str, Any]] = [run_record(run_id="big", mode="crawl", policy=POLICY.to_dict())]
    from _report_fixtures import robots_own

    for i in range(n):
        origin = f"https://s{i % 37}.example.com"
        dec = decide(f"{origin}/p{i}", [robots_own(origin, f"/p{i}")], POLICY)
        recs.append(decision_record(dec, action="skipped", phase=PRE_FETCH, run_id="big", time=ts(i)))
    p1, p2 = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_all(p1, recs[: n // 2])
    write_all(p2, recs[n // 2 :])
    return [p1, p2]


def _samples(paths: list[Path], seed: int | str) -> list[dict[str, Any]]:
    agg, doc = aggregate([str(p) for p in paths], samples=5, seed=seed)
    agg.close()
    items: list[dict[str, Any]] = doc["samples"]["by_signal"][0]["items"]
    return items


def test_samples_reproducible_with_same_seed_in_any_order(tmp_path: Path) -> None:
    paths = _many(tmp_path)
    s1 = _samples(paths, 42)
    assert len(s1) == 5
    assert _samples(paths, 42) == s1
    assert _samples(list(reversed(paths)), 42) == s1
    assert _samples(paths, 43) != s1


def test_bottom_k_sampler_is_uniformish() -> None:
    hits = [0] * 10
    for seed in range(400):
        s = BottomKSampler(2, seed)
        for i in range(10):
            s.offer(str(i), functools.partial(dict, i=i))
        for it in s.sample():
            hits[it["i"]] += 1
    # Each of 10 items is kept with probability 2/10: 80 of 400 expected.
    assert all(45 < h < 120 for h in hits), hits


def test_bounded_counter_overflow() -> None:
    c = BoundedCounter(3)
    for k in "abcdef":
        c.add(k)
    c.add("a", 5)
    assert len(c) == 4 and c.get("a") == 6 and c.get("(other)") == 3 and c.total() == 11


def test_time_histogram_coarsens_and_fills_gaps() -> None:
    h = TimeHistogram(max_buckets=10)
    for i in range(100):
        h.add(f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "skipped")
    assert h.level == "minute"
    level, rows = h.rebucket(60)
    assert level == "minute" and [r[0] for r in rows] == ["2026-01-01T00:00", "2026-01-01T00:01"]
    h2 = TimeHistogram()
    h2.add("2026-01-01T00:00:00Z", "x")
    h2.add("2026-01-03T00:00:00Z", "x")
    level, rows = h2.rebucket(60)
    assert level == "hour" and len(rows) == 49 and rows[1][1] == {}


# -- domains -------------------------------------------------------------------


def test_registrable_domain_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from noai_guard.report import domains

    def no_network(*a: object, **k: object) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    domains._psl.cache_clear()
    registrable_domain.cache_clear()
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert registrable_domain("foo.github.io") == "foo.github.io"
    assert registrable_domain("127.0.0.1") == "127.0.0.1"
    assert registrable_domain("[::1]") == "[::1]"
    assert registrable_domain("localhost") == "localhost"
    assert registrable_domain("co.uk") == "co.uk"


def test_domain_spill_gives_exact_counts(tmp_path: Path) -> None:
    small = DomainTable(buffer_domains=3, tmpdir=str(tmp_path))
    big = DomainTable(buffer_domains=10**6, tmpdir=str(tmp_path))
    for i in range(500):
        dom = f"d{i % 41}.example"
        for t in (small, big):
            t.add(dom, {"decisions": 1, "blocked": i % 2}, ts(i))
    assert small.spills > 10
    assert list(small.rows(order="blocked")) == list(big.rows(order="blocked"))
    assert small.count() == 41
    small.close()
    big.close()


def test_report_with_tiny_domain_buffer_matches(tmp_path: Path, trails: list[Path]) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    build_report([str(p) for p in trails], a, formats=("csv",), buffer_domains=2)
    build_report([str(p) for p in trails], b, formats=("csv",))
    assert (a / "domains.csv").read_bytes() == (b / "domains.csv").read_bytes()


def test_audit_fixture_only(tmp_path: Path) -> None:
    trail = tmp_path / "audit.jsonl"
    write_all(trail, audit_records())
    out = tmp_path / "o"
    build_report([str(trail)], out, formats=("json",))
    doc = load(out)
    assert doc["summary"]["by_action"] == {"flagged": 11}
    assert doc["summary"]["by_phase"] == {"after-the-fact": 11}


def test_copy_of_outputs_dir_still_verifies(report_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(report_dir, copy)
    assert verify_manifest(copy, inputs=False) == []


def test_long_summary_lines_are_decoded_lazily(
    tmp_path: Path, trails: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from noai_guard.report import inputs

    a, b = tmp_path / "a", tmp_path / "b"
    build_report([str(p) for p in trails], a, formats=("json", "csv"), seed=1)
    monkeypatch.setattr(inputs, "LAZY_LINE", 100)
    seen: list[str] = []
    real = inputs._lazy_loads

    def spy(line: bytes) -> dict[str, Any] | None:
        out = real(line)
        seen.append(type(out.get("origins")).__name__ if out else "")
        return out

    monkeypatch.setattr(inputs, "_lazy_loads", spy)
    build_report([str(p) for p in trails], b, formats=("json", "csv"), seed=1)
    assert "LazyObject" in seen
    ja, jb = load(a), load(b)
    for doc in (ja, jb):
        doc.pop("generated_at")
    assert ja == jb
    assert (a / "domains.csv").read_bytes() == (b / "domains.csv").read_bytes()


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "summary", "origins": {"https://a.example": {"evaluated": 2}, "b": {}}, "x": [1, {"y": 2}]}',
        '  { "origins" : { } , "type" : "summary" }  ',
        '{"type": "decision", "origins": {"k": [1, 2]}}',
    ],
)
def test_lazy_loads_matches_json(text: str) -> None:
    from noai_guard.report.inputs import LazyObject, _lazy_loads

    out = _lazy_loads(text.encode())
    assert out is not None
    o = out.get("origins")
    if isinstance(o, LazyObject):
        out["origins"] = dict(o.items())
    assert out == json.loads(text)


@pytest.mark.parametrize(
    "text", ['{"origins": {"a": 1,}}', '{"origins": {"a" 1}}', '{"origins": {"a": 1}', "[1]"]
)
def test_lazy_loads_rejects_malformed(text: str) -> None:
    from noai_guard.report.inputs import _lazy_loads

    try:
        out = _lazy_loads(text.encode())
    except (ValueError, IndexError):
        return
    assert out is None


def test_policy_text_in_html_hashes_to_the_policy_hash(report_dir: Path) -> None:
    import hashlib

    import lxml.html

    tree = lxml.html.document_fromstring((report_dir / "report.html").read_bytes())
    pres = [d.find("pre") for d in tree.iter("details") if "canonical JSON" in (d.findtext("summary") or "")]
    assert len(pres) == 1 and pres[0] is not None
    text = "".join(str(t) for t in pres[0].itertext())
    assert hashlib.sha256(text.encode()).hexdigest() == POLICY.hash
    md = (report_dir / "report.md").read_text("utf-8")
    block = md.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert hashlib.sha256(block.encode()).hexdigest() == POLICY.hash
