"""X-Robots-Tag and robots <meta> directives: conformance vectors 1-10, grammar, adversarial input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noai_guard import decision as d
from noai_guard.decision import Signal, Verdict
from noai_guard.directives import LOC_XRT, header_signals, meta_signals, parse_directives
from noai_guard.htmlhead import Head, Meta, read_head
from noai_guard.policy import Policy, decide

URL = "https://example.com/page"
POLICY = Policy(user_agents=("examplebot",))
LENIENT = Policy(user_agents=("examplebot",), lenient_noimageai=True)


def page_signals(
    policy: Policy, headers: Sequence[tuple[str, str]] = (), html: bytes = b"", *, is_image: bool = False
) -> list[Signal]:
    sigs = header_signals(list(headers), URL, policy, is_image=is_image)
    if html:
        sigs += meta_signals(read_head(html), URL, policy, is_image=is_image)
    return sigs


@dataclass(frozen=True)
class Vec:
    n: str
    headers: tuple[tuple[str, str], ...] = ()
    html: bytes = b""
    is_image: bool = False
    policy: Policy = POLICY
    verdict: Verdict = Verdict.RESERVE
    evidence: str | None = None  # of the deciding signal
    scope: str | None = None
    own_token: bool | None = None


VECTORS = [
    Vec("1", (("X-Robots-Tag", "noai"),), evidence="noai"),
    Vec("2", (("X-Robots-Tag", "NoAI"),), evidence="NoAI"),
    Vec(
        "3",
        (("X-Robots-Tag", "noindex"), ("x-robots-tag", "noimageai")),
        is_image=True,
        evidence="noimageai",
    ),
    Vec("4", (("X-Robots-Tag", "otherbot: noai"),), verdict=Verdict.ALLOW, evidence="otherbot: noai"),
    Vec(
        "5",
        (("X-Robots-Tag", "ExampleBot: noai"),),
        evidence="ExampleBot: noai",
        scope="examplebot",
        own_token=True,
    ),
    Vec(
        "6",
        (("X-Robots-Tag", "noindex, examplebot: noai"),),
        evidence="noindex, examplebot: noai",
        scope="examplebot",
        own_token=True,
    ),
    Vec(
        "7",
        (("X-Robots-Tag", "unavailable_after: 25 Jun 2010 15:00:00 PST"),),
        verdict=Verdict.ALLOW,
        evidence="unavailable_after: 25 Jun 2010 15:00:00 PST",
    ),
    Vec("8", (("X-Robots-Tag", "noindex"),), verdict=Verdict.ALLOW, evidence="noindex"),
    Vec(
        "9",
        html=b'<html><head><meta name="ROBOTS" content="NOAI, nofollow"></head><body>x</body></html>',
        evidence='<meta name="ROBOTS" content="NOAI, nofollow">',
    ),
    Vec(
        "10-strict",
        html=b'<meta name="robots" content="noimageai"><p>text',
        evidence='<meta name="robots" content="noimageai">',
    ),
    Vec(
        "10-lenient-text",
        html=b'<meta name="robots" content="noimageai"><p>text',
        policy=LENIENT,
        verdict=Verdict.ALLOW,
        evidence='<meta name="robots" content="noimageai">',
    ),
    Vec(
        "10-lenient-image",
        html=b'<meta name="robots" content="noimageai"><p>text',
        policy=LENIENT,
        is_image=True,
        evidence='<meta name="robots" content="noimageai">',
    ),
    # Extra: the proxy-token scope (counted by policy) and the name=TOKEN meta.
    Vec(
        "gptbot-header",
        (("X-Robots-Tag", "GPTBot: noai"),),
        evidence="GPTBot: noai",
        scope="gptbot",
        own_token=False,
    ),
    Vec(
        "token-meta",
        html=b'<meta name="ExampleBot" content="noai">',
        evidence='<meta name="ExampleBot" content="noai">',
        scope="examplebot",
        own_token=True,
    ),
    Vec(
        "other-meta",
        html=b'<meta name="otherbot" content="noai">',
        verdict=Verdict.ALLOW,
        evidence='<meta name="otherbot" content="noai">',
    ),
]


@pytest.mark.parametrize("v", VECTORS, ids=[v.n for v in VECTORS])
def test_vectors(v: Vec) -> None:
    sigs = page_signals(v.policy, list(v.headers), v.html, is_image=v.is_image)
    dec = decide(URL, sigs, v.policy)
    assert dec.verdict is v.verdict, dec.to_dict()
    assert dec.blocked is (v.verdict is Verdict.RESERVE)
    top = dec.decided_by
    assert top is not None
    assert top.evidence == v.evidence
    assert top.scope == v.scope
    assert top.own_token is v.own_token
    assert top.source == URL
    assert top.location == (LOC_XRT if v.headers else d.LOC_META)
    assert top.name == (d.X_ROBOTS_TAG if v.headers else d.META_ROBOTS)
    assert top.note


def test_vector_4_records_the_other_scope() -> None:
    sigs = header_signals([("X-Robots-Tag", "otherbot: noai")], URL, POLICY)
    scoped = [s for s in sigs if s.scope == "otherbot"]
    assert len(scoped) == 1
    assert scoped[0].verdict is None
    assert scoped[0].user_agent == "otherbot"
    assert "another crawler" in scoped[0].note


def test_vector_10_lenient_note() -> None:
    sigs = page_signals(LENIENT, html=b'<meta name="robots" content="noimageai">')
    s = next(s for s in sigs if s.verdict is None)
    assert "lenient: reserves embedded images only" in s.note


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("noai", [(None, "noai")]),
        ("NoAI , NOIMAGEAI", [(None, "noai"), (None, "noimageai")]),
        ("noindex, examplebot: noai", [(None, "noindex"), ("examplebot", "noai")]),
        (
            "googlebot: nofollow, otherbot: noindex, noai",
            [("googlebot", "nofollow"), ("otherbot", "noindex"), ("otherbot", "noai")],
        ),
        ("unavailable_after: 25 Jun 2010 15:00:00 PST", [(None, "unavailable_after")]),
        ("unavailable_after: Friday, 25-Jun-10 15:00:00 PST", [(None, "unavailable_after")]),
        (
            "unavailable_after: Fri, 25 Jun 2010 15:00:00 GMT, noai",
            [(None, "unavailable_after"), (None, "noai")],
        ),
        ("unavailable_after: 2010-06-25T15:00:00Z", [(None, "unavailable_after")]),
        (
            "max-snippet: 20, max-image-preview: large, noai",
            [(None, "max-snippet"), (None, "max-image-preview"), (None, "noai")],
        ),
        ("bot: max-video-preview: -1, noai", [("bot", "max-video-preview"), ("bot", "noai")]),
        ("noai noimageai", [(None, "noai"), (None, "noimageai")]),
        ("noai;noimageai", [(None, "noai"), (None, "noimageai")]),
        ("max-image-preview:large noai", [(None, "max-image-preview"), (None, "noai")]),
        ("bot: max-snippet: 20 noimageai", [("bot", "max-snippet"), ("bot", "noimageai")]),
        ("img2dataset: noai", [("img2dataset", "noai")]),
        ("Kangaroo Bot: noai", [("kangaroo bot", "noai")]),
        ("examplebot:", []),
        ("", []),
        (" , ,, ", []),
        ("no\x00ai, \x7fnoml\r\n", [(None, "no"), (None, "ai"), (None, "noml")]),
    ],
)
def test_parse_directives(value: str, expected: list[tuple[str | None, str]]) -> None:
    assert parse_directives(value) == expected


def test_rfc850_date_is_not_a_scope() -> None:
    sigs = header_signals(
        [("X-Robots-Tag", "unavailable_after: Friday, 25-Jun-10 15:00:00 PST")], URL, POLICY
    )
    assert [(s.verdict, s.scope) for s in sigs] == [(Verdict.ALLOW, None)]


def test_scope_does_not_leak_across_header_lines() -> None:
    sigs = header_signals([("X-Robots-Tag", "otherbot: noindex"), ("X-Robots-Tag", "noai")], URL, POLICY)
    assert decide(URL, sigs, POLICY).verdict is Verdict.RESERVE
    assert any(s.scope is None and s.verdict is Verdict.RESERVE for s in sigs)


def test_non_ai_directives_never_reserve() -> None:
    value = "noindex, nofollow, none, noarchive, nosnippet, noimageindex, notranslate"
    sigs = header_signals([("X-Robots-Tag", value)], URL, POLICY)
    assert [s.verdict for s in sigs] == [Verdict.ALLOW]
    assert sigs[0].evidence == value


def test_other_headers_ignored() -> None:
    assert header_signals([("X-Robots", "noai"), ("Robots", "noai")], URL, POLICY) == []


def test_header_name_case_and_space() -> None:
    assert header_signals([(" x-ROBOTS-tag ", "noai")], URL, POLICY)[0].verdict is Verdict.RESERVE


def test_noml_speaks_to_training_only() -> None:
    pol = Policy(user_agents=("examplebot",), purpose=d.AI_INPUT)
    sigs = header_signals([("X-Robots-Tag", "noml")], URL, pol)
    assert decide(URL, sigs, pol).verdict is Verdict.ALLOW
    assert any(s.verdict is None and "does not speak to ai-input" in s.note for s in sigs)
    assert decide(URL, header_signals([("X-Robots-Tag", "noai")], URL, pol), pol).verdict is Verdict.RESERVE


def test_search_purpose_is_not_spoken_to() -> None:
    pol = Policy(user_agents=("examplebot",), purpose=d.SEARCH)
    sigs = header_signals([("X-Robots-Tag", "noai")], URL, pol)
    assert all(s.verdict is None for s in sigs)
    assert decide(URL, sigs, pol).verdict is Verdict.ALLOW


def test_custom_directive_vocabulary() -> None:
    """Bing's noarchive can be added to the vocabulary by policy."""
    pol = Policy(user_agents=("examplebot",), directives={"noai": (d.AI_TRAIN,), "noarchive": (d.AI_TRAIN,)})
    sigs = header_signals([("X-Robots-Tag", "noarchive")], URL, pol)
    assert decide(URL, sigs, pol).verdict is Verdict.RESERVE


