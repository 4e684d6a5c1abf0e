"""Benchmark: noai_guard ``RobotsTxt.signals`` beside Protego ``can_fetch``.

Generates real-size robots.txt files (about 1 KB, 30 KB and 500 KB, the last
with thousands of wildcard rules), then evaluates 10,000 URLs on each:

* ours: ``RobotsTxt.signals(url, policy)`` for the own token *and* the full
  default proxy-token list (every signal for ai-train);
* Protego: ``can_fetch(url, token)`` for one token.

Both parse once and query many times; parse time is reported separately.
Run with ``python benchmarks/robots_eval.py [--urls N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from protego import Protego

from noai_guard.policy import Policy
from noai_guard.robots import RobotsTxt
from noai_guard.tokens import default_proxy_tokens

TOKEN = "examplebot"
WORDS = ["news", "article", "video", "img", "search", "user", "api", "static", "tag", "archive", "cart"]
EXTS = ["html", "php", "jpg", "png", "pdf", "json", "js", "css"]


def _seg(rng: random.Random) -> str:
    return rng.choice(WORDS) + (str(rng.randrange(100)) if rng.random() < 0.4 else "")


def _path(rng: random.Random) -> str:
    p = "/" + "/".join(_seg(rng) for _ in range(rng.randrange(1, 4)))
    if rng.random() < 0.5:
        p += "." + rng.choice(EXTS)
    if rng.random() < 0.3:
        p += f"?q={rng.randrange(1000)}&page={rng.randrange(9)}"
    return p


def _wild(rng: random.Random) -> str:
    """A wildcard pattern in the style of e-commerce and CMS files."""
    kind = rng.randrange(4)
    if kind == 0:
        return f"/*.{rng.choice(EXTS)}$"
    if kind == 1:
        return f"/{_seg(rng)}/*?{rng.choice(['q', 'sort', 'page', 'ref'])}="
    if kind == 2:
        return f"/*/{_seg(rng)}/*{rng.choice(EXTS)}"
    return f"/{_seg(rng)}*/{_seg(rng)}$"


def make_file(size: int, rng: random.Random) -> str:
    """A robots.txt of about ``size`` bytes: AI-bot block, a * group, rules, sitemaps."""
    lines = ["# generated for the benchmark", ""]
    proxies = list(default_proxy_tokens())
    lines += [f"User-agent: {t}" for t in proxies[: min(len(proxies), 4 + size // 2000)]]
    lines += ["Disallow: /", ""]
    lines += ["User-agent: Googlebot", "Allow: /", "Crawl-delay: 1", ""]
    lines += ["User-agent: *", "Content-Signal: search=yes, ai-train=no", "Allow: /$"]
    while sum(len(x) + 1 for x in lines) < size - 200:
        r = rng.random()
        if r < 0.55:
            lines.append(f"Disallow: {_wild(rng)}")
        elif r < 0.85:
            lines.append(f"Disallow: {_path(rng).split('?')[0]}")
        elif r < 0.97:
            lines.append(f"Allow: {_path(rng).split('?')[0]}")
        else:
            lines.append(f"Content-Usage: /{_seg(rng)}/ train-ai=n")
    lines += ["", "Sitemap: https://www.example.com/sitemap.xml"]
    return "\n".join(lines) + "\n"


def _medians(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median times of ``a`` and ``b``, run alternately so that machine load hits both alike."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(repeats):
        for fn, times in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def run(n_urls: int, repeats: int) -> list[tuple[str, float, float]]:
    rng = random.Random(9309)
    policy = Policy(user_agents=(TOKEN,))
    urls = [f"https://www.example.com{_path(rng)}" for _ in range(n_urls)]
    rows: list[tuple[str, float, float]] = []
    print(f"{n_urls} URLs, median of {repeats} runs; ours = own token + {len(policy.proxy_tokens)} proxies")
    print(
        f"{'file':>16} {'rules':>6} {'parse ours':>11} {'parse pro':>10} {'ours':>9} {'protego':>9} {'ratio':>6}"
    )
    for size in (1_000, 30_000, 500_000):
        text = make_file(size, rng)
        body = text.encode()
        n_rules = sum(1 for ln in text.splitlines() if ln.startswith(("Allow", "Disallow")))

        def p_ours(b: bytes = body) -> None:
            RobotsTxt.parse(b, "https://www.example.com/robots.txt")

        def p_pro(t: str = text) -> None:
            Protego.parse(t)

        parse_ours, parse_pro = _medians(p_ours, p_pro, repeats)
        ours = RobotsTxt.parse(body, "https://www.example.com/robots.txt")
        pro = Protego.parse(text)
        ours.signals(urls[0], policy)  # warm the per-token caches, as a crawl would
        pro.can_fetch(urls[0], TOKEN)
        # Sanity check on the own token.  Expected differences: Protego counts "?" in a
        # pattern as "%3F" (3 octets), so "/a/*?q=" outranks an equally long Allow.
        disagree = sum(ours.can_fetch(u, TOKEN) != pro.can_fetch(u, TOKEN) for u in urls)

        def q_ours(o: RobotsTxt = ours) -> None:
            for u in urls:
                o.signals(u, policy)

        def q_pro(p: Protego = pro) -> None:
            for u in urls:
                p.can_fetch(u, TOKEN)

        t_ours, t_pro = _medians(q_ours, q_pro, repeats)
        ratio = t_ours / t_pro
        rows.append((f"{len(body) // 1000} KB", t_ours, t_pro))
        print(
            f"{len(body):>10} bytes {n_rules:>6} {parse_ours * 1e3:>9.1f}ms {parse_pro * 1e3:>8.1f}ms "
            f"{t_ours * 1e3:>7.1f}ms {t_pro * 1e3:>7.1f}ms {ratio:>5.2f}x"
            + (f"  ({disagree} URLs differ: '?' rule length)" if disagree else "")
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    run(args.urls, args.repeats)


if __name__ == "__main__":
    main()
