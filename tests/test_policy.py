"""The decision fold, the policy's validation and hash, and the purity of the core."""

from __future__ import annotations

import json
import string
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.settings import Settings

from noai_guard import decision as d
from noai_guard.decision import Signal, Verdict
from noai_guard.policy import MIN_HTML_BUDGET, Policy, PolicyError, decide
from noai_guard.settings import policy_from_settings

URL = "https://example.com/a"


def sig(name: str, verdict: Verdict | None, **kw: object) -> Signal:
    base: dict[str, object] = {
        "purpose": "ai-train",
        "evidence": f"{name} evidence",
        "source": "https://example.com/robots.txt",
        "location": d.LOC_ROBOTS,
    }
    base.update(kw)
    return Signal(name, verdict, **base)  # type: ignore[arg-type]


def test_reserve_wins_over_allow_and_unknown() -> None:
    dec = decide(
        URL,
        [
            sig(d.TDMREP, Verdict.ALLOW),
            sig(d.CONTENT_SIGNAL, Verdict.UNKNOWN),
            sig(d.AI_TXT, Verdict.RESERVE),
        ],
        Policy(),
    )
    assert dec.verdict is Verdict.RESERVE and dec.blocked and dec.signal == d.AI_TXT


def test_own_token_rule_named_before_proxy() -> None:
    dec = decide(
        URL,
        [
            sig(d.ROBOTS_TXT_PROXY, Verdict.RESERVE, own_token=False),
            sig(d.ROBOTS_TXT, Verdict.RESERVE, own_token=True),
        ],
        Policy(),
    )
    assert dec.signal == d.ROBOTS_TXT
    assert "own token" in dec.reason


def test_unreachable_robots_fails_closed_and_says_so() -> None:
    dec = decide(URL, [sig(d.ROBOTS_TXT, Verdict.UNKNOWN, evidence="HTTP 503")], Policy())
    assert dec.verdict is Verdict.UNKNOWN and dec.blocked
    assert dec.resolution is not None and "2.3.1.4" in dec.resolution


def test_unknown_resolution_is_policy() -> None:
    s = [sig(d.ROBOTS_TXT, Verdict.UNKNOWN, evidence="timeout")]
    relaxed = Policy(unknown_as={d.ROBOTS_TXT: Verdict.ALLOW})
    dec = decide(URL, s, relaxed)
    assert dec.verdict is Verdict.UNKNOWN and not dec.blocked and "allow" in (dec.resolution or "")
    strict = Policy(unknown_default=Verdict.RESERVE)
    dec = decide(URL, [sig(d.CONTENT_USAGE, Verdict.UNKNOWN)], strict)
    assert dec.blocked


def test_switched_off_source_does_not_decide_but_is_kept() -> None:
    p = Policy(sources=frozenset(d.SIGNALS) - {d.AI_TXT})
    dec = decide(URL, [sig(d.AI_TXT, Verdict.RESERVE)], p)
    assert dec.verdict is Verdict.ALLOW and not dec.blocked
    assert dec.signals[0].superseded and "switched off" in dec.signals[0].note


def test_signal_for_other_purpose_is_ignored() -> None:
    dec = decide(URL, [sig(d.CONTENT_SIGNAL, Verdict.RESERVE, purpose="search")], Policy())
    assert dec.verdict is Verdict.ALLOW


