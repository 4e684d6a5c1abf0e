"""The datatrove pipeline (issue 16) against ``noai-guard audit -j 2``, and the capture index's cost.

Inputs: gzipped WARCs from ``benchmarks/audit_throughput.py``'s generator
(30-120 KB pages over 200 origins each, robots.txt captures first, ~6% opted
out).  Then, in interleaved rounds:

* ``noai-guard audit FILES -j 2`` (a subprocess: start-up included);
The robots.txt captures are moved to a WARC of their own, as Common Crawl
ships them (``noai-guard audit`` indexes such a capture-only WARC first).

* the pipeline in a subprocess: ``NoaiCaptureIndexer`` (one task) then
  ``NoaiWarcReader`` -> ``NoaiGuardFilter`` on ``LocalPipelineExecutor``
  (tasks = files, workers = 2), then ``NoaiMediaMatcher`` (one task: the
  ``embedding-page`` matching the CLI does); timed whole, and the audit stage
  with the matcher.

Records/s are judged records over wall time, medians of the rounds; the ratio
pipeline / CLI is printed (target: >= 0.8).  Then the capture index: a
capture-only WARC of ``--captures`` robots.txt captures (distinct hosts,
150-1,500-byte files) is indexed by 2 tasks on 2 workers; build time and size
on disk are measured and extrapolated linearly to a million captures (said so
in the output), with the time of a first lookup (one shard opened).

    python benchmarks/datatrove_pipeline.py [--files 4] [--records 1500] [--repeat 3] [--captures 100000]
                                            [--start-method forkserver|fork|spawn] [--no-index-measure]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_throughput import _http, _record, generate

PIPELINE = """
import sys, time
from datatrove.executor import LocalPipelineExecutor
from noai_guard.integrations.datatrove import NoaiCaptureIndexer, NoaiGuardFilter, NoaiMediaMatcher, NoaiWarcReader

inputs, work, tasks, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
t0 = time.perf_counter()
LocalPipelineExecutor(pipeline=[NoaiCaptureIndexer(work + "/idx", warcs=inputs, glob_pattern="robotstxt-*",
                                                   shards=64)],
                      tasks=1, workers=1, logging_dir=work + "/logs-idx").run()
t1 = time.perf_counter()
LocalPipelineExecutor(pipeline=[NoaiWarcReader(inputs, glob_pattern="crawl-*"), NoaiGuardFilter(work + "/trails", index=work + "/idx")],
                      tasks=tasks, workers=2, logging_dir=work + "/logs-audit", start_method=start).run()
LocalPipelineExecutor(pipeline=[NoaiMediaMatcher(work + "/trails")], tasks=1, workers=1,
                      logging_dir=work + "/logs-media", start_method=start).run()  # embedding-page, as the CLI
t2 = time.perf_counter()
print(f"TIMES {t1 - t0} {t2 - t1}")
"""

INDEX = """
import sys
from datatrove.executor import LocalPipelineExecutor
from noai_guard.integrations.datatrove import NoaiCaptureIndexer
LocalPipelineExecutor(pipeline=[NoaiCaptureIndexer(sys.argv[2], warcs=sys.argv[1], shards=256)],
                      tasks=2, workers=2, logging_dir=sys.argv[3]).run()
"""


def split_captures(page_warc: Path, capture_warc: Path, n: int) -> None:
    """Move the first ``n`` records (the generator's robots.txt captures, one gzip member each) of
    ``page_warc`` to ``capture_warc``: Common Crawl's layout, robots.txt captures in WARCs of their own."""
    data = page_warc.read_bytes()
    pos = 0
    for _ in range(n):  # each capture is a small gzip member: a 1 MB window holds it
        d = zlib.decompressobj(31)
        window = data[pos : pos + (1 << 20)]
        d.decompress(window)
        if not d.eof:
            raise SystemExit("split_captures: a capture record is not one small gzip member")
        pos += len(window) - len(d.unused_data)
    with open(capture_warc, "ab") as fh:
        fh.write(data[:pos])
    page_warc.write_bytes(data[pos:])


def run_cli(files: list[Path], out: Path) -> float:
    cmd = [sys.executable, "-m", "noai_guard.cli", "audit", *map(str, files), "--out", str(out), "-j", "2"]
    t0 = time.perf_counter()
    proc = subprocess.run([*cmd, "--no-progress"], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"audit failed ({proc.returncode}): {proc.stderr}")
    return wall


def run_pipeline(inputs: Path, work: Path, tasks: int, start: str) -> tuple[float, float, float]:
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PIPELINE, str(inputs), str(work), str(tasks), start],
        capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"pipeline failed: {proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("TIMES"))
    index_s, audit_s = map(float, line.split()[1:])
    return wall, index_s, audit_s


