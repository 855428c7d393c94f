"""The architecture rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import callcost

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("callcost", "collector", "warehouse", "analytics", "reports", "dashboards")
#: The layout, as README.md states it (and docs/decisions.md, "Layout", explains); pyproject.toml's
#: import-linter contracts enforce it, and the cases below show each rule catches a breach.
LAYOUT = ("collector → analytics/rating → warehouse; the rest of analytics → analytics/rating, warehouse; "
          "reports | dashboards → analytics → warehouse; nothing imports callcost (the CLI), and nothing but "
          "callcost imports reports or dashboards.")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter over the packages found under *root* first (a copy, or the repository itself)."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True))")
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-c", code, str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True)


def test_imports_flow_one_way():
    """collector → analytics/rating → warehouse; reports | dashboards → analytics → warehouse (pyproject.toml)."""
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_readme_states_the_layout_the_contracts_enforce():
    assert f"Imports flow one way: {LAYOUT}" in (ROOT / "README.md").read_text()
    assert "## Layout" in (ROOT / "docs" / "decisions.md").read_text()


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory) -> Path:
    """The packages and pyproject.toml copied to a folder of their own, to break on purpose."""
    root = tmp_path_factory.mktemp("layout")
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


#: (module to edit, line added, contract that must then be broken)
BREACHES = [
    ("warehouse/money.py", "import analytics", "warehouse imports nothing of ours"),
    ("warehouse/lake.py", "from collector import wire", "warehouse imports nothing of ours"),
    ("analytics/rating/engine.py", "import analytics.selection", "analytics.rating imports no other part of analytics"),
    ("analytics/savings.py", "import collector.importer", "analytics imports warehouse (and itself) only"),
    ("analytics/savings.py", "import callcost.cli", "analytics imports warehouse (and itself) only"),
    ("collector/importer.py", "import analytics.savings",
     "collector imports warehouse and analytics.rating, no other part of analytics"),
    ("collector/importer.py", "import reports.base",
     "collector imports warehouse and analytics.rating, no other part of analytics"),
    ("reports/monthly_savings.py", "import collector.importer",
     "reports and dashboards import analytics and warehouse, not the collector, the CLI or each other"),
    ("dashboards/app.py", "import callcost.cli",
     "reports and dashboards import analytics and warehouse, not the collector, the CLI or each other"),
    ("reports/monthly_savings.py", "import dashboards.app", "reports and dashboards are independent"),
    ("analytics/rating/explain.py", "from analytics import savings", "analytics.rating imports no other part of analytics"),
    ("warehouse/schema.py", "def _loop():\n    import warehouse.lake  # lake imports schema: a loop hidden in a function",
     "no import loops inside a package, not even through imports inside functions"),
]


def test_the_copy_is_clean_before_a_breach(package_copy):
    run = lint_imports(package_copy)
    assert run.returncode == 0 and "0 broken" in run.stdout, run.stdout + run.stderr


@pytest.mark.parametrize(("module", "line", "contract"), BREACHES, ids=[f"{m}: {l.split(chr(10))[0]}" for m, l, _ in BREACHES])
def test_each_contract_fails_on_a_forbidden_import(package_copy, module, line, contract):
    """Injected into a copy, a forbidden import makes lint-imports fail and name the contract it breaks."""
    path = package_copy / module
    original = path.read_text()
    path.write_text(original + "\n\n" + line + "\n")
    try:
        run = lint_imports(package_copy)
    finally:
        path.write_text(original)
    assert run.returncode != 0, run.stdout
    assert f"{contract} BROKEN" in " ".join(run.stdout.split()), run.stdout  # the report wraps long names


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
