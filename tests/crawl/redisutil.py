"""A real ``redis-server`` for the distributed-crawl tests (issue 17): no fake Redis.

:class:`RedisServer` starts the system's ``redis-server`` (Debian's package; ``.ci/run``
installs it when missing) on 127.0.0.1, on a free port, with no persistence (no RDB
snapshot, no AOF) and its working directory in a temporary directory, and stops it.
A test uses it through the ``redis_server`` fixture::

    from redisutil import redis_server_fixture

    redis_server = redis_server_fixture  # the fixture, under its own name

    def test_x(redis_server: RedisServer) -> None: ...

:meth:`RedisServer.kill` (SIGKILL) is for "Redis dies mid-crawl".
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
import redis

_START_TIMEOUT = 10.0
_ATTEMPTS = 5  # a port found free may be taken before the server binds it: try another


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1: :attr:`url`, :meth:`client`, :meth:`stop`, :meth:`kill`."""

    def __init__(self, workdir: Path, executable: str | None = None) -> None:
        found = executable or shutil.which("redis-server")
        if found is None:
            # .ci/run installs it; a missing server is a failure, not a skip (no test silently off).
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.executable = found
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.workdir / "redis.log"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(_ATTEMPTS):
            self.port = _free_port()
            args = [
                self.executable,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",  # no RDB snapshots
                "--appendonly", "no",  # no AOF
                "--dir", str(self.workdir),
                "--daemonize", "no",
                "--logfile", str(self.log),
                "--databases", "1",
            ]  # fmt: skip
            self.proc = subprocess.Popen(args, cwd=self.workdir, stdin=subprocess.DEVNULL)
            if self._wait_ready():
                return self
            self._terminate()
        raise RuntimeError(f"redis-server did not start; its log:\n{self._log_text()}")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        end = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False  # exited: e.g. the port was taken meanwhile
            try:
                if self.client().ping():
                    return True
            except redis.ConnectionError:
                pass
            time.sleep(0.02)
        return False

    def _log_text(self) -> str:
        try:
            return self.log.read_text("utf-8", "replace")[-4000:]
        except OSError:
            return "(no log)"

    def _terminate(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, and wait for the process (SIGKILL if it does not exit)."""
        self._terminate()

    def kill(self) -> None:
        """SIGKILL: Redis gone at once, as when its host dies mid-crawl."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> RedisServer:  # noqa: PYI034 - start() returns the server
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@pytest.fixture(name="redis_server")
def redis_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A fresh real redis-server for one test, stopped after it."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server
