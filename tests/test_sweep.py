"""kit sweep: a grid over one notebook, parallel cells, failures recorded and resumed, one results table."""

from pathlib import Path

import jupytext
import pytest

from kit.errors import ConfigError
from kit.sweep import cells, load_grid, run_sweep

NOTEBOOK = '''# %% tags=["parameters"]
smoke = False
x = 1
seed = 0
flag = ""
out_dir = "."

# %%
from pathlib import Path
from kit.results import ResultRow, save_results
if x == 3 and not Path(flag).exists():
    Path(flag).touch()
    raise RuntimeError("first attempt fails")
save_results(Path(out_dir) / "r.json", [ResultRow("d", "e", "s", "mse", float(x * x), dict_size=8, seed=seed)], {"x": x})
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: x\n")
    (tmp_path / "notebooks").mkdir()
    nb = jupytext.reads(NOTEBOOK, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, tmp_path / "notebooks" / "00_square.ipynb")
    return tmp_path


def _grid(project, tmp_path, **extra):
    path = tmp_path / "grid.yaml"
    flag = tmp_path / "flag"
    path.write_text(f"notebook: 00_square\nparameters: {{flag: '{flag}'}}\ngrid: {{x: [1, 2, 3], seed: [0]}}\n"
                    + "".join(f"{k}: {v}\n" for k, v in extra.items()))
    return load_grid(path)


def test_grid_cells_are_the_cartesian_product(project, tmp_path):
    doc = _grid(project, tmp_path)
    assert [c.id for c in cells(doc)] == ["x=1-seed=0", "x=2-seed=0", "x=3-seed=0"]


def test_failed_cells_are_recorded_then_resumed(project, tmp_path):
    doc = _grid(project, tmp_path, workers=2)
    out = tmp_path / "sweep"
    table = run_sweep(doc, project, out, tmp_path / "cache", log=lambda *_: None)
    assert sorted(table.value) == [1.0, 4.0]
    status = (out / "status.json").read_text()
    assert "first attempt fails" in status
    table = run_sweep(doc, project, out, tmp_path / "cache", log=lambda *_: None)
    assert sorted(table.value) == [1.0, 4.0, 9.0]
    assert set(table.columns) >= {"x", "seed", "cell", "metric", "value"}
    assert (out / "results.csv").is_file() and (out / "results.json").is_file()


def test_bad_grids_are_refused(project, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("notebook: 00_square\ngrid: {x: 3}\n")
    with pytest.raises(ConfigError, match="grid.x must be a non-empty list"):
        load_grid(bad)
    bad.write_text("notebook: 00_square\ngrid: {nope: [1]}\n")
    with pytest.raises(ConfigError, match="no parameter"):
        run_sweep(load_grid(bad), project, tmp_path / "o", tmp_path / "c")
    assert not (tmp_path / "o").exists()


def test_slurm_executor_path_through_submitit(project, tmp_path):
    pytest.importorskip("submitit")
    doc = _grid(project, tmp_path, executor="slurm", slurm="{cluster: debug}")
    out = tmp_path / "sweep"
    run_sweep(doc, project, out, tmp_path / "cache", log=lambda *_: None)
    table = run_sweep(doc, project, out, tmp_path / "cache", log=lambda *_: None)
    assert sorted(table.value) == [1.0, 4.0, 9.0]
    assert (out / "slurm").is_dir()


def test_a_failing_notebook_is_one_kit_error_naming_it_with_the_partial_copy_kept(project, tmp_path):
    from kit.errors import KitError
    from kit.runner import Step, execute, list_notebooks

    step = Step("00_square", list_notebooks(project)["00_square"], {"x": 3, "flag": str(tmp_path / "flag")})
    with pytest.raises(KitError, match="notebook 00_square failed in cell .*RuntimeError: first attempt fails"):
        execute([step], tmp_path / "run", tmp_path / "cache", log=lambda *_: None)
    assert (tmp_path / "run" / "00_square.failed.ipynb").is_file()
    assert not (tmp_path / "run" / "00_square.ipynb").exists()
