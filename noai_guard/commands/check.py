"""`noai-guard check` (placeholder until implemented)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("check", help="(not implemented yet)")
    return p


def run(args: argparse.Namespace) -> int:
    print("noai-guard: check is not implemented yet", file=sys.stderr)
    return 2
