"""Internal: ``noai-guard explain``: why is this URL allowed or reserved?  Offline.

Every input is optional; one not given is treated as absent, as a 404 would
be (robots.txt missing means no rules, RFC 9309 §2.3.1.3).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..decision import Decision, Verdict
from ._policy import PolicyArgsError, add_policy_args

if TYPE_CHECKING:
    from ..engine import Judgement

EXIT_ALLOW, EXIT_RESERVE, EXIT_USAGE, EXIT_UNKNOWN = 0, 1, 2, 3
_EXIT = {Verdict.ALLOW: EXIT_ALLOW, Verdict.RESERVE: EXIT_RESERVE, Verdict.UNKNOWN: EXIT_UNKNOWN}


class UsageError(Exception):
    """Bad input: reported on one line, exit status 2."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "explain",
        help="explain, offline, why a URL is allowed or reserved",
        description="Evaluate one URL offline from the files you give and print the verdict and its "
        "evidence. Exit status: 0 allow, 1 reserve, 3 unknown, 2 bad usage or unreadable input.",
    )
    p.add_argument("url", help="the URL to judge (http or https)")
    p.add_argument("--robots", metavar="FILE", help="the origin's robots.txt (absent: no rules)")
    p.add_argument(
        "--robots-status",
        metavar="STATUS",
        type=int,
        help="the HTTP status robots.txt was fetched with, read as RFC 9309 §2.3.1 says: 2xx the "
        "rules of --robots, 4xx no rules, 5xx or 429 unreachable (complete disallow)",
    )
    p.add_argument("--headers", metavar="FILE", help="response headers, raw 'Name: value' lines")
    p.add_argument(
        "--html",
        metavar="FILE",
        help="the response body as received (the codings that --headers' Content-Encoding and "
        "Transfer-Encoding name are undone, as a crawl does)",
    )
    p.add_argument(
        "--image",
        metavar="FILE",
        help="the response body is this image file: its own metadata (IPTC Data Mining in XMP, a "
        "C2PA manifest) is read (instead of --html)",
    )
    p.add_argument("--tdmrep", metavar="FILE", help="the origin's /.well-known/tdmrep.json")
    p.add_argument("--ai-txt", metavar="FILE", help="the origin's /ai.txt")
    p.add_argument(
        "--rsl",
        metavar="FILE",
        help="the RSL 1.0 licence (application/rsl+xml) the robots.txt License: record names",
    )
    p.add_argument(
        "--decoded",
        action="store_true",
        help="the --html file is the decoded body: ignore the Content-Encoding and "
        "Transfer-Encoding of --headers",
    )
    add_policy_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _read(path: str | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def parse_headers(raw: bytes) -> list[tuple[str, str]]:
    """Raw ``Name: value`` lines; a status line and obs-fold continuations are accepted."""
    return parse_headers_status(raw)[1]


def parse_headers_status(raw: bytes) -> tuple[int, list[tuple[str, str]]]:
    """:func:`parse_headers`, and the status of a status line (200 without one)."""
    text = raw.decode("utf-8", errors="replace")
    out: list[tuple[str, str]] = []
    status = 200
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line[:1] in " \t" and out:  # obs-fold (RFC 9112 §5.2)
            k, v = out[-1]
            out[-1] = (k, f"{v} {line.strip()}")
            continue
        if n == 1 and line.upper().startswith("HTTP/"):
            code = line.split()[1] if len(line.split()) > 1 else ""
            status = int(code) if code.isdigit() and len(code) == 3 else status
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t"):
            raise UsageError(f"headers line {n} is not 'Name: value': {line[:60]!r}")
        out.append((name.strip(), value.strip()))
    return status, out


def judge_from_args(args: argparse.Namespace) -> Judgement:
    """Judge the URL with the engine: before the fetch from the site files alone, after it when
    response headers or a body are given."""
    from urllib.parse import urljoin, urlsplit

    from ..content import is_chunked, parse_codings
    from ..engine import Judge, Page, SiteFiles
    from ..imagemeta import image_format
    from ..robots import RobotsTxt
    from ..sitefiles import file_url, from_fetch, origin_of
    from ..tdmrep import TdmrepFile
    from ._policy import policy_from_args

    url: str = args.url
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise UsageError(f"not an http(s) URL: {url!r}")
    origin = origin_of(url)
    policy = policy_from_args(args)

    robots_body = _read(args.robots)
    robots_url = file_url(origin, "robots")
    status = getattr(args, "robots_status", None)
    if status is not None:
        if not 100 <= status <= 599:
            raise UsageError(f"--robots-status: {status!r} is not an HTTP status; allowed: 100-599")
        # RFC 9309 §2.3.1: the fetch outcome decides, as in a crawl or an audit capture.
        robots = cast("RobotsTxt", from_fetch("robots", robots_url, status=status, body=robots_body or b""))
    elif robots_body is None:
        robots = RobotsTxt.unavailable(robots_url, "not given (treated as 404: no rules)")
    else:
        robots = RobotsTxt.parse(robots_body, robots_url)
    tdm_body = _read(args.tdmrep)
    tdm = None if tdm_body is None else TdmrepFile.parse(tdm_body, file_url(origin, "tdmrep"))
    ai_body = _read(args.ai_txt)
    ai = None if ai_body is None else RobotsTxt.parse(ai_body, file_url(origin, "ai-txt"))
    rsl_body = _read(getattr(args, "rsl", None))
    rsl = None
    if rsl_body is not None:
        from ..rsl import RslFile

        # Its URL: the first License: record of --robots, else <origin>/license.xml (RSL's example).
        lic = next((v.strip() for _, _, v in robots.licenses), "") if robots.state == "ok" else ""
        rsl = RslFile.parse(rsl_body, urljoin(origin + "/", lic or "/license.xml"))
    files = SiteFiles(origin, robots, tdm, ai, _provenance(args), rsl)
    judge = Judge(policy)
    hdr_raw = _read(args.headers)
    html = _read(args.html)
    image = _read(getattr(args, "image", None))
    if image is not None:
        if html is not None:
            raise UsageError("give --html or --image, not both")
        html = image
    if hdr_raw is None and html is None:
        return judge.before_fetch(url, files)  # the URL alone: what its site files say
    status, headers = (200, []) if hdr_raw is None else parse_headers_status(hdr_raw)
    ctype = None
    if html is not None and not any(k.lower() == "content-type" for k, _ in headers):
        # A body given without its Content-Type is taken as HTML; an --image file as its format.
        ctype = "text/html" if image is None else f"image/{image_format(image) or 'unknown'}"
    ce = [v for k, v in headers if k.lower() == "content-encoding"]
    te = [v for k, v in headers if k.lower() == "transfer-encoding"]
    page = Page(
        url,
        status=status,
        headers=tuple(headers),
        body=html or b"",
        content_encoding=None if args.decoded or not ce else ", ".join(parse_codings(ce)),
        chunked=not args.decoded and is_chunked(te),
        content_type=ctype,
    )
    return judge.after_fetch(page, files)


def _provenance(args: argparse.Namespace) -> dict[str, Any]:
    given = {"robots": args.robots, "tdmrep": args.tdmrep, "ai-txt": args.ai_txt}
    out: dict[str, Any] = {k: {"given": v} if v else {"missing": "not given"} for k, v in given.items()}
    if getattr(args, "rsl", None):
        out["rsl"] = {"given": args.rsl}
    return out


def decide_from_args(args: argparse.Namespace) -> Decision:
    return judge_from_args(args).decision


def _one_line(text: str) -> str:
    return " | ".join(part.strip() for part in text.splitlines()) if "\n" in text else text


def format_text(dec: Decision) -> str:
    lines = [
        f"{dec.url}",
        f"  purpose: {dec.purpose}",
        f"  verdict: {dec.verdict.value}"
        + (" (blocked)" if dec.blocked and dec.verdict is not Verdict.RESERVE else ""),
    ]
    lines.append(f"  reason:  {dec.reason}")
    if dec.resolution:
        lines.append(f"  policy:  {dec.resolution}")
    s = dec.decided_by
    if s is not None:
        lines.append(f"  decided by {s.name} from {s.source}" + (f" line {s.line}" if s.line else ""))
        if s.evidence:
            lines.append(f"    evidence: {_one_line(s.evidence)}")
        if s.scope:
            lines.append(f"    scope:    {s.scope}")
        if s.user_agent:
            if s.user_agent == "*":
                bind = "the * group, which applies to the crawler's own token"
            else:
                bind = (
                    "own token"
                    if s.own_token
                    else "not the crawler's own token: proxy token, counted by policy"
                )
            lines.append(f"    agent:    {s.user_agent} ({bind})")
        if s.note:
            lines.append(f"    note:     {s.note}")
    lines.append("  signals observed:")
    for x in dec.signals:
        v = "-" if x.verdict is None else x.verdict.value
        flag = " [superseded]" if x.superseded else ""
        where = x.location + (f":{x.line}" if x.line else "")
        text = _one_line(x.evidence) or f"({x.note})"
        lines.append(f"    {x.name:<18} {v:<8} {where:<24} {text}{flag}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        dec = decide_from_args(args)
    except (UsageError, PolicyArgsError, ValueError) as exc:
        print(f"noai-guard explain: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    preset = _preset_line(args)
    if args.json:
        print(json.dumps({**dec.to_dict(), **preset}, ensure_ascii=False, indent=2))
    else:
        text = format_text(dec)
        if preset:
            p = preset["preset"]
            how = f"changed: {', '.join(p['changed'])}" if p["modified"] else "as published"
            text += f"\n  preset:  {p['id']} (policy {p['policy_hash'][:12]}; {how})"
        print(text)
    return _EXIT[dec.verdict]


def _preset_line(args: argparse.Namespace) -> dict[str, Any]:
    """``{"preset": ...}`` when --preset chose the policy (the run record's form), else {}."""
    from ._policy import policy_from_args, preset_fields

    if getattr(args, "preset", None) is None:
        return {}
    return preset_fields(args, policy_from_args(args))  # the policy judged with (checked before)
