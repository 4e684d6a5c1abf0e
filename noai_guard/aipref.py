"""Internal: IETF aipref ``Content-Usage`` and Cloudflare ``Content-Signal`` values (pure parsers).

* ``Content-Usage`` (draft-ietf-aipref-vocab-08 §6, attach-05 §2): an RFC 9651
  Structured-Field Dictionary of labels -> Token ``y`` / ``n``.  Parsed with
  ``http_sf``; the per-label result is allow / disallow / unknown, expressed as
  :class:`~noai_guard.decision.Verdict` ``ALLOW`` / ``RESERVE`` / ``UNKNOWN``.
  vocab-08's three categories map one-to-one to our purposes: ``train-ai``
  (§4.1) -> ai-train, ``ai-use`` (§4.2) -> ai-input, ``search`` (§4.3) ->
  search.  Search "overrides" the other two (§4.3) only for a use that *is*
  search, which is how a per-purpose decision reads each label anyway.
* ``Content-Signal`` (Cloudflare Content Signals Policy; draft-romm-aipref-
  contentsignals-00, expired): lenient ``key=yes|no`` pairs.

:func:`header_signals` turns the HTTP response headers into
:class:`~noai_guard.decision.Signal` values.  The robots.txt records carrying
the same values are read by :mod:`noai_guard.robots`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import http_sf

from . import decision as d
from .decision import Headers, Signal, Verdict
from .policy import Policy

# vocab-08 §6.1 (Table 1): the three labels.  ``ai-use`` is new in vocab-08 (§4.2, AI Use:
# an asset used as input to a generative AI model, not provided by the user) and is what
# our ai-input purpose means; vocab-05 to -07 had only train-ai and search.
TRAIN_AI = "train-ai"
AI_USE = "ai-use"
SEARCH_LABEL = "search"
LABELS: frozenset[str] = frozenset({TRAIN_AI, AI_USE, SEARCH_LABEL})
LABEL_FOR_PURPOSE: dict[str, str] = {d.AI_TRAIN: TRAIN_AI, d.AI_INPUT: AI_USE, d.SEARCH: SEARCH_LABEL}

# Labels of earlier drafts (vocab-01 to vocab-04) that vocab-08 no longer defines; ignored
# (vocab-08 §6.4: unknown labels MUST be ignored) but reported.  vocab-02's ``ai-use`` is
# not here: vocab-08 defines that label again (narrower: generative models only).
LEGACY_LABELS: dict[str, str] = {
    "ai": "vocab-01 / attach-00",
    "genai": "vocab-01",
    "tdm": "vocab-01",
    "inference": "vocab-01",
    "all": "vocab-02",
    "train-genai": "vocab-02/03",
    "bots": "vocab-03/04",
    "ai-output": "vocab-04",
}

# Content-Signal keys are purpose names already.
SIGNAL_KEYS: frozenset[str] = frozenset(d.PURPOSES)

VOCAB_COMBINE = "aipref vocab §5.1 (any disallow wins, then any allow)"


def combine(verdicts: Iterable[Verdict]) -> Verdict:
    """aipref vocab §5.1: any disallow -> disallow; else any allow -> allow; else unknown."""
    seen = set(verdicts)
    if Verdict.RESERVE in seen:
        return Verdict.RESERVE
    if Verdict.ALLOW in seen:
        return Verdict.ALLOW
    return Verdict.UNKNOWN


@dataclass(frozen=True, slots=True)
class UsagePreferences:
    """One parsed ``Content-Usage`` value.

    ``prefs`` holds the known labels that were present (``ALLOW`` = ``y``,
    ``RESERVE`` = ``n``, ``UNKNOWN`` = any other value); absent labels are
    unknown.  ``error`` is set when the dictionary did not parse (every label
    is then unknown, vocab §6).
    """

    value: str
    prefs: Mapping[str, Verdict] = field(default_factory=dict)
    legacy: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None

    def get(self, label: str) -> Verdict:
        return self.prefs.get(label, Verdict.UNKNOWN)

    def for_purpose(self, purpose: str) -> Verdict | None:
        """Verdict for a purpose; ``None`` for a purpose aipref has no label for."""
        label = LABEL_FOR_PURPOSE.get(purpose)
        return None if label is None else self.get(label)


def parse_content_usage(value: str) -> UsagePreferences:
    """Parse a ``Content-Usage`` value (vocab-08 §6; never raises).

    Unknown labels and all parameters are ignored (§6.4), legacy labels are
    reported, duplicate keys keep the last value (RFC 9651 §4.2.2), a value
    other than Token ``y``/``n`` is unknown, and a parse failure (e.g. an
    uppercase key) makes every label unknown.
    """
    try:
        parsed = http_sf.parse(value.encode("utf-8", "replace"), tltype="dictionary")
    except Exception as exc:  # noqa: BLE001  # StructuredFieldError, or anything on odd input
        return UsagePreferences(
            value,
            error=str(exc),
            notes=(f"not a valid RFC 9651 dictionary ({exc}): all preferences unknown (vocab §6)",),
        )
    if not isinstance(parsed, dict):  # pragma: no cover - tltype="dictionary" always yields a dict
        return UsagePreferences(value, error="not a dictionary", notes=("not a dictionary",))
    prefs: dict[str, Verdict] = {}
    legacy: list[str] = []
    notes: list[str] = []
    for key, member in parsed.items():
        item = member[0] if isinstance(member, tuple) else member
        if key in LABELS:
            if isinstance(item, http_sf.Token) and str(item) in ("y", "n"):
                prefs[key] = Verdict.ALLOW if str(item) == "y" else Verdict.RESERVE
            else:
                prefs[key] = Verdict.UNKNOWN
                notes.append(f"{key}: value {item!r} is not the Token y or n: unknown (vocab §6)")
        elif key in LEGACY_LABELS:
            shown = f"{key}={item}" if isinstance(item, http_sf.Token) else key
            legacy.append(shown)
            notes.append(f"legacy label {shown!r} ({LEGACY_LABELS[key]}) ignored under vocab-08 (§6.4)")
    return UsagePreferences(value, prefs, tuple(legacy), tuple(notes))


@dataclass(frozen=True, slots=True)
class ContentSignals:
    """One parsed ``Content-Signal`` value: purpose -> True (yes) / False (no)."""

    value: str
    prefs: Mapping[str, bool] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. use=reference (ignored)
    notes: tuple[str, ...] = ()

    def verdict(self, purpose: str) -> Verdict:
        """CF policy (a) yes -> allow, (b) no -> reserve, (c) not stated -> unknown."""
        v = self.prefs.get(purpose)
        if v is None:
            return Verdict.UNKNOWN
        return Verdict.ALLOW if v else Verdict.RESERVE


# key = value, the value maybe quoted.  A key is the run of key characters from its first
# letter: a match is only tried at the start of a run (the lookbehind), over the run's
# leading non-letters.  The same pairs as trying at every letter (where a failed run is
# retried from each of its letters: quadratic on a long run without "="), as a match never
# ends just before a key character that follows another one.
_PAIR_RE = re.compile(r"""(?<![A-Za-z0-9_.-])[0-9_.-]*([A-Za-z][A-Za-z0-9_.-]*)\s*=\s*("?)([^,;\s"]*)\2""")


def parse_content_signal(value: str) -> ContentSignals:
    """Parse a ``Content-Signal`` value leniently (never raises).

    Cloudflare writes ``k=v, k=v``; keys are matched case-insensitively, spaces
    and ``;`` separators are tolerated, values other than yes/no are absent,
    unknown keys (``use=reference``) are kept in ``extra`` and ignored.  A key
    given twice combines restrictively (any ``no`` wins).
    """
    prefs: dict[str, bool] = {}
    extra: dict[str, str] = {}
    notes: list[str] = []
    for m in _PAIR_RE.finditer(value):
        key, val = m.group(1).lower(), m.group(3).lower()
        if key not in SIGNAL_KEYS:
            extra[key] = val
            continue
        if val not in ("yes", "no"):
            notes.append(f"{key}={val!r} is neither yes nor no: treated as absent")
            continue
        prefs[key] = prefs.get(key, True) and val == "yes"
    if extra:
        notes.append("ignored key(s): " + ", ".join(f"{k}={v}" for k, v in extra.items()))
    return ContentSignals(value, prefs, extra, tuple(notes))


def _values(headers: Headers, name: str) -> list[str]:
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


def _content_usage_signal(values: list[str], url: str, purpose: str) -> Signal:
    loc = f"{d.LOC_HEADER}:Content-Usage"
    parsed = [parse_content_usage(v) for v in values]
    notes = [n for p in parsed for n in p.notes]
    label = LABEL_FOR_PURPOSE.get(purpose)
    if label is None:
        return Signal(
            d.CONTENT_USAGE,
            None,
            purpose,
            ", ".join(values),
            url,
            loc,
            note=f"aipref vocab-08 has no label for {purpose}; informational",
        )
    per = [(p, p.get(label)) for p in parsed]
    verdict = combine(v for _, v in per)
    # Evidence: the value that decided (first disallow / allow), else all values.
    deciding = [p.value for p, v in per if v is verdict]
    evidence = deciding[0] if verdict is not Verdict.UNKNOWN else ", ".join(values)
    if verdict is Verdict.UNKNOWN:
        why = f"no {label} preference stated: unknown (vocab §5)"
    else:
        why = f"{label}={'n' if verdict is Verdict.RESERVE else 'y'}"
    combined = f"; {len(values)} headers combined per {VOCAB_COMBINE}" if len(values) > 1 else ""
    note = f"aipref attach §2 header: {why}{combined}" + ("; " + "; ".join(notes) if notes else "")
    return Signal(d.CONTENT_USAGE, verdict, purpose, evidence, url, loc, scope=label, note=note)


def _content_signal_signal(values: list[str], url: str, purpose: str) -> Signal:
    loc = f"{d.LOC_HEADER}:Content-Signal"
    parsed = [parse_content_signal(v) for v in values]
    per = [(p, p.verdict(purpose)) for p in parsed]
    verdict = combine(v for _, v in per)
    deciding = [p.value for p, v in per if v is verdict]
    evidence = deciding[0] if verdict is not Verdict.UNKNOWN else ", ".join(values)
    notes = [n for p in parsed for n in p.notes]
    if verdict is Verdict.UNKNOWN:
        why = f"{purpose} not stated: neither grants nor restricts (Content Signals Policy (c))"
    elif verdict is Verdict.RESERVE:
        why = f"{purpose}=no (Content Signals Policy (b))"
    else:
        why = f"{purpose}=yes (Content Signals Policy (a))"
    combined = f"; {len(values)} headers combined restrictively" if len(values) > 1 else ""
    note = f"Content-Signal header: {why}{combined}" + ("; " + "; ".join(notes) if notes else "")
    return Signal(d.CONTENT_SIGNAL, verdict, purpose, evidence, url, loc, note=note)


def header_signals(headers: Headers, url: str, policy: Policy) -> list[Signal]:
    """Signals from ``Content-Usage`` and ``Content-Signal`` response headers.

    Header names are case-insensitive and may repeat; several field lines of
    one header are parsed one by one and combined restrictively (vocab §5.1),
    rather than concatenated (which would let a later ``y`` override an ``n``).
    """
    out: list[Signal] = []
    usage = _values(headers, "Content-Usage")
    if usage:
        out.append(_content_usage_signal(usage, url, policy.purpose))
    cs = _values(headers, "Content-Signal")
    if cs:
        out.append(_content_signal_signal(cs, url, policy.purpose))
    return out
