"""The datatrove blocks (issue 16) decide as ``noai-guard audit`` does, on datatrove's own executor.

Generated multi-file WARCs: robots.txt captures that change over time (in a
capture-only WARC, inside page WARCs, one stored in a later file than the pages
it applies to, and in a ``--robots-from`` folder), pages reserved by robots.txt,
a noai meta and X-Robots-Tag, an origin with no capture, a damaged file.  The
capture index is built by one LocalPipelineExecutor, the audit run by another
(tasks=4, workers=2); the (URL, WARC-Record-ID, verdict, deciding signal,
evidence, captures used) set equals the CLI's on the same inputs and policy.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("datatrove")

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers import JsonlReader
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from noai_guard.archives import InputError
from noai_guard.cli import main
from noai_guard.integrations.datatrove import (
    NoaiCaptureIndexer,
    NoaiGuardFilter,
    NoaiMediaMatcher,
    NoaiWarcReader,
    ShardedCaptureIndex,
    match_media,
)
from noai_guard.integrations.datatrove.index import shard_of

HTML = "text/html; charset=utf-8"
NOAI = b'<html><head><meta name="robots" content="noai, noimageai"><title>n</title></head><body>x</body></html>'
PLAIN = b"<html><head><title>fine</title></head><body>fine</body></html>"

# (url, body, content type, WARC-Date, extra HTTP headers)
Rec = tuple[str, bytes, str, str, list[tuple[str, str]]]


def write_warc(path: Path, records: list[Rec]) -> None:
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    for url, body, ctype, date, extra in records:
        http = StatusAndHeaders("200 OK", [("Content-Type", ctype), *extra], protocol="HTTP/1.1")
        w.write_record(
            w.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=http,
                warc_headers_dict={"WARC-Date": date},
            )
        )
    path.write_bytes(buf.getvalue())


def robots(url: str, body: bytes, date: str) -> Rec:
    return (url, body, "text/plain", date, [])


def page(url: str, date: str, body: bytes = PLAIN, extra: list[tuple[str, str]] | None = None) -> Rec:
    return (url, body, HTML, date, extra or [])


def make_inputs(root: Path) -> tuple[Path, Path]:
    """Page WARCs and a capture-only WARC in ``root/in``; a --robots-from folder ``root/rf``."""
    inputs = root / "in"
    inputs.mkdir()
    # Common Crawl's way: robots.txt captures in a WARC of their own. shop.example opens up in April.
    write_warc(inputs / "robotstxt.warc.gz", [
        robots("http://shop.example/robots.txt", b"User-agent: *\nDisallow: /private/\n", "2025-03-01T00:00:00Z"),
        robots("http://shop.example/robots.txt", b"User-agent: *\nAllow: /\n", "2025-04-01T00:00:00Z"),
        robots("https://bots.example/robots.txt", b"User-agent: GPTBot\nDisallow: /\n", "2025-01-01T00:00:00Z"),
        robots("https://early.example/robots.txt", b"User-agent: *\nAllow: /\n", "2025-01-01T00:00:00Z"),
    ])
    write_warc(inputs / "a.warc.gz", [
        page("http://shop.example/private/a", "2025-03-10T00:00:00Z"),
        page("http://shop.example/private/b", "2025-04-10T00:00:00Z"),
        page("http://shop.example/noai", "2025-03-10T00:00:00Z", NOAI),
        page("http://shop.example/xrt", "2025-03-11T00:00:00Z", extra=[("X-Robots-Tag", "noai")]),
        *[page(f"http://shop.example/p{i}", "2025-03-12T00:00:00Z") for i in range(8)],
    ])
    write_warc(inputs / "b.warc.gz", [
        page("https://bots.example/page", "2025-02-01T00:00:00Z"),
        page("https://early.example/x", "2024-12-01T00:00:00Z"),  # before its first capture: unknown
        page("https://nocap.example/", "2025-02-01T00:00:00Z"),  # no capture at all: unknown
        # late.example's robots.txt is stored in d.warc.gz, after this page was read (the CLI's second pass)
        page("https://late.example/secret/1", "2025-05-02T00:00:00Z"),
        page("https://late.example/open", "2025-05-02T00:00:00Z"),
    ])
    write_warc(inputs / "c.warc.gz", [
        # its own capture, then its pages; it closes /private/ again in June
        robots("https://own.example/robots.txt", b"User-agent: *\nDisallow: /\n", "2025-06-01T00:00:00Z"),
        page("https://own.example/a", "2025-06-02T00:00:00Z"),
        page("https://folder.example/a", "2025-06-02T00:00:00Z"),  # judged by the --robots-from file
        page("http://shop.example/private/c", "2025-06-02T00:00:00Z", NOAI),
    ])
    write_warc(inputs / "d.warc.gz", [
        robots("https://late.example/robots.txt", b"User-agent: *\nDisallow: /secret/\n", "2025-05-01T00:00:00Z"),
        *[page(f"https://late.example/d{i}", "2025-05-03T00:00:00Z") for i in range(3)],
    ])
    rf = root / "rf"
    (rf / "folder.example").mkdir(parents=True)
    (rf / "folder.example" / "robots.txt").write_text("User-agent: *\nDisallow: /a\n", encoding="utf-8")
    return inputs, rf


def key(rec: dict[str, Any]) -> tuple[Any, ...]:
    return (
        rec["url"], rec["warc_record_id"], rec["verdict"], rec["signal"], rec["evidence"], rec["action"],
        json.dumps(rec["capture"], sort_keys=True),
    )


def records(paths: list[Path], kind: str = "decision") -> list[dict[str, Any]]:
    out = []
    for p in paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec["type"] == kind:
                out.append(rec)
    return out


class Collect(PipelineStep):  # type: ignore[misc]
    """Writes the URLs of the documents that reach it (one file per task)."""

    name = "collect"

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = str(folder)

    def run(self, data: Any, rank: int = 0, world_size: int = 1) -> Any:
        urls = [doc.metadata["url"] for doc in data]
        Path(self.folder, f"{rank}.txt").write_text("\n".join(urls), encoding="utf-8")
        yield from ()


class FailOnce(PipelineStep):  # type: ignore[misc]
    """Raises after ``after`` documents in task ``rank``, the first time only (a task dying mid-way)."""

    name = "fail once"

    def __init__(self, marker: Path, rank: int, after: int) -> None:
        super().__init__()
        self.marker, self.rank, self.after = str(marker), rank, after

    def run(self, data: Any, rank: int = 0, world_size: int = 1) -> Any:
        for n, doc in enumerate(data):
            if rank == self.rank and n == self.after and not Path(self.marker).exists():
                Path(self.marker).touch()
                raise RuntimeError("injected failure")
            yield doc


def build_index(tmp: Path, inputs: Path, rf: Path, shards: int = 8) -> Path:
    index = tmp / "capidx"
    LocalPipelineExecutor(
        pipeline=[NoaiCaptureIndexer(str(index), warcs=str(inputs), robots_from=[str(rf)], shards=shards)],
        tasks=2, workers=1, logging_dir=str(tmp / "logs-index"),
    ).run()
    return index


def audit(tmp: Path, inputs: Path, index: Path, out: str = "trails", extra: list[Any] | None = None,
          logs: str = "logs-audit", workers: int = 2) -> tuple[Path, Path]:
    kept = tmp / f"{out}-kept"
    kept.mkdir(exist_ok=True)
    LocalPipelineExecutor(
        pipeline=[
            NoaiWarcReader(str(inputs)),
            *(extra or []),
            NoaiGuardFilter(str(tmp / out), index=str(index)),
            Collect(kept),
        ],
        tasks=4, workers=workers, logging_dir=str(tmp / logs),
    ).run()
    return tmp / out, kept


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("dt")
    inputs, rf = make_inputs(tmp)
    (inputs / "zz-broken.warc.gz").write_bytes(b"\x1f\x8b\x08\x00garbage, not a gzip stream at all")
    cli_out = tmp / "cli.jsonl"
    code = main(["audit", str(inputs), "--robots-from", str(rf), "--out", str(cli_out), "--no-progress"])
    index = build_index(tmp, inputs, rf)
    trails, kept = audit(tmp, inputs, index)
    return {"tmp": tmp, "inputs": inputs, "rf": rf, "cli": cli_out, "cli_code": code, "index": index,
            "trails": trails, "kept": kept}


def test_pipeline_decides_as_the_cli(crawl: dict[str, Any]) -> None:
    assert crawl["cli_code"] == 5  # the broken file in the folder: skipped and listed (exit 5), the rest judged
    cli = records([crawl["cli"]])
    parts = sorted(crawl["trails"].glob("*.trail.jsonl"))
    assert len(parts) == 4
    assert not list(crawl["trails"].glob(".*"))  # nothing left aside
    dt = records(parts)
    assert sorted(map(key, dt)) == sorted(map(key, cli))
    flagged = {r["url"]: r["signal"] for r in dt if r["action"] == "flagged"}
    assert flagged == {
        "http://shop.example/private/a": "robots-txt",
        "http://shop.example/noai": "meta-robots",
        "http://shop.example/xrt": "x-robots-tag",
        "https://bots.example/page": "robots-txt-proxy",  # GPTBot named: the AI-training proxy group
        "https://own.example/a": "robots-txt",
        "https://folder.example/a": "robots-txt",
        "http://shop.example/private/c": "meta-robots",
        "https://late.example/secret/1": "robots-txt",
    }
    unknown = {r["url"] for r in dt if r["verdict"] == "unknown"}
    assert unknown == {"https://nocap.example/", "https://early.example/x"}
    for r in dt:
        assert r["phase"] == "after-the-fact"
        assert r["capture"]["robots"]  # the capture used, or why there is none
    by_url = {r["url"]: r for r in dt}
    assert by_url["http://shop.example/private/a"]["capture"]["robots"]["date"] == "2025-03-01T00:00:00Z"
    assert "first capture is later" in by_url["https://early.example/x"]["capture"]["robots"]["missing"]
    assert by_url["https://folder.example/a"]["capture"]["robots"]["folder"] == str(crawl["rf"])

    survivors = {u for p in crawl["kept"].glob("*.txt") for u in p.read_text(encoding="utf-8").split("\n") if u}
    assert len(survivors) == 23 - 8 and not survivors & set(flagged)


def test_damage_is_counted_and_listed_in_the_summaries(crawl: dict[str, Any]) -> None:
    summaries = records(sorted(crawl["trails"].glob("*.trail.jsonl")), "summary")
    assert len(summaries) == 4
    inputs = [i for s in summaries for i in s["inputs"]]
    assert sorted(Path(i["path"]).name for i in inputs) == sorted(p.name for p in crawl["inputs"].iterdir())
    by_name = {Path(i["path"]).name: i for i in inputs}
    assert [by_name["a.warc.gz"][k] for k in ("records", "judged", "reserved", "unknown", "allowed")] == [12, 12, 3, 0, 9]
    assert [by_name["b.warc.gz"][k] for k in ("judged", "reserved", "unknown", "allowed")] == [5, 2, 2, 1]
    broken = next(i for i in inputs if i["path"].endswith("zz-broken.warc.gz"))
    assert broken["damaged"] == 1 and broken["damage"][0]["unread"]
    assert sum(s["totals"]["judged"] for s in summaries) == 23
    assert sum(s["totals"]["reserved"] for s in summaries) == 8
    assert sum(s["totals"]["captures"] for s in summaries) == 6  # those inside the WARCs read
    for s in summaries:
        assert any("embedding-page" in g["signals"] for g in s["not_checked"])  # said, not silent
        # the index build's own damage (it read the same folder), in every trail using the index
        built = s["capture_index"]
        assert (built["files"], built["captures"], built["damaged"]) == (7, 7, 1)
        assert built["damage"][0]["file"] == "zz-broken.warc.gz"


def test_report_reads_the_trails(crawl: dict[str, Any]) -> None:
    out = crawl["tmp"] / "report"
    parts = sorted(crawl["trails"].glob("*.trail.jsonl"))
    assert main(["report", *map(str, parts), "--out", str(out), "--format", "json"]) == 0
    summary = json.loads((out / "report.json").read_text(encoding="utf-8"))["summary"]
    runs = summary["from_run_summaries"]
    assert (runs["runs_with_summary"], runs["runs_without_summary"]) == (4, 0)
    assert (runs["evaluated"], runs["flagged"], runs["unknown"], runs["allowed"]) == (23, 8, 2, 15)
    assert summary["by_action"] == {"flagged": 8, "allowed": 2}
    assert summary["by_phase"] == {"after-the-fact": 10}


def test_index_is_sharded_and_opened_as_needed(crawl: dict[str, Any]) -> None:
    index = crawl["index"]
    frags = sorted(index.glob("shards/*/*.jsonl.gz"))
    assert 1 < len({f.parent.name for f in frags}) <= 8
    assert sum(len(gzip.decompress(f.read_bytes()).splitlines()) for f in frags) == 7
    idx = ShardedCaptureIndex(str(index))
    assert idx.nearest("https://late.example", "robots", 1.8e9) is not None
    assert idx.loaded == {shard_of("https://late.example/robots.txt", 8)}
    # http, https and the folder's scheme-less file of a host share their shard
    assert shard_of("*://folder.example/robots.txt", 8) == shard_of("https://folder.example/robots.txt", 8)
    with pytest.raises(TypeError):
        idx.add(next(iter(idx.captures())))
    # A task missing: not a finished index, said so.
    (index / "tasks" / "00001.json").rename(index / "gone.json")
    try:
        with pytest.raises(InputError, match="1 of 2 build tasks"):
            ShardedCaptureIndex(str(index))
    finally:
        (index / "gone.json").rename(index / "tasks" / "00001.json")


def test_url_and_date_documents_after_datatroves_reader(tmp_path: Path, crawl: dict[str, Any]) -> None:
    src = tmp_path / "urls"
    src.mkdir()
    rows = [
        {"text": "t", "id": "1", "metadata": {"url": "http://shop.example/private/x", "date": "2025-03-05T00:00:00Z"}},
        {"text": "t", "id": "2", "metadata": {"url": "http://shop.example/private/y", "date": "2025-04-05T00:00:00Z"}},
        {"text": "t", "id": "3", "metadata": {"url": "https://nocap.example/z", "date": "2025-04-05T00:00:00Z"}},
        {"text": "t", "id": "4", "metadata": {"url": "not a url"}},
    ]
    (src / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    trails = tmp_path / "trails"
    LocalPipelineExecutor(
        pipeline=[JsonlReader(str(src)), NoaiGuardFilter(str(trails), index=str(crawl["index"]))],
        tasks=1, workers=1, logging_dir=str(tmp_path / "logs"),
    ).run()
    parts = sorted(trails.glob("*.trail.jsonl"))
    got = {r["url"]: r for r in records(parts)}
    assert set(got) == {"http://shop.example/private/x", "https://nocap.example/z"}
    assert got["http://shop.example/private/x"]["action"] == "flagged"
    unk = got["https://nocap.example/z"]
    assert unk["verdict"] == "unknown" and "x-robots-tag" in unk["not_checked"]
    (summary,) = records(parts, "summary")
    assert summary["documents_without_url"][0]["document_id"] == "4"
    assert summary["not_checked"][0]["records"] == 3


def whole(part: Path) -> bool:
    """A task's trail as it is published: a run record first, a summary record last."""
    lines = [json.loads(x) for x in part.read_text(encoding="utf-8").splitlines()]
    return lines[0]["type"] == "run" and lines[-1]["type"] == "summary"


