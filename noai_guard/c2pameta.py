"""Internal: the C2PA / CAWG training-and-data-mining assertion of a media file, read with the C2PA library.

The optional extra ``noai-guard[c2pa]`` installs ``c2pa-python`` (the
Content Authenticity Initiative's maintained binding of the C2PA Rust SDK).
With it, the active manifest of an image, audio or video file is read and
its ``cawg.training-mining`` assertion (CAWG Training and Data Mining
assertion 1.x; the older C2PA 1.x ``c2pa.training-mining`` likewise) becomes
``c2pa`` signals: each entry's ``use`` (``allowed``, ``notAllowed``,
``constrained``) for the purposes its key names.  Whether the manifest
validated is recorded on every signal (``validation_state`` and its failure
codes).  Without the library a manifest seen is "present, not checked"
(:func:`noai_guard.imagemeta.image_signals`).

No I/O but the library's reading of the bytes it is handed.
"""

from __future__ import annotations

import importlib
import io
import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from . import decision as d
from .decision import Signal, Verdict

if TYPE_CHECKING:
    from .policy import Policy

__all__ = ["ASSERTION_LABELS", "C2paRead", "available", "c2pa_signals", "read_manifest"]

#: The assertion labels read: CAWG's, then the older C2PA 1.x one.
ASSERTION_LABELS = ("cawg.training-mining", "c2pa.training-mining")

# Entry key (without its "cawg." / "c2pa." prefix) -> the purposes it speaks to.
_ENTRY_PURPOSES: dict[str, tuple[str, ...]] = {
    "ai_training": (d.AI_TRAIN,),
    "ai_generative_training": (d.AI_TRAIN,),
    "ai_inference": (d.AI_INPUT,),
    "data_mining": d.PURPOSES,
}
_USE: dict[str, Verdict] = {
    "allowed": Verdict.ALLOW,
    "notAllowed": Verdict.RESERVE,
    # "constrained": allowed under terms we cannot check; reserves when nothing else is known.
    "constrained": Verdict.RESERVE,
}
_NOTE = "CAWG Training and Data Mining assertion (C2PA manifest)"


@cache
def _library() -> Any:
    """The ``c2pa`` module, or None when the extra is not installed (or cannot load its native part)."""
    try:
        return importlib.import_module("c2pa")
    except (ImportError, OSError):  # not installed, or its native library does not load
        return None


def available() -> bool:
    """Is the C2PA library installed (``noai-guard[c2pa]``)?"""
    return _library() is not None


@dataclass(frozen=True, slots=True)
class C2paRead:
    """The active manifest's training-and-data-mining entries and its validation, or why not read."""

    label: str = ""  # the assertion's label, "" when the manifest has none
    entries: tuple[tuple[str, str, str], ...] = ()  # (key, use, constraint_info)
    state: str = ""  # the library's validation_state: Valid, Trusted, Invalid
    failures: tuple[str, ...] = ()  # validation failure codes of the active manifest
    problem: str | None = None  # the library could not read a manifest

    @property
    def validation(self) -> str:
        text = f"manifest validation: {self.state or 'not reported'}"
        return text + (f" ({', '.join(self.failures)})" if self.failures else "")


def read_manifest(data: bytes, mime: str) -> C2paRead | None:
    """The active manifest of ``data`` (of media type ``mime``); None without the library."""
    lib = _library()
    if lib is None:
        return None
    try:
        with lib.Reader(mime, io.BytesIO(data)) as reader:
            store = json.loads(reader.json())
    except (lib.C2paError, ValueError, OSError) as exc:  # no manifest, unsupported type, corrupt
        return C2paRead(problem=f"C2PA manifest not readable: {str(exc).splitlines()[0][:200]}")
    return _from_store(store)


def _from_store(store: Any) -> C2paRead:
    if not isinstance(store, dict):
        return C2paRead(problem="C2PA manifest store not an object")
    state = str(store.get("validation_state") or "")
    results = store.get("validation_results")
    failures: list[str] = []
    if isinstance(results, dict) and isinstance(results.get("activeManifest"), dict):
        for f in results["activeManifest"].get("failure") or ():
            if isinstance(f, dict) and isinstance(f.get("code"), str):
                failures.append(f["code"])
    active = store.get("active_manifest")
    manifests = store.get("manifests")
    manifest = manifests.get(active) if isinstance(manifests, dict) and isinstance(active, str) else None
    if not isinstance(manifest, dict):
        return C2paRead(state=state, failures=tuple(failures), problem="no active C2PA manifest")
    for label in ASSERTION_LABELS:
        for a in manifest.get("assertions") or ():
            if not isinstance(a, dict) or str(a.get("label", "")).split(".v", 1)[0] != label:
                continue
            data = a.get("data")
            raw = data.get("entries") if isinstance(data, dict) else None
            if not isinstance(raw, dict):
                return C2paRead(label, (), state, tuple(failures), f"{label} assertion without entries")
            entries = tuple(
                (str(k), str(v.get("use", "")), str(v.get("constraint_info", "") or ""))
                for k, v in raw.items()
                if isinstance(v, dict)
            )
            return C2paRead(label, entries, state, tuple(failures))
    return C2paRead("", (), state, tuple(failures))


def c2pa_signals(read: C2paRead, url: str, policy: Policy, where: str) -> list[Signal]:
    """``c2pa`` signals for ``policy.purpose``: one per entry that speaks to it (unknown: unreadable)."""
    purpose = policy.purpose
    if read.problem is not None:
        return [
            Signal(
                d.C2PA,
                Verdict.UNKNOWN,
                purpose,
                read.problem,
                url,
                d.LOC_IMAGE,
                scope=where,
                note=f"{_NOTE}: {read.validation}",
            )
        ]
    out: list[Signal] = []
    invalid = read.state.lower() == "invalid"
    for key, use, info in read.entries:
        prefix, _, name = key.partition(".")
        purposes = _ENTRY_PURPOSES.get(name) if prefix in ("cawg", "c2pa") else None
        evidence = f"{read.label}: {key} use={use}" + (f" ({info})" if info else "")
        if purposes is None:
            continue  # an entry of another vocabulary: says nothing of our purposes
        if purpose not in purposes:
            continue
        verdict = _USE.get(use, Verdict.UNKNOWN)
        if verdict is Verdict.ALLOW and invalid:
            # A manifest that failed validation may have been altered: its permission is not taken.
            verdict = Verdict.UNKNOWN
        out.append(
            Signal(
                d.C2PA,
                verdict,
                purpose,
                evidence,
                url,
                d.LOC_IMAGE,
                scope=where,
                note=f"{_NOTE}: {read.validation}",
            )
        )
    return out
