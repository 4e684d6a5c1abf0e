"""The decision fold, the policy's validation and hash, and the purity of the core."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noai_guard import decision as d
from noai_guard.decision import Signal, Verdict
from noai_guard.policy import Policy, decide

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
