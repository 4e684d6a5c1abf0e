"""Internal: read a policy from a file, for ``--policy`` and ``NOAI_GUARD_POLICY``.

Two kinds of file, told apart by content:

- a JSON policy: one JSON object of :meth:`~noai_guard.policy.Policy.to_dict`'s
  fields (any subset; the rest take their defaults);
- an audit trail (JSON lines, plain or gzip): the policy of its ``run``
  record, so that a later run replays the policy a crawl or an audit ran
  with.  Several runs with different policies are an error naming them.

The mapping found is handed to :func:`~noai_guard.policy.policy_from_mapping`
by the caller, which names the field at fault its own way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from .auditlog import TrailReadError, read_audit
from .policy import policy_hash

__all__ = ["PolicyFileError", "PolicySource", "load_policy_file"]

# A policy file is small; a larger JSON document is read as a trail.
_MAX_POLICY_FILE = 1 << 20


class PolicyFileError(ValueError):
    """A ``--policy`` file that cannot be used: one line naming the file and why."""


@dataclass(frozen=True)
class PolicySource:
    """A policy mapping and where it came from (a file, or a trail's run)."""

    path: str
    data: dict[str, Any]
    kind: str  # "policy" (a JSON policy file) or "trail"
    run_id: str | None = None

    @property
    def label(self) -> str:
        """How a field of it is named in an error: ``FILE`` or ``TRAIL (run ID) policy``."""
        return self.path if self.run_id is None else f"{self.path} (run {self.run_id}) policy"


def load_policy_file(path: str | os.PathLike[str]) -> PolicySource:
    """The policy a JSON policy file or an audit trail holds; :class:`PolicyFileError` if none."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(_MAX_POLICY_FILE + 1)
    except OSError as exc:
        raise PolicyFileError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if not head.strip():
        raise PolicyFileError(f"{p}: empty; expected a JSON policy object or an audit trail")
    if head[:2] != b"\x1f\x8b" and len(head) <= _MAX_POLICY_FILE:
        try:
            doc = json.loads(head)
        except ValueError:
            doc = None  # JSON lines, or not JSON at all
        else:
            if not isinstance(doc, dict):
                raise PolicyFileError(
                    f"{p}: a JSON {type(doc).__name__}, not a JSON policy object or an audit trail"
                )
            if "type" not in doc:  # not a trail record: a policy
                return PolicySource(p, doc, "policy")
    return _from_trail(p)


def _from_trail(p: str) -> PolicySource:
    runs: dict[str, tuple[str, dict[str, Any]]] = {}  # policy hash -> (first run id, policy)
    ids: dict[str, list[str]] = {}
    try:
        for rec in read_audit(p, strict=True):
            if rec.get("type") != "run":
                continue
            policy = rec.get("policy")
            run_id = str(rec.get("run_id") or "?")
            if not isinstance(policy, dict):
                raise PolicyFileError(f"{p}: run {run_id} has no policy object")
            h = policy_hash(policy)
            runs.setdefault(h, (run_id, policy))
            ids.setdefault(h, []).append(run_id)
    except TrailReadError as exc:
        raise PolicyFileError(f"neither a JSON policy object nor a readable audit trail: {exc}") from None
    except OSError as exc:
        raise PolicyFileError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if not runs:
        raise PolicyFileError(f"{p}: neither a JSON policy object nor an audit trail with a run record")
    if len(runs) > 1:
        named = "; ".join(f"run {', '.join(v)} (policy {h[:12]})" for h, v in ids.items())
        raise PolicyFileError(f"{p}: runs with different policies: {named}; give one run's trail")
    run_id, policy = next(iter(runs.values()))
    return PolicySource(p, policy, "trail", run_id)
