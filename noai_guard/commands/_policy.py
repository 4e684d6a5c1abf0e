"""Internal: the policy options of every command, in one place: ``add_policy_args`` and ``policy_from_args``.

``--policy FILE`` (a JSON object of :meth:`~noai_guard.policy.Policy.to_dict`'s
fields) or ``--policy TRAIL`` (an audit trail: the policy of its run record is
replayed) gives a base; each flag then overrides one field.  The result goes
through :func:`~noai_guard.policy.policy_from_mapping`, as the Scrapy settings
do, so a command and a crawl given the same fields judge with the same policy
(and name it with the same hash).  A bad value is one line naming the flag (or
the file and field), the value and what is allowed.

Cheap to import: ``noai-guard --help`` loads no Scrapy.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..decision import PURPOSES, SIGNALS
from ..policy import Policy, PolicyError, policy_from_mapping

__all__ = ["PolicyArgsError", "add_policy_args", "policy_from_args", "preset_fields"]

# The flag that sets each policy field (what an error names).
FIELD_FLAGS: dict[str, str] = {
    "purpose": "--purpose",
    "user_agents": "--user-agent",
    "proxy_tokens": "--proxy-token",
    "directives": "--directive",
    "lenient_noimageai": "--lenient-noimageai",
    "honour_legacy": "--honour-legacy",
    "sources": "--source",
    "unknown_as": "--unknown",
    "unknown_default": "--unknown-default",
    "not_checked_as": "--not-checked-as",
    "html_strict": "--html-strict",
    "html_budget": "--head-budget",
    "rsl_licence_required": "--rsl-licence-required",
    "robots_key": "--robots-key",
}
_VERDICTS = "allow, reserve"


class PolicyArgsError(ValueError):
    """A policy option that cannot be used: one line, exit status 2."""


def add_policy_args(p: argparse.ArgumentParser, *, user_agent_help: str = "") -> None:
    """Add ``--policy`` and one flag per policy field to a command's parser."""
    g = p.add_argument_group(
        "policy",
        "What decisions are taken for, as the NOAI_GUARD_* settings say it in a crawl. --policy gives "
        "a base; each flag overrides one of its fields.",
    )
    g.add_argument(
        "--policy",
        metavar="FILE|TRAIL",
        help="a JSON object of policy fields (as in a run record's 'policy'), or an audit trail "
        "(.jsonl, .jsonl.gz) whose run record's policy is replayed",
    )
    g.add_argument(
        "--preset",
        metavar="NAME[@VERSION]",
        help="a named policy that reproduces a published filter (default, apertus; "
        "`noai-guard presets` lists them): the base each flag overrides; not with --policy",
    )
    g.add_argument("--purpose", metavar="P", help="ai-train (default), ai-input or search")
    g.add_argument(
        "--user-agent",
        metavar="TOKEN",
        action="append",
        help="the crawler's own product token (repeatable; default: noai-guard)" + user_agent_help,
    )
    g.add_argument(
        "--proxy-token",
        metavar="TOKEN",
        action="append",
        help="an AI crawler's token whose rules count as a site-level opt-out (repeatable; "
        "replaces the packaged list)",
    )
    g.add_argument(
        "--no-proxy-tokens",
        action="store_true",
        help="don't count rules for other AI tokens (GPTBot, CCBot...)",
    )
    g.add_argument(
        "--directive",
        metavar="NAME=PURPOSES",
        action="append",
        help="a robots directive and the purposes it reserves, e.g. noai=ai-train,ai-input "
        "(repeatable; NAME= reserves nothing)",
    )
    g.add_argument(
        "--source",
        metavar="SIGNAL",
        action="append",
        help="check only these signals (repeatable; default: all)",
    )
    g.add_argument("--sources", metavar="A,B", action="append", help="the same as --source, comma-separated")
    g.add_argument(
        "--no-source", metavar="SIGNAL", action="append", help="don't check this signal (repeatable)"
    )
    g.add_argument(
        "--unknown",
        metavar="SIGNAL=allow|reserve",
        action="append",
        help="what an unknown outcome of a signal becomes (repeatable; merged over the default "
        "robots-txt=reserve)",
    )
    g.add_argument(
        "--unknown-default", metavar="allow|reserve", help="the same for the other signals (default: allow)"
    )
    g.add_argument(
        "--not-checked-as",
        metavar="allow|reserve",
        help="what a robots.txt the run never saw becomes (default: allow, reported unknown)",
    )
    g.add_argument(
        "--rsl-licence-required",
        metavar="reserve|unknown",
        help="an RSL licence to obtain first (licence server, paid payment): reserve (default) or unknown",
    )
    g.add_argument(
        "--robots-key",
        metavar="origin|host",
        help="a URL's robots.txt: its origin's (default, RFC 9309 §2.3) or any for its host and port",
    )
    g.add_argument(
        "--lenient-noimageai",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="noimageai reserves images only, not the page's text",
    )
    g.add_argument(
        "--honour-legacy",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="honour DisallowAITraining (expired draft)",
    )
    g.add_argument(
        "--html-strict",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also read robots <meta> in the <body>",
    )
    g.add_argument(
        "--head-budget", metavar="BYTES", help="bytes of HTML read to find the head's end (default 262144)"
    )


