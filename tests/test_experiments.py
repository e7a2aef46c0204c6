"""The experiment scripts are thin: each runs registered studies through run_experiment."""

import ast
from pathlib import Path

import pytest

from jaxml.studies import load_studies, run_experiment
from jaxml.studies.regression import polynomial_degree

SCRIPTS = sorted((Path(__file__).parents[1] / "experiments").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_runs_registered_studies_and_states_its_command(script):
    tree = ast.parse(script.read_text())
    doc = ast.get_docstring(tree)
    assert doc and f"experiments/{script.name}" in doc  # the docstring gives the command
    registered = {s.run.__name__ for s in load_studies()}
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module.startswith("jaxml.studies.") for a in node.names}
    assert imported and imported <= registered


def test_run_experiment_writes_the_plots(tmp_path, capsys):
    (result,) = run_experiment(polynomial_degree, out=str(tmp_path), argv=["--quick"])
    assert all(p.exists() for p in result.figures) and result.figures
    assert "wrote" in capsys.readouterr().out
