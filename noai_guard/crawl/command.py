"""Internal: which ``scrapy`` command this process runs (crawl, fetch, shell, parse...), if any.

Scrapy does not record it: ``scrapy.cmdline.execute`` pops the command name
out of ``sys.argv`` before it builds the crawler.  ``sys.orig_argv`` (Python
3.10+) still holds the command line as typed; the command is the argument
that ``execute`` popped (its rule: the first one that does not start with
``-``), checked against what is left in ``sys.argv``, so a process that did
not come through Scrapy's command line (a script with ``CrawlerProcess``,
the test suite) is ``None``, never a guess.
"""

from __future__ import annotations

import sys

__all__ = ["HAND_RUN", "scrapy_command"]

#: Commands a user runs by hand on a URL or two: what they blocked is told at INFO.
HAND_RUN = frozenset({"fetch", "parse", "shell", "view"})


def scrapy_command(
    orig_argv: list[str] | None = None, argv: list[str] | None = None, modules: object = None
) -> str | None:
    """The Scrapy command this process runs, or ``None`` (not run by ``scrapy``'s command line).

    The arguments are for tests: by default ``sys.orig_argv``, ``sys.argv``, ``sys.modules``.
    """
    if "scrapy.cmdline" not in (sys.modules if modules is None else modules):  # type: ignore[operator]
        return None
    full: list[str] = list(getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv)
    left = list(sys.argv if argv is None else argv)
    # sys.argv after execute(): the program and the arguments minus the command, so the
    # original arguments are the last len(left) items of the command line.
    n = len(left)
    if n < 1 or len(full) < n + 1:
        return None
    typed = full[len(full) - n :]
    prog = full[len(full) - n - 1]
    # What ran before the arguments: the ``scrapy`` script itself (sys.argv[0]), or ``-m scrapy``.
    dash_m = prog == "scrapy" and len(full) >= n + 2 and full[len(full) - n - 2] == "-m"
    if not (prog == left[0] or prog == "-mscrapy" or dash_m):
        return None
    for i, arg in enumerate(typed):
        if not arg.startswith("-"):
            # Command names are module names (scrapy.commands, COMMANDS_MODULE).
            if arg.isidentifier() and typed[:i] + typed[i + 1 :] == left[1:]:
                return arg
            return None
    return None