def test_rerun_skips_completed_and_reruns_a_task_that_died(tmp_path: Path, crawl: dict[str, Any]) -> None:
    inputs, index = crawl["inputs"], crawl["index"]
    marker = tmp_path / "failed-once"
    # Task 1 raises after 2 documents (one worker: task 0 done, 1 fails, the run stops there).
    with pytest.raises(RuntimeError, match="injected failure"):
        audit(tmp_path, inputs, index, extra=[FailOnce(marker, 1, 2)], workers=1)
    assert marker.exists()
    trails = tmp_path / "trails"
    first = {p.name: p.stat().st_mtime_ns for p in trails.glob("*.trail.jsonl")}
    assert list(first) == ["00000.trail.jsonl"] and whole(trails / "00000.trail.jsonl")
    # Second run (2 workers): the completed task is skipped (its trail untouched), the others run.
    audit(tmp_path, inputs, index, extra=[FailOnce(marker, 1, 2)])
    parts = sorted(trails.glob("*.trail.jsonl"))
    assert len(parts) == 4 and all(map(whole, parts))
    assert {n: trails.joinpath(n).stat().st_mtime_ns for n in first} == first
    assert not list(trails.glob(".*"))  # what a stopped task left aside is gone
    assert sorted(map(key, records(parts))) == sorted(map(key, records([crawl["cli"]])))  # no duplicate, none missing
    # A third run does nothing: every task is complete.
    second = [p.stat().st_mtime_ns for p in parts]
    audit(tmp_path, inputs, index)
    assert [p.stat().st_mtime_ns for p in sorted(trails.glob("*.trail.jsonl"))] == second


