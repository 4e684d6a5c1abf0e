"""Internal: ``noai-guard check URL...``: fetch real URLs through Scrapy and noai_guard, print each decision.

The crawl runs the same add-on as a project would, in audit-only mode
(``NOAI_GUARD_ENFORCE = False``): every URL is fetched once, with its origin's
robots.txt, tdmrep.json and ai.txt, and the decision taken after the fetch
(site files, headers and the HTML head together) is printed with its evidence.

Exit status: 0 every URL allowed, 1 at least one reserved, 3 none reserved but
at least one unknown (including a URL that could not be fetched), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._policy import PolicyArgsError, add_policy_args

if TYPE_CHECKING:
    from ..decision import Decision
    from ..policy import Policy

EXIT_ALLOW, EXIT_RESERVE, EXIT_USAGE, EXIT_UNKNOWN = 0, 1, 2, 3
_META_KEY = "noai_guard_check_url"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "check",
        help="fetch URLs live through Scrapy and noai_guard and print each decision with its evidence",
        description="Fetch each URL once through Scrapy with the noai_guard add-on in audit-only mode "
        "(robots.txt, tdmrep.json, ai.txt, headers and the HTML head are all read) and print the "
        "decision with its evidence. Exit status: 0 all allowed, 1 something reserved, "
        "3 something unknown, 2 bad usage.",
    )
    p.add_argument("urls", nargs="+", metavar="URL", help="http(s) URLs to check")
    add_policy_args(p, user_agent_help="; the first one is sent in the User-Agent header")
    p.add_argument("--json", action="store_true", help="print a JSON array, one object per URL")
    p.add_argument("--audit", metavar="FILE", help="append the audit trail to FILE (default: not kept)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="download timeout (default 30)")
    return p


@dataclass
class Result:
    """What happened to one URL."""

    url: str
    decision: Decision | None = None
    status: int | None = None
    final_url: str | None = None
    error: str | None = None

    @property
    def verdict(self) -> str:
        """The decision's verdict; ``unknown`` when the page itself could not be read."""
        if self.decision is None:
            return "unknown"
        v = self.decision.verdict.value
        if self.error is not None and v == "allow":
            return "unknown"  # the site files allow it, but its headers and head were never seen
        return v

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"url": self.url}
        if self.decision is not None:
            d.update(self.decision.to_dict())
        d.update(
            url=self.url,
            verdict=self.verdict,
            final_url=self.final_url,
            status=self.status,
            error=self.error,
        )
        return d


def _spider_class() -> type[Any]:
    import scrapy

    from ..middleware import META_DECISION

    class CheckSpider(scrapy.Spider):
        """Requests each URL once and keeps the decision the middleware attached."""

        name = "noai-guard-check"

        def __init__(self, urls: list[str], results: dict[str, Result], **kw: Any) -> None:
            super().__init__(**kw)
            self.urls = urls
            self.results = results

        async def start(self) -> Any:
            for url in self.urls:
                yield scrapy.Request(
                    url, callback=self.parse, errback=self.failed, dont_filter=True, meta={_META_KEY: url}
                )

        def parse(self, response: Any) -> None:
            res = self.results[response.meta[_META_KEY]]
            res.decision = response.meta.get(META_DECISION)
            res.status = response.status
            res.final_url = response.url

        def failed(self, failure: Any) -> None:
            request = getattr(failure, "request", None)
            if request is None:
                return
            res = self.results[request.meta[_META_KEY]]
            res.decision = request.meta.get(META_DECISION)  # the pre-fetch decision, if one was taken
            res.final_url = request.url
            exc = failure.value
            res.error = f"{type(exc).__name__}: {failure.getErrorMessage()}"

    return CheckSpider


def check_settings(args: argparse.Namespace, policy: Policy, audit: Path) -> dict[str, Any]:
    """The crawl's settings: the add-on in audit-only mode, judging with exactly ``policy``."""
    from ..presets import fetch_token
    from ._crawl import ADDONS, user_agent

    return {
        "ADDONS": ADDONS,
        "NOAI_GUARD_ENFORCE": False,  # audit-only: fetch once, record the full decision
        "NOAI_GUARD_AUDIT_ALLOWED": True,
        "NOAI_GUARD_AUDIT_URI": str(audit),
        # Every field, through the one builder the middleware calls (policy_from_settings).
        "NOAI_GUARD_POLICY": policy.to_dict(),
        # Its own token, never one a preset judges for (--preset apertus: GPTBot, CCBot ...).
        "USER_AGENT": user_agent(fetch_token(policy), "check"),
        "ROBOTSTXT_OBEY": False,
        "HTTPERROR_ALLOW_ALL": True,  # a 404 page still has headers to judge
        "DOWNLOAD_TIMEOUT": args.timeout,
        "RETRY_TIMES": 1,
        "LOG_ENABLED": bool(getattr(args, "verbose", False)),  # errors are reported per URL
    }


def format_result(res: Result) -> str:
    from .explain import format_text

    if res.decision is None:
        return f"{res.url}\n  verdict: unknown\n  error:   {res.error or 'no decision was taken'}"
    lines = format_text(res.decision).split("\n")
    if res.verdict != res.decision.verdict.value:
        lines[2] = (
            f"  verdict: {res.verdict} (the page was not fetched; the site files say {res.decision.verdict})"
        )
    fetched = f"HTTP {res.status}" if res.status is not None else f"not fetched: {res.error}"
    if res.final_url and res.final_url != res.url:
        fetched += f" (redirected to {res.final_url})"
    lines.insert(1, f"  fetched: {fetched}")
    return "\n".join(lines)


def exit_status(results: list[Result]) -> int:
    verdicts = {r.verdict for r in results}
    if "reserve" in verdicts:
        return EXIT_RESERVE
    if "unknown" in verdicts:
        return EXIT_UNKNOWN
    return EXIT_ALLOW


def run(args: argparse.Namespace) -> int:
    urls: list[str] = list(dict.fromkeys(args.urls))  # once each, in order
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            print(f"noai-guard check: error: not an http(s) URL: {url!r}", file=sys.stderr)
            return EXIT_USAGE
    if not args.timeout > 0:
        print("noai-guard check: error: --timeout must be positive", file=sys.stderr)
        return EXIT_USAGE
    from ._policy import policy_from_args

    try:
        policy = policy_from_args(args)
    except PolicyArgsError as exc:
        print(f"noai-guard check: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    verbose = bool(getattr(args, "verbose", False))
    results = {u: Result(u) for u in urls}
    with tempfile.TemporaryDirectory(prefix="noai-guard-check-") as tmp:
        audit = Path(args.audit) if args.audit else Path(tmp) / "audit.jsonl"
        from ..settings import SettingsError
        from ._crawl import run_spider

        try:
            run_spider(
                _spider_class(),
                check_settings(args, policy, audit),
                verbose=verbose,
                # "Gave up retrying" is noise here: the URL's error is printed with its result.
                mute=() if verbose else ("scrapy.downloadermiddlewares.retry",),
                urls=urls,
                results=results,
            )
        except SettingsError as exc:
            print(f"noai-guard check: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    ordered = [results[u] for u in urls]
    if args.json:
        print(json.dumps([r.to_dict() for r in ordered], ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(format_result(r) for r in ordered))
        if args.audit:
            print(f"\naudit trail: {args.audit}")
    return exit_status(ordered)
