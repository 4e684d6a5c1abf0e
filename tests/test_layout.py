"""The package's layout: public and internal modules, the public API, class sizes, dependencies.

Read from the source tree with :mod:`ast` (nothing is imported but the
package itself, in a subprocess), so each check names the file at fault.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "noai_guard"

#: Modules that are public API: re-exported from ``noai_guard`` or documented entry points.
#: Every other module's docstring starts with "Internal:".
PUBLIC = frozenset(
    {
        "noai_guard",  # the API: __all__
        "noai_guard.addon",  # ADDONS = {"noai_guard.NoAIGuardAddon": 0}
        "noai_guard.auditlog",  # read_audit (README "Audit trail")
        "noai_guard.cli",  # the noai-guard command
        "noai_guard.decision",  # Decision, Signal, Verdict
        "noai_guard.engine",  # Judge, SiteFiles, Page
        "noai_guard.evaluate",  # evaluate
        "noai_guard.integrations",  # adapters for other frameworks (optional extras)
        "noai_guard.integrations.datatrove",  # pipeline blocks (README "Auditing a whole crawl")
        "noai_guard.middleware",  # the two middlewares, by their Scrapy setting paths
        "noai_guard.policy",  # Policy, decide
        "noai_guard.presets",  # get_preset, PRESETS (README "Policy presets")
        "noai_guard.report",  # build_report
        "noai_guard.robots",  # RobotsTxt, for SiteFiles
        "noai_guard.sampleserver",  # python -m noai_guard.sampleserver
        "noai_guard.tdmrep",  # TdmrepFile, for SiteFiles
    }
)
INTERNAL_MARK = "Internal:"
MAX_CLASS_LINES = 400  # issue 12: no class over ~400 lines

# Imported only when present: the stdlib of newer Pythons; selectolax, a comparison row in
# benchmarks/html_head.py.
_NOT_INSTALLED_OK = frozenset({"compression", "selectolax"})


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _canonical(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _requirements() -> tuple[set[str], set[str]]:
    """The distributions of ``[project] dependencies`` and of the ``test`` extra."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]

    def names(reqs: list[str]) -> set[str]:
        return {_canonical(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in reqs}  # type: ignore[union-attr]

    return names(project["dependencies"]), names(project["optional-dependencies"]["test"])


def _extras() -> set[str]:
    """The distributions of the optional extras other than ``test``."""
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    reqs = [r for name, group in extras.items() if name != "test" for r in group]
    return {_canonical(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in reqs}  # type: ignore[union-attr]


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Line numbers inside ``if TYPE_CHECKING:`` blocks (imports there never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(paths: list[Path], *, strings: bool = False) -> dict[str, set[str]]:
    """Top-level names imported (at run time) by ``paths``, each with the files importing it.

    ``strings``: also string constants that name a module (``importlib.import_module("brotli")``).
    """
    found: dict[str, set[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text("utf-8"))
        skip = _type_checking_lines(tree)
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif strings and isinstance(node, ast.Call):
                names = [
                    a.value
                    for a in node.args
                    if isinstance(a, ast.Constant) and isinstance(a.value, str) and re.fullmatch(r"[\w.]+", a.value)
                ]
            if names and getattr(node, "lineno", 0) not in skip:
                for n in names:
                    found.setdefault(n.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _third_party(found: dict[str, set[str]], local: set[str]) -> dict[str, set[str]]:
    return {
        k: v
        for k, v in found.items()
        if k not in sys.stdlib_module_names and k not in local and k != "__future__"
    }


def test_every_module_says_whether_it_is_internal() -> None:
    modules = _modules()
    assert set(modules) >= PUBLIC, sorted(PUBLIC - set(modules))
    wrong = []
    for name, path in modules.items():
        doc = ast.get_docstring(ast.parse(path.read_text("utf-8")), clean=False)
        if not doc:
            wrong.append(f"{name}: no module docstring")
        elif doc.startswith(INTERNAL_MARK) == (name in PUBLIC):
            wrong.append(f"{name}: {'public, marked' if name in PUBLIC else 'internal, not marked'} {INTERNAL_MARK!r}")
    assert not wrong, "\n".join(wrong)


def test_public_api_is_reexported_and_lazy() -> None:
    """Every name of ``noai_guard.__all__`` resolves; importing the package imports no Scrapy."""
    code = (
        "import sys, noai_guard as n\n"
        "assert 'scrapy' not in sys.modules and 'noai_guard.engine' not in sys.modules\n"
        "for name in ('Judge', 'SiteFiles', 'Page', 'Policy', 'Decision', 'Signal', 'Verdict',\n"
        "             'NoAIGuardMiddleware', 'NoAIGuardResponseMiddleware', 'NoAIGuardAddon'):\n"
        "    assert name in n.__all__, name\n"
        "missing = [name for name in n.__all__ if getattr(n, name, None) is None]\n"
        "assert not missing, missing\n"
        "from noai_guard.engine import Judge\n"
        "assert n.Judge is Judge\n"
        "from noai_guard.middleware import NoAIGuardMiddleware\n"
        "assert n.NoAIGuardMiddleware is NoAIGuardMiddleware\n"
        "try:\n"
        "    n.no_such_name\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr


def test_no_class_is_over_400_lines() -> None:
    sizes = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                sizes.append((lines, f"{name}.{node.name}"))
    over = [f"{n} lines: {where}" for n, where in sorted(sizes, reverse=True) if n > MAX_CLASS_LINES]
    assert sizes
    assert not over, "\n".join(over)


def test_runtime_dependencies_are_what_the_package_imports() -> None:
    """``[project] dependencies`` names exactly the distributions that noai_guard/ imports at run time."""
    runtime, _ = _requirements()
    dists = {k: {_canonical(d) for d in v} for k, v in packages_distributions().items()}
    files = sorted(PACKAGE.rglob("*.py"))
    imported = _third_party(_imports(files), {"noai_guard"})
    undeclared = {k: v for k, v in imported.items() if not dists.get(k, {_canonical(k)}) & runtime}
    # An adapter in noai_guard/integrations/ imports the framework its own extra installs.
    undeclared = {
        k: v
        for k, v in undeclared.items()
        if not (all(f.startswith("noai_guard/integrations/") for f in v) and _canonical(k) in _extras())
    }
    assert not undeclared, f"imported by the package but not a runtime dependency: {undeclared}"
    # A dependency is used if the package imports it by statement or by name (the optional codecs).
    used = set()
    for name in _third_party(_imports(files, strings=True), {"noai_guard"}):
        used |= dists.get(name, set())
    # brotlicffi (PyPy) is installed only where brotli is not: named in the code, not installed here.
    named = {_canonical(n) for n in _imports(files, strings=True)}
    unused = sorted(r for r in runtime if r not in used and r not in named)
    assert not unused, f"runtime dependencies that noai_guard/ never imports (test-only?): {unused}"


def test_test_imports_are_declared() -> None:
    """Every third-party module the tests and benchmarks import is a runtime dependency or in ``test``."""
    runtime, test = _requirements()
    dists = {k: {_canonical(d) for d in v} for k, v in packages_distributions().items()}
    files = sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "benchmarks").rglob("*.py"))
    local = {p.stem for p in files} | {"noai_guard", "tests", "benchmarks"} | _NOT_INSTALLED_OK
    imported = _third_party(_imports(files), local)
    undeclared = {k: v for k, v in imported.items() if not dists.get(k, {_canonical(k)}) & (runtime | test)}
    assert not undeclared, f"imported by tests but in neither dependency list: {undeclared}"