KILLER = """
import os, signal, sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep
from noai_guard.integrations.datatrove import NoaiGuardFilter, NoaiWarcReader

class KillAfter(PipelineStep):
    name = "kill"
    def run(self, data, rank=0, world_size=1):
        for n, doc in enumerate(data):
            if rank == 2 and n == 1:
                os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-task
            yield doc

inputs, index, out, logs = sys.argv[1:]
LocalPipelineExecutor(pipeline=[NoaiWarcReader(inputs), KillAfter(), NoaiGuardFilter(out, index=index)],
                      tasks=4, workers=1, logging_dir=logs).run()
"""


def test_a_task_killed_by_a_signal_is_rerun_whole(tmp_path: Path, crawl: dict[str, Any]) -> None:
    import contextlib
    import os
    import signal
    import subprocess
    import sys

    trails, logs = tmp_path / "trails", tmp_path / "logs"
    args = [str(crawl["inputs"]), str(crawl["index"]), str(trails), str(logs)]
    # Its own process group: the executor's manager process, orphaned by the kill, is ended with it.
    with open(tmp_path / "out.txt", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", KILLER, *args], stdout=out, stderr=out,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    assert code == -9
    assert sorted(p.name for p in trails.glob("*.trail.jsonl")) == ["00000.trail.jsonl", "00001.trail.jsonl"]
    assert list(trails.glob(".00002.trail.jsonl.*.tmp"))  # its partial trail, aside, never published
    # The same pipeline without the kill: tasks 0 and 1 skipped, 2 and 3 run.
    LocalPipelineExecutor(
        pipeline=[NoaiWarcReader(args[0]), NoaiGuardFilter(str(trails), index=args[1])],
        tasks=4, workers=1, logging_dir=str(logs),
    ).run()
    parts = sorted(trails.glob("*.trail.jsonl"))
    assert len(parts) == 4 and all(map(whole, parts))
    assert not list(trails.glob(".*"))
    assert sorted(map(key, records(parts))) == sorted(map(key, records([crawl["cli"]])))


def test_documents_stored_between_stages_are_judged_the_same(tmp_path: Path, crawl: dict[str, Any]) -> None:
    """The reader's head object is in-process only: read back from storage, the head is read again."""
    docs = list(NoaiWarcReader(str(crawl["inputs"]), glob_pattern="a.warc.gz").run())
    assert len(docs) == 12
    for doc in docs:
        doc.metadata.pop("_noai_head")  # as after a JsonlWriter / JsonlReader round trip
    trails = tmp_path / "t"
    kept = list(NoaiGuardFilter(str(trails), index=str(crawl["index"])).run(iter(docs)))
    assert len(kept) == 12 - 3
    flagged = {r["url"]: r["signal"] for r in records(list(trails.glob("*.trail.jsonl")))}
    assert flagged["http://shop.example/noai"] == "meta-robots"
    assert isinstance(docs[0], Document)


def test_remote_file_systems_and_in_memory_captures(crawl: dict[str, Any]) -> None:
    """Through fsspec's memory:// file system (not local): inputs copied in, outputs moved into place."""
    mem = get_datafolder("memory://").fs  # datatrove's file systems are fsspec's
    for p in crawl["inputs"].iterdir():
        mem.pipe(f"/nt16/in/{p.name}", p.read_bytes())
    # The capture WARCs named by a paths file (as Common Crawl's gzipped robotstxt.paths.gz names them).
    mem.pipe("/nt16/robotstxt.paths.gz", gzip.compress(b"robotstxt.warc.gz\nc.warc.gz\nd.warc.gz\n"))
    LocalPipelineExecutor(
        pipeline=[NoaiCaptureIndexer("memory://nt16/idx", warcs="memory://nt16/in", robots_from=[str(crawl["rf"])],
                                     paths_file="memory://nt16/robotstxt.paths.gz")],
        tasks=1, workers=1, logging_dir="memory://nt16/logs-i",
    ).run()
    assert mem.exists("/nt16/idx/index.json")
    assert json.loads(mem.cat("/nt16/idx/tasks/00000.json"))["files"] == 4  # 3 WARCs and the folder
    LocalPipelineExecutor(
        pipeline=[NoaiWarcReader("memory://nt16/in"), NoaiGuardFilter("memory://nt16/trails", index="memory://nt16/idx")],
        tasks=2, workers=1, logging_dir="memory://nt16/logs-a",
    ).run()
    names = sorted(n for n in mem.ls("/nt16/trails", detail=False) if n.endswith(".trail.jsonl"))
    assert [n.rsplit("/", 1)[1] for n in names] == ["00000.trail.jsonl", "00001.trail.jsonl"]
    # Each task's media files beside its trail; the matcher reads and writes them remotely too.
    assert mem.exists("/nt16/trails/00001.media-candidates.jsonl") and mem.exists("/nt16/trails/00001.media-reserved.jsonl")
    assert match_media("memory://nt16/trails") == {"trails": 2, "patched": 2, "flagged": 0, "reserving_pages": 0}
    assert mem.cat("/nt16/trails/embedding-page.removals.txt") == b""
    got = [json.loads(x) for n in names for x in mem.cat(n).decode().splitlines()]
    dec = [r for r in got if r["type"] == "decision"]
    assert len(dec) == 10 and {r["url"] for r in dec} == {r["url"] for r in records([crawl["cli"]])}
    # The same decisions from captures read into memory by the task (no index).
    docs = list(NoaiWarcReader(str(crawl["inputs"])).run())
    flt = NoaiGuardFilter("memory://nt16/t2", captures=[str(crawl["inputs"] / n) for n in
                                                        ("robotstxt.warc.gz", "c.warc.gz", "d.warc.gz")]
                          + [str(crawl["rf"])])
    assert len(list(flt.run(iter(docs)))) == 23 - 8
    mem.rm("/nt16", recursive=True)


def test_index_folder_of_another_build_is_refused(crawl: dict[str, Any]) -> None:
    step = NoaiCaptureIndexer(str(crawl["index"]), warcs=str(crawl["inputs"]), shards=16)
    with pytest.raises(ValueError, match="built with 8 shards by 2 tasks, not 16 by 2"):
        list(step.run(rank=0, world_size=2))


def test_shards_dropped_past_the_memory_bound_decide_the_same(tmp_path: Path, crawl: dict[str, Any]) -> None:
    docs = list(NoaiWarcReader(str(crawl["inputs"])).run())
    flt = NoaiGuardFilter(str(tmp_path / "t"), index=str(crawl["index"]), index_max_captures=1)
    assert len(list(flt.run(iter(docs)))) == 23 - 8
    got = records(list((tmp_path / "t").glob("*.trail.jsonl")))
    assert sorted(map(key, got)) == sorted(map(key, records([crawl["cli"]])))
    idx = ShardedCaptureIndex(str(crawl["index"]), max_captures=1)
    idx.nearest("http://shop.example", "robots", 1.8e9)
    idx.nearest("https://late.example", "robots", 1.8e9)
    idx.nearest("http://shop.example", "robots", 1.8e9)
    assert len(idx.loaded) == 1 and idx.shard_loads == 3  # one shard held at a time, read again
    assert idx.nearest("http://shop.example", "robots", 1.8e9).date == "2025-04-01T00:00:00Z"  # type: ignore[union-attr]


def test_reader_text_limit_gives_the_decoded_payload(tmp_path: Path) -> None:
    big = b"<html><head><title>t</title></head><body>" + b"word " * 20000 + b"</body></html>"
    (tmp_path / "in").mkdir()
    write_warc(tmp_path / "in" / "x.warc.gz", [page("https://x.example/", "2025-01-01T00:00:00Z", big)])
    (head_only,) = NoaiWarcReader(str(tmp_path / "in")).run()
    (whole,) = NoaiWarcReader(str(tmp_path / "in"), text_limit=1 << 20).run()
    (cut,) = NoaiWarcReader(str(tmp_path / "in"), text_limit=1000).run()
    assert len(head_only.text) < len(big) and whole.text == big.decode() and cut.text == big[:1000].decode()
    assert whole.metadata["html_head"] == head_only.metadata["html_head"]  # what the judge reads is the same


# --- image provenance across tasks: NoaiMediaMatcher -------------------------------------------------

PAD = b"<p>" + b"filler text " * 9000 + b"</p>"  # the media after ~100 KB: past the head the document keeps


def media_page(tags: bytes, robots_meta: bytes | None = b"noai") -> bytes:
    meta = b'<meta name="robots" content="' + robots_meta + b'">' if robots_meta else b""
    return b"<html><head>" + meta + b"<title>g</title></head><body>" + PAD + tags + b"</body></html>"


def media(url: str, ctype: str, date: str = "2025-04-12T00:00:00Z") -> Rec:
    return (url, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, ctype, date, [])


# What reserving pages embed: -> the signal the page reserves them by (the deciding signal's evidence).
EMBEDDED = {
    "http://shop.example/img/cat.png": "noai",  # image before the page, in another file and task
    "https://nocap.example/pic.jpg": "noai",  # its own record unknown (no capture): replaced
    "http://shop.example/media/song.mp3": "noai",  # audio, another task
    "http://shop.example/media/clip.mp4": "noai",  # video after the page, same file
    "http://shop.example/img/poster.jpg": "noai",  # a video's poster
    "http://shop.example/img/only.png": "noimageai",  # a noimageai page: its images only
    "http://shop.example/img/x.png": "noimageai",  # by X-Robots-Tag
}


def make_media_inputs(root: Path) -> tuple[Path, Path]:
    inputs, rf = make_inputs(root)
    write_warc(inputs / "0-media.warc.gz", [  # sorted first: read before the pages (task 0)
        media("http://shop.example/img/cat.png", "image/png"),
        media("https://nocap.example/pic.jpg", "image/jpeg"),
        media("http://shop.example/media/song.mp3", "audio/mpeg"),
        media("http://shop.example/img/free.png", "image/png"),  # embedded by no reserving page
        media("http://shop.example/img/x.png", "image/png"),
    ])
    write_warc(inputs / "e-pages.warc.gz", [  # task 1
        page("http://shop.example/gallery", "2025-04-15T00:00:00Z", media_page(
            b'<img src="/img/cat.png"><img src="https://nocap.example/pic.jpg#f">'
            b'<audio src="/media/song.mp3"></audio><video src="/media/clip.mp4" poster="/img/poster.jpg"></video>')),
        page("http://shop.example/imgonly", "2025-04-15T00:00:00Z", media_page(
            b'<img src="/img/only.png"><video src="/media/only.mp4"></video>', b"noimageai")),
        page("http://shop.example/xgal", "2025-04-15T00:00:00Z", media_page(b'<img src="/img/x.png">', None),
             [("X-Robots-Tag", "noimageai")]),
        media("http://shop.example/media/clip.mp4", "video/mp4"),
        media("http://shop.example/img/poster.jpg", "image/jpeg"),
        media("http://shop.example/img/only.png", "image/png"),
        media("http://shop.example/media/only.mp4", "video/mp4"),  # video of a noimageai page: not reserved
    ])
    return inputs, rf


def report_summary(tmp: Path, parts: list[Path], name: str) -> dict[str, Any]:
    out = tmp / name
    assert main(["report", *map(str, parts), "--out", str(out), "--format", "json"]) == 0
    summary: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))["summary"]
    return summary


