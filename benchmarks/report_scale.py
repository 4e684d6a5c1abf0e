"""Scale benchmark for `noai-guard report`: time and peak memory over 10k .. 1M audit records.

Generates synthetic but realistic trails (crawl and audit runs, several
files, decision records with their signal lists, run summaries with
per-origin counters, ~1 registrable domain per 5 records so the per-domain
table spills to SQLite), then runs the full report (every format) in a fresh
child process per size and prints wall time and the child's peak RSS.  Peak
RSS should stay roughly flat as the record count grows 100-fold: the trails
are streamed and all state is bounded.

    python benchmarks/report_scale.py                 # 10k, 100k, 1M records
    python benchmarks/report_scale.py --sizes 100000  # one size
    python benchmarks/report_scale.py --domains 20000 # a fixed number of domains

Memory is bounded by the state (constant) plus the longest single line: a
run summary has one entry per origin of that run, so with the default
(domains grow with N) the summary lines, and the peak, grow with the crawl;
with ``--domains`` fixed they do not, and peak RSS stays flat from 100k to 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from noai_guard import __version__
from noai_guard.policy import Policy

SIGNALS = [
    ("robots-txt", "robots.txt", "Disallow: /private/", True, "noai-guard"),
    ("robots-txt-proxy", "robots.txt", "Disallow: /", False, "GPTBot"),
    ("x-robots-tag", "header:X-Robots-Tag", "noai, noimageai", None, None),
    ("meta-robots", "meta", '<meta name="robots" content="noai">', None, None),
    ("tdmrep", "tdmrep.json", '{"location": "/*", "tdm-reservation": 1}', None, None),
    ("content-usage", "robots.txt", "Content-Usage: train-ai=n", None, None),
    ("content-signal", "robots.txt", "Content-Signal: ai-train=no, search=yes", True, "*"),
    ("ai-txt", "ai.txt", "Disallow: *.jpg", None, None),
]


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def generate(directory: Path, n: int, files: int = 8, seed: int = 1, domains: int = 0) -> int:
    """Write ``n`` records over ``files`` trails; return the bytes written.

    ``domains``: registrable domains to spread the URLs over (0: one per 5 records).
    """
    rnd = random.Random(seed)
    policy = Policy()
    pdict = policy.to_dict()
    phash = policy.hash
    n_domains = domains or max(n // 5, 10)
    per_file = n // files
    t0 = 1772366400.0  # 2026-03-01
    total = 0
    for f in range(files):
        mode = "audit" if f % 4 == 3 else "crawl"
        run_id = f"run-{f:04d}"
        path = directory / f"trail-{f:02d}.jsonl"
        origins: dict[str, Any] = {}
        with open(path, "w", encoding="utf-8") as fh:
            head = {"schema": "noai-guard-audit/1", "type": "run", "time": _ts(t0 + f * 86400), "run_id": run_id,
                    "tool": "noai-guard", "version": __version__, "mode": mode, "policy": pdict}  # fmt: skip
            fh.write(json.dumps(head) + "\n")
            for i in range(per_file - 2):
                dn = rnd.randrange(n_domains)
                origin = f"https://www{rnd.randrange(3)}.site{dn}.com"
                url = f"{origin}/articles/{rnd.randrange(10**6)}/page.html?ref={i}"
                name, loc, ev, own, ua = SIGNALS[rnd.randrange(len(SIGNALS))]
                src = origin + (
                    "/robots.txt" if loc == "robots.txt" else "/" if loc != "ai.txt" else "/ai.txt"
                )
                unknown = rnd.random() < 0.02
                verdict = "unknown" if unknown else "reserve"
                if mode == "audit":
                    action, phase = "flagged", "after-the-fact"
                else:
                    action = "dropped" if loc.startswith(("header", "meta")) else "skipped"
                    phase = "post-fetch" if action == "dropped" else "pre-fetch"
                sig = {"name": name, "verdict": verdict, "purpose": "ai-train", "evidence": ev, "source": src,
                       "location": loc, "line": rnd.randrange(1, 200), "scope": f"User-agent: {ua}" if ua else None,
                       "user_agent": ua, "own_token": own, "note": "RFC 9309 §2.2.2: longest match",
                       "legacy": False, "superseded": False}  # fmt: skip
                allow = {**sig, "name": "robots-txt", "verdict": "allow", "evidence": "", "note": "no rule"}
                rec = {"schema": "noai-guard-audit/1", "type": "decision", "time": _ts(t0 + f * 86400 + i * 0.5),
                       "run_id": run_id, "tool": "noai-guard", "version": __version__, "mode": mode, "phase": phase,
                       "url": url, "purpose": "ai-train", "verdict": verdict, "blocked": True, "action": action,
                       "signal": name, "evidence": ev, "evidence_url": src, "location": loc, "line": sig["line"],
                       "scope": sig["scope"], "user_agent": ua, "own_token": own,
                       "reason": f"{name} reserves ai-train: {ev}",
                       "resolution": "unknown robots-txt resolved to reserve by policy" if unknown else None,
                       "policy_hash": phash, "signals": [allow, sig]}  # fmt: skip
                if mode == "audit":
                    rec["warc_file"] = f"crawl-{f:05d}.warc.gz"
                    rec["warc_offset"] = i * 4096
                line = json.dumps(rec, ensure_ascii=False)
                fh.write(line + "\n")
                o = origins.setdefault(origin, {"evaluated": 0, "allowed": 0, "skipped": 0, "dropped": 0,
                                                "flagged": 0, "unknown": 0, "by_signal": {}})  # fmt: skip
                o["evaluated"] += 2
                o["allowed"] += 1
                o[action] += 1
                o["by_signal"][name] = o["by_signal"].get(name, 0) + 1
            for o in origins.values():
                o["fetch"] = {"robots": {"2xx": 1}, "tdmrep": {"4xx": 1}, "ai-txt": {"4xx": 1}}
            summ = {"schema": "noai-guard-audit/1", "type": "summary", "time": _ts(t0 + f * 86400 + per_file),
                    "run_id": run_id, "tool": "noai-guard", "version": __version__, "mode": mode,
                    "policy": pdict, "origins": origins}  # fmt: skip
            fh.write(json.dumps(summ) + "\n")
        total += path.stat().st_size
    return total


def _peak_rss_kib() -> int:
    """Peak RSS of this process since its exec, in KiB.

    ``VmHWM`` belongs to the process's own address space.  ``ru_maxrss`` is
    not used: Linux carries the parent's high-water mark across fork+exec, so
    a child would report the (large) generating parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def child(trail_dir: str, out_dir: str) -> None:
    """Run the report in this process and print time and peak RSS as JSON."""
    from noai_guard.report import build_report

    t = time.perf_counter()
    c = time.process_time()
    build_report([trail_dir], out_dir)
    elapsed = time.perf_counter() - t
    cpu = time.process_time() - c
    rss_kib = _peak_rss_kib()
    doc = json.loads((Path(out_dir) / "report.json").read_text("utf-8"))
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu_seconds": cpu,
                "peak_rss_mib": rss_kib / 1024,
                "records": doc["records"],
                "domains": doc["domains"]["total"],
                "spills": doc["domains"]["buffer_spills"],
            }
        )
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated record counts")
    ap.add_argument("--files", type=int, default=8, help="trail files per size")
    ap.add_argument(
        "--domains",
        type=int,
        default=0,
        help="registrable domains per size (default 0: one per 5 records, so run summaries grow with N)",
    )
    ap.add_argument("--child", nargs=2, metavar=("TRAILS", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--generate", nargs=4, metavar=("DIR", "N", "FILES", "DOMAINS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if args.generate:
        d, n, files, domains = args.generate
        print(generate(Path(d), int(n), files=int(files), domains=int(domains)))
        return 0
    print(f"{'records':>10} {'domains':>8} {'input MiB':>10} {'gen s':>7} {'wall s':>7} {'CPU s':>7} "
          f"{'rec/CPU s':>10} {'peak RSS MiB':>13} {'spills':>7}")  # fmt: skip
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="noai-guard-bench-") as tmp:
            trails = Path(tmp) / "trails"
            trails.mkdir()
            t = time.perf_counter()
            # Generated in a child too, so this driver stays small.
            g = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--generate",
                    str(trails),
                    str(n),
                    str(args.files),
                    str(args.domains),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            size = int(g.stdout.strip())
            gen = time.perf_counter() - t
            r = subprocess.run(
                [sys.executable, __file__, "--child", str(trails), str(Path(tmp) / "out")],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            res = json.loads(r.stdout.strip().splitlines()[-1])
            print(
                f"{res['records']:>10,} {res['domains']:>8,} {size / 2**20:>10.1f} {gen:>7.1f} "
                f"{res['seconds']:>7.1f} {res['cpu_seconds']:>7.1f} {res['records'] / res['cpu_seconds']:>10,.0f} "
                f"{res['peak_rss_mib']:>13.1f} "
                f"{res['spills']:>7}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