def _pairs(flag: str, values: list[str], what: str, allowed: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        name, sep, rest = v.partition("=")
        if not sep or not name.strip():
            raise PolicyArgsError(PolicyError(flag, v, what, allowed).message())
        out.append((name.strip(), rest.strip()))
    return out


def policy_from_args(args: argparse.Namespace) -> Policy:
    """The policy of ``--policy`` and the flags; :class:`PolicyArgsError` for a bad value."""
    data: dict[str, Any] = {}
    preset_name = getattr(args, "preset", None)
    if preset_name is not None:
        from ..presets import PresetError, get_preset

        if getattr(args, "policy", None):
            raise PolicyArgsError("--preset: cannot be combined with --policy (each gives the base policy)")
        try:
            data = dict(get_preset(preset_name).fields)
        except PresetError as exc:
            raise PolicyArgsError(f"--preset: {exc}") from None
    if getattr(args, "policy", None):
        from ..policyfile import PolicyFileError, load_policy_file

        try:
            source = load_policy_file(args.policy)
        except PolicyFileError as exc:
            raise PolicyArgsError(f"--policy: {exc}") from None
        try:
            data = policy_from_mapping(source.data).to_dict()
        except PolicyError as exc:
            label = source.label if exc.field == "policy" else f"{source.label}: {exc.field}"
            raise PolicyArgsError(exc.message(label)) from None
    base = Policy()
    labels: dict[str, str] = {}

    def put(field: str, value: Any, flag: str | None = None) -> None:
        data[field] = value
        labels[field] = flag or FIELD_FLAGS[field]

    if args.purpose is not None:
        put("purpose", args.purpose)
    if args.user_agent:
        put("user_agents", list(args.user_agent))
    if args.proxy_token and args.no_proxy_tokens:
        raise PolicyArgsError("--no-proxy-tokens: cannot be combined with --proxy-token")
    if args.proxy_token:
        put("proxy_tokens", list(args.proxy_token))
    elif args.no_proxy_tokens:
        put("proxy_tokens", [], "--no-proxy-tokens")
    if args.directive:
        dirs = dict(data.get("directives", base.to_dict()["directives"]))
        for name, purposes in _pairs(
            "--directive", args.directive, "NAME=PURPOSES", "purposes " + ", ".join(PURPOSES)
        ):
            dirs[name] = purposes
        put("directives", dirs)
    sources: list[str] | None = None
    if args.source or args.sources:
        sources = list(args.source or [])
        for csv in args.sources or []:
            sources += [s for s in csv.replace(",", " ").split() if s]
    if args.no_source:
        for name in args.no_source:
            if name not in SIGNALS:
                raise PolicyArgsError(
                    PolicyError("--no-source", name, "a signal name", ", ".join(SIGNALS)).message()
                )
        if sources is None:
            sources = list(data.get("sources", base.to_dict()["sources"]))
        sources = [s for s in sources if s not in args.no_source]
    if sources is not None:
        put("sources", sources)
    if args.unknown:
        merged = dict(data.get("unknown_as", base.to_dict()["unknown_as"]))
        merged.update(_pairs("--unknown", args.unknown, "SIGNAL=allow|reserve", _VERDICTS))
        put("unknown_as", merged)
    if args.unknown_default is not None:
        put("unknown_default", args.unknown_default)
    if args.not_checked_as is not None:
        put("not_checked_as", args.not_checked_as)
    if getattr(args, "rsl_licence_required", None) is not None:
        put("rsl_licence_required", args.rsl_licence_required)
    for field in ("lenient_noimageai", "honour_legacy", "html_strict"):
        value = getattr(args, field)
        if value is not None:
            put(field, value)
    if args.head_budget is not None:
        put("html_budget", args.head_budget)
    if getattr(args, "robots_key", None) is not None:
        put("robots_key", args.robots_key)
    try:
        return policy_from_mapping(data)
    except PolicyError as exc:  # a flag's value (the base was checked above)
        raise PolicyArgsError(exc.message(labels.get(exc.field, exc.field))) from None


def preset_fields(args: argparse.Namespace, policy: Policy) -> dict[str, Any]:
    """``{"preset": ...}`` for a run record when ``--preset`` chose one (checked by policy_from_args), else {}."""
    name = getattr(args, "preset", None)
    if name is None:
        return {}
    from ..presets import get_preset, preset_record

    return {"preset": preset_record(get_preset(name), policy)}
