"""Benchmark: per-URL cost of a robots.txt with ~20,000 wildcard rules (issue 11), indexed vs scanned.

Three files of about 500 KB (RFC 9309 §2.5's parse limit), each one ``User-agent: *`` group:

* ``site``: wildcard rules in the style of e-commerce and CMS files
  (``/*news12.html$``, ``/video/*?sort=3``, ``/*/tag7/*php``, ``/*img*/api3``);
* ``hostile``: every rule shares its leading literals with the URLs and fails
  late (``/*a*a*a*a*<n>b`` against ``/aaaa.../x``);
* ``worst``: every rule is made only of literals every URL holds, in an order
  that never matches (``/*c*a*d*b*...`` against ``/ddd...cccbbbaaa``): no key can
  tell the rules apart and none matches, so both scan every rule.

For each: parse time, index build time (once per origin and group), and the
mean cost of ``RobotsTxt.signals`` per URL with the rule index (``indexed``)
and with the plain best-first scan the index replaces (``scan``).
Run with ``python benchmarks/robots_wildcards.py [--urls N]``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from noai_guard.policy import Policy
from noai_guard.robots import RobotsTxt, _RuleList

WORDS = ["news", "article", "video", "img", "search", "user", "api", "static", "tag", "archive", "cart"]
EXTS = ["html", "php", "jpg", "png", "pdf", "json", "js", "css"]
ORIGIN = "https://www.example.com"
LIMIT = 512_000


def _seg(rng: random.Random) -> str:
    return rng.choice(WORDS) + (str(rng.randrange(1000)) if rng.random() < 0.6 else "")


def _wild(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"/*{_seg(rng)}.{rng.choice(EXTS)}$"
    if kind == 1:
        return f"/{_seg(rng)}/*?{rng.choice(['q', 'sort', 'page', 'ref'])}={rng.randrange(100)}"
    if kind == 2:
        return f"/*/{_seg(rng)}/*{rng.choice(EXTS)}"
    return f"/*{_seg(rng)}*/{_seg(rng)}"


def _path(rng: random.Random) -> str:
    p = "/" + "/".join(_seg(rng) for _ in range(rng.randrange(1, 5)))
    if rng.random() < 0.5:
        p += "." + rng.choice(EXTS)
    if rng.random() < 0.3:
        p += f"?q={rng.randrange(100)}&page={rng.randrange(9)}"
    return p


def _ascending(rng: random.Random, letters: str) -> list[str]:
    """8 letters with an ascending pair somewhere: never in order in a URL whose letters descend."""
    while True:
        seq = [rng.choice(letters) for _ in range(8)]
        if any(a < b for a, b in itertools.pairwise(seq)):
            return seq


def _fill(rule: object, limit: int = LIMIT) -> str:
    lines = ["User-agent: *"]
    size = len(lines[0]) + 1
    i = 0
    while True:
        line = f"Disallow: {rule(i)}"  # type: ignore[operator]
        if size + len(line) + 1 > limit:
            return "\n".join(lines) + "\n"
        lines.append(line)
        size += len(line) + 1
        i += 1


def files(rng: random.Random, n_urls: int) -> dict[str, tuple[str, list[str]]]:
    letters = "abcd"
    worst_url = ORIGIN + "/" + "".join(c * 50 for c in reversed(letters))
    return {
        "site": (_fill(lambda i: _wild(rng)), [ORIGIN + _path(rng) for _ in range(n_urls)]),
        "hostile": (_fill(lambda i: f"/*a*a*a*a*{i}b"), [ORIGIN + "/" + "a" * 200 + "/x"] * n_urls),
        "worst": (_fill(lambda i: "/*" + "*".join(_ascending(rng, letters))), [worst_url] * n_urls),
    }


def _per_url(robots: RobotsTxt, urls: list[str], policy: Policy) -> float:
    robots.signals(urls[0], policy)  # build the group's rule list (and index) outside the timing
    t0 = time.perf_counter()
    for u in urls:
        robots.signals(u, policy)
    return (time.perf_counter() - t0) / len(urls)


def run(n_urls: int) -> dict[str, dict[str, float]]:
    rng = random.Random(9309)
    policy = Policy(user_agents=("examplebot",), proxy_tokens=())
    out: dict[str, dict[str, float]] = {}
    print(f"{n_urls} URLs per file; mean per URL; build = index built once per origin and group")
    print(f"{'file':>8} {'bytes':>8} {'rules':>6} {'parse':>8} {'build':>8} {'indexed':>9} {'scan':>9}")
    for name, (text, urls) in files(rng, n_urls).items():
        body = text.encode()
        t0 = time.perf_counter()
        robots = RobotsTxt.parse(body, ORIGIN + "/robots.txt")
        parse = time.perf_counter() - t0
        rules = robots.groups[0].rules
        t0 = time.perf_counter()
        indexed = _RuleList(rules)
        build = time.perf_counter() - t0
        assert indexed._wild is not None
        fast = _per_url(robots, urls, policy)
        # The plain scan: the same file with its rule lists built without the index.
        scan_robots = RobotsTxt.parse(body, ORIGIN + "/robots.txt")
        m = scan_robots._group_for("examplebot", own=True)
        assert m is not None
        m.rules = _RuleList(rules, index_min=len(rules) + 1)
        slow = _per_url(scan_robots, urls[: max(1, n_urls // 10)], policy)
        for u in urls[:50]:  # same verdicts
            assert robots.can_fetch(u, "examplebot") == scan_robots.can_fetch(u, "examplebot")
        out[name] = {"parse": parse, "build": build, "indexed": fast, "scan": slow}
        print(
            f"{name:>8} {len(body):>8} {len(rules):>6} {parse * 1e3:>6.0f}ms {build * 1e3:>6.0f}ms "
            f"{fast * 1e3:>7.3f}ms {slow * 1e3:>7.2f}ms"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=1000)
    args = ap.parse_args()
    run(args.urls)


if __name__ == "__main__":
    main()
