"""The README's tables say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from noai_guard.decision import PURPOSES, SIGNALS
from noai_guard.policy import SIGNAL_PURPOSES
from noai_guard.settings import DEFAULTS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")


def test_signal_purpose_table_matches_the_policy() -> None:
    rows = {}
    for line in README.splitlines():
        m = re.match(r"\| `([a-z0-9-]+)` \| .* \| (.) \| (.) \| (.) \|$", line)
        if m and m.group(1) in SIGNALS:
            rows[m.group(1)] = tuple(
                p for p, mark in zip(PURPOSES, m.groups()[1:], strict=True) if mark == "✓"
            )
    assert rows == {name: tuple(p for p in PURPOSES if p in SIGNAL_PURPOSES[name]) for name in SIGNALS}


def test_every_setting_is_documented() -> None:
    for name in DEFAULTS:
        assert f"`{name}`" in README, name


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text("utf-8")
    command = [ln for ln in ci.splitlines() if ln.startswith("python3 -m venv")]
    assert len(command) == 1
    assert f"```sh\n{command[0]}\n```" in README
