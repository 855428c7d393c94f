"""``callcost demo`` never silently wipes a folder: a non-empty ``--dir`` is refused unless ``--force``.

And after the demo it says where things are and what to run next.  Before, a second ``callcost demo``
deleted ./callcost-demo's lake, database and reports and overwrote the config a user had edited.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcost.cli import app
from callcost.cli_common import UsageError
from callcost.demo import next_steps, run_demo


def _demo(*args: str):
    return CliRunner().invoke(app, ["demo", "--no-serve", "--calls", "1000", *args])


def test_a_folder_with_files_is_refused_and_left_as_it_was(tmp_path):
    folder = tmp_path / "callcost-demo"
    folder.mkdir()
    (folder / "callcost.toml").write_text("# my own enterprise, edited by hand\n")
    (folder / "notes.txt").write_text("keep me")
    run = _demo("--dir", str(folder))
    assert run.exit_code == 1, run.output
    out = " ".join(run.output.split())
    assert f"error: {folder.resolve()} already exists and is not empty" in out and "--force" in out
    assert (folder / "callcost.toml").read_text() == "# my own enterprise, edited by hand\n"
    assert sorted(p.name for p in folder.iterdir()) == ["callcost.toml", "notes.txt"]
    with pytest.raises(UsageError):  # the library refuses too (a notebook calling run_demo)
        run_demo(folder, calls=1_000)


def test_force_rebuilds_it_and_the_demo_says_where_things_are_and_what_next(tmp_path):
    folder = tmp_path / "callcost-demo"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    run = _demo("--dir", str(folder), "--force")
    assert run.exit_code == 0, run.output
    assert (folder / "lake").is_dir() and (folder / "callcost.db").is_file()
    out = run.output
    assert f"The demo enterprise is in {folder.resolve()}" in out
    assert f"Next: cd {folder.resolve()}" in out and f"--config {folder.resolve()}/callcost.toml" in out
    assert "callcost report carrier-cost --period 2026-10" in out and "callcost dashboard" in out
    again = _demo("--dir", str(folder))  # the demo's own folder is not empty either
    assert again.exit_code == 1 and "--force" in again.output


def test_an_empty_or_new_folder_needs_no_force(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_demo(tmp_path / "empty", calls=1_000)
    text = next_steps(result, cwd=tmp_path)
    assert "Next: cd empty " in text and "--config empty/callcost.toml" in text
