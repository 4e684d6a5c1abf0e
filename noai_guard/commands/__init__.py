"""Internal: sub-commands of the ``noai-guard`` command line; one module each.

Each module defines ``add_parser(subparsers)`` (cheap: no heavy imports) and
``run(args) -> int``.  Exit codes are part of each command's contract.
"""
