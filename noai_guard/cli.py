"""The ``noai-guard`` command: a thin argparse front to the sub-command modules."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__

# Sub-command name -> module under noai_guard.commands.
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "check": "check",
    "explain": "explain",
    "audit": "audit",
    "report": "report",
    "leaks": "leaks",
    "presets": "presets",
    "verify": "verify",
}

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line on stderr, exit 2, as argparse does, without the usage dump.
        self.exit(EXIT_USAGE, f"noai-guard: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="noai-guard", description="Honour machine-readable AI opt-outs, with evidence.")
    parser.add_argument("--version", action="version", version=f"noai-guard {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMANDS.values():
        mod = importlib.import_module(f"noai_guard.commands.{module}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    rc: int = args._run(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
