"""`noai-guard audit` (placeholder until implemented)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("audit", help="(not implemented yet)")
    return p


def run(args: argparse.Namespace) -> int:
    print("noai-guard: audit is not implemented yet", file=sys.stderr)
    return 2
