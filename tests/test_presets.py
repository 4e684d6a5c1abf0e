"""Policy presets (issue 18 item 4): the Apertus preset's documented behaviours, in explain and audit.

Each behaviour of Apertus's retroactive robots.txt filter (tech report §3.1.1 and
Appendix B; swiss-ai/pretrain-data RobotsTxtFilter) is pinned here: the token list,
``*``, robots.txt keyed by host, a missing / 5xx / unparseable file keeps the data.
The live crawl is in tests/crawl/test_presets_crawl.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from crawlutil import Route, Site

from noai_guard import decision as d
from noai_guard.cli import main
from noai_guard.policy import Policy, PolicyError, policy_from_mapping
from noai_guard.presets import (
    APERTUS_TOKENS,
    PRESETS,
    PresetError,
    differences,
    fetch_token,
    get_preset,
    preset_record,
)

# The list of Apertus's Appendix B, as published (the order is the report's).
APPENDIX_B = [
    "AI2Bot",
    "Applebot-Extended",
    "Bytespider",
    "CCBot",
    "CCBot/2.0",
    "CCBot/1.0",
    "ClaudeBot",
    "cohere-training-data-crawler",
    "Diffbot",
    "Meta-ExternalAgent",
    "Google-Extended",
    "GPTBot",
    "PanguBot",
    "*",
]


# -- the presets themselves -----------------------------------------------------------------------


def test_apertus_token_list_is_appendix_b() -> None:
    assert list(APERTUS_TOKENS) == APPENDIX_B
    p = get_preset("apertus").policy
    assert list(p.user_agents) == APPENDIX_B
    assert p.proxy_tokens == ()
    assert p.sources == frozenset({d.ROBOTS_TXT})
    assert p.robots_key == "host"
    assert p.resolve_unknown(d.ROBOTS_TXT).value == "allow"


def test_default_preset_is_the_default_policy_and_its_hash_is_unchanged() -> None:
    assert get_preset("default").policy == Policy()
    assert get_preset("default").hash == Policy().hash
    # robots_key is written only when changed: every earlier policy keeps its hash.
    assert "robots_key" not in Policy().to_dict()


def test_names_versions_and_unknown_names() -> None:
    assert get_preset("apertus").id == get_preset("APERTUS@1").id == "apertus@1"
    for bad in ("nope", "apertus@9", "", "@1"):
        with pytest.raises(PresetError) as exc:
            get_preset(bad)
        assert "\n" not in str(exc.value) and "apertus@1" in str(exc.value)
    assert len({p.id for p in PRESETS}) == len(PRESETS)


def test_differences_list_what_the_preset_changes() -> None:
    diffs = {k: (a, b) for k, a, b in differences(get_preset("apertus"))}
    assert set(diffs) == {"user_agents", "proxy_tokens", "sources", "unknown_as", "robots_key"}
    assert diffs["unknown_as"] == ({"robots-txt": "reserve"}, {})
    assert diffs["robots_key"] == ("origin", "host")
    assert differences(get_preset("default")) == []


def test_robots_key_field_round_trips_and_is_checked() -> None:
    p = policy_from_mapping({"robots_key": "host"})
    assert p.robots_key == "host" and Policy.from_dict(p.to_dict()) == p
    assert p.hash != Policy().hash
    with pytest.raises(PolicyError) as exc:
        policy_from_mapping({"robots_key": "domain"})
    assert str(exc.value) == "robots_key: 'domain' is not a robots.txt key; allowed: origin, host"


def test_preset_record_names_the_changed_fields() -> None:
    ap = get_preset("apertus")
    assert preset_record(ap, ap.policy) == {
        "name": "apertus",
        "version": 1,
        "id": "apertus@1",
        "policy_hash": ap.hash,
        "modified": False,
        "changed": [],
    }
    changed = policy_from_mapping({**ap.fields, "sources": ["robots-txt", "tdmrep"]})
    rec = preset_record(ap, changed)
    assert rec["modified"] is True and rec["changed"] == ["sources"]
    # The default preset names no own token: a crawl's own token is not a change.
    assert preset_record(get_preset("default"), Policy(user_agents=("MyBot",)))["modified"] is False


def test_fetch_token_is_never_a_token_a_preset_judges_for() -> None:
    assert fetch_token(get_preset("apertus").policy) == "noai-guard"
    assert fetch_token(Policy(user_agents=("*", "GPTBot", "MyBot"))) == "MyBot"
    assert fetch_token(Policy()) == "noai-guard"


def test_audit_fetch_under_a_preset_announces_itself(tmp_path: Path, make_site: Callable[..., Site]) -> None:
    site = make_site(
        {"/robots.txt": Route(200, "User-agent: ClaudeBot\nDisallow: /\n", content_type="text/plain")}
    )
    urls = tmp_path / "urls.txt"
    urls.write_text(site.url("/page") + "\n")
    rc, _, gone = _audit(tmp_path, urls, "--preset", "apertus", "--fetch")
    assert rc == 1 and gone == [site.url("/page")]
    (hit,) = [h for h in site.log if h.path == "/robots.txt"]
    assert hit.headers["User-Agent"].startswith("noai-guard/"), hit.headers


# -- explain: each documented behaviour ------------------------------------------------------------


def _explain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], robots: str | bytes | None, *args: str
) -> tuple[int, dict[str, object]]:
    argv = ["explain", "https://site.example/private/page", "--json", *args]
    if robots is not None:
        f = tmp_path / "robots.txt"
        f.write_bytes(robots if isinstance(robots, bytes) else robots.encode())
        argv += ["--robots", str(f)]
    capsys.readouterr()
    rc = main(argv)
    out = capsys.readouterr().out
    return rc, json.loads(out) if out.strip() else {}


@pytest.mark.parametrize("token", APPENDIX_B)
def test_each_listed_token_removes_the_url(
    token: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A group for this token alone; every other agent may crawl (an empty * group is
    # left out for the * row itself, whose own group is the disallowing one).
    other = "" if token == "*" else "User-agent: *\nAllow: /\n\n"
    rc, doc = _explain(
        tmp_path, capsys, f"{other}User-agent: {token}\nDisallow: /private/\n", "--preset", "apertus"
    )
    assert rc == 1 and doc["verdict"] == "reserve", doc
    assert doc["decided_by"]["name"] == "robots-txt"  # type: ignore[index]
    assert doc["preset"]["id"] == "apertus@1"  # type: ignore[index]


def test_a_token_off_the_list_keeps_the_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    robots = "User-agent: anthropic-ai\nDisallow: /\n\nUser-agent: omgili\nDisallow: /\n"
    rc, doc = _explain(tmp_path, capsys, robots, "--preset", "apertus")
    assert rc == 0 and doc["verdict"] == "allow"
    # The default counts them (packaged proxy tokens): the presets differ here.
    rc, doc = _explain(tmp_path, capsys, robots)
    assert rc == 1 and doc["decided_by"]["name"] == "robots-txt-proxy"  # type: ignore[index]


def test_star_binds_even_when_every_listed_token_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    robots = "User-agent: GPTBot\nUser-agent: CCBot\nAllow: /\n\nUser-agent: *\nDisallow: /private/\n"
    rc, doc = _explain(tmp_path, capsys, robots, "--preset", "apertus")
    assert rc == 1 and doc["decided_by"]["user_agent"] == "*"  # type: ignore[index]
    # Outside the disallowed path: kept (the filter asks per URL, not per site).
    argv = ["explain", "https://site.example/open", "--json", "--robots", str(tmp_path / "robots.txt")]
    capsys.readouterr()
    assert main([*argv, "--preset", "apertus"]) == 0


@pytest.mark.parametrize(
    ("robots", "status"),
    [
        (None, None),  # no file given: missing
        ("not found", 404),
        ("busy", 503),  # unreachable: RFC 9309 §2.3.1.4 would disallow everything
        ("", 500),
        ("", 429),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00", 200),  # not a robots.txt at all
        ("<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>", 200),
    ],
)
def test_missing_unreachable_or_unparseable_file_keeps_the_data(
    robots: str | bytes | None, status: int | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = [] if status is None else ["--robots-status", str(status)]
    rc, doc = _explain(tmp_path, capsys, robots, "--preset", "apertus", *extra)
    assert doc["blocked"] is False, doc
    if status in (429, 500, 503):
        # Unknown, resolved to allow by the preset (explain's exit 3 says unknown, not blocked).
        assert rc == 3 and doc["verdict"] == "unknown"
        assert doc["resolution"] == "unknown robots-txt resolved to allow by policy"
    else:
        assert rc == 0 and doc["verdict"] == "allow"


def test_unreachable_file_blocks_under_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, doc = _explain(tmp_path, capsys, "busy", "--robots-status", "503")
    assert rc == 3 and doc["blocked"] is True


def test_page_signals_are_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    headers = tmp_path / "h.txt"
    headers.write_text("HTTP/1.1 200 OK\r\nX-Robots-Tag: noai\r\nContent-Type: text/html\r\n")
    rc, doc = _explain(
        tmp_path, capsys, "User-agent: *\nAllow: /\n", "--headers", str(headers), "--preset", "apertus"
    )
    assert rc == 0 and doc["verdict"] == "allow"
    rc, doc = _explain(tmp_path, capsys, "User-agent: *\nAllow: /\n", "--headers", str(headers))
    assert rc == 1 and doc["decided_by"]["name"] == "x-robots-tag"  # type: ignore[index]


def test_explain_text_names_the_preset_and_a_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "robots.txt"
    f.write_text("User-agent: GPTBot\nDisallow: /\n")
    capsys.readouterr()
    assert main(["explain", "https://a.example/x", "--robots", str(f), "--preset", "apertus"]) == 1
    out = capsys.readouterr().out
    assert f"preset:  apertus@1 (policy {get_preset('apertus').hash[:12]}; as published)" in out
    assert (
        main(
            [
                "explain",
                "https://a.example/x",
                "--robots",
                str(f),
                "--preset",
                "apertus",
                "--purpose",
                "search",
            ]
        )
        == 1
    )
    assert "changed: purpose" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--preset", "nope"], "--preset: unknown preset 'nope'; known presets: default@1, apertus@1"),
        (["--preset", "apertus", "--policy", "x.json"], "--preset: cannot be combined with --policy"),
    ],
)
def test_bad_preset_is_one_line_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    # explain's exit 1 means "reserve": a bad option is a usage error (2), as every bad policy option.
    assert main(["explain", "https://a.example/", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# -- noai-guard presets -------------------------------------------------------------------------


def test_presets_command_lists_each_preset_and_its_differences(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "default@1: " in out and "apertus@1: " in out
    assert "robots_key: origin -> host" in out and 'unknown_as: {"robots-txt": "reserve"} -> {}' in out
    assert "differences from the default: none" in out
    assert main(["presets", "apertus", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (ap,) = doc["presets"]
    assert ap["policy_hash"] == get_preset("apertus").hash
    assert Policy.from_dict(ap["policy"]).hash == ap["policy_hash"]
    assert {x["field"] for x in ap["differences"]} >= {"user_agents", "sources", "robots_key"}


def test_presets_command_unknown_name_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["presets", "fineweb"]) == 1
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and "unknown preset 'fineweb'" in cap.err


# -- audit of a WARC ------------------------------------------------------------------------------


def _warc(path: Path, records: list[tuple[str, int, bytes]], date: str = "2025-01-02T03:04:05Z") -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for url, status, body in records:
            ctype = "text/plain" if url.endswith("/robots.txt") else "text/html"
            http = StatusAndHeaders(f"{status} X", [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = w.create_warc_record(
                url,
                "response",
                payload=BytesIO(body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": date},
            )
            w.write_record(rec)


PAGE = b"<html><head><meta name=robots content=noai></head><body>x</body></html>"


def _audit(tmp_path: Path, warc: Path, *args: str) -> tuple[int, list[dict[str, object]], list[str]]:
    out = tmp_path / f"t{len(list(tmp_path.glob('t*.jsonl')))}.jsonl"
    removals = out.with_suffix(".removals")
    rc = main(["audit", str(warc), "--out", str(out), "--removals", str(removals), "--no-progress", *args])
    recs = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    gone = removals.read_text().split() if removals.exists() else []
    return rc, recs, gone


def test_audit_apertus_keys_robots_by_host_and_keeps_what_it_cannot_read(tmp_path: Path) -> None:
    warc = tmp_path / "a.warc.gz"
    _warc(
        warc,
        [
            # keyed by host: the https capture judges the http pages of the same host
            ("https://host.example/robots.txt", 200, b"User-agent: GPTBot\nDisallow: /private/\n"),
            ("http://host.example/private/a", 200, PAGE),
            ("http://host.example/open/b", 200, PAGE),
            # another host is another file: www. is not the bare domain
            ("http://www.host.example/private/c", 200, PAGE),
            # 5xx robots.txt: kept; the page's noai meta is not read by the preset
            ("https://down.example/robots.txt", 503, b"busy"),
            ("https://down.example/private/d", 200, PAGE),
            # unparseable file: kept
            ("https://junk.example/robots.txt", 200, b"\x00\xff\xfe binary \x00 Disallow"),
            ("https://junk.example/private/e", 200, PAGE),
            # * binds
            ("https://star.example/robots.txt", 200, b"User-agent: *\nDisallow: /private/\n"),
            ("https://star.example/private/f", 200, PAGE),
        ],
    )
    rc, recs, gone = _audit(tmp_path, warc, "--preset", "apertus")
    assert rc == 1
    assert sorted(gone) == ["http://host.example/private/a", "https://star.example/private/f"]
    run = next(r for r in recs if r.get("type") == "run")
    ap = get_preset("apertus")
    assert run["preset"] == {**preset_record(ap, ap.policy)}
    assert run["policy_hash"] == ap.hash
    dec = next(r for r in recs if r.get("type") == "decision" and r["url"] == "http://host.example/private/a")
    assert dec["evidence_url"] == "https://host.example/robots.txt"
    assert dec["capture"]["robots"]["keyed_by"] == "host"  # type: ignore[index]

    # The default policy on the same WARC: per origin (the http pages' robots.txt was never
    # captured: not checked), RFC 9309 for the 503, and the pages' noai metas.
    rc, recs, gone = _audit(tmp_path, warc)
    assert rc == 1
    assert "http://host.example/open/b" in gone  # its noai meta
    assert "https://down.example/private/d" in gone
    assert not any(r.get("type") == "run" and "preset" in r for r in recs)


def test_audit_preset_with_a_flag_is_recorded_as_changed(tmp_path: Path) -> None:
    warc = tmp_path / "a.warc.gz"
    _warc(
        warc,
        [
            ("https://x.example/robots.txt", 200, b"User-agent: *\nAllow: /\n"),
            ("https://x.example/p", 200, PAGE),
        ],
    )
    rc, recs, gone = _audit(
        tmp_path, warc, "--preset", "apertus", "--source", "robots-txt", "--source", "meta-robots"
    )
    assert rc == 1 and gone == ["https://x.example/p"]
    run = next(r for r in recs if r.get("type") == "run")
    assert run["preset"]["modified"] is True and run["preset"]["changed"] == ["sources"]  # type: ignore[index]
    assert run["preset"]["policy_hash"] == get_preset("apertus").hash != run["policy_hash"]  # type: ignore[index]


def test_audit_unknown_preset_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warc = tmp_path / "a.warc.gz"
    _warc(warc, [("https://x.example/p", 200, PAGE)])
    capsys.readouterr()
    rc, _, _ = _audit(tmp_path, warc, "--preset", "nope")
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "unknown preset 'nope'" in err


def test_report_names_the_preset_of_each_run(tmp_path: Path) -> None:
    warc = tmp_path / "a.warc.gz"
    _warc(
        warc,
        [
            ("https://x.example/robots.txt", 200, b"User-agent: GPTBot\nDisallow: /\n"),
            ("https://x.example/p", 200, PAGE),
        ],
    )
    _audit(tmp_path, warc, "--preset", "apertus")
    trail = next(tmp_path.glob("t*.jsonl"))
    out = tmp_path / "rep"
    assert main(["report", str(trail), "--out", str(out)]) in (0, 1)
    doc = json.loads((out / "report.json").read_text())
    (run,) = doc["runs"]
    assert run["preset"] == "apertus@1" and "preset apertus@1" in run["label"]
    assert "preset apertus@1" in (out / "report.md").read_text()


def test_audit_reproduction_path_january_files_apply_to_older_records(tmp_path: Path) -> None:
    # The preset's usage: the January 2025 files, undated, in a --robots-from folder (one
    # folder per host, no scheme, as the filter keyed its files), judge records of any date.
    folder = tmp_path / "robots-2025-01" / "old.example"
    folder.mkdir(parents=True)
    (folder / "robots.txt").write_text("User-agent: CCBot\nDisallow: /\n")
    warc = tmp_path / "a.warc.gz"
    _warc(
        warc,
        [("http://old.example/2014/story", 200, PAGE), ("https://new.example/x", 200, PAGE)],
        date="2014-03-01T00:00:00Z",
    )
    rc, _, gone = _audit(
        tmp_path, warc, "--preset", "apertus", "--robots-from", str(tmp_path / "robots-2025-01")
    )
    assert rc == 1 and gone == ["http://old.example/2014/story"]