@pytest.fixture(scope="module")
def media_crawl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("dtm")
    inputs, rf = make_media_inputs(tmp)
    cli_out = tmp / "cli.jsonl"
    rm = tmp / "cli-removals.txt"
    assert main(["audit", str(inputs), "--robots-from", str(rf), "--out", str(cli_out), "--removals", str(rm),
                 "--no-progress"]) == 1  # 1: records reserved
    index = build_index(tmp, inputs, rf)
    trails, kept = tmp / "trails", tmp / "kept"
    kept.mkdir()
    stage = LocalPipelineExecutor(
        pipeline=[NoaiWarcReader(str(inputs)), NoaiGuardFilter(str(trails), index=str(index)), Collect(kept)],
        tasks=4, workers=2, logging_dir=str(tmp / "logs-audit"),
    )
    stage.run()
    before = records(sorted(trails.glob("*.trail.jsonl")))
    unmatched = {p.name: p.read_bytes() for p in trails.iterdir()}
    # The last stage, chained: the audit stage's tasks are complete (skipped), then the matcher.
    LocalPipelineExecutor(pipeline=[NoaiMediaMatcher(str(trails))], tasks=1, logging_dir=str(tmp / "logs-match"),
                          depends=stage).run()
    return {"tmp": tmp, "inputs": inputs, "cli": cli_out, "cli_removals": rm, "trails": trails, "kept": kept,
            "before": before, "unmatched": unmatched}


