"""Internal: trail values read as bounded text, counter keys and counts (every value is untrusted).

Values of the wrong type are coerced, long strings are cut and the names a
counter tracks are bounded in number; the report's folds (:mod:`.runs`,
:mod:`.summaries`, :mod:`.decisions`) read every field through these.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from ..auditlog import ALLOWED, DROPPED, FLAGGED, SKIPPED
from .stats import OVERFLOW

#: Longest text kept from a trail field (evidence, URL, reason ...).
MAX_TEXT = 2000
#: Longest counter key kept from a trail field.
MAX_KEY = 120
MAX_NAMED = 64  # distinct signal / purpose / mode ... names tracked before "(other)"

_TRUNC = "…[truncated]"


def text(v: object, limit: int = MAX_TEXT) -> str:
    """A trail value as bounded text ('' for None)."""
    if v is None:
        return ""
    if isinstance(v, str):
        s = v
    elif isinstance(v, bool | int | float):
        s = json.dumps(v)
    else:
        try:
            s = json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
        except (TypeError, ValueError, RecursionError):
            s = repr(type(v))
    return s if len(s) <= limit else s[:limit] + _TRUNC


def key(v: object) -> str:
    """A trail value as a bounded counter key ('(none)' for None)."""
    if type(v) is str and len(v) <= MAX_KEY:
        return v
    return text(v, MAX_KEY) if v is not None else "(none)"


def count(v: object) -> int:
    """A trail value as a count: a non-negative int, 0 for anything else."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return max(v, 0)
    if isinstance(v, float) and math.isfinite(v) and abs(v) < 1e18:
        return max(int(v), 0)
    return 0


def named(name: str, known: Iterable[str], seen: dict[str, Any]) -> str:
    """``name`` if known or there is room for it, else :data:`~.stats.OVERFLOW`."""
    if name in seen or name in known or len(seen) < MAX_NAMED:
        return name
    return OVERFLOW


def strs(v: object) -> list[str]:
    """A trail list as counter keys ([] for anything but a list)."""
    return [key(x) for x in v] if isinstance(v, list) else []


def action_counts() -> dict[str, int]:
    """A row of decision counts by action (per signal, per purpose)."""
    return {"decisions": 0, "blocked": 0, SKIPPED: 0, DROPPED: 0, FLAGGED: 0, ALLOWED: 0, "unknown": 0}


def unchecked_signals(rec: dict[str, Any]) -> set[str]:
    """The signals a decision record could not check: those its ``signals`` mark ``"checked": false``
    (no capture) and those its ``not_checked`` list names (an input without headers or HTML)."""
    sigs = rec.get("signals")
    names = (
        {key(s.get("name")) for s in sigs if isinstance(s, dict) and s.get("checked") is False}
        if isinstance(sigs, list)
        else set()
    )
    nc = rec.get("not_checked")
    if isinstance(nc, list):
        names.update(key(n) for n in nc[:64])
    return names
