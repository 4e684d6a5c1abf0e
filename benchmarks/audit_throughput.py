"""Throughput of ``noai-guard audit`` beside bare WARC iteration of the same file.

Generates gzipped WARCs (one gzip member per record, as Common Crawl writes)
of realistic pages: 30-120 KB of HTML with 20-40 head tags, a few percent of
them opting out by meta, X-Robots-Tag or TDM-Reservation, spread over 200
origins whose robots.txt captures come first.  Then, in the same run:

* bare iteration with FastWARC (``ArchiveIterator``, HTTP headers parsed,
  payload skipped) and with warcio;
* ``noai-guard audit`` on one process (the command, start-up included, and the
  engine time it reports);
* ``noai-guard audit -j 2`` on two such files against one process on both.

    python benchmarks/audit_throughput.py [--records 10000] [--repeat 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "one",
    "all",
    "we",
    "their",
    "been",
    "has",
    "would",
    "when",
    "if",
    "so",
    "no",
    "what",
    "out",
    "up",
    "into",
    "more",
    "other",
    "collection",
    "spring",
    "garden",
    "recipe",
    "market",
    "travel",
    "season",
    "update",
    "review",
    "guide",
    "price",
    "design",
    "local",
    "city",
]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


_POOL: list[str] = []


def _pool(rng: random.Random) -> list[str]:
    """2,000 distinct paragraphs: text that compresses like prose, generated once."""
    if not _POOL:
        _POOL.extend(f"<p>{_text(rng, rng.randint(40, 120))}</p>\n" for _ in range(2000))
    return _POOL


def _page(rng: random.Random, i: int, optout: str | None) -> bytes:
    tags = [
        '<meta charset="utf-8">',
        f"<title>{_text(rng, 6)}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
    ]
    for k in range(rng.randint(17, 37)):
        c = k % 5
        if c == 0:
            tags.append(
                f'<meta property="og:{rng.choice(["title", "description", "url", "type"])}" content="{_text(rng, 8)}">'
            )
        elif c == 1:
            tags.append(f'<link rel="stylesheet" href="/static/css/{k}-{rng.randrange(10**6)}.css">')
        elif c == 2:
            tags.append(f'<script src="/static/js/app-{rng.randrange(10**6)}.js" defer></script>')
        elif c == 3:
            tags.append(
                f'<meta name="twitter:{rng.choice(["card", "site", "title"])}" content="{_text(rng, 4)}">'
            )
        else:
            tags.append(f'<link rel="preload" as="font" href="/f/{k}.woff2" crossorigin>')
    if optout == "meta":
        tags.insert(rng.randrange(len(tags)), '<meta name="robots" content="noai, noimageai">')
    head = "\n".join(tags)
    size = rng.randint(30_000, 120_000)
    paras = []
    total = 0
    pool = _pool(rng)
    while total < size:
        p = rng.choice(pool)
        paras.append(p)
        total += len(p)
    return f"<!DOCTYPE html>\n<html><head>\n{head}\n</head>\n<body><main>{''.join(paras)}</main></body></html>\n".encode()


def _record(url: str, date: str, http: bytes) -> bytes:
    hdr = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\nWARC-Date: {date}\r\nWARC-Target-URI: {url}\r\n"
        f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n"
    ).encode()
    return hdr + http + b"\r\n\r\n"


def _http(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    h = "".join(f"{k}: {v}\r\n" for k, v in [*headers, ("Content-Length", str(len(body)))])
    return f"HTTP/1.1 {status}\r\n{h}\r\n".encode() + body


def generate(path: Path, records: int, seed: int, origins: int = 200) -> tuple[int, int]:
    """Write the WARC; returns (page records, opt-outs)."""
    rng = random.Random(seed)
    hosts = [f"https://site{seed}-{i}.example" for i in range(origins)]
    optouts = 0
    with open(path, "wb") as fh:

        def put(rec: bytes) -> None:
            c = zlib.compressobj(6, zlib.DEFLATED, 31)
            fh.write(c.compress(rec) + c.flush())

        for i, h in enumerate(hosts):
            rules = "User-agent: *\nDisallow: /private/\n"
            if i % 10 == 0:
                rules += "\nUser-agent: GPTBot\nDisallow: /\n"
            body = rules.encode()
            put(
                _record(
                    h + "/robots.txt",
                    "2025-01-01T00:00:00Z",
                    _http("200 OK", [("Content-Type", "text/plain")], body),
                )
            )
        for n in range(records):
            h = hosts[n % origins]
            roll = rng.random()
            optout = "meta" if roll < 0.03 else "header" if roll < 0.05 else "tdm" if roll < 0.06 else None
            optouts += optout is not None
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Server", "nginx")]
            if optout == "header":
                headers.append(("X-Robots-Tag", "noai"))
            if optout == "tdm":
                headers.append(("TDM-Reservation", "1"))
            body = _page(rng, n, optout)
            date = f"2025-01-{1 + n % 28:02d}T{n % 24:02d}:00:00Z"
            put(_record(f"{h}/a/{n}", date, _http("200 OK", headers, body)))
    return records, optouts


def bare_fastwarc(path: Path) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    n = 0
    for _ in ArchiveIterator(str(path), record_types=WarcRecordType.response):
        n += 1
    return n


def bare_warcio(path: Path) -> int:
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type == "response":
                n += 1
    return n


def audit(paths: list[Path], jobs: int, out: Path) -> tuple[float, float, dict[str, Any]]:
    """Run the command; returns (wall seconds, CPU seconds of the command and its workers, summary)."""
    cmd = [sys.executable, "-m", "noai_guard.cli", "audit", *map(str, paths), "--out", str(out)]
    cmd += ["-j", str(jobs), "--no-progress"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"audit failed ({proc.returncode}): {proc.stderr}")
    summary: dict[str, Any] = {}
    with open(out, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec.get("type") == "summary":
                summary = rec
    return wall, cpu, summary


def in_process(fn: Callable[[], object]) -> tuple[float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir")
    a = ap.parse_args()
    work = Path(a.workdir or tempfile.mkdtemp(prefix="noai-guard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    f1, f2 = work / "bench-1.warc.gz", work / "bench-2.warc.gz"
    for f, seed in ((f1, 1), (f2, 2)):
        if not f.exists():
            t0 = time.perf_counter()
            _, opt = generate(f, a.records, seed)
            took = time.perf_counter() - t0
            print(
                f"generated {f} ({f.stat().st_size / 1e6:.0f} MB, {a.records:,} pages, {opt} opt-outs) in {took:.0f} s"
            )
    size, both = f1.stat().st_size, f1.stat().st_size + f2.stat().st_size
    n_all = a.records + 200
    # Interleaved runs (A B C A B C ...), so that load from elsewhere hits every contender alike.
    runs: dict[str, list[tuple[float, float]]] = {
        k: [] for k in ("fastwarc", "warcio", "audit", "engine", "j1", "j2")
    }
    summary: dict[str, Any] = {}
    for _ in range(a.repeat):
        runs["fastwarc"].append(in_process(lambda: bare_fastwarc(f1)))
        runs["warcio"].append(in_process(lambda: bare_warcio(f1)))
        wall, cpu, summary = audit([f1], 1, work / "trail-1.jsonl")
        runs["audit"].append((wall, cpu))
        runs["engine"].append((float(summary["totals"]["seconds"]), cpu))
        wall, cpu, _ = audit([f1, f2], 1, work / "trail-2.jsonl")
        runs["j1"].append((wall, cpu))
        wall, cpu, _ = audit([f1, f2], 2, work / "trail-3.jsonl")
        runs["j2"].append((wall, cpu))

    def med(k: str, i: int = 0) -> float:
        return statistics.median(r[i] for r in runs[k])

    def best(k: str, i: int = 0) -> float:
        return min(r[i] for r in runs[k])

    load = os.getloadavg()[0]
    print(
        f"\n{os.cpu_count()} CPUs, load average {load:.1f}; file {size / 1e6:.0f} MB gzip, {n_all:,} records"
    )
    print(f"{'':34} {'wall median':>12} {'wall best':>10} {'CPU median':>11}  records/s (best)  MB/s (best)")
    rows = (
        ("fastwarc bare iteration", "fastwarc", n_all, size),
        ("warcio bare iteration", "warcio", n_all, size),
        ("noai-guard audit (command)", "audit", n_all, size),
        ("noai-guard audit (engine only)", "engine", n_all, size),
        ("audit, two files, one process", "j1", 2 * n_all, both),
        ("audit, two files, -j 2", "j2", 2 * n_all, both),
    )
    for name, k, n, nbytes in rows:
        print(
            f"{name:<34} {med(k):10.2f} s {best(k):8.2f} s {med(k, 1):9.2f} s  "
            f"{n / best(k):12,.0f}  {nbytes / best(k) / 1e6:10.1f}"
        )
    print(f"  reserved {summary['totals']['reserved']:,} of {summary['totals']['judged']:,} judged")
    print()
    fw = best("fastwarc")
    print(
        f"audit / fastwarc bare (best wall): {fw / best('audit'):.2f}x command, {fw / best('engine'):.2f}x engine;"
        f"  by CPU time: {med('fastwarc', 1) / med('audit', 1):.2f}x   (target >= 0.5x)"
    )
    print(f"fastwarc / warcio bare (best wall): {best('warcio') / fw:.2f}x")
    print(
        f"-j 2 on two files vs one process (best wall): {best('j1') / best('j2'):.2f}x   (target close to 2x)"
    )


if __name__ == "__main__":
    main()