def test_media_matched_across_tasks_as_the_cli(media_crawl: dict[str, Any]) -> None:
    trails = media_crawl["trails"]
    parts = sorted(trails.glob("*.trail.jsonl"))
    assert len(parts) == 4 and all(map(whole, parts)) and not list(trails.glob(".*"))
    cli, dt = records([media_crawl["cli"]]), records(parts)
    assert sorted(map(key, dt)) == sorted(map(key, cli))  # the embedding-page records included
    emb = {r["url"]: r for r in dt if r["signal"] == "embedding-page"}
    assert set(emb) == set(EMBEDDED)
    for url, directive in EMBEDDED.items():
        assert emb[url]["action"] == "flagged" and directive in emb[url]["evidence"]
    assert emb["http://shop.example/img/cat.png"]["input_file"].endswith("0-media.warc.gz")
    assert not [r for r in dt if r["url"] == "https://nocap.example/pic.jpg" and r["signal"] != "embedding-page"]
    # Without the matcher (the audit stage alone) the image records are missing: not the CLI's set.
    assert not [r for r in media_crawl["before"] if r["signal"] == "embedding-page"]
    assert sorted(map(key, media_crawl["before"])) != sorted(map(key, cli))
    # The removal list: the records the audit stage kept before the match (the CLI's --removals format).
    removals = (trails / "embedding-page.removals.txt").read_text(encoding="utf-8").split()
    assert sorted(removals) == sorted(EMBEDDED)
    kept = {u for p in media_crawl["kept"].glob("*.txt") for u in p.read_text(encoding="utf-8").split("\n") if u}
    assert set(removals) <= kept
    cli_removed = set(media_crawl["cli_removals"].read_text(encoding="utf-8").split())
    dropped = {r["url"] for r in media_crawl["before"] if r["action"] == "flagged"}  # by the filter
    assert cli_removed == dropped | set(removals) and not (kept - set(removals)) & cli_removed
    for s in records(parts, "summary"):
        assert s["embedding_page"]["reserving_pages"] == 3
        assert not any("embedding-page" in g["signals"] for g in s["not_checked"])


