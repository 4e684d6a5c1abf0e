"""Internal: ``noai-guard presets``: the policy presets and how each differs from the default.

Exit status: 0, or 1 for a NAME that is no preset (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_UNKNOWN = 0, 1


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "presets",
        help="list the policy presets (--preset, NOAI_GUARD_PRESET) and their differences from the default",
        description="List the named, versioned policies that reproduce a published filter, each with "
        "its policy hash, the policy fields it changes from the default, what it cannot reproduce and "
        "how to run it. Exit status: 0, or 1 for a NAME that is no preset.",
    )
    p.add_argument("name", nargs="?", metavar="NAME[@VERSION]", help="show this preset only")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v


def describe(preset: Any) -> dict[str, Any]:
    """One preset as the command prints it (and as --json gives it)."""
    from ..presets import differences

    return {
        "id": preset.id,
        "name": preset.name,
        "version": preset.version,
        "title": preset.title,
        "source": preset.source,
        "policy_hash": preset.hash,
        "policy": preset.policy.to_dict(),
        "differences": [{"field": k, "default": a, "preset": b} for k, a, b in differences(preset)],
        "caveats": list(preset.caveats),
        "usage": list(preset.usage),
    }


def format_text(items: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for it in items:
        lines.append(f"{it['id']}: {it['title']}")
        lines.append(f"  source:      {it['source']}")
        lines.append(f"  policy hash: {it['policy_hash']}")
        if not it["differences"]:
            lines.append("  differences from the default: none")
        else:
            lines.append("  differences from the default:")
            for diff in it["differences"]:
                lines.append(f"    {diff['field']}: {_value(diff['default'])} -> {_value(diff['preset'])}")
        for c in it["caveats"]:
            lines.append(f"  caveat: {c}")
        for u in it["usage"]:
            lines.append(f"  use: {u}")
        lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..presets import PRESETS, PresetError, get_preset

    if args.name is not None:
        try:
            chosen = [get_preset(args.name)]
        except PresetError as exc:
            print(f"noai-guard: error: {exc}", file=sys.stderr)
            return EXIT_UNKNOWN
    else:
        chosen = list(PRESETS)
    items = [describe(p) for p in chosen]
    if args.json:
        print(json.dumps({"presets": items}, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(format_text(items))
    return EXIT_OK
