"""noai_guard: honour machine-readable AI opt-outs in Scrapy crawls and audits."""

from __future__ import annotations

__version__ = "0.1.0"

from .decision import PURPOSES, SIGNALS, Decision, Signal, Verdict
from .policy import Policy, decide

__all__ = [
    "PURPOSES",
    "SIGNALS",
    "Decision",
    "NoAIGuardAddon",
    "NoAIGuardMiddleware",
    "NoAIGuardResponseMiddleware",
    "Policy",
    "Signal",
    "Verdict",
    "__version__",
    "decide",
    "evaluate",
]


def __getattr__(name: str) -> object:
    # Lazy: the parsers and Scrapy parts load only when asked for.
    if name == "evaluate":
        from .evaluate import evaluate

        return evaluate
    if name in ("NoAIGuardMiddleware", "NoAIGuardResponseMiddleware"):
        from . import middleware

        return getattr(middleware, name)
    if name == "NoAIGuardAddon":
        from .addon import NoAIGuardAddon

        return NoAIGuardAddon
    raise AttributeError(name)