def capture_warc(path: Path, n: int, seed: int = 7) -> int:
    """A Common-Crawl-like robots.txt WARC: ``n`` captures of distinct hosts; returns its size."""
    rng = random.Random(seed)
    lines = ["Disallow: /private/", "Disallow: /cgi-bin/", "Allow: /", "Crawl-delay: 5",
             "Sitemap: https://example.com/sitemap.xml", "Disallow: /search?q=*", "Disallow: /*.pdf$"]
    with open(path, "wb") as fh:
        for i in range(n):
            body = "User-agent: *\n" + "\n".join(rng.choice(lines) for _ in range(rng.randint(4, 60)))
            if i % 7 == 0:
                body += "\n\nUser-agent: GPTBot\nDisallow: /\n"
            rec = _record(f"https://host{i}.example/robots.txt", f"2025-01-{1 + i % 28:02d}T00:00:00Z",
                          _http("200 OK", [("Content-Type", "text/plain")], body.encode()))
            c = zlib.compressobj(6, zlib.DEFLATED, 31)
            fh.write(c.compress(rec) + c.flush())
    return path.stat().st_size


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4, help="page WARCs (default 4)")
    ap.add_argument("--records", type=int, default=1500, help="page records per file (default 1,500)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--captures", type=int, default=100_000, help="captures for the index measure (default 100,000)")
    ap.add_argument("--start-method", default="forkserver", choices=["forkserver", "fork", "spawn"],
                    help="LocalPipelineExecutor's start_method for the audit stage (datatrove's default: forkserver)")
    ap.add_argument("--no-index-measure", action="store_true", help="skip the capture index measure")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="noai-guard-dt-bench-") as tmp:
        root = Path(tmp)
        inputs = root / "in"
        inputs.mkdir()
        files = [inputs / f"crawl-{i:03d}.warc.gz" for i in range(a.files)]
        for i, f in enumerate(files):
            generate(f, a.records, seed=100 + i)
            split_captures(f, inputs / "robotstxt-000.warc.gz", 200)
        files.append(inputs / "robotstxt-000.warc.gz")
        judged = a.files * a.records
        size = sum(f.stat().st_size for f in files)
        print(f"inputs: {a.files} WARCs, {judged:,} page records, {size / 1e6:.1f} MB; {os.cpu_count()} CPUs")
        cli_s, pipe_s, idx_s, aud_s = [], [], [], []
        for r in range(a.repeat):
            cli_s.append(run_cli(files, root / "cli.jsonl"))
            w, i_s, a_s = run_pipeline(inputs, root / "pipe", a.files, a.start_method)
            pipe_s.append(w)
            idx_s.append(i_s)
            aud_s.append(a_s)
            print(f"round {r + 1}: audit -j 2 {cli_s[-1]:.2f} s; pipeline {w:.2f} s "
                  f"(index stage {i_s:.2f} s, audit + media stages {a_s:.2f} s)")
        cli, pipe, aud = statistics.median(cli_s), statistics.median(pipe_s), statistics.median(aud_s)
        print(f"noai-guard audit -j 2:            {judged / cli:8.0f} records/s (median of {a.repeat})")
        print(f"pipeline, 2 workers (whole):      {judged / pipe:8.0f} records/s  ratio {cli / pipe:.2f}x")
        print(f"pipeline, audit + media stages:   {judged / aud:8.0f} records/s  ratio {cli / aud:.2f}x")

        if a.no_index_measure:
            return
        # --- the capture index -----------------------------------------------------------------
        cap_dir = root / "robotstxt"
        cap_dir.mkdir()
        wsize = capture_warc(cap_dir / "robotstxt.warc.gz", a.captures)
        idx = root / "capidx"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", INDEX, str(cap_dir), str(idx), str(root / "logs-cap")],
                       capture_output=True, check=True)
        build = time.perf_counter() - t0
        isize = du(idx)
        from noai_guard.integrations.datatrove import ShardedCaptureIndex

        t0 = time.perf_counter()
        index = ShardedCaptureIndex(str(idx))
        hit = index.nearest("https://host12345.example", "robots", 2e9)
        first = time.perf_counter() - t0
        assert hit is not None or a.captures <= 12345
        per_m = 1e6 / a.captures
        print(f"capture index: {a.captures:,} captures ({wsize / 1e6:.1f} MB of WARC) built in {build:.2f} s "
              f"(2 tasks, 2 workers, start-up included), {isize / 1e6:.1f} MB on disk in "
              f"{len(list(idx.glob('shards/*')))} shards")
        print(f"  per million captures (extrapolated linearly from {a.captures:,}): "
              f"{build * per_m:.0f} s, {isize * per_m / 1e6:.0f} MB; first lookup (opens one shard, "
              f"{index.captures_loaded:,} captures) {first * 1000:.0f} ms")


if __name__ == "__main__":
    main()
