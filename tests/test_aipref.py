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
    ("value", "train", "use", "search", "error", "note"),
    [
        ("train-ai=n", R, U, U, False, None),
        ("train-ai=y", A, U, U, False, None),
        ("train-ai=n, search=y", R, U, A, False, None),
        ("search=n", U, U, R, False, None),
        # vocab-08 §4.2 / §6.1: ai-use is a current label (it was vocab-02 legacy before).
        ("ai-use=n", U, R, U, False, None),
        ("ai-use=y, train-ai=n, search=y", R, A, A, False, None),
        ('ai-use="n"', U, U, U, False, "not the Token y or n"),
        # Vector 29: duplicate keys, last wins; a bare key is Boolean true, not y/n.
        ("train-ai=y, train-ai, search=n", U, U, R, False, "not the Token y or n"),
        # Vector 30: uppercase key / missing comma: the dictionary does not parse.
        ("Train-AI=n", U, U, U, True, "not a valid RFC 9651 dictionary"),
        ("AI-Use=n", U, U, U, True, "not a valid RFC 9651 dictionary"),
        ("ai=n train-ai=n", U, U, U, True, "not a valid RFC 9651 dictionary"),
        # Vector 31: attach-00 legacy label, reported and ignored.
        ("ai=n", U, U, U, False, "legacy label 'ai=n'"),
        ("train-genai=n", U, U, U, False, "legacy label"),
        ("inference=n, ai-output=n", U, U, U, False, "legacy label"),
        # Parameters are ignored (vocab §6.4), even one named like a preference.
        ("train-ai;allow=n, train-ai=y", A, U, U, False, None),
        ("train-ai=n;reason=x", R, U, U, False, None),
        ('train-ai="n"', U, U, U, False, "not the Token y or n"),
        ("train-ai=1", U, U, U, False, "not the Token y or n"),
        ("unknown-label=n, train-ai=n", R, U, U, False, None),
        ("", U, U, U, False, None),
    ],
)
def test_parse_content_usage(
    value: str, train: Verdict, use: Verdict, search: Verdict, error: bool, note: str | None
) -> None:
    p = parse_content_usage(value)
    assert (p.get("train-ai"), p.get("ai-use"), p.get("search")) == (train, use, search)
    assert (p.error is not None) is error
    if note:
        assert any(note in n for n in p.notes), p.notes
    assert p.for_purpose(d.AI_TRAIN) is train
    assert p.for_purpose(d.AI_INPUT) is use
    assert p.for_purpose(d.SEARCH) is search


def test_ai_use_is_no_longer_a_legacy_label() -> None:
    p = parse_content_usage("ai-use=n")
    assert p.legacy == () and not any("legacy" in n for n in p.notes)


# The examples draft-ietf-aipref-vocab-08 gives itself (§6, §6.5.1, §6.5.2), read under
# each of its three categories: (train-ai, ai-use, search).
@pytest.mark.parametrize(
    ("section", "value", "expected"),
    [
        # §6: allow model training, disallow search, other categories unknown.
        ("6", "train-ai=y, search=n", (A, U, R)),
        # §6.5.1: duplicated keys, the last value of each is not a Token: all unknown.
        ("6.5.1", 'train-ai=y, train-ai, search=n, search="n"', (U, U, U)),
        # §6.5.2: only the selected member's parameters apply: allow.
        ("6.5.2a", "train-ai;allow=n, train-ai=y", (A, U, U)),
        # §6.5.2: parameters on a member whose preference is unknown.
        ("6.5.2b", 'train-ai;has;parameters="?";', (U, U, U)),
    ],
)
def test_vocab_08_examples(section: str, value: str, expected: tuple[Verdict, Verdict, Verdict]) -> None:
    p = parse_content_usage(value)
    assert (p.for_purpose(d.AI_TRAIN), p.for_purpose(d.AI_INPUT), p.for_purpose(d.SEARCH)) == expected


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
    # vocab-08 §4.2: ai-input is read from ai-use; not stated here, so unknown (vocab §5).
    s = usage(h, d.AI_INPUT)
    assert (s.verdict, s.scope) == (U, "ai-use")
    assert "no ai-use preference stated" in s.note


def test_content_usage_header_ai_use() -> None:
    # vocab-08 §4.2: ai-use=n reserves the ai-input purpose, with the header as evidence,
    # and decides the page for a crawler whose purpose is ai-input (not for ai-train).
    h = [("Content-Usage", "train-ai=y, ai-use=n")]
    s = usage(h, d.AI_INPUT)
    assert (s.verdict, s.evidence, s.scope) == (R, "train-ai=y, ai-use=n", "ai-use")
    assert "ai-use=n" in s.note
    pol = P.with_purpose(d.AI_INPUT)
    dec = decide(URL, header_signals(h, URL, pol), pol)
    assert dec.verdict is R and dec.decided_by is not None and dec.decided_by.name == d.CONTENT_USAGE
    assert decide(URL, header_signals(h, URL, P), P).verdict is A


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
