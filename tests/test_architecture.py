"""The architecture rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import callcost

ROOT = Path(__file__).resolve().parents[1]


def test_imports_flow_one_way():
    """dashboards/reports → analytics → warehouse; collector → warehouse (contracts in pyproject.toml)."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename=sys.argv[1]))"
    run = subprocess.run([sys.executable, "-c", code, str(ROOT / "pyproject.toml")], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_public_api_is_pinned():
    """Adding or removing a public name is a deliberate act: change this list with it."""
    assert sorted(callcost.__all__) == sorted([
        "CallcostError", "ConfigError", "ConfigErrors", "Enterprise", "ImportReport", "ParseError", "RatingError",
        "RatingStage", "StorageError", "Store", "__version__", "find_config", "import_files", "load_config",
    ])
    for name in callcost.__all__:
        assert hasattr(callcost, name), name


def test_every_module_has_a_docstring():
    missing = []
    for pkg in ("callcost", "collector", "warehouse", "analytics", "reports", "dashboards"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name == "__init__.py" and path.stat().st_size == 0:
                continue
            text = path.read_text().lstrip()
            if not (text.startswith('"""') or text.startswith("'''")):
                missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"modules without a docstring saying why they exist: {missing}"


def _imported_roots(path: Path) -> set[str]:
    """Top-level names *path* imports anywhere (module level or inside functions); relative imports skipped."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_benchmarks_depend_on_the_product_only():
    """A benchmark runs without the test suite: no test module, no tests/ helper, no pytest or Hypothesis.

    What benchmarks and tests share (throw-away PostgreSQL, crash harness, synthetic calls) lives in
    ``benchmarks/support/``, which the tests reach through pytest's ``pythonpath``.
    """
    test_modules = {path.stem for path in (ROOT / "tests").glob("*.py")} | {"tests", "pytest", "hypothesis", "conftest"}
    offenders = {}
    for path in sorted((ROOT / "benchmarks").rglob("*.py")):
        bad = _imported_roots(path) & test_modules
        if '"tests"' in path.read_text() or "'tests'" in path.read_text():
            bad.add("the tests/ folder on sys.path")
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert not offenders, f"benchmarks importing test code: {offenders}"


def test_every_doc_the_readme_and_the_code_point_to_exists():
    """Performance notes live in docs/dev/; the README's table and the code's pointers must follow a move."""
    named = set(re.findall(r"`(docs/[\w./-]+\.md)`", (ROOT / "README.md").read_text()))
    for pkg in ("callcost", "collector", "warehouse", "analytics", "reports", "dashboards", "benchmarks"):
        for path in (ROOT / pkg).rglob("*.py"):
            named.update(re.findall(r"\b(docs/[\w./-]+\.md)\b", path.read_text()))
    assert named, "the README names no docs"
    missing = sorted(n for n in named if not (ROOT / n).is_file())
    assert not missing, f"docs named but missing: {missing}"
    assert not list((ROOT / "docs").glob("*-performance.md")), "performance notes belong in docs/dev/"
