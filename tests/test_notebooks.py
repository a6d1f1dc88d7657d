"""Every notebook: paired with its py:percent source, committed without outputs, parameterised, and it runs.

The execution test runs each notebook with papermill and the smoke profile (params/smoke.yaml) into a
temporary folder; the sources are never written.
"""

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
NAMES = [p.stem for p in SOURCES]


def _cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


def test_there_are_notebooks():
    assert "01_matching_by_hand" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_pair_is_in_sync(name):
    py = ROOT / "notebooks" / f"{name}.py"
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} is missing: run `make notebooks`"
    assert _cells(jupytext.read(py)) == _cells(nbformat.read(ipynb, as_version=4)), (
        f"{name}.ipynb is out of sync with {name}.py: run `make notebooks`")


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("name", NAMES)
def test_first_code_cell_holds_the_parameters(name):
    nb = jupytext.read(ROOT / "notebooks" / f"{name}.py")
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    assert "smoke" in first.source


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One cache folder for all workers, so notebooks share rendered benchmarks and trained models."""
    path = tmp_path_factory.getbasetemp().parent / "kit-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.mark.notebook
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_with_smoke_parameters(name, tmp_path, shared_cache):
    from kit.runner import execute, load_params, plan

    steps = plan(load_params(ROOT / "params" / "smoke.yaml"), ROOT, only=[name])
    [out] = execute(steps, tmp_path, shared_cache, log=lambda *_: None)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert any(c.outputs for c in nb.cells if c.cell_type == "code"), "the executed notebook shows no output"
