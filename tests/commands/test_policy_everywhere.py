"""One policy everywhere (issue 12 item 4): settings, every command's flags, ``--policy FILE|TRAIL``.

Every path builds its policy with ``policy.policy_from_mapping``; a bad value is
one line naming the setting or flag, the value and what is allowed; a crawl's
policy replayed by ``audit --policy TRAIL`` gives the crawl's ``policy_hash``.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from scrapy.settings import Settings

from noai_guard import decision as d
from noai_guard.auditlog import read_audit
from noai_guard.cli import build_parser, main
from noai_guard.commands._policy import PolicyArgsError, policy_from_args
from noai_guard.decision import Verdict
from noai_guard.policy import Policy
from noai_guard.settings import SettingsError, policy_from_settings

URL = "https://news.example/a"
COMMANDS = {  # each command with the arguments it needs besides the policy
    "explain": [URL],
    "audit": ["/nonexistent/input.warc"],
    "check": ["http://127.0.0.1:9/"],
}
ALL_SIGNALS = ", ".join(d.SIGNALS)


def args_policy(command: str, *flags: str) -> Policy:
    args = build_parser().parse_args([command, *COMMANDS[command], *flags])
    return policy_from_args(args)


# --- Scrapy settings ------------------------------------------------------------------------------


def test_issue_14_settings_errors_name_setting_value_and_allowed() -> None:
    # As `scrapy crawl -s NAME=VALUE` hands them over: strings.
    with pytest.raises(SettingsError) as exc:
        policy_from_settings(Settings({"NOAI_GUARD_PURPOSE": "ai_train"}))
    assert str(exc.value) == (
        "NOAI_GUARD_PURPOSE: 'ai_train' is not a purpose; allowed: ai-train, ai-input, search "
        "(did you mean 'ai-train'?)"
    )
    with pytest.raises(SettingsError) as exc:
        policy_from_settings(Settings({"NOAI_GUARD_SOURCES": "robots,xrobots"}))
    assert str(exc.value) == (
        f"NOAI_GUARD_SOURCES: 'robots' is not a signal name; allowed: {ALL_SIGNALS} (did you mean 'robots-txt'?)"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NOAI_GUARD_PURPOSE", 3, "NOAI_GUARD_PURPOSE: 3 is not a purpose; allowed: ai-train"),
        ("NOAI_GUARD_PROXY_TOKENS", 3, "NOAI_GUARD_PROXY_TOKENS: 3 is not a list of names; allowed: "),
        ("NOAI_GUARD_SOURCES", ["robots-txt", "nope"], "NOAI_GUARD_SOURCES: 'nope' is not a signal name"),
        ("NOAI_GUARD_UNKNOWN", {"robots-txt": "maybe"}, "NOAI_GUARD_UNKNOWN['robots-txt']: 'maybe' is not"),
        ("NOAI_GUARD_UNKNOWN", {"robots": "allow"}, "NOAI_GUARD_UNKNOWN: 'robots' is not a signal name"),
        ("NOAI_GUARD_UNKNOWN", "[1]", "NOAI_GUARD_UNKNOWN: '[1]' is not a dict of signal name"),
        ("NOAI_GUARD_UNKNOWN_DEFAULT", "unknown", "NOAI_GUARD_UNKNOWN_DEFAULT: 'unknown' is not a"),
        (
            "NOAI_GUARD_HEAD_BUDGET",
            "lots",
            "NOAI_GUARD_HEAD_BUDGET: 'lots' is not an integer of at least 1024",
        ),
        ("NOAI_GUARD_HEAD_BUDGET", 100, "NOAI_GUARD_HEAD_BUDGET: 100 is not an integer of at least 1024"),
        (
            "NOAI_GUARD_HTML_STRICT",
            "maybe",
            "NOAI_GUARD_HTML_STRICT: 'maybe' is not a boolean; allowed: true",
        ),
        ("NOAI_GUARD_HONOUR_LEGACY", "2", "NOAI_GUARD_HONOUR_LEGACY: '2' is not a boolean"),
        ("NOAI_GUARD_LENIENT_NOIMAGEAI", "x", "NOAI_GUARD_LENIENT_NOIMAGEAI: 'x' is not a boolean"),
        ("NOAI_GUARD_POLICY", {"purpose": "x"}, "NOAI_GUARD_POLICY['purpose']: 'x' is not a purpose"),
        ("NOAI_GUARD_POLICY", {"budget": 1}, "NOAI_GUARD_POLICY: 'budget' is not a policy field; allowed"),
        ("NOAI_GUARD_POLICY", 3, "NOAI_GUARD_POLICY: 3 is not a dict of policy fields"),
        ("NOAI_GUARD_POLICY", "/nonexistent/p.json", "NOAI_GUARD_POLICY: /nonexistent/p.json: cannot read"),
    ],
)
def test_every_policy_setting_error_is_one_line_naming_it(name: str, value: Any, message: str) -> None:
    with pytest.raises(SettingsError) as exc:
        policy_from_settings(Settings({name: value}))
    assert str(exc.value).startswith(message), str(exc.value)
    assert "\n" not in str(exc.value)


def test_unknown_setting_merges_with_the_rfc_default() -> None:
    p = policy_from_settings(Settings({"NOAI_GUARD_UNKNOWN": '{"tdmrep": "reserve"}'}))
    assert p.unknown_as == {d.ROBOTS_TXT: Verdict.RESERVE, d.TDMREP: Verdict.RESERVE}
    p = policy_from_settings(Settings({"NOAI_GUARD_UNKNOWN": {"robots-txt": "allow"}}))
    assert p.unknown_as == {d.ROBOTS_TXT: Verdict.ALLOW}


def test_policy_setting_is_a_base_the_other_settings_override(tmp_path: Path) -> None:
    base = {
        "purpose": "search",
        "directives": {"nocrawlai": ["ai-train"]},
        "not_checked_as": "reserve",
        "unknown_as": {"robots-txt": "allow"},
    }
    s = Settings({"USER_AGENT": "MyBot/1.0", "NOAI_GUARD_POLICY": base})
    p = policy_from_settings(s)
    assert p.purpose == "search" and p.directives == {"nocrawlai": ("ai-train",)}
    assert p.not_checked_as is Verdict.RESERVE and p.unknown_as == {d.ROBOTS_TXT: Verdict.ALLOW}
    # A field the policy leaves out comes from the settings: the token of USER_AGENT.
    assert p.user_agents == ("MyBot",)
    # A setting set to something else overrides; NOAI_GUARD_UNKNOWN merges over the base's.
    s.set("NOAI_GUARD_PURPOSE", "ai-input")
    s.set("NOAI_GUARD_UNKNOWN", {"tdmrep": "reserve"})
    p = policy_from_settings(s)
    assert p.purpose == "ai-input"
    assert p.unknown_as == {d.ROBOTS_TXT: Verdict.ALLOW, d.TDMREP: Verdict.RESERVE}
    # A setting left at its default (a copy of settings_example.py) does not.
    s.set("NOAI_GUARD_PURPOSE", "ai-train")
    s.set("NOAI_GUARD_UNKNOWN", {"robots-txt": "reserve"})
    assert policy_from_settings(s).purpose == "search"
    assert policy_from_settings(s).unknown_as == {d.ROBOTS_TXT: Verdict.ALLOW}
    # As JSON text (-s NOAI_GUARD_POLICY='{...}') and as a file.
    assert policy_from_settings(Settings({"NOAI_GUARD_POLICY": json.dumps(base)})).purpose == "search"
    f = tmp_path / "policy.json"
    f.write_text(json.dumps(base))
    assert policy_from_settings(Settings({"NOAI_GUARD_POLICY": str(f)})).directives == p.directives


# --- every command, every field -------------------------------------------------------------------

EVERY_FLAG = [
    *("--purpose", "search"),
    *("--user-agent", "a", "--user-agent", "b"),
    *("--proxy-token", "GPTBot", "--proxy-token", "CCBot"),
    *("--directive", "noai=ai-train", "--directive", "NoCrawlAI=ai-train,ai-input", "--directive", "noml="),
    *("--source", "robots-txt", "--sources", "tdmrep,ai-txt", "--no-source", "ai-txt"),
    *("--unknown", "tdmrep=reserve", "--unknown", "robots-txt=allow"),
    *("--unknown-default", "reserve", "--not-checked-as", "reserve"),
    *("--lenient-noimageai", "--honour-legacy", "--html-strict", "--head-budget", "4096"),
]
EVERY_FIELD = Policy(
    purpose="search",
    user_agents=("a", "b"),
    proxy_tokens=("GPTBot", "CCBot"),
    directives={
        "noai": ("ai-train",),
        "noimageai": (d.AI_TRAIN, d.AI_INPUT),
        "nocrawlai": (d.AI_TRAIN, d.AI_INPUT),
        "noml": (),
    },
    lenient_noimageai=True,
    honour_legacy=True,
    sources=frozenset({d.ROBOTS_TXT, d.TDMREP}),
    unknown_as={d.ROBOTS_TXT: Verdict.ALLOW, d.TDMREP: Verdict.RESERVE},
    unknown_default=Verdict.RESERVE,
    not_checked_as=Verdict.RESERVE,
    html_strict=True,
    html_budget=4096,
)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_every_field(command: str) -> None:
    assert args_policy(command) == Policy()
    assert args_policy(command, *EVERY_FLAG) == EVERY_FIELD
    assert args_policy(command, "--no-proxy-tokens").proxy_tokens == ()
    assert args_policy(command, "--no-lenient-noimageai").lenient_noimageai is False
    assert args_policy(command, "--no-source", "ai-txt").sources == frozenset(d.SIGNALS) - {d.AI_TXT}


BAD_FLAGS = [
    (
        ["--purpose", "training"],
        "--purpose: 'training' is not a purpose; allowed: ai-train, ai-input, search",
    ),
    (["--user-agent", " "], "--user-agent: [' '] is not a list of product tokens; allowed: one or more"),
    (["--directive", "noai"], "--directive: 'noai' is not NAME=PURPOSES; allowed: purposes ai-train, "),
    (["--directive", "noai=train"], "--directive['noai']: 'train' is not a purpose; allowed: ai-train, "),
    (["--directive", "no ai=ai-train"], "--directive: 'no ai' is not a directive name"),
    (["--source", "robots"], f"--source: 'robots' is not a signal name; allowed: {ALL_SIGNALS}"),
    (["--sources", "robots-txt,xrobots"], "--source: 'xrobots' is not a signal name; allowed: robots-txt, "),
    (["--no-source", "robots"], "--no-source: 'robots' is not a signal name; allowed: robots-txt, "),
    (["--unknown", "tdmrep"], "--unknown: 'tdmrep' is not SIGNAL=allow|reserve; allowed: allow, reserve"),
    (["--unknown", "tdm=allow"], "--unknown: 'tdm' is not a signal name; allowed: robots-txt, "),
    (
        ["--unknown", "tdmrep=maybe"],
        "--unknown['tdmrep']: 'maybe' is not a resolution of unknown; allowed: allow, reserve",
    ),
    (
        ["--unknown-default", "unknown"],
        "--unknown-default: 'unknown' is not a resolution of unknown; allowed: allow, ",
    ),
    (
        ["--not-checked-as", "block"],
        "--not-checked-as: 'block' is not a resolution of unknown; allowed: allow, ",
    ),
    (
        ["--head-budget", "1k"],
        "--head-budget: '1k' is not an integer of at least 1024; allowed: a number of bytes",
    ),
    (["--head-budget", "10"], "--head-budget: '10' is not an integer of at least 1024"),
    (["--proxy-token", "X", "--no-proxy-tokens"], "--no-proxy-tokens: cannot be combined with --proxy-token"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("flags", "message"), BAD_FLAGS)
def test_bad_field_is_one_line_and_exit_2(
    command: str, flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main([command, *COMMANDS[command], *flags])
    out, err = capsys.readouterr()
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("noai-guard"), err
    assert f": error: {message}" in err, err
    assert out == ""


def test_bad_field_from_the_command_line_prints_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "noai_guard.cli", "audit", "x.warc", "--sources", "robots,xrobots"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"noai-guard: error: --source: 'robots' is not a signal name; allowed: {ALL_SIGNALS}\n"
    )


# --- --policy FILE --------------------------------------------------------------------------------


def test_policy_file_is_a_base_the_flags_override(tmp_path: Path) -> None:
    f = tmp_path / "policy.json"
    f.write_text(json.dumps(EVERY_FIELD.to_dict()))
    for command in COMMANDS:
        assert args_policy(command, "--policy", str(f)) == EVERY_FIELD
    p = args_policy(
        "explain", "--policy", str(f), "--purpose", "ai-input", "--unknown", "content-usage=allow"
    )
    assert p.purpose == "ai-input" and p.honour_legacy
    assert p.unknown_as == {**EVERY_FIELD.unknown_as, d.CONTENT_USAGE: Verdict.ALLOW}
    # A file of some fields: the others take their defaults.
    f.write_text('{"honour_legacy": true}')
    assert args_policy("audit", "--policy", str(f)) == Policy(honour_legacy=True)
    # The file written from Python, as the README shows.
    code = "import json; from noai_guard.policy import Policy; print(json.dumps(Policy().to_dict()))"
    f.write_text(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    assert args_policy("check", "--policy", str(f)) == Policy()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"sources": ["robots"]}', "{f}: sources: 'robots' is not a signal name; allowed: robots-txt, "),
        ('{"directives": {"noai": "x"}}', "{f}: directives['noai']: 'x' is not a purpose; allowed: "),
        ('{"budget": 5}', "{f}: 'budget' is not a policy field; allowed: purpose, "),
        ("[1, 2]", "--policy: {f}: a JSON list, not a JSON policy object or an audit trail"),
        ("", "--policy: {f}: empty; expected a JSON policy object or an audit trail"),
        ("User-agent: *\nDisallow: /\n", "--policy: neither a JSON policy object nor a readable audit trail"),
        (
            '{"type": "decision", "url": "x"}\n',
            "--policy: {f}: neither a JSON policy object nor an audit trail",
        ),
    ],
)
def test_bad_policy_file_is_one_line_and_exit_2(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "p.json"
    f.write_text(content)
    rc = main(["explain", URL, "--policy", str(f)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert message.format(f=f) in err, err


def test_policy_file_directive_changes_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.html"
    page.write_text('<html><head><meta name="robots" content="nocrawlai"></head><body>x</body></html>')
    assert main(["explain", URL, "--html", str(page)]) == 0
    f = tmp_path / "policy.json"
    f.write_text(json.dumps({"directives": {"nocrawlai": ["ai-train"]}}))
    capsys.readouterr()
    assert main(["explain", URL, "--html", str(page), "--policy", str(f), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["decided_by"]["name"] == d.META_ROBOTS
    assert doc["policy_hash"] == Policy(directives={"nocrawlai": ("ai-train",)}).hash


# --- --policy TRAIL -------------------------------------------------------------------------------


def _run(run_id: str, policy: Policy) -> dict[str, Any]:
    return {"type": "run", "run_id": run_id, "policy": policy.to_dict(), "policy_hash": policy.hash}


def test_policy_trail_replays_its_run_and_names_runs_that_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    legacy = Policy(honour_legacy=True, user_agents=("x",))
    trail = tmp_path / "t.jsonl.gz"
    lines = [_run("r1", legacy), {"type": "decision", "url": URL}, _run("r2", legacy)]
    trail.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in lines).encode()))
    assert args_policy("audit", "--policy", str(trail)) == legacy
    # A run record from before a field existed: the field takes its default.
    old = {k: v for k, v in legacy.to_dict().items() if k != "not_checked_as"}
    trail.write_text(json.dumps({"type": "run", "run_id": "r0", "policy": old}) + "\n")
    assert args_policy("explain", "--policy", str(trail)) == legacy
    # Two runs with different policies: which one is meant is not guessed.
    trail.write_text("".join(json.dumps(r) + "\n" for r in (_run("r1", legacy), _run("r2", Policy()))))
    assert main(["explain", URL, "--policy", str(trail)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "runs with different policies" in err and "run r1 (policy" in err and "run r2 (policy" in err
    trail.write_text(json.dumps({"type": "run", "run_id": "r3", "policy": {"purpose": "x"}}) + "\n")
    assert main(["explain", URL, "--policy", str(trail)]) == 2
    assert f"{trail} (run r3) policy: purpose: 'x' is not a purpose" in capsys.readouterr().err


def test_audit_replays_a_crawls_policy_with_the_same_policy_hash(
    make_site: Callable[..., Any], crawl: Callable[..., Any], tmp_path: Path
) -> None:
    """The crawl runs a policy far from the default; its WARC audited with --policy TRAIL
    flags what the crawl flagged, under the crawl's policy hash."""
    from crawlutil import page, text

    paths = ("/private/a", "/legacy/b", "/imgs", "/tdm", "/plain", "/gpt/c")
    site = make_site(
        {
            "/robots.txt": text(
                "User-agent: *\nDisallow: /private/\nDisallowAITraining: /legacy/\n\n"
                "User-agent: GPTBot\nDisallow: /gpt/\n"
            ),
            "/": page(body="".join(f'<a href="{p}">{p}</a> ' for p in paths)),
            "/private/a": page(),
            "/legacy/b": page(),
            "/imgs": page('<meta name="robots" content="noimageai">'),
            "/tdm": page('<meta name="tdm-reservation" content="1">'),
            "/plain": page(),
            "/gpt/c": page(),
        }
    )
    warc = tmp_path / "live.warc.gz"
    res = crawl(
        [site.url("/")],
        settings={
            "NOAI_GUARD_ENFORCE": False,
            "NOAI_GUARD_HONOUR_LEGACY": True,
            "NOAI_GUARD_LENIENT_NOIMAGEAI": True,
            "NOAI_GUARD_SOURCES": [s for s in d.SIGNALS if s != d.TDMREP],
            "NOAI_GUARD_PROXY_TOKENS": ["CCBot"],
            "NOAI_GUARD_UNKNOWN": {"content-usage": "reserve"},
            "NOAI_GUARD_HEAD_BUDGET": 8192,
            "AUDIT_TEST_WARC": str(warc),
            "DOWNLOADER_MIDDLEWARES": {"test_audit_consistency.WarcRecorder": 990},
        },
        spider={"follow": True},
    )
    assert res.returncode == 0, res.log[-3000:]
    (run,) = [r for r in res.trail if r["type"] == "run"]
    live = {r["url"]: (r["signal"], r["verdict"]) for r in res.decisions("flagged")}
    assert live == {
        site.url("/private/a"): ("robots-txt", "reserve"),
        site.url("/legacy/b"): ("legacy-ai-training", "reserve"),
    }

    out = tmp_path / "replayed.jsonl"
    rc = main(
        ["audit", str(warc), "--policy", str(res.workdir / "trail.jsonl"), "--out", str(out), "--no-progress"]
    )
    recs = list(read_audit(out))
    assert rc == 1
    (audit_run,) = [r for r in recs if r["type"] == "run"]
    assert audit_run["policy_hash"] == run["policy_hash"]
    assert audit_run["policy"] == run["policy"]
    assert {r["policy_hash"] for r in recs if r["type"] == "decision"} == {run["policy_hash"]}
    assert {
        r["url"]: (r["signal"], r["verdict"])
        for r in recs
        if r["type"] == "decision" and r["action"] == "flagged"
    } == live

    # The token alone is not the crawl's policy: other verdicts, another hash.
    plain = tmp_path / "plain.jsonl"
    main(["audit", str(warc), "--user-agent", "testbot", "--out", str(plain), "--no-progress"])
    precs = list(read_audit(plain))
    assert {r["policy_hash"] for r in precs if r["type"] == "run"} != {run["policy_hash"]}
    flagged = {r["url"] for r in precs if r["type"] == "decision" and r["action"] == "flagged"}
    assert site.url("/legacy/b") not in flagged and site.url("/imgs") in flagged


