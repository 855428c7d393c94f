"""Every notebook in ``notebooks/`` runs top to bottom against a freshly built small demo, so none can rot.

Each ``notebooks/*.ipynb`` is its own test (found by glob: a new notebook is tested without editing
this file), executed by nbclient in a real IPython kernel with ``$CALLCOST_CONFIG`` pointing at a
3,000-call demo enterprise built once per session by the real ``callcost demo`` code path.  A failing
cell fails the test with that cell's source and traceback.
"""

from __future__ import annotations

import importlib
import inspect
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="session")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo enterprise (3,000 calls of October 2026) built through the real demo pipeline."""
    from callcost.demo import run_demo

    result = run_demo(tmp_path_factory.mktemp("notebook-demo") / "callcost-demo", calls=3_000, month="2026-10", seed=3)
    return result.ent.path


def test_there_are_notebooks():
    assert any(p.name == "monthly-savings-review.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, demo_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CALLCOST_CONFIG", str(demo_config))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's path-migration warning is an error here
    monkeypatch.chdir(tmp_path)  # nothing may depend on the working folder
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code" and "ent = open_enterprise()" in first.source, \
        f"{path.name}: the first cell must be `from analytics.notebook import open_enterprise; ent = open_enterprise()`"
    assert str(REPO_ROOT) not in "".join(c.source for c in nb.cells), f"{path.name}: hard-coded repository path"
    client = NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0]}"


# --- the API's docstring examples are notebook cells too: they run against the same demo ----------------

EXAMPLE_MODULES = ("analytics.selection", "analytics.breakdowns", "analytics.timeseries", "analytics.charts",
                   "analytics.export", "analytics.explore")


def _example_blocks(doc: str) -> list[str]:
    """The literal blocks after a line ending in ``::`` (reST), dedented."""
    blocks, lines = [], doc.expandtabs().split("\n")
    for i, line in enumerate(lines):
        if not line.rstrip().endswith("::"):
            continue
        body = []
        for follow in lines[i + 1:]:
            if follow.strip() and len(follow) - len(follow.lstrip()) <= len(line) - len(line.lstrip()):
                break
            body.append(follow)
        blocks.append(textwrap.dedent("\n".join(body)).strip())
    return [b for b in blocks if b]


def _documented() -> list[tuple[str, object]]:
    found = []
    for name in EXAMPLE_MODULES:
        module = importlib.import_module(name)
        found.append((name, module))
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isfunction(obj) and obj.__module__ == name:
                found.append((f"{name}.{attr}", obj))
    return found


DOCUMENTED = _documented()


@pytest.mark.parametrize("obj", [o for _, o in DOCUMENTED], ids=[n for n, _ in DOCUMENTED])
def test_docstring_examples_run_against_the_demo(obj, demo_config: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch):
    blocks = _example_blocks(inspect.getdoc(obj) or "")
    if inspect.isfunction(obj):
        assert blocks, f"{obj.__module__}.{obj.__name__} has no 'Example::' block"
    monkeypatch.setenv("CALLCOST_CONFIG", str(demo_config))
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, f"<example of {getattr(obj, '__name__', obj)}>", "exec"), {})