def test_no_signal_is_allow_without_decider() -> None:
    dec = decide(URL, [], Policy())
    assert dec.verdict is Verdict.ALLOW and dec.decided_by is None and not dec.blocked


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"purpose": "training"}, "unknown purpose"),
        ({"sources": frozenset({"robots"})}, "unknown signal"),
        ({"unknown_default": Verdict.UNKNOWN}, "allow or reserve"),
    ],
)
def test_policy_validation(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        Policy(**kw)  # type: ignore[arg-type]


def test_policy_hash_stable_and_sensitive() -> None:
    assert Policy().hash == Policy().hash
    assert Policy().hash != Policy(proxy_tokens=()).hash
    assert len(Policy().hash) == 64


def test_signal_round_trip() -> None:
    s = sig(d.ROBOTS_TXT, Verdict.RESERVE, line=3, scope="User-agent: a", user_agent="a", own_token=True)
    assert Signal.from_dict(s.to_dict()) == s


_verdicts = st.sampled_from([Verdict.ALLOW, Verdict.RESERVE, Verdict.UNKNOWN, None])
_names = st.sampled_from(sorted(d.SIGNALS))


@given(st.lists(st.tuples(_names, _verdicts, st.booleans()), max_size=8))
def test_decide_is_deterministic_and_order_independent(items: list[tuple[str, Verdict | None, bool]]) -> None:
    sigs = [sig(n, v, legacy=leg) for n, v, leg in items]
    a = decide(URL, sigs, Policy())
    b = decide(URL, list(reversed(sigs)), Policy())
    assert a.verdict is b.verdict and a.blocked is b.blocked and a.signal == b.signal
    # A reservation from a counted signal always reserves.
    if any(v is Verdict.RESERVE and not leg for _, v, leg in items):
        assert a.verdict is Verdict.RESERVE


def test_pure_core_does_not_import_scrapy() -> None:
    code = (
        "import sys, noai_guard.evaluate, noai_guard.sitefiles, noai_guard.auditlog;"
        "bad=[m for m in ('scrapy','twisted') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- Policy.from_dict: the one builder (issue 12 item 4) ------------------------------------------

_token = st.text(alphabet=string.ascii_letters + "_-", min_size=1, max_size=12)
_resolution = st.sampled_from([Verdict.ALLOW, Verdict.RESERVE])
policies = st.builds(
    Policy,
    purpose=st.sampled_from(d.PURPOSES),
    user_agents=st.lists(_token, min_size=1, max_size=3).map(tuple),
    proxy_tokens=st.lists(_token, max_size=4).map(tuple),
    # Directive names are matched lower-cased, so the builder lower-cases them.
    directives=st.dictionaries(
        _token.map(str.lower), st.lists(st.sampled_from(d.PURPOSES), max_size=3).map(tuple), max_size=4
    ),
    lenient_noimageai=st.booleans(),
    honour_legacy=st.booleans(),
    sources=st.frozensets(st.sampled_from(sorted(d.SIGNALS))),
    unknown_as=st.dictionaries(st.sampled_from(sorted(d.SIGNALS)), _resolution, max_size=5),
    unknown_default=_resolution,
    not_checked_as=_resolution,
    html_strict=st.booleans(),
    html_budget=st.integers(MIN_HTML_BUDGET, 1 << 26),
)


@settings(deadline=None)
@given(policies)
def test_from_dict_of_to_dict_is_the_policy(p: Policy) -> None:
    assert Policy.from_dict(p.to_dict()) == p
    # As a run record or a --policy file holds it: through JSON text.
    again = Policy.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p and again.hash == p.hash
    # And as NOAI_GUARD_POLICY hands it to a crawl (what `noai-guard check` does).
    assert policy_from_settings(Settings({"NOAI_GUARD_POLICY": p.to_dict()})) == p


def test_from_dict_fills_defaults_and_accepts_json_forms() -> None:
    assert Policy.from_dict({}) == Policy()
    p = Policy.from_dict(
        {
            "sources": "robots-txt, tdmrep",
            "user_agents": "a,b",
            "honour_legacy": "yes",
            "html_budget": "4096",
            "directives": {"NoAI": "ai-train"},
            "not_checked_as": "Reserve",
        }
    )
    assert p.sources == {"robots-txt", "tdmrep"} and p.user_agents == ("a", "b")
    assert p.honour_legacy and p.html_budget == 4096 and p.not_checked_as is Verdict.RESERVE
    assert p.directives == {"noai": ("ai-train",)}
    # unknown_as replaces the default mapping (to keep robots-txt reserve, give it).
    assert Policy.from_dict({"unknown_as": {}}).unknown_as == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"purpose": "ai_train"},
            "purpose: 'ai_train' is not a purpose; allowed: ai-train, ai-input, search",
        ),
        ({"purpose": 3}, "purpose: 3 is not a purpose; allowed: ai-train, "),
        ({"sources": ["robots", "xrobots"]}, "sources: 'robots' is not a signal name; allowed: robots-txt, "),
        ({"sources": 7}, "sources: 7 is not a list of names; allowed: a list of strings"),
        ({"user_agents": []}, "user_agents: [] is not a list of product tokens; allowed: one or more"),
        ({"proxy_tokens": [1]}, "proxy_tokens: [1] is not a list of names"),
        ({"directives": ["noai"]}, "directives: ['noai'] is not an object of directive name"),
        (
            {"directives": {"noai": ["train"]}},
            "directives['noai']: 'train' is not a purpose; allowed: ai-train",
        ),
        ({"directives": {"no ai": []}}, "directives: 'no ai' is not a directive name"),
        (
            {"unknown_as": {"robots": "allow"}},
            "unknown_as: 'robots' is not a signal name; allowed: robots-txt",
        ),
        (
            {"unknown_as": {"tdmrep": "maybe"}},
            "unknown_as['tdmrep']: 'maybe' is not a resolution of unknown; allowed: allow, reserve",
        ),
        ({"unknown_as": "tdmrep=reserve"}, "unknown_as: 'tdmrep=reserve' is not an object of signal name"),
        (
            {"unknown_default": "unknown"},
            "unknown_default: 'unknown' is not a resolution of unknown; allowed: allow, reserve",
        ),
        (
            {"not_checked_as": None},
            "not_checked_as: None is not a resolution of unknown; allowed: allow, reserve",
        ),
        ({"html_strict": "maybe"}, "html_strict: 'maybe' is not a boolean; allowed: true, false"),
        ({"lenient_noimageai": 2}, "lenient_noimageai: 2 is not a boolean"),
        ({"html_budget": 1023}, "html_budget: 1023 is not an integer of at least 1024"),
        ({"html_budget": True}, "html_budget: True is not an integer of at least 1024"),
        ({"budget": 1}, "policy: 'budget' is not a policy field; allowed: purpose, user_agents, "),
        (["purpose"], "policy: ['purpose'] is not a JSON object of policy fields"),
    ],
)
def test_from_dict_names_field_value_and_allowed(data: object, message: str) -> None:
    with pytest.raises(PolicyError) as exc:
        Policy.from_dict(data)  # type: ignore[arg-type]
    text = str(exc.value)
    assert text.startswith(message), text
    assert "\n" not in text
    assert exc.value.message("LABEL").startswith("LABEL")


def test_policy_error_value_is_shortened_to_one_line() -> None:
    with pytest.raises(PolicyError) as exc:
        Policy.from_dict({"purpose": "x\n" * 10_000})
    assert len(str(exc.value)) < 300 and "\n" not in str(exc.value)
