"""W3C TDMRep: tdmrep.json, tdm-reservation header and meta; conformance vectors 34-38."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noai_guard import decision as d
from noai_guard.decision import Signal, Verdict
from noai_guard.evaluate import SiteEval, evaluate
from noai_guard.htmlhead import read_head
from noai_guard.policy import Policy, decide
from noai_guard.tdmrep import LOC_TDM_HEADER, TdmrepFile, header_signals, match_location, meta_signals

ORIGIN = "https://example.com"
FILE_URL = ORIGIN + "/.well-known/tdmrep.json"
POLICY = Policy(user_agents=("examplebot",))
EXAMPLES = Path(__file__).resolve().parent / "data" / "spec-examples"  # copies kept in the repository


def tdm_signals(
    url: str,
    file: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    html: bytes = b"",
    policy: Policy = POLICY,
) -> list[Signal]:
    sigs: list[Signal] = []
    if file is not None:
        sigs += TdmrepFile.parse(file.encode(), FILE_URL).signals(url, policy)
    sigs += header_signals(list(headers), url, policy)
    if html:
        sigs += meta_signals(read_head(html), url, policy)
    return sigs


@dataclass(frozen=True)
class Vec:
    n: str
    path: str
    file: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    html: bytes = b""
    verdict: Verdict = Verdict.RESERVE
    location: str | None = None  # of the deciding signal (None: no deciding signal)
    evidence: str | None = None
    scope: str | None = None
    note: str = ""


VECTORS = [
    Vec(
        "34",
        "/any/page",
        file='[{"location":"/","tdm-reservation":1}]',
        location=d.LOC_TDMREP_FILE,
        evidence='{"location":"/","tdm-reservation":1}',
        scope="/",
    ),
    Vec(
        "35",
        "/private/x",
        file='[{"location":"/","tdm-reservation":0},{"location":"/private/","tdm-reservation":1}]',
        verdict=Verdict.ALLOW,
        location=d.LOC_TDMREP_FILE,
        evidence='{"location":"/","tdm-reservation":0}',
        scope="/",
        note="flag: later rule #2 (/private/)",
    ),
    Vec(
        "36",
        "/page",
        file='[{"location":"/","tdm-reservation":1}]',
        headers=(("tdm-reservation", "0"),),
        verdict=Verdict.ALLOW,
        location=LOC_TDM_HEADER,
        evidence="tdm-reservation: 0",
    ),
    Vec(
        "37",
        "/page",
        headers=(("TDM-Reservation", "1"),),
        html=b'<meta name="tdm-reservation" content="0"><p>',
        verdict=Verdict.ALLOW,
        location=d.LOC_META,
        evidence='<meta name="tdm-reservation" content="0">',
    ),
    Vec(
        "38",
        "/page",
        file='[{"location":"/","tdm-reservation":1}]',
        headers=(("tdm-reservation", "yes"),),
        location=d.LOC_TDMREP_FILE,
        evidence='{"location":"/","tdm-reservation":1}',
        scope="/",
    ),
    Vec("38-no-file", "/page", headers=(("tdm-reservation", "yes"),), verdict=Verdict.ALLOW),
    # Extra layering cases.
    Vec(
        "meta-over-file",
        "/page",
        file='[{"location":"/","tdm-reservation":0}]',
        html=b'<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://e.com/p.json">',
        location=d.LOC_META,
        evidence='<meta name="tdm-reservation" content="1">\n<meta name="tdm-policy" content="https://e.com/p.json">',
    ),
    Vec(
        "bad-meta-keeps-header",
        "/page",
        headers=(("tdm-reservation", "1"),),
        html=b'<meta name="tdm-reservation" content="2">',
        location=LOC_TDM_HEADER,
        evidence="tdm-reservation: 1",
    ),
    Vec(
        "no-rule-matches",
        "/public/x",
        file='[{"location":"/private/","tdm-reservation":1}]',
        verdict=Verdict.ALLOW,
    ),
]


@pytest.mark.parametrize("v", VECTORS, ids=[v.n for v in VECTORS])
def test_vectors(v: Vec) -> None:
    url = ORIGIN + v.path
    sigs = tdm_signals(url, v.file, list(v.headers), v.html)
    dec = decide(url, sigs, POLICY)
    assert dec.verdict is v.verdict, dec.to_dict()
    top = dec.decided_by
    if v.location is None:
        assert top is None
        return
    assert top is not None
    assert top.name == d.TDMREP
    assert top.location == v.location
    assert top.evidence == v.evidence
    assert top.scope == v.scope
    assert top.source == (FILE_URL if v.location == d.LOC_TDMREP_FILE else url)
    assert v.note in top.note
    assert "TDMRep" in top.note


def test_vector_36_marks_the_file_superseded() -> None:
    sigs = tdm_signals(ORIGIN + "/page", '[{"location":"/","tdm-reservation":1}]', [("tdm-reservation", "0")])
    dec = decide(ORIGIN + "/page", sigs, POLICY)
    file_sig = next(s for s in dec.signals if s.location == d.LOC_TDMREP_FILE)
    assert file_sig.superseded
    assert file_sig.verdict is Verdict.RESERVE


def test_vector_38_records_the_protocol_error() -> None:
    (s,) = header_signals([("tdm-reservation", "yes")], ORIGIN + "/", POLICY)
    assert s.verdict is None
    assert s.evidence == "tdm-reservation: yes"
    assert "protocol error" in s.note


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        (["1"], Verdict.RESERVE),
        (["0"], Verdict.ALLOW),
        ([" 1 "], Verdict.RESERVE),  # OWS is not part of the field value (RFC 9110 §5.5)
        (["\t0"], Verdict.ALLOW),
        (["1", "1"], Verdict.RESERVE),
        (["1, 1"], Verdict.RESERVE),
        (["1", "0"], None),
        (["1, 0"], None),
        (["yes"], None),
        (["2"], None),
        ([""], None),
        (["01"], None),
        (["1.0"], None),
        (["true"], None),
        (["1\x00"], None),
        (["1", "yes"], None),
    ],
)
def test_header_values(values: list[str], verdict: Verdict | None) -> None:
    (s,) = header_signals([("tdm-reservation", v) for v in values], ORIGIN + "/", POLICY)
    assert s.verdict is verdict
    assert s.location == LOC_TDM_HEADER


def test_header_policy_in_evidence() -> None:
    headers = [
        ("Content-Type", "text/html"),
        ("tdm-reservation", "1"),
        ("tdm-policy", "https://e.com/policy.json"),
    ]
    (s,) = header_signals(headers, ORIGIN + "/", POLICY)
    assert s.evidence == "tdm-reservation: 1\ntdm-policy: https://e.com/policy.json"
    assert s.verdict is Verdict.RESERVE


def test_policy_alone_or_no_header_gives_nothing() -> None:
    assert header_signals([("tdm-policy", "https://e.com/p.json")], ORIGIN + "/", POLICY) == []
    assert header_signals([], ORIGIN + "/", POLICY) == []
    assert meta_signals(read_head(b"<title>x</title>"), ORIGIN + "/", POLICY) == []


def test_epub2_meta_synonym() -> None:
    (s,) = meta_signals(read_head(b'<meta name="tdm:reservation" content="1"/>'), ORIGIN + "/", POLICY)
    assert s.verdict is Verdict.RESERVE


@pytest.mark.parametrize("purpose", [d.AI_TRAIN, d.AI_INPUT])
def test_purposes_spoken_to(purpose: str) -> None:
    pol = Policy(user_agents=("examplebot",), purpose=purpose)
    (s,) = header_signals([("tdm-reservation", "1")], ORIGIN + "/", pol)
    assert s.verdict is Verdict.RESERVE


def test_search_is_not_spoken_to() -> None:
    pol = Policy(user_agents=("examplebot",), purpose=d.SEARCH)
    sigs = tdm_signals(
        ORIGIN + "/", '[{"location":"/","tdm-reservation":1}]', [("tdm-reservation", "1")], policy=pol
    )
    assert all(s.verdict is None for s in sigs)
    assert decide(ORIGIN + "/", sigs, pol).verdict is Verdict.ALLOW


# --- tdmrep.json -----------------------------------------------------------------------------------


def test_spec_example_1() -> None:
    f = TdmrepFile.parse((EXAMPLES / "w3c-spec-example-1.tdmrep.json").read_bytes(), FILE_URL)
    assert f.state == "ok"
    (s,) = f.signals(ORIGIN + "/anything", POLICY)
    assert (s.verdict, s.scope, s.evidence) == (Verdict.RESERVE, "/", '{"location":"/","tdm-reservation":1}')


@pytest.mark.parametrize(
    ("path", "verdict", "scope"),
    [
        ("/directory-a/x.html", Verdict.RESERVE, "/directory-a/"),
        ("/directory-b/html/a.html", Verdict.RESERVE, "/directory-b/html/"),
        ("/directory-b/images/a.jpg", Verdict.ALLOW, "/directory-b/images/*.jpg"),
        ("/directory-b/images/sub/a.jpg?x=1", Verdict.ALLOW, "/directory-b/images/*.jpg"),
        ("/directory-b/images/a.png", None, None),
        ("/Directory-A/x.html", None, None),  # case-sensitive
        ("/", None, None),
    ],
)
def test_spec_example_2(path: str, verdict: Verdict | None, scope: str | None) -> None:
    f = TdmrepFile.parse((EXAMPLES / "w3c-spec-example-2.tdmrep.json").read_bytes(), FILE_URL)
    assert f.state == "ok"
    assert len(f.rules) == 3
    (s,) = f.signals(ORIGIN + path, POLICY)
    assert (s.verdict, s.scope) == (verdict, scope)
    if scope == "/directory-b/html/":
        assert "https://provider.com/policies/policy.json" in s.evidence


@pytest.mark.parametrize(
    ("location", "path", "expected"),
    [
        ("/", "/", True),
        ("/a", "/abc", True),
        ("/a/", "/a", False),
        ("/a$", "/a", True),
        ("/a$", "/a/b", False),
        ("/*.jpg", "/x/y.jpg", True),
        ("/*.jpg$", "/x/y.jpg?s=1", False),
        ("*.pdf", "/doc.pdf", True),
        ("/a*b*c", "/a-b-c-d", True),
        ("/a*b*c", "/a-c-b", False),
        ("/caf%C3%A9/", "/café/x", True),
        ("/café/", "/caf%c3%a9/x", True),
        ("/%7Euser/", "/~user/x", True),
        ("/~user/", "/%7euser/x", True),
        ("/a%2Fb", "/a/b", False),  # an encoded slash stays encoded (RFC 9309 §2.2.2)
        ("/a.b", "/aXb", False),  # regex characters are literal
        ("/Dir/", "/dir/", False),
        ("", "/", False),
        ("dir/", "/dir/x", True),  # lenient: a missing leading slash
    ],
)
def test_match_location(location: str, path: str, expected: bool) -> None:
    assert match_location(location, path) is expected


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "not JSON"),
        (b"<html>404</html>", "not JSON"),
        (b'[{"location":"/","tdm-reservation":1},]', "not JSON"),
        (b'{"location":"/","tdm-reservation":1}', "not a JSON array"),  # brackets "are mandatory"
        (b'"x"', "not a JSON array"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ],
)
def test_invalid_files(body: bytes, detail: str) -> None:
    # No JSON array: no machine-readable representation, so the origin "does not implement
    # this protocol" ("TDM File on the Origin Server"): unset, and the note says why.
    f = TdmrepFile.parse(body, FILE_URL)
    assert f.state == "invalid"
    assert detail in f.detail
    (s,) = f.signals(ORIGIN + "/x", POLICY)
    assert s.verdict is None
    assert s.location == d.LOC_TDMREP_FILE
    assert s.source == FILE_URL
    assert s.evidence == f.detail
    assert "invalid" in s.note
    assert "does not implement this protocol" in s.note


def rule_signal(body: bytes, path: str, policy: Policy = POLICY) -> Signal:
    f = TdmrepFile.parse(body, FILE_URL)
    assert f.state == "ok"
    (s,) = f.signals(ORIGIN + path, policy)
    return s


@pytest.mark.parametrize(
    ("spelling", "verdict"),
    [
        ("1", Verdict.RESERVE),
        ("1.0", Verdict.RESERVE),
        ("1e0", Verdict.RESERVE),
        ("1E+0", Verdict.RESERVE),
        ("10e-1", Verdict.RESERVE),
        ("1.000", Verdict.RESERVE),
        ("0", Verdict.ALLOW),
        ("0.0", Verdict.ALLOW),
        ("-0", Verdict.ALLOW),
        ("-0.0", Verdict.ALLOW),
        ("0e7", Verdict.ALLOW),
    ],
)
def test_reservation_is_a_json_number_however_spelled(spelling: str, verdict: Verdict) -> None:
    # RFC 8259 §6: one number type, so 1.0 and 1e0 are the integer 1; the evidence keeps
    # the spelling of the file.
    rule = '{"location":"/","tdm-reservation":' + spelling + "}"
    s = rule_signal(f"[{rule}]".encode(), "/a/b.html")
    assert s.verdict is verdict
    assert s.evidence == rule
    assert s.scope == "/"
    if spelling not in ("0", "1"):
        assert f"{spelling} is the JSON number" in s.note


def test_spelled_numbers_elsewhere_in_the_rule_kept_in_evidence() -> None:
    body = b'[ {"location": "/", "tdm-reservation": 1.0, "x": [2E3, -0, {"y": 1.50}], "z": "\u00e9"} ]'
    s = rule_signal(body, "/")
    assert s.verdict is Verdict.RESERVE
    assert s.evidence == '{"location":"/","tdm-reservation":1.0,"x":[2E3,-0,{"y":1.50}],"z":"\u00e9"}'


@pytest.mark.parametrize(
    "value",
    ["2", "2.0", "-1", "1.5", "1.00000000000000001", "1e400", "NaN", "true", "false", "null", '"yes"', "[1]"],
)
def test_other_values_are_a_protocol_error_of_that_rule(value: str) -> None:
    # "Other values are considered protocol errors ... MUST consider that tdm-reservation
    # is unset" (section "tdm-reservation"): JSON true is no integer, though True == 1.
    bad = '{"location":"/b/","tdm-reservation":' + value + "}"
    body = f'[{bad},{{"location":"/a/","tdm-reservation":1}}]'.encode()
    s = rule_signal(body, "/b/x")
    assert s.verdict is None
    assert s.evidence == bad
    assert s.scope == "/b/"
    assert f"tdm-reservation {value} is not 0 or 1: protocol error, value unset" in s.note
    assert "rule #1" in s.note
    # The other rules stand.
    assert rule_signal(body, "/a/x").verdict is Verdict.RESERVE
    assert decide(ORIGIN + "/a/x", [rule_signal(body, "/a/x")], POLICY).blocked


def test_one_bad_rule_does_not_void_the_file() -> None:
    body = b'[{"location":"/","tdm-reservation":1},{"location":"/x","tdm-reservation":2}]'
    f = TdmrepFile.parse(body, FILE_URL)
    assert f.state == "ok"
    assert "rule #2: tdm-reservation 2 is not 0 or 1" in f.detail
    for path in ("/a/b.html", "/x"):
        dec = evaluate(ORIGIN + path, POLICY, tdmrep_file=f)
        assert dec.verdict is Verdict.RESERVE
        assert dec.decided_by is not None
        assert dec.decided_by.evidence == '{"location":"/","tdm-reservation":1}'
    # The first match decides; the later protocol error is flagged.
    (s,) = f.signals(ORIGIN + "/x", POLICY)
    assert "flag: later rule #2 (/x) also matches but tdm-reservation 2 is not 0 or 1" in s.note


def test_protocol_error_first_is_unset_not_the_later_rule() -> None:
    # "The most specific match is the first in sequence": its value is unset, later ones unused.
    body = b'[{"location":"/x/","tdm-reservation":"yes"},{"location":"/","tdm-reservation":1}]'
    s = rule_signal(body, "/x/y")
    assert s.verdict is None
    assert "flag: later rule #2 (/) also matches with tdm-reservation 1" in s.note
    assert rule_signal(body, "/z").verdict is Verdict.RESERVE


@pytest.mark.parametrize(
    ("item", "error", "scope"),
    [
        ("1", "not an object", None),
        ('"junk"', "not an object", None),
        ('{"tdm-reservation":1}', "no location string", None),
        ('{"location":1,"tdm-reservation":1}', "no location string", None),
        ('{"location":"/","tdm-policy":"https://e.com/p"}', "no tdm-reservation", "/"),
    ],
)
def test_malformed_rule_is_unknown(item: str, error: str, scope: str | None) -> None:
    # The spec does not say how to read a rule that is no object or lacks a mandatory
    # property: it cannot be read, so unknown (resolved and recorded by the policy).
    body = (
        f'[{{"location":"/a/","tdm-reservation":1}},{item},{{"location":"/","tdm-reservation":0}}]'.encode()
    )
    f = TdmrepFile.parse(body, FILE_URL)
    assert f"rule #2: {error}" in f.detail
    s = rule_signal(body, "/b")
    assert s.verdict is Verdict.UNKNOWN
    assert s.evidence == item
    assert s.scope == scope
    assert f"malformed rule ({error})" in s.note
    assert "rule #2" in s.note
    dec = decide(ORIGIN + "/b", [s], POLICY)
    assert dec.verdict is Verdict.UNKNOWN
    assert not dec.blocked  # the default policy lets an unknown TDMRep value through, recorded
    strict = Policy(user_agents=("examplebot",), unknown_as={d.TDMREP: Verdict.RESERVE})
    assert decide(ORIGIN + "/b", [rule_signal(body, "/b", strict)], strict).blocked
    # A rule before it still decides the URLs it matches.
    assert rule_signal(body, "/a/x").verdict is Verdict.RESERVE


def test_unreadable_location_may_match_any_url() -> None:
    body = b'[{"location":"/a/","tdm-reservation":0},{"tdm-reservation":1},{"location":"/b/","tdm-reservation":0}]'
    assert rule_signal(body, "/a/x").verdict is Verdict.ALLOW
    for path in ("/b/x", "/c", "/"):
        s = rule_signal(body, path)
        assert s.verdict is Verdict.UNKNOWN
        assert "value unknown for every URL it may match" in s.note


def test_malformed_rule_and_purpose_not_spoken_to() -> None:
    pol = Policy(user_agents=("examplebot",), purpose=d.SEARCH)
    s = rule_signal(b"[1]", "/", pol)
    assert s.verdict is None
    assert "TDMRep does not speak to search" in s.note


def test_header_supersedes_an_unknown_file_value() -> None:
    sigs = tdm_signals(ORIGIN + "/page", '[{"location":"/"}]', [("tdm-reservation", "0")])
    dec = decide(ORIGIN + "/page", sigs, POLICY)
    assert dec.verdict is Verdict.ALLOW
    file_sig = next(s for s in dec.signals if s.location == d.LOC_TDMREP_FILE)
    assert file_sig.verdict is Verdict.UNKNOWN
    assert file_sig.superseded


_MIXED = [
    b'[{"location":"/a/","tdm-reservation":1},"junk",{"location":"/b/","tdm-reservation":0}]',
    b'[{"location":"/a/","tdm-reservation":2},{"location":"/*.jpg$","tdm-reservation":1e0}]',
    b'[{"location":"/","tdm-reservation":1},{"location":"/x","tdm-reservation":true}]',
    b'[{"location":"/a/"},{"location":"/","tdm-reservation":0.0}]',
]


@pytest.mark.parametrize("body", _MIXED)
@pytest.mark.parametrize("path", ["/", "/a/", "/a/x.jpg", "/b/y", "/x", "/c/d.jpg", "/c/d.jpg?q"])
def test_site_eval_agrees_on_files_with_bad_rules(body: bytes, path: str) -> None:
    f = TdmrepFile.parse(body, FILE_URL)
    url = ORIGIN + path
    _, fast = SiteEval(POLICY, tdmrep_file=f).evaluate(url)
    slow = evaluate(url, POLICY, tdmrep_file=f)
    assert (fast.verdict, fast.blocked, fast.decided_by) == (slow.verdict, slow.blocked, slow.decided_by)


def test_lenient_file_values() -> None:
    f = TdmrepFile.parse(
        b'\xef\xbb\xbf[{"location":"/","tdm-reservation":"1","tdm-policy":7,"extra":true}]', FILE_URL
    )
    assert f.state == "ok"
    (s,) = f.signals(ORIGIN + "/", POLICY)
    assert s.verdict is Verdict.RESERVE
    assert "string value" in s.note
    assert "tdm-policy is not a string" in s.note


def test_empty_array_means_unset() -> None:
    f = TdmrepFile.parse(b"[]", FILE_URL)
    assert f.state == "ok"
    (s,) = f.signals(ORIGIN + "/", POLICY)
    assert s.verdict is None


@pytest.mark.parametrize(
    ("make", "state"), [(TdmrepFile.unavailable, "unavailable"), (TdmrepFile.unreachable, "unreachable")]
)
def test_unavailable_and_unreachable(make: object, state: str) -> None:
    f = make(FILE_URL, "HTTP 503")  # type: ignore[operator]
    assert f.state == state
    (s,) = f.signals(ORIGIN + "/x", POLICY)
    assert s.verdict is None
    assert s.evidence == "HTTP 503"
    assert "does not implement" in s.note
    assert decide(ORIGIN + "/x", [s], POLICY).verdict is Verdict.ALLOW


def test_first_in_sequence_not_longest() -> None:
    rules = [
        {"location": "/a/", "tdm-reservation": 1},
        {"location": "/a/b/", "tdm-reservation": 0},
        {"location": "/a/b/c", "tdm-reservation": 1},
    ]
    f = TdmrepFile.parse(json.dumps(rules).encode(), FILE_URL)
    (s,) = f.signals(ORIGIN + "/a/b/c", POLICY)
    assert s.scope == "/a/"
    assert s.verdict is Verdict.RESERVE
    assert "flag" in s.note and "#2" in s.note


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=500))
def test_parse_never_raises_on_bytes(body: bytes) -> None:
    f = TdmrepFile.parse(body, FILE_URL)
    assert f.state in ("ok", "invalid")
    assert f == TdmrepFile.parse(body, FILE_URL)
    f.signals(ORIGIN + "/x", POLICY)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["location", "tdm-reservation", "tdm-policy", "x"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)
_RULE = st.fixed_dictionaries(
    {
        "location": st.sampled_from(["/", "/a/", "*.jpg", "/a$", "/%7E", "/é", ""]),
        "tdm-reservation": st.sampled_from([0, 1, 0.0, 1.0]),
    }
)


@settings(max_examples=300, deadline=None)
@given(_JSON | st.lists(_RULE, max_size=5), st.sampled_from(["/", "/a/b.jpg", "/a", "/~x", "/é?q", ""]))
def test_parse_never_raises_on_json(data: object, path: str) -> None:
    f = TdmrepFile.parse(json.dumps(data).encode(), FILE_URL)
    sigs = f.signals(ORIGIN + path, POLICY)
    assert len(sigs) == 1
    assert sigs == f.signals(ORIGIN + path, POLICY)


@given(
    st.lists(
        st.tuples(st.sampled_from(["tdm-reservation", "TDM-Policy", "x"]), st.text(max_size=20)), max_size=4
    )
)
def test_header_signals_never_raise(headers: list[tuple[str, str]]) -> None:
    sigs = header_signals(headers, ORIGIN + "/", POLICY)
    assert len(sigs) <= 1
    assert sigs == header_signals(headers, ORIGIN + "/", POLICY)