# --- check: the crawl it runs judges with exactly the policy given ----------------------------------


def test_check_crawls_with_every_field_of_the_policy(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/p").respond_with_data(
        '<html><head><meta name="robots" content="nocrawlai"></head><body>x</body></html>',
        content_type="text/html",
    )
    url = httpserver.url_for("/p")
    f = tmp_path / "policy.json"
    f.write_text(json.dumps({"directives": {"nocrawlai": ["ai-train"]}, "not_checked_as": "reserve"}))
    trail = tmp_path / "check.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "noai_guard.cli",
            "check",
            url,
            "--policy",
            str(f),
            "--user-agent",
            "mybot",
            "--audit",
            str(trail),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (res,) = json.loads(proc.stdout)
    assert res["verdict"] == "reserve" and res["decided_by"]["evidence"].endswith('content="nocrawlai">')
    want = Policy(
        directives={"nocrawlai": ("ai-train",)}, not_checked_as=Verdict.RESERVE, user_agents=("mybot",)
    )
    assert res["policy_hash"] == want.hash
    (run,) = [r for r in read_audit(trail) if r["type"] == "run"]
    assert run["policy_hash"] == want.hash and Policy.from_dict(run["policy"]) == want
    assert any(r["user_agent"].startswith("mybot/") for r in _requests(httpserver))


def _requests(server: HTTPServer) -> list[dict[str, str]]:
    return [{"path": req.path, "user_agent": req.headers.get("User-Agent", "")} for req, _ in server.log]


def test_policy_args_error_is_a_value_error() -> None:
    # The commands catch it with their other usage errors.
    assert issubclass(PolicyArgsError, ValueError)
