"""The examples published with the specs themselves (W3C TDMRep, IETF aipref attach), byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from noai_guard.decision import Verdict
from noai_guard.evaluate import evaluate
from noai_guard.policy import Policy
from noai_guard.robots import RobotsTxt
from noai_guard.tdmrep import TdmrepFile

DATA = Path(__file__).parent / "data" / "spec-examples"
ORIGIN = "https://provider.com"
POLICY = Policy(user_agents=("examplebot",))


def tdm(name: str) -> TdmrepFile:
    return TdmrepFile.parse((DATA / name).read_bytes(), ORIGIN + "/.well-known/tdmrep.json")


@pytest.mark.parametrize(
    ("path", "verdict", "evidence"),
    [
        ("/", Verdict.RESERVE, '"location":"/"'),
        ("/any/page.html", Verdict.RESERVE, '"location":"/"'),
    ],
)
def test_tdmrep_example_1(path: str, verdict: Verdict, evidence: str) -> None:
    dec = evaluate(ORIGIN + path, POLICY, tdmrep_file=tdm("w3c-spec-example-1.tdmrep.json"))
    assert dec.verdict is verdict
    assert dec.decided_by is not None
    assert evidence in dec.decided_by.evidence.replace(" ", "")


@pytest.mark.parametrize(
    ("path", "verdict", "location"),
    [
        ("/directory-a/page.html", Verdict.RESERVE, "/directory-a/"),
        ("/directory-b/html/page.html", Verdict.RESERVE, "/directory-b/html/"),
        ("/directory-b/images/photo.jpg", Verdict.ALLOW, "/directory-b/images/*.jpg"),
        ("/directory-b/images/photo.png", Verdict.ALLOW, None),  # no rule matches: unset
        ("/elsewhere/", Verdict.ALLOW, None),
    ],
)
def test_tdmrep_example_2(path: str, verdict: Verdict, location: str | None) -> None:
    dec = evaluate(ORIGIN + path, POLICY, tdmrep_file=tdm("w3c-spec-example-2.tdmrep.json"))
    assert dec.verdict is verdict
    scopes = [s.scope for s in dec.signals if s.verdict is not None]
    assert scopes == ([location] if location else [])


def test_tdmrep_example_2_records_the_policy_url() -> None:
    dec = evaluate(ORIGIN + "/directory-b/html/x", POLICY, tdmrep_file=tdm("w3c-spec-example-2.tdmrep.json"))
    assert dec.decided_by is not None
    assert "https://provider.com/policies/policy.json" in dec.decided_by.evidence


@pytest.mark.parametrize(("path", "blocked"), [("/", True), ("/test", True)])
def test_aipref_attach_example(path: str, blocked: bool) -> None:
    robots = RobotsTxt.parse((DATA / "aipref-attach-example.robots.txt").read_bytes(), ORIGIN + "/robots.txt")
    dec = evaluate(ORIGIN + path, POLICY, robots=robots)
    assert dec.blocked is blocked
    assert dec.decided_by is not None
    assert dec.decided_by.name == "content-usage"
    assert dec.decided_by.line == 3
    assert dec.decided_by.evidence == "Content-Usage: train-ai=n"
    # The same file says nothing about search: crawling stays allowed.
    assert (
        evaluate(ORIGIN + path, Policy(user_agents=("examplebot",), purpose="search"), robots=robots).blocked
        is False
    )