def test_report_over_matched_trails_equals_the_cli(media_crawl: dict[str, Any]) -> None:
    tmp = media_crawl["tmp"]
    cli = report_summary(tmp, [media_crawl["cli"]], "r-cli")
    dt = report_summary(tmp, sorted(media_crawl["trails"].glob("*.trail.jsonl")), "r-dt")
    fields = ("evaluated", "flagged", "unknown", "allowed")
    got = [dt["from_run_summaries"][k] for k in fields]
    assert got == [cli["from_run_summaries"][k] for k in fields]
    assert got == [23 + 12, 8 + 3 + 7, 2, 15 + 2]  # the 3 pages reserve; 7 of 9 media flagged, 1 was unknown
    assert dt["by_action"] == cli["by_action"] and dt["by_signal"] == cli["by_signal"]
    by_name = {Path(i["path"]).name: i for s in records(sorted(media_crawl["trails"].glob("*.trail.jsonl")), "summary")
               for i in s["inputs"]}
    cli_inputs = {Path(i["path"]).name: i for i in records([media_crawl["cli"]], "summary")[0]["inputs"]}
    for name in ("0-media.warc.gz", "e-pages.warc.gz"):
        assert [by_name[name][k] for k in ("judged", "reserved", "unknown", "allowed")] == \
            [cli_inputs[name][k] for k in ("judged", "reserved", "unknown", "allowed")]


