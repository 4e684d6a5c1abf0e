"""aipref Content-Usage and Cloudflare Content-Signal values and headers (pure tests)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noai_guard import decision as d
from noai_guard.aipref import combine, header_signals, parse_content_signal, parse_content_usage
from noai_guard.decision import Signal, Verdict
from noai_guard.policy import Policy, decide

URL = "https://example.com/page"
P = Policy(user_agents=("examplebot",))
A, R, U = Verdict.ALLOW, Verdict.RESERVE, Verdict.UNKNOWN


@pytest.mark.parametrize(
    ("value", "train", "search", "error", "note"),
    [
        ("train-ai=n", R, U, False, None),
        ("train-ai=y", A, U, False, None),
        ("train-ai=n, search=y", R, A, False, None),
        ("search=n", U, R, False, None),
        # Vector 29: duplicate keys, last wins; a bare key is Boolean true, not y/n.
        ("train-ai=y, train-ai, search=n", U, R, False, "not the Token y or n"),
        # Vector 30: uppercase key / missing comma: the dictionary does not parse.
        ("Train-AI=n", U, U, True, "not a valid RFC 9651 dictionary"),
        ("ai=n train-ai=n", U, U, True, "not a valid RFC 9651 dictionary"),
        # Vector 31: attach-00 legacy label, reported and ignored.
        ("ai=n", U, U, False, "legacy label 'ai=n'"),
        ("train-genai=n", U, U, False, "legacy label"),
        # Parameters are ignored (vocab §6.4), even one named like a preference.
        ("train-ai;allow=n, train-ai=y", A, U, False, None),
        ("train-ai=n;reason=x", R, U, False, None),
        ('train-ai="n"', U, U, False, "not the Token y or n"),
        ("train-ai=1", U, U, False, "not the Token y or n"),
        ("unknown-label=n, train-ai=n", R, U, False, None),
        ("", U, U, False, None),
    ],
)
def test_parse_content_usage(
    value: str, train: Verdict, search: Verdict, error: bool, note: str | None
) -> None:
    p = parse_content_usage(value)
    assert (p.get("train-ai"), p.get("search")) == (train, search)
    assert (p.error is not None) is error
    if note:
        assert any(note in n for n in p.notes), p.notes
    assert p.for_purpose(d.AI_TRAIN) is train
    assert p.for_purpose(d.SEARCH) is search
    assert p.for_purpose(d.AI_INPUT) is None


def test_combine() -> None:
    assert combine([A, R, U]) is R
    assert combine([U, A]) is A
    assert combine([U, U]) is U
    assert combine([]) is U


@pytest.mark.parametrize(
    ("value", "prefs", "extra"),
    [
        ("search=yes, ai-train=no", {"search": True, "ai-train": False}, {}),
        ("search=yes,ai-input=no,ai-train=no", {"search": True, "ai-input": False, "ai-train": False}, {}),
        ("Search=Yes, AI-Train=NO", {"search": True, "ai-train": False}, {}),
        ("search = yes ;  ai-train =  no", {"search": True, "ai-train": False}, {}),
        ("search=yes,ai-train=no,use=reference", {"search": True, "ai-train": False}, {"use": "reference"}),
        ('ai-train="no"', {"ai-train": False}, {}),
        ("ai-train=maybe", {}, {}),
        ("ai-train=yes, ai-train=no", {"ai-train": False}, {}),  # restrictive
        ("ai-train", {}, {}),
        ("", {}, {}),
        # A key is the run of key characters from its first letter (issue 11, item 10: the
        # linear parser reads these as the quadratic one did).
        ("_ai-train=no", {"ai-train": False}, {}),
        ("1.ai-train=no", {"ai-train": False}, {}),
        ("x-ai-train=no", {}, {"x-ai-train": "no"}),
        ("\u00e9ai-train=no", {"ai-train": False}, {}),
        ('use="x"ai-train=no', {"ai-train": False}, {"use": "x"}),
        ('use="ai-train=no', {"ai-train": False}, {"use": ""}),
        ('ai-train="no', {}, {}),
        ("ai-trainai-train ai-train=no", {"ai-train": False}, {}),
    ],
)
def test_parse_content_signal(value: str, prefs: dict[str, bool], extra: dict[str, str]) -> None:
    cs = parse_content_signal(value)
    assert dict(cs.prefs) == prefs
    assert dict(cs.extra) == extra


def test_content_signal_verdicts() -> None:
    cs = parse_content_signal("search=yes, ai-train=no")
    assert (cs.verdict(d.SEARCH), cs.verdict(d.AI_TRAIN), cs.verdict(d.AI_INPUT)) == (A, R, U)
    assert any("maybe" in n for n in parse_content_signal("ai-train=maybe").notes)


# ---------------------------------------------------------------------------
# header_signals


def usage(headers: list[tuple[str, str]], purpose: str = d.AI_TRAIN) -> Signal:
    out = [s for s in header_signals(headers, URL, P.with_purpose(purpose)) if s.name == d.CONTENT_USAGE]
    assert len(out) == 1
    return out[0]


@pytest.mark.parametrize(
    ("vector", "headers", "verdict", "evidence", "note"),
    [
        (
            "29",
            [("Content-Usage", "train-ai=y, train-ai, search=n")],
            U,
            "train-ai=y, train-ai, search=n",
            "Token",
        ),
        ("30a", [("Content-Usage", "Train-AI=n")], U, "Train-AI=n", "RFC 9651"),
        ("30b", [("Content-Usage", "ai=n train-ai=n")], U, "ai=n train-ai=n", "RFC 9651"),
        ("31", [("Content-Usage", "ai=n")], U, "ai=n", "legacy label"),
        ("plain-n", [("content-usage", "train-ai=n")], R, "train-ai=n", "train-ai=n"),
        ("plain-y", [("CONTENT-USAGE", "train-ai=y")], A, "train-ai=y", "train-ai=y"),
        # Several field lines combine restrictively (vocab §5.1), not "last wins".
        (
            "multi",
            [("Content-Usage", "train-ai=n"), ("Content-Usage", "train-ai=y")],
            R,
            "train-ai=n",
            "combined",
        ),
        (
            "multi-bad",
            [("Content-Usage", "Train-AI=y"), ("Content-Usage", "train-ai=y")],
            A,
            "train-ai=y",
            "combined",
        ),
    ],
)
def test_content_usage_header_vectors(
    vector: str, headers: list[tuple[str, str]], verdict: Verdict, evidence: str, note: str
) -> None:
    s = usage(headers)
    assert (s.verdict, s.evidence) == (verdict, evidence)
    assert note in s.note
    assert (s.source, s.location, s.line) == (URL, "header:Content-Usage", None)


def test_content_usage_header_other_purposes() -> None:
    h = [("Content-Usage", "train-ai=n, search=y")]
    assert usage(h, d.SEARCH).verdict is A
    assert usage(h, d.AI_INPUT).verdict is None


def test_vector_32_header_y_robots_n() -> None:
    from noai_guard.robots import RobotsTxt

    robots = RobotsTxt.parse(
        b"User-agent: *\nAllow: /\nContent-Usage: train-ai=n\n", "https://example.com/robots.txt"
    )
    signals = robots.signals(URL, P) + header_signals([("Content-Usage", "train-ai=y")], URL, P)
    assert decide(URL, signals, P).verdict is R


def test_content_signal_header() -> None:
    (s,) = header_signals([("content-signal", "search=yes, ai-train=no")], URL, P)
    assert (s.name, s.verdict, s.location) == (d.CONTENT_SIGNAL, R, "header:Content-Signal")
    (s,) = header_signals([("Content-Signal", "search=yes")], URL, P)
    assert s.verdict is U
    (s,) = header_signals([("Content-Signal", "ai-train=yes"), ("Content-Signal", "ai-train=no")], URL, P)
    assert (s.verdict, s.evidence) == (R, "ai-train=no")
    (s,) = header_signals([("Content-Signal", "ai-input=no")], URL, P.with_purpose(d.AI_INPUT))
    assert s.verdict is R


def test_no_relevant_headers() -> None:
    assert header_signals([("Content-Type", "text/html"), ("X-Robots-Tag", "noai")], URL, P) == []
    both = header_signals([("Content-Usage", "train-ai=y"), ("Content-Signal", "ai-train=yes")], URL, P)
    assert [s.name for s in both] == [d.CONTENT_USAGE, d.CONTENT_SIGNAL]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parsers_never_raise(value: str) -> None:
    parse_content_usage(value)
    parse_content_signal(value)
    header_signals([("Content-Usage", value), ("Content-Signal", value)], URL, P)