def test_meta_union_and_duplicates() -> None:
    html = b'<meta name="robots" content="noindex"><meta name="robots" content="noai, noai"><p>'
    sigs = page_signals(POLICY, html=html)
    reserving = [s for s in sigs if s.verdict is Verdict.RESERVE]
    assert len(reserving) == 1
    assert reserving[0].evidence == '<meta name="robots" content="noai, noai">'


def test_irrelevant_metas_are_not_recorded() -> None:
    html = (
        b'<meta name="viewport" content="width=device-width"><meta name="description" content="noai art">'
        b'<meta property="og:title" content="noai"><meta name="robots-ish thing!" content="noai">'
    )
    assert page_signals(POLICY, html=html) == []


def test_incomplete_head_gives_unknown() -> None:
    head = Head((Meta("robots", "noindex", '<meta name="robots" content="noindex">', False),), False, 1024)
    sigs = meta_signals(head, URL, POLICY)
    unknown = [s for s in sigs if s.verdict is Verdict.UNKNOWN]
    assert len(unknown) == 1
    assert "1024 bytes" in unknown[0].evidence
    dec = decide(URL, sigs, POLICY)
    assert dec.verdict is Verdict.UNKNOWN
    assert dec.blocked is False  # policy default for meta-robots: allow (flagged)


