"""Throughput of ``noai-guard audit`` beside bare WARC iteration of the same file.

Builds gzipped WARCs (one gzip member per record, as Common Crawl writes) of
pages spread over 200 origins whose robots.txt captures come first, a few
percent of the pages opting out by meta (3%), X-Robots-Tag (2%) or
TDM-Reservation (1%).  The pages are either

* ``--pages real`` (the default when ``../shared/realpages/pages.tar.xz`` is
  there, relative to the repository root; 3,000 records by default): its 273
  real documents, unpacked into a temporary directory at run time and cycled,
  written with warcio; a meta opt-out is put into the real head (right after
  ``<head ...>`` or before ``</head>``, see ``benchmarks/realpages.py``); or
* ``--pages generated`` (10,000 records by default): 30-120 KB of HTML with
  20-40 head tags.

Then, in the same run, interleaved rounds of:

* bare iteration with FastWARC (``ArchiveIterator``, HTTP headers parsed,
  payload skipped) and with warcio;
* ``noai-guard audit`` on one process (the command, start-up included, and the
  engine time it reports);
* ``noai-guard audit -j 2`` on two such files against one process on both.

    python benchmarks/audit_throughput.py [--pages real|generated] [--records N] [--repeat 3]
                                          [--no-jobs] [--workdir DIR]

The WARCs go to a temporary directory, deleted at the end (``--workdir``
keeps them there and reuses them on the next run).  Records/s and the ratios
are printed from the medians of the rounds, and from the best round.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import shutil
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


def generate_real(
    path: Path, records: int, seed: int, sources: list[bytes], origins: int = 200
) -> tuple[int, int]:
    """Write a WARC of ``records`` real pages (``sources`` cycled) with warcio; returns (pages, opt-outs).

    The same origins, robots.txt captures and opt-out shares as :func:`generate`.
    """
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    rp = _realpages()
    reads = rp.reserves()
    meta = b'<meta name="robots" content="noai, noimageai">'
    variants: dict[int, bytes | None] = {}

    def with_meta(k: int) -> bytes:
        for step in range(len(sources)):
            j = (k + step) % len(sources)
            if j not in variants:
                variants[j] = rp.inject_checked(sources[j], meta, at_end=j % 2 == 1, reads=reads)
            v = variants[j]
            if v is not None:
                return v
        raise RuntimeError("no real page reads an added robots meta")

    rng = random.Random(seed)
    hosts = [f"https://site{seed}-{i}.example" for i in range(origins)]
    optouts = 0
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)  # one gzip member per record

        def put(url: str, date: str, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
            http = StatusAndHeaders(
                status, [*headers, ("Content-Length", str(len(body)))], protocol="HTTP/1.1"
            )
            rec = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": date},
            )
            writer.write_record(rec)

        for i, h in enumerate(hosts):
            rules = "User-agent: *\nDisallow: /private/\n"
            if i % 10 == 0:
                rules += "\nUser-agent: GPTBot\nDisallow: /\n"
            put(
                h + "/robots.txt",
                "2025-01-01T00:00:00Z",
                "200 OK",
                [("Content-Type", "text/plain")],
                rules.encode(),
            )
        for n in range(records):
            h = hosts[n % origins]
            roll = rng.random()
            optout = "meta" if roll < 0.03 else "header" if roll < 0.05 else "tdm" if roll < 0.06 else None
            optouts += optout is not None
            # No charset: the real pages are not all UTF-8 (they say so, or not, in their heads).
            headers = [("Content-Type", "text/html"), ("Server", "nginx")]
            if optout == "header":
                headers.append(("X-Robots-Tag", "noai"))
            if optout == "tdm":
                headers.append(("TDM-Reservation", "1"))
            k = n % len(sources)
            body = with_meta(k) if optout == "meta" else sources[k]
            date = f"2025-01-{1 + n % 28:02d}T{n % 24:02d}:00:00Z"
            put(f"{h}/a/{n}", date, "200 OK", headers, body)
    return records, optouts


def _realpages() -> Any:
    """``benchmarks/realpages.py``, imported from this file's directory."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import realpages

    return realpages


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


def main(argv: list[str] | None = None) -> None:
    rp = _realpages()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--pages",
        type=rp.pages_option,
        default=None,
        metavar="real|generated",
        help="the real pages of ../shared/realpages/ (default when present) or generated ones",
    )
    ap.add_argument(
        "--records", type=int, default=None, help="pages per WARC (default 3000 real, 10000 generated)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--no-jobs", action="store_true", help="skip the two-file runs (-j 1 and -j 2)")
    ap.add_argument("--workdir", help="keep the WARCs here (reused when present) instead of a temp dir")
    a = ap.parse_args(argv)
    kind = rp.resolve(a.pages)
    records = a.records or (3000 if kind == "real" else 10_000)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="noai-guard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run(a, kind, records, work)
    finally:
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)


