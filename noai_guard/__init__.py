"""noai_guard: honour machine-readable AI opt-outs in Scrapy crawls and audits.

The public API is the names in ``__all__``, importable from here:

- the vocabulary: :class:`Decision`, :class:`Signal`, :class:`Verdict`,
  :data:`PURPOSES`, :data:`SIGNALS` (:mod:`noai_guard.decision`);
- the policy and the fold: :class:`Policy`, :func:`decide` (:mod:`noai_guard.policy`);
- the engine, how a URL is judged: :class:`Judge`, :class:`SiteFiles`,
  :class:`Page` (:mod:`noai_guard.engine`), and :func:`evaluate` for one URL
  from files in hand (:mod:`noai_guard.evaluate`);
- the Scrapy parts: :class:`NoAIGuardAddon`, :class:`NoAIGuardMiddleware`,
  :class:`NoAIGuardResponseMiddleware`.

The engine and the Scrapy parts load when first asked for, so importing the
package does not import Scrapy.  Other public modules: :mod:`noai_guard.robots`
and :mod:`noai_guard.tdmrep` (the site-file parsers a :class:`SiteFiles`
holds), :mod:`noai_guard.auditlog` (``read_audit``), :mod:`noai_guard.report`
(``build_report``), :mod:`noai_guard.cli` (the ``noai-guard`` command) and
:mod:`noai_guard.sampleserver`.  A module whose docstring starts with
``Internal:`` is not public API and may change without notice.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING

from .decision import PURPOSES, SIGNALS, Decision, Signal, Verdict
from .policy import Policy, decide

if TYPE_CHECKING:
    from .addon import NoAIGuardAddon
    from .engine import Judge, Page, SiteFiles
    from .evaluate import evaluate
    from .middleware import NoAIGuardMiddleware, NoAIGuardResponseMiddleware

__all__ = [
    "PURPOSES",
    "SIGNALS",
    "Decision",
    "Judge",
    "NoAIGuardAddon",
    "NoAIGuardMiddleware",
    "NoAIGuardResponseMiddleware",
    "Page",
    "Policy",
    "Signal",
    "SiteFiles",
    "Verdict",
    "__version__",
    "decide",
    "evaluate",
]

# Lazy: the engine, the parsers and the Scrapy parts load only when asked for.
_LAZY = {
    "Judge": "engine",
    "Page": "engine",
    "SiteFiles": "engine",
    "evaluate": "evaluate",
    "NoAIGuardMiddleware": "middleware",
    "NoAIGuardResponseMiddleware": "middleware",
    "NoAIGuardAddon": "addon",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