def test_matcher_rerun_and_a_killed_match_converge(tmp_path: Path, media_crawl: dict[str, Any]) -> None:
    trails = media_crawl["trails"]
    state = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in trails.iterdir()}
    got = match_media(str(trails))
    assert got == {"trails": 4, "patched": 0, "flagged": 7, "reserving_pages": 3}
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in trails.iterdir()} == state  # nothing changed
    # A match killed after one trail was replaced (another's copy left aside, no removal list yet).
    part = tmp_path / "t"
    part.mkdir()
    for name, data in media_crawl["unmatched"].items():
        part.joinpath(name).write_bytes(data)
    part.joinpath("00001.trail.jsonl").write_bytes(state["00001.trail.jsonl"][0])
    part.joinpath(".00002.trail.jsonl.dead.tmp").write_bytes(b"{")
    assert match_media(str(part))["patched"] == 3

    def untimed(name: str, data: bytes) -> Any:  # a flagged record's "time" is when the matcher wrote it
        if not name.endswith(".jsonl"):
            return data
        return [{k: v for k, v in json.loads(x).items() if k != "time"} for x in data.splitlines()]

    assert {p.name: untimed(p.name, p.read_bytes()) for p in part.iterdir()} == {
        n: untimed(n, b) for n, (b, _t) in state.items()
    }
    # The CLI's --removals-format warc-id: the same records by WARC-Record-ID.
    match_media(str(part), removals="ids.txt", removals_format="warc-id")
    ids = {r["warc_record_id"] for r in records([media_crawl["cli"]]) if r["signal"] == "embedding-page"}
    assert set((part / "ids.txt").read_text(encoding="utf-8").split()) == ids and len(ids) == 7
    # A task's trail not published yet: refused before anything is written (its pages may reserve any record).
    (part / "00003.trail.jsonl").unlink()
    (part / "ids.txt").unlink()
    with pytest.raises(InputError, match=r"3 of 4 tasks' trails published \(missing rank 3\)"):
        match_media(str(part), removals="ids.txt")
    assert not (part / "ids.txt").exists()


