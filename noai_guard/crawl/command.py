"""Internal: which Scrapy command runs this crawl (``crawl``, ``shell``, ``fetch`` ...), for the run record.

Internal to :mod:`noai_guard.crawl`.  ``scrapy.cmdline.execute`` pops the
command's name out of ``sys.argv`` before running it, so ``sys.argv`` alone
cannot tell; two sources are read, in order:

1. the stack of every thread: ``scrapy.cmdline.execute`` holds the name in its
   ``cmdname`` local for as long as the command runs (the main thread's stack,
   whichever thread the engine runs in: ``scrapy shell`` runs it in another);
   this also finds a command started by calling ``execute([...])`` from Python;
2. ``sys.orig_argv`` (the interpreter's own command line, Python 3.10+): the
   first word after the ``scrapy`` script (or ``-m scrapy``) that is not an
   option.

``None`` when neither finds one: a crawl started from Python
(``CrawlerProcess`` / ``CrawlerRunner``), not by a Scrapy command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from types import FrameType

__all__ = ["HAND_COMMANDS", "HAND_RUN", "scrapy_command"]

#: Commands a user runs by hand on a URL or two, not crawls (the report labels their runs).
HAND_COMMANDS = frozenset({"shell", "fetch", "view", "parse", "check", "bench"})
#: Of those, the ones that fetch URLs the user named: what they block is told at INFO.
HAND_RUN = frozenset({"fetch", "parse", "shell", "view"})

_CMDLINE = os.path.join("scrapy", "cmdline.py")
_SCRIPT_NAMES = frozenset({"scrapy", "scrapy.exe", "scrapy-script.py"})
_MODULES = frozenset({"scrapy", "scrapy.cmdline"})
_MAX_DEPTH = 500  # frames walked per thread


def scrapy_command() -> str | None:
    """The name of the Scrapy command this process runs, or ``None`` (started from Python)."""
    name = _from_frames()
    if name is None:
        name = command_from_argv(getattr(sys, "orig_argv", None) or sys.argv)
    return name


def _from_frames() -> str | None:
    try:
        frames = list(sys._current_frames().values())
    except Exception:  # noqa: BLE001  # pragma: no cover - an interpreter without it
        return None
    for top in frames:
        frame: FrameType | None = top
        depth = 0
        while frame is not None and depth < _MAX_DEPTH:
            code = frame.f_code
            if code.co_name == "execute" and code.co_filename.endswith(_CMDLINE):
                name = frame.f_locals.get("cmdname")
                if isinstance(name, str) and name:
                    return name
            frame = frame.f_back
            depth += 1
    return None


def command_from_argv(argv: Sequence[str]) -> str | None:
    """The command word of a ``scrapy`` command line (``[python, -m, scrapy, fetch, URL]`` -> ``fetch``).

    Finds the ``scrapy`` script, ``scrapy/__main__.py``, ``scrapy/cmdline.py`` or
    ``-m scrapy`` / ``-m scrapy.cmdline``; the command is the first word after
    it that is not an option, as ``scrapy.cmdline`` reads it.
    """
    args = [str(a) for a in argv]
    start = None
    for i, arg in enumerate(args):
        norm = arg.replace("\\", "/")
        base = norm.rsplit("/", 1)[-1].lower()
        if (
            base in _SCRIPT_NAMES
            or norm.endswith(("scrapy/__main__.py", "scrapy/cmdline.py"))
            or (arg == "-m" and i + 1 < len(args) and args[i + 1] in _MODULES)
        ):
            start = i + 2 if arg == "-m" else i + 1
            break
    if start is None:
        return None
    for arg in args[start:]:
        if not arg.startswith("-"):
            return arg
    return None
