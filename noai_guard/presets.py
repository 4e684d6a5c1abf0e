"""Policy presets: named, versioned policies that reproduce a published filter.

A preset is a :class:`~noai_guard.policy.Policy` (every switch the judge needs,
robots.txt behaviour included) under a name and a version, with where it comes
from and what it cannot reproduce.  It is selected with ``NOAI_GUARD_PRESET``
(crawl) or ``--preset`` (audit, explain, check), gives the base that the other
policy settings and flags override, and is recorded in the trail's run record
(:func:`preset_record`) with its own policy hash, so that a report says which
preset the numbers were judged under and whether it was changed.

Pure code: no I/O.  A preset is never a second judge: it only fills policy fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from . import decision as d
from .policy import Policy, policy_from_mapping

__all__ = [
    "PRESETS",
    "Preset",
    "PresetError",
    "changed_fields",
    "differences",
    "fetch_token",
    "get_preset",
    "preset_names",
    "preset_record",
]


class PresetError(ValueError):
    """An unknown preset name or version: one line naming it and the presets there are."""


@dataclass(frozen=True)
class Preset:
    """A named, versioned policy (``NAME@VERSION``) and where it comes from."""

    name: str
    version: int
    title: str
    source: str  # the publication (and code) the preset reproduces
    fields: Mapping[str, Any]  # Policy.to_dict() fields that differ from Policy()'s
    # What the policy cannot express: how the preset's numbers still differ from the source's.
    caveats: tuple[str, ...] = ()
    # How to run it to reproduce the source (which inputs, which snapshot).
    usage: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    @cached_property
    def policy(self) -> Policy:
        return policy_from_mapping(self.fields)

    @property
    def hash(self) -> str:
        return self.policy.hash


# The Apertus retroactive robots.txt filter (Swiss AI, "Apertus: Democratizing Open and
# Compliant LLMs for Global Language Environments", 2025, §3.1.1 and Appendix B; the
# filter: swiss-ai/pretrain-data, src/data_pipeline_pretrain/pipeline/filters/robots_filter.py).
# A document is removed when robots.txt disallows its URL for at least one of these tokens
# (Protego's can_fetch: a token with no group of its own falls back to the * group) or for
# * itself; the list is the report's Appendix B, whose per-token tables give the published
# numbers (the repository's list also names FacebookBot).
APERTUS_TOKENS: tuple[str, ...] = (
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
)

_DEFAULT = Preset(
    name="default",
    version=1,
    title="noai_guard's own policy",
    source="this project: every signal it reads; RFC 9309 §2.3.1.4 for an unreachable robots.txt",
    fields={},
)

_APERTUS = Preset(
    name="apertus",
    version=1,
    title="Apertus (Swiss AI) retroactive robots.txt filter",
    source="Apertus tech report (Swiss AI, 2025) §3.1.1 and Appendix B; swiss-ai/pretrain-data "
    "RobotsTxtFilter (datatrove)",
    fields={
        "purpose": d.AI_TRAIN,
        # Every listed token is judged as the filter's own, with RFC 9309's * fallback, and
        # any one disallowing the URL removes it (Apertus Appendix B: "blocked at least one").
        "user_agents": list(APERTUS_TOKENS),
        "proxy_tokens": [],
        # robots.txt only: no page signal, no TDMRep, ai.txt, Content-Usage or licence.
        "sources": [d.ROBOTS_TXT],
        # "if the corresponding robots.txt files are not available, the data is considered
        # usable" (§3.1.1): unreachable (5xx) and unparseable files keep the data, as a
        # missing one (4xx, RFC 9309 §2.3.1.3; no capture: not checked) does.
        "unknown_as": {},
        "unknown_default": "allow",
        "not_checked_as": "allow",
        # robots_dict[urlparse(url).netloc]: one file per host (and port), whatever the scheme.
        "robots_key": "host",
    },
    caveats=(
        (
            "group selection follows RFC 9309 §2.2.1 (a group names the whole product token); "
            "Protego, which Apertus used, also matches a name found inside the token at a word "
            "boundary: an odd file can select another group"
        ),
        (
            "the domain selection (the top 1M English and top 1M non-English domains of FineWeb / "
            "FineWeb-2 by text volume) is not the preset's: give the robots.txt files of the domains "
            "to filter"
        ),
        (
            "the repository's token list also names FacebookBot; the report's Appendix B, whose "
            "tables give the published numbers, does not"
        ),
    ),
    usage=(
        (
            "audit: give the robots.txt files as fetched in January 2025 (the report's snapshot) "
            "with --robots-from, undated, so that they apply to every record whatever its date, as "
            "the filter applied them retroactively to the 2013-2024 crawls"
        ),
        (
            "crawl: the files are today's; robots.txt is fetched per origin, so host keying only "
            "changes the audit of archives"
        ),
    ),
)

#: Every preset, every version; a name alone selects its latest version.
PRESETS: tuple[Preset, ...] = (_DEFAULT, _APERTUS)


def preset_names() -> list[str]:
    """``NAME@VERSION`` of every preset, in the order listed."""
    return [p.id for p in PRESETS]


def get_preset(spec: str) -> Preset:
    """The preset ``NAME`` (its latest version) or ``NAME@VERSION``; :class:`PresetError` if none."""
    text = spec.strip() if isinstance(spec, str) else ""
    name, _, version = text.lower().partition("@")
    found = [p for p in PRESETS if p.name == name]
    if version:
        found = [p for p in found if str(p.version) == version]
    if not found:
        raise PresetError(
            f"unknown preset {spec!r}; known presets: {', '.join(preset_names())} "
            "(NAME for the latest version, or NAME@VERSION)"
        )
    return max(found, key=lambda p: p.version)


def differences(preset: Preset, base: Preset | None = None) -> list[tuple[str, Any, Any]]:
    """``(field, base value, preset value)`` of each policy field the preset changes (to_dict form)."""
    ref = (base or _DEFAULT).policy.to_dict()
    mine = preset.policy.to_dict()
    # robots_key and rsl_licence_required are written only when changed: their defaults here.
    ref.setdefault("robots_key", "origin")
    mine.setdefault("robots_key", "origin")
    return [(k, ref.get(k), mine[k]) for k in mine if ref.get(k) != mine[k]]


def changed_fields(preset: Preset, policy: Policy) -> list[str]:
    """The policy fields in which ``policy`` differs from the preset's (settings or flags over it).

    The crawler's own tokens are not a change: a preset that names no token leaves them to the
    crawl (USER_AGENT), and a crawl judges its own tokens beside a preset's list.
    """
    mine = preset.policy.to_dict()
    got = policy.to_dict()
    if "user_agents" not in preset.fields:
        got["user_agents"] = mine["user_agents"]
    else:
        # A crawl judges its own tokens beside the preset's (settings.policy_from_settings).
        listed = {t.lower() for t in mine["user_agents"]}
        if [t for t in got["user_agents"] if t.lower() in listed] == mine["user_agents"]:
            got["user_agents"] = mine["user_agents"]
    keys = sorted(set(mine) | set(got))
    return [k for k in keys if mine.get(k) != got.get(k)]


def fetch_token(policy: Policy) -> str:
    """The product token to fetch site files as: the first own token no preset lists as another
    crawler's (a preset judges for GPTBot and others; the tool must never announce itself as them)."""
    listed = {t.lower() for p in PRESETS if "user_agents" in p.fields for t in p.fields["user_agents"]}
    return next((t for t in policy.user_agents if t.lower() not in listed), "noai-guard")


def preset_record(preset: Preset, policy: Policy) -> dict[str, Any]:
    """What a run record says of its preset: name, version, its policy hash, what was changed over it."""
    changed = changed_fields(preset, policy)
    return {
        "name": preset.name,
        "version": preset.version,
        "id": preset.id,
        "policy_hash": preset.hash,
        "modified": bool(changed),
        "changed": changed,
    }
