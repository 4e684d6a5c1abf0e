"""Crawl safety (issue 11, items 2, 5 and 8), end to end through a real Scrapy engine.

- Bodies cut short (``DOWNLOAD_FAIL_ON_DATALOSS = False``): a reset, an early
  close, a missing last chunk.  A cut site file is unreachable; a page cut
  before its head ends is read as incomplete.
- Site-file redirects are followed to http(s) only.
- An audit trail that cannot be written stops the crawl.

Cut bodies come from :class:`RawSite`, a socket server that writes raw bytes.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crawlutil import ROOT, USER_AGENT, CrawlResult, RawSite, Route, Send, Site, page, redirect, text

from noai_guard import auditlog
from noai_guard.sitefiles import redirect_refused

Crawl = Callable[..., CrawlResult]
MakeSite = Callable[..., Site]

DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
NOAI_META = '<meta name="robots" content="noai">'


# -- a server that cuts bodies short ----------------------------------------------------


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def whole(body: str, ctype: str = "text/plain", status: str = "200 OK") -> Send:
    data = body.encode()

    def send(conn: socket.socket) -> None:
        hdrs = [("Content-Type", ctype), ("Content-Length", str(len(data))), ("Connection", "close")]
        conn.sendall(_head(status, hdrs) + data)

    return send


def early_close(sent: str, lost: str, ctype: str = "text/plain") -> Send:
    """Content-Length announces ``sent + lost``; ``sent`` is written, then the connection is closed."""
    data, total = sent.encode(), len((sent + lost).encode())

    def send(conn: socket.socket) -> None:
        hdrs = [("Content-Type", ctype), ("Content-Length", str(total)), ("Connection", "close")]
        conn.sendall(_head("200 OK", hdrs) + data)
        time.sleep(0.2)

    return send


def reset(sent: str, lost: str, ctype: str = "text/plain") -> Send:
    """As :func:`early_close`, but the connection is reset (RST), not closed."""
    inner = early_close(sent, lost, ctype)

    def send(conn: socket.socket) -> None:
        inner(conn)  # waits, so that the client has read the part sent before the RST
        time.sleep(0.3)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return send


def no_last_chunk(sent: str, ctype: str = "text/plain") -> Send:
    """A chunked body whose last (zero-size) chunk never comes."""
    data = sent.encode()

    def send(conn: socket.socket) -> None:
        hdrs = [("Content-Type", ctype), ("Transfer-Encoding", "chunked"), ("Connection", "close")]
        chunk = f"{len(data):x}\r\n".encode() + data + b"\r\n" if data else b""
        conn.sendall(_head("200 OK", hdrs) + chunk)
        time.sleep(0.2)

    return send


def _signals(rec: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for s in rec["signals"] if s["name"] == name]


# -- item 2: bodies cut short ----------------------------------------------------------


def test_cut_site_files_are_unreachable(crawl: Crawl, raw_site: Callable[[dict[str, Send]], RawSite]) -> None:
    # What arrives parses as a file with no rules; the Disallow was in the part that was lost.
    sent, lost = "# rules\nUser-agent: *\n", "Disallow: /\n"
    x = whole("<html><head><title>x</title></head><body>x</body></html>", "text/html")
    cuts = {
        "early close": raw_site({"/robots.txt": early_close(sent, lost), "/x": x}),
        "reset": raw_site({"/robots.txt": reset(sent, lost), "/x": x}),
        "no last chunk": raw_site({"/robots.txt": no_last_chunk(sent), "/x": x}),
    }
    # tdmrep.json and ai.txt cut too (robots.txt absent: no rules).
    others = raw_site(
        {
            "/.well-known/tdmrep.json": early_close('[{"location": "/", "tdm-reservation": 0}]', "\n" * 40),
            "/ai.txt": no_last_chunk("User-agent: *\n"),
            "/x": x,
        }
    )
    control = raw_site({"/robots.txt": whole(sent + lost), "/x": x})
    urls = [s.url("/x") for s in (*cuts.values(), others, control)]
    r = crawl(urls, settings={"DOWNLOAD_FAIL_ON_DATALOSS": False, "NOAI_GUARD_AUDIT_ALLOWED": True})
    assert r.returncode == 0, r.log[-3000:]

    for how, site in cuts.items():
        rec = r.decision_for(site.url("/x"))
        # RFC 9309 §2.3.1.4: unreachable -> unknown, resolved to a complete disallow.
        got = (rec["action"], rec["signal"], rec["verdict"])
        assert got == ("skipped", "robots-txt", "unknown"), (how, rec)
        assert "2.3.1.4" in rec["resolution"], rec
        assert "dataloss" in rec["evidence"], (how, rec)
        assert site.count("/x") == 0, how
        assert site.url("/x") not in r.callbacks
    assert r.stat("noai_guard/robots/dataloss") == 3
    # The run summary counts a cut as a network error, not as a 2xx fetch.
    summary = r.trail[-1]
    assert summary["type"] == "summary"
    assert summary["origins"][f"http://127.0.0.1:{cuts['reset'].port}"]["fetch"]["robots"] == {"error": 1}
    # The whole file is read as it is: the same verdict, from the rule itself.
    rec = r.decision_for(control.url("/x"))
    assert (rec["action"], rec["verdict"], rec["evidence"]) == ("skipped", "reserve", "Disallow: /")

    # tdmrep.json and ai.txt cut short: unreachable (value unset / informational), the cut recorded.
    rec = r.decision_for(others.url("/x"))
    (tdm,) = _signals(rec, "tdmrep")
    assert tdm["verdict"] is None and "could not be fetched" in tdm["note"], tdm
    assert "dataloss" in tdm["evidence"], tdm
    (ai,) = _signals(rec, "ai-txt")
    assert ai["verdict"] is None and "unreachable" in ai["note"] and "dataloss" in ai["evidence"], ai
    assert r.stat("noai_guard/tdmrep/dataloss") == 1
    assert r.stat("noai_guard/ai-txt/dataloss") == 1


def test_page_cut_before_its_head_ends_is_incomplete(
    crawl: Crawl, raw_site: Callable[[dict[str, Send]], RawSite]
) -> None:
    start = "<!DOCTYPE html><html><head><title>t</title>\n"
    rest = f"{NOAI_META}</head><body><p>text</p></body></html>"
    after_head = "<!DOCTYPE html><html><head><title>t</title></head><body><p>par"
    site = raw_site(
        {
            "/robots.txt": whole("User-agent: *\nAllow: /\n"),
            "/early": early_close(start, rest, "text/html"),
            "/reset": reset(start, rest, "text/html"),
            "/chunked": no_last_chunk(start, "text/html"),
            "/empty": early_close("", start + rest, "text/html"),
            "/after-head": early_close(after_head, "agraph</p>" + NOAI_META, "text/html"),
            "/whole": whole(start + "</head><body>x</body></html>", "text/html"),
        }
    )
    cut = ["/early", "/reset", "/chunked", "/empty"]
    urls = [site.url(p) for p in [*cut, "/after-head", "/whole"]]
    # An unknown meta-robots outcome reserves: a page whose head was not read whole is dropped.
    r = crawl(
        urls,
        settings={"DOWNLOAD_FAIL_ON_DATALOSS": False, "NOAI_GUARD_UNKNOWN": {"meta-robots": "reserve"}},
    )
    assert r.returncode == 0, r.log[-3000:]
    for path in cut:
        rec = r.decision_for(site.url(path))
        assert (rec["action"], rec["signal"], rec["verdict"]) == ("dropped", "meta-robots", "unknown"), rec
        notes = [s["note"] for s in _signals(rec, "meta-robots")]
        assert any("cut short" in n and "dataloss" in n for n in notes), (path, notes)
        assert site.url(path) not in r.callbacks
    # Cut after the head ended: the head is known (no meta), the page goes through, no record.
    assert site.url("/after-head") in r.callbacks
    assert site.url("/whole") in r.callbacks
    assert {x["url"] for x in r.decisions()} == {site.url(p) for p in cut}


def test_cut_page_resolved_by_the_default_policy_is_recorded(
    crawl: Crawl, raw_site: Callable[[dict[str, Send]], RawSite]
) -> None:
    """With the default policy (an unknown meta-robots allows) the cut page passes, but never silently."""
    site = raw_site(
        {
            "/robots.txt": whole("User-agent: *\nAllow: /\n"),
            "/early": early_close("<html><head><title>t</title>", NOAI_META + "</head>", "text/html"),
        }
    )
    r = crawl([site.url("/early")], settings={"DOWNLOAD_FAIL_ON_DATALOSS": False})
    assert r.returncode == 0, r.log[-3000:]
    rec = r.decision_for(site.url("/early"))
    assert (rec["action"], rec["verdict"], rec["signal"]) == ("allowed", "unknown", "meta-robots"), rec
    assert r.stat("noai_guard/unknown_count/meta-robots") == 1


# -- item 5: site-file redirects to http(s) only ------------------------------------------


def test_redirect_refused_unit() -> None:
    assert redirect_refused("http://a/robots.txt") is None
    assert redirect_refused("HTTPS://a/robots.txt") is None
    for target in ("file:///etc/passwd", "data:text/plain,x", "ftp://h/robots.txt", "s3://b/k", "x"):
        why = redirect_refused(target)
        assert why is not None and target in why, target
    long = "data:text/plain," + "a" * 5000
    why = redirect_refused(long)
    assert why is not None and len(why) < 300


def test_site_file_redirects_followed_to_http_only(crawl: Crawl, make_site: MakeSite, tmp_path: Path) -> None:
    local = tmp_path / "rules.txt"
    local.write_text(DISALLOW_ALL)
    tdm_local = tmp_path / "tdmrep.json"
    tdm_local.write_text(json.dumps([{"location": "/", "tdm-reservation": 1}]))
    data_url = "data:text/plain,User-agent: *%0ADisallow: /x"
    target = make_site({"/rules.txt": text(DISALLOW_ALL)})
    chain: dict[str, Route] = {"/robots.txt": redirect("/r1")}
    for i in range(1, 5):
        chain[f"/r{i}"] = redirect(f"/r{i + 1}", status=302)
    chain["/r5"] = text(DISALLOW_ALL)  # five redirects (RFC 9309 §2.3.1.2: at least five followed)
    sites = {
        "file": make_site({"/robots.txt": redirect(local.as_uri()), "/x": page()}),
        "data": make_site({"/robots.txt": redirect(data_url, status=302), "/x": page()}),
        "ftp": make_site({"/robots.txt": redirect("ftp://127.0.0.1:9/robots.txt", status=307), "/x": page()}),
        "tdm+ai": make_site(
            {
                "/.well-known/tdmrep.json": redirect(tdm_local.as_uri()),
                "/ai.txt": redirect(local.as_uri(), status=308),
                "/x": page(),
            }
        ),
        "5 hops": make_site({**chain, "/x": page()}),
        "cross-origin": make_site(
            {"/robots.txt": redirect(target.url("/rules.txt", host="localhost")), "/x": page()}
        ),
    }
    r = crawl([s.url("/x") for s in sites.values()], settings={"NOAI_GUARD_AUDIT_ALLOWED": True})
    assert r.returncode == 0, r.log[-3000:]

    # Redirects to file:, data:, ftp: are not followed: robots.txt is unavailable (§2.3.1.3), the
    # target is recorded, and the local file's or the data: URL's "Disallow" is not enforced.
    for name, where in (("file", local.as_uri()), ("data", "data:text/plain,"), ("ftp", "ftp://127.0.0.1:9")):
        url = sites[name].url("/x")
        assert url in r.callbacks, (name, r.log[-3000:])
        rec = r.decision_for(url)
        assert (rec["action"], rec["verdict"]) == ("allowed", "allow"), rec
        (robots,) = _signals(rec, "robots-txt")
        assert robots["verdict"] == "allow" and "unavailable" in robots["note"], robots
        assert "non-HTTP(S)" in robots["evidence"] and where in robots["evidence"], robots
    tdm_ai = r.decision_for(sites["tdm+ai"].url("/x"))
    assert tdm_ai["action"] == "allowed", tdm_ai
    (tdm,) = _signals(tdm_ai, "tdmrep")
    assert tdm["verdict"] is None and tdm_local.as_uri() in tdm["evidence"], tdm
    assert not any(s["verdict"] == "reserve" for s in tdm_ai["signals"]), tdm_ai
    assert r.stat("noai_guard/robots/redirect_refused") == 3
    assert r.stat("noai_guard/tdmrep/redirect_refused") == 1
    assert r.stat("noai_guard/ai-txt/redirect_refused") == 1
    # No request left for the refused targets: one robots.txt request per refusing origin.
    robots_requests = r.stat("noai_guard/robots/request_count")
    assert robots_requests == 3 + 1 + 6 + 2, robots_requests  # refused, 404, 5 hops, cross-origin
    # Unchanged: five http(s) redirects are followed, and across origins (the rules apply to the first).
    rec = r.decision_for(sites["5 hops"].url("/x"))
    assert (rec["action"], rec["verdict"]) == ("skipped", "reserve"), rec
    assert sites["5 hops"].count("/r5") == 1
    rec = r.decision_for(sites["cross-origin"].url("/x"))
    assert (rec["action"], rec["verdict"]) == ("skipped", "reserve"), rec
    assert target.count("/rules.txt") == 1


# -- item 8: an unwritable trail stops the crawl -------------------------------------------


def test_unwritable_unit(tmp_path: Path) -> None:
    regular = tmp_path / "file"
    regular.write_text("x")
    assert auditlog.unwritable(tmp_path) == "it is a directory"
    assert auditlog.unwritable(regular / "trail.jsonl") == f"{regular} is not a directory"
    assert auditlog.unwritable(regular / "a" / "b" / "trail.jsonl") == f"{regular} is not a directory"
    assert auditlog.unwritable(regular / ".." / "trail.jsonl") == f"{regular} is not a directory"
    assert auditlog.unwritable(tmp_path / "new" / "dir" / "trail.jsonl") is None
    assert auditlog.unwritable(regular) is None
    assert not (tmp_path / "new").exists()  # looks only


def test_trail_setting_is_resolved_and_checked_at_start(tmp_path: Path) -> None:
    from scrapy.utils.test import get_crawler

    from noai_guard.middleware import NoAIGuardMiddleware
    from noai_guard.settings import SettingsError

    def guard_path(uri: str) -> str:
        crawler = get_crawler(settings_dict={"NOAI_GUARD_ENABLED": True, "NOAI_GUARD_AUDIT_URI": uri})
        return NoAIGuardMiddleware.from_crawler(crawler).guard.audit_path

    spaced = tmp_path / "a b" / "trail.jsonl"
    assert guard_path(spaced.as_uri()) == str(spaced)  # file:// URIs are percent-decoded
    assert guard_path(str(tmp_path / "%(name)s.jsonl")) == str(tmp_path / "spider.jsonl")
    assert not (tmp_path / "a b").exists()  # checked, not created
    for uri, message in (
        ("s3://bucket/trail.jsonl", "local file"),
        (str(tmp_path / "%(nope)s.jsonl"), "bad placeholder"),
        (str(tmp_path), "it is a directory"),
    ):
        with pytest.raises(SettingsError, match=f"NOAI_GUARD_AUDIT_URI: .*{message}"):
            guard_path(uri)


def test_broken_trail_refuses_later_writes(tmp_path: Path) -> None:
    log = auditlog.JsonLinesAuditLog("/dev/full")
    with pytest.raises(OSError, match="No space"):
        log.write({"type": "run"})
    with pytest.raises(OSError, match="No space"):
        log.write({"type": "decision"})
    assert (log.records, log.errors) == (0, 2)
    assert log.broken is not None
    log.close()  # the failed record's bytes are not flushed again


def _scrapy_project(root: Path, start_url: str) -> Path:
    (root / "proj" / "spiders").mkdir(parents=True)
    (root / "scrapy.cfg").write_text("[settings]\ndefault = proj.settings\n")
    (root / "proj" / "__init__.py").write_text("")
    (root / "proj" / "spiders" / "__init__.py").write_text("")
    (root / "proj" / "settings.py").write_text(
        "SPIDER_MODULES = ['proj.spiders']\n"
        "ADDONS = {'noai_guard.NoAIGuardAddon': 0}\n"
        f"USER_AGENT = {USER_AGENT!r}\n"
        "TELNETCONSOLE_ENABLED = False\n"
    )
    (root / "proj" / "spiders" / "s.py").write_text(
        "import scrapy\n\n\n"
        "class S(scrapy.Spider):\n"
        "    name = 's'\n"
        f"    start_urls = [{start_url!r}]\n\n"
        "    def parse(self, response):\n"
        "        yield {'url': response.url}\n"
    )
    return root


def _scrapy_crawl(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(project)])
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "s", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("where", ["directory", "under a file"])
def test_unwritable_trail_path_stops_scrapy_crawl(make_site: MakeSite, tmp_path: Path, where: str) -> None:
    site = make_site({"/robots.txt": text("User-agent: *\nAllow: /\n"), "/x": page()})
    project = _scrapy_project(tmp_path / "project", site.url("/x"))
    regular = tmp_path / "regular"
    regular.write_text("not a directory")
    bad, why = {
        "directory": (tmp_path, "it is a directory"),
        "under a file": (regular / "trail.jsonl", f"{regular} is not a directory"),
    }[where]
    out = _scrapy_crawl(project, "-s", f"NOAI_GUARD_AUDIT_URI={bad}")
    text_out = out.stdout + out.stderr
    # The crawl does not start: non-zero exit, nothing requested, and the error names setting and path.
    assert out.returncode != 0, text_out[-3000:]
    assert site.log == []
    assert "Spider opened" not in text_out
    line = f"NOAI_GUARD_AUDIT_URI: cannot write the audit trail at {bad}: {why}; the crawl is not started"
    assert any(x.endswith(line) for x in text_out.splitlines()), text_out[-3000:]
    assert "Traceback" not in text_out  # one line (issue 14, item 14)
    # Found before the trail or any directory is created.
    assert regular.read_text() == "not a directory"


def test_trail_that_takes_no_write_closes_the_spider_at_start(crawl: Crawl, make_site: MakeSite) -> None:
    """/dev/full opens, but its first write (the run record) fails: nothing is crawled."""
    site = make_site({"/robots.txt": text("User-agent: *\nAllow: /\n"), "/x": page()})
    r = crawl([site.url("/x")], settings={"NOAI_GUARD_AUDIT_URI": "/dev/full"})
    assert r.returncode == 0, r.log[-3000:]
    assert r.stats.get("finish_reason") == "noai_guard_audit_failed", r.stats
    assert site.log == []
    errors = [x for x in r.log.splitlines() if "cannot write the audit trail" in x]
    assert len(errors) == 1 and "ERROR" in errors[0] and "/dev/full" in errors[0], errors
    assert "No space left on device" in errors[0]
    assert "Traceback" not in r.log


def test_trail_failing_mid_crawl_closes_the_spider_after_the_skip(
    crawl: Crawl, make_site: MakeSite, tmp_path: Path
) -> None:
    """The trail's reader goes away after the run record: the next write (a skip) fails (EPIPE)."""
    fifo = tmp_path / "trail.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:  # blocks until the crawl opens the trail
            got.append(fh.readline())  # the run record; then the reader is gone

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    routes: dict[str, Route] = {
        # Slow enough that the reader has gone before the first decision is written.
        "/robots.txt": text("User-agent: *\nDisallow: /private/\n", delay=0.5),
    }
    for i in range(20):
        routes[f"/private/{i}"] = page()
        routes[f"/open/{i}"] = page(delay=0.3)
    site = make_site(routes)
    urls = [site.url(f"/private/{i}") for i in range(20)] + [site.url(f"/open/{i}") for i in range(20)]
    r = crawl(urls, settings={"NOAI_GUARD_AUDIT_URI": str(fifo), "CONCURRENT_REQUESTS": 4})
    t.join(5)
    assert r.returncode == 0, r.log[-3000:]
    assert len(got) == 1 and json.loads(got[0])["type"] == "run"
    # The spider is closed for the trail, and the skip that found the failure held, as did every later one.
    assert r.stats.get("finish_reason") == "noai_guard_audit_failed", r.stats
    assert r.stat("noai_guard/skipped") >= 1
    assert not [p for p in site.paths() if p.startswith("/private/")]
    assert not [u for u in r.callbacks if "/private/" in u]
    assert r.stat("noai_guard/audit/record_count") == 1
    assert r.stat("noai_guard/audit/error_count") >= 2  # the skip and the summary, at least
    # Closed early: not every page was crawled.
    assert len(r.callbacks) < 20
    # Logged once, at ERROR, one line, no traceback.
    errors = [x for x in r.log.splitlines() if "cannot write the audit trail" in x]
    assert len(errors) == 1 and "ERROR" in errors[0] and "noai_guard_audit_failed" in errors[0], errors
    assert "Traceback" not in r.log
    assert "INCOMPLETE" in r.log