def test_budgeted_head_read_gives_unknown() -> None:
    html = b"<head>" + b'<link rel="x" href="/y">' * 20_000 + b'<meta name="robots" content="noai">'
    head = read_head(html, budget=64 * 1024)
    assert not head.complete
    assert decide(URL, meta_signals(head, URL, POLICY), POLICY).verdict is Verdict.UNKNOWN


def test_meta_in_body_only_when_strict() -> None:
    html = b'<head><title>t</title></head><body><p>x</p><meta name="robots" content="noai"></body>'
    assert decide(URL, meta_signals(read_head(html), URL, POLICY), POLICY).verdict is Verdict.ALLOW
    sigs = meta_signals(read_head(html, strict=True), URL, POLICY)
    assert decide(URL, sigs, POLICY).verdict is Verdict.RESERVE
    assert "html_strict" in next(s for s in sigs if s.verdict is Verdict.RESERVE).note


@pytest.mark.parametrize(
    "value",
    [
        "noai\x00",
        "\x00\x01\x02",
        "examplebot:\x0bnoai",
        "noai\r\nX-Evil: 1",
        "\ud800noai",
        ":" * 1000,
        "," * 10_000,
        "a: " * 500,
        "unavailable_after: Friday," * 200,
    ],
)
def test_control_characters_and_junk_tolerated(value: str) -> None:
    sigs = header_signals([("X-Robots-Tag", value)], URL, POLICY)
    assert sigs  # at least the "checked" record
    assert all(s.evidence == value for s in sigs)


@given(st.text(max_size=300))
def test_parse_directives_never_raises(value: str) -> None:
    pairs = parse_directives(value)
    assert pairs == parse_directives(value)
    for scope, directive in pairs:
        assert directive == directive.lower() and directive and " " not in directive
        assert scope is None or scope == scope.lower()


@given(
    st.lists(
        st.tuples(st.sampled_from(["X-Robots-Tag", "x-robots-tag", "Other"]), st.text(max_size=80)),
        max_size=5,
    )
)
def test_header_signals_never_raise(headers: list[tuple[str, str]]) -> None:
    a = header_signals(headers, URL, POLICY)
    assert a == header_signals(headers, URL, POLICY)
    assert all(s.name == d.X_ROBOTS_TAG and s.verdict is not Verdict.UNKNOWN for s in a)


_WORDS = ["noai", "noimageai", "noml", "noindex", ", ", ": ", "examplebot", "gptbot", "otherbot", " "]


@given(st.lists(st.sampled_from(_WORDS), max_size=12).map("".join))
def test_unscoped_noai_always_reserves(value: str) -> None:
    """A directive list that contains an unscoped noai reserves, whatever else it says."""
    pairs = parse_directives(value)
    sigs = header_signals([("X-Robots-Tag", value)], URL, POLICY)
    expected = any(sc in (None, "examplebot", "gptbot") and dv in POLICY.directives for sc, dv in pairs)
    assert (decide(URL, sigs, POLICY).verdict is Verdict.RESERVE) is expected