def run(a: argparse.Namespace, kind: str, records: int, work: Path) -> None:
    rp = _realpages()
    files = [work / f"bench-{kind}-{records}-{seed}.warc.gz" for seed in (1, 2)]
    if a.no_jobs:
        files = files[:1]
    f1 = files[0]
    missing = [f for f in files if not f.exists()]
    optouts: dict[Path, int] = {}
    if missing:
        if kind == "real":
            with rp.unpacked() as pages:
                sources = [p.read_bytes() for p in pages]
            print(f"{len(sources)} real pages from {rp.TARBALL}, cycled")
        for f in missing:
            seed = files.index(f) + 1
            t0 = time.perf_counter()
            if kind == "real":
                _, opt = generate_real(f, records, seed, sources)
            else:
                _, opt = generate(f, records, seed)
            optouts[f] = opt
            took = time.perf_counter() - t0
            print(
                f"wrote {f} ({f.stat().st_size / 1e6:.0f} MB, {records:,} {kind} pages, {opt} opt-outs) in {took:.0f} s"
            )
    size = f1.stat().st_size
    both = sum(f.stat().st_size for f in files)
    n_all = records + 200
    # Interleaved runs (A B C A B C ...), so that load from elsewhere hits every contender alike.
    runs: dict[str, list[tuple[float, float]]] = {
        k: [] for k in ("fastwarc", "warcio", "audit", "engine", "j1", "j2")
    }
    summary: dict[str, Any] = {}
    for r in range(a.repeat):
        runs["fastwarc"].append(in_process(lambda: bare_fastwarc(f1)))
        runs["warcio"].append(in_process(lambda: bare_warcio(f1)))
        wall, cpu, summary = audit([f1], 1, work / "trail-1.jsonl")
        runs["audit"].append((wall, cpu))
        runs["engine"].append((float(summary["totals"]["seconds"]), cpu))
        if not a.no_jobs:
            wall, cpu, _ = audit(files, 1, work / "trail-2.jsonl")
            runs["j1"].append((wall, cpu))
            wall, cpu, _ = audit(files, 2, work / "trail-3.jsonl")
            runs["j2"].append((wall, cpu))
        print(
            f"  round {r + 1}: fastwarc {runs['fastwarc'][-1][0]:.2f} s, audit {runs['audit'][-1][0]:.2f} s "
            f"(engine {runs['engine'][-1][0]:.2f} s)",
            flush=True,
        )

    def med(k: str, i: int = 0) -> float:
        return statistics.median(r[i] for r in runs[k])

    def best(k: str, i: int = 0) -> float:
        return min(r[i] for r in runs[k])

    load = os.getloadavg()[0]
    print(
        f"\n{os.cpu_count()} CPUs, load average {load:.1f}; {kind} pages; file {size / 1e6:.0f} MB gzip "
        f"(one member per record), {n_all:,} records; {a.repeat} rounds"
    )
    print(
        f"{'':34} {'wall median':>12} {'wall best':>10} {'CPU median':>11}  "
        f"{'records/s (median)':>18} {'(best)':>8}  {'MB/s (median)':>13}"
    )
    rows = [
        ("fastwarc bare iteration", "fastwarc", n_all, size),
        ("warcio bare iteration", "warcio", n_all, size),
        ("noai-guard audit (command)", "audit", n_all, size),
        ("noai-guard audit (engine only)", "engine", n_all, size),
    ]
    if not a.no_jobs:
        rows += [
            ("audit, two files, one process", "j1", 2 * n_all, both),
            ("audit, two files, -j 2", "j2", 2 * n_all, both),
        ]
    for name, k, n, nbytes in rows:
        print(
            f"{name:<34} {med(k):10.2f} s {best(k):8.2f} s {med(k, 1):9.2f} s  "
            f"{n / med(k):18,.0f} {n / best(k):8,.0f}  {nbytes / med(k) / 1e6:13.1f}"
        )
    expected = (
        f" ({optouts[f1]} pages opt out by meta or header; robots.txt reserves every tenth origin for AI crawlers)"
        if f1 in optouts
        else ""
    )
    print(f"  reserved {summary['totals']['reserved']:,} of {summary['totals']['judged']:,} judged{expected}")
    print()
    fw, fwb = med("fastwarc"), best("fastwarc")
    print(
        f"audit / fastwarc bare (medians): {fw / med('audit'):.2f}x command, {fw / med('engine'):.2f}x engine"
        f"   (target >= 0.5x)"
        f"\n  per round, command: {', '.join(f'{f[0] / c[0]:.2f}' for f, c in zip(runs['fastwarc'], runs['audit'], strict=True))}"
        f"\n  best walls: {fwb / best('audit'):.2f}x command, {fwb / best('engine'):.2f}x engine;"
        f"  by CPU time (medians): {med('fastwarc', 1) / med('audit', 1):.2f}x"
    )
    print(f"fastwarc / warcio bare (medians): {med('warcio') / fw:.2f}x")
    if not a.no_jobs:
        print(
            f"-j 2 on two files vs one process (medians): {med('j1') / med('j2'):.2f}x, best walls "
            f"{best('j1') / best('j2'):.2f}x   (target close to 2x)"
        )


if __name__ == "__main__":
    main()