def test_media_listed_by_the_reader_survive_storage_between_stages(tmp_path: Path, media_crawl: dict[str, Any]) -> None:
    """The reader lists a reserving page's media past the head (JSON metadata); stored and read back, the same."""
    from noai_guard.auditing import media_key

    docs = list(NoaiWarcReader(str(media_crawl["inputs"]), glob_pattern="e-pages.warc.gz").run())
    assert len(docs) == 7

    def stored(drop: tuple[str, ...]) -> list[Document]:  # as after a JsonlWriter / JsonlReader round trip
        return [
            Document(text=d.text, id=d.id, metadata=json.loads(json.dumps(
                {k: v for k, v in d.metadata.items() if k not in drop})))
            for d in docs
        ]

    def listed(out: str, given: list[Document]) -> set[str]:
        assert len(list(NoaiGuardFilter(str(tmp_path / out)).run(iter(given)))) == 4  # the 3 pages dropped
        lines = (tmp_path / out / "00000.media-reserved.jsonl").read_text(encoding="utf-8").splitlines()
        return {media_key(u) for x in lines for u in json.loads(x)["urls"] + json.loads(x)["av_urls"]}

    assert listed("a", stored(("_noai_head",))) == set(EMBEDDED)
    # Without the reader's listing only the stored head is there: the media past it are not seen.
    assert listed("b", stored(("_noai_head", "noai_media"))) == set()


def test_a_policy_without_embedding_page_keeps_no_media(tmp_path: Path, media_crawl: dict[str, Any]) -> None:
    """The policy leaves embedding-page out (as the CLI's): no media files, the matcher leaves the trail alone."""
    import dataclasses

    from noai_guard.policy import Policy

    policy = dataclasses.replace(Policy(), sources=Policy().sources - {"embedding-page"})
    docs = NoaiWarcReader(str(media_crawl["inputs"]), glob_pattern="e-pages.warc.gz", policy=policy).run()
    assert len(list(NoaiGuardFilter(str(tmp_path), policy=policy).run(docs))) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00000.trail.jsonl"]
    before = (tmp_path / "00000.trail.jsonl").read_bytes()
    assert match_media(str(tmp_path)) == {"trails": 1, "patched": 0, "flagged": 0, "reserving_pages": 0}
    assert (tmp_path / "00000.trail.jsonl").read_bytes() == before
    (summary,) = records([tmp_path / "00000.trail.jsonl"], "summary")
    assert not any("embedding-page" in g["signals"] for g in summary["not_checked"])
